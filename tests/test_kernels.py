"""The compiled kernels (through fastrnn._cells) against the NumPy oracle, finite differences and PyTorch."""
import threading
import time

import numpy as np
import pytest

import reference as ref
from fastrnn import _cells, _gru, _lstm

# A cell id is the cell, with "_relu" for activation="relu" (tanh otherwise).
CELLS = ["lstm", "gru", "rnn", "lstm_relu", "gru_relu", "rnn_relu"]
TORCH_CELLS = ["lstm", "gru", "rnn", "rnn_relu"]  # what torch.nn has
DTYPES = [np.float32, np.float64]
# (lengths, F, H): B = 1, T = 1, F = 1, odd H, ragged lengths with ties, equal lengths.
SHAPES = [
    ([1], 1, 1),
    ([6], 2, 3),
    ([1, 1, 1], 4, 3),
    ([5, 3, 3, 1], 3, 5),
    ([7, 7, 7], 2, 4),
    ([9, 4, 4, 2, 1], 1, 7),
    ([2, 8, 3, 8], 5, 2),
    # The cells' pointwise passes (lstm.h, gru.h) take another path from one vector of units on (H >= 16 in
    # float32, 8 in float64): these H reach it in both dtypes, with a part vector at the end.
    ([5, 3, 2], 3, 17),
    ([4, 4, 1], 2, 33),
    # With a vector's worth of rows' last units (7 of 23 in both dtypes), the LSTM's and GRU's passes gather them
    # into vectors of their own, 9 rows at a time; the RNN's inference runs 16 rows at a time as one flat loop
    # (_cells.TILED_ROWS). 20 ragged sequences take three gathers and two flat loops at the first steps.
    ([9, 9, 9, 8, 8, 7, 7, 7, 6, 5, 5, 5, 4, 3, 3, 2, 2, 2, 1, 1], 3, 23),
]
REVERSE = [False, True]


def parts(cell_id):
    """'gru_relu' -> ('gru', 'relu'); 'lstm' -> ('lstm', 'tanh')."""
    cell, _, activation = cell_id.partition("_")
    return cell, activation or "tanh"


def forward(cell_id, *args, **kwargs):
    cell, activation = parts(cell_id)
    return _cells.forward(cell, *args, activation=activation, **kwargs)


def tolerance(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=2e-5)


def oracle_forward(cell, X, bs, weights, h0, c0, reverse):
    """The oracle's forward for a kernel cell name: (Y, hn, cn or None, cache)."""
    cell, activation = parts(cell)
    if parts(cell)[0] == "lstm":
        return ref.lstm_forward(X, bs, *weights, h0, c0, reverse=reverse, activation=activation)
    if cell == "gru":
        Y, hn, cache = ref.gru_forward(X, bs, *weights, h0, reverse=reverse, activation=activation)
    else:
        Y, hn, cache = ref.rnn_forward(X, bs, *weights, h0, reverse=reverse, activation=activation)
    return Y, hn, None, cache


def problem(cell, lengths, F, H, dtype, seed=0):
    """Random packed inputs, weights, initial states and upstream gradients for one layer."""
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, F)) for n in lengths]
    X, bs, _ = ref.pack(seqs)
    base = parts(cell)[0]
    params = ref.random_params(base, F, H, rng)
    weights = tuple(params[k].astype(dtype) for k in _cells.WEIGHT_NAMES)
    B, P = len(lengths), X.shape[0]
    lstm = base == "lstm"
    p = dict(
        X=X.astype(dtype), bs=bs, weights=weights,
        h0=rng.standard_normal((B, H)).astype(dtype) * 0.5,
        c0=rng.standard_normal((B, H)).astype(dtype) * 0.5 if lstm else None,
        dY=rng.standard_normal((P, H)).astype(dtype),
        dhn=rng.standard_normal((B, H)).astype(dtype),
        dcn=rng.standard_normal((B, H)).astype(dtype) if lstm else None,
    )
    return p


def run_oracle(cell, p, reverse):
    """The oracle in float64 on the same problem: (Y, hn, cn, dict of gradients)."""
    f64 = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    weights = [f64(w) for w in p["weights"]]
    Y, hn, cn, cache = oracle_forward(cell, f64(p["X"]), p["bs"], weights, f64(p["h0"]), f64(p["c0"]), reverse)
    if parts(cell)[0] == "lstm":
        grads = ref.lstm_backward(cache, f64(p["dY"]), f64(p["dhn"]), f64(p["dcn"]))
    else:
        grads = (ref.gru_backward if parts(cell)[0] == "gru" else ref.rnn_backward)(cache, f64(p["dY"]), f64(p["dhn"]))
    return Y, hn, cn, grads


def train_cache(cell, p, reverse=False):
    """The Cache of a training-mode forward on problem p (a Cache serves one backward)."""
    return forward(cell, p["X"], p["bs"], p["weights"], p["h0"], p["c0"], reverse, training=True)[3]


def run_kernel(cell, p, reverse):
    Y, hn, cn, cache = forward(cell, p["X"], p["bs"], p["weights"], p["h0"], p["c0"], reverse, training=True)
    dX, dh0, dc0, grads = _cells.backward(cache, p["dY"], p["dhn"], p["dcn"])
    grads = dict(X=dX, h0=dh0, **dict(zip(_cells.WEIGHT_NAMES, grads)))
    if parts(cell)[0] == "lstm":
        grads["c0"] = dc0
    return Y, hn, cn, grads


def assert_matches_oracle(cell, p, reverse, dtype):
    """Outputs, final states and every gradient of the kernels on problem p agree with the oracle's."""
    Y, hn, cn, grads = run_kernel(cell, p, reverse)
    Y_ref, hn_ref, cn_ref, grads_ref = run_oracle(cell, p, reverse)
    tol = tolerance(dtype)
    for got in (Y, hn, *grads.values()):
        assert got.dtype == dtype
    np.testing.assert_allclose(Y, Y_ref, **tol)
    np.testing.assert_allclose(hn, hn_ref, **tol)
    if parts(cell)[0] == "lstm":
        np.testing.assert_allclose(cn, cn_ref, **tol)
    for name, g_ref in grads_ref.items():
        np.testing.assert_allclose(grads[name], g_ref, **tol, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("lengths, F, H", SHAPES)
@pytest.mark.parametrize("cell", CELLS)
def test_forward_and_backward_match_oracle(cell, lengths, F, H, reverse, dtype):
    assert_matches_oracle(cell, problem(cell, lengths, F, H, dtype), reverse, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("lengths, F, H", [([1], 2, 3), ([5, 3, 3, 1], 3, 5), ([4, 4, 1], 2, 33), ([80, 79, 7], 37, 9)])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("own_step, own_seq", [(False, False), (True, True), (True, False)])
def test_each_product_path_matches_oracle(cell, lengths, F, H, reverse, dtype, own_step, own_seq, monkeypatch):
    # Who runs the products depends on BLAS's threads and the sizes (fastrnn._threads): the per-step ones run on
    # BLAS only for large steps at several threads (forced here on small ones, whose one-row steps, B = 1 and
    # ragged tails, then take BLAS's GEMV); the backward's whole-sequence ones (weight gradients, dX) on the own
    # product for small gradients at 1 thread: with 166 rows, 37 features and H = 9 those span two chunks of
    # rows, whole and partial strips and row blocks.
    monkeypatch.setattr(_cells, "own_product", lambda rows, gates, hidden: own_step)
    monkeypatch.setattr(_cells, "own_sequence", lambda gates, hidden, features: own_seq)
    assert_matches_oracle(cell, problem(cell, lengths, F, H, dtype, seed=3), reverse, dtype)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cell", CELLS)
def test_random_shapes_match_oracle(cell, seed):
    rng = np.random.default_rng(100 + seed)
    B = int(rng.integers(1, 7))
    lengths = rng.integers(1, 9, size=B).tolist()
    F, H = int(rng.integers(1, 6)), int(rng.integers(1, 8))
    reverse = bool(rng.integers(2))
    p = problem(cell, lengths, F, H, np.float64, seed=seed)
    Y, hn, _, grads = run_kernel(cell, p, reverse)
    Y_ref, hn_ref, _, grads_ref = run_oracle(cell, p, reverse)
    np.testing.assert_allclose(Y, Y_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hn, hn_ref, rtol=1e-10, atol=1e-12)
    for name, g_ref in grads_ref.items():
        np.testing.assert_allclose(grads[name], g_ref, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("n, lengths", [(2, [1, 1]), (2, [6, 5, 5, 2, 1]), (3, [7, 3, 1]), (3, [4, 4, 4, 4, 2]),
                                        (2, [9, 9, 9])])
@pytest.mark.parametrize("cell", CELLS)
def test_lanes_match_oracle(cell, n, lengths, reverse, dtype, monkeypatch):
    # A layer with enough work runs in lanes (fastrnn._threads.lanes), each on every n-th sequence: forced here on
    # small ragged batches, where a lane may have one sequence, or fewer steps than another.
    monkeypatch.setattr(_cells, "lanes", lambda *args: n)
    assert_matches_oracle(cell, problem(cell, lengths, 3, 5, dtype, seed=11), reverse, dtype)


def test_split_deals_every_row_to_one_lane():
    bs = np.array([5, 5, 3, 2, 2, 1], dtype=np.intp)  # sequences of lengths 6, 5, 3, 3, 2
    offsets = np.cumsum(bs) - bs
    for n in (2, 3, 5):
        split = _cells.Split(bs, n)
        np.testing.assert_array_equal(np.sort(np.concatenate(split.rows)), np.arange(bs.sum()))
        for k in range(n):
            sizes = split.batch_sizes[k]
            assert sizes.sum() == len(split.rows[k]) and np.all(np.diff(sizes) <= 0) and sizes[-1] >= 1
            # Lane k's i-th sequence at step t is the batch's sequence k + n * i, at row offsets[t] + k + n * i.
            want = [offsets[t] + k + n * i for t in range(len(sizes)) for i in range(sizes[t])]
            np.testing.assert_array_equal(split.rows[k], want)


def test_lanes_add_to_given_gradients_and_skip_dX(monkeypatch):
    monkeypatch.setattr(_cells, "lanes", lambda *args: 2)
    p = problem("lstm", [5, 4, 2], 2, 3, np.float64)
    _, _, _, once = _cells.backward(train_cache("lstm", p), p["dY"], p["dhn"], p["dcn"])
    grads = tuple(np.ones_like(w) for w in p["weights"])
    dX, dh0, dc0, got = _cells.backward(train_cache("lstm", p), p["dY"], p["dhn"], p["dcn"], grads=grads,
                                        need_dX=False)
    assert dX is None and got is grads and dh0.shape == dc0.shape == p["h0"].shape
    for g, g1 in zip(got, once):
        np.testing.assert_allclose(g, g1 + 1, rtol=1e-14)


def test_lanes_with_threads_match_one_thread():
    # Unforced: at 2 BLAS threads a layer of this size runs in 2 lanes, at 1 in none.
    from threadpoolctl import threadpool_limits

    from fastrnn import _threads

    p = problem("gru", [600, 600, 590, 580, 570, 400, 300, 5], 8, 64, np.float64, seed=2)
    args = (p["X"].shape[0], 3, 64, 8, 8)
    with threadpool_limits(1, "blas"):
        assert _threads.lanes(8, *args) == 1
        one = run_kernel("gru", p, False)
    with threadpool_limits(2, "blas"):
        assert _threads.lanes(8, *args) == 2
        two, again = run_kernel("gru", p, False), run_kernel("gru", p, False)
    for name in two[3]:  # the same threads give the same bits: lanes add their gradients in a fixed order
        np.testing.assert_array_equal(two[3][name], again[3][name])
    for a, b in zip(one[:2], two[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for name in one[3]:
        np.testing.assert_allclose(one[3][name], two[3][name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_non_finite_value_in_a_lane_raises_and_lanes_run_again(cell, monkeypatch):
    monkeypatch.setattr(_cells, "lanes", lambda *args: 2)
    p = problem(cell, [4, 4, 3], 2, 3, np.float64)
    X = p["X"].copy()
    X[1] = np.inf  # the first step of sequence 1: lane 1 only
    with pytest.raises(FloatingPointError, match="non-finite"):
        forward(cell, X, p["bs"], p["weights"], p["h0"], p["c0"])
    assert_matches_oracle(cell, p, False, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("own, lengths", [(False, [700, 650, 403, 3]), (True, [700, 650, 403, 3]), (True, [900])])
def test_input_projection_matches_oracle(cell, reverse, dtype, own, lengths, monkeypatch):
    # The forward kernels compute the input projection (_steps.pxd, project) step by step with the own product,
    # and about 256 KB of rows ahead of the steps with BLAS's (forced here: large steps at several BLAS threads)
    # or for a single sequence: with H = 64 and 1,756 ragged rows that is 3 (RNN, float32) to 14 (LSTM, float64)
    # chunks, whose edges fall inside steps and, in reverse, run from the end.
    monkeypatch.setattr(_cells, "own_product", lambda rows, gates, hidden: own)
    p = problem(cell, lengths, 3, 64, dtype, seed=5)
    Y, hn, cn, grads = run_kernel(cell, p, reverse)
    Y_ref, hn_ref, cn_ref, grads_ref = run_oracle(cell, p, reverse)
    tol = tolerance(dtype)
    np.testing.assert_allclose(Y, Y_ref, **tol)
    np.testing.assert_allclose(hn, hn_ref, **tol)
    for name, g_ref in grads_ref.items():
        # A weight gradient sums 1,756 rows' terms: in float32 its rounding error grows with the sum's magnitude.
        atol = tol["atol"] if dtype == np.float64 else 1e-4 * np.abs(g_ref).max()
        np.testing.assert_allclose(grads[name], g_ref, rtol=tol["rtol"], atol=atol, err_msg=name)


@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("lengths, F, H", [([1], 1, 1), ([4, 2, 2, 1], 2, 3), ([3, 3], 1, 5)])
@pytest.mark.parametrize("cell", CELLS)
def test_backward_matches_central_differences(cell, lengths, F, H, reverse):
    p = problem(cell, lengths, F, H, np.float64, seed=7)
    if parts(cell)[1] == "relu":
        # Keep every pre-activation away from relu's kink, where the derivative jumps.
        p["weights"] = tuple(w * 0.3 for w in p["weights"])
        p["weights"][2][:] = 0.5
    _, _, _, grads = run_kernel(cell, p, reverse)

    def loss():
        Y, hn, cn, _ = forward(cell, p["X"], p["bs"], p["weights"], p["h0"], p["c0"], reverse)
        total = np.sum(Y * p["dY"]) + np.sum(hn * p["dhn"])
        return total + (np.sum(cn * p["dcn"]) if parts(cell)[0] == "lstm" else 0.0)

    inputs = dict(X=p["X"], h0=p["h0"], **dict(zip(_cells.WEIGHT_NAMES, p["weights"])))
    if parts(cell)[0] == "lstm":
        inputs["c0"] = p["c0"]
    eps = 1e-6
    for name, a in inputs.items():
        numeric = np.empty_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("lengths, F, H", [([1], 1, 1), ([6, 4, 4, 1], 3, 5), ([1, 1, 1], 4, 3), ([5, 3, 2], 3, 17),
                                           ([9, 9, 8, 7, 7, 6, 5, 5, 4, 3, 2, 1], 3, 23)])
@pytest.mark.parametrize("own", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_inference_equals_training_forward(cell, own, lengths, F, H, reverse, dtype, monkeypatch):
    # Inference on the own product keeps the gates of one step at a time (src_c/_steps.pxd, step_gates), training
    # and BLAS's steps those of every row: the same operations on the same values, so the same bits.
    monkeypatch.setattr(_cells, "own_product", lambda rows, gates, hidden: own)
    p = problem(cell, lengths, F, H, dtype)
    a = forward(cell, p["X"], p["bs"], p["weights"], p["h0"], p["c0"], reverse, training=False)
    b = forward(cell, p["X"], p["bs"], p["weights"], p["h0"], p["c0"], reverse, training=True)
    assert a[3] is None and b[3] is not None
    for x, y in zip(a[:3], b[:3]):
        if x is not None:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_inference_keeps_one_step_of_gates(cell, monkeypatch):
    # The gates are the largest array of a forward pass (P by 4H for an LSTM): inference on the own product asks
    # for one step's rows; training (the stash) and BLAS's steps (the input projection runs ahead) for all.
    shapes = []

    def spy(shape, dtype):
        shapes.append(shape)
        return empty(shape, dtype)

    empty = _cells.empty
    monkeypatch.setattr(_cells, "empty", spy)
    p = problem(cell, [40, 30, 30, 2], 3, 20, np.float64)
    P, B, G = p["X"].shape[0], 4, _cells.GATES[cell] * 20
    for training, own, rows in [(False, True, B), (True, True, P), (False, False, P)]:
        monkeypatch.setattr(_cells, "own_product", lambda *args: own)
        shapes.clear()
        forward(cell, p["X"], p["bs"], p["weights"], training=training)
        assert (rows, G) in shapes and ((P, G) in shapes) == (rows == P), (training, own, shapes)


def kernel_call(cell, p, gate_rows, training, own):
    """The forward kernel of `cell` ("lstm" or "gru") on problem p, with a gates array of gate_rows rows and the
    other arrays as fastrnn._cells makes them."""
    X, bs, (w_ih, w_hh, b_ih, b_hh) = p["X"], p["bs"], p["weights"]
    P, F = X.shape
    B, H = p["h0"].shape
    G, dt = _cells.GATES[cell] * H, X.dtype
    rows = P if training else 0
    bias, h, Y = np.empty(G + H, dt), p["h0"].copy(), np.empty((P, H), dt)
    gates = np.empty((gate_rows, G), dt)
    if cell == "lstm":
        xh = np.empty((rows, _cells.stash_width(F, H, dt.itemsize)), dt)
        _lstm.lstm_forward(X, bs, w_ih, w_hh, b_ih, b_hh, bias, h, p["c0"].copy(), Y, gates, xh,
                           np.empty((rows, H), dt), np.empty((rows, H), dt), False, False, training, own)
    else:
        _gru.gru_forward(X, bs, w_ih, w_hh, b_ih, b_hh, bias, h, Y, gates, np.empty((B, G), dt),
                         np.empty((rows, H), dt), np.empty((rows, H), dt), False, False, training, own)
    return Y


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_kernels_refuse_gates_too_short_for_their_path(cell):
    # Rows of one step suffice only where the kernel's steps write no other rows; anywhere else a short array
    # would be written past its end, so the kernel refuses it before it runs.
    p = problem(cell, [5, 3, 3, 1], 2, 6, np.float64)
    P, B = p["X"].shape[0], 4
    np.testing.assert_array_equal(kernel_call(cell, p, B, False, True), kernel_call(cell, p, P, False, True))
    for rows, training, own in [(B, True, True), (B, False, False), (P - 1, True, True), (B - 1, False, True)]:
        with pytest.raises(ValueError, match="gates has .* rows, too few"):
            kernel_call(cell, p, rows, training, own)
    one = problem(cell, [7], 2, 6, np.float64)  # a single sequence's input projection runs ahead on BLAS
    with pytest.raises(ValueError, match="too few"):
        kernel_call(cell, one, 1, False, True)


@pytest.mark.parametrize("cell", CELLS)
def test_each_sequence_alone_matches_the_batch(cell):
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)) for n in [5, 2, 5, 1]]
    X, bs, order = ref.pack(seqs)
    weights = tuple(ref.random_params(parts(cell)[0], 2, 4, rng)[k]
                    for k in _cells.WEIGHT_NAMES)
    for reverse in REVERSE:
        Y, hn, _, _ = forward(cell, X, bs, weights, reverse=reverse)
        Ys = ref.unpack(Y, bs)
        for j, i in enumerate(order):
            Y1, hn1, _, _ = forward(cell, seqs[i], np.ones(len(seqs[i]), dtype=np.intp), weights,
                                           reverse=reverse)
            np.testing.assert_allclose(Ys[j], Y1, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(hn[j], hn1[0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", CELLS)
def test_repeated_calls_are_bit_identical(cell, dtype):
    p = problem(cell, [40, 33, 20], 16, 24, dtype)
    first, second = run_kernel(cell, p, False), run_kernel(cell, p, False)
    for a, b in zip(first[:2], second[:2]):
        np.testing.assert_array_equal(a, b)
    for name in first[3]:
        np.testing.assert_array_equal(first[3][name], second[3][name])


def test_grads_accumulate_into_given_arrays():
    p = problem("gru", [4, 3], 2, 3, np.float64)
    _, _, _, once = _cells.backward(train_cache("gru", p), p["dY"], p["dhn"])
    flat = np.zeros(sum(w.size for w in p["weights"]))
    views, start = [], 0
    for w in p["weights"]:
        views.append(flat[start:start + w.size].reshape(w.shape))
        start += w.size
    _cells.backward(train_cache("gru", p), p["dY"], p["dhn"], grads=views)
    _cells.backward(train_cache("gru", p), p["dY"], p["dhn"], grads=views)
    np.testing.assert_allclose(flat, 2 * np.concatenate([g.ravel() for g in once]), rtol=1e-14)


def test_need_dX_false_skips_dX_only():
    p = problem("lstm", [4, 3], 2, 3, np.float64)
    full = _cells.backward(train_cache("lstm", p), p["dY"], p["dhn"], p["dcn"])
    skip = _cells.backward(train_cache("lstm", p), p["dY"], p["dhn"], p["dcn"], need_dX=False)
    assert skip[0] is None and full[0].shape == p["X"].shape
    for a, b in zip(full[3], skip[3]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_a_cache_serves_one_backward(cell, lanes, monkeypatch):
    # The LSTM's and GRU's backward write dL/da over the stashed gates: a second backward on the same Cache would
    # read gradients as gates, so it is refused, for every cell alike. A call refused for its arguments has not
    # run, and leaves the Cache as it was.
    monkeypatch.setattr(_cells, "lanes", lambda *args: lanes)
    p = problem(cell, [6, 5, 3, 2], 3, 4, np.float64)
    cache = train_cache(cell, p)
    with pytest.raises(ValueError, match="dY must have shape"):
        _cells.backward(cache, p["dY"][1:], p["dhn"], p["dcn"])
    first = _cells.backward(cache, p["dY"], p["dhn"], p["dcn"])
    with pytest.raises(ValueError, match="backpropagated through already"):
        _cells.backward(cache, p["dY"], p["dhn"], p["dcn"])
    again = _cells.backward(train_cache(cell, p), p["dY"], p["dhn"], p["dcn"])
    for a, b in zip(first[3], again[3]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[0], again[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", CELLS)
def test_extreme_inputs_saturate(cell, dtype):
    p = problem(cell, [5, 3], 3, 4, dtype)
    sign = np.where(np.random.default_rng(0).random(p["X"].shape) < 0.5, -1, 1)
    X = (1e6 * sign).astype(dtype)
    Y, hn, cn, cache = forward(cell, X, p["bs"], p["weights"], p["h0"], p["c0"], training=True)
    assert np.isfinite(Y).all() and np.isfinite(hn).all()
    if parts(cell)[1] == "tanh":
        assert np.abs(Y).max() <= 1
        # Saturated gates: pre-activations of size ~1e5 put every sigmoid/tanh exactly at its limits.
        if cell == "rnn":
            assert set(np.unique(np.abs(Y))) <= {0.0, 1.0}
    dX, dh0, _, grads = _cells.backward(cache, p["dY"], p["dhn"], p["dcn"])
    assert all(np.isfinite(g).all() for g in (dX, dh0, *grads))


@pytest.mark.parametrize("cell", CELLS)
def test_non_finite_values_raise_after_the_loop(cell):
    p = problem(cell, [3, 2], 2, 3, np.float64)
    w = list(p["weights"])
    w[1] = w[1].copy()
    w[1][0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite"):
        forward(cell, p["X"], p["bs"], tuple(w), p["h0"], p["c0"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("cell", CELLS)
def test_a_single_non_finite_output_raises(cell, reverse, training, dtype):
    # A NaN input at the last step of a sequence makes a NaN in one row of Y only: the pointwise passes' sums of
    # h_t * 0 must see it. H = 17 takes the row loops' path in both dtypes, H = 3 the gate-by-gate one.
    for H in (3, 17):
        p = problem(cell, [5, 3, 3, 1], 3, H, dtype)
        X = p["X"].copy()
        # Sequence 1 (3 steps) has packed rows 1, 5 and 8; the reverse pass ends it at row 1.
        X[1 if reverse else 8] = np.nan
        with pytest.raises(FloatingPointError, match="forward"):
            forward(cell, X, p["bs"], p["weights"], p["h0"], p["c0"], reverse=reverse, training=training)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", ["rnn", "rnn_relu"])
def test_a_non_finite_output_past_the_rnn_tiled_rows_raises(cell, dtype):
    # The RNN's inference pass runs _cells.TILED_ROWS rows at a time over tiled NaN sums: a NaN in the last row of
    # a step of 20 rows lands in the second group.
    assert _cells.TILED_ROWS < 20
    p = problem(cell, [3] * 20, 2, 50, dtype)
    X = p["X"].copy()
    X[-1] = np.nan  # the last step's last row, which no later step reads
    with pytest.raises(FloatingPointError, match="forward"):
        forward(cell, X, p["bs"], p["weights"], p["h0"])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("cell", CELLS)
def test_non_finite_gradients_raise_in_backward(cell, reverse, bad):
    p = problem(cell, [5, 3, 3, 1], 3, 5, np.float64)
    for row in (0, 6, p["X"].shape[0] - 1):  # the first, a middle and the last packed row
        dY = p["dY"].copy()
        dY[row, 2] = bad
        with pytest.raises(FloatingPointError, match="backward"):
            _cells.backward(train_cache(cell, p, reverse), dY, p["dhn"], p["dcn"])
    dhn = p["dhn"].copy()
    dhn[-1, 0] = bad
    with pytest.raises(FloatingPointError, match="backward"):
        _cells.backward(train_cache(cell, p, reverse), p["dY"], dhn, p["dcn"])


@pytest.mark.parametrize("cell", CELLS)
def test_non_finite_gradients_added_to_are_the_callers(cell):
    # The kernels check what they compute; gradients that came in non-finite (summed over batches by a caller)
    # stay so and do not raise, whichever way a kernel checks its own (the GRU from its bias sums when they came
    # in finite).
    p = problem(cell, [5, 3, 3, 1], 3, 5, np.float64)
    expected = _cells.backward(train_cache(cell, p), p["dY"], p["dhn"], p["dcn"])[3]
    for k in range(4):
        grads = tuple(np.zeros_like(w) for w in p["weights"])
        grads[k].flat[0] = np.inf
        _cells.backward(train_cache(cell, p), p["dY"], p["dhn"], p["dcn"], grads=grads)
        assert np.isinf(grads[k].flat[0])
        for g, e in zip(grads, expected):
            np.testing.assert_array_equal(g.flat[1:], e.flat[1:])

def test_relu_overflow_raises():
    p = problem("rnn_relu", [30], 2, 3, np.float64)
    w = (p["weights"][0], np.full((3, 3), 1e30), np.ones(3), np.ones(3))
    with pytest.raises(FloatingPointError, match="RNN forward"):
        forward("rnn_relu", np.abs(p["X"]) + 1, p["bs"], w)


def test_kernel_releases_the_gil():
    # While one long kernel call runs in a thread, this thread keeps running Python code. Were the GIL held for
    # the call, this loop would stall for the whole call; released, its longest stall is scheduling noise.
    p = problem("lstm", [400] * 32, 32, 128, np.float64)
    _cells.forward("lstm", p["X"], p["bs"], p["weights"])  # warm-up: first-touch page faults, BLAS threads
    state = {"done": False}

    def work():
        start = time.perf_counter()
        _cells.forward("lstm", p["X"], p["bs"], p["weights"])
        state["call"] = time.perf_counter() - start
        state["done"] = True

    t = threading.Thread(target=work)
    last = time.perf_counter()
    longest_stall = 0.0
    t.start()
    while not state["done"]:
        now = time.perf_counter()
        longest_stall = max(longest_stall, now - last)
        last = now
    t.join()
    assert longest_stall < state["call"] / 2, (longest_stall, state["call"])


# ---- argument checks: every one raises before the kernel runs ----

def test_bad_arguments_raise_clear_errors():
    p = problem("lstm", [3, 2], 2, 3, np.float64)
    X, bs, w = p["X"], p["bs"], p["weights"]
    with pytest.raises(ValueError, match="cell must be one of"):
        _cells.forward("transformer", X, bs, w)
    with pytest.raises(TypeError, match="float32 or float64"):
        _cells.forward("lstm", X.astype(np.int64), bs, w)
    with pytest.raises(ValueError, match="X must be a 2-D"):
        _cells.forward("lstm", X[None], bs, w)
    with pytest.raises(TypeError, match="weight_ih has dtype float32"):
        _cells.forward("lstm", X, bs, (w[0].astype(np.float32), *w[1:]))
    with pytest.raises(ValueError, match=r"weight_ih must have shape \(12, 2\)"):
        _cells.forward("lstm", X, bs, (w[0][:, :1], *w[1:]))
    with pytest.raises(ValueError, match="weight_hh of a lstm layer"):
        _cells.forward("lstm", X, bs, (w[0], w[1][:9], *w[2:]))
    with pytest.raises(ValueError, match="bias_hh must have shape"):
        _cells.forward("lstm", X, bs, (*w[:3], w[3][:5]))
    with pytest.raises(ValueError, match="4 arrays"):
        _cells.forward("lstm", X, bs, w[:3])
    with pytest.raises(ValueError, match="non-increasing"):
        _cells.forward("lstm", X, bs[::-1].copy(), w)
    with pytest.raises(ValueError, match="sums to"):
        _cells.forward("lstm", X, np.array([2, 2, 2]), w)
    with pytest.raises(ValueError, match="non-empty 1-D integer"):
        _cells.forward("lstm", X, bs.astype(float), w)
    # Checks of intp steps are remembered: a bad one is refused every time, and the same steps with other rows too.
    for _ in range(2):
        with pytest.raises(ValueError, match="non-increasing"):
            _cells.check_batch_sizes(np.array([1, 2], dtype=np.intp), 3)
        with pytest.raises(ValueError, match="non-empty 1-D integer"):
            _cells.check_batch_sizes(np.array([], dtype=np.intp), 0)
    assert _cells.check_batch_sizes(np.array([2, 1], dtype=np.intp), 3).tolist() == [2, 1]
    with pytest.raises(ValueError, match="sums to 3, but X has 4"):
        _cells.check_batch_sizes(np.array([2, 1], dtype=np.intp), 4)
    long_steps = np.ones(_cells.REMEMBERED_STEPS + 1, dtype=np.intp)  # checked every time, not kept
    assert _cells.check_batch_sizes(long_steps, long_steps.size) is long_steps
    long_steps[-1] = 2
    with pytest.raises(ValueError, match="non-increasing"):
        _cells.check_batch_sizes(long_steps, long_steps.size + 1)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 3\)"):
        _cells.forward("lstm", X, bs, w, h0=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="c0 is only for an LSTM"):
        _cells.forward("gru", X, bs, problem("gru", [3, 2], 2, 3, np.float64)["weights"], c0=np.zeros((2, 3)))
    _, _, _, cache = _cells.forward("lstm", X, bs, w, training=True)
    with pytest.raises(ValueError, match=r"dY must have shape \(5, 3\)"):
        _cells.backward(cache, np.zeros((5, 2)))
    with pytest.raises(TypeError, match="Cache returned by forward"):
        _cells.backward(None, np.zeros((5, 3)))
    grads = [np.zeros_like(a) for a in w]
    grads[0] = np.zeros((w[0].shape[1], w[0].shape[0])).T
    with pytest.raises(ValueError, match="C-contiguous and writable"):
        _cells.backward(cache, np.zeros((5, 3)), grads=grads)


# ---- PyTorch, when installed ----

@pytest.mark.parametrize("reverse", REVERSE)
@pytest.mark.parametrize("cell", TORCH_CELLS)
def test_matches_torch_outputs_and_gradients(cell, reverse):
    torch = pytest.importorskip("torch")
    lengths, F, H = [6, 4, 4, 1], 3, 5
    p = problem(cell, lengths, F, H, np.float64, seed=11)
    kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(cell, torch.nn.RNN)
    extra = {"nonlinearity": parts(cell)[1]} if cell.startswith("rnn") else {}
    # A bidirectional module's reverse direction is the kernel's reverse=True.
    module = kind(F, H, bidirectional=reverse, **extra).double()
    suffix = "_l0_reverse" if reverse else "_l0"
    with torch.no_grad():
        for name, w in zip(_cells.WEIGHT_NAMES, p["weights"]):
            getattr(module, name + suffix).copy_(torch.from_numpy(w))
    params = {name: getattr(module, name + suffix) for name in _cells.WEIGHT_NAMES}
    X = torch.from_numpy(p["X"]).requires_grad_()
    packed = torch.nn.utils.rnn.PackedSequence(X, torch.from_numpy(p["bs"]).long())
    D = 2 if reverse else 1
    h0 = torch.zeros(D, len(lengths), H, dtype=torch.float64)
    h0[D - 1] = torch.from_numpy(p["h0"])
    h0.requires_grad_()
    if parts(cell)[0] == "lstm":
        c0 = torch.zeros_like(h0)
        c0[D - 1] = torch.from_numpy(p["c0"])
        c0 = c0.detach().requires_grad_()
        out, (hn, cn) = module(packed, (h0, c0))
    else:
        out, hn = module(packed, h0)
    Y = out.data[:, (D - 1) * H:]
    loss = (Y * torch.from_numpy(p["dY"])).sum() + (hn[D - 1] * torch.from_numpy(p["dhn"])).sum()
    if parts(cell)[0] == "lstm":
        loss = loss + (cn[D - 1] * torch.from_numpy(p["dcn"])).sum()
    loss.backward()
    Y_k, hn_k, cn_k, grads = run_kernel(cell, p, reverse)
    np.testing.assert_allclose(Y_k, Y.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hn_k, hn[D - 1].detach().numpy(), rtol=1e-10, atol=1e-12)
    if parts(cell)[0] == "lstm":
        np.testing.assert_allclose(cn_k, cn[D - 1].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads["c0"], c0.grad[D - 1].numpy(), rtol=1e-10, atol=1e-12)
    # The loss reads only the compared direction, so X's gradient flows through that direction alone.
    np.testing.assert_allclose(grads["X"], X.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["h0"], h0.grad[D - 1].numpy(), rtol=1e-10, atol=1e-12)
    for name in _cells.WEIGHT_NAMES:
        np.testing.assert_allclose(grads[name], params[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
