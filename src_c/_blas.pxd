# Row-major BLAS for fastrnn's kernels, over scipy.linalg.cython_blas (no BLAS of our own to link).
#
# Every matrix here is a C-ordered (row-major) numpy buffer. Fortran BLAS is column-major, and a row-major
# matrix read as column-major is its transpose, so row-major C = op(A) @ op(B) is computed as column-major
# C^T = op(B)^T @ op(A)^T: the same call with A and B swapped and m and n swapped. No data moves.
#
# The wrappers are inline, nogil and take fused `floating` (float or double): one call site in a kernel serves
# both dtypes, and the dtype test is resolved at compile time.

from cython cimport floating
from libc.stdlib cimport free
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv, saxpy, daxpy


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* A, int lda,
                      const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """C (m, n) = alpha * op(A) @ op(B) + beta * C, with op(A) (m, k) and op(B) (k, n), all row-major.

    lda, ldb, ldc are row strides in elements (the number of columns of the stored matrix for a whole array).
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda, &beta, C, &ldc)


cdef inline void gemv(bint trans_a, int m, int n, floating alpha, const floating* A, int lda,
                      const floating* x, floating beta, floating* y) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y for a row-major A of m rows and n columns; x and y unit-stride."""
    # Row-major A is column-major A^T (n rows, m columns), so the transpose flag flips.
    cdef char ta = b'N' if trans_a else b'T'
    cdef int one = 1
    if floating is float:
        sgemv(&ta, &n, &m, &alpha, <float*> A, &lda, <float*> x, &one, &beta, y, &one)
    else:
        dgemv(&ta, &n, &m, &alpha, <double*> A, &lda, <double*> x, &one, &beta, y, &one)


cdef inline void axpy(int n, floating alpha, const floating* x, floating* y) noexcept nogil:
    """y += alpha * x for unit-stride vectors of length n."""
    cdef int one = 1
    if floating is float:
        saxpy(&n, &alpha, <float*> x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double*> x, &one, y, &one)


cdef extern from "_gemm.h" nogil:
    int fr_vector_bytes()
    float* fr_pack_f(int trans_b, Py_ssize_t k, Py_ssize_t n, Py_ssize_t k1, const float* B1, const float* B2)
    double* fr_pack_d(int trans_b, Py_ssize_t k, Py_ssize_t n, Py_ssize_t k1, const double* B1, const double* B2)
    void fr_gemm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t lda, Py_ssize_t k2,
                   const float* A2, Py_ssize_t lda2, const float* Bp, float* C, Py_ssize_t ldc, int add)
    void fr_gemm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A, Py_ssize_t lda, Py_ssize_t k2,
                   const double* A2, Py_ssize_t lda2, const double* Bp, double* C, Py_ssize_t ldc, int add)
    void fr_gemm_tn_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* A, Py_ssize_t lda, const float* B,
                      Py_ssize_t ldb, float* C, Py_ssize_t ldc, int add)
    void fr_gemm_tn_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* A, Py_ssize_t lda, const double* B,
                      Py_ssize_t ldb, double* C, Py_ssize_t ldc, int add)
    void fr_dots_f(Py_ssize_t n, Py_ssize_t m, const float* W1, Py_ssize_t k1, const float* x1, const float* W2,
                   Py_ssize_t k2, const float* x2, float* y)
    void fr_dots_d(Py_ssize_t n, Py_ssize_t m, const double* W1, Py_ssize_t k1, const double* x1, const double* W2,
                   Py_ssize_t k2, const double* x2, double* y)


cdef inline floating* pack_step(bint own, bint trans_b, int k, int n, const floating* B) noexcept nogil:
    """op(B) (k, n) laid out for step_gemm's own product (_gemm.h), to pass as its `packed` and free() after the
    loop; NULL when not own (the caller's choice: fastrnn/_threads.py, own_product) or memory is short (step_gemm
    then uses BLAS). B is (n, k) when trans_b, else (k, n)."""
    if not own:
        return NULL
    if floating is float:
        return fr_pack_f(trans_b, k, n, k, B, NULL)
    else:
        return fr_pack_d(trans_b, k, n, k, B, NULL)


cdef inline void step_gemm(bint trans_b, int m, int n, int k, const floating* A, int lda,
                           const floating* B, int ldb, floating beta, floating* C, int ldc,
                           const floating* packed=NULL) noexcept nogil:
    """C (m, n) = A (m, k) @ op(B) + beta * C: the per-step recurrent product of the kernels.

    m is the number of live sequences at a step, often 1 (one stream, or the tail of a ragged batch). The own
    product runs on `packed` (op(B) from pack_step, made once for all the steps) when given, one row included.
    Without it, a single row is BLAS's GEMV (its GEMM would pay for packing panels it never reuses), several rows
    BLAS's GEMM.
    """
    cdef Py_ssize_t i, j
    if packed != NULL:
        if beta != 0 and beta != 1:
            for i in range(m):
                for j in range(n):
                    C[i * ldc + j] *= beta
        if floating is float:
            fr_gemm_f(m, n, k, A, lda, 0, NULL, 0, packed, C, ldc, beta != 0)
        else:
            fr_gemm_d(m, n, k, A, lda, 0, NULL, 0, packed, C, ldc, beta != 0)
    elif m == 1:
        # row @ op(B) is op(B)^T @ row: B (n, k) when trans_b, else B (k, n).
        if trans_b:
            gemv(False, n, k, <floating> 1, B, ldb, A, beta, C)
        else:
            gemv(True, k, n, <floating> 1, B, ldb, A, beta, C)
    else:
        gemm(False, trans_b, m, n, k, <floating> 1, A, lda, B, ldb, beta, C, ldc)


cdef inline floating* pack_pair(bint own, int k1, const floating* B1, int k2, const floating* B2,
                                int n) noexcept nogil:
    """[B1, B2]^T (k1 + k2, n) laid out for pair_gemm, from B1 (n, k1) and B2 (n, k2), to free() after the loop;
    NULL when not own or memory is short."""
    if not own:
        return NULL
    if floating is float:
        return fr_pack_f(True, k1 + k2, n, k1, B1, B2)
    else:
        return fr_pack_d(True, k1 + k2, n, k1, B1, B2)


cdef inline void pair_gemm(int m, int n, const floating* A1, int k1, int lda1, const floating* A2, int k2, int lda2,
                           const floating* packed, floating* C, int ldc) noexcept nogil:
    """C (m, n) = A1 (m, k1) @ B1^T + A2 (m, k2) @ B2^T in one pass of the own product, on `packed` from
    pack_pair: a step's input and recurrent products, whose sum is written once (_steps.pxd, step_products)."""
    if floating is float:
        fr_gemm_f(m, n, k1, A1, lda1, k2, A2, lda2, packed, C, ldc, 0)
    else:
        fr_gemm_d(m, n, k1, A1, lda1, k2, A2, lda2, packed, C, ldc, 0)


cdef inline bint wide_product(int n, const floating* any) noexcept nogil:
    """Whether an output of n columns fills at least a quarter of a vector (fr_vector_bytes: the width this process
    runs) of the own product's half blocks, which compute one vector of columns for twice a whole block's rows:
    narrower, most of every block is waste and BLAS does as well. With AVX2 (Zen 3, 1 thread, min of 150 calls,
    P 3200, G 256, own / OpenBLAS): dX = da @ W_ih in float64 0.39-0.52 at F = 1 to 8, in float32 0.98 at F = 1,
    1.00 at 2, 0.64-0.82 at 3 to 8; the weight gradient da^T X 0.28-0.46 and 0.33-0.66. With AVX-512, F = 1 in
    float64 (an eighth of a vector) trained a tiny GRU 2.7% slower on the own product, before the half blocks took
    twice the rows. `any` only gives the dtype."""
    return n * <int> sizeof(floating) * 4 >= fr_vector_bytes()


cdef inline void gemm_tn(bint own, int m, int n, int k, const floating* A, int lda, const floating* B, int ldb,
                         bint add, floating* C, int ldc) noexcept nogil:
    """C (m, n) = A^T B, or += when add, for A (k, m) and B (k, n): the backward's whole-sequence weight gradients,
    k the packed rows. own: fastrnn's product (_gemm.h, fr_gemm_tn), which reads B in place and copies A a chunk
    of rows at a time, where BLAS copies both whole; the caller's choice (fastrnn/_threads.py, own_sequence: BLAS
    for large gradients and several threads). BLAS still takes a C narrower than wide_product asks."""
    if own and wide_product(n, A):
        if floating is float:
            fr_gemm_tn_f(m, n, k, A, lda, B, ldb, C, ldc, add)
        else:
            fr_gemm_tn_d(m, n, k, A, lda, B, ldb, C, ldc, add)
    else:
        gemm(True, False, m, n, k, <floating> 1, A, lda, B, ldb, <floating> (1 if add else 0), C, ldc)


cdef inline void gemm_nn(bint own, int m, int n, int k, const floating* A, int lda, const floating* B, int ldb,
                         floating* C, int ldc) noexcept nogil:
    """C (m, n) = A (m, k) @ B (k, n) for a whole sequence: the backward's dX = da @ W_ih, m the packed rows.
    own: fastrnn's product on B laid out for this call, under gemm_tn's rule (a C of at least one vector); BLAS
    otherwise."""
    cdef floating* Bp = pack_step(own and wide_product(n, A), False, k, n, B)
    step_gemm(False, m, n, k, A, lda, B, ldb, 0, C, ldc, Bp)
    free(Bp)


cdef inline void dots(Py_ssize_t n, Py_ssize_t m, const floating* W1, Py_ssize_t k1, const floating* x1,
                      const floating* W2, Py_ssize_t k2, const floating* x2, floating* y) noexcept nogil:
    """y (n, m) = x1 (n, k1) @ W1^T + x2 (n, k2) @ W2^T, or without the second term when W2 is NULL: the streaming
    step's products for a few streams, on row-major weights as the model keeps them (_gemm.h, fr_dots)."""
    if floating is float:
        fr_dots_f(n, m, W1, k1, x1, W2, k2, x2, y)
    else:
        fr_dots_d(n, m, W1, k1, x1, W2, k2, x2, y)
