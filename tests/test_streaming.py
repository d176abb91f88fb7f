"""Streaming prediction: init_state and predict_step (predict_proba_step) against predict on whole sequences."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from fastrnn import RNNClassifier, RNNRegressor
from fastrnn._estimators import StreamState

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CELLS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("lstm", "relu"), ("gru", "relu"), ("rnn", "relu")]


def tol(dtype):
    # Each step runs the same kernels on the same rows as predict does; only the grouping of rows into BLAS
    # calls differs, so the results agree to rounding (and are bit-identical with OpenBLAS).
    return dict(rtol=1e-12, atol=1e-14) if np.dtype(dtype) == np.float64 else dict(rtol=1e-5, atol=1e-6)


def ragged(n=7, F=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((t, F)).astype(dtype) for t in rng.integers(1, 9, n)]


def fitted(Estimator, cell="lstm", activation="tanh", dtype=np.float64, F=3, n_classes=3, **params):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((24, 5, F)).astype(dtype)
    if Estimator is RNNClassifier:
        y = np.array(["a", "b", "c", "d"][:n_classes])[np.arange(24) % n_classes]
    else:
        y = X[:, :, 0].sum(1) if n_classes == 1 else X[:, :, :2].sum(1)
    params = dict(dict(hidden_layer_sizes=(5, 4), dense_layer_sizes=(3,), max_iter=2, random_state=0), **params)
    return Estimator(cell=cell, activation=activation, **params).fit(X, y)


def stream_all(est, X, method="predict_step"):
    """Feed a 3-D X step by step; return the outputs after the last step."""
    state = est.init_state(X.shape[0])
    for t in range(X.shape[1]):
        y, state = getattr(est, method)(X[:, t], state)
    return y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell, activation", CELLS)
def test_step_by_step_equals_predict(cell, activation, dtype):
    X = np.random.default_rng(2).standard_normal((6, 7, 3)).astype(dtype)
    reg = fitted(RNNRegressor, cell, activation, dtype)
    out = stream_all(reg, X)
    assert out.dtype == dtype and out.shape == (6, 2)
    assert_allclose(out, reg.predict(X), **tol(dtype))

    clf = fitted(RNNClassifier, cell, activation, dtype)
    assert_allclose(stream_all(clf, X, "predict_proba_step"), clf.predict_proba(X), **tol(dtype))
    assert_array_equal(stream_all(clf, X), clf.predict(X))


def test_every_intermediate_step_is_the_prediction_of_the_prefix():
    X = np.random.default_rng(3).standard_normal((4, 6, 3))
    clf = fitted(RNNClassifier, "gru", n_classes=2)
    state = clf.init_state(4)
    for t in range(6):
        proba, state = clf.predict_proba_step(X[:, t], state)
        assert_allclose(proba, clf.predict_proba(X[:, :t + 1]), **tol(np.float64))
        assert proba.shape == (4, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_ragged_streams_feeding_subsets(cell, dtype):
    """Streams of different lengths in one state: each step feeds only the streams still running."""
    X = ragged(dtype=dtype)
    lengths = np.array([len(x) for x in X])
    clf = fitted(RNNClassifier, cell, dtype=dtype)
    state = clf.init_state(len(X))
    final = np.zeros((len(X), 3))
    for t in range(lengths.max()):
        alive = np.flatnonzero(lengths > t)
        x_t = np.stack([X[i][t] for i in alive])
        proba, sub = clf.predict_proba_step(x_t, state.take(alive))
        state = state.put(alive, sub)
        final[alive] = proba  # a stream's last value stays once it stops being fed
    assert_allclose(final, clf.predict_proba(X), **tol(dtype))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_ragged_streams_with_one_state_each_interleaved(cell):
    X = ragged(seed=4)
    reg = fitted(RNNRegressor, cell, n_classes=1)
    states = [reg.init_state() for _ in X]
    outputs = [None] * len(X)
    rng = np.random.default_rng(0)
    position = [0] * len(X)
    # Feed the streams in a random interleaving: states are independent, nothing is shared.
    while any(p < len(x) for p, x in zip(position, X)):
        i = rng.choice([j for j, x in enumerate(X) if position[j] < len(x)])
        outputs[i], states[i] = reg.predict_step(X[i][position[i]][None], states[i])
        position[i] += 1
    assert_allclose(np.concatenate(outputs), reg.predict(X), **tol(np.float64))


def test_new_streams_join_with_concatenate():
    X = np.random.default_rng(5).standard_normal((3, 4, 3))
    reg = fitted(RNNRegressor, "lstm")
    first = reg.init_state(2)
    for t in range(2):
        _, first = reg.predict_step(X[:2, t], first)
    # Stream 2 starts now, two steps late; the others go on.
    state = StreamState.concatenate([first, reg.init_state(1)])
    assert state.n_samples == 3
    for t in range(2):
        x_t = np.vstack([X[:2, t + 2], X[2:, t]])
        y, state = reg.predict_step(x_t, state)
    assert_allclose(y[:2], reg.predict(X[:2]), **tol(np.float64))
    assert_allclose(y[2:], reg.predict(X[2:, :2]), **tol(np.float64))


def test_state_is_not_modified_and_is_reusable():
    X = np.random.default_rng(6).standard_normal((2, 3, 3))
    reg = fitted(RNNRegressor, "lstm")
    state = reg.init_state(2)
    _, s1 = reg.predict_step(X[:, 0], state)
    copies = [a.copy() for a in s1.h + s1.c]
    y_a, s2a = reg.predict_step(X[:, 1], s1)
    y_b, s2b = reg.predict_step(X[:, 1], s1)  # the same state twice: same answer (no hidden state)
    assert_array_equal(y_a, y_b)
    for a, b in zip(s1.h + s1.c, copies):
        assert_array_equal(a, b)
    assert all(x is not y for x, y in zip(s2a.h, s1.h))
    assert len(state.h) == 2 and state.c is not None and state.h[0].shape == (2, 5) and state.h[1].shape == (2, 4)
    assert all(np.all(a == 0) for a in state.h + state.c)
    assert "n_samples=2" in repr(state)
    # None starts new streams; a StreamState pickles.
    y0, _ = reg.predict_step(X[:, 0])
    assert_array_equal(y0, reg.predict(X[:, :1]))
    restored = pickle.loads(pickle.dumps(s1))
    assert_array_equal(reg.predict_step(X[:, 1], restored)[0], y_a)


def test_univariate_streams_and_layouts():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((10, 6))  # (N, T) univariate
    reg = RNNRegressor(cell="gru", hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, X.sum(1))
    state = reg.init_state(10)
    for t in range(6):
        y, state = reg.predict_step(X[:, t], state)  # (n_samples,)
    assert y.shape == (10,)
    assert_allclose(y, reg.predict(X), **tol(np.float64))
    # data_layout="NCT": one step is still (n_samples, n_features).
    X3 = rng.standard_normal((10, 2, 6))
    nct = RNNRegressor(cell="lstm", hidden_layer_sizes=(4,), max_iter=2, random_state=0, data_layout="NCT")
    nct.fit(X3, X3[:, 0].sum(1))
    assert_allclose(stream_all(nct, X3.transpose(0, 2, 1)), nct.predict(X3), **tol(np.float64))


def test_float32_model_casts_the_step():
    X = np.random.default_rng(8).standard_normal((3, 4, 3))
    reg = fitted(RNNRegressor, "gru", dtype=np.float32)
    out = stream_all(reg, X)  # float64 steps into a float32 model
    assert out.dtype == np.float32
    assert_allclose(out, reg.predict(X), **tol(np.float32))
    assert_allclose(stream_all(reg, (3 * X).astype(int)), reg.predict((3 * X).astype(int)), **tol(np.float32))


def test_streaming_errors():
    reg = fitted(RNNRegressor, "lstm")
    state = reg.init_state(2)
    x = np.zeros((2, 3))
    with pytest.raises(NotFittedError):
        RNNRegressor().init_state()
    with pytest.raises(NotFittedError):
        RNNClassifier().predict_step(x, None)
    bi = fitted(RNNRegressor, "gru", bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional.*bidirectional"):
        bi.init_state()
    with pytest.raises(ValueError, match="unidirectional"):
        bi.predict_step(x, None)
    for pooling in ("mean", "max"):
        pooled = fitted(RNNClassifier, "rnn", pooling=pooling)
        with pytest.raises(ValueError, match=f"pooling='last'.*pooling='{pooling}'"):
            pooled.init_state()
        with pytest.raises(ValueError, match="pooling='last'"):
            pooled.predict_proba_step(x, None)
    for n in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            reg.init_state(n)
    with pytest.raises(ValueError, match="X_t has 2 features, but RNNRegressor is expecting 3 features"):
        reg.predict_step(np.zeros((2, 2)), state)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_features\)"):
        reg.predict_step(np.zeros((2, 1, 3)), state)
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_features\)"):
        reg.predict_step(np.zeros(3), state)  # one step of one stream is (1, 3), not (3,)
    with pytest.raises(ValueError, match="X_t has 3 rows, but state holds 2 streams"):
        reg.predict_step(np.zeros((3, 3)), state)
    with pytest.raises(ValueError, match="NaN or infinity"):
        reg.predict_step(np.array([[0, np.nan, 0], [0, 0, 0]]), state)
    with pytest.raises(ValueError, match="NaN or infinity"):
        reg.predict_step(np.array([[0, np.inf, 0], [0, 0, 0]]), state)
    with pytest.raises(TypeError, match="real numbers"):
        reg.predict_step(np.array([["a", "b", "c"]] * 2), state)
    with pytest.raises(TypeError, match="StreamState"):
        reg.predict_step(x, {"h": state.h})
    other = fitted(RNNRegressor, "gru")
    with pytest.raises(ValueError, match="does not belong to this model"):
        reg.predict_step(x, other.init_state(2))
    shallow = fitted(RNNRegressor, "lstm", hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="does not belong to this model"):
        reg.predict_step(x, shallow.init_state(2))
    wrong_size = StreamState([np.zeros((2, 5)), np.zeros((2, 5))], [np.zeros((2, 5)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"state of layer 1 must be float64 arrays of shape \(2, 4\)"):
        reg.predict_step(x, wrong_size)
    wrong_dtype = StreamState([a.astype(np.float32) for a in state.h], state.c)
    with pytest.raises(ValueError, match="state of layer 0 must be float64"):
        reg.predict_step(x, wrong_dtype)
    with pytest.raises(ValueError, match="same model"):
        state.put([0], other.init_state(1))
