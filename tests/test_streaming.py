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
    with pytest.raises(ValueError, match="X_t has no rows"):
        reg.predict_step(np.zeros((0, 3)), None)
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
    wrong_size = StreamState([np.zeros((2, 5)), np.zeros((2, 5))], [np.zeros((2, 5)), np.zeros((2, 5))])
    with pytest.raises(ValueError, match=r"state of layer 1 must be C-contiguous float64 arrays of shape \(2, 4\)"):
        reg.predict_step(x, wrong_size)
    wrong_dtype = StreamState([a.astype(np.float32) for a in state.h], [a.astype(np.float32) for a in state.c])
    with pytest.raises(ValueError, match="state of layer 0 must be C-contiguous float64"):
        reg.predict_step(x, wrong_dtype)
    fortran = StreamState([np.asfortranarray(a) for a in state.h], state.c)
    with pytest.raises(ValueError, match=r"state of layer 0 must be C-contiguous .* \(not C-contiguous\)"):
        reg.predict_step(x, fortran)
    with pytest.raises(ValueError, match="same model"):
        state.put([0], other.init_state(1))


def test_stream_state_checks_its_arrays_and_streams():
    lstm, gru = fitted(RNNRegressor, "lstm"), fitted(RNNRegressor, "gru")
    state = lstm.predict_step(np.arange(9.0).reshape(3, 3), lstm.init_state(3))[1]
    with pytest.raises(ValueError, match="2-D"):
        StreamState([])
    with pytest.raises(ValueError, match="2-D"):
        StreamState([np.zeros(5)])
    with pytest.raises(ValueError, match="c must hold arrays shaped as h's"):
        StreamState([np.zeros((2, 5))], [np.zeros((2, 4))])
    with pytest.raises(ValueError, match="same streams"):
        StreamState([np.zeros((2, 5)), np.zeros((3, 4))])
    assert state.take([]).n_samples == 0
    assert_array_equal(state.take([True, False, True]).h[1], state.h[1][[0, 2]])
    assert_array_equal(state.take(-1).c[0], state.c[0][[2]])
    for bad in ([3], [-4], [0, 5]):
        with pytest.raises(ValueError, match=r"indices must be in \[-3, 3\)"):
            state.take(bad)
    with pytest.raises(ValueError, match=r"mask of streams must have shape \(3,\)"):
        state.take([True, False])
    with pytest.raises(TypeError, match="integers or a boolean mask"):
        state.take([0.5])
    with pytest.raises(ValueError, match="put replaces 2 streams, but the other state holds 1"):
        state.put([0, 1], state.take([2]))  # used to copy the one stream into both
    with pytest.raises(ValueError, match="same model"):
        StreamState.concatenate([state, gru.init_state(1)])  # used to drop the LSTM's c
    with pytest.raises(ValueError, match="same model"):
        StreamState.concatenate([gru.init_state(1), state])
    with pytest.raises(ValueError, match="same model"):
        StreamState.concatenate([state, fitted(RNNRegressor, "lstm", hidden_layer_sizes=(5,)).init_state(1)])
    both = StreamState.concatenate([state, state.take([0])])
    assert both.n_samples == 4
    assert_array_equal(both.c[1][3], state.c[1][0])


# ---- the compiled step itself (fastrnn._stream.Stepper) against the NumPy oracle ----


def oracle_step(cell, activation, layers, dense, out_activation, x, h, c):
    """One step through tests/reference.py's sequence oracle (T = 1) and a NumPy head."""
    import reference as ref

    forward = getattr(ref, f"{cell}_forward")
    batch_sizes = np.array([x.shape[0]])
    new_h, new_c, z = [], [], x.astype(np.float64)
    for layer, w in enumerate(layers):
        w64 = [a.astype(np.float64) for a in w]
        states = (h[layer].astype(np.float64),) + ((c[layer].astype(np.float64),) if cell == "lstm" else ())
        result = forward(z, batch_sizes, *w64, *states, activation=activation)
        new_h.append(result[1])
        if cell == "lstm":
            new_c.append(result[2])
        z = result[1]
    for i, (coef, intercept) in enumerate(dense):
        z = z @ coef.astype(np.float64) + intercept
        if i < len(dense) - 1:
            z = np.maximum(z, 0)
    if dense and out_activation == "logistic":
        z = 1 / (1 + np.exp(-z))
    elif dense and out_activation == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        z = e / e.sum(axis=1, keepdims=True)
    return z, new_h, new_c


def random_stepper_case(cell, dtype, n, F, sizes, dense_sizes, rng):
    import reference as ref

    layers, width = [], F
    for H in sizes:
        p = ref.random_params(cell, width, H, rng, dtype)
        layers.append((p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]))
        width = H
    dense = []
    for fan_out in dense_sizes:
        dense.append((rng.standard_normal((width, fan_out)).astype(dtype), rng.standard_normal(fan_out).astype(dtype)))
        width = fan_out
    x = rng.standard_normal((n, F)).astype(dtype)
    h = tuple(rng.standard_normal((n, H)).astype(dtype) for H in sizes)
    c = tuple(rng.standard_normal((n, H)).astype(dtype) for H in sizes) if cell == "lstm" else None
    return layers, dense, x, h, c


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell, activation", CELLS)
@pytest.mark.parametrize("n, F, sizes, dense_sizes, out_activation", [
    (1, 1, (1,), (), "identity"),            # the smallest: one stream, one feature, one unit, no head
    (1, 8, (64,), (1,), "identity"),         # the benchmarked step
    (3, 5, (7, 4), (3, 2), "softmax"),       # odd sizes, two layers, a hidden dense layer
    (2, 3, (9,), (1,), "logistic"),
    (5, 2, (3, 6, 5), (4,), "softmax"),
    (17, 3, (9,), (1,), "identity"),         # more streams than fr_dots takes: BLAS's GEMM
])
def test_stepper_matches_oracle(cell, activation, dtype, n, F, sizes, dense_sizes, out_activation):
    from fastrnn._stream import Stepper

    rng = np.random.default_rng(hash((cell, activation, n, F, sizes)) % 2**32)
    layers, dense, x, h, c = random_stepper_case(cell, dtype, n, F, sizes, dense_sizes, rng)
    copies = [a.copy() for a in h + (c or ())]
    out, new_h, new_c = Stepper(cell, activation, layers, dense, out_activation).step(x, h, c)
    want, want_h, want_c = oracle_step(cell, activation, layers, dense, out_activation, x, h, c)
    rtol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    assert out.dtype == dtype and out.shape == want.shape
    assert_allclose(out, want, **rtol)
    for got, ref_ in zip(new_h + (new_c or ()), want_h + want_c):
        assert got.dtype == dtype
        assert_allclose(got, ref_, **rtol)
    assert (new_c is None) == (cell != "lstm")
    for before, after in zip(copies, h + (c or ())):
        assert_array_equal(before, after)  # the state given is never written


def test_stepper_reads_the_weights_live():
    """The step reads the weights where the model keeps them: an in-place update is seen by the next step."""
    from fastrnn._stream import Stepper

    rng = np.random.default_rng(3)
    layers, dense, x, h, c = random_stepper_case("gru", np.float64, 2, 3, (4,), (2,), rng)
    stepper = Stepper("gru", "tanh", layers, dense, "identity")
    before = stepper.step(x, h, c)[0]
    dense[0][1][:] += 1.0
    layers[0][3][:] = 0.0
    assert_allclose(stepper.step(x, h, c)[0], oracle_step("gru", "tanh", layers, dense, "identity", x, h, c)[0],
                    rtol=1e-12)
    assert not np.allclose(stepper.step(x, h, c)[0], before)


def test_stepper_errors():
    from fastrnn._stream import Stepper

    rng = np.random.default_rng(4)
    layers, dense, x, h, c = random_stepper_case("lstm", np.float64, 2, 3, (4,), (1,), rng)
    with pytest.raises(ValueError, match="unknown cell"):
        Stepper("lstn", "tanh", layers, dense)
    with pytest.raises(ValueError, match="at least one recurrent layer"):
        Stepper("lstm", "tanh", [], dense)
    with pytest.raises(ValueError, match=r"weight_hh_l0 must be a C-contiguous float64 array of shape \(16, 4\)"):
        Stepper("lstm", "tanh", [(layers[0][0], layers[0][1][:, :3], *layers[0][2:])], dense)
    with pytest.raises(ValueError, match="coef_0 must be a C-contiguous float64"):
        Stepper("lstm", "tanh", layers, [(dense[0][0].astype(np.float32), dense[0][1])])
    with pytest.raises(ValueError, match="bias_ih_l0 must be a C-contiguous"):
        Stepper("lstm", "tanh", [(*layers[0][:2], np.ones((2, 8)), layers[0][3])], dense)
    with pytest.raises(TypeError, match="float32 or float64"):
        Stepper("lstm", "tanh", [tuple(a.astype(np.int64) for a in layers[0])], [])
    stepper = Stepper("lstm", "tanh", layers, dense)
    with pytest.raises(TypeError):
        stepper.step([[0.0] * 3] * 2, h, c)
    for bad_x in (x.astype(np.float32), x[:, :2].copy(), x[None]):
        with pytest.raises(ValueError, match=r"X_t must be a float64 array of shape \(n_samples, 3\)"):
            stepper.step(bad_x, h, c)
    assert_array_equal(stepper.step(np.asfortranarray(x), h, c)[0], stepper.step(x, h, c)[0])
    with pytest.raises(ValueError, match="does not belong to this model"):
        stepper.step(x, h, None)
    with pytest.raises(ValueError, match="X_t has 1 rows, but state holds 2 streams"):
        stepper.step(x[:1].copy(), h, c)
    with pytest.raises(ValueError, match=r"state of layer 0 must be C-contiguous float64 arrays of shape \(2, 4\)"):
        stepper.step(x, h, (c[0][:, ::2],))
    with pytest.raises(ValueError, match=r"state of layer 0 must be C-contiguous float64"):
        stepper.step(x, ([[0.0] * 4] * 2,), c)
    bad = x.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        stepper.step(bad, h, c)
    layers[0][1][0, 0] = np.nan  # a corrupted model: NaN propagates to the state
    with pytest.raises(FloatingPointError, match="non-finite"):
        stepper.step(x, h, c)


def unaligned_copy(a):
    """A C-contiguous copy of a whose memory is not aligned to its itemsize."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = np.frombuffer(raw[1:].data, dtype=a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_stepper_byte_order_and_alignment():
    """Arrays the C code would misread are refused (byte-swapped x or state) or copied first (unaligned x)."""
    from fastrnn._stream import Stepper

    rng = np.random.default_rng(4)
    layers, dense, x, h, c = random_stepper_case("lstm", np.float64, 2, 3, (4,), (1,), rng)
    stepper = Stepper("lstm", "tanh", layers, dense)
    want = stepper.step(x, h, c)
    with pytest.raises(ValueError, match="X_t must be a float64 array"):
        stepper.step(x.astype(">f8"), h, c)
    with pytest.raises(ValueError, match="state of layer 0 must be C-contiguous float64"):
        stepper.step(x, (h[0].astype(">f8"),), c)
    with pytest.raises(ValueError, match="state of layer 0 must be C-contiguous float64"):
        stepper.step(x, h, (unaligned_copy(c[0]),))
    got = stepper.step(unaligned_copy(x), h, c)
    for a, b in zip((got[0], *got[1], *got[2]), (want[0], *want[1], *want[2])):
        assert_array_equal(a, b)
    # Through the estimator, a byte-swapped or unaligned X_t is converted, with the same result.
    reg = fitted(RNNRegressor, "lstm")
    x = np.random.default_rng(5).standard_normal((2, 3))
    y, _ = reg.predict_step(x, None)
    for other in (x.astype(">f8"), unaligned_copy(x)):
        assert_array_equal(reg.predict_step(other, None)[0], y)


def test_stepper_stream_takes_the_common_case_only():
    """Stepper.stream (predict_step's fast path) steps a 2-D array of the model's dtype and width from a state of
    the given class, as step does, and declines (None) everything else, before any work."""
    from fastrnn._stream import Stepper

    rng = np.random.default_rng(6)
    layers, dense, x, h, c = random_stepper_case("lstm", np.float64, 2, 3, (4,), (1,), rng)
    stepper = Stepper("lstm", "tanh", layers, dense)
    state = StreamState(h, c)
    out, new = stepper.stream(x, state, StreamState)
    want = stepper.step(x, h, c)
    assert type(new) is StreamState
    assert_array_equal(out, want[0])
    for a, b in zip(new.h + new.c, want[1] + want[2]):
        assert_array_equal(a, b)
    for bad_x in (x.tolist(), x.astype(np.float32), x.astype(">f8"), x[:, :2].copy(), x[None], x[0]):
        assert stepper.stream(bad_x, state, StreamState) is None
    assert stepper.stream(x, None, StreamState) is None
    assert stepper.stream(x, {"h": h, "c": c}, StreamState) is None
    with pytest.raises(ValueError, match="X_t has 1 rows, but state holds 2 streams"):
        stepper.stream(x[:1].copy(), state, StreamState)
