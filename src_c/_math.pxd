# Pointwise activations and their derivatives for the kernels, inline for float and double.
#
# Derivatives take the activation's OUTPUT (y = act(x)), because the forward pass stashes post-activation gates
# and the backward never recomputes an exp or a tanh.

from cython cimport floating
from libc.string cimport memcpy

cdef extern from "_fastmath.h" nogil:
    double fr_sigmoid(double x)
    float fr_sigmoidf(float x)
    double fr_tanh(double x)
    float fr_tanhf(float x)
    void fr_sigmoid_rows(double* x, Py_ssize_t n)
    void fr_sigmoid_rows_f(float* x, Py_ssize_t n)
    void fr_act_rows(double* x, Py_ssize_t n, int relu)
    void fr_act_rows_f(float* x, Py_ssize_t n, int relu)
    int fr_all_finite(const double* x, Py_ssize_t n)
    int fr_all_finite_f(const float* x, Py_ssize_t n)


cdef inline floating sigmoid(floating x) noexcept nogil:
    """1 / (1 + exp(-x)), never overflowing, vectorisable (see _fastmath.h)."""
    if floating is float:
        return fr_sigmoidf(x)
    else:
        return fr_sigmoid(x)


cdef inline floating tanh_(floating x) noexcept nogil:
    """tanh(x), vectorisable (see _fastmath.h)."""
    if floating is float:
        return fr_tanhf(x)
    else:
        return fr_tanh(x)


cdef inline floating relu(floating x) noexcept nogil:
    # Written so that NaN propagates (NaN <= 0 is false) and the non-finite check can see it.
    return 0 if x <= 0 else x


# Whole-row activations, in place, in _fastmath.h's row functions, compiled for the CPU's widest vectors (AVX2,
# AVX-512) and chosen when the module loads: the streaming step's logistic output, and the hooks that test the
# row functions the cells' headers (lstm.h, gru.h) call.

cdef inline void sigmoid_rows(floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fr_sigmoid_rows_f(x, n)
    else:
        fr_sigmoid_rows(x, n)


cdef inline void act_rows(floating* x, Py_ssize_t n, bint use_relu) noexcept nogil:
    """tanh, or relu with use_relu."""
    if floating is float:
        fr_act_rows_f(x, n, use_relu)
    else:
        fr_act_rows(x, n, use_relu)


cdef inline bint all_finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """True when none of x[0:n] is NaN or infinite (_fastmath.h)."""
    if floating is float:
        return fr_all_finite_f(x, n)
    else:
        return fr_all_finite(x, n)


cdef inline void bias_rows(floating* a, Py_ssize_t rows, Py_ssize_t n, const floating* b) noexcept nogil:
    """Every row of a (rows, n) set to b (n): a product then adds into it (beta = 1)."""
    cdef Py_ssize_t p
    for p in range(rows):
        memcpy(a + p * n, b, n * sizeof(floating))


cdef inline void bias_sum(floating* bias, const floating* b_ih, const floating* b_hh, Py_ssize_t n,
                          Py_ssize_t n2) noexcept nogil:
    """bias (n) = b_ih + b_hh, with b_hh added to the first n2 entries only: the GRU's b_hn cannot join the input
    side's bias (the reset gate multiplies it)."""
    cdef Py_ssize_t k
    for k in range(n):
        bias[k] = b_ih[k] + b_hh[k] if k < n2 else b_ih[k]
