"""Tests of the NumPy oracle in ``tests/reference.py`` itself.

The oracle is checked three independent ways: its backward against float64 central
differences of its own forward, its packing against hand-worked examples and the
definition, and (when PyTorch is installed) its forward and backward against
``torch.nn.LSTM/GRU/RNN`` on packed ragged batches.
"""

import os
import sys

import numpy as np
import pytest

try:
    import reference as ref
except ImportError:  # tests/ imported as a package or with --import-mode=importlib
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference as ref


CELLS = [("lstm", None), ("gru", None), ("rnn", "tanh"), ("rnn", "relu")]
CELL_IDS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
INPUT_NAMES = ["X", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0", "c0"]


# ---------------------------------------------------------------------------------------
# Helpers: one interface over the three cells
# ---------------------------------------------------------------------------------------


def forward(cell, act, inp, batch_sizes, reverse):
    """Run the oracle on a dict of inputs; returns ``(Y, hn, cn or None, cache)``."""
    args = (inp["X"], batch_sizes, inp["weight_ih"], inp["weight_hh"], inp["bias_ih"], inp["bias_hh"], inp["h0"])
    if cell == "lstm":
        return ref.lstm_forward(*args, inp["c0"], reverse=reverse)
    if cell == "gru":
        Y, hn, cache = ref.gru_forward(*args, reverse=reverse)
    else:
        Y, hn, cache = ref.rnn_forward(*args, reverse=reverse, activation=act)
    return Y, hn, None, cache


def backward(cell, cache, dY, dhn, dcn):
    if cell == "lstm":
        return ref.lstm_backward(cache, dY, dhn, dcn)
    if cell == "gru":
        return ref.gru_backward(cache, dY, dhn)
    return ref.rnn_backward(cache, dY, dhn)


def make_problem(cell, act, lengths, F, H, seed, reverse=False):
    """Random ragged batch, parameters, initial states and output gradients.

    For ReLU, inputs are re-drawn until every pre-activation is at least 1e-3 away from
    the kink, so that a 1e-6 finite-difference step can never cross it, and every step
    has a live unit, so that gradients reach every input (no vacuous all-zero check).
    """
    rng = np.random.default_rng(seed)
    B = len(lengths)
    for _ in range(200):
        seqs = [rng.standard_normal((L, F)) for L in lengths]
        X, batch_sizes, order = ref.pack(seqs)
        inp = dict(X=X, **ref.random_params(cell, F, H, rng))
        inp["h0"] = rng.uniform(-1, 1, (B, H))
        inp["c0"] = rng.uniform(-1, 1, (B, H)) if cell == "lstm" else None
        if act != "relu":
            break
        cache = forward(cell, act, inp, batch_sizes, reverse)[3]
        if relu_ok(cache):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not draw a ReLU problem away from the kink")
    P = X.shape[0]
    dY = rng.standard_normal((P, H))
    dhn = rng.standard_normal((B, H))
    dcn = rng.standard_normal((B, H)) if cell == "lstm" else None
    return inp, batch_sizes, order, seqs, dY, dhn, dcn


def relu_ok(cache):
    A = cache["A"]  # the oracle's stashed pre-activations, one row per packed step
    return np.min(np.abs(A)) > 1e-3 and np.all(np.any(A > 0, axis=1))


def loss(cell, act, inp, batch_sizes, reverse, dY, dhn, dcn):
    Y, hn, cn, _ = forward(cell, act, inp, batch_sizes, reverse)
    value = np.sum(dY * Y) + np.sum(dhn * hn)
    if cn is not None:
        value += np.sum(dcn * cn)
    return value


def central_difference(f, arr, eps=1e-6):
    """Central-difference gradient of the scalar ``f()`` w.r.t. ``arr`` (perturbed in place)."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(*arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        up = f()
        arr[idx] = orig - eps
        down = f()
        arr[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


# ---------------------------------------------------------------------------------------
# Backward against finite differences
# ---------------------------------------------------------------------------------------

# (lengths in original order, F, H): B=1, T=1, F=1, odd H, ties, ragged, equal lengths.
GRAD_SHAPES = [
    ([1], 1, 3),
    ([4], 2, 3),
    ([1, 1, 1], 2, 5),
    ([3, 1, 3, 2], 1, 5),
    ([2, 4, 4, 1, 2], 3, 2),
    ([3, 3], 2, 1),
]

GRAD_IDS = [f"L{'-'.join(map(str, lengths))}_F{F}_H{H}" for lengths, F, H in GRAD_SHAPES]


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("lengths,F,H", GRAD_SHAPES, ids=GRAD_IDS)
@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_backward_matches_central_differences(cell, act, lengths, F, H, reverse):
    inp, batch_sizes, _, _, dY, dhn, dcn = make_problem(
        cell, act, lengths, F, H, seed=sum(lengths) * 100 + F * 10 + H, reverse=reverse
    )
    _, _, _, cache = forward(cell, act, inp, batch_sizes, reverse)
    grads = backward(cell, cache, dY, dhn, dcn)

    names = [n for n in INPUT_NAMES if inp[n] is not None]
    assert sorted(grads) == sorted(names)
    for name in names:
        assert grads[name].shape == inp[name].shape, name
        assert grads[name].dtype == np.float64, name
        numeric = central_difference(lambda: loss(cell, act, inp, batch_sizes, reverse, dY, dhn, dcn), inp[name])
        scale = np.max(np.abs(numeric))
        assert scale > 0, f"{name}: gradient identically zero, the check would be vacuous"
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-7 * scale, err_msg=name)


# ---------------------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------------------


def test_pack_hand_worked_example():
    # Sequence k has values 100*k + t, one feature; lengths 2, 4, 4, 1.
    seqs = [100 * k + np.arange(L, dtype=float)[:, None] for k, L in enumerate([2, 4, 4, 1])]
    X, batch_sizes, order = ref.pack(seqs)
    np.testing.assert_array_equal(order, [1, 2, 0, 3])
    assert batch_sizes.dtype == np.intp
    np.testing.assert_array_equal(batch_sizes, [4, 3, 2, 2])
    np.testing.assert_array_equal(
        X[:, 0], [100, 200, 0, 300, 101, 201, 1, 102, 202, 103, 203]
    )
    np.testing.assert_array_equal(ref.packed_offsets(batch_sizes), [0, 4, 7, 9])
    np.testing.assert_array_equal(ref.packed_lengths(batch_sizes), [4, 4, 2, 1])


def test_pack_ties_keep_original_order():
    seqs = [np.full((L, 1), k, dtype=float) for k, L in enumerate([2, 3, 2, 3, 1, 3])]
    X, batch_sizes, order = ref.pack(seqs)
    np.testing.assert_array_equal(order, [1, 3, 5, 0, 2, 4])
    np.testing.assert_array_equal(batch_sizes, [6, 5, 3])
    # step 0 holds every sequence in sorted order, step 2 only the three of length 3
    np.testing.assert_array_equal(X[:6, 0], [1, 3, 5, 0, 2, 4])
    np.testing.assert_array_equal(X[11:, 0], [1, 3, 5])


@pytest.mark.parametrize("seed", range(8))
def test_pack_unpack_round_trip(seed):
    rng = np.random.default_rng(seed)
    B = int(rng.integers(1, 8))
    F = int(rng.integers(1, 4))
    lengths = rng.integers(1, 6, size=B)
    seqs = [rng.standard_normal((L, F)) for L in lengths]
    X, batch_sizes, order = ref.pack(seqs)

    T = lengths.max()
    assert X.shape == (lengths.sum(), F)
    np.testing.assert_array_equal(batch_sizes, [np.count_nonzero(lengths > t) for t in range(T)])
    # descending lengths, ties in increasing original index, a permutation
    np.testing.assert_array_equal(np.sort(order), np.arange(B))
    for a, b in zip(order[:-1], order[1:]):
        assert lengths[a] > lengths[b] or (lengths[a] == lengths[b] and a < b)
    # every packed row is where the layout says: row offsets[t] + j is step t of sorted sequence j
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    np.testing.assert_array_equal(ref.packed_offsets(batch_sizes), offsets)
    for t in range(T):
        for j in range(batch_sizes[t]):
            np.testing.assert_array_equal(X[offsets[t] + j], seqs[order[j]][t])
    # round trip, including a packed array of another width
    back = ref.unpack(X, batch_sizes)
    assert len(back) == B
    for j in range(B):
        np.testing.assert_array_equal(back[j], seqs[order[j]])
    wide = np.arange(X.shape[0] * 7.0).reshape(-1, 7)
    assert [u.shape for u in ref.unpack(wide, batch_sizes)] == [(lengths[k], 7) for k in order]


def test_pack_keeps_float32():
    seqs = [np.ones((3, 2), np.float32), np.ones((1, 2), np.float32)]
    X, _, _ = ref.pack(seqs)
    assert X.dtype == np.float32


@pytest.mark.parametrize(
    "seqs",
    [[], [np.zeros((0, 2))], [np.zeros((2, 2)), np.zeros((2, 3))], [np.zeros(4)]],
    ids=["empty", "zero_length", "mismatched_F", "one_d"],
)
def test_pack_rejects_bad_input(seqs):
    with pytest.raises(ValueError):
        ref.pack(seqs)


# ---------------------------------------------------------------------------------------
# Parameters, dtypes, numerical safety
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,G", [("lstm", 4), ("gru", 3), ("rnn", 1)])
def test_random_params_shapes_and_range(cell, G):
    F, H = 3, 7
    p = ref.random_params(cell, F, H, np.random.default_rng(0), dtype=np.float32)
    assert p["weight_ih"].shape == (G * H, F)
    assert p["weight_hh"].shape == (G * H, H)
    assert p["bias_ih"].shape == p["bias_hh"].shape == (G * H,)
    k = 1 / np.sqrt(H)
    allv = np.concatenate([v.ravel() for v in p.values()])
    assert all(v.dtype == np.float32 for v in p.values())
    assert np.all(np.abs(allv) <= k)
    assert np.max(allv) > 0.8 * k and np.min(allv) < -0.8 * k
    q = ref.random_params(cell, F, H, np.random.default_rng(0), dtype=np.float32)
    assert all(np.array_equal(p[n], q[n]) for n in p)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_float32_in_float32_out(cell, act, reverse):
    inp, batch_sizes, _, _, dY, dhn, dcn = make_problem(cell, act, [3, 1, 3, 2], 2, 5, seed=7, reverse=reverse)
    Y64, hn64, cn64, cache64 = forward(cell, act, inp, batch_sizes, reverse)
    g64 = backward(cell, cache64, dY, dhn, dcn)
    inp32 = {n: (None if v is None else v.astype(np.float32)) for n, v in inp.items()}
    Y32, hn32, cn32, cache32 = forward(cell, act, inp32, batch_sizes, reverse)
    g32 = backward(cell, cache32, dY.astype(np.float32), dhn.astype(np.float32),
                   None if dcn is None else dcn.astype(np.float32))
    assert Y32.dtype == hn32.dtype == np.float32
    np.testing.assert_allclose(Y32, Y64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hn32, hn64, rtol=1e-4, atol=1e-5)
    if cell == "lstm":
        assert cn32.dtype == np.float32
        np.testing.assert_allclose(cn32, cn64, rtol=1e-4, atol=1e-5)
    for name, g in g32.items():
        assert g.dtype == np.float32, name
        np.testing.assert_allclose(g, g64[name], rtol=1e-4, atol=1e-4 * np.max(np.abs(g64[name])), err_msg=name)


@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_huge_inputs_do_not_overflow(cell, act):
    inp, batch_sizes, _, _, dY, dhn, dcn = make_problem(cell, "tanh", [3, 2], 2, 3, seed=3)
    inp["X"] = inp["X"] * 1e6
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is harmless
        Y, hn, cn, cache = forward(cell, act, inp, batch_sizes, False)
        grads = backward(cell, cache, dY, dhn, dcn)
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(hn))
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    if act != "relu":
        assert np.all(np.abs(Y) <= 1)


# ---------------------------------------------------------------------------------------
# A ragged batch is just its sequences side by side
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_each_sequence_alone_gives_the_same_result(cell, act, reverse):
    inp, batch_sizes, order, seqs, dY, dhn, dcn = make_problem(
        cell, act, [2, 5, 1, 5, 3], 3, 4, seed=11, reverse=reverse
    )
    Y, hn, cn, cache = forward(cell, act, inp, batch_sizes, reverse)
    grads = backward(cell, cache, dY, dhn, dcn)
    Y_seqs, dY_seqs, dX_seqs = (ref.unpack(a, batch_sizes) for a in (Y, dY, grads["X"]))

    weight_grad_sum = {n: 0 for n in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]}
    for j in range(len(order)):
        X1, bs1, _ = ref.pack([seqs[order[j]]])
        np.testing.assert_array_equal(bs1, np.ones(len(seqs[order[j]]), dtype=np.intp))
        one = dict(inp, X=X1, h0=inp["h0"][j:j + 1], c0=None if cn is None else inp["c0"][j:j + 1])
        Y1, hn1, cn1, cache1 = forward(cell, act, one, bs1, reverse)
        np.testing.assert_allclose(Y1, Y_seqs[j], rtol=1e-13, atol=0)
        np.testing.assert_allclose(hn1[0], hn[j], rtol=1e-13, atol=0)
        g1 = backward(cell, cache1, dY_seqs[j], dhn[j:j + 1], None if dcn is None else dcn[j:j + 1])
        np.testing.assert_allclose(g1["X"], dX_seqs[j], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g1["h0"][0], grads["h0"][j], rtol=1e-12, atol=1e-14)
        if cell == "lstm":
            np.testing.assert_allclose(cn1[0], cn[j], rtol=1e-13, atol=0)
            np.testing.assert_allclose(g1["c0"][0], grads["c0"][j], rtol=1e-12, atol=1e-14)
        for n in weight_grad_sum:
            weight_grad_sum[n] = weight_grad_sum[n] + g1[n]
    for n, total in weight_grad_sum.items():
        np.testing.assert_allclose(total, grads[n], rtol=1e-12, atol=1e-13, err_msg=n)


@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_reverse_equals_forward_on_time_reversed_sequences(cell, act):
    inp, batch_sizes, order, seqs, dY, dhn, dcn = make_problem(cell, act, [2, 5, 1, 5, 3], 3, 4, seed=5, reverse=True)
    Y_rev, hn_rev, cn_rev, _ = forward(cell, act, inp, batch_sizes, True)
    X_flip, bs_flip, order_flip = ref.pack([s[::-1] for s in seqs])
    np.testing.assert_array_equal(order_flip, order)
    Y_f, hn_f, cn_f, _ = forward(cell, act, dict(inp, X=X_flip), bs_flip, False)
    for a, b in zip(ref.unpack(Y_rev, batch_sizes), ref.unpack(Y_f, bs_flip)):
        np.testing.assert_allclose(a, b[::-1], rtol=1e-13, atol=0)
    np.testing.assert_allclose(hn_rev, hn_f, rtol=1e-13, atol=0)
    if cell == "lstm":
        np.testing.assert_allclose(cn_rev, cn_f, rtol=1e-13, atol=0)


# ---------------------------------------------------------------------------------------
# Against PyTorch (optional)
# ---------------------------------------------------------------------------------------

def import_torch():
    """``pytest.importorskip("torch")`` that also skips on a broken install.

    Since pytest 8.2 ``importorskip`` only skips on ``ModuleNotFoundError``; any
    ``ImportError`` (torch absent, or present but unloadable) should skip these
    optional tests, not fail them.
    """
    try:
        import torch
    except ImportError as exc:
        pytest.skip(f"torch not importable: {exc}")
    return torch


TORCH_LENGTHS = [[3, 5, 1, 5, 3, 2], [4, 4, 4], [1]]


def _torch_module(torch, cell, act, F, H, bidirectional, params):
    if cell == "lstm":
        m = torch.nn.LSTM(F, H, bidirectional=bidirectional, dtype=torch.float64)
    elif cell == "gru":
        m = torch.nn.GRU(F, H, bidirectional=bidirectional, dtype=torch.float64)
    else:
        m = torch.nn.RNN(F, H, nonlinearity=act, bidirectional=bidirectional, dtype=torch.float64)
    with torch.no_grad():
        for d, p in enumerate(params):
            suffix = "_reverse" if d == 1 else ""
            for name, value in p.items():
                getattr(m, f"{name}_l0{suffix}").copy_(torch.from_numpy(value))
    return m


def _assert_rel(actual, expected, rtol=1e-12, err_msg=""):
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(np.max(np.abs(expected)), 1e-300),
                               err_msg=err_msg)


@pytest.mark.parametrize("lengths", TORCH_LENGTHS, ids=["ragged_ties", "equal", "single"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell,act", CELLS, ids=CELL_IDS)
def test_matches_torch(cell, act, bidirectional, lengths):
    torch = import_torch()
    from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence, pad_sequence

    F, H = 3, 5
    D = 2 if bidirectional else 1
    B = len(lengths)
    rng = np.random.default_rng(1234 + 10 * len(lengths) + D)
    for _ in range(200):  # for ReLU keep every pre-activation away from the kink
        params = [ref.random_params(cell, F, H, rng) for _ in range(D)]
        seqs = [rng.standard_normal((L, F)) for L in lengths]  # original order
        h0 = rng.uniform(-1, 1, (D, B, H))  # torch layout: original batch order
        c0 = rng.uniform(-1, 1, (D, B, H))
        X, batch_sizes, order = ref.pack(seqs)
        oracle = []
        for d in range(D):
            inp = dict(X=X, **params[d], h0=h0[d][order], c0=c0[d][order] if cell == "lstm" else None)
            oracle.append(forward(cell, act, inp, batch_sizes, reverse=(d == 1)))
        if act != "relu" or all(relu_ok(o[3]) for o in oracle):
            break
    else:  # pragma: no cover
        raise RuntimeError("could not draw a ReLU problem away from the kink")
    dY_seqs = [rng.standard_normal((L, D * H)) for L in lengths]  # original order
    dhn = rng.standard_normal((D, B, H))
    dcn = rng.standard_normal((D, B, H))

    # --- torch -----------------------------------------------------------------------
    m = _torch_module(torch, cell, act, F, H, bidirectional, params)
    xs = [torch.tensor(s, requires_grad=True) for s in seqs]
    h0_t = torch.tensor(h0, requires_grad=True)
    c0_t = torch.tensor(c0, requires_grad=True)
    packed = pack_sequence(xs, enforce_sorted=False)
    if cell == "lstm":
        out, (hn_t, cn_t) = m(packed, (h0_t, c0_t))
    else:
        out, hn_t = m(packed, h0_t)
    padded, out_lengths = pad_packed_sequence(out)  # (T, B, D*H), original batch order
    np.testing.assert_array_equal(out_lengths.numpy(), lengths)
    L_t = (padded * pad_sequence([torch.from_numpy(g) for g in dY_seqs])).sum() + (hn_t * torch.from_numpy(dhn)).sum()
    if cell == "lstm":
        L_t = L_t + (cn_t * torch.from_numpy(dcn)).sum()
    L_t.backward()
    padded = padded.detach().numpy()

    # --- compare per direction and per original sequence ---------------------------------
    dY_packed, _, _ = ref.pack(dY_seqs)
    dX_oracle = 0
    for d in range(D):
        Y, hn, cn, cache = oracle[d]
        Y_seqs = ref.unpack(Y, batch_sizes)
        for j, k in enumerate(order):
            _assert_rel(Y_seqs[j], padded[: lengths[k], k, d * H:(d + 1) * H], err_msg=f"Y dir {d} seq {k}")
        _assert_rel(hn, hn_t.detach().numpy()[d][order], err_msg=f"hn dir {d}")
        if cell == "lstm":
            _assert_rel(cn, cn_t.detach().numpy()[d][order], err_msg=f"cn dir {d}")

        grads = backward(cell, cache, dY_packed[:, d * H:(d + 1) * H], dhn[d][order], dcn[d][order])
        suffix = "_reverse" if d == 1 else ""
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            _assert_rel(grads[name], getattr(m, f"{name}_l0{suffix}").grad.numpy(), err_msg=f"{name}{suffix}")
        _assert_rel(grads["h0"], h0_t.grad.numpy()[d][order], err_msg=f"h0 dir {d}")
        if cell == "lstm":
            _assert_rel(grads["c0"], c0_t.grad.numpy()[d][order], err_msg=f"c0 dir {d}")
        dX_oracle = dX_oracle + grads["X"]
    for j, dx in enumerate(ref.unpack(dX_oracle, batch_sizes)):
        _assert_rel(dx, xs[order[j]].grad.numpy(), err_msg=f"X seq {order[j]}")
