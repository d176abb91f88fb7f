"""Pickle and joblib: the saved state holds numpy arrays and built-ins only, is versioned, and resumes training."""
import copy
import io
import pickle
import pickletools

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastrnn import RNNClassifier, RNNRegressor
from fastrnn._estimators import PERSISTENCE_FORMAT, BaseRNN

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BUILTINS = (type(None), bool, int, float, complex, str, bytes)


def data(n=24, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = [rng.standard_normal((t, 2)).astype(dtype) for t in rng.integers(2, 7, n)]
    return X, np.array(["cat", "dog", "eel"])[np.arange(n) % 3], rng.standard_normal((n, 2))


MODELS = {
    "adam_classifier": lambda: RNNClassifier(cell="lstm", hidden_layer_sizes=(4, 3), dense_layer_sizes=(3,),
                                             max_iter=2, random_state=0),
    "sgd_regressor": lambda: RNNRegressor(cell="gru", hidden_layer_sizes=(4,), solver="sgd", max_iter=2,
                                          random_state=0, learning_rate="adaptive"),
    "early_stopping_bidirectional": lambda: RNNClassifier(cell="rnn", bidirectional=True, hidden_layer_sizes=(3,),
                                                          early_stopping=True, validation_fraction=0.25,
                                                          max_iter=3, random_state=0),
}


def fit(name, dtype=np.float64):
    X, y_clf, y_reg = data(dtype=dtype)
    model = MODELS[name]()
    return model.fit(X, y_clf if isinstance(model, RNNClassifier) else y_reg), X, (
        y_clf if isinstance(model, RNNClassifier) else y_reg)


def check_plain(value, where="state"):
    """Only built-ins, containers of them, and numpy arrays and scalars of non-object dtype (or of built-ins)."""
    if isinstance(value, BUILTINS) or isinstance(value, np.generic):
        return
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            for v in value.ravel():
                check_plain(v, where + "[...]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            check_plain(k, where + " key")
            check_plain(v, f"{where}[{k!r}]")
        return
    raise AssertionError(f"{where} is a {type(value).__module__}.{type(value).__name__}, not a built-in or array")


def pickled_globals(model):
    """Every class or function a pickle of model refers to (protocol 2 names them in GLOBAL opcodes)."""
    return {arg for op, arg, _ in pickletools.genops(pickle.dumps(model, protocol=2)) if op.name == "GLOBAL"}


@pytest.mark.parametrize("name", MODELS)
def test_state_holds_only_arrays_and_builtins(name):
    model, X, y = fit(name)
    state = model.__getstate__()
    check_plain(state)
    assert state["_fastrnn_format"] == PERSISTENCE_FORMAT == 1
    assert {"_network", "_optimizer", "_rng"} <= set(state) and "_label_encoder" not in state
    assert set(state["_network"]) == {"config", "params"}
    assert state["_network"]["params"].ndim == 1
    # The pickle refers to the estimator's class and to numpy's array machinery, nothing else.
    allowed_modules = {"numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy._core.numeric",
                       "numpy.core.numeric", "_codecs", "copyreg", "builtins"}
    for ref in pickled_globals(model):
        module, qualname = ref.split(" ")
        assert module in allowed_modules or ref == f"fastrnn._estimators {type(model).__name__}", ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", MODELS)
def test_round_trip_predicts_and_trains_on_identically(name, dtype):
    model, X, y = fit(name, dtype)
    restored = pickle.loads(pickle.dumps(model))
    method = "predict_proba" if isinstance(model, RNNClassifier) else "predict"
    assert_array_equal(getattr(restored, method)(X), getattr(model, method)(X))
    assert restored._network.dtype == dtype
    assert restored.loss_curve_ == model.loss_curve_ and restored.n_iter_ == model.n_iter_
    if isinstance(model, RNNClassifier):
        assert_array_equal(restored.classes_, model.classes_)
    # The optimizer's moments and the random generator travel: partial_fit continues exactly.
    if not model.early_stopping:
        model.partial_fit(X, y)
        restored.partial_fit(X, y)
        assert_array_equal(restored._network.params, model._network.params)
    # warm_start after loading continues from the loaded weights (a new optimizer, as any warm fit).
    model.set_params(warm_start=True, max_iter=2)
    restored = pickle.loads(pickle.dumps(model))
    model.fit(X, y)
    restored.fit(X, y)
    assert_array_equal(restored._network.params, model._network.params)
    assert restored.n_iter_ == model.n_iter_ and len(restored.loss_curve_) == len(model.loss_curve_)


def test_joblib_and_memory_maps(tmp_path):
    model, X, y = fit("adam_classifier")
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    for mmap_mode in (None, "r"):
        loaded = joblib.load(path, mmap_mode=mmap_mode)
        assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
        loaded.partial_fit(X, y)  # read-only memory maps are copied: training writes into the parameters
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    buffer.seek(0)
    assert_array_equal(joblib.load(buffer).predict(X), model.predict(X))


def test_copies_are_independent():
    model, X, y = fit("adam_classifier")
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        before = model._network.params.copy()
        other.partial_fit(X, y)
        assert_array_equal(model._network.params, before)
        assert not np.array_equal(other._network.params, before)


def test_unfitted_estimators_pickle():
    model = RNNRegressor(hidden_layer_sizes=(3,), max_iter=1)
    state = model.__getstate__()
    assert state["_fastrnn_format"] == PERSISTENCE_FORMAT and "_network" not in state
    restored = pickle.loads(pickle.dumps(model))
    assert restored.get_params() == model.get_params()


def test_incompatible_format_fails_clearly(monkeypatch):
    model, X, _ = fit("adam_classifier")
    state = model.__getstate__()
    tampered = dict(state, _fastrnn_format=PERSISTENCE_FORMAT + 1, _fastrnn_version="9.9")
    blank = RNNClassifier.__new__(RNNClassifier)
    with pytest.raises(ValueError, match=r"saved by fastrnn 9\.9 in persistence format 2, but fastrnn .* reads "
                                         r"format 1 only"):
        blank.__setstate__(tampered)
    missing = {k: v for k, v in state.items() if k not in ("_fastrnn_format", "_fastrnn_version")}
    with pytest.raises(ValueError, match=r"\(unknown version\) in persistence format None"):
        blank.__setstate__(missing)
    # Through pickle itself: a pickle whose state carries another format version does not load.
    original = BaseRNN.__getstate__
    monkeypatch.setattr(BaseRNN, "__getstate__", lambda self: dict(original(self), _fastrnn_format=0))
    data = pickle.dumps(model)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="Cannot load this RNNClassifier.*format 0"):
        pickle.loads(data)
