"""The row-major BLAS wrappers of src_c/_blas.pxd against NumPy, for float32 and float64."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastrnn._blas_check import (axpy_check, dots_check, gemm_check, gemm_tn_check, gemv_check, pair_gemm_check,
                                 step_gemm_check)

DTYPES = [np.float32, np.float64]
# (m, n, k): square, skinny, the 1 x 1 and k = 1 edge cases, one row (BLAS's GEMV in step_gemm without packing), odd
# sizes.
SHAPES = [(4, 5, 3), (1, 1, 1), (3, 4, 1), (1, 7, 5), (6, 1, 9), (17, 13, 11)]


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def stored(M, trans):
    """The C-ordered array that op() turns into M."""
    return np.ascontiguousarray(M.T if trans else M)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_gemm(dtype, m, n, k, trans_a, trans_b, beta):
    rng = np.random.default_rng(0)
    A, B, C = (rng.standard_normal(s).astype(dtype) for s in [(m, k), (k, n), (m, n)])
    expected = 1.5 * A @ B + beta * C
    out = C.copy()
    gemm_check(trans_a, trans_b, dtype(1.5), stored(A, trans_a), stored(B, trans_b), dtype(beta), out)
    np.testing.assert_allclose(out, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_beta_zero_ignores_nan_in_output(dtype):
    # BLAS must not read C when beta == 0; the kernels rely on it for uninitialised workspaces.
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((3, 2)).astype(dtype), rng.standard_normal((2, 4)).astype(dtype)
    out = np.full((3, 4), np.nan, dtype=dtype)
    gemm_check(False, False, dtype(1), A, B, dtype(0), out)
    np.testing.assert_allclose(out, A @ B, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n", [(1, 1), (4, 1), (1, 4), (5, 3), (13, 8)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemv(dtype, m, n, trans_a, beta):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((m, n)).astype(dtype)
    x = rng.standard_normal(m if trans_a else n).astype(dtype)
    y = rng.standard_normal(n if trans_a else m).astype(dtype)
    expected = 0.5 * (A.T if trans_a else A) @ x + beta * y
    gemv_check(trans_a, dtype(0.5), A, x, dtype(beta), y)
    np.testing.assert_allclose(y, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 31])
def test_axpy(dtype, n):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    expected = y - 2 * x
    axpy_check(dtype(-2), x, y)
    np.testing.assert_allclose(y, expected, **tol(dtype))


# The kernels' own product (_gemm.h) works on register blocks of 4 rows (the last m % 4 in blocks of 2 and 1) and
# 32 (float) or 16 (double) columns: shapes on, below and above those edges, and the LSTM's per-step shape.
# Block edges (rows by 4, columns by the strip width of 32 floats / 16 doubles), double's half strips (a last strip
# of 4 columns or fewer: n = 17, 50, 4) and k past one chunk of FR_KC = 128 rows: 129 and 300 (a full chunk and a
# partial one after it, whose products add to the first's).
# One row runs groups of 4 strips, then 1 to 3 strips and a partial one as blocks: n = 64 and 128 (whole groups
# in double and float), 150 and 50 (groups, strips and a partial strip, a half one), 512 by k = 128
# (a streaming LSTM's step), k past one chunk (300).
# A last strip of half a strip or less runs in half blocks of 8 rows, then 4, 2 and 1 (m = 15, 23), and one of
# exactly half a strip is stored as one vector: n = 6, 12, 20, 24 and 48 end on such a strip at some width (16,
# 32 or 64 bytes) in float or double.
PACKED_SHAPES = SHAPES + [(4, 32, 8), (5, 33, 2), (8, 16, 16), (3, 15, 7), (32, 256, 64), (33, 150, 50),
                          (6, 40, 129), (5, 17, 300), (9, 4, 5), (7, 50, 200),
                          (15, 12, 9), (15, 20, 33), (15, 24, 7), (23, 48, 130), (15, 6, 3), (8, 8, 5),
                          (1, 64, 3), (1, 128, 300), (1, 150, 37), (1, 50, 9), (1, 512, 128)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n, k", PACKED_SHAPES)
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("packed", [False, True])
def test_step_gemm(dtype, m, n, k, trans_b, beta, packed):
    # Without packing, m == 1 takes BLAS's GEMV and several rows BLAS's GEMM; packed, fastrnn's own product (its
    # one-row loop at m == 1). All must agree with NumPy, with and without accumulation.
    rng = np.random.default_rng(4)
    A, B, C = (rng.standard_normal(s).astype(dtype) for s in [(m, k), (k, n), (m, n)])
    C[0, 0] = np.nan if beta == 0 else C[0, 0]  # beta = 0 overwrites, NaN included (as BLAS)
    expected = A @ B + (beta * C if beta else 0)
    out = C.copy()
    own = step_gemm_check(trans_b, A, stored(B, trans_b), dtype(beta), out, packed)
    assert own == packed
    np.testing.assert_allclose(out, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_gemm_beyond_the_l2_cache(dtype):
    # The own product takes any B: here 2 MB (float64) or 1 MB (float32), a medium LSTM's W_hh, at 5 rows and 1.
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((5, 256)).astype(dtype), rng.standard_normal((1024, 256)).astype(dtype)
    for rows in (A, A[:1]):
        out = np.empty((len(rows), 1024), dtype)
        assert step_gemm_check(True, rows, B, 0.0, out, True)
        exact = rows.astype(np.float64) @ B.T.astype(np.float64)
        # Rounding of a float32 sum grows with the sum of the terms' magnitudes (about 200 here).
        bound = np.abs(rows).astype(np.float64) @ np.abs(B).T * np.finfo(dtype).eps * 4
        assert np.all(np.abs(out - exact) <= bound)


# (m, n, k1, k2): a step's input and recurrent products in one pass. One row (fr_row: four strips at once, then
# blocks), rows by the register block of 4 and not; n within a strip, past it, a last half strip, and 4 strips and
# more (fr_row's own loop: 128 floats, 64 doubles); k1 = 1 (one input feature), and k1 + k2 past 128.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, n, k1, k2", [(1, 1, 1, 1), (1, 200, 3, 50), (1, 150, 8, 64), (4, 32, 1, 7),
                                          (5, 47, 2, 5), (9, 24, 16, 128), (13, 200, 50, 50), (32, 257, 64, 65)])
def test_pair_gemm(dtype, m, n, k1, k2):
    rng = np.random.default_rng(m * n + k1)
    A1, B1, A2, B2 = (rng.standard_normal(s).astype(dtype) for s in [(m, k1), (n, k1), (m, k2), (n, k2)])
    out = np.full((m, n), np.nan, dtype)  # overwritten, NaN included: the product does not read C
    pair_gemm_check(A1, B1, A2, B2, out)
    np.testing.assert_allclose(out, A1 @ B1.T + A2 @ B2.T, **tol(dtype))


# (k, m, n): one row of A and B; m by the register block of 4 and not; n within one strip, on its edge, and past
# it with a partial strip (32 floats, 16 doubles); a last strip of exactly half a strip, read in place (8, 24, 56
# in double, 16, 48 in float: the stash's padded widths); k past one chunk of 128 rows (the backward's P); half
# blocks of 8 rows and fewer (m = 15, 17, 24) on exactly half a strip at some width (n = 6, 12, 20) and less
# (n = 2: BLAS where it fills less than a quarter of a vector, _blas.pxd's wide_product); A's chunks copied in
# groups of 8 columns, whole (m = 64) and with a partial last one (m = 37).
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, m, n", [(1, 1, 1), (5, 4, 3), (7, 9, 32), (300, 36, 47), (129, 12, 16), (200, 3, 65),
                                     (64, 7, 8), (130, 5, 24), (140, 13, 56), (33, 6, 16), (150, 9, 48),
                                     (140, 15, 12), (70, 17, 20), (33, 24, 6), (9, 15, 2), (260, 64, 20), (130, 37, 33)])
@pytest.mark.parametrize("add", [False, True])
@pytest.mark.parametrize("own", [False, True])
def test_gemm_tn(dtype, k, m, n, add, own):
    rng = np.random.default_rng(6)
    A, B, C = (rng.standard_normal(s).astype(dtype) for s in [(k, m), (k, n), (m, n)])
    C[0, 0] = np.nan if not add else C[0, 0]  # C = A^T B overwrites, NaN included
    exact = A.T.astype(np.float64) @ B.astype(np.float64) + (C if add else 0)
    gemm_tn_check(own, A, B, add, C)
    bound = np.abs(A).T.astype(np.float64) @ np.abs(B) * np.finfo(dtype).eps * 4 + np.finfo(dtype).eps * 4
    assert np.all(np.abs(C - exact) <= bound + np.abs(exact) * np.finfo(dtype).eps)


def at_offset(a, offset):
    """A C-contiguous copy of a whose memory starts `offset` bytes past a 64-byte boundary."""
    whole = np.zeros(a.size + 128 // a.itemsize, a.dtype)
    start = ((offset - whole.ctypes.data) % 64) // a.itemsize
    out = whole[start:start + a.size].reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset
    return out


# (n streams, m rows, k1, k2): the benchmarked LSTM step (256 rows of 8 and 64), one row, rows and columns that
# are not a whole number of vectors (R = 4 doubles, 8 floats), k = 1, no second term (k2 = 0), the most streams
# the Stepper gives it (16).
DOTS_SHAPES = [(1, 256, 8, 64), (1, 1, 64, 0), (2, 13, 5, 3), (3, 9, 1, 17), (4, 24, 16, 0), (1, 7, 9, 11),
               (16, 40, 33, 8)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, m, k1, k2", DOTS_SHAPES)
def test_dots(dtype, n, m, k1, k2):
    """fr_dots (the streaming step's products) against NumPy, and the same bits wherever the weights lie: rows
    off a vector's boundary only change which loads straddle cache lines, not the order of the sums."""
    rng = np.random.default_rng(n * 1000 + m)
    W1, x1 = rng.standard_normal((m, k1)).astype(dtype), rng.standard_normal((n, k1)).astype(dtype)
    W2, x2 = (rng.standard_normal((m, k2)).astype(dtype), rng.standard_normal((n, k2)).astype(dtype)) if k2 \
        else (None, None)
    want = x1.astype(np.float64) @ W1.T.astype(np.float64)
    if k2:
        want += x2.astype(np.float64) @ W2.T.astype(np.float64)
    y = np.full((n, m), np.nan, dtype)  # overwritten, never read
    dots_check(W1, x1, W2, x2, y)
    np.testing.assert_allclose(y, want, **tol(dtype))
    for offset in (dtype().itemsize, 16, 32):
        again = np.full((n, m), np.nan, dtype)
        dots_check(at_offset(W1, offset), x1, None if W2 is None else at_offset(W2, offset), x2, again)
        np.testing.assert_array_equal(again, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dots_non_finite_stays_in_its_row(dtype):
    """A NaN or infinite weight makes its own row's sums non-finite, and no other row's (no load runs past a row
    into the next, even for rows that are not a whole number of vectors)."""
    rng = np.random.default_rng(3)
    for k in (8, 9):
        W1, x1 = rng.standard_normal((12, k)).astype(dtype), rng.standard_normal((2, k)).astype(dtype)
        W1[5, -1], W1[6, 0] = np.inf, np.nan
        y = np.empty((2, 12), dtype)
        dots_check(W1, x1, None, None, y)
        assert np.isfinite(np.delete(y, [5, 6], axis=1)).all()
        assert not np.isfinite(y[:, 5:7]).any()


@pytest.mark.parametrize("width", ["16", "32"])
def test_products_and_kernels_on_narrower_vectors(width):
    # The own products and the pointwise passes are compiled for vectors of 64, 32 and 16 bytes, and a process runs
    # the widest its CPU has (src_c/_fastmath.h, fr_vector_bytes): the others run on other CPUs (AVX2, other
    # architectures), the products with strips of their own width. FASTRNN_VECTOR_BYTES makes a process run a
    # narrower one; this file's product checks, the activations' accuracy and the kernels' and streaming step's
    # tests (reference and finite differences, both dtypes) run in such a process, on each narrower width.
    tests = Path(__file__).parent
    env = dict(os.environ, FASTRNN_VECTOR_BYTES=width)
    ask = [sys.executable, "-c", "from fastrnn._blas_check import vector_bytes; print(vector_bytes())"]
    widest = int(subprocess.run(ask, capture_output=True, text=True, check=True).stdout)
    used = int(subprocess.run(ask, env=env, capture_output=True, text=True, check=True).stdout)
    assert widest in (16, 32, 64)
    assert used == min(int(width), widest)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", "not narrower",
                          *(str(tests / name) for name in ("test_blas.py", "test_math.py", "test_kernels.py",
                                                           "test_streaming.py"))],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
