"""Tests for fastrnn._optimizers."""

import math
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastrnn._optimizers import AdamOptimizer, SGDOptimizer, clip_grad_norm

P0 = np.array([1.0, -2.0, 0.5, 3.0])
G1 = np.array([0.3, -1.0, 2.0, 0.0])
G2 = np.array([-0.5, 0.25, 1.0, 4.0])


def test_adam_first_step_by_hand():
    params = P0.copy()
    optimizer = AdamOptimizer(params, learning_rate_init=0.01)
    optimizer.update_params(params, G1)
    m = 0.1 * G1
    v = 0.001 * G1**2
    lr = 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9)
    assert_allclose(params, P0 - lr * m / (np.sqrt(v) + 1e-8), rtol=1e-12)
    assert optimizer.t == 1
    assert optimizer.learning_rate == pytest.approx(lr)


def test_adam_two_steps_by_hand():
    b1, b2, eps, lr0 = 0.8, 0.99, 1e-3, 0.1
    params = P0.copy()
    optimizer = AdamOptimizer(params, lr0, beta_1=b1, beta_2=b2, epsilon=eps)
    optimizer.update_params(params, G1)
    optimizer.update_params(params, G2)
    expected = P0.copy()
    m = v = np.zeros(4)
    for t, g in enumerate([G1, G2], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        # The textbook update; the optimizer folds the bias corrections into
        # the learning rate, which moves epsilon by a factor sqrt(1 - b2**t).
        expected = expected - lr0 * m_hat / (
            np.sqrt(v_hat) + eps / math.sqrt(1 - b2**t)
        )
    assert_allclose(params, expected, rtol=1e-12)
    assert_allclose(optimizer.m, m)
    assert_allclose(optimizer.v, v)


def test_sgd_nesterov_two_steps_by_hand():
    lr, mu = 0.1, 0.9
    params = P0.copy()
    optimizer = SGDOptimizer(params, learning_rate_init=lr, momentum=mu, nesterov=True)
    optimizer.update_params(params, G1)
    optimizer.update_params(params, G2)
    v1 = -lr * G1
    p1 = P0 + mu * v1 - lr * G1
    v2 = mu * v1 - lr * G2
    p2 = p1 + mu * v2 - lr * G2
    assert_allclose(params, p2, rtol=1e-12)
    assert_allclose(optimizer.velocity, v2, rtol=1e-12)


def test_sgd_classical_momentum_two_steps_by_hand():
    lr, mu = 0.05, 0.5
    params = P0.copy()
    optimizer = SGDOptimizer(params, learning_rate_init=lr, momentum=mu, nesterov=False)
    optimizer.update_params(params, G1)
    optimizer.update_params(params, G2)
    v1 = -lr * G1
    v2 = mu * v1 - lr * G2
    assert_allclose(params, P0 + v1 + v2, rtol=1e-12)


def test_sgd_without_momentum_is_gradient_descent():
    params = P0.copy()
    SGDOptimizer(params, learning_rate_init=0.2, momentum=0.0).update_params(params, G1)
    assert_allclose(params, P0 - 0.2 * G1, rtol=1e-12)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: SGDOptimizer(p),
        lambda p: SGDOptimizer(p, nesterov=False),
        AdamOptimizer,
    ],
    ids=["nesterov", "momentum", "adam"],
)
def test_update_is_in_place(make_optimizer):
    buffer = P0.copy()
    view = buffer[1:3]  # a layer's weights are views of the flat buffer
    optimizer = make_optimizer(buffer)
    optimizer.update_params(buffer, G1)
    assert not np.array_equal(buffer, P0)
    assert_array_equal(view, buffer[1:3])


@pytest.mark.parametrize(
    "make_optimizer, state",
    [
        (lambda p: SGDOptimizer(p, nesterov=True), ["velocity"]),
        (lambda p: SGDOptimizer(p, nesterov=False), ["velocity"]),
        (lambda p: AdamOptimizer(p, learning_rate_init=np.float64(0.01)), ["m", "v"]),
    ],
    ids=["nesterov", "momentum", "adam"],
)
def test_float32_is_preserved(make_optimizer, state):
    params32 = P0.astype(np.float32)
    params64 = P0.copy()
    optimizer32, optimizer64 = make_optimizer(params32), make_optimizer(params64)
    for g in (G1, G2):
        optimizer32.update_params(params32, g.astype(np.float32))
        optimizer64.update_params(params64, g)
    assert params32.dtype == np.float32
    for name in state:
        assert getattr(optimizer32, name).dtype == np.float32
    assert_allclose(params32, params64, rtol=1e-5)


def test_invscaling_schedule():
    optimizer = SGDOptimizer(
        P0.copy(), learning_rate_init=0.3, lr_schedule="invscaling", power_t=0.25
    )
    optimizer.iteration_ends(15)
    assert optimizer.learning_rate == pytest.approx(0.3 / 16**0.25)
    optimizer.iteration_ends(80)
    assert optimizer.learning_rate == pytest.approx(0.3 / 81**0.25)


@pytest.mark.parametrize("lr_schedule", ["constant", "adaptive"])
def test_other_schedules_keep_rate_at_epoch_end(lr_schedule):
    optimizer = SGDOptimizer(P0.copy(), learning_rate_init=0.3, lr_schedule=lr_schedule)
    optimizer.iteration_ends(100)
    assert optimizer.learning_rate == 0.3


def test_adaptive_schedule_divides_by_five_then_stops(capsys):
    optimizer = SGDOptimizer(P0.copy(), learning_rate_init=0.1, lr_schedule="adaptive")
    rates = []
    while not optimizer.trigger_stopping("No improvement.", verbose=True):
        rates.append(optimizer.learning_rate)
    # 0.1 / 5**8 = 2.56e-7 is the first rate at most 1e-6.
    assert_allclose(rates, [0.1 / 5**k for k in range(1, 9)])
    out = capsys.readouterr().out
    assert out.count("No improvement. Setting learning rate to") == 8
    assert out.endswith("No improvement. Learning rate too small. Stopping.\n")


@pytest.mark.parametrize(
    "optimizer",
    [SGDOptimizer(P0.copy(), lr_schedule="constant"), AdamOptimizer(P0.copy())],
    ids=["sgd", "adam"],
)
def test_non_adaptive_optimizers_stop_at_once(optimizer, capsys):
    assert optimizer.trigger_stopping("Converged.", verbose=False)
    assert capsys.readouterr().out == ""
    assert optimizer.trigger_stopping("Converged.", verbose=True)
    assert capsys.readouterr().out == "Converged. Stopping.\n"


def test_adam_epoch_end_changes_nothing():
    optimizer = AdamOptimizer(P0.copy(), learning_rate_init=0.01)
    optimizer.iteration_ends(10)
    assert optimizer.learning_rate == 0.01


def test_invalid_lr_schedule():
    msg = (
        "lr_schedule must be one of ('constant', 'invscaling', 'adaptive'); "
        "got 'cosine'."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        SGDOptimizer(P0.copy(), lr_schedule="cosine")


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: SGDOptimizer(p, learning_rate_init=0.05),
        lambda p: SGDOptimizer(p, learning_rate_init=0.05, nesterov=False),
        lambda p: AdamOptimizer(p, learning_rate_init=0.05),
    ],
    ids=["nesterov", "momentum", "adam"],
)
def test_minimises_a_quadratic(make_optimizer):
    # f(x) = x^T A x / 2 - b^T x, minimised at A^-1 b; A is ill-conditioned
    # enough that momentum matters.
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    A = Q @ np.diag(np.linspace(0.5, 10.0, 6)) @ Q.T
    b = rng.normal(size=6)
    params = np.zeros(6)
    optimizer = make_optimizer(params)
    for _ in range(2000):
        optimizer.update_params(params, A @ params - b)
    assert_allclose(params, np.linalg.solve(A, b), atol=1e-4)


def test_clip_grad_norm_scales_to_max_norm():
    grads = np.array([3.0, 4.0])
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    assert_allclose(grads, [0.6, 0.8])
    assert np.linalg.norm(grads) == pytest.approx(1.0)


@pytest.mark.parametrize("max_norm", [5.0, 10.0, None, np.inf])
def test_clip_grad_norm_leaves_small_gradients(max_norm):
    grads = np.array([3.0, 4.0])
    assert clip_grad_norm(grads, max_norm) == pytest.approx(5.0)
    assert_array_equal(grads, [3.0, 4.0])


def test_clip_grad_norm_float32_in_place():
    grads = np.array([30.0, 40.0], dtype=np.float32)
    view = grads[:1]
    norm = clip_grad_norm(grads, 5.0)
    assert isinstance(norm, float)
    assert norm == pytest.approx(50.0)
    assert grads.dtype == np.float32
    assert_allclose(view, [3.0], rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_non_finite_is_returned_untouched(bad):
    grads = np.array([1.0, bad])
    norm = clip_grad_norm(grads, 1.0)
    assert not np.isfinite(norm)
    assert grads[0] == 1.0


@pytest.mark.parametrize("max_norm", [0.0, -1.0, np.nan])
def test_clip_grad_norm_invalid_max_norm(max_norm):
    msg = f"max_norm must be a positive float or None; got {max_norm!r}."
    with pytest.raises(ValueError, match=re.escape(msg)):
        clip_grad_norm(np.ones(2), max_norm)
