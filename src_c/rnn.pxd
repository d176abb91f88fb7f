# The vanilla RNN's pointwise work at one step (rnn.h), for float and double: shared by the sequence kernels
# (rnn.pyx) and the streaming step (stream.pyx), so that both compute the same numbers.

from cython cimport floating

cdef extern from "rnn.h" nogil:
    void fr_rnn_forward_f(int relu, Py_ssize_t b, Py_ssize_t H, float* a, const float* bias, Py_ssize_t tiled,
                          float* h_next, Py_ssize_t ldh, Py_ssize_t nh, float* nan_sum)
    void fr_rnn_forward_d(int relu, Py_ssize_t b, Py_ssize_t H, double* a, const double* bias, Py_ssize_t tiled,
                          double* h_next, Py_ssize_t ldh, Py_ssize_t nh, double* nan_sum)
    void fr_rnn_backward_f(int relu, Py_ssize_t b, Py_ssize_t H, const float* y, const float* dy, const float* dh,
                           float* da)
    void fr_rnn_backward_d(int relu, Py_ssize_t b, Py_ssize_t H, const double* y, const double* dy,
                           const double* dh, double* da)


cdef inline void rnn_pointwise(bint use_relu, Py_ssize_t b, Py_ssize_t H, floating* a, const floating* bias,
                               Py_ssize_t tiled, floating* h_next, Py_ssize_t ldh, Py_ssize_t nh,
                               floating* nan_sum) noexcept nogil:
    """Forward, b rows: a (b, H) products -> h_t, with bias (tiled, H) b_ih + b_hh in each row; h_next (nh, ldh)
    out unless NULL: h_t of the first nh rows, for the training stash; nan_sum (tiled, H) unless NULL: h_t * 0 added
    (rnn.h)."""
    if floating is float:
        fr_rnn_forward_f(use_relu, b, H, a, bias, tiled, h_next, ldh, nh, nan_sum)
    else:
        fr_rnn_forward_d(use_relu, b, H, a, bias, tiled, h_next, ldh, nh, nan_sum)


cdef inline void rnn_pointwise_backward(bint use_relu, Py_ssize_t b, Py_ssize_t H, const floating* y,
                                        const floating* dy, const floating* dh, floating* da) noexcept nogil:
    """Backward, b rows: da (b, H) out: (dh + dy) * act'(a), from y = h_t."""
    if floating is float:
        fr_rnn_backward_f(use_relu, b, H, y, dy, dh, da)
    else:
        fr_rnn_backward_d(use_relu, b, H, y, dy, dh, da)
