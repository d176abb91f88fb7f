"""Python entry points to the row-major BLAS wrappers of ``_blas.pxd``, for the tests only.

Each takes whole C-contiguous numpy arrays and writes the result into the last one, as the kernels do. Scalars
arrive as double (a NumPy float32 scalar is not a fused `floating` to Cython's dispatch) and are cast.
"""
from cython cimport floating

from libc.stdlib cimport free

from _blas cimport gemm, gemm_tn, gemv, axpy, pack_pair, pack_step, pair_gemm, step_gemm, dots, fr_vector_bytes


def vector_bytes():
    """The width in bytes of the vectors the own products and pointwise passes run on (_fastmath.h, fr_vector_bytes)."""
    return fr_vector_bytes()


def gemm_check(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] A,
               const floating[:, ::1] B, double beta, floating[:, ::1] C):
    """C = alpha * op(A) @ op(B) + beta * C."""
    cdef int m = C.shape[0], n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> alpha, &A[0, 0], A.shape[1], &B[0, 0], B.shape[1],
             <floating> beta, &C[0, 0], n)


def gemv_check(bint trans_a, double alpha, const floating[:, ::1] A, const floating[::1] x,
               double beta, floating[::1] y):
    """y = alpha * op(A) @ x + beta * y."""
    with nogil:
        gemv(trans_a, A.shape[0], A.shape[1], <floating> alpha, &A[0, 0], A.shape[1], &x[0], <floating> beta, &y[0])


def axpy_check(double alpha, const floating[::1] x, floating[::1] y):
    """y += alpha * x."""
    with nogil:
        axpy(x.shape[0], <floating> alpha, &x[0], &y[0])


def step_gemm_check(bint trans_b, const floating[:, ::1] A, const floating[:, ::1] B, double beta,
                    floating[:, ::1] C, bint packed=False):
    """C = A @ op(B) + beta * C; with packed, through pack_step's layout (fastrnn's own product) when it applies.
    Returns whether the own product ran (pack_step gave a layout)."""
    cdef int m = C.shape[0], n = C.shape[1], k = A.shape[1]
    cdef floating* Bp = NULL
    with nogil:
        if packed:
            Bp = pack_step(True, trans_b, k, n, &B[0, 0])
        step_gemm(trans_b, m, n, k, &A[0, 0], A.shape[1], &B[0, 0], B.shape[1], <floating> beta, &C[0, 0], n, Bp)
        free(Bp)
    return Bp != NULL


def pair_gemm_check(const floating[:, ::1] A1, const floating[:, ::1] B1, const floating[:, ::1] A2,
                    const floating[:, ::1] B2, floating[:, ::1] C):
    """C = A1 @ B1^T + A2 @ B2^T in one pass of fastrnn's own product (pack_pair, pair_gemm)."""
    cdef int m = C.shape[0], n = C.shape[1], k1 = A1.shape[1], k2 = A2.shape[1]
    cdef floating* Bp
    with nogil:
        Bp = pack_pair(True, k1, &B1[0, 0], k2, &B2[0, 0], n)
        if Bp != NULL:
            pair_gemm(m, n, &A1[0, 0], k1, k1, &A2[0, 0], k2, k2, Bp, &C[0, 0], n)
        free(Bp)
    if Bp == NULL:
        raise MemoryError()


def gemm_tn_check(bint own, const floating[:, ::1] A, const floating[:, ::1] B, bint add, floating[:, ::1] C):
    """C = A^T B, or += when add; own: fastrnn's product, else BLAS's."""
    with nogil:
        gemm_tn(own, C.shape[0], C.shape[1], A.shape[0], &A[0, 0], A.shape[1], &B[0, 0], B.shape[1], add,
                &C[0, 0], C.shape[1])


def dots_check(const floating[:, ::1] W1, const floating[:, ::1] x1, const floating[:, ::1] W2,
               const floating[:, ::1] x2, floating[:, ::1] y):
    """y = x1 @ W1^T + x2 @ W2^T; W2 and x2 None for the first term alone."""
    cdef const floating* w2 = NULL
    cdef const floating* z2 = NULL
    cdef Py_ssize_t k2 = 0
    if W2 is not None:
        w2, z2, k2 = &W2[0, 0], &x2[0, 0], W2.shape[1]
    with nogil:
        dots(y.shape[0], y.shape[1], &W1[0, 0], W1.shape[1], &x1[0, 0], w2, k2, z2, &y[0, 0])
