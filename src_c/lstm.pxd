# The LSTM's pointwise step on one row, after the products (math in lstm.pyx's docstring): shared by the
# sequence kernel (lstm.pyx) and the streaming step (stream.pyx), so that both compute the same numbers.

from cython cimport floating
from libc.string cimport memcpy

from _math cimport sigmoid_rows, act_rows


cdef inline void lstm_pointwise(floating* a, floating* c, floating* y, floating* act_c, Py_ssize_t H,
                                bint use_relu) noexcept nogil:
    """One row: a (4H) in: pre-activations, out: gates [i, f, g, o]; c (H) in: c_{t-1}, out: c_t;
    y (H) out: h_t; act_c (H) out: act(c_t), the training stash, unless NULL."""
    cdef Py_ssize_t k
    sigmoid_rows(a, 2 * H)                 # i, f
    act_rows(a + 2 * H, H, use_relu)       # g
    sigmoid_rows(a + 3 * H, H)             # o
    for k in range(H):
        c[k] = a[H + k] * c[k] + a[k] * a[2 * H + k]
    memcpy(y, c, H * sizeof(floating))
    act_rows(y, H, use_relu)               # act(c_t)
    if act_c != NULL:
        memcpy(act_c, y, H * sizeof(floating))
    for k in range(H):
        y[k] *= a[3 * H + k]
