"""The network composition (stacking, directions, dropout, pooling, head, losses) against finite differences."""
import numpy as np
import pytest

from fastrnn._network import Network
from fastrnn._sequences import pack, pad

LENGTHS = [5, 2, 5, 1, 3]


def make(cell="gru", out="softmax", n_out=3, seed=0, dtype=np.float64, **kw):
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, 2)).astype(dtype) for n in LENGTHS]
    batch = pack(seqs)
    net = Network(cell, 2, kw.pop("hidden", (4, 3)), n_out, out, dtype=dtype, **kw)
    net.initialize(rng)
    # Nonzero biases and a perturbed forget bias: a gradient bug in any piece must show.
    net.params += 0.1 * rng.standard_normal(net.params.shape)
    B = len(seqs)
    if out == "softmax":
        y = np.eye(n_out)[rng.integers(0, n_out, B)]
    elif out == "logistic":
        y = rng.integers(0, 2, (B, n_out)).astype(float)
    else:
        y = rng.standard_normal((B, n_out))
    w = rng.uniform(0.5, 2, B)
    return net, batch, y.astype(dtype), w.astype(dtype)


def check_gradient(net, batch, y, w, alpha=0.0, dropout_seed=None):
    def loss():
        rng = None if dropout_seed is None else np.random.default_rng(dropout_seed)
        return net.loss_and_grad(batch, y, w, alpha, rng)

    loss()
    analytic = net.grad.copy()
    numeric = np.empty_like(analytic)
    eps = 1e-6
    for k in range(net.params.size):
        old = net.params[k]
        net.params[k] = old + eps
        up = loss()
        net.params[k] = old - eps
        down = loss()
        net.params[k] = old
        numeric[k] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    assert np.abs(analytic).max() > 0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradient_cells_poolings_directions(cell, pooling, bidirectional):
    net, batch, y, w = make(cell, pooling=pooling, bidirectional=bidirectional)
    check_gradient(net, batch, y, w)


@pytest.mark.parametrize("out, n_out", [("softmax", 3), ("logistic", 1), ("logistic", 2), ("identity", 2)])
def test_gradient_losses_head_and_penalty(out, n_out):
    net, batch, y, w = make("lstm", out, n_out, hidden=(3,), dense_sizes=(4, 3))
    check_gradient(net, batch, y, w, alpha=0.3)


def test_gradient_with_dropout_and_relu_rnn():
    net, batch, y, w = make("rnn", "identity", 1, activation="relu", dropout=0.4, hidden=(5, 4, 3))
    check_gradient(net, batch, y, w, dropout_seed=3)


def test_loss_values():
    net, batch, y, w = make("gru", "softmax", 3)
    logits, _ = net.forward(batch)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.sum(w * np.log((p * y).sum(1))) / w.sum()
    assert net.loss(logits, y, w)[0] == pytest.approx(expected, rel=1e-12)
    net, batch, y, w = make("gru", "identity", 2)
    logits, _ = net.forward(batch)
    expected = np.sum(w[:, None] * (logits - y) ** 2) / w.sum() / 2 / 2
    assert net.loss(logits, y, w)[0] == pytest.approx(expected, rel=1e-12)
    net, batch, y, w = make("gru", "logistic", 1)
    logits = np.array([[800.0], [-800.0], [0.0], [1.0], [-1.0]])
    loss, grad = net.loss(logits, y, w)
    assert np.isfinite(loss) and np.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_loss_and_probabilities_match_scipy(dtype):
    # Logits far apart (one probability underflows to 0 and its log must stay finite), tied, huge and tiny.
    from scipy.special import log_softmax, softmax
    logits = np.array([[800.0, -800.0, 0.0], [1.0, 1.0, 1.0], [1e30, 1e30 - 1e15, -1e30], [-3.0, 2.5, 1e-300],
                       [-745.0, 0.0, 745.0]], dtype=dtype)
    net = Network("gru", 2, (3,), 3, "softmax", dtype=dtype)
    y = np.eye(3, dtype=dtype)[[1, 0, 2, 2, 0]]
    w = np.array([1.0, 2.0, 0.5, 1.0, 1.0], dtype=dtype)
    loss, grad = net.loss(logits, y, w)
    weights = (w / w.sum())[:, None]
    np.testing.assert_allclose(loss, -np.sum(weights * y * log_softmax(logits, axis=1)), rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_allclose(grad, weights * (softmax(logits, axis=1) - y), rtol=4 * np.finfo(dtype).eps, atol=0)
    assert np.isfinite(loss) and grad.dtype == dtype
    np.testing.assert_allclose(net.activate(logits), softmax(logits, axis=1), rtol=4 * np.finfo(dtype).eps, atol=0)


def test_predict_returns_original_order_and_matches_single_sequences():
    net, batch, _, _ = make("lstm", "identity", 2, bidirectional=True, pooling="mean")
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in LENGTHS]
    together = net.predict(pack(seqs))
    alone = np.vstack([net.predict(pack([s])) for s in seqs])
    np.testing.assert_allclose(together, alone, rtol=1e-12, atol=1e-14)


def test_pooling_values():
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in LENGTHS]
    batch = pack(seqs)
    for pooling in ["mean", "max", "last"]:
        net = Network("gru", 2, (3,), 1, "identity", pooling=pooling, bidirectional=True)
        net.initialize(rng)
        Y, finals, _, _ = net._recurrent_forward(batch, False, None)
        pooled, _ = net._pool(batch, Y, finals)
        padded = pad(Y, batch, fill=np.nan)[batch.sorted_indices]
        for j, n in enumerate(batch.sorted_lengths):
            if pooling == "mean":
                expected = padded[j, :n].mean(0)
            elif pooling == "max":
                expected = padded[j, :n].max(0)
            else:
                # forward state at the sequence's last step beside the backward state at step 0
                expected = np.concatenate([padded[j, n - 1, :3], padded[j, 0, 3:]])
            np.testing.assert_allclose(pooled[j], expected, rtol=1e-13)


def test_initialization():
    net = Network("lstm", 3, (4, 5), 2, "softmax", bidirectional=True)
    net.initialize(np.random.default_rng(0))
    v = net.views
    assert v["weight_ih_l1_reverse"].shape == (20, 8)
    for g in range(4):
        block = v["weight_hh_l0"][g * 4:(g + 1) * 4]
        np.testing.assert_allclose(block @ block.T, np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(v["bias_ih_l0"], np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    assert not v["bias_hh_l1_reverse"].any()
    bound = np.sqrt(6 / (3 + 16))
    assert np.abs(v["weight_ih_l0"]).max() <= bound


def test_float32_network_stays_float32():
    net, batch, y, w = make("lstm", "softmax", 3, dtype=np.float32, bidirectional=True, pooling="max")
    net.loss_and_grad(batch, y, w, 1e-3)
    assert net.params.dtype == net.grad.dtype == np.float32
    assert net.predict(batch).dtype == np.float32


def test_pickle_keeps_views_tied_to_the_flat_vector():
    import pickle
    net, batch, y, w = make("lstm", "softmax", 3, bidirectional=True, dense_sizes=(3,))
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.predict(batch), net.predict(batch))
    clone.params[:] = 0
    assert not clone.views["weight_hh_l1_reverse"].any() and not clone.views["coef_1"].any()
    assert net.params.any()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("out, n_out", [("softmax", 3), ("logistic", 1), ("identity", 2)])
def test_gradient_per_step_outputs(cell, bidirectional, out, n_out):
    # pooling="steps": one output per packed row, targets and weights per row.
    rng = np.random.default_rng(5)
    seqs = [rng.standard_normal((n, 2)) for n in LENGTHS]
    batch = pack(seqs)
    net = Network(cell, 2, (3, 4), n_out, out, bidirectional=bidirectional, pooling="steps", dense_sizes=(3,))
    net.initialize(rng)
    net.params += 0.1 * rng.standard_normal(net.params.shape)
    P = batch.data.shape[0]
    if out == "softmax":
        y = np.eye(n_out)[rng.integers(0, n_out, P)]
    elif out == "logistic":
        y = rng.integers(0, 2, (P, n_out)).astype(float)
    else:
        y = rng.standard_normal((P, n_out))
    check_gradient(net, batch, y, rng.uniform(0.5, 2, P), alpha=0.1)


def test_per_step_outputs_are_packed_rows_and_causal():
    # A unidirectional per-step output at step t depends on steps <= t only: changing a sequence's last step
    # changes only that step's output.
    rng = np.random.default_rng(6)
    seqs = [rng.standard_normal((n, 2)) for n in LENGTHS]
    net = Network("gru", 2, (4,), 2, "identity", pooling="steps")
    net.initialize(rng)
    out = net.predict(pack(seqs))
    assert out.shape == (sum(LENGTHS), 2)
    changed = [s.copy() for s in seqs]
    changed[0][-1] += 1.0
    out2 = net.predict(pack(changed))
    per_seq, per_seq2 = pad(out, pack(seqs)), pad(out2, pack(changed))
    np.testing.assert_array_equal(per_seq[0, :LENGTHS[0] - 1], per_seq2[0, :LENGTHS[0] - 1])
    assert not np.allclose(per_seq[0, LENGTHS[0] - 1], per_seq2[0, LENGTHS[0] - 1])
    np.testing.assert_array_equal(per_seq[1:], per_seq2[1:])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("pooling", ["last", "steps"])
def test_directions_on_two_threads(cell, pooling, monkeypatch):
    # The two directions of a bidirectional layer at once (fastrnn._threads.direction_lanes), forced here on a
    # small network: the same loss and gradient as one after the other, and finite differences agree.
    from fastrnn import _network

    net, batch, y, w = make(cell, pooling=pooling, bidirectional=True, out="identity", n_out=2)
    if pooling == "steps":
        y = np.random.default_rng(1).standard_normal((batch.data.shape[0], 2))
        w = np.ones(batch.data.shape[0])
    loss = net.loss_and_grad(batch, y, w)
    grad = net.grad.copy()
    monkeypatch.setattr(_network, "direction_lanes", lambda *args: 2)
    # Up to rounding: a lane runs BLAS on one thread, where the backward's products may take another path.
    np.testing.assert_allclose(net.loss_and_grad(batch, y, w), loss, rtol=1e-13)
    np.testing.assert_allclose(net.grad, grad, rtol=1e-11, atol=1e-14)
    check_gradient(net, batch, y, w)


def test_one_long_bidirectional_sequence_on_two_threads():
    from threadpoolctl import threadpool_limits

    from fastrnn import _threads

    rng = np.random.default_rng(2)
    batch = pack([rng.standard_normal((3000, 8))])
    net = Network("lstm", 8, (64,), 1, "identity", bidirectional=True)
    net.initialize(rng)
    y, w = np.ones((1, 1)), np.ones(1)
    with threadpool_limits(1, "blas"):
        assert _threads.direction_lanes(2, 1, 3000, 4, 64, 8, 8) == 1
        loss = net.loss_and_grad(batch, y, w)
        grad = net.grad.copy()
    with threadpool_limits(2, "blas"):
        assert _threads.direction_lanes(2, 1, 3000, 4, 64, 8, 8) == 2
        assert net.loss_and_grad(batch, y, w) == loss
        np.testing.assert_array_equal(net.grad, grad)
