"""The vectorisable activations of src_c/_fastmath.h against extended-precision NumPy."""
import numpy as np
import pytest

from fastrnn._math_check import sigmoid_check, tanh_check

# Dense in [-50, 50], log-spread from 1e-8 to 1e3, and the edges where the clamps act.
RNG = np.random.default_rng(0)
X = np.concatenate([
    np.linspace(-50, 50, 20001),
    RNG.uniform(-1, 1, 20000) * 10.0 ** RNG.uniform(-8, 3, 20000),
    [0.0, -0.0, 1e-300, -1e-300, 87.0, -87.0, 88.5, -88.5, 700.0, -700.0, 710.0, -710.0, 1e30, -1e30],
])
# Largest error in units in the last place: libm-grade accuracy for both dtypes.
MAX_ULP = {np.float64: {"sigmoid": 2, "tanh": 3}, np.float32: {"sigmoid": 2, "tanh": 2}}


def ulp_error(got, exact, dtype):
    exact = exact.astype(dtype)
    spacing = np.spacing(np.abs(exact)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact.astype(np.float64)) / spacing


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_accuracy(dtype):
    x = X.astype(dtype)
    xl = x.astype(np.longdouble)
    with np.errstate(over="ignore"):
        sig = 1 / (1 + np.exp(-xl))
    tiny = sig < np.finfo(dtype).tiny * 2**30  # below the clamp: an absolute error of one tiny normal is fine
    assert ulp_error(sigmoid_check(x), sig, dtype)[~tiny].max() <= MAX_ULP[dtype]["sigmoid"]
    assert np.abs(sigmoid_check(x)[tiny] - sig[tiny].astype(dtype)).max() <= np.finfo(dtype).tiny * 2**30
    assert ulp_error(tanh_check(x), np.tanh(xl), dtype).max() <= MAX_ULP[dtype]["tanh"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)
    s, t = sigmoid_check(x), tanh_check(x)
    assert np.isnan(s[0]) and np.isnan(t[0])
    assert s[1] == 1 and s[2] < 1e-30 and s[3] == 0.5 and s[4] == 0.5
    assert t[1] == 1 and t[2] == -1 and t[3] == 0 and t[4] == 0
    assert s.dtype == t.dtype == dtype
