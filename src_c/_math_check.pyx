"""Python entry points to the activations of ``_math.pxd``, for the tests only: each maps a 1-D array."""
from cython cimport floating
import numpy as np

from _math cimport sigmoid, tanh_, sigmoid_rows, act_rows, all_finite


def sigmoid_check(const floating[::1] x):
    out = np.empty(x.shape[0], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] y = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            y[i] = sigmoid(x[i])
    return out


def tanh_check(const floating[::1] x):
    out = np.empty(x.shape[0], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] y = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            y[i] = tanh_(x[i])
    return out


def sigmoid_rows_check(floating[::1] x):
    """sigmoid_rows on x in place (the copy for this process's vector width)."""
    with nogil:
        sigmoid_rows(&x[0] if x.shape[0] else NULL, x.shape[0])


def act_rows_check(floating[::1] x, bint use_relu):
    """act_rows on x in place (the copy for this process's vector width)."""
    with nogil:
        act_rows(&x[0] if x.shape[0] else NULL, x.shape[0], use_relu)


def all_finite_check(const floating[::1] x):
    cdef bint finite
    with nogil:
        finite = all_finite(&x[0] if x.shape[0] else NULL, x.shape[0])
    return finite
