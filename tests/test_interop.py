"""fastrnn.interop: PyTorch and Keras weights in and out, without either library.

The golden files in tests/fixtures/ (interop_*) were written by tests/fixtures/make_interop_fixtures.py with real
PyTorch, safetensors and Keras; those tests need none of them. Live comparisons with PyTorch run when it is
installed and skip otherwise.
"""
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.base import clone

from fastrnn import RNNClassifier, RNNRegressor, functional, interop

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TORCH_GOLDEN = ["lstm", "gru_bi", "rnn_relu", "rnn_tanh_bi", "lstm_float32", "gru_float32"]
KERAS_GOLDEN = ["lstm", "gru", "simplernn_relu", "lstm_relu_bi"]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def tol(dtype):
    return dict(rtol=1e-10, atol=1e-12) if np.dtype(dtype) == np.float64 else dict(rtol=1e-5, atol=1e-6)


def load(name):
    with np.load(FIXTURES / name) as data:
        return {k: data[k] for k in data.files}


def torch_golden(name):
    g = load(f"interop_torch_{name}.npz")
    g["weights"] = {k[2:]: v for k, v in g.items() if k.startswith("w/")}
    g["X"] = [x[:n] for x, n in zip(g["x"], g["lengths"])]
    return g


def random_state_dict(cell, F=3, H=4, n_layers=1, bidirectional=False, head=(2,), seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    G, D = GATES[cell], 2 if bidirectional else 1
    sd = {}
    for layer in range(n_layers):
        for d in range(D):
            s = f"_l{layer}" + ("_reverse" if d else "")
            F_l = F if layer == 0 else D * H
            sd["weight_ih" + s] = rng.uniform(-0.6, 0.6, (G * H, F_l)).astype(dtype)
            sd["weight_hh" + s] = rng.uniform(-0.6, 0.6, (G * H, H)).astype(dtype)
            sd["bias_ih" + s] = rng.uniform(-0.6, 0.6, G * H).astype(dtype)
            sd["bias_hh" + s] = rng.uniform(-0.6, 0.6, G * H).astype(dtype)
    widths = [D * H, *head]
    for i in range(len(head)):
        name = "head" if len(head) == 1 else f"head.{2 * i}"
        sd[f"{name}.weight"] = rng.uniform(-0.6, 0.6, (widths[i + 1], widths[i])).astype(dtype)
        sd[f"{name}.bias"] = rng.uniform(-0.6, 0.6, widths[i + 1]).astype(dtype)
    return sd


def sequences(n=5, F=3, seed=0, ragged=True):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 8, n) if ragged else [6] * n
    return [rng.standard_normal((t, F)) for t in lengths]


# ---------------------------------------------------------------------------------------------------------------
# 1. PyTorch golden files


@pytest.mark.parametrize("name", TORCH_GOLDEN)
def test_from_torch_matches_pytorch_golden_outputs(name):
    g = torch_golden(name)
    dtype = g["x"].dtype
    kwargs = dict(nonlinearity=str(g["nonlinearity"]))
    reg = interop.from_torch(g["weights"], task="regression", **kwargs)
    assert isinstance(reg, RNNRegressor)
    assert reg._network.dtype == dtype and reg.cell == str(g["cell"])
    logits = g["logits"]
    assert_allclose(reg.predict(g["X"]).reshape(logits.shape), logits, **tol(dtype))

    clf = interop.from_torch(g["weights"], task="classification", **kwargs)
    assert isinstance(clf, RNNClassifier)
    expected = softmax(logits, axis=1) if logits.shape[1] > 1 else np.hstack([1 - expit(logits), expit(logits)])
    assert_allclose(clf.predict_proba(g["X"]), expected, **tol(dtype))
    assert_array_equal(clf.predict(g["X"]), expected.argmax(1))


@pytest.mark.parametrize("name", TORCH_GOLDEN)
def test_round_trip_torch_fastrnn_torch_is_exact(name):
    g = torch_golden(name)
    est = interop.from_torch(g["weights"], task="regression", nonlinearity=str(g["nonlinearity"]))
    back = interop.to_torch(est)
    assert list(back) == list(g["weights"])
    for key, value in g["weights"].items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        assert_array_equal(back[key], value, err_msg=key)
    # The exported arrays are copies, not views of the estimator's parameters.
    back["weight_ih_l0"][:] = 0
    assert not np.all(est.rnn_weights_["weight_ih_l0"] == 0)


@pytest.mark.parametrize("name", ["lstm", "gru_bi", "rnn_relu"])
def test_task_none_gives_the_functional_weights(name):
    g = torch_golden(name)
    rnn = {k: v for k, v in g["weights"].items() if not k.startswith("head")}
    weights = interop.from_torch(g["weights"], head=False)
    assert list(weights) == list(rnn)
    for k in rnn:
        assert_array_equal(weights[k], rnn[k])
    cell = str(g["cell"])
    if cell == "lstm":
        _, (h_n, _) = functional.lstm(g["X"], weights)
    elif cell == "gru":
        _, h_n = functional.gru(g["X"], weights)
    else:
        _, h_n = functional.rnn(g["X"], weights, nonlinearity=str(g["nonlinearity"]))
    features = np.concatenate([h_n[-2], h_n[-1]], 1) if "_reverse" in "".join(weights) else h_n[-1]
    assert_allclose(features, g["features"], **tol(g["x"].dtype))


def test_from_torch_reads_npz_files_and_prefixed_keys(tmp_path):
    g = torch_golden("lstm")
    path = tmp_path / "model.npz"
    np.savez(path, **{("rnn." + k if not k.startswith("head") else "fc" + k[4:]): v
                      for k, v in g["weights"].items()})
    est = interop.from_torch(path, task="regression", prefix="rnn.", head="fc")
    assert_allclose(est.predict(g["X"]), g["logits"], **tol(np.float64))
    est2 = interop.from_torch(str(path), task="regression", prefix="rnn.", head="fc")
    assert_array_equal(est2.predict(g["X"]), est.predict(g["X"]))
    back = interop.to_torch(est, prefix="rnn.", head="fc")
    assert set(back) == set(np.load(path).files)


# ---------------------------------------------------------------------------------------------------------------
# 2. safetensors


@pytest.mark.parametrize("tag, dtype", [("F32", np.float32), ("F64", np.float64), ("F16", np.float32),
                                        ("BF16", np.float32)])
def test_read_safetensors_written_by_the_safetensors_library(tag, dtype):
    expected = load("interop_safetensors.npz")
    tensors = interop.read_safetensors(FIXTURES / f"interop_lstm_{tag}.safetensors")
    keys = [k[len(tag) + 1:] for k in expected if k.startswith(tag + "/") and not k.endswith("/logits")]
    assert sorted(tensors) == sorted(keys)
    for k in keys:
        assert tensors[k].dtype == dtype, k
        assert_array_equal(tensors[k], expected[f"{tag}/{k}"], err_msg=k)


@pytest.mark.parametrize("tag", ["F32", "F64", "F16", "BF16"])
def test_from_torch_reads_safetensors_files(tag):
    expected = load("interop_safetensors.npz")
    est = interop.from_torch(FIXTURES / f"interop_lstm_{tag}.safetensors", task="classification")
    assert est._network.dtype == (np.float64 if tag == "F64" else np.float32)
    logits = expected[f"{'F64' if tag == 'F64' else 'F32'}/logits"]
    assert_allclose(est.predict_proba(expected["x"]), softmax(logits, axis=1), **tol(est._network.dtype))


def _safetensors_bytes(header, data=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_read_safetensors_hand_written_and_big_endian_free(tmp_path):
    # Little-endian data whatever the machine; metadata is skipped; a bfloat16 value is the top of a float32.
    values = np.array([[1.5, -2.25], [0.1, 3e38]], dtype="<f4")
    bf16 = (np.array([1.0, -0.5], dtype="<f4").view("<u4") >> 16).astype("<u2")
    data = values.tobytes() + bf16.tobytes()
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
              "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]}}
    path = tmp_path / "t.safetensors"
    path.write_bytes(_safetensors_bytes(header, data))
    t = interop.read_safetensors(path)
    assert_array_equal(t["a"], values)
    assert t["a"].dtype == np.float32 and t["a"].flags.writeable
    assert_array_equal(t["b"], [1.0, -0.5])


@pytest.mark.parametrize("content, match", [
    (b"\x01\x02", "fewer than 8 bytes"),
    (struct.pack("<Q", 1000) + b"{}", "exceeds the file size"),
    (struct.pack("<Q", 3) + b"{x}", "not JSON"),
    (_safetensors_bytes({"w": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)),
     "tensor 'w' has dtype I64"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
     "tensor 'w' has data_offsets"),
    (_safetensors_bytes({"w": {"dtype": "F32", "shape": [4]}}, bytes(16)), "tensor 'w' must have"),
])
def test_read_safetensors_rejects_malformed_files(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        interop.read_safetensors(path)


def _entry(dtype="F32", shape=(1,), data_offsets=(0, 4), n_bytes=4):
    return _safetensors_bytes({"w": {"dtype": dtype, "shape": shape, "data_offsets": data_offsets}}, bytes(n_bytes))


@pytest.mark.parametrize("content, match", [
    (struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000, "header is nested too deeply"),
    (_entry(dtype=["F32"]), r"tensor 'w' has dtype \['F32'\]; expected a string"),
    (_entry(shape=2), "tensor 'w' has shape 2; expected a list of non-negative integers"),
    (_entry(shape=None), "tensor 'w' has shape None; expected a list"),
    (_entry(shape=[1.0]), r"tensor 'w' has shape \[1.0\]; expected a list"),
    (_entry(shape=[True]), r"tensor 'w' has shape \[True\]; expected a list"),
    (_entry(shape=[-1, -1]), r"tensor 'w' has shape \[-1, -1\]; expected a list"),
    (_entry(data_offsets=None), r"tensor 'w' has data_offsets None; expected \[begin, end\]"),
    (_entry(data_offsets="04"), r"tensor 'w' has data_offsets '04'; expected \[begin, end\]"),
    (_entry(data_offsets=[0.0, 4.0]), r"tensor 'w' has data_offsets \[0.0, 4.0\]; expected"),
    (_entry(data_offsets=[0, 4, 8], n_bytes=8), r"tensor 'w' has data_offsets \[0, 4, 8\]; expected"),
    (_entry(shape=[2 ** 64]), r"tensor 'w' has data_offsets \[0, 4\], which do not hold \(18446744073709551616,\)"),
    # (2**61 + 1) * 8 * 8 bytes is 2**67 + 64, which int64 arithmetic wraps around to the 64 bytes there are.
    (_entry("F64", [2 ** 61 + 1, 8], [0, 64], 64), r"tensor 'w' has data_offsets \[0, 64\], which do not hold"),
    (_entry(shape=[0, 2 ** 70], data_offsets=[0, 0]), "tensor 'w' has shape .*, which numpy cannot hold"),
], ids=["deep-nesting", "dtype-list", "shape-int", "shape-null", "shape-float", "shape-bool", "shape-negative",
        "offsets-null", "offsets-str", "offsets-float", "offsets-three", "shape-2**64", "size-wraps-int64",
        "empty-huge-dim"])
def test_read_safetensors_rejects_malformed_header_entries(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        interop.read_safetensors(path)


# ---------------------------------------------------------------------------------------------------------------
# 3. The estimators built are proper fitted estimators


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_imported_estimator_is_fitted_pickles_and_trains_on(task):
    sd = random_state_dict("gru", n_layers=2, head=(5, 3))
    est = interop.from_torch(sd, task=task, random_state=0, learning_rate_init=0.01)
    X = sequences(12)
    for attr in ("n_features_in_", "n_outputs_", "out_activation_", "loss_", "loss_curve_", "validation_scores_",
                 "validation_loss_curve_", "best_loss_", "best_validation_score_", "n_iter_", "t_",
                 "rnn_weights_", "coefs_", "intercepts_"):
        assert hasattr(est, attr), attr
    assert est.n_features_in_ == 3 and est.n_iter_ == 0 and est.loss_curve_ == []
    assert est.hidden_layer_sizes == (4, 4) and est.dense_layer_sizes == (5,) and est.learning_rate_init == 0.01
    assert [c.shape for c in est.coefs_] == [(4, 5), (5, 3)]
    assert_array_equal(est.coefs_[-1], sd["head.2.weight"].T)
    if task == "classification":
        assert_array_equal(est.classes_, [0, 1, 2])
        y = np.arange(12) % 3
    else:
        y = np.random.default_rng(0).standard_normal((12, 3))
    pred = est.predict(X)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.predict(X), pred)
    assert clone(est).get_params() == est.get_params()
    est.score(X, y)

    before = est.coefs_[-1].copy()
    est.partial_fit(X, y)
    assert est.n_iter_ == 1 and not np.array_equal(est.coefs_[-1], before)
    warm = interop.from_torch(sd, task=task, warm_start=True, max_iter=2, random_state=0)
    warm.fit(X, y)
    assert warm.n_iter_ == 2 and not np.array_equal(warm.coefs_[-1], before)


def test_classes_label_the_head_outputs_in_their_order():
    sd = random_state_dict("lstm", head=(3,))
    X = sequences(6)
    ref = interop.from_torch(sd, task="classification").predict_proba(X)  # classes 0, 1, 2
    est = interop.from_torch(sd, task="classification", classes=["b", "c", "a"])
    assert_array_equal(est.classes_, ["a", "b", "c"])  # sorted, as after a fit
    assert_allclose(est.predict_proba(X), ref[:, [2, 0, 1]], rtol=1e-14)
    assert_array_equal(est.predict(X), np.array(["b", "c", "a"])[ref.argmax(1)])


@pytest.mark.parametrize("classes", [None, [1, 0], ["yes", "no"]])
def test_binary_heads_with_one_or_two_logits(classes):
    X = sequences(6)
    sd1 = random_state_dict("rnn", head=(1,))
    p_pos = expit(interop.from_torch(sd1, task="regression").predict(X))  # probability of the second label
    est = interop.from_torch(sd1, task="classification", classes=classes)
    labels = np.array([0, 1] if classes is None else classes)
    order = np.argsort(labels)
    assert_array_equal(est.classes_, labels[order])
    assert_allclose(est.predict_proba(X), np.column_stack([1 - p_pos, p_pos])[:, order], rtol=1e-12)

    sd2 = random_state_dict("rnn", head=(2,))
    logits = interop.from_torch(sd2, task="regression").predict(X)
    est2 = interop.from_torch(sd2, task="classification", classes=classes)
    assert est2.n_outputs_ == 1 and est2.out_activation_ == "logistic"
    assert_allclose(est2.predict_proba(X), softmax(logits, axis=1)[:, order], rtol=1e-12)


def test_to_torch_naming_and_errors():
    X = sequences(8)
    y = np.arange(8) % 2
    est = RNNClassifier(cell="lstm", hidden_layer_sizes=(4, 3), dense_layer_sizes=(5, 2), max_iter=1,
                        random_state=0)
    with pytest.warns(Warning):
        est.fit(X, y)
    sd = interop.to_torch(est)
    assert [k for k in sd if k.startswith("head")] == ["head.0.weight", "head.0.bias", "head.2.weight",
                                                        "head.2.bias", "head.4.weight", "head.4.bias"]
    assert sd["head.4.weight"].shape == (1, 2) and sd["weight_hh_l1"].shape == (12, 3)
    assert "head.weight" not in interop.to_torch(est, head=None) and len(interop.to_torch(est, head=None)) == 8
    relu = RNNRegressor(cell="gru", activation="relu", hidden_layer_sizes=(3,), max_iter=1)
    with pytest.warns(Warning):
        relu.fit(X, np.arange(8.0))
    with pytest.raises(ValueError, match="activation='relu'"):
        interop.to_torch(relu)
    with pytest.raises(TypeError, match="RNNClassifier or RNNRegressor"):
        interop.to_torch({"weight_ih_l0": 1})
    with pytest.raises(TypeError, match="head must be a str .* or None to leave the head out, got int"):
        interop.to_torch(est, head=5)
    with pytest.raises(TypeError, match="head must be a str .*, got bool"):
        interop.to_torch(est, head=False)
    with pytest.raises(TypeError, match="prefix must be a str .*, got NoneType"):
        interop.to_torch(est, prefix=None)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        interop.to_torch(RNNRegressor())


# ---------------------------------------------------------------------------------------------------------------
# 4. Errors name the key


def _without(sd, key):
    return {k: v for k, v in sd.items() if k != key}


@pytest.mark.parametrize("change, match", [
    (lambda sd: _without(sd, "weight_hh_l0"), "weight_hh_l0"),
    (lambda sd: _without(sd, "weight_ih_l1"), "weight_ih_l1"),
    (lambda sd: _without(sd, "bias_hh_l0"), "bias_hh_l0"),
    (lambda sd: {**sd, "weight_ih_l0": sd["weight_ih_l0"][:, :2].T}, r"weight_ih_l0.*shape"),
    (lambda sd: {**sd, "bias_ih_l1": sd["bias_ih_l1"][:3]}, r"bias_ih_l1.*shape"),
    (lambda sd: {**sd, "weight_hr_l0": np.zeros((4, 2))}, "'weight_hr_l0'.*proj_size"),
    (lambda sd: {**sd, "batch_norm.weight": np.zeros(3)}, "Unexpected key 'batch_norm.weight'"),
    (lambda sd: {**sd, "head.weight": sd["head.weight"][:, :3]}, r"head.weight must have shape \(out_features, 4\)"),
    (lambda sd: {**sd, "head.bias": sd["head.bias"][:1]}, r"head.bias must have shape \(2,\)"),
    (lambda sd: {**sd, "weight_ih_l0": np.full_like(sd["weight_ih_l0"], np.nan)}, "weight_ih_l0.*NaN"),
    (lambda sd: {**sd, "weight_hh_l0": np.zeros((5, 4))}, r"weight_hh_l0.*shape"),
])
def test_from_torch_errors_name_the_key(change, match):
    sd = change(random_state_dict("lstm", n_layers=2, head=(2,)))
    with pytest.raises(ValueError, match=match):
        interop.from_torch(sd, task="regression")


def test_from_torch_option_errors():
    sd = random_state_dict("gru", head=(3,))
    with pytest.raises(ValueError, match="has a head: pass task="):
        interop.from_torch(sd)
    with pytest.raises(ValueError, match="task must be"):
        interop.from_torch(sd, task="ranking")
    with pytest.raises(ValueError, match="needs an output layer"):
        interop.from_torch(sd, task="regression", head=False)
    with pytest.raises(ValueError, match=r"\['hidden_layer_sizes'\] are read from the weights"):
        interop.from_torch(sd, task="regression", hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="3 outputs, which does not fit 2 classes"):
        interop.from_torch(sd, task="classification", classes=[0, 1])
    with pytest.raises(ValueError, match="distinct labels"):
        interop.from_torch(sd, task="classification", classes=[0, 1, 1])
    with pytest.raises(ValueError, match="classes is for task='classification'"):
        interop.from_torch(sd, task="regression", classes=[0, 1, 2])
    with pytest.raises(ValueError, match="torch.nn.GRU has no nonlinearity"):
        interop.from_torch(sd, task="regression", cell="gru", nonlinearity="relu")
    # The cell inferred from the weights is checked too.
    with pytest.raises(ValueError, match="nonlinearity='relu' is for torch.nn.RNN only; torch.nn.GRU has no"):
        interop.from_torch(sd, task="regression", nonlinearity="relu")
    with pytest.raises(ValueError, match="torch.nn.LSTM has no nonlinearity"):
        interop.from_torch(random_state_dict("lstm"), task="regression", nonlinearity="relu")
    with pytest.raises(ValueError, match=r"cell must be one of .* got \['gru'\]"):
        interop.from_torch(sd, task="regression", cell=["gru"])
    with pytest.raises(TypeError, match="prefix must be a str .*, got NoneType"):
        interop.from_torch(sd, task="regression", prefix=None)
    with pytest.raises(ValueError, match=r"Unexpected key 'lstm.weight_ih_l0'.*prefix='lstm.'\?"):
        interop.from_torch({"lstm." + k: v for k, v in sd.items()}, task="regression")
    with pytest.raises(ValueError, match="no key 'fc.weight'"):
        interop.from_torch(sd, task="regression", head="fc")
    with pytest.raises(ValueError, match="expected a .npz or .safetensors"):
        interop.from_torch("weights.pt")
    with pytest.raises(TypeError, match="state_dict"):
        interop.from_torch(42)
    with pytest.raises(ValueError, match="G = 4 \\(LSTM\\), 3 \\(GRU\\) or 1"):
        interop.from_torch({"weight_ih_l0": np.zeros((8, 3)), "weight_hh_l0": np.zeros((8, 4))})
    with pytest.raises(ValueError, match="weight_hh_l0.*shape"):  # an explicit cell that does not fit
        interop.from_torch(sd, task="regression", cell="lstm")
    # strict=False ignores foreign keys; an explicit head overrides the head keys.
    extra = {**sd, "embedding.weight": np.zeros((5, 3))}
    assert isinstance(interop.from_torch(extra, task="regression", strict=False), RNNRegressor)
    est = interop.from_torch(sd, task="regression", head={"weight": np.ones((1, 4)), "bias": np.zeros(1)})
    assert est.n_outputs_ == 1
    est = interop.from_torch(sd, task="regression", head=[(np.ones((2, 4)), None), (np.ones((1, 2)), np.ones(1))])
    assert est.dense_layer_sizes == (2,) and est.intercepts_[0].tolist() == [0, 0]


def test_dtype_choice():
    sd32 = random_state_dict("rnn", dtype=np.float32)
    assert interop.from_torch(sd32, task="regression")._network.dtype == np.float32
    assert interop.from_torch(sd32, task="regression", dtype=np.float64)._network.dtype == np.float64
    sd16 = {k: v.astype(np.float16) for k, v in sd32.items()}
    assert interop.from_torch(sd16, task="regression")._network.dtype == np.float32
    mixed = {**sd32, "head.bias": sd32["head.bias"].astype(np.float64)}
    assert interop.from_torch(mixed, task="regression")._network.dtype == np.float64
    with pytest.raises(ValueError, match="dtype must be"):
        interop.from_torch(sd32, task="regression", dtype=np.int32)


# ---------------------------------------------------------------------------------------------------------------
# 5. Live PyTorch (skipped without it)


@pytest.mark.parametrize("kind, bidirectional, num_layers, dtype", [
    ("LSTM", False, 2, "float64"), ("GRU", True, 1, "float64"), ("RNN_RELU", False, 1, "float64"),
    ("RNN_TANH", True, 2, "float32"), ("LSTM", False, 1, "float32"),
])
def test_live_torch_both_directions(kind, bidirectional, num_layers, dtype):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    make = {"LSTM": lambda: torch.nn.LSTM(3, 6, **kwargs), "GRU": lambda: torch.nn.GRU(3, 6, **kwargs),
            "RNN_RELU": lambda: torch.nn.RNN(3, 6, nonlinearity="relu", **kwargs),
            "RNN_TANH": lambda: torch.nn.RNN(3, 6, **kwargs)}[kind]
    rnn = make().to(tdtype).eval()
    D = 2 if bidirectional else 1
    head = torch.nn.Sequential(torch.nn.Linear(6 * D, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4)).to(tdtype)
    X = [x.astype(dtype) for x in sequences(7, seed=1)]

    def torch_logits(rnn, head):
        packed = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(x) for x in X], enforce_sorted=False)
        with torch.no_grad():
            _, state = rnn(packed)
            h_n = state[0] if isinstance(state, tuple) else state
            return head(torch.cat([h_n[-2], h_n[-1]], 1) if bidirectional else h_n[-1]).numpy()

    logits = torch_logits(rnn, head)
    est = interop.from_torch(rnn, head=head, task="classification")
    assert est._network.dtype == np.dtype(dtype)
    assert_allclose(est.predict_proba(X), softmax(logits.astype(np.float64), axis=1), **tol(dtype))
    # Back to torch: fresh modules load the exported dict strictly and compute the same.
    sd = interop.to_torch(est)
    rnn2, head2 = make().to(tdtype).eval(), torch.nn.Sequential(
        torch.nn.Linear(6 * D, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4)).to(tdtype)
    rnn2.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items() if not k.startswith("head.")})
    head2.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in sd.items() if k.startswith("head.")})
    assert_array_equal(torch_logits(rnn2, head2), logits)


def test_live_torch_module_options():
    torch = pytest.importorskip("torch")
    lstm = torch.nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        interop.from_torch(lstm)
    rnn = torch.nn.RNN(3, 4, nonlinearity="relu", bias=False).double()
    with pytest.raises(ValueError, match="contradicts the module"):
        interop.from_torch(rnn, nonlinearity="tanh")
    weights = interop.from_torch(rnn)  # task=None: functional weights, zero biases filled in
    assert_array_equal(weights["bias_ih_l0"], np.zeros(4))
    X = sequences(3)
    with torch.no_grad():
        _, h_n = rnn(torch.nn.utils.rnn.pack_sequence([torch.from_numpy(x) for x in X], enforce_sorted=False))
    assert_allclose(functional.rnn(X, weights, nonlinearity="relu")[1], h_n.numpy(), rtol=1e-10, atol=1e-12)
    # bfloat16 tensors are read as float32.
    bf = torch.nn.GRU(3, 4).to(torch.bfloat16)
    w = interop.from_torch(bf)
    assert w["weight_hh_l0"].dtype == np.float32
    assert_array_equal(w["weight_hh_l0"], bf.weight_hh_l0.float().detach().numpy())


def test_fastrnn_trained_model_runs_in_torch():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(0).standard_normal((20, 6, 2))
    y = X[:, :, 0].sum(1)
    est = RNNRegressor(cell="gru", hidden_layer_sizes=(5, 5), max_iter=3, random_state=0)
    with pytest.warns(Warning):
        est.fit(X, y)
    sd = interop.to_torch(est)
    gru = torch.nn.GRU(2, 5, num_layers=2, batch_first=True).double()
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items() if not k.startswith("head")})
    lin = torch.nn.Linear(5, 1).double()
    lin.load_state_dict({"weight": torch.from_numpy(sd["head.weight"]), "bias": torch.from_numpy(sd["head.bias"])})
    with torch.no_grad():
        out = lin(gru(torch.from_numpy(X))[1][-1]).numpy().ravel()
    assert_allclose(out, est.predict(X), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# 6. Keras: golden outputs of real Keras, hand-made layouts, and an independent NumPy GRU


def keras_golden(name):
    g = load(f"interop_keras_{name}.npz")
    n_layers = len({k.split("_")[0] for k in g if k.startswith("layer")})
    layers = [[g[f"layer{k}_{i}"] for i in range(sum(key.startswith(f"layer{k}_") for key in g))]
              for k in range(n_layers)]
    n_head = len({k.split("_")[0] for k in g if k.startswith("head")})
    head = [[g[f"head{k}_0"], g[f"head{k}_1"]] for k in range(n_head)]
    return g, layers, head


@pytest.mark.parametrize("name", KERAS_GOLDEN)
def test_from_keras_matches_keras_golden_outputs(name):
    g, layers, head = keras_golden(name)
    output_activation = str(g["output_activation"])
    task = "regression" if output_activation == "linear" else "classification"
    est = interop.from_keras(layers, str(g["cell"]), activation=str(g["activation"]),
                             bidirectional=bool(g["bidirectional"]), head=head, task=task)
    out = g["output"]
    if task == "regression":
        got = est.predict(g["x"]).reshape(out.shape)
    else:
        got = est.predict_proba(g["x"])
        got = got[:, 1:] if out.shape[1] == 1 else got
    assert_allclose(got, out, rtol=1e-10, atol=1e-12)


def keras_arrays(cell, F, H, seed=0, bias=True, reset_after=True):
    rng = np.random.default_rng(seed)
    G = GATES[cell]
    arrays = [rng.uniform(-0.7, 0.7, (F, G * H)), rng.uniform(-0.7, 0.7, (H, G * H))]
    if bias:
        shape = (2, G * H) if cell == "gru" and reset_after else (G * H,)
        arrays.append(rng.uniform(-0.7, 0.7, shape))
    return arrays


def test_from_keras_gate_layouts_by_hand():
    F, H = 3, 4
    # LSTM: Keras i, f, c, o columns are PyTorch's i, f, g, o rows; one bias, the recurrent bias is zero.
    k, rk, b = keras_arrays("lstm", F, H)
    w = interop.from_keras([k, rk, b], "LSTM")
    assert_array_equal(w["weight_ih_l0"], k.T)
    assert_array_equal(w["weight_hh_l0"], rk.T)
    assert_array_equal(w["bias_ih_l0"], b)
    assert_array_equal(w["bias_hh_l0"], np.zeros(4 * H))
    # GRU: Keras z, r, h -> PyTorch r, z, n, written out block by block.
    k, rk, b = keras_arrays("gru", F, H)
    z, r, n = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    w = interop.from_keras([k, rk, b], "gru")
    assert_array_equal(w["weight_ih_l0"], np.vstack([k[:, r].T, k[:, z].T, k[:, n].T]))
    assert_array_equal(w["weight_hh_l0"], np.vstack([rk[:, r].T, rk[:, z].T, rk[:, n].T]))
    assert_array_equal(w["bias_ih_l0"], np.concatenate([b[0, r], b[0, z], b[0, n]]))
    assert_array_equal(w["bias_hh_l0"], np.concatenate([b[1, r], b[1, z], b[1, n]]))
    # SimpleRNN, no bias; stacked layers.
    layers = [keras_arrays("rnn", F, H, seed=1, bias=False), keras_arrays("rnn", H, H, seed=2, bias=False)]
    w = interop.from_keras(layers, "SimpleRNN")
    assert list(w) == [f"{n}_l{i}" for i in range(2) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert_array_equal(w["weight_hh_l1"], layers[1][1].T)
    assert_array_equal(w["bias_ih_l1"], np.zeros(H))
    # Bidirectional: forward arrays then backward arrays.
    fwd, bwd = keras_arrays("lstm", F, H, seed=3), keras_arrays("lstm", F, H, seed=4)
    w = interop.from_keras([fwd + bwd], "lstm", bidirectional=True)
    assert_array_equal(w["weight_ih_l0_reverse"], bwd[0].T)
    assert_array_equal(w["bias_ih_l0"], fwd[2])


def numpy_keras_gru(x, kernel, recurrent_kernel, bias):
    """Keras's GRU with reset_after=True, from its documented equations (gates z, r, h in the columns)."""
    H = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], H))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[1]):
        mx = x[:, t] @ kernel + bias[0]
        mh = h @ recurrent_kernel + bias[1]
        z = sig(mx[:, :H] + mh[:, :H])
        r = sig(mx[:, H:2 * H] + mh[:, H:2 * H])
        hh = np.tanh(mx[:, 2 * H:] + r * mh[:, 2 * H:])
        h = z * h + (1 - z) * hh
    return h


def numpy_keras_lstm(x, kernel, recurrent_kernel, bias):
    H = recurrent_kernel.shape[0]
    h, c = np.zeros((x.shape[0], H)), np.zeros((x.shape[0], H))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(x.shape[1]):
        a = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


@pytest.mark.parametrize("cell, reference", [("gru", numpy_keras_gru), ("lstm", numpy_keras_lstm)])
def test_from_keras_against_numpy_keras_equations(cell, reference):
    x = np.random.default_rng(5).standard_normal((6, 7, 3))
    arrays = keras_arrays(cell, 3, 5, seed=6)
    dense = [np.random.default_rng(7).uniform(-1, 1, (5, 2)), np.array([0.1, -0.2])]
    est = interop.from_keras(arrays, cell, head=dense, task="regression")
    expected = reference(x, *arrays) @ dense[0] + dense[1]
    assert_allclose(est.predict(x), expected, rtol=1e-10, atol=1e-12)
    x32 = x.astype(np.float32)  # a float64 model computes float32 input in float64
    expected32 = reference(x32.astype(np.float64), *arrays) @ dense[0] + dense[1]
    assert_allclose(est.predict(x32), expected32, rtol=1e-10, atol=1e-12)
    est32 = interop.from_keras([a.astype(np.float32) for a in arrays], cell,
                               head=[a.astype(np.float32) for a in dense], task="regression")
    assert est32._network.dtype == np.float32
    assert_allclose(est32.predict(x), expected, rtol=1e-5, atol=1e-5)


def test_from_keras_errors():
    F, H = 3, 4
    with pytest.raises(ValueError, match=r"reset_after=False is not supported.*BEFORE the recurrent product"):
        interop.from_keras(keras_arrays("gru", F, H, reset_after=False), "gru", reset_after=False)
    with pytest.raises(ValueError, match=r"bias has shape \(12,\), the layout of reset_after=False"):
        interop.from_keras(keras_arrays("gru", F, H, reset_after=False), "gru")
    with pytest.raises(ValueError, match="hard_sigmoid"):
        interop.from_keras(keras_arrays("lstm", F, H), "lstm", recurrent_activation="hard_sigmoid")
    with pytest.raises(ValueError, match="activation must be"):
        interop.from_keras(keras_arrays("lstm", F, H), "lstm", activation="elu")
    with pytest.raises(ValueError, match="cell must be"):
        interop.from_keras(keras_arrays("lstm", F, H), "convlstm")
    k, rk, b = keras_arrays("lstm", F, H)
    with pytest.raises(ValueError, match=r"weights recurrent_kernel must have shape \(H, 4 \* H\)"):
        interop.from_keras([k, rk[:, :-1], b], "lstm")
    with pytest.raises(ValueError, match=r"weights kernel must have shape \(F, 16\)"):
        interop.from_keras([k[:, :-4], rk, b], "lstm")
    with pytest.raises(ValueError, match=r"weights\[1\] bias must have shape \(16,\)"):
        interop.from_keras([[k, rk, b], [np.zeros((H, 4 * H)), rk, b[:-1]]], "lstm")
    with pytest.raises(ValueError, match=r"weights\[1\] has 4 arrays"):
        interop.from_keras([[k, rk, b], [k, rk, b, b]], "lstm")
    with pytest.raises(ValueError, match="weight_ih_l1 must have 4 columns"):
        interop.from_keras([[k, rk, b], [k, rk, b]], "lstm")
    with pytest.raises(ValueError, match="for each direction"):
        interop.from_keras([[k, rk, b, k, rk]], "lstm", bidirectional=True)
    with pytest.raises(ValueError, match="a head was given: pass task="):
        interop.from_keras([k, rk, b], "lstm", head=[np.ones((H, 1)), np.ones(1)])
    with pytest.raises(ValueError, match=r"head\[0\] kernel \(transposed\) must have shape \(out_features, 4\)"):
        interop.from_keras([k, rk, b], "lstm", head=[np.ones((H + 1, 1)), np.ones(1)], task="regression")
    with pytest.raises(TypeError, match=r"head must be a Dense layer, .* or a list of those; got int"):
        interop.from_keras([k, rk, b], "lstm", head=5, task="regression")
    with pytest.raises(TypeError, match=r"head\[1\] must be a Dense layer or its get_weights\(\) .*; got int"):
        interop.from_keras([k, rk, b], "lstm", head=[[np.ones((H, 2)), np.ones(2)], 5], task="regression")


class _FakeKerasLayer:
    """Duck-typed Keras layer: get_weights() and get_config(), named like the Keras class."""

    def __init__(self, weights, **config):
        self._weights, self._config = weights, config

    def get_weights(self):
        return self._weights

    def get_config(self):
        return self._config


def test_from_keras_reads_layer_objects():
    GRU = type("GRU", (_FakeKerasLayer,), {})
    Bidirectional = type("Bidirectional", (_FakeKerasLayer,), {})
    Dense = type("Dense", (_FakeKerasLayer,), {})
    fwd, bwd = keras_arrays("gru", 3, 4, seed=1), keras_arrays("gru", 3, 4, seed=2)
    bi = Bidirectional(fwd + bwd, merge_mode="concat")
    bi.forward_layer = GRU(fwd, activation="tanh", recurrent_activation="sigmoid", reset_after=True)
    bi.backward_layer = GRU(bwd, activation="tanh", recurrent_activation="sigmoid", reset_after=True,
                            go_backwards=True)
    est = interop.from_keras(bi, head=Dense([np.ones((8, 1)), np.zeros(1)]), task="regression")
    assert est.bidirectional and est.cell == "gru"
    expected = interop.from_keras([fwd + bwd], "gru", bidirectional=True, head=[np.ones((8, 1)), np.zeros(1)],
                                  task="regression")
    X = sequences(4)
    assert_array_equal(est.predict(X), expected.predict(X))
    with pytest.raises(ValueError, match="reset_after=False"):
        interop.from_keras(GRU(keras_arrays("gru", 3, 4, reset_after=False), reset_after=False))
