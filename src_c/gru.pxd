# The GRU's pointwise work at one step (gru.h), for float and double: shared by the sequence kernels (gru.pyx)
# and the streaming step (stream.pyx), so that both compute the same numbers.

from cython cimport floating

cdef extern from "gru.h" nogil:
    void fr_gru_forward_f(int relu, Py_ssize_t b, Py_ssize_t H, float* a, const float* bias, const float* u,
                          const float* b_hn, const float* h_prev, float* y, float* ah_n, float* h_stash,
                          float* nan_sum)
    void fr_gru_forward_d(int relu, Py_ssize_t b, Py_ssize_t H, double* a, const double* bias, const double* u,
                          const double* b_hn, const double* h_prev, double* y, double* ah_n, double* h_stash,
                          double* nan_sum)
    void fr_gru_backward_f(int relu, Py_ssize_t b, Py_ssize_t H, float* a, const float* h_prev,
                           const float* ah_n, const float* dy, float* dh, float* dah, float* db_ih, float* db_hh)
    void fr_gru_backward_d(int relu, Py_ssize_t b, Py_ssize_t H, double* a, const double* h_prev,
                           const double* ah_n, const double* dy, double* dh, double* dah, double* db_ih,
                           double* db_hh)


cdef inline void gru_pointwise(bint use_relu, Py_ssize_t b, Py_ssize_t H, floating* a, const floating* bias,
                               const floating* u, const floating* b_hn, const floating* h_prev, floating* y,
                               floating* ah_n, floating* h_stash, floating* nan_sum) noexcept nogil:
    """Forward, b rows: a (b, 3H) W_ih x_t -> gates [r, z, n], with bias (3H) b_ih + [b_hr, b_hz, 0]; u (b, 3H)
    W_hh h_{t-1}; b_hn (H); h_prev (b, H); y (b, H) out: h_t; the training stash unless ah_n is NULL: ah_n (b, H)
    out: W_hn h_{t-1} + b_hn, h_stash (b, H) out: h_{t-1}; nan_sum (H), NULL only when ah_n is: h_t * 0 added
    (gru.h)."""
    if floating is float:
        fr_gru_forward_f(use_relu, b, H, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum)
    else:
        fr_gru_forward_d(use_relu, b, H, a, bias, u, b_hn, h_prev, y, ah_n, h_stash, nan_sum)


cdef inline void gru_pointwise_backward(bint use_relu, Py_ssize_t b, Py_ssize_t H, floating* a,
                                        const floating* h_prev, const floating* ah_n, const floating* dy,
                                        floating* dh, floating* dah, floating* db_ih,
                                        floating* db_hh) noexcept nogil:
    """Backward, b rows: a (b, 3H) the stashed gates -> dL/dax, in place; dah (b, 3H) out; dh (b, H) dL/dh_t ->
    dh_t * z; db_ih, db_hh (3H) += the rows of dax, dah (gru.h)."""
    if floating is float:
        fr_gru_backward_f(use_relu, b, H, a, h_prev, ah_n, dy, dh, dah, db_ih, db_hh)
    else:
        fr_gru_backward_d(use_relu, b, H, a, h_prev, ah_n, dy, dh, dah, db_ih, db_hh)
