# The GRU's pointwise step on one row, after the products (math in gru.pyx's docstring): shared by the
# sequence kernel (gru.pyx) and the streaming step (stream.pyx), so that both compute the same numbers.

from cython cimport floating
from libc.string cimport memcpy

from _math cimport sigmoid_rows, act_rows


cdef inline void gru_pointwise(floating* a, floating* u, const floating* b_hn, floating* h, floating* ah_n,
                               Py_ssize_t H, bint use_relu) noexcept nogil:
    """One row: a (3H) in: W_ih x_t + b_ih + [b_hr, b_hz, 0], out: gates [r, z, n]; u (3H) in: W_hh h_{t-1}
    (without b_hh), scratch; b_hn (H); h (H) in: h_{t-1}, out: h_t; ah_n (H) out: W_hn h_{t-1} + b_hn, the
    training stash, unless NULL."""
    cdef Py_ssize_t k
    for k in range(2 * H):
        a[k] += u[k]
    sigmoid_rows(a, 2 * H)                 # r, z
    for k in range(H):
        u[2 * H + k] += b_hn[k]            # ah_n
    if ah_n != NULL:
        memcpy(ah_n, u + 2 * H, H * sizeof(floating))
    for k in range(H):
        a[2 * H + k] += a[k] * u[2 * H + k]
    act_rows(a + 2 * H, H, use_relu)       # n
    for k in range(H):
        h[k] = (1 - a[H + k]) * a[2 * H + k] + a[H + k] * h[k]
