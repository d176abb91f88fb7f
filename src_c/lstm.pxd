# The LSTM's pointwise work at one step (lstm.h), for float and double: shared by the sequence kernels
# (lstm.pyx) and the streaming step (stream.pyx), so that both compute the same numbers.

from cython cimport floating

cdef extern from "lstm.h" nogil:
    void fr_lstm_forward_f(int relu, Py_ssize_t b, Py_ssize_t H, float* a, const float* bias, float* c, float* y,
                           float* act_c, float* c_prev, float* h_next, Py_ssize_t ldh, Py_ssize_t nh,
                           float* nan_sum)
    void fr_lstm_forward_d(int relu, Py_ssize_t b, Py_ssize_t H, double* a, const double* bias, double* c,
                           double* y, double* act_c, double* c_prev, double* h_next, Py_ssize_t ldh, Py_ssize_t nh,
                           double* nan_sum)
    void fr_lstm_backward_f(int relu, Py_ssize_t b, Py_ssize_t H, float* a, const float* c_prev,
                            const float* act_c, const float* dy, const float* dh, float* dc)
    void fr_lstm_backward_d(int relu, Py_ssize_t b, Py_ssize_t H, double* a, const double* c_prev,
                            const double* act_c, const double* dy, const double* dh, double* dc)


cdef inline void lstm_pointwise(bint use_relu, Py_ssize_t b, Py_ssize_t H, floating* a, const floating* bias,
                                floating* c, floating* y, floating* act_c, floating* c_prev, floating* h_next,
                                Py_ssize_t ldh, Py_ssize_t nh, floating* nan_sum) noexcept nogil:
    """Forward, b rows: a (b, 4H) products -> gates [i, f, g, o], with bias (4H) b_ih + b_hh; c (b, H)
    c_{t-1} -> c_t; y (b, H) out: h_t. The training stash unless act_c is NULL: act_c (b, H) out: act(c_t);
    c_prev (b, H) out: c_{t-1}; h_next (nh, ldh) out: h_t of the first nh rows; nan_sum (H), NULL only when act_c
    is: h_t * 0 added (lstm.h)."""
    if floating is float:
        fr_lstm_forward_f(use_relu, b, H, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum)
    else:
        fr_lstm_forward_d(use_relu, b, H, a, bias, c, y, act_c, c_prev, h_next, ldh, nh, nan_sum)


cdef inline void lstm_pointwise_backward(bint use_relu, Py_ssize_t b, Py_ssize_t H, floating* a,
                                         const floating* c_prev, const floating* act_c, const floating* dy,
                                         const floating* dh, floating* dc) noexcept nogil:
    """Backward, b rows: a (b, 4H) the stashed gates -> dL/da, in place; dc (b, H) dL/dc_t -> dL/dc_{t-1}
    (lstm.h)."""
    if floating is float:
        fr_lstm_backward_f(use_relu, b, H, a, c_prev, act_c, dy, dh, dc)
    else:
        fr_lstm_backward_d(use_relu, b, H, a, c_prev, act_c, dy, dh, dc)
