"""Python entry points to the activations of ``_math.pxd``, for the tests only: each maps a 1-D array."""
from cython cimport floating
import numpy as np

from _math cimport sigmoid, tanh_


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
