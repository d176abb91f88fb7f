/* The vanilla RNN's pointwise work at one step, forward and backward, on the b live rows (math and names as in
 * rnn.pyx's docstring). Shared by the sequence kernels (rnn.pyx) and the streaming step (stream.pyx), so that
 * both compute the same numbers; compiled once per vector width (_fastmath.h's FR_BY_WIDTH_COPIES).
 *
 * Rows are contiguous: row j of a (b, H) array starts at j * H.
 */
#ifndef FASTRNN_RNN_H
#define FASTRNN_RNN_H

#include "_fastmath.h"

#define FR_RNN(T, S, ACT, DACT)                                                                                \
                                                                                                               \
/* b rows, writing the outputs that `out` names (_fastmath.h's FR_NEXT, FR_CHECK). */                          \
FR_INLINE void fr_rnn_forward_rows_##S(int relu, int out, ptrdiff_t b, ptrdiff_t H, T *restrict a,             \
                                       const T *restrict bias, T *restrict h_next, ptrdiff_t ldh,              \
                                       T *restrict nan_sum) {                                                  \
    for (ptrdiff_t j = 0; j < b; j++, a += H)                                                                  \
        for (ptrdiff_t k = 0; k < H; k++) {                                                                    \
            T h_t = ACT(a[k] + bias[k], relu);                                                                 \
            a[k] = h_t;                                                                                        \
            if (out & FR_NEXT) h_next[j * ldh + k] = h_t;                                                      \
            if (out & FR_CHECK) nan_sum[k] += h_t * 0;                                                         \
        }                                                                                                      \
}                                                                                                              \
                                                                                                               \
/* a[p] = act(a[p] + bias[p]) over n values, nan_sum[p] += a[p] * 0: whole rows, one loop (below). */          \
FR_INLINE void fr_rnn_forward_flat_##S(int relu, ptrdiff_t n, T *restrict a, const T *restrict bias,           \
                                       T *restrict nan_sum) {                                                  \
    for (ptrdiff_t p = 0; p < n; p++) {                                                                        \
        T h_t = ACT(a[p] + bias[p], relu);                                                                     \
        a[p] = h_t;                                                                                            \
        nan_sum[p] += h_t * 0;                                                                                 \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* Forward, b rows. a (b, H) in: the products W_ih x_t + W_hh h_{t-1}, out: h_t; bias (tiled, H): b_ih + b_hh, \
 * tiled rows after rows; h_next (nh, ldh) out unless NULL: h_t of the first nh rows, the next step's h_{t-1} in \
 * the training stash (its rows are ldh long), written here where the values are in registers instead of copied \
 * at the next step; nan_sum (tiled, H) in and out unless NULL: h_t * 0 added, which stays 0 while every h_t is \
 * finite and is NaN from a NaN or an infinite one on.                                                         \
 * Without h_next, rows go `tiled` at a time through one flat loop: a row's loop leaves the units past its last \
 * whole vector to scalar code (H = 50 in float64: 1.2 ns a unit, 1.0 at H = 48). */                           \
FR_INLINE void fr_rnn_forward_##S##_body(int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias, ptrdiff_t tiled, \
                                         T *h_next, ptrdiff_t ldh, ptrdiff_t nh, T *nan_sum) {                 \
    /* Literal flags, so that each call below is its own loop, with no test inside it (lstm.h's                \
     * fr_lstm_forward_outs). */                                                                               \
    if (!nan_sum) {                                                                                            \
        if (relu) fr_rnn_forward_rows_##S(1, 0, b, H, a, bias, NULL, 0, NULL);                                 \
        else fr_rnn_forward_rows_##S(0, 0, b, H, a, bias, NULL, 0, NULL);                                      \
        return;                                                                                                \
    }                                                                                                          \
    if (!h_next && tiled > 1) {                                                                                \
        for (ptrdiff_t j = 0; j < b; j += tiled) {                                                             \
            ptrdiff_t n = (b - j < tiled ? b - j : tiled) * H;                                                 \
            if (relu) fr_rnn_forward_flat_##S(1, n, a + j * H, bias, nan_sum);                                 \
            else fr_rnn_forward_flat_##S(0, n, a + j * H, bias, nan_sum);                                      \
        }                                                                                                      \
        return;                                                                                                \
    }                                                                                                          \
    if (!h_next) nh = 0;                                                                                       \
    if (relu) {                                                                                                \
        fr_rnn_forward_rows_##S(1, FR_NEXT | FR_CHECK, nh, H, a, bias, h_next, ldh, nan_sum);                  \
        fr_rnn_forward_rows_##S(1, FR_CHECK, b - nh, H, a + nh * H, bias, NULL, 0, nan_sum);                   \
    } else {                                                                                                   \
        fr_rnn_forward_rows_##S(0, FR_NEXT | FR_CHECK, nh, H, a, bias, h_next, ldh, nan_sum);                  \
        fr_rnn_forward_rows_##S(0, FR_CHECK, b - nh, H, a + nh * H, bias, NULL, 0, nan_sum);                   \
    }                                                                                                          \
}                                                                                                              \
FR_BY_WIDTH_COPIES(void, fr_rnn_forward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, T *a, const T *bias,         \
                                              ptrdiff_t tiled, T *h_next, ptrdiff_t ldh, ptrdiff_t nh,         \
                                              T *nan_sum),                                                     \
                   (relu, b, H, a, bias, tiled, h_next, ldh, nh, nan_sum))                                     \
                                                                                                               \
FR_INLINE void fr_rnn_backward_rows_##S(int relu, ptrdiff_t n, const T *restrict y, const T *restrict dy,      \
                                        const T *restrict dh, T *restrict da) {                                \
    for (ptrdiff_t p = 0; p < n; p++) da[p] = (dh[p] + dy[p]) * DACT(y[p], relu);                              \
}                                                                                                              \
                                                                                                               \
/* Backward, b rows. y (b, H): h_t, from the forward's output; dy (b, H): dL/dY at this step; dh (b, H):       \
 * dL/dh_t from step t+1; da (b, H) out: dL/da. dL/dh_{t-1} = da @ W_hh is the caller's product. */            \
FR_INLINE void fr_rnn_backward_##S##_body(int relu, ptrdiff_t b, ptrdiff_t H, const T *y, const T *dy, const T *dh, \
                                          T *da) {                                                             \
    if (relu) fr_rnn_backward_rows_##S(1, b * H, y, dy, dh, da);                                               \
    else fr_rnn_backward_rows_##S(0, b * H, y, dy, dh, da);                                                    \
}                                                                                                              \
FR_BY_WIDTH_COPIES(void, fr_rnn_backward_##S, (int relu, ptrdiff_t b, ptrdiff_t H, const T *y, const T *dy,    \
                                               const T *dh, T *da),                                            \
                   (relu, b, H, y, dy, dh, da))

FR_RNN(float, f, fr_actf, fr_dactf)
FR_RNN(double, d, fr_act, fr_dact)

#endif
