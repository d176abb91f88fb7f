"""fastrnn.functional against PyTorch: stored golden outputs (no torch needed), live torch runs, input forms, errors.

The golden files in tests/fixtures/ are written by tests/fixtures/make_torch_fixtures.py (run by hand, with torch).
"""
import re
from pathlib import Path

import numpy as np
import pytest

from fastrnn import functional

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_float32"]
CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def tol(dtype):
    return dict(rtol=1e-10, atol=1e-13) if np.dtype(dtype) == np.float64 else dict(rtol=1e-5, atol=1e-6)


def run(cell, X, weights, h0=None, c0=None):
    """Call the functional API for a cell name; always return (output, h_n, c_n or None)."""
    if cell == "lstm":
        output, (h_n, c_n) = functional.lstm(X, weights, h0, c0)
        return output, h_n, c_n
    if cell == "gru":
        output, h_n = functional.gru(X, weights, h0)
    else:
        output, h_n = functional.rnn(X, weights, h0, nonlinearity=cell.split("_")[1])
    return output, h_n, None


def random_weights(cell, F, H, n_layers=1, bidirectional=False, bias=True, seed=0, dtype=np.float64):
    """A PyTorch-named weight dict of random numbers."""
    rng = np.random.default_rng(seed)
    G, D = GATES[cell], 2 if bidirectional else 1
    weights = {}
    for layer in range(n_layers):
        for d in range(D):
            s = f"_l{layer}" + ("_reverse" if d else "")
            F_l = F if layer == 0 else D * H
            weights["weight_ih" + s] = rng.uniform(-0.5, 0.5, (G * H, F_l)).astype(dtype)
            weights["weight_hh" + s] = rng.uniform(-0.5, 0.5, (G * H, H)).astype(dtype)
            if bias:
                weights["bias_ih" + s] = rng.uniform(-0.5, 0.5, G * H).astype(dtype)
                weights["bias_hh" + s] = rng.uniform(-0.5, 0.5, G * H).astype(dtype)
    return weights


# ---------------------------------------------------------------------------------------------------------------
# Golden files: no torch needed.


def load_golden(name):
    with np.load(FIXTURES / f"torch_{name}.npz") as data:
        g = {k: data[k] for k in data.files}
    g["weights"] = {k[2:]: v for k, v in g.items() if k.startswith("w/")}
    g["cell"] = str(g["cell"])
    g["seqs"] = [g["x"][i, :n] for i, n in enumerate(g["lengths"])]
    return g


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_matches_torch(name):
    g = load_golden(name)
    cell, dtype = g["cell"], g["x"].dtype
    X = g["seqs"] if g["ragged"] else g["x"]
    output, h_n, c_n = run(cell, X, g["weights"], g["h0"], g.get("c0"))
    if g["ragged"]:
        assert isinstance(output, list) and len(output) == len(g["lengths"])
        for i, (y, n) in enumerate(zip(output, g["lengths"])):
            assert y.shape == (n, g["output"].shape[2]) and y.dtype == dtype
            np.testing.assert_allclose(y, g["output"][i, :n], **tol(dtype))
    else:
        assert isinstance(output, np.ndarray) and output.shape == g["output"].shape and output.dtype == dtype
        np.testing.assert_allclose(output, g["output"], **tol(dtype))
    assert h_n.shape == g["h_n"].shape and h_n.dtype == dtype
    np.testing.assert_allclose(h_n, g["h_n"], **tol(dtype))
    if cell == "lstm":
        assert c_n.shape == g["c_n"].shape and c_n.dtype == dtype
        np.testing.assert_allclose(c_n, g["c_n"], **tol(dtype))
    else:
        assert c_n is None


def test_golden_fixtures_are_what_the_tests_assume():
    lengths = load_golden("lstm")["lengths"]
    assert len(set(lengths.tolist())) < len(lengths) and lengths.min() == 1
    assert list(lengths) != sorted(lengths, reverse=True)  # unsorted: packing must sort and unsort
    for name in GOLDEN[:4]:
        g = load_golden(name)
        assert np.all(np.abs(g["h0"]).max(axis=2) > 0)  # every initial state row is nonzero
        if g["cell"] == "lstm":
            assert np.all(np.abs(g["c0"]).max(axis=2) > 0)
        assert {"weight_ih_l1_reverse", "bias_hh_l1_reverse"} <= set(g["weights"])


@pytest.mark.parametrize("name", GOLDEN[:4])
def test_golden_padded_3d_input_matches_on_equal_length_part(name):
    # Only sequences of full length can be fed as a padded 3-D array; check those rows of a 3-D run.
    g = load_golden(name)
    full = np.flatnonzero(g["lengths"] == g["lengths"].max())
    X = g["x"][full]
    h0 = g["h0"][:, full]
    c0 = g["c0"][:, full] if g["cell"] == "lstm" else None
    output, h_n, c_n = run(g["cell"], X, g["weights"], h0, c0)
    assert isinstance(output, np.ndarray) and output.ndim == 3
    np.testing.assert_allclose(output, g["output"][full], **tol(np.float64))
    np.testing.assert_allclose(h_n, g["h_n"][:, full], **tol(np.float64))


def test_golden_float32_output_with_float64_computation_is_close():
    # float64 input with the float32 fixture's weights computes in float64 and agrees to float32 accuracy.
    g = load_golden("lstm_float32")
    output, (h_n, c_n) = functional.lstm(g["x"].astype(np.float64), g["weights"], g["h0"], g["c0"])
    assert output.dtype == h_n.dtype == c_n.dtype == np.float64
    np.testing.assert_allclose(output, g["output"], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# h0 is in X's original order.


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_h0_in_original_order_matches_per_sequence_runs(cell, bidirectional):
    rng = np.random.default_rng(3)
    lengths = [2, 7, 1, 7, 4]  # unsorted, with a tie
    F, H, L = 2, 3, 2
    D = 2 if bidirectional else 1
    seqs = [rng.standard_normal((n, F)) for n in lengths]
    weights = random_weights(cell, F, H, L, bidirectional, seed=4)
    h0 = rng.standard_normal((L * D, len(lengths), H))
    c0 = rng.standard_normal((L * D, len(lengths), H)) if cell == "lstm" else None
    output, h_n, c_n = run(cell, seqs, weights, h0, c0)
    for i, seq in enumerate(seqs):
        y, h, c = run(cell, seq[None], weights, h0[:, i : i + 1], None if c0 is None else c0[:, i : i + 1])
        np.testing.assert_allclose(output[i], y[0], **tol(np.float64))
        np.testing.assert_allclose(h_n[:, i], h[:, 0], **tol(np.float64))
        if cell == "lstm":
            np.testing.assert_allclose(c_n[:, i], c[:, 0], **tol(np.float64))
    # The rows of h0 really differ and really matter: a permuted h0 gives other results.
    perm = [1, 0, 3, 2, 4]
    permuted, _, _ = run(cell, seqs, weights, h0[:, perm], None if c0 is None else c0[:, perm])
    assert not np.allclose(permuted[0], output[0])


# ---------------------------------------------------------------------------------------------------------------
# Input forms.


@pytest.mark.parametrize("cell", CELLS)
def test_univariate_2d_array_is_n_t(cell):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 6))
    weights = random_weights(cell, 1, 3, 2, True)
    out2, h2, c2 = run(cell, X, weights)
    out3, h3, c3 = run(cell, X[:, :, None], weights)
    assert isinstance(out2, np.ndarray) and out2.shape == (4, 6, 6)
    np.testing.assert_array_equal(out2, out3)
    np.testing.assert_array_equal(h2, h3)
    assert h2.shape == (4, 4, 3)
    if cell == "lstm":
        np.testing.assert_array_equal(c2, c3)


@pytest.mark.parametrize("cell", CELLS)
def test_list_of_1d_arrays_is_ragged_univariate(cell):
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal(n) for n in (3, 5, 1)]
    weights = random_weights(cell, 1, 4)
    out1, h1, _ = run(cell, seqs, weights)
    out2, h2, _ = run(cell, [s[:, None] for s in seqs], weights)
    assert isinstance(out1, list) and [y.shape for y in out1] == [(3, 4), (5, 4), (1, 4)]
    for a, b in zip(out1, out2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h1, h2)


def test_ragged_tuple_gives_list_and_3d_gives_3d():
    rng = np.random.default_rng(2)
    seqs = tuple(rng.standard_normal((n, 2)) for n in (2, 4))
    weights = random_weights("gru", 2, 3)
    out, h_n = functional.gru(seqs, weights)
    assert isinstance(out, list) and [y.shape for y in out] == [(2, 3), (4, 3)] and h_n.shape == (1, 2, 3)
    out3, h_n3 = functional.gru(np.stack([seqs[1], seqs[1]]), weights)
    assert isinstance(out3, np.ndarray) and out3.shape == (2, 4, 3) and h_n3.shape == (1, 2, 3)
    np.testing.assert_allclose(out3[0], out[1], **tol(np.float64))


def test_ragged_padded_positions_are_not_computed_and_lengths_respected():
    # A sequence's last output is its h_n (forward direction); ragged runs never see padding.
    rng = np.random.default_rng(5)
    seqs = [rng.standard_normal((n, 3)) for n in (5, 2, 4)]
    weights = random_weights("lstm", 3, 4)
    out, (h_n, c_n) = functional.lstm(seqs, weights)
    for i, y in enumerate(out):
        np.testing.assert_array_equal(y[-1], h_n[0, i])


@pytest.mark.parametrize("cell", CELLS)
def test_float32_stays_float32(cell):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((3, 5, 2)).astype(np.float32)
    weights = random_weights(cell, 2, 3, 2, True)  # float64 weights are cast to X's dtype
    h0 = np.zeros((4, 3, 3))
    out, h_n, c_n = run(cell, X, weights, h0, h0 if cell == "lstm" else None)
    assert out.dtype == h_n.dtype == np.float32
    if cell == "lstm":
        assert c_n.dtype == np.float32
    ref, _, _ = run(cell, X.astype(np.float64), weights)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    ragged, h_r, _ = run(cell, [X[0], X[1, :2]], weights)
    assert ragged[0].dtype == ragged[1].dtype == h_r.dtype == np.float32


@pytest.mark.parametrize("cell", CELLS)
def test_int_input_computes_in_float64(cell):
    rng = np.random.default_rng(7)
    X = rng.integers(-2, 3, size=(3, 4, 2))
    weights = random_weights(cell, 2, 3, dtype=np.float32)  # float32 weights are cast up
    out, h_n, c_n = run(cell, X, weights)
    assert out.dtype == h_n.dtype == np.float64
    ref, _, _ = run(cell, X.astype(np.float64), {k: v.astype(np.float64) for k, v in weights.items()})
    np.testing.assert_array_equal(out, ref)
    out_list, _, _ = run(cell, [x for x in X], weights)
    assert all(y.dtype == np.float64 for y in out_list)


def test_missing_biases_are_zeros():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((2, 3, 2))
    with_bias = random_weights("gru", 2, 3, 2, True)
    no_bias = {k: v for k, v in with_bias.items() if not k.startswith("bias")}
    zero_bias = {k: (np.zeros_like(v) if k.startswith("bias") else v) for k, v in with_bias.items()}
    np.testing.assert_array_equal(functional.gru(X, no_bias)[0], functional.gru(X, zero_bias)[0])


def test_h0_none_is_zeros_and_inputs_not_modified():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((2, 3, 2))
    weights = random_weights("lstm", 2, 3, 2, True)
    copies = {k: v.copy() for k, v in weights.items()}
    h0 = np.zeros((4, 2, 3))
    c0 = rng.standard_normal((4, 2, 3))
    c0_copy, X_copy = c0.copy(), X.copy()
    a = functional.lstm(X, weights)
    b = functional.lstm(X, weights, h0, np.zeros_like(h0))
    np.testing.assert_array_equal(a[0], b[0])
    functional.lstm(X, weights, h0, c0)
    np.testing.assert_array_equal(c0, c0_copy)
    np.testing.assert_array_equal(X, X_copy)
    assert not h0.any()
    for k in weights:
        np.testing.assert_array_equal(weights[k], copies[k])


# ---------------------------------------------------------------------------------------------------------------
# Error paths.


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((2, 3, 3))


def lstm_weights(**kw):
    return random_weights("lstm", 3, 5, **kw)


def test_error_unknown_key(X):
    w = lstm_weights()
    w["weight_hr_l0"] = np.zeros((3, 5))  # a proj_size LSTM
    with pytest.raises(ValueError, match=r"Unexpected key 'weight_hr_l0'.*projections"):
        functional.lstm(X, w)
    with pytest.raises(ValueError, match="Unexpected key 'dense.weight'"):
        functional.lstm(X, {**lstm_weights(), "dense.weight": np.zeros(3)})


def test_error_missing_weight_hh(X):
    w = lstm_weights()
    del w["weight_hh_l0"]
    with pytest.raises(ValueError, match="weights has no key 'weight_hh_l0'"):
        functional.lstm(X, w)


def test_error_missing_layer_or_direction(X):
    w = lstm_weights(n_layers=3)
    del w["weight_ih_l1"]
    with pytest.raises(ValueError, match="weights has no key 'weight_ih_l1'"):
        functional.lstm(X, w)
    w = lstm_weights(n_layers=2, bidirectional=True)
    del w["weight_hh_l1_reverse"]
    with pytest.raises(ValueError, match="weights has no key 'weight_hh_l1_reverse'"):
        functional.lstm(X, w)


@pytest.mark.parametrize("present", ["bias_ih_l0", "bias_hh_l0"])
def test_error_only_one_bias(X, present):
    w = lstm_weights()
    del w[{"bias_ih_l0": "bias_hh_l0", "bias_hh_l0": "bias_ih_l0"}[present]]
    with pytest.raises(ValueError, match="only one of 'bias_ih_l0' and 'bias_hh_l0'"):
        functional.lstm(X, w)


def test_error_weight_hh_shape_for_cell(X):
    with pytest.raises(ValueError, match=r"weight_hh_l0'\] must have shape \(3 \* H, H\) for a gru, got \(20, 5\)"):
        functional.gru(X, lstm_weights())
    with pytest.raises(ValueError, match=r"must have shape \(1 \* H, H\) for a rnn"):
        functional.rnn(X, lstm_weights())
    with pytest.raises(ValueError, match=r"must have shape \(4 \* H, H\) for a lstm, got \(5,\)"):
        functional.lstm(X, {**lstm_weights(), "weight_hh_l0": np.zeros(5)})


def test_error_weight_ih_rows(X):
    w = lstm_weights()
    w["weight_ih_l0"] = w["weight_ih_l0"][:15]
    with pytest.raises(ValueError, match=r"weight_ih_l0'\] must have shape \(20, F\), got \(15, 3\)"):
        functional.lstm(X, w)


def test_error_bias_shape(X):
    w = lstm_weights()
    w["bias_hh_l0"] = w["bias_hh_l0"][:5]
    with pytest.raises(ValueError, match=r"bias_hh_l0'\] must have shape \(20,\), got \(5,\)"):
        functional.lstm(X, w)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_error_layer1_input_size(X, bidirectional):
    w = lstm_weights(n_layers=2, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    w["weight_ih_l1"] = np.zeros((20, 7))
    if bidirectional:
        w["weight_ih_l1_reverse"] = np.zeros((20, 7))
    with pytest.raises(ValueError, match=rf"weight_ih_l1 must have {D * 5} columns .*got 7"):
        functional.lstm(X, w)
    if bidirectional:  # a unidirectional layer 1's input size (H) is wrong for a bidirectional layer 0 (2 H)
        w["weight_ih_l1"] = w["weight_ih_l1_reverse"] = np.zeros((20, 5))
        with pytest.raises(ValueError, match="weight_ih_l1 must have 10 columns"):
            functional.lstm(X, w)


def test_error_directions_with_different_input_sizes(X):
    w = lstm_weights(bidirectional=True)
    w["weight_ih_l0_reverse"] = np.zeros((20, 4))
    with pytest.raises(ValueError, match="the two directions of layer 0 have different input sizes"):
        functional.lstm(X, w)


def test_error_different_hidden_sizes(X):
    w = lstm_weights()
    w["weight_ih_l1"] = np.zeros((16, 5))
    w["weight_hh_l1"] = np.zeros((16, 4))
    with pytest.raises(ValueError, match="every layer must have the same hidden size 5; layer 1 has 4"):
        functional.lstm(X, w)
    w = lstm_weights(bidirectional=True)
    w["weight_ih_l0_reverse"] = np.zeros((16, 3))
    w["weight_hh_l0_reverse"] = np.zeros((16, 4))
    w["bias_ih_l0_reverse"] = w["bias_hh_l0_reverse"] = np.zeros(16)
    with pytest.raises(ValueError, match="every layer must have the same hidden size 5; layer 0 has 4"):
        functional.lstm(X, w)


@pytest.mark.parametrize("key", ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l1_reverse"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_error_non_finite_weights(X, key, bad):
    w = lstm_weights(n_layers=2, bidirectional=True)
    w[key] = w[key].copy()
    w[key].flat[3] = bad
    with pytest.raises(ValueError, match=re.escape(f"weights['{key}'] contains NaN or infinity")):
        functional.lstm(X, w)


@pytest.mark.filterwarnings("error")
def test_error_non_finite_weights_after_float32_cast():
    # finite in float64, infinite once cast to the float32 of X
    X = np.zeros((1, 2, 3), dtype=np.float32)
    w = lstm_weights()
    w["bias_ih_l0"] = w["bias_ih_l0"].copy()
    w["bias_ih_l0"][0] = 1e300
    with pytest.raises(ValueError, match=re.escape("weights['bias_ih_l0'] contains NaN or infinity (after conversion to float32)")):
        functional.lstm(X, w)


@pytest.mark.parametrize(
    "value",
    [
        np.full((20, 5), "a"),
        np.zeros((20, 5), dtype=complex),
        np.zeros((20, 5), dtype=bool),
        np.full((20, 5), None, dtype=object),
    ],
    ids=["str", "complex", "bool", "object"],
)
def test_error_non_numeric_weights(X, value):
    w = lstm_weights()
    w["weight_hh_l0"] = value
    with pytest.raises(TypeError, match=re.escape("weights['weight_hh_l0'] must hold real numbers")):
        functional.lstm(X, w)


def test_error_weight_not_an_array(X):
    w = lstm_weights()
    w["bias_ih_l0"] = [[1.0, 2.0], [3.0]]  # ragged: numpy cannot read it
    with pytest.raises(TypeError, match=r"weights\['bias_ih_l0'\] could not be read as a numpy array"):
        functional.lstm(X, w)


@pytest.mark.parametrize("weights", [list(lstm_weights().items()), None, np.zeros(3)], ids=["items", "None", "array"])
def test_error_weights_not_a_dict(X, weights):
    with pytest.raises(TypeError, match="weights must be a dict named like a PyTorch state_dict, got"):
        functional.lstm(X, weights)


def test_error_empty_dict(X):
    with pytest.raises(ValueError, match="weights is empty"):
        functional.lstm(X, {})


@pytest.mark.parametrize("cell", CELLS)
def test_error_x_feature_count(cell):
    w = random_weights(cell, 3, 2)
    with pytest.raises(ValueError, match="X has 4 features, but weight_ih_l0 expects 3 features"):
        run(cell, np.zeros((2, 3, 4)), w)
    with pytest.raises(ValueError, match="X has 1 features, but weight_ih_l0 expects 3 features"):
        run(cell, np.zeros((2, 3)), w)
    with pytest.raises(ValueError, match="X has 2 features"):
        run(cell, [np.zeros((3, 2)), np.zeros((1, 2))], w)


def test_error_x_invalid_is_reported_by_input_checks():
    w = lstm_weights()
    with pytest.raises(ValueError, match="NaN"):
        functional.lstm(np.full((1, 2, 3), np.nan), w)
    with pytest.raises(ValueError, match="length 0"):
        functional.lstm([np.zeros((0, 3))], w)
    with pytest.raises(ValueError, match="no sequences"):
        functional.lstm([], w)


@pytest.mark.parametrize("shape", [(1, 2, 5), (2, 3, 5), (2, 2, 4), (2, 5)])
def test_error_h0_c0_shape(X, shape):
    w = lstm_weights(n_layers=2)  # expected (2, 2, 5)
    with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers \* num_directions, N, H\) = \(2, 2, 5\)"):
        functional.lstm(X, w, h0=np.zeros(shape))
    with pytest.raises(ValueError, match=r"c0 must have shape .* = \(2, 2, 5\), got"):
        functional.lstm(X, w, h0=np.zeros((2, 2, 5)), c0=np.zeros(shape))
    with pytest.raises(ValueError, match=r"h0 must have shape"):
        functional.gru(X, random_weights("gru", 3, 5, 2), h0=np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_error_h0_c0_non_finite(X, bad):
    h0 = np.zeros((1, 2, 5))
    h0[0, 1, 2] = bad
    with pytest.raises(ValueError, match="h0 contains NaN or infinity"):
        functional.lstm(X, lstm_weights(), h0=h0)
    with pytest.raises(ValueError, match="h0 contains NaN or infinity"):
        functional.rnn(X, random_weights("rnn_tanh", 3, 5), h0=h0)
    with pytest.raises(ValueError, match="c0 contains NaN or infinity"):
        functional.lstm(X, lstm_weights(), c0=h0)


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "Tanh", None])
def test_error_rnn_nonlinearity(X, nonlinearity):
    with pytest.raises(ValueError, match=r"nonlinearity must be 'tanh' or 'relu', got"):
        functional.rnn(X, random_weights("rnn_tanh", 3, 5), nonlinearity=nonlinearity)


# ---------------------------------------------------------------------------------------------------------------
# Live comparisons with PyTorch (skipped when it is not installed).


def import_torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def torch_module(torch, cell, F, H, L, bidirectional, bias, seed):
    torch.manual_seed(seed)
    kw = dict(num_layers=L, bidirectional=bidirectional, bias=bias, batch_first=True)
    if cell == "lstm":
        module = torch.nn.LSTM(F, H, **kw)
    elif cell == "gru":
        module = torch.nn.GRU(F, H, **kw)
    else:
        module = torch.nn.RNN(F, H, nonlinearity=cell.split("_")[1], **kw)
    return module.double().eval()


def torch_run(torch, module, cell, X, h0, c0):
    """Run a batch_first module on a 3-D array or a list (pack_sequence); return numpy (output, h_n, c_n)."""
    ragged = isinstance(X, list)
    if ragged:
        inp = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(x) for x in X], enforce_sorted=False)
    else:
        inp = torch.from_numpy(X)
    state = None if h0 is None else torch.from_numpy(h0)
    if cell == "lstm" and h0 is not None:
        state = (state, torch.from_numpy(c0))
    with torch.no_grad():
        out, hn = module(inp, state)
    h_n, c_n = (hn[0].numpy(), hn[1].numpy()) if cell == "lstm" else (hn.numpy(), None)
    if ragged:
        padded, lengths = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        out = [padded[i, :n].numpy() for i, n in enumerate(lengths.tolist())]
    else:
        out = out.numpy()
    return out, h_n, c_n


def random_configs(n, seed=12345):
    # Cell k % 4; for each cell, j = k // 4 walks ragged (j % 2) x h0 ((j // 2) % 2) through all four pairs.
    rng = np.random.default_rng(seed)
    configs = []
    for k in range(n):
        configs.append(
            dict(
                cell=CELLS[k % 4],
                L=int(rng.integers(1, 4)),
                bidirectional=bool(rng.integers(2)),
                bias=bool(k % 3),
                ragged=bool((k // 4) % 2),
                with_h0=bool((k // 8) % 2),
                F=int(rng.integers(1, 5)),
                H=int(rng.integers(1, 7)),
                seed=k,
            )
        )
    return configs


CONFIGS = random_configs(24)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k != "seed"))
def test_live_torch_random_configs(config):
    torch = import_torch()
    c = config
    cell, L, H, F = c["cell"], c["L"], c["H"], c["F"]
    D = 2 if c["bidirectional"] else 1
    module = torch_module(torch, cell, F, H, L, c["bidirectional"], c["bias"], c["seed"])
    rng = np.random.default_rng(c["seed"])
    if c["ragged"]:
        X = [rng.standard_normal((int(n), F)) for n in rng.integers(1, 8, size=int(rng.integers(1, 6)))]
        N = len(X)
    else:
        N = int(rng.integers(1, 5))
        X = rng.standard_normal((N, int(rng.integers(1, 7)), F))
    h0 = c0 = None
    if c["with_h0"]:
        h0 = rng.standard_normal((L * D, N, H))
        c0 = rng.standard_normal((L * D, N, H)) if cell == "lstm" else None
    weights = {k: v.numpy() for k, v in module.state_dict().items()}
    assert c["bias"] == ("bias_ih_l0" in weights)
    expected = torch_run(torch, module, cell, X, h0, c0)
    got = run(cell, X, weights, h0, c0)
    if c["ragged"]:
        assert isinstance(got[0], list) and len(got[0]) == N
        for y, e in zip(got[0], expected[0]):
            np.testing.assert_allclose(y, e, **tol(np.float64))
    else:
        assert isinstance(got[0], np.ndarray) and got[0].shape == expected[0].shape
        np.testing.assert_allclose(got[0], expected[0], **tol(np.float64))
    np.testing.assert_allclose(got[1], expected[1], **tol(np.float64))
    if cell == "lstm":
        np.testing.assert_allclose(got[2], expected[2], **tol(np.float64))


@pytest.mark.parametrize("cell", CELLS)
def test_live_torch_tensors_as_weights(cell):
    torch = import_torch()
    module = torch_module(torch, cell, 3, 4, 2, True, True, seed=1)
    rng = np.random.default_rng(1)
    X = [rng.standard_normal((n, 3)) for n in (3, 5, 1)]
    expected = torch_run(torch, module, cell, X, None, None)
    numpy_weights = {k: v.numpy() for k, v in module.state_dict().items()}
    state_dict = module.state_dict()  # plain tensors
    parameters = dict(module.named_parameters())  # Parameters with requires_grad=True
    assert all(p.requires_grad for p in parameters.values())
    for weights in (state_dict, parameters):
        got = run(cell, X, weights)
        ref = run(cell, X, numpy_weights)
        for y, e, r in zip(got[0], expected[0], ref[0]):
            np.testing.assert_allclose(y, e, **tol(np.float64))
            np.testing.assert_array_equal(y, r)
        np.testing.assert_allclose(got[1], expected[1], **tol(np.float64))
    # float32 tensors with float32 X compute in float32.
    module32 = module.float()
    got = run(cell, [x.astype(np.float32) for x in X], dict(module32.named_parameters()))
    assert got[0][0].dtype == np.float32
    for y, e in zip(got[0], expected[0]):
        np.testing.assert_allclose(y, e, rtol=1e-4, atol=1e-5)


def test_live_torch_proj_size_is_rejected():
    torch = import_torch()
    module = torch.nn.LSTM(3, 5, proj_size=2, batch_first=True)
    with pytest.raises(ValueError, match="Unexpected key 'weight_hr_l0'"):
        functional.lstm(np.zeros((1, 2, 3)), module.state_dict())


def test_torch_tensors_as_initial_states_and_inputs():
    torch = pytest.importorskip("torch")
    w = lstm_weights()
    X = torch.zeros(2, 3, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(1, 2, 5, dtype=torch.float64, requires_grad=True)
    out, (h_n, _) = functional.lstm(X, w, h0=h0, c0=h0)
    expected, _ = functional.lstm(np.zeros((2, 3, 3)), w)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("bad", [np.zeros((1, 2, 5)) + 1j, np.full((1, 2, 5), "a")], ids=["complex", "str"])
def test_error_non_numeric_initial_state(X, bad):
    with pytest.raises(TypeError, match="h0 must hold real numbers"):
        functional.lstm(X[:2], lstm_weights(), h0=bad)


def test_error_key_with_leading_zero(X):
    w = lstm_weights()
    w["weight_ih_l00"] = w["weight_ih_l0"]
    with pytest.raises(ValueError, match="Unexpected key 'weight_ih_l00'"):
        functional.lstm(X, w)
