/* The LSTM's pointwise work at one step, forward and backward, on the b live rows (math and names as in lstm.pyx's
 * docstring). Shared by the sequence kernels (lstm.pyx) and the streaming step (stream.pyx), so that both compute
 * the same numbers.
 *
 * Each function is one pass over the step's rows: on AVX-512, every gate of a hidden unit is computed, used and
 * stored while it is in a register; on narrower vectors, a row's gates are activated first, each gate block in a
 * loop of its own (fr_lstm_forward_rows says why). Each public function is compiled once per vector width
 * (_fastmath.h's FR_BY_WIDTH_COPIES and FR_BY_WIDTH_SIZED), so that these loops, with their activations inlined,
 * run on the CPU's widest vectors.
 *
 * Rows are contiguous: row j of a (b, 4H) array starts at j * 4H, of a (b, H) array at j * H.
 */
#ifndef FASTRNN_LSTM_H
#define FASTRNN_LSTM_H

#include "_fastmath.h"

#define FR_LSTM(T, S, SIG, ACT, DACT, DSIG, SIG_ROWS, ACT_ROWS)                                                \
                                                                                                               \
/* Units 0 : n of each of b rows H units long, writing the outputs that `out` names (_fastmath.h's FR_STASH,   \
 * FR_NEXT, FR_CHECK). With `split`, each of the four activations runs first in a loop of its own over its gate \
 * block, and the unit loop reads the gates back: the fused loop, with the constants and temporaries of five   \
 * activations live at once, spills AVX2's 16 registers to the stack (a third of its instructions copy a       \
 * register or use the stack), and its one long chain per unit (a gate, c_t, act(c_t), h_t) leaves the CPU     \
 * little to overlap. Split, the pass takes 6.5 ns a unit instead of 8.4 on AVX2 (Zen 3; double, b 32, H 64),  \
 * 2.9 instead of 4.0 in float, and 19 instead of 21 on SSE2 (double; `python benchmarks/pointwise.py`, and    \
 * with `--src` the old tree's headers). */                                                                    \
FR_INLINE void fr_lstm_forward_rows_##S(int relu, int split, int out, ptrdiff_t b, ptrdiff_t H, ptrdiff_t n,   \
                                        T *restrict a, const T *restrict bias, T *restrict c, T *restrict y,   \
                                        T *restrict act_c, T *restrict c_prev, T *restrict h_next,             \
                                        ptrdiff_t ldh, T *restrict nan_sum) {                                  \
    for (ptrdiff_t j = 0; j < b; j++, a += 4 * H, c += H, y += H) {                                            \
        if (split) {                                                                                           \
            for (ptrdiff_t k = 0; k < n; k++) a[k] = SIG(a[k] + bias[k]);                                      \
            for (ptrdiff_t k = 0; k < n; k++) a[H + k] = SIG(a[H + k] + bias[H + k]);                          \
            for (ptrdiff_t k = 0; k < n; k++) a[2 * H + k] = ACT(a[2 * H + k] + bias[2 * H + k], relu);        \
            for (ptrdiff_t k = 0; k < n; k++) a[3 * H + k] = SIG(a[3 * H + k] + bias[3 * H + k]);              \
        }                                                                                                      \
        for (ptrdiff_t k = 0; k < n; k++) {                                                                    \
            T i, f, g, o;                                                                                      \
            if (split) {                                                                                       \
                i = a[k];                                                                                      \
                f = a[H + k];                                                                                  \
                g = a[2 * H + k];                                                                              \
                o = a[3 * H + k];                                                                              \
            } else {                                                                                           \
                i = SIG(a[k] + bias[k]);                                                                       \
                f = SIG(a[H + k] + bias[H + k]);                                                               \
                g = ACT(a[2 * H + k] + bias[2 * H + k], relu);                                                 \
                o = SIG(a[3 * H + k] + bias[3 * H + k]);                                                       \
                a[k] = i;                                                                                      \
                a[H + k] = f;                                                                                  \
                a[2 * H + k] = g;                                                                              \
                a[3 * H + k] = o;                                                                              \
            }                                                                                                  \
            T c_t = f * c[k] + i * g;                                                                          \
            T ac = ACT(c_t, relu);                                                                             \
            T h_t = o * ac;                                                                                    \
            if (out & FR_STASH) c_prev[j * H + k] = c[k];                                                      \
            c[k] = c_t;                                                                                        \
            y[k] = h_t;                                                                                        \
            if (out & FR_STASH) act_c[j * H + k] = ac;                                                         \
            if (out & FR_NEXT) h_next[j * ldh + k] = h_t;                                                      \
            if (out & FR_CHECK) nan_sum[k] += h_t * 0;                                                         \
        }                                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* Units k0 : H of every row, where H - k0 is less than a vector: GCC 12 runs a row's last units as scalar code \
 * (at H = 50, the last 2 units of each row cost as much as 16 in vectors: 6.6 ns a unit against 5.2 at H = 48). \
 * So the rows' last units are gathered into one row of up to 64 units, padded with zeros to whole vectors,    \
 * computed by the same loop, and put back. */                                                                 \
FR_INLINE void fr_lstm_forward_tails_##S(int relu, int split, ptrdiff_t b, ptrdiff_t H, ptrdiff_t k0, T *a,    \
                                         const T *bias, T *c, T *y, T *act_c, T *c_prev, T *h_next,            \
                                         ptrdiff_t ldh, ptrdiff_t nh, T *nan_sum) {                            \
    enum { N = 64, V = 64 / (int)sizeof(T) };                                                                  \
    T ga[4 * N], gb[4 * N], gc[N], gy[N], gac[N], gcp[N], gs[N];                                               \
    ptrdiff_t r = H - k0, per = N / r;                                                                         \
    for (ptrdiff_t j0 = 0; j0 < b; j0 += per) {                                                                \
        ptrdiff_t rows = b - j0 < per ? b - j0 : per, m = rows * r, mp = (m + V - 1) / V * V;                  \
        for (ptrdiff_t jj = 0, u = 0; jj < rows; jj++)                                                         \
            for (ptrdiff_t q = 0; q < r; q++, u++) {                                                           \
                ptrdiff_t j = j0 + jj, k = k0 + q;                                                             \
                for (int g = 0; g < 4; g++) {                                                                  \
                    ga[g * mp + u] = a[j * 4 * H + g * H + k];                                                 \
                    gb[g * mp + u] = bias[g * H + k];                                                          \
                }                                                                                              \
                gc[u] = c[j * H + k];                                                                          \
            }                                                                                                  \
        for (ptrdiff_t u = m; u < mp; u++) {                                                                   \
            for (int g = 0; g < 4; g++) ga[g * mp + u] = gb[g * mp + u] = 0;                                   \
            gc[u] = 0;                                                                                         \
        }                                                                                                      \
        for (ptrdiff_t u = 0; u < mp; u++) gs[u] = 0;                                                          \
        if (relu)                                                                                              \
            fr_lstm_forward_rows_##S(1, split, FR_STASH | FR_CHECK, 1, mp, mp, ga, gb, gc, gy, gac, gcp, NULL, 0, gs); \
        else                                                                                                   \
            fr_lstm_forward_rows_##S(0, split, FR_STASH | FR_CHECK, 1, mp, mp, ga, gb, gc, gy, gac, gcp, NULL, 0, gs); \
        for (ptrdiff_t jj = 0, u = 0; jj < rows; jj++)                                                         \
            for (ptrdiff_t q = 0; q < r; q++, u++) {                                                           \
                ptrdiff_t j = j0 + jj, k = k0 + q;                                                             \
                for (int g = 0; g < 4; g++) a[j * 4 * H + g * H + k] = ga[g * mp + u];                         \
                c[j * H + k] = gc[u];                                                                          \
                y[j * H + k] = gy[u];                                                                          \
                if (act_c) act_c[j * H + k] = gac[u];                                                          \
                if (c_prev) c_prev[j * H + k] = gcp[u];                                                        \
                if (j < nh) h_next[j * ldh + k] = gy[u];                                                       \
                if (nan_sum) nan_sum[k] += gs[u];                                                              \
            }                                                                                                  \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* The same, gate by gate, for fewer units than one vector holds (H = 8 in float): GCC vectorises the loop above \
 * across k only, and left it scalar there, twice as slow as these calls of the row functions on whole gate blocks \
 * (2H = 16 floats at H = 8). */                                                                               \
FR_INLINE void fr_lstm_forward_gates_##S(int relu, ptrdiff_t b, ptrdiff_t H, T *restrict a, const T *restrict bias, \
        T *restrict c, T *restrict y, T *restrict act_c, T *restrict c_prev, T *restrict h_next, ptrdiff_t ldh, \
        ptrdiff_t nh, T *restrict nan_sum) {                                                                   \
    for (ptrdiff_t j = 0; j < b; j++, a += 4 * H, c += H, y += H) {                                            \
        for (ptrdiff_t k = 0; k < 4 * H; k++) a[k] += bias[k];                                                 \
        SIG_ROWS(a, 2 * H);                                                                                    \
        ACT_ROWS(a + 2 * H, H, relu);                                                                          \
        SIG_ROWS(a + 3 * H, H);                                                                                \
        if (c_prev) memcpy(c_prev + j * H, c, (size_t)H * sizeof(T));                                          \
        for (ptrdiff_t k = 0; k < H; k++) c[k] = a[H + k] * c[k] + a[k] * a[2 * H + k];                        \
        memcpy(y, c, (size_t)H * sizeof(T));                                                                   \
        ACT_ROWS(y, H, relu);                                                                                  \
        if (act_c) memcpy(act_c + j * H, y, (size_t)H * sizeof(T));                                            \
        for (ptrdiff_t k = 0; k < H; k++) y[k] *= a[3 * H + k];                                                \
        if (j < nh) memcpy(h_next + j * ldh, y, (size_t)H * sizeof(T));                                        \
        if (nan_sum)                                                                                           \
            for (ptrdiff_t k = 0; k < H; k++) nan_sum[k] += y[k] * 0;                                          \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* The row loop with literal flags, one loop for each set of outputs: a test of a pointer inside the loop kept \
 * GCC from vectorising the pass for AVX2 and SSE2 whenever the kernel asked for the stash or the check (AVX2: \
 * 27.8 ns a unit, 3.2 with the flags; SSE2: 43.6 and 9.7; float, b 32, H 64). */                              \
FR_INLINE void fr_lstm_forward_outs_##S(int relu, int split, ptrdiff_t b, ptrdiff_t H, ptrdiff_t n, T *a,      \
                                        const T *bias, T *c, T *y, T *act_c, T *c_prev, T *h_next,             \
                                        ptrdiff_t ldh, ptrdiff_t nh, T *nan_sum) {                             \
    if (!act_c && !nan_sum)                                                                                    \
        fr_lstm_forward_rows_##S(relu, split, 0, b, H, n, a, bias, c, y, NULL, NULL, NULL, 0, NULL);           \
    else if (!act_c)                                                                                           \
        fr_lstm_forward_rows_##S(relu, split, FR_CHECK, b, H, n, a, bias, c, y, NULL, NULL, NULL, 0, nan_sum); \
    else {                                                                                                     \
        fr_lstm_forward_rows_##S(relu, split, FR_STASH | FR_NEXT | FR_CHECK, nh, H, n, a, bias, c, y, act_c,   \
                                 c_prev, h_next, ldh, nan_sum);                                                \
        fr_lstm_forward_rows_##S(relu, split, FR_STASH | FR_CHECK, b - nh, H, n, a + nh * 4 * H, bias,         \
                                 c + nh * H, y + nh * H, act_c + nh * H, c_prev + nh * H, NULL, 0, nan_sum);   \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* Forward, b rows. a (b, 4H) in: the products W_ih x_t + W_hh h_{t-1}, out: gates [i, f, g, o]; bias (4H):    \
 * b_ih + b_hh; c (b, H) in: c_{t-1}, out: c_t; y (b, H) out: h_t. The training stash, unless act_c is NULL    \
 * (then all three are): act_c (b, H) out: act(c_t); c_prev (b, H) out: c_{t-1}; h_next (nh, ldh) out: h_t of  \
 * the first nh rows, the next step's h_{t-1} (the stash's rows are ldh long). Writing the stash here, where   \
 * the values are in registers, saves the kernel a copy of h_{t-1} and of c_{t-1} at every step. nan_sum (H) in \
 * and out, NULL only when act_c is: h_t * 0 added, which stays 0 while every h_t is finite and is NaN from a  \
 * NaN or an infinite one on, so that the kernel need not read Y again to check it. */                         \
FR_INLINE void fr_lstm_forward_##S##_body(int bytes, int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias,  \
                                          T *c, T *y, T *act_c, T *c_prev, T *h_next, ptrdiff_t ldh,           \
                                          ptrdiff_t nh, T *nan_sum) {                                          \
    if (!act_c || !h_next) nh = 0;                                                                             \
    /* The activations in loops of their own (fr_lstm_forward_rows) on vectors narrower than 64 bytes, the fused \
     * loop on AVX-512, whose 32 registers hold its constants and temporaries. */                              \
    int split = bytes < 64;                                                                                    \
    if (H < 64 / (ptrdiff_t)sizeof(T)) {                                                                       \
        fr_lstm_forward_gates_##S(relu, b, H, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum);         \
        return;                                                                                                \
    }                                                                                                          \
    /* The rows' last units in vectors of their own (fr_lstm_forward_tails), when there are a vector's worth and \
     * GCC would leave some to scalar code: its epilogue takes half vectors (H = 100 in double, 4 left over, runs \
     * at 5.3 ns a unit either way). */                                                                        \
    ptrdiff_t n = H, V = 64 / (ptrdiff_t)sizeof(T), r = H % V;                                                 \
    if (r % (V / 2) && b * r >= V) {                                                                           \
        n = H - r;                                                                                             \
        fr_lstm_forward_tails_##S(relu, split, b, H, n, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum); \
    }                                                                                                          \
    if (relu) fr_lstm_forward_outs_##S(1, split, b, H, n, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum); \
    else fr_lstm_forward_outs_##S(0, split, b, H, n, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum);  \
}                                                                                                              \
FR_BY_WIDTH_SIZED(void, fr_lstm_forward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias,         \
                                              T *c, T *y, T *act_c, T *c_prev, T *h_next, ptrdiff_t ldh,       \
                                              ptrdiff_t nh, T *nan_sum),                                       \
                  (relu, b, H, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum))                        \
                                                                                                               \
FR_INLINE void fr_lstm_backward_rows_##S(int relu, ptrdiff_t b, ptrdiff_t H, T *restrict a,                    \
        const T *restrict c_prev, const T *restrict act_c, const T *restrict dy, const T *restrict dh,         \
        T *restrict dc) {                                                                                      \
    for (ptrdiff_t j = 0; j < b; j++, a += 4 * H) {                                                            \
        for (ptrdiff_t k = 0; k < H; k++) {                                                                    \
            ptrdiff_t p = j * H + k;                                                                           \
            T i = a[k], f = a[H + k], g = a[2 * H + k], o = a[3 * H + k], ac = act_c[p];                       \
            T dh_t = dh[p] + dy[p];                                                                            \
            T dc_t = dc[p] + dh_t * o * DACT(ac, relu);                                                        \
            a[k] = dc_t * g * DSIG(i);                                                                         \
            a[H + k] = dc_t * c_prev[p] * DSIG(f);                                                             \
            a[2 * H + k] = dc_t * i * DACT(g, relu);                                                           \
            a[3 * H + k] = dh_t * ac * DSIG(o);                                                                \
            dc[p] = dc_t * f;                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* Backward, b rows. a (b, 4H) in: the stashed gates, out: dL/da, in place: a unit's four gates are read       \
 * before its four gradients are written, and the training step needs the gates no more (a separate (P, 4H)    \
 * array was 125 MB of the 415 a long LSTM float64 step added; fastrnn/_cells.py, Cache). c_prev, act_c (b,    \
 * H): the stashed c_{t-1}, act(c_t); dy (b, H): dL/dY at this step; dh (b, H): dL/dh_t from step t+1; dc (b,  \
 * H) in: dL/dc_t from step t+1, out: dL/dc_{t-1}. dL/dh_{t-1} = da @ W_hh is the caller's product. */         \
FR_INLINE void fr_lstm_backward_##S##_body(int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *c_prev, const T *act_c, \
                                           const T *dy, const T *dh, T *dc) {                                  \
    if (relu) fr_lstm_backward_rows_##S(1, b, H, a, c_prev, act_c, dy, dh, dc);                                \
    else fr_lstm_backward_rows_##S(0, b, H, a, c_prev, act_c, dy, dh, dc);                                     \
}                                                                                                              \
FR_BY_WIDTH_COPIES(void, fr_lstm_backward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *c_prev,     \
                                                const T *act_c, const T *dy, const T *dh, T *dc),              \
                   (relu, b, H, a, c_prev, act_c, dy, dh, dc))

FR_LSTM(float, f, fr_sigmoidf, fr_actf, fr_dactf, fr_dsigmoidf, fr_sigmoid_rows_f_body, fr_act_rows_f_body)
FR_LSTM(double, d, fr_sigmoid, fr_act, fr_dact, fr_dsigmoid, fr_sigmoid_rows_body, fr_act_rows_body)

#endif
