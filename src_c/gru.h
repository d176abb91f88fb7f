/* The GRU's pointwise work at one step, forward and backward, on the b live rows (math and names as in gru.pyx's
 * docstring). Shared by the sequence kernels (gru.pyx) and the streaming step (stream.pyx), so that both compute
 * the same numbers.
 *
 * Each function is one pass over the step's rows, compiled once per vector width (_fastmath.h's
 * FR_BY_WIDTH_COPIES), so that the loop, with its activations inlined, runs on the CPU's widest vectors.
 *
 * Rows are contiguous: row j of a (b, 3H) array starts at j * 3H, of a (b, H) array at j * H.
 */
#ifndef FASTRNN_GRU_H
#define FASTRNN_GRU_H

#include "_fastmath.h"

#define FR_GRU(T, S, SIG, ACT, DACT, DSIG, SIG_ROWS, ACT_ROWS)                                                 \
                                                                                                               \
/* Units 0 : n of each of b rows H units long, writing the outputs that `out` names (_fastmath.h's FR_STASH,   \
 * FR_CHECK). With `split`, r and z first, each in a loop of its own, as lstm.h's fr_lstm_forward_rows (AVX2,  \
 * Zen 3, b 32, H 64: 4.2 ns a unit instead of 4.8 in double, 2.0 instead of 2.4 in float). */                 \
FR_INLINE void fr_gru_forward_rows_##S(int relu, int split, int out, ptrdiff_t b, ptrdiff_t H, ptrdiff_t n,    \
                                       T *restrict a, const T *restrict bias, const T *restrict u,             \
                                       const T *restrict b_hn, const T *restrict h_prev, T *restrict y,        \
                                       T *restrict ah_n, T *restrict h_stash, T *restrict nan_sum) {           \
    for (ptrdiff_t j = 0; j < b; j++, a += 3 * H, u += 3 * H) {                                                \
        if (split) {                                                                                           \
            for (ptrdiff_t k = 0; k < n; k++) a[k] = SIG(a[k] + bias[k] + u[k]);                               \
            for (ptrdiff_t k = 0; k < n; k++) a[H + k] = SIG(a[H + k] + bias[H + k] + u[H + k]);               \
        }                                                                                                      \
        for (ptrdiff_t k = 0; k < n; k++) {                                                                    \
            ptrdiff_t p = j * H + k;                                                                           \
            T r, z;                                                                                            \
            if (split) {                                                                                       \
                r = a[k];                                                                                      \
                z = a[H + k];                                                                                  \
            } else {                                                                                           \
                r = SIG(a[k] + bias[k] + u[k]);                                                                \
                z = SIG(a[H + k] + bias[H + k] + u[H + k]);                                                    \
                a[k] = r;                                                                                      \
                a[H + k] = z;                                                                                  \
            }                                                                                                  \
            T ahn = u[2 * H + k] + b_hn[k];                                                                    \
            T n = ACT(a[2 * H + k] + bias[2 * H + k] + r * ahn, relu);                                         \
            a[2 * H + k] = n;                                                                                  \
            T hp = h_prev[p];                                                                                  \
            T h_t = (1 - z) * n + z * hp;                                                                      \
            y[p] = h_t;                                                                                        \
            if (out & FR_STASH) ah_n[p] = ahn;                                                                 \
            if (out & FR_STASH) h_stash[p] = hp;                                                               \
            if (out & FR_CHECK) nan_sum[k] += h_t * 0;                                                         \
        }                                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* Units k0 : H of every row, where H - k0 is less than a vector, gathered into one row of up to 64 units padded \
 * to whole vectors, computed by the same loop, and put back: GCC 12 runs a row's last units as scalar code (as \
 * lstm.h's fr_lstm_forward_tails; at H = 50 the GRU's pass took 4.4-4.7 ns a unit against 3.4 at H = 48). */  \
FR_INLINE void fr_gru_forward_tails_##S(int relu, int split, ptrdiff_t b, ptrdiff_t H, ptrdiff_t k0, T *a,     \
                                        const T *bias, const T *u, const T *b_hn, const T *h_prev, T *y,       \
                                        T *ah_n, T *h_stash, T *nan_sum) {                                     \
    enum { N = 64, V = 64 / (int)sizeof(T) };                                                                  \
    T ga[3 * N], gb[3 * N], gu[3 * N], gbn[N], ghp[N], gy[N], gah[N], ghs[N], gs[N];                           \
    ptrdiff_t r = H - k0, per = N / r;                                                                         \
    for (ptrdiff_t j0 = 0; j0 < b; j0 += per) {                                                                \
        ptrdiff_t rows = b - j0 < per ? b - j0 : per, m = rows * r, mp = (m + V - 1) / V * V;                  \
        for (ptrdiff_t jj = 0, v = 0; jj < rows; jj++)                                                         \
            for (ptrdiff_t q = 0; q < r; q++, v++) {                                                           \
                ptrdiff_t j = j0 + jj, k = k0 + q;                                                             \
                for (int g = 0; g < 3; g++) {                                                                  \
                    ga[g * mp + v] = a[j * 3 * H + g * H + k];                                                 \
                    gb[g * mp + v] = bias[g * H + k];                                                          \
                    gu[g * mp + v] = u[j * 3 * H + g * H + k];                                                 \
                }                                                                                              \
                gbn[v] = b_hn[k];                                                                              \
                ghp[v] = h_prev[j * H + k];                                                                    \
            }                                                                                                  \
        for (ptrdiff_t v = m; v < mp; v++) {                                                                   \
            for (int g = 0; g < 3; g++) ga[g * mp + v] = gb[g * mp + v] = gu[g * mp + v] = 0;                  \
            gbn[v] = ghp[v] = 0;                                                                               \
        }                                                                                                      \
        for (ptrdiff_t v = 0; v < mp; v++) gs[v] = 0;                                                          \
        if (relu)                                                                                              \
            fr_gru_forward_rows_##S(1, split, FR_STASH | FR_CHECK, 1, mp, mp, ga, gb, gu, gbn, ghp, gy, gah, ghs, gs); \
        else                                                                                                   \
            fr_gru_forward_rows_##S(0, split, FR_STASH | FR_CHECK, 1, mp, mp, ga, gb, gu, gbn, ghp, gy, gah, ghs, gs); \
        for (ptrdiff_t jj = 0, v = 0; jj < rows; jj++)                                                         \
            for (ptrdiff_t q = 0; q < r; q++, v++) {                                                           \
                ptrdiff_t j = j0 + jj, k = k0 + q;                                                             \
                for (int g = 0; g < 3; g++) a[j * 3 * H + g * H + k] = ga[g * mp + v];                         \
                y[j * H + k] = gy[v];                                                                          \
                if (ah_n) ah_n[j * H + k] = gah[v];                                                            \
                if (h_stash) h_stash[j * H + k] = ghs[v];                                                      \
                if (nan_sum) nan_sum[k] += gs[v];                                                              \
            }                                                                                                  \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* The same, gate by gate, for fewer units than one vector holds (H = 8 in float): GCC vectorises the loop above \
 * across k only, and left it scalar there, slower than these calls of the row functions on whole gate blocks. */ \
FR_INLINE void fr_gru_forward_gates_##S(int relu, ptrdiff_t b, ptrdiff_t H, T *restrict a, const T *restrict bias, \
        const T *restrict u, const T *restrict b_hn, const T *restrict h_prev, T *restrict y, T *restrict ah_n, \
        T *restrict h_stash, T *restrict nan_sum) {                                                            \
    for (ptrdiff_t j = 0; j < b; j++, a += 3 * H, u += 3 * H, h_prev += H, y += H) {                           \
        for (ptrdiff_t k = 0; k < 2 * H; k++) a[k] += bias[k] + u[k];                                          \
        SIG_ROWS(a, 2 * H);                                                                                    \
        for (ptrdiff_t k = 0; k < H; k++) y[k] = u[2 * H + k] + b_hn[k];                                       \
        if (ah_n) memcpy(ah_n + j * H, y, (size_t)H * sizeof(T));                                              \
        if (h_stash) memcpy(h_stash + j * H, h_prev, (size_t)H * sizeof(T));                                   \
        for (ptrdiff_t k = 0; k < H; k++) a[2 * H + k] += bias[2 * H + k] + a[k] * y[k];                       \
        ACT_ROWS(a + 2 * H, H, relu);                                                                          \
        for (ptrdiff_t k = 0; k < H; k++) y[k] = (1 - a[H + k]) * a[2 * H + k] + a[H + k] * h_prev[k];         \
        if (nan_sum)                                                                                           \
            for (ptrdiff_t k = 0; k < H; k++) nan_sum[k] += y[k] * 0;                                          \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* The row loop with literal flags, one loop for each set of outputs, as lstm.h's fr_lstm_forward_outs (AVX2:  \
 * 16.4 ns a unit, 2.1 with the flags; float, b 32, H 64). */                                                  \
FR_INLINE void fr_gru_forward_outs_##S(int relu, int split, ptrdiff_t b, ptrdiff_t H, ptrdiff_t n, T *a,       \
                                       const T *bias, const T *u, const T *b_hn, const T *h_prev, T *y,        \
                                       T *ah_n, T *h_stash, T *nan_sum) {                                      \
    if (ah_n)                                                                                                  \
        fr_gru_forward_rows_##S(relu, split, FR_STASH | FR_CHECK, b, H, n, a, bias, u, b_hn, h_prev, y, ah_n,  \
                                h_stash, nan_sum);                                                             \
    else if (nan_sum)                                                                                          \
        fr_gru_forward_rows_##S(relu, split, FR_CHECK, b, H, n, a, bias, u, b_hn, h_prev, y, NULL, NULL, nan_sum); \
    else                                                                                                       \
        fr_gru_forward_rows_##S(relu, split, 0, b, H, n, a, bias, u, b_hn, h_prev, y, NULL, NULL, NULL);       \
}                                                                                                              \
                                                                                                               \
/* Forward, b rows. a (b, 3H) in: the product W_ih x_t, out: gates [r, z, n]; bias (3H): b_ih + [b_hr, b_hz, 0]; \
 * u (b, 3H): W_hh h_{t-1} (without b_hh); b_hn (H); h_prev (b, H): h_{t-1}; y (b, H) out: h_t. The training   \
 * stash, unless ah_n is NULL (then both are): ah_n (b, H) out: W_hn h_{t-1} + b_hn; h_stash (b, H) out: h_{t-1}, \
 * written as the pass reads it (a copy of its own was a pass more over the rows). nan_sum (H) in and out, NULL \
 * only when ah_n is: h_t * 0 added, which stays 0 while every h_t is finite and is NaN from a NaN or an infinite \
 * one on, so that the kernel need not read Y again to check it. */                                            \
FR_INLINE void fr_gru_forward_##S##_body(int bytes, int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias,   \
        const T *u, const T *b_hn, const T *h_prev, T *y, T *ah_n, T *h_stash, T *nan_sum) {                   \
    int split = bytes < 64;  /* as lstm.h's fr_lstm_forward */                                                 \
    if (H < 64 / (ptrdiff_t)sizeof(T)) {                                                                       \
        fr_gru_forward_gates_##S(relu, b, H, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum);             \
        return;                                                                                                \
    }                                                                                                          \
    /* The rows' last units in vectors of their own, as lstm.h's fr_lstm_forward. */                           \
    ptrdiff_t n = H, V = 64 / (ptrdiff_t)sizeof(T), r = H % V;                                                 \
    if (r % (V / 2) && b * r >= V) {                                                                           \
        n = H - r;                                                                                             \
        fr_gru_forward_tails_##S(relu, split, b, H, n, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum);   \
    }                                                                                                          \
    if (relu) fr_gru_forward_outs_##S(1, split, b, H, n, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum); \
    else fr_gru_forward_outs_##S(0, split, b, H, n, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum);      \
}                                                                                                              \
FR_BY_WIDTH_SIZED(void, fr_gru_forward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias,          \
                                             const T *u, const T *b_hn, const T *h_prev, T *y, T *ah_n,        \
                                             T *h_stash, T *nan_sum),                                          \
                  (relu, b, H, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum))                          \
                                                                                                               \
FR_INLINE void fr_gru_backward_rows_##S(int relu, ptrdiff_t b, ptrdiff_t H, T *restrict a,                     \
        const T *restrict h_prev, const T *restrict ah_n, const T *restrict dy, T *restrict dh,                \
        T *restrict dah) {                                                                                     \
    for (ptrdiff_t j = 0; j < b; j++, a += 3 * H, dah += 3 * H) {                                              \
        for (ptrdiff_t k = 0; k < H; k++) {                                                                    \
            ptrdiff_t p = j * H + k;                                                                           \
            T r = a[k], z = a[H + k], n = a[2 * H + k];                                                        \
            T dh_t = dh[p] + dy[p];                                                                            \
            T dn_a = dh_t * (1 - z) * DACT(n, relu);                                                           \
            T dz_a = dh_t * (h_prev[p] - n) * DSIG(z);                                                         \
            T dr_a = dn_a * ah_n[p] * DSIG(r);                                                                 \
            a[k] = dr_a;                                                                                       \
            a[H + k] = dz_a;                                                                                   \
            a[2 * H + k] = dn_a;                                                                               \
            dah[k] = dr_a;                                                                                     \
            dah[H + k] = dz_a;                                                                                 \
            dah[2 * H + k] = dn_a * r;                                                                         \
            dh[p] = dh_t * z;                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* db_ih += dax's rows, db_hh += dah's rows (b, 3H): the bias gradients, summed at each step while its rows are \
 * in the L1 cache (a pass over all P rows after the steps read them from memory again, and was a scalar loop). */ \
FR_INLINE void fr_gru_bias_grads_##S(ptrdiff_t b, ptrdiff_t G, const T *restrict dax, const T *restrict dah,   \
                                     T *restrict db_ih, T *restrict db_hh) {                                   \
    for (ptrdiff_t j = 0; j < b; j++, dax += G, dah += G)                                                      \
        for (ptrdiff_t k = 0; k < G; k++) {                                                                    \
            db_ih[k] += dax[k];                                                                                \
            db_hh[k] += dah[k];                                                                                \
        }                                                                                                      \
}                                                                                                              \
                                                                                                               \
/* Backward, b rows. a (b, 3H) in: the stashed gates, out: dL/dax, in place, as lstm.h's backward; h_prev, ah_n \
 * (b, H): the stashed h_{t-1}, W_hn h_{t-1} + b_hn; dy (b, H): dL/dY at this step; dh (b, H) in: dL/dh_t from \
 * step t+1, out: the direct part dh_t * z of dL/dh_{t-1}, to which the caller adds dah @ W_hh; dah (b, 3H) out: \
 * dL/dah; db_ih, db_hh (3H) the bias gradients, to which dax's and dah's rows are added. */                   \
FR_INLINE void fr_gru_backward_##S##_body(int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *h_prev, const T *ah_n, \
                                          const T *dy, T *dh, T *dah, T *db_ih, T *db_hh) {                    \
    if (relu) fr_gru_backward_rows_##S(1, b, H, a, h_prev, ah_n, dy, dh, dah);                                 \
    else fr_gru_backward_rows_##S(0, b, H, a, h_prev, ah_n, dy, dh, dah);                                      \
    fr_gru_bias_grads_##S(b, 3 * H, a, dah, db_ih, db_hh);                                                     \
}                                                                                                              \
FR_BY_WIDTH_COPIES(void, fr_gru_backward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *h_prev,      \
                                               const T *ah_n, const T *dy, T *dh, T *dah, T *db_ih,            \
                                               T *db_hh),                                                      \
                   (relu, b, H, a, h_prev, ah_n, dy, dh, dah, db_ih, db_hh))

FR_GRU(float, f, fr_sigmoidf, fr_actf, fr_dactf, fr_dsigmoidf, fr_sigmoid_rows_f_body, fr_act_rows_f_body)
FR_GRU(double, d, fr_sigmoid, fr_act, fr_dact, fr_dsigmoid, fr_sigmoid_rows_body, fr_act_rows_body)

#endif
