# Pointwise activations and their derivatives for the kernels, inline for float and double.
#
# Derivatives take the activation's OUTPUT (y = act(x)), because the forward pass stashes post-activation gates
# and the backward never recomputes an exp or a tanh.

from cython cimport floating
from libc.math cimport isfinite

cdef extern from "_fastmath.h" nogil:
    double fr_sigmoid(double x)
    float fr_sigmoidf(float x)
    double fr_tanh(double x)
    float fr_tanhf(float x)


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


cdef inline floating dsigmoid(floating y) noexcept nogil:
    """sigma'(x) from y = sigma(x)."""
    return y * (1 - y)


cdef inline floating dtanh(floating y) noexcept nogil:
    """tanh'(x) from y = tanh(x)."""
    return 1 - y * y


cdef inline floating drelu(floating y) noexcept nogil:
    """relu'(x) from y = relu(x); 0 at x = 0, as PyTorch."""
    return 1 if y > 0 else 0


cdef inline floating act(floating x, bint use_relu) noexcept nogil:
    """A cell's candidate activation: tanh, or relu with activation="relu" (Keras's `activation`)."""
    return relu(x) if use_relu else tanh_(x)


cdef inline floating dact(floating y, bint use_relu) noexcept nogil:
    """act'(x) from y = act(x).

    Both derivatives mixed by use_relu rather than chosen by a branch, so that the backward loops vectorise;
    y^2 is capped at 1 (which tanh's y never exceeds) so that a large relu output cannot make 0 * inf.
    """
    cdef floating r = use_relu
    cdef floating y2 = y * y
    y2 = y2 if y2 < 1 else 1
    return r * (y > 0) + (1 - r) * (1 - y2)


# Whole-row activations, in place: one pointer and no branch inside a loop, so the compiler vectorises each.

cdef inline void sigmoid_rows(floating* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        x[k] = sigmoid(x[k])


cdef inline void act_rows(floating* x, Py_ssize_t n, bint use_relu) noexcept nogil:
    cdef Py_ssize_t k
    if use_relu:
        for k in range(n):
            x[k] = relu(x[k])
    else:
        for k in range(n):
            x[k] = tanh_(x[k])


cdef inline bint all_finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """True when none of x[0:n] is NaN or infinite.

    One sum decides in the common case: it is finite only if every value is. A non-finite sum may also be an
    overflow of finite values, so only then are the values checked one by one.
    """
    cdef Py_ssize_t i
    cdef floating s = 0
    for i in range(n):
        s += x[i]
    if isfinite(s):
        return True
    for i in range(n):
        if not isfinite(x[i]):
            return False
    return True
