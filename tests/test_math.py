"""The vectorisable activations of src_c/_fastmath.h against extended-precision NumPy: the scalar functions, and
the row functions the kernels call (the copy for this process's vector width: AVX-512, AVX2 or baseline x86-64;
tests/test_blas.py runs this file on each narrower width too)."""
import numpy as np
import pytest

from fastrnn._math_check import (
    act_rows_check,
    all_finite_check,
    sigmoid_check,
    sigmoid_rows_check,
    tanh_check,
)

# Dense in [-50, 50], log-spread from 1e-8 to 1e3, and the edges where the clamps act.
RNG = np.random.default_rng(0)
X = np.concatenate([
    np.linspace(-50, 50, 20001),
    RNG.uniform(-1, 1, 20000) * 10.0 ** RNG.uniform(-8, 3, 20000),
    [0.0, -0.0, 1e-300, -1e-300, 87.0, -87.0, 88.5, -88.5, 700.0, -700.0, 710.0, -710.0, 1e30, -1e30],
])
# Largest error in units in the last place: libm-grade accuracy for both dtypes.
MAX_ULP = {np.float64: {"sigmoid": 2, "tanh": 3}, np.float32: {"sigmoid": 2, "tanh": 2}}


# Row lengths around the vector widths (4, 8, 16 floats; 2, 4, 8 doubles), so that every tail loop runs.
LENGTHS = [0, 1, 3, 7, 8, 15, 16, 17, 33, 100]


def sigmoid_rows(x):
    y = x.copy()
    sigmoid_rows_check(y)
    return y


def tanh_rows(x):
    y = x.copy()
    act_rows_check(y, False)
    return y


def ulp_error(got, exact, dtype):
    exact = exact.astype(dtype)
    spacing = np.spacing(np.abs(exact)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact.astype(np.float64)) / spacing


def assert_accurate(sigmoid, tanh, x):
    dtype = x.dtype.type
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        sig = 1 / (1 + np.exp(-xl))
    tiny = sig < np.finfo(dtype).tiny * 2**30  # below the clamp: an absolute error of one tiny normal is fine
    s, t = sigmoid(x), tanh(x)
    assert s.dtype == t.dtype == dtype
    assert ulp_error(s, sig, dtype)[~tiny].max(initial=0) <= MAX_ULP[dtype]["sigmoid"]
    assert np.abs(s[tiny] - sig[tiny].astype(dtype)).max(initial=0) <= np.finfo(dtype).tiny * 2**30
    assert ulp_error(t, np.tanh(xl), dtype).max(initial=0) <= MAX_ULP[dtype]["tanh"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_accuracy(dtype):
    assert_accurate(sigmoid_check, tanh_check, X.astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_accuracy(dtype):
    x = X.astype(dtype)
    assert_accurate(sigmoid_rows, tanh_rows, x)
    # Every tail length, from aligned and unaligned starts, writing only its own row.
    shuffled = np.random.default_rng(1).permutation(x)
    for n in LENGTHS:
        for start in (0, 1, 5, 1000):
            assert_accurate(sigmoid_rows, tanh_rows, shuffled[start : start + n])
            buf = shuffled[: start + n + 20].copy()
            sigmoid_rows_check(buf[start : start + n])
            assert np.array_equal(buf[:start], shuffled[:start])
            assert np.array_equal(buf[start + n :], shuffled[start + n : start + n + 20])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)
    s, t = sigmoid_check(x), tanh_check(x)
    assert np.isnan(s[0]) and np.isnan(t[0])
    assert s[1] == 1 and s[2] < 1e-30 and s[3] == 0.5 and s[4] == 0.5
    assert t[1] == 1 and t[2] == -1 and t[3] == 0 and t[4] == 0
    assert s.dtype == t.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", LENGTHS[1:])
def test_rows_special_values(dtype, n):
    big = np.finfo(dtype).max
    rng = np.random.default_rng(n)
    specials = np.array([np.inf, -np.inf, big, -big, 1e30, -1e30, 0.0, -0.0], dtype=dtype)
    for k in range(n):  # a NaN at every position, a saturating value at all the others
        x = specials[rng.integers(len(specials), size=n)]
        x[k] = np.nan
        s, t, r = sigmoid_rows(x), tanh_rows(x), x.copy()
        act_rows_check(r, True)
        assert np.isnan(s[k]) and np.isnan(t[k]) and np.isnan(r[k])
        keep = np.arange(n) != k
        xk, sk, tk, rk = x[keep], s[keep], t[keep], r[keep]
        assert np.all(sk[xk >= 1e30] == 1) and np.all((sk[xk <= -1e30] >= 0) & (sk[xk <= -1e30] < 1e-30))
        assert np.all(sk[xk == 0] == 0.5)
        assert np.all(tk[xk >= 1e30] == 1) and np.all(tk[xk <= -1e30] == -1)
        assert np.array_equal(np.signbit(tk[xk == 0]), np.signbit(xk[xk == 0]))  # tanh(-0) = -0
        assert np.array_equal(rk, np.maximum(xk, 0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite(dtype):
    big = np.finfo(dtype).max
    for n in LENGTHS:
        x = np.full(n, big, dtype=dtype)  # sums to inf, yet every value is finite
        x[::2] = -np.finfo(dtype).tiny
        assert all_finite_check(x)
        for k in range(n):
            for bad in (np.nan, np.inf, -np.inf):
                y = x.copy()
                y[k] = bad
                assert not all_finite_check(y)
