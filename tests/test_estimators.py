"""Tests for fastrnn's estimators, RNNClassifier and RNNRegressor (DESIGN.md section 3)."""

import io
import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags, shuffle
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_classifiers_train,
    check_estimators_partial_fit_n_features,
    check_n_features_in,
    check_n_features_in_after_fitting,
    parametrize_with_checks,
)

from fastrnn import RNNClassifier, RNNRegressor, SequenceScaler
from fastrnn._estimators import EXPECTED_FAILED_CHECKS, BaseRNN
from fastrnn._network import Network

# scikit-learn's common checks with the default (64,) LSTM and 200 epochs take ~50 s; this smaller network with
# a larger step passes the same accuracy / R^2 thresholds of check_classifiers_train and check_regressors_train.
CHECK_PARAMS = dict(hidden_layer_sizes=(8,), max_iter=60, learning_rate_init=0.01)
# Tiny and quick, for the tests that only need a fitted model.
TINY = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)


# ---------------------------------------------------------------------------------------------------------------
# data


def _ragged(n, n_features=3, lengths=(4, 12), seed=0, dtype=np.float64):
    """n sequences of random lengths in [lengths[0], lengths[1]], each (T_i, n_features)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(lengths[0], lengths[1] + 1)), n_features)).astype(dtype)
            for _ in range(n)]


def _easy_labels(X):
    """A label sequence models learn in a few epochs: the sign of the mean of channel 0."""
    return np.array([int(np.asarray(x)[:, 0].mean() > 0) for x in X])


def _easy(n=40, ragged=True, seed=0, n_features=3, T=8):
    if ragged:
        X = _ragged(n, n_features, seed=seed)
    else:
        X = np.random.default_rng(seed).normal(size=(n, T, n_features))
    return X, _easy_labels(X)


def _flip_task(n, seed, noise=0.5):
    """Ragged noisy sequences whose sign flips once; label 1 when the flip is in the second half.

    The first sign is random, so neither the mean, the spread, the first or last value, nor any linear function
    of the (padded) values tells the classes apart: only the order of the steps does.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    for _ in range(n):
        T = int(rng.integers(10, 31))
        label = int(rng.integers(2))
        margin = max(2, T // 8)  # keep the flip clearly in one half (noise hides the exact step)
        if label == 0:
            k = int(rng.integers(1, int(np.floor(T / 2 - margin)) + 1))
        else:
            k = int(rng.integers(int(np.ceil(T / 2 + margin)), T))
        first = rng.choice([-1.0, 1.0])
        signal = np.where(np.arange(T) < k, first, -first)
        # Unscaled (offset 5, spread 3) so that the SequenceScaler in the pipeline has work to do.
        X.append((5.0 + 3.0 * (signal + noise * rng.standard_normal(T)))[:, None])
        y.append(label)
    return X, np.array(y)


def _weights(model):
    """Every fitted parameter as one vector (copied)."""
    return np.concatenate([v.ravel() for v in model.rnn_weights_.values()]
                          + [c.ravel() for c in model.coefs_] + [b.ravel() for b in model.intercepts_])


# ---------------------------------------------------------------------------------------------------------------
# 1. scikit-learn's common checks


@parametrize_with_checks(
    [RNNClassifier(**CHECK_PARAMS), RNNRegressor(**CHECK_PARAMS)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Where each expected failure must come from: the assertion that reads a 2-D X as (n_samples, n_features).
_FAILURE_SOURCES = {
    "check_n_features_in": (check_n_features_in, r"n_features_in_ == X\.shape\[1\]"),
    "check_n_features_in_after_fitting": (check_n_features_in_after_fitting, r"n_features_in_ == X\.shape\[1\]"),
    "check_estimators_partial_fit_n_features": (
        check_estimators_partial_fit_n_features, r"number of features changes between calls to partial_fit"),
    "check_classifiers_train": (check_classifiers_train, r"number of features in predict is different"),
}


def test_expected_failed_checks_are_known():
    assert set(EXPECTED_FAILED_CHECKS) == set(_FAILURE_SOURCES)
    assert all("2-D X is (N, T)" in reason for reason in EXPECTED_FAILED_CHECKS.values())


@pytest.mark.parametrize("Estimator, name", [
    (Estimator, name) for Estimator in (RNNClassifier, RNNRegressor) for name in sorted(_FAILURE_SOURCES)
    if not (Estimator is RNNRegressor and name == "check_classifiers_train")
])
def test_expected_failed_checks_fail_for_the_2d_reading_only(Estimator, name):
    """The xfails above must fail at the (n_samples, n_features) assertion, not earlier (e.g. on accuracy)."""
    check, where = _FAILURE_SOURCES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(AssertionError) as excinfo:
            check(Estimator.__name__, Estimator(**CHECK_PARAMS))
    frame = next(entry for entry in reversed(excinfo.traceback) if entry.name == check.__name__)
    assert re.search(where, str(excinfo.value) + str(frame.statement)), (str(excinfo.value), str(frame.statement))


@pytest.mark.parametrize("X_dtype", [np.float64, np.float32])
def test_check_classifiers_train_accuracy_part(X_dtype):
    """What check_classifiers_train asserts before its predict(X.T) assertion (valid (N, T) input here)."""
    X_m, y_m = make_blobs(n_samples=300, random_state=0)
    X_m, y_m = shuffle(X_m.astype(X_dtype), y_m, random_state=7)
    X_m = StandardScaler().fit_transform(X_m)
    problems = [(X_m[y_m != 2], y_m[y_m != 2]), (X_m, y_m)]
    for X, y in problems:
        clf = RNNClassifier(random_state=0, **CHECK_PARAMS)
        with pytest.raises(ValueError):
            clf.fit(X, y[:-1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
            clf.fit(X.tolist(), y.tolist())
        y_pred = clf.predict(X)
        assert y_pred.shape == (len(X),)
        assert accuracy_score(y, y_pred) > 0.83
        proba = clf.predict_proba(X)
        assert proba.shape == (len(X), len(np.unique(y)))
        assert_array_equal(np.argmax(proba, axis=1), y_pred)
        assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
        # The reason the check fails: X.T is len(X.T) univariate sequences of length len(X), which is valid.
        assert clf.predict(X.T).shape == (X.shape[1],)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_2d_input_is_univariate_sequences():
    rng = np.random.default_rng(0)
    X2 = rng.normal(size=(20, 7))
    y = _easy_labels(X2[:, :, None])
    a = RNNClassifier(**TINY).fit(X2, y)
    b = RNNClassifier(**TINY).fit(X2[:, :, None], y)
    assert a.n_features_in_ == 1
    assert_array_equal(_weights(a), _weights(b))
    # Any length is accepted at predict time (fit used 7 steps).
    assert a.predict(rng.normal(size=(3, 11))).shape == (3,)
    assert a.predict([rng.normal(size=4), rng.normal(size=9)]).shape == (2,)


def test_sklearn_tags():
    for est in (RNNClassifier(), RNNRegressor()):
        tags = get_tags(est)
        assert tags.input_tags.three_d_array is True
        assert tags.input_tags.two_d_array is True
        assert tags.input_tags.sparse is False
    assert get_tags(RNNRegressor()).target_tags.multi_output is True
    assert get_tags(RNNClassifier()).classifier_tags.multi_label is False


# ---------------------------------------------------------------------------------------------------------------
# 2. clone, Pipeline, GridSearchCV, cross_val_score on 3-D arrays and ragged lists


def test_clone_keeps_params_and_drops_fit():
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(5, 3), bidirectional=True, class_weight={0: 2.0, 1: 1.0},
                        max_iter=2, random_state=0)
    X, y = _easy(20)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    assert not hasattr(cloned, "_network") and not hasattr(cloned, "classes_")
    with pytest.raises(NotFittedError):
        cloned.predict(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ragged", [False, True], ids=["3d", "ragged"])
def test_pipeline_with_sequence_scaler(ragged):
    X, y = _easy(60, ragged=ragged, seed=1)
    # Unscaled inputs: the scaler must be what makes them usable.
    X = [100 + 50 * x for x in X] if ragged else 100 + 50 * X
    pipe = Pipeline([("scale", SequenceScaler()),
                     ("rnn", RNNClassifier(cell="gru", hidden_layer_sizes=(8,), max_iter=30,
                                           learning_rate_init=0.01, random_state=0))])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.predict_proba(X).shape == (60, 2)
    assert pipe.named_steps["rnn"].n_features_in_ == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ragged", [False, True], ids=["3d", "ragged"])
def test_grid_search(ragged):
    X, y = _easy(48, ragged=ragged, seed=2)
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), RNNClassifier(max_iter=5, random_state=0)),
        {"rnnclassifier__hidden_layer_sizes": [(3,), (5,)], "rnnclassifier__cell": ["gru", "rnn"]},
        cv=2,
    )
    search.fit(X, y)
    assert set(search.cv_results_["params"][0]) == {"rnnclassifier__hidden_layer_sizes", "rnnclassifier__cell"}
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_.named_steps["rnnclassifier"]
    assert best.hidden_layer_sizes == search.best_params_["rnnclassifier__hidden_layer_sizes"]
    assert best.rnn_weights_["weight_hh_l0"].shape[1] == best.hidden_layer_sizes[0]
    assert search.predict(X).shape == (48,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ragged", [False, True], ids=["3d", "ragged"])
def test_cross_val_score(ragged):
    X, y = _easy(60, ragged=ragged, seed=3)
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=0)
    scores = cross_val_score(clf, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,)
    assert scores.mean() > 0.75
    reg = RNNRegressor(cell="gru", hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=0)
    y_reg = np.array([np.asarray(x)[:, 0].mean() for x in X])
    r2 = cross_val_score(reg, X, y_reg, cv=3)
    assert r2.shape == (3,) and np.isfinite(r2).all()


# ---------------------------------------------------------------------------------------------------------------
# 3. pickle and joblib


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_pickle_and_joblib_round_trips(Estimator, tmp_path):
    X, y = _easy(30)
    y = y if Estimator is RNNClassifier else y + np.arange(30) / 30
    model = Estimator(cell="gru", hidden_layer_sizes=(5, 4), bidirectional=True, dense_layer_sizes=(3,),
                      max_iter=3, random_state=0).fit(X, y)
    method = "predict_proba" if Estimator is RNNClassifier else "predict"
    expected = getattr(model, method)(X)

    restored = pickle.loads(pickle.dumps(model))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    from_joblib = joblib.load(path)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    from_buffer = joblib.load(buffer)
    for copy in (restored, from_joblib, from_buffer):
        assert_array_equal(getattr(copy, method)(X), expected)
        assert_array_equal(copy.predict(X), model.predict(X))
        assert list(copy.rnn_weights_) == list(model.rnn_weights_)
        assert copy.loss_curve_ == model.loss_curve_

    # The training state (optimizer moments, random generator) travels too: training on continues identically.
    model.partial_fit(X, y)
    restored.partial_fit(X, y)
    assert_array_equal(_weights(restored), _weights(model))
    # The copy's parameters are its own: training it leaves the original alone.
    before = _weights(model)
    restored.partial_fit(X, y)
    assert_array_equal(_weights(model), before)


# ---------------------------------------------------------------------------------------------------------------
# 4. dtypes


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.int64, np.float64), (np.float16, np.float64)])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_dtypes(dtype, expected, n_classes):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(24, 5, 2)) * 3).astype(dtype)
    y = np.arange(24) % n_classes
    clf = RNNClassifier(hidden_layer_sizes=(4,), dense_layer_sizes=(3,), bidirectional=True, max_iter=2,
                        random_state=0).fit(X, y)
    reg = RNNRegressor(hidden_layer_sizes=(4,), dense_layer_sizes=(3,), max_iter=2, random_state=0)
    reg.fit(X, y.astype(float))
    for model in (clf, reg):
        arrays = list(model.rnn_weights_.values()) + model.coefs_ + model.intercepts_
        assert {a.dtype for a in arrays} == {np.dtype(expected)}
    # The network's dtype decides the outputs, whatever dtype X has at predict time.
    for X_pred in (X, X.astype(np.float64), X.astype(np.float32)):
        assert clf.predict_proba(X_pred).dtype == expected
        assert clf.predict_log_proba(X_pred).dtype == expected
        assert reg.predict(X_pred).dtype == expected
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-6)
    # Ragged float32 sequences stay float32 too; mixed float32/float64 becomes float64.
    ragged32 = _ragged(10, 2, dtype=np.float32)
    m32 = RNNClassifier(**TINY).fit(ragged32, np.arange(10) % 2)
    assert m32.rnn_weights_["weight_ih_l0"].dtype == np.float32
    mixed = ragged32[:5] + [x.astype(np.float64) for x in ragged32[5:]]
    assert RNNClassifier(**TINY).fit(mixed, np.arange(10) % 2).rnn_weights_["weight_ih_l0"].dtype == np.float64


# ---------------------------------------------------------------------------------------------------------------
# 5. errors


def _fitted(Estimator=RNNClassifier, n_features=5):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4, n_features))
    y = np.arange(12) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Estimator(**TINY).fit(X, y), X, y


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
@pytest.mark.parametrize("X, match", [
    (np.array([[[0.0], [np.nan]], [[1.0], [2.0]]]), "NaN"),
    (np.array([[[0.0], [np.inf]], [[1.0], [2.0]]]), "infinity"),
    ([np.zeros((3, 1)), np.array([[1.0], [-np.inf]])], "infinity in sequence 1"),
    ([np.zeros((3, 1)), np.array([[1.0], [np.nan]])], "NaN in sequence 1"),
    (np.empty((0, 4, 2)), "no sequences"),
    ([], "no sequences"),
    (np.empty((2, 0, 3)), "length 0"),
    ([np.zeros((3, 2)), np.zeros((0, 2))], "Sequence 1 has length 0"),
    ([np.zeros((3, 2)), np.zeros((3, 4))], "Sequence 1 has 4 features"),
    (np.zeros((2, 3, 4, 5)), "3-D"),
])
def test_invalid_X_raises_before_fitting(Estimator, X, match):
    y = np.arange(len(X)) % 2
    est = Estimator(**TINY)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "_network")


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_sparse_X_raises(Estimator):
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        Estimator(**TINY).fit(sparse.csr_matrix(np.ones((4, 3))), [0, 1, 0, 1])


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_invalid_X_at_predict(Estimator):
    model, X, y = _fitted(Estimator)
    with pytest.raises(ValueError, match=re.escape(
            f"X has 3 features, but {Estimator.__name__} is expecting 5 features as input.")):
        model.predict(X[:, :, :3])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.where(np.arange(5) == 2, np.nan, X))
    with pytest.raises(ValueError, match="length 0"):
        model.predict([X[0], X[1][:0]])
    with pytest.raises(ValueError, match="no sequences"):
        model.predict([])


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_mismatched_y_length(Estimator):
    X, y = _easy(10)
    with pytest.raises(ValueError, match="X has 10 sequences, but y has 9 samples"):
        Estimator(**TINY).fit(X, y[:-1])
    with pytest.raises(ValueError, match="X has 10 sequences, but y has 11 samples"):
        Estimator(**TINY).fit(X, np.r_[y, 0])


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
@pytest.mark.parametrize("params, name", [
    (dict(cell="foo"), "cell"),
    (dict(dropout=1.5), "dropout"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(4, -2)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=()), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(4.5,)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=-1), "hidden_layer_sizes"),
    (dict(dense_layer_sizes=(0,)), "dense_layer_sizes"),
    (dict(activation="sigmoid"), "activation"),
    (dict(recurrent_activation="tanh"), "recurrent_activation"),
    (dict(pooling="sum"), "pooling"),
    (dict(solver="rmsprop"), "solver"),
    (dict(batch_size=0), "batch_size"),
    (dict(max_iter=0), "max_iter"),
    (dict(learning_rate_init=0.0), "learning_rate_init"),
    (dict(clipnorm=0.0), "clipnorm"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(data_layout="TNF"), "data_layout"),
    (dict(bidirectional="yes"), "bidirectional"),
])
def test_invalid_parameters(Estimator, params, name):
    X, y = _easy(8)
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {Estimator.__name__}"):
        Estimator(**{**TINY, **params}).fit(X, y)


def test_invalid_estimator_specific_parameters():
    X, y = _easy(8)
    with pytest.raises(InvalidParameterError, match="The 'class_weight' parameter of RNNClassifier"):
        RNNClassifier(class_weight="auto", **TINY).fit(X, y)
    with pytest.raises(InvalidParameterError, match="The 'loss' parameter of RNNRegressor"):
        RNNRegressor(loss="absolute_error", **TINY).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_target_errors():
    X, y = _easy(10)
    with pytest.raises(ValueError, match="only one class"):
        RNNClassifier(**TINY).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="Unknown label type"):
        RNNClassifier(**TINY).fit(X, np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="1d array"):
        RNNClassifier(**TINY).fit(X, np.c_[y, y])
    with pytest.warns(DataConversionWarning):
        RNNClassifier(**{**TINY, "max_iter": 1}).fit(X, y[:, None])
    with pytest.raises(ValueError, match="The classes, \\[1\\], are not in class_weight"):
        RNNClassifier(class_weight={0: 1.0, 7: 2.0}, **TINY).fit(X, y)


def test_regressor_target_errors():
    X, y = _easy(10)
    with pytest.raises(ValueError, match="y must be numeric"):
        RNNRegressor(**TINY).fit(X, np.array(["a", "b"] * 5))
    with pytest.raises(ValueError, match="y must be numeric"):
        RNNRegressor(**TINY).fit(X, np.array(["a", 1.0] * 5, dtype=object))
    with pytest.raises(ValueError, match="NaN"):
        RNNRegressor(**TINY).fit(X, np.r_[np.nan, np.ones(9)])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        RNNRegressor(**TINY).fit(X, np.ones((10, 2, 2)))
    # Numbers in an object array are numbers (as scikit-learn's regressors).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = RNNRegressor(**TINY).fit(X, y.astype(object))
        b = RNNRegressor(**TINY).fit(X, y.astype(float))
    assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sample_weight_errors():
    X, y = _easy(10)
    with pytest.raises(ValueError, match="non-negative"):
        RNNClassifier(**TINY).fit(X, y, sample_weight=np.r_[-1.0, np.ones(9)])
    with pytest.raises(ValueError, match="non-zero"):
        RNNClassifier(**TINY).fit(X, y, sample_weight=np.zeros(10))
    with pytest.raises(ValueError, match="sample_weight"):
        RNNClassifier(**TINY).fit(X, y, sample_weight=np.ones(9))


def test_partial_fit_errors():
    X, y = _easy(12)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        RNNClassifier(**TINY).partial_fit(X, y)
    clf = RNNClassifier(**TINY).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=re.escape("y has labels not seen in the first fit or in `classes`: [2]")):
        clf.partial_fit(X, np.where(y == 0, 2, 1))
    with pytest.raises(ValueError, match="is not the same as on the first call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=re.escape("X has 2 features, but RNNClassifier is expecting 3")):
        clf.partial_fit([x[:, :2] for x in X], y)
    with pytest.raises(ValueError, match="only one class"):
        RNNClassifier(**TINY).partial_fit(X, np.zeros(12), classes=[0])
    with pytest.raises(ValueError, match="does not support early_stopping"):
        RNNClassifier(early_stopping=True, **TINY).partial_fit(X, y, classes=[0, 1])
    reg = RNNRegressor(**TINY).partial_fit(X, y)
    with pytest.raises(ValueError, match="y has 2 outputs, but RNNRegressor was fitted with 1"):
        reg.partial_fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="does not support early_stopping"):
        RNNRegressor(early_stopping=True, **TINY).partial_fit(X, y)


def _state_of(model):
    """What a failed call must leave as it was: every attribute (arrays compared by value), the weights, the
    optimizer's arrays and the random generator's state."""
    state = {k: v for k, v in vars(model).items() if k not in ("_network", "_optimizer", "_rng", "_label_encoder")}
    state["params"] = model._network.params.copy()
    state["optimizer"] = {k: np.copy(v) for k, v in vars(model._optimizer).items() if k != "params"}
    state["rng"] = model._rng.bit_generator.state
    return state


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            _assert_same_state(a[key], b[key])
        else:
            assert_array_equal(np.asarray(a[key], dtype=object) if isinstance(a[key], list) else a[key],
                               np.asarray(b[key], dtype=object) if isinstance(b[key], list) else b[key])


# Each of these used to change a fitted model before raising: classes_ from a y of one class; a new network from a
# refit whose checks failed after it was made (a validation split too small, class weights of 0, NaN or 1e308, an
# impossible network after n_features_in_ changed); a new optimizer and a drawn generator for a warm fit.
FAILING_FITS = {
    "one class": (dict(), lambda X, y: (X, np.ones(12, int)), {}),
    "validation split too small": (dict(early_stopping=True, validation_fraction=0.01), lambda X, y: (X, y), {}),
    "class weights of 0": (dict(class_weight={0: 0.0, 1: 0.0}), lambda X, y: (X, y), {}),
    "negative class weight": (dict(class_weight={0: -1.0, 1: 1.0}), lambda X, y: (X, y), {}),
    "NaN class weight": (dict(class_weight={0: np.nan, 1: 1.0}), lambda X, y: (X, y), {}),
    "class weights overflowing": (dict(class_weight={0: 1e308, 1: 1e308}), lambda X, y: (X, y), {}),
    "sample weights overflowing": (dict(), lambda X, y: (X, y), dict(sample_weight=np.full(12, 1e308))),
    "network too large": (dict(hidden_layer_sizes=(10**12,)), lambda X, y: (X[:, :, :1], y), {}),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("case", FAILING_FITS)
def test_a_failed_fit_leaves_a_fitted_classifier_as_it_was(case, warm_start):
    params, data, kwargs = FAILING_FITS[case]
    if warm_start and case in ("one class", "network too large"):
        pytest.skip("a warm fit keeps the classes and refuses another architecture: nothing fails late")
    X, y = np.random.default_rng(0).normal(size=(12, 5, 2)), np.arange(12) % 2
    clf = RNNClassifier(warm_start=warm_start, **TINY).fit(X, y)
    clf.partial_fit(X, y)  # an optimizer with moments, a generator that has drawn
    before, predicted, set_before = _state_of(clf), clf.predict_proba(X), clf.get_params()
    clf.set_params(**params)
    with pytest.raises((ValueError, MemoryError)):
        clf.fit(*data(X, y), **kwargs)
    clf.set_params(**set_before)
    _assert_same_state(_state_of(clf), before)
    assert_array_equal(clf.predict_proba(X), predicted)
    with pytest.raises(ValueError, match="not seen"):  # partial_fit too
        clf.partial_fit(X, np.where(y == 0, 5, 1))
    _assert_same_state(_state_of(clf), before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_failed_fit_of_a_regressor_leaves_it_as_it_was():
    X = np.random.default_rng(0).normal(size=(12, 5, 2))
    y = X[:, :, 0].sum(1)
    reg = RNNRegressor(warm_start=True, **TINY).fit(X, y)
    before, predicted = _state_of(reg), reg.predict(X)
    for bad in [dict(y=np.zeros((12, 0))), dict(y=np.c_[y, y]), dict(sample_weight=np.full(12, 1e308))]:
        with pytest.raises(ValueError):
            reg.fit(X, bad.get("y", y), sample_weight=bad.get("sample_weight"))
    reg.set_params(early_stopping=True, validation_fraction=0.01)
    with pytest.raises(ValueError, match="validation set of early_stopping is too small"):
        reg.fit(X, y)
    reg.set_params(early_stopping=False, validation_fraction=0.1)
    _assert_same_state(_state_of(reg), before)
    assert_array_equal(reg.predict(X), predicted)


@pytest.mark.parametrize("sizes", [dict(hidden_layer_sizes=(10**5,)), dict(hidden_layer_sizes=(10**12,)),
                                   dict(hidden_layer_sizes=(4, 10**18)), dict(dense_layer_sizes=(10**12,))])
def test_a_network_larger_than_memory_is_refused_before_allocating(sizes):
    # These used to try: numpy's MemoryError ("298 GiB"), or its ValueErrors for sizes past int64 ("array is too
    # big", "Maximum allowed dimension exceeded"); sizes that fit in address space but not in memory got the
    # process killed as training touched them.
    X, y = _easy(12)
    with pytest.raises(ValueError, match=r"parameters, whose weights and gradients alone need .* GiB, more than this "
                                         r"machine's .* GiB of memory; make hidden_layer_sizes or dense_layer_sizes"):
        RNNClassifier(**{**TINY, **sizes}).fit(X, y)


def test_weights_that_overflow_or_are_not_valid_class_weights_raise():
    X, y = _easy(12)
    with pytest.raises(ValueError, match="sample_weight sums to infinity in float64"):
        RNNClassifier(**TINY).fit(X, y, sample_weight=np.full(12, 1e308))
    with pytest.raises(ValueError, match="sample_weight times class_weight sums to infinity"):
        RNNClassifier(class_weight={0: 1e308, 1: 1e308}, **TINY).fit(X, y)
    for weight, shown in [(-1.0, "-1.0"), (np.nan, "nan"), (np.inf, "inf")]:
        with pytest.raises(ValueError, match=f"class_weight must be finite and non-negative, got {shown} for class 0"):
            RNNClassifier(class_weight={0: weight, 1: 1.0}, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="gives every sequence of y weight 0"):
        RNNClassifier(class_weight={0: 0.0, 1: 0.0}, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="at least one output"):
        RNNRegressor(**TINY).fit(X, np.zeros((12, 0)))
    for empty in ([], ()):  # used to be an IndexError; now scikit-learn's check of a weight per sequence
        with pytest.raises(ValueError, match="0 sample"):
            RNNRegressor(return_sequences=True, **TINY).fit(X, [np.zeros(len(x)) for x in X], sample_weight=empty)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("change", [dict(cell="gru"), dict(hidden_layer_sizes=(5,)), dict(bidirectional=True),
                                    dict(pooling="max"), dict(dense_layer_sizes=(3,)), dict(dropout=0.5)])
def test_warm_start_and_partial_fit_refuse_another_architecture(change):
    X, y = _easy(12)
    clf = RNNClassifier(warm_start=True, **TINY).fit(X, y)
    clf.set_params(**change)
    with pytest.raises(ValueError, match="warm_start and partial_fit continue from the fitted network"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="warm_start and partial_fit continue from the fitted network"):
        clf.partial_fit(X, y)
    # Without warm_start, fit starts a new network with the new architecture.
    clf.set_params(warm_start=False).fit(X, y)


def test_return_sequences_needs_a_target_per_step():
    X, y = _easy(6)  # one label per sequence
    for Estimator in (RNNClassifier, RNNRegressor):
        with pytest.raises(ValueError, match="return_sequences=True, y must hold one target per time step"):
            Estimator(return_sequences=True, **TINY).fit(X, y)


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_not_fitted(Estimator):
    X, _ = _easy(4)
    est = Estimator()
    methods = ["predict", "score"] + (["predict_proba", "predict_log_proba"] if Estimator is RNNClassifier else [])
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(est, method)(X, *([np.zeros(4)] if method == "score" else []))
    for attribute in ("rnn_weights_", "coefs_", "intercepts_"):
        with pytest.raises(NotFittedError):
            getattr(est, attribute)


def test_early_stopping_validation_set_too_small():
    X, y = _easy(6)
    with pytest.raises(ValueError, match="validation set of early_stopping is too small"):
        RNNClassifier(early_stopping=True, validation_fraction=0.1, **TINY).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_relu_activation_is_used_by_every_cell(cell):
    # activation='relu' used to be refused for LSTM and GRU; it now means Keras's activation for every cell.
    X, y = _easy(16)
    tanh = RNNClassifier(cell=cell, **TINY).fit(X, y)
    relu = RNNClassifier(cell=cell, activation="relu", **TINY).fit(X, y)
    assert np.isfinite(relu.predict_proba(X)).all()
    assert not np.allclose(relu.predict_proba(X), tanh.predict_proba(X))


# ---------------------------------------------------------------------------------------------------------------
# 6. learning what needs the order of the steps


@pytest.fixture(scope="module")
def flip_data():
    return _flip_task(400, seed=0), _flip_task(300, seed=1)


def _summary_features(X):
    return np.array([[x.mean(), x.std(), x[0, 0], x[-1, 0], x.min(), x.max(), len(x)] for x in X])


def _padded(X, T=30):
    P = np.zeros((len(X), T))
    for i, x in enumerate(X):
        P[i, :len(x)] = x[:, 0]
    return P


def test_flip_task_defeats_linear_models(flip_data):
    (X_train, y_train), (X_test, y_test) = flip_data
    assert 0.4 < y_train.mean() < 0.6 and 0.4 < y_test.mean() < 0.6
    for features in (_summary_features, _padded):
        linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        linear.fit(features(X_train), y_train)
        assert linear.score(features(X_test), y_test) < 0.65


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_flip_task_is_learned(flip_data, cell):
    (X_train, y_train), (X_test, y_test) = flip_data
    model = make_pipeline(SequenceScaler(), RNNClassifier(cell=cell, hidden_layer_sizes=(16,), max_iter=60,
                                                           learning_rate_init=0.003, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.95
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    linear.fit(_summary_features(X_train), y_train)
    assert model.score(X_test, y_test) > linear.score(_summary_features(X_test), y_test) + 0.25


# ---------------------------------------------------------------------------------------------------------------
# 7. regression


@pytest.fixture(scope="module")
def regression_data():
    X_train, X_test = _ragged(300, 1, lengths=(5, 15), seed=10), _ragged(200, 1, lengths=(5, 15), seed=11)
    targets = lambda X: np.array([[x[:, 0].sum(), x[-1, 0] - x[0, 0]] for x in X])  # noqa: E731
    return X_train, targets(X_train), X_test, targets(X_test)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("output", [0, 1], ids=["sum", "last_minus_first"])
def test_regressor_learns(regression_data, output):
    X_train, Y_train, X_test, Y_test = regression_data
    reg = RNNRegressor(cell="gru", hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01,
                       random_state=0).fit(X_train, Y_train[:, output])
    prediction = reg.predict(X_test)
    assert prediction.shape == (len(X_test),)
    assert reg.score(X_test, Y_test[:, output]) > 0.9
    assert reg.n_outputs_ == 1 and reg.out_activation_ == "identity"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_multi_output(regression_data):
    X_train, Y_train, X_test, Y_test = regression_data
    reg = RNNRegressor(cell="gru", hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01,
                       random_state=0).fit(X_train, Y_train)
    assert reg.n_outputs_ == 2
    assert reg.coefs_[-1].shape == (16, 2)
    prediction = reg.predict(X_test)
    assert prediction.shape == (len(X_test), 2)
    for k in range(2):
        assert 1 - ((prediction[:, k] - Y_test[:, k]) ** 2).sum() / ((Y_test[:, k] - Y_test[:, k].mean()) ** 2).sum() \
            > 0.8
    # A column y stays a column.
    column = RNNRegressor(**TINY).fit(X_train[:20], Y_train[:20, :1])
    assert column.predict(X_test[:5]).shape == (5, 1)


# ---------------------------------------------------------------------------------------------------------------
# 8. a sequence of one step is a feed-forward net


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_single_step_sequences_learn_xor(cell):
    rng = np.random.default_rng(0)
    centres = rng.choice([-1.0, 1.0], size=(400, 2))
    X = (centres + 0.25 * rng.standard_normal((400, 2)))[:, None, :]  # (N, T=1, F=2)
    y = (centres[:, 0] != centres[:, 1]).astype(int)
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    linear = LogisticRegression().fit(X_train[:, 0], y_train)
    assert linear.score(X_test[:, 0], y_test) < 0.7
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(8,), max_iter=60, learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95
    # A list of one-step sequences is the same input.
    assert_array_equal(clf.predict_proba(list(X_test)), clf.predict_proba(X_test))


# ---------------------------------------------------------------------------------------------------------------
# 9. a ragged batch predicts each sequence as if it were alone


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("params", [
    dict(cell="lstm"),
    dict(cell="gru", bidirectional=True, pooling="mean"),
    dict(cell="rnn", hidden_layer_sizes=(5, 4), pooling="max", dense_layer_sizes=(3,)),
    dict(cell="lstm", hidden_layer_sizes=(4, 6), bidirectional=True, dropout=0.3),
], ids=["lstm", "gru-bi-mean", "rnn-stacked-max-dense", "lstm-bi-stacked-dropout"])
def test_ragged_batch_equals_one_by_one(params):
    X = _ragged(25, 3, lengths=(1, 15), seed=4)
    y = np.arange(25) % 3
    clf = RNNClassifier(**{**TINY, **params}).fit(X, y)
    batch = clf.predict_proba(X)
    alone = np.vstack([clf.predict_proba([x]) for x in X])
    assert_allclose(batch, alone, rtol=0, atol=1e-12)
    # Order of the batch does not matter either.
    order = np.random.default_rng(0).permutation(25)
    assert_allclose(clf.predict_proba([X[i] for i in order]), batch[order], rtol=0, atol=1e-12)
    reg = RNNRegressor(**{**TINY, **params}).fit(X, y.astype(float))
    assert_allclose(reg.predict(X), np.concatenate([reg.predict([x]) for x in X]), rtol=0, atol=1e-12)


def test_prediction_chunks_do_not_change_results(monkeypatch):
    import fastrnn._estimators as estimators
    X = _ragged(23, 2, lengths=(1, 9), seed=5)
    clf = RNNClassifier(**TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, np.arange(23) % 2)
    whole = clf.predict_proba(X)
    monkeypatch.setattr(estimators, "_PREDICT_CHUNK", 4)
    assert_allclose(clf.predict_proba(X), whole, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# 10. random_state


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_random_state_reproducibility(Estimator):
    X, y = _easy(40)
    # Everything random at once: initialisation, shuffling, dropout, the validation split.
    params = dict(cell="lstm", hidden_layer_sizes=(5, 4), dropout=0.4, early_stopping=True, max_iter=4,
                  batch_size=8, validation_fraction=0.25)
    a = Estimator(random_state=7, **params).fit(X, y)
    b = Estimator(random_state=7, **params).fit(X, y)
    c = Estimator(random_state=8, **params).fit(X, y)
    for name in a.rnn_weights_:
        assert_array_equal(a.rnn_weights_[name], b.rnn_weights_[name])
    assert_array_equal(_weights(a), _weights(b))
    assert a.loss_curve_ == b.loss_curve_
    assert a.validation_scores_ == b.validation_scores_
    assert not np.array_equal(_weights(a), _weights(c))
    # A RandomState instance is consumed (two fits differ) but reproducible from the same seed.
    d = Estimator(random_state=np.random.RandomState(3), **params)
    first = _weights(d.fit(X, y))
    second = _weights(d.fit(X, y))
    assert not np.array_equal(first, second)
    e = Estimator(random_state=np.random.RandomState(3), **params)
    assert_array_equal(_weights(e.fit(X, y)), first)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_in_lanes_at_two_threads_matches_one_thread(monkeypatch):
    # At 2 BLAS threads the estimator runs BLAS on one (small steps) and gives both threads to lanes
    # (fastrnn._threads.step_threads, lanes): the same model up to the order of the gradients' sums.
    from threadpoolctl import threadpool_limits

    from fastrnn import _cells

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 100, 4))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    params = dict(hidden_layer_sizes=(64,), batch_size=32, max_iter=2, random_state=0)
    counts, lanes = [], _cells.lanes
    monkeypatch.setattr(_cells, "lanes", lambda *args: counts.append(lanes(*args)) or counts[-1])
    with threadpool_limits(1, "blas"):
        one = RNNClassifier(**params).fit(X, y)
        assert set(counts) == {1}
    counts.clear()
    with threadpool_limits(2, "blas"):
        two = RNNClassifier(**params).fit(X, y)
        assert set(counts) == {2}
        assert_allclose(two.predict_proba(X), one.predict_proba(X), rtol=1e-9)
    assert_allclose(_weights(two), _weights(one), rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refit_restarts():
    X, y = _easy(20)
    clf = RNNClassifier(**TINY)
    first = _weights(clf.fit(X, y))
    curve = list(clf.loss_curve_)
    assert_array_equal(_weights(clf.fit(X, y)), first)
    assert clf.loss_curve_ == curve and clf.n_iter_ == 3


# ---------------------------------------------------------------------------------------------------------------
# 11. warm_start and partial_fit


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_continues_from_the_weights():
    X, y = _easy(40, seed=5)
    params = dict(cell="gru", hidden_layer_sizes=(6,), max_iter=5, learning_rate_init=0.01, random_state=0)
    warm = RNNClassifier(warm_start=True, **params).fit(X, y)
    first_run = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.n_iter_ == 10 and len(warm.loss_curve_) == 10
    assert warm.loss_curve_[:5] == first_run
    # The second run starts where the first ended, far below where a new network starts.
    assert warm.loss_curve_[5] < first_run[0]
    assert warm.loss_curve_[5] <= first_run[-1] * 1.05
    assert warm.loss_curve_[-1] < first_run[-1]
    # Without warm_start the second fit starts again from the seed's initialisation.
    cold = RNNClassifier(**params).fit(X, y)
    assert cold.loss_curve_ == first_run
    cold.fit(X, y)
    assert cold.loss_curve_ == first_run and cold.n_iter_ == 5
    # Ten epochs with warm_start have the loss curve of one fit of ten epochs, apart from the optimizer restart.
    ten = RNNClassifier(**{**params, "max_iter": 10}).fit(X, y)
    assert ten.loss_curve_[:5] == first_run


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_after_partial_fit_and_fit_then_partial_fit():
    X, y = _easy(20)
    clf = RNNClassifier(warm_start=True, **TINY).partial_fit(X, y, classes=[0, 1])
    clf.fit(X, y)
    assert clf.n_iter_ == 4
    clf2 = RNNClassifier(**TINY).fit(X, y)
    before = _weights(clf2)
    clf2.partial_fit(X, y)  # continues from fit's weights, no classes needed
    assert clf2.n_iter_ == 4
    assert not np.array_equal(_weights(clf2), before)


@pytest.mark.parametrize("labels", [["cat", "dog"], ["cat", "dog", "eel"], [3, 10], [-1, 0, 5]],
                         ids=["str-binary", "str-multi", "int-binary", "int-multi"])
def test_partial_fit(labels):
    labels = np.asarray(labels)
    X = _ragged(30, 2, seed=6)
    codes = np.arange(30) % len(labels)
    y = labels[codes]
    clf = RNNClassifier(**TINY)
    # The first batch lacks the last class: `classes` makes it known.
    first = codes != len(labels) - 1
    clf.partial_fit([x for x, keep in zip(X, first) if keep], y[first], classes=labels[::-1])
    assert clf.n_iter_ == 1 and clf.t_ == first.sum()
    assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.out_activation_ == ("logistic" if len(labels) == 2 else "softmax")
    for i in range(2, 5):
        clf.partial_fit(X, y)
        assert clf.n_iter_ == i
    assert clf.t_ == first.sum() + 3 * 30
    assert len(clf.loss_curve_) == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (30, len(labels))
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    assert_allclose(clf.predict_log_proba(X), np.log(proba))
    prediction = clf.predict(X)
    assert prediction.dtype == clf.classes_.dtype
    assert_array_equal(prediction, clf.classes_[proba.argmax(axis=1)])
    assert set(prediction) <= set(labels)
    # partial_fit never warns about convergence.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.partial_fit(X, y)


def test_partial_fit_regressor():
    X = _ragged(20, 2, seed=7)
    y = np.array([x[:, 0].sum() for x in X])
    reg = RNNRegressor(**TINY)
    for i in range(1, 4):
        reg.partial_fit(X, y)
        assert reg.n_iter_ == i
    assert reg.predict(X).shape == (20,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_string_labels_fit():
    X, y = _easy(30, seed=8)
    labels = np.array(["neg", "pos"])[y]
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01,
                        random_state=0).fit(X, labels)
    assert_array_equal(clf.classes_, ["neg", "pos"])
    assert clf.score(X, labels) > 0.8
    assert set(clf.predict(X)) <= {"neg", "pos"}


# ---------------------------------------------------------------------------------------------------------------
# 12. early stopping, convergence warning, verbose


def _record_epochs(monkeypatch):
    """Snapshots of the parameters after every epoch, and the validation split, of the next fits."""
    record = {"params": [], "split": None}
    epoch, split = BaseRNN._epoch, BaseRNN._split_validation

    def recording_epoch(self, *args, **kwargs):
        improved = epoch(self, *args, **kwargs)
        record["params"].append(self._network.params.copy())
        return improved

    def recording_split(self, *args, **kwargs):
        record["split"] = split(self, *args, **kwargs)
        return record["split"]

    monkeypatch.setattr(BaseRNN, "_epoch", recording_epoch)
    monkeypatch.setattr(BaseRNN, "_split_validation", recording_split)
    return record


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_early_stopping_restores_the_best_weights(Estimator, monkeypatch):
    record = _record_epochs(monkeypatch)
    X, y = _easy(80, seed=9)
    y = y if Estimator is RNNClassifier else np.array([x[:, 0].mean() for x in X])
    model = Estimator(cell="gru", hidden_layer_sizes=(8,), early_stopping=True, n_iter_no_change=3,
                      learning_rate_init=0.03, max_iter=200, random_state=0, validation_fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it stops early: no warning
        model.fit(X, y)
    assert model.n_iter_ < 200
    assert len(model.validation_scores_) == len(model.validation_loss_curve_) == len(model.loss_curve_) \
        == model.n_iter_ == len(record["params"])
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None
    best_epoch = int(np.argmax(model.validation_scores_))
    assert model.n_iter_ > best_epoch + 1  # it went on after the best epoch, then went back to it
    assert_array_equal(model._network.params, record["params"][best_epoch])
    assert not np.array_equal(model._network.params, record["params"][-1])
    # The restored model scores best_validation_score_ on the validation set (and training excluded it).
    train, val = record["split"]
    assert len(val) == 20 and len(np.intersect1d(train, val)) == 0
    assert model.score([X[i] for i in val], y[val]) == pytest.approx(model.best_validation_score_, abs=1e-12)
    assert model.t_ == model.n_iter_ * len(train)


def test_early_stopping_split_is_stratified(monkeypatch):
    record = _record_epochs(monkeypatch)
    X, _ = _easy(60, seed=10)
    y = np.r_[np.zeros(50, int), np.ones(10, int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNClassifier(early_stopping=True, validation_fraction=0.2, **TINY).fit(X, y)
    _, val = record["split"]
    assert y[val].sum() == 2 and len(val) == 12


def test_convergence_warning_when_max_iter_is_reached():
    X, y = _easy(20)
    for Estimator in (RNNClassifier, RNNRegressor):
        with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
            model = Estimator(**TINY).fit(X, y)
        assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
        assert model.loss_ == model.loss_curve_[-1]
        assert model.best_loss_ == min(model.loss_curve_)
        assert model.validation_scores_ is None and model.best_validation_score_ is None


def test_training_loss_plateau_stops_without_warning():
    X, y = _easy(20)
    # tol larger than any improvement: the first epoch sets the best loss, then n_iter_no_change + 1 epochs
    # without improvement stop the fit (MLP's rule).
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = RNNClassifier(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=2, max_iter=50,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ == 1 + 2 + 1


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_row_per_epoch(capsys, early_stopping):
    X, y = _easy(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=6, random_state=0, verbose=True,
                            early_stopping=early_stopping, validation_fraction=0.2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    header, rows = lines[0], [line for line in lines[1:] if re.match(r"\s*\d+\s", line)]
    assert "epoch" in header and "train loss" in header and "val loss" in header
    assert len(rows) == clf.n_iter_ == 6
    assert [int(row.split()[0]) for row in rows] == list(range(1, 7))
    assert rows[0].rstrip().endswith("*")  # the first epoch is always the best yet
    for row, loss in zip(rows, clf.loss_curve_):
        assert float(row.split()[1]) == pytest.approx(loss, abs=1e-6)
    marked = [row.rstrip().endswith("*") for row in rows]
    if early_stopping:
        scores = clf.validation_scores_
        expected = [s > max(scores[:i], default=-np.inf) for i, s in enumerate(scores)]
        for row, score in zip(rows, scores):
            assert float(row.split()[3]) == pytest.approx(score, abs=1e-4)
    else:
        curve = clf.loss_curve_
        expected = [c < min(curve[:i], default=np.inf) for i, c in enumerate(curve)]
        assert all(row.split()[2] == "-" for row in rows)
    assert marked == expected


def test_not_verbose_prints_nothing(capsys):
    X, y = _easy(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNClassifier(**TINY).fit(X, y)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------------------------
# 13. class_weight and sample_weight


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_class_weight():
    X, _ = _easy(30, seed=11)
    y = np.r_[np.zeros(22, int), np.ones(8, int)]
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    plain = _weights(RNNClassifier(**params).fit(X, y))
    balanced = _weights(RNNClassifier(class_weight="balanced", **params).fit(X, y))
    as_dict = _weights(RNNClassifier(class_weight={0: 1.0, 1: 3.0}, **params).fit(X, y))
    assert not np.allclose(balanced, plain)
    assert not np.allclose(as_dict, plain)
    # Class weights multiply into sample_weight.
    by_sample = _weights(RNNClassifier(**params).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0)))
    assert_array_equal(as_dict, by_sample)
    both = _weights(RNNClassifier(class_weight={0: 1.0, 1: 3.0}, **params).fit(X, y, sample_weight=np.full(30, 0.5)))
    assert_array_equal(both, _weights(RNNClassifier(**params).fit(X, y, sample_weight=np.where(y == 1, 1.5, 0.5))))
    # Unit class weights, and "balanced" on balanced classes (every weight exactly 1), change nothing.
    assert_array_equal(_weights(RNNClassifier(class_weight={0: 1, 1: 1}, **params).fit(X, y)), plain)
    y_even = np.arange(30) % 2
    assert_array_equal(_weights(RNNClassifier(class_weight="balanced", **params).fit(X, y_even)),
                       _weights(RNNClassifier(**params).fit(X, y_even)))


def test_class_weight_dict_in_partial_fit_batches_lacking_a_class():
    # Regression test: the class weights were computed from the batch's labels only, so a batch without class 0
    # and class_weight={0: 2.0} raised "The classes, [1], are not in class_weight".
    X, y = _easy(20, seed=17)
    ones = y == 1
    params = dict(hidden_layer_sizes=(4,), random_state=0)
    weighted = RNNClassifier(class_weight={0: 2.0}, **params).partial_fit(X, y, classes=[0, 1])
    weighted.partial_fit([x for x, one in zip(X, ones) if one], y[ones])
    by_sample = RNNClassifier(**params).partial_fit(X, y, classes=[0, 1], sample_weight=np.where(y == 0, 2.0, 1.0))
    by_sample.partial_fit([x for x, one in zip(X, ones) if one], y[ones])
    assert_array_equal(_weights(weighted), _weights(by_sample))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_sample_weight_scale(Estimator):
    # The loss is a weighted mean, so scaling every weight changes nothing but the L2 penalty, which is divided
    # by the batch's total weight (as MLP divides it by the batch size): weights c * 1 act as alpha / c.
    X, y = _easy(30, seed=12)
    params = dict(hidden_layer_sizes=(5,), max_iter=4, batch_size=8, random_state=0)
    ones = _weights(Estimator(alpha=0.0, **params).fit(X, y))
    twos = _weights(Estimator(alpha=0.0, **params).fit(X, y, sample_weight=np.full(30, 2.0)))
    assert_array_equal(twos, ones)
    penalised_twos = _weights(Estimator(alpha=0.1, **params).fit(X, y, sample_weight=np.full(30, 2.0)))
    assert not np.allclose(penalised_twos, _weights(Estimator(alpha=0.1, **params).fit(X, y)))
    assert_allclose(penalised_twos, _weights(Estimator(alpha=0.05, **params).fit(X, y)), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_zero_sample_weight_is_dropping_the_sample(Estimator):
    X, y = _easy(30, seed=13)
    sw = np.ones(30)
    sw[[3, 7, 11, 20]] = 0
    keep = sw > 0
    kept = [x for x, k in zip(X, keep) if k]
    # One batch for all: the batches are then the same with or without the zero-weight sequences.
    params = dict(hidden_layer_sizes=(5,), max_iter=4, batch_size=30, random_state=0)
    weighted = Estimator(**params).fit(X, y, sample_weight=sw)
    with pytest.warns(UserWarning, match="batch_size"):  # 30 > 26 sequences: clipped
        dropped = Estimator(**params).fit(kept, y[keep])
    assert_allclose(_weights(weighted), _weights(dropped), rtol=0, atol=1e-12)
    assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_minibatch_of_zero_weights_is_skipped():
    # Regression test: a minibatch whose sequences all weigh 0 used to make the weighted mean 0 / 0 and stop the
    # fit with "Training diverged".
    X, y = _easy(20, seed=14)
    sw = np.r_[0.0, 0.0, np.ones(18)]
    params = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=2, shuffle=False, random_state=0)
    weighted = RNNClassifier(**params).fit(X, y, sample_weight=sw)
    dropped = RNNClassifier(**params).fit(X[2:], y[2:])
    assert_array_equal(_weights(weighted), _weights(dropped))
    assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# 14. divergence and 15. Ctrl-C


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("step", ["growing", "overflowing"])
def test_divergence_raises_and_keeps_finite_weights(dtype, step, monkeypatch):
    # "growing": the loss grows epoch after epoch until it is infinite; "overflowing": the very first update
    # overflows the parameters while the loss is still finite, so the update itself must be undone.
    initial = {}
    initialize = Network.initialize

    def recording(self, rng):
        initialize(self, rng)
        initial["params"] = self.params.copy()

    monkeypatch.setattr(Network, "initialize", recording)
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 6, 2)) * 1e3).astype(dtype)  # unscaled
    y = X[:, :, 0].sum(axis=1).astype(np.float64)
    learning_rate = 1e6 if step == "growing" else float(np.finfo(dtype).max) / 10
    reg = RNNRegressor(cell="gru", solver="sgd", learning_rate_init=learning_rate, clipnorm=None,
                       hidden_layer_sizes=(4,), max_iter=100, n_iter_no_change=100, random_state=0)
    with pytest.raises(FloatingPointError, match="SequenceScaler") as excinfo:
        reg.fit(X, y)
    assert "diverged" in str(excinfo.value)
    params = reg._network.params
    assert params.dtype == dtype and np.isfinite(params).all()
    assert all(np.isfinite(w).all() for w in reg.rnn_weights_.values())
    if step == "growing":
        assert 0 < reg.n_iter_ < 100
    else:
        assert reg.n_iter_ == 0
        assert_array_equal(params, initial["params"])
    prediction = reg.predict(X)
    assert prediction.shape == (40,) and np.isfinite(prediction).all()


def test_keyboard_interrupt_keeps_the_model(monkeypatch):
    X, y = _easy(40, seed=15)
    calls = {"n": 0}
    loss_and_grad = Network.loss_and_grad

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return loss_and_grad(self, *args, **kwargs)

    monkeypatch.setattr(Network, "loss_and_grad", interrupted)
    clf = RNNClassifier(hidden_layer_sizes=(4,), batch_size=8, max_iter=50, random_state=0)
    with pytest.warns(UserWarning, match="interrupted") as record:
        clf.fit(X, y)
    assert not any(issubclass(w.category, ConvergenceWarning) for w in record)
    assert calls["n"] == 3
    assert clf.n_iter_ == 0  # interrupted inside the first epoch (5 batches)
    assert np.isfinite(clf._network.params).all()
    assert clf.predict(X).shape == (40,)
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1)
    # Training can go on after the interruption.
    monkeypatch.setattr(Network, "loss_and_grad", loss_and_grad)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1


# ---------------------------------------------------------------------------------------------------------------
# 16. data_layout


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_nct_layout_equals_ntf_on_transposed_data(Estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 7, 3))  # (N, T, F)
    y = _easy_labels(X)
    ntf = Estimator(**TINY).fit(X, y)
    nct = Estimator(data_layout="NCT", **TINY).fit(X.transpose(0, 2, 1), y)
    assert nct.n_features_in_ == ntf.n_features_in_ == 3
    assert_array_equal(_weights(nct), _weights(ntf))
    assert_array_equal(nct.predict(X.transpose(0, 2, 1)), ntf.predict(X))
    method = "predict_proba" if Estimator is RNNClassifier else "predict"
    assert_array_equal(getattr(nct, method)(X.transpose(0, 2, 1)), getattr(ntf, method)(X))
    # Ragged (F, T_i) sequences in NCT.
    ragged = _ragged(6, 3, seed=1)
    assert_array_equal(getattr(nct, method)([x.T for x in ragged]), getattr(ntf, method)(ragged))
    with pytest.raises(ValueError, match="X has 7 features, but"):
        nct.predict(X)


# ---------------------------------------------------------------------------------------------------------------
# 17. architectures


def _torch_names(n_layers, bidirectional):
    names = []
    for layer in range(n_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            names += [f"{kind}_l{layer}{suffix}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return names


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("gru", 3), ("lstm", 4)])
@pytest.mark.parametrize("params", [
    dict(pooling="mean"),
    dict(pooling="max"),
    dict(bidirectional=True),
    dict(dense_layer_sizes=(6, 5)),
    dict(hidden_layer_sizes=(7, 3), dropout=0.5),
    dict(hidden_layer_sizes=(3, 5, 4), bidirectional=True, pooling="max", dense_layer_sizes=(2,), dropout=0.2),
], ids=["mean", "max", "bidirectional", "dense", "stacked-dropout", "all"])
def test_architectures(cell, gates, params):
    F, n_classes = 3, 3
    X = _ragged(18, F, lengths=(2, 9), seed=16)
    y = np.arange(18) % n_classes
    params = {"hidden_layer_sizes": (4,), **params}
    clf = RNNClassifier(cell=cell, max_iter=2, random_state=0, **params).fit(X, y)
    hidden = params["hidden_layer_sizes"]
    directions = 2 if params.get("bidirectional") else 1
    assert list(clf.rnn_weights_) == _torch_names(len(hidden), directions == 2)
    fan_in = F
    for layer, H in enumerate(hidden):
        for suffix in ("", "_reverse")[:directions]:
            assert clf.rnn_weights_[f"weight_ih_l{layer}{suffix}"].shape == (gates * H, fan_in)
            assert clf.rnn_weights_[f"weight_hh_l{layer}{suffix}"].shape == (gates * H, H)
            assert clf.rnn_weights_[f"bias_ih_l{layer}{suffix}"].shape == (gates * H,)
            assert clf.rnn_weights_[f"bias_hh_l{layer}{suffix}"].shape == (gates * H,)
        fan_in = directions * H
    widths = [directions * hidden[-1], *params.get("dense_layer_sizes", ()), n_classes]
    assert [c.shape for c in clf.coefs_] == list(zip(widths[:-1], widths[1:]))
    assert [b.shape for b in clf.intercepts_] == [(w,) for w in widths[1:]]
    assert clf.predict_proba(X).shape == (18, n_classes)
    assert clf.predict(X[:5]).shape == (5,)
    assert np.isfinite(clf.predict_proba(X)).all()
    reg = RNNRegressor(cell=cell, max_iter=2, random_state=0, **params).fit(X, np.c_[y, -y].astype(float))
    assert reg.predict(X).shape == (18, 2)
    assert list(reg.rnn_weights_) == list(clf.rnn_weights_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_binary_classifier_has_one_logistic_output():
    X, y = _easy(12)
    clf = RNNClassifier(**TINY).fit(X, np.array(["no", "yes"])[y])
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (4, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (12, 2)
    assert_array_equal(clf.predict(X), np.where(proba[:, 1] > 0.5, "yes", "no"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lstm_forget_gate_bias_starts_at_one(monkeypatch):
    # Initialisation (DESIGN: forget-gate bias 1 in bias_ih only): seen after fitting zero epochs' worth of change,
    # i.e. by intercepting the network right after its initialisation.
    seen = {}
    initialize = Network.initialize

    def recording(self, rng):
        initialize(self, rng)
        seen.update({k: v.copy() for k, v in self.views.items()})

    monkeypatch.setattr(Network, "initialize", recording)
    X, y = _easy(8)
    RNNClassifier(bidirectional=True, **{**TINY, "hidden_layer_sizes": (3, 2)}).fit(X, y)
    for layer, H in enumerate((3, 2)):
        for suffix in ("", "_reverse"):
            b_ih, b_hh = seen[f"bias_ih_l{layer}{suffix}"], seen[f"bias_hh_l{layer}{suffix}"]
            assert_array_equal(b_ih, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
            assert_array_equal(b_hh, 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fitted_attributes():
    X, y = _easy(20)
    clf = RNNClassifier(**TINY).fit(X, y)
    assert clf.n_features_in_ == 3 and clf.n_outputs_ == 1
    assert clf.t_ == 3 * 20
    assert isinstance(clf.loss_, float)
    assert all(np.isfinite(clf.loss_curve_))
    assert clf.validation_loss_curve_ is None
    # Fitted attributes are not set in __init__, and parameters are untouched by fit.
    fresh = RNNClassifier()
    assert not [k for k in vars(fresh) if k.endswith("_")]
    assert clf.get_params() == RNNClassifier(**TINY).get_params()


# ---------------------------------------------------------------------------------------------------------------
# warm runs and weights edge cases


@pytest.mark.parametrize("first, second", [(False, True), (True, False)])
def test_warm_start_may_switch_early_stopping(first, second):
    X, y = _easy(60)
    clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=3, warm_start=True, early_stopping=first,
                        n_iter_no_change=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.set_params(early_stopping=second)
        clf.fit(X, y)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    if second:
        assert len(clf.validation_scores_) == 3 and clf.best_validation_score_ == max(clf.validation_scores_)
    else:
        assert clf.validation_scores_ is None and clf.best_loss_ == min(clf.loss_curve_[3:])


def test_second_warm_fit_restores_its_own_best_epoch(monkeypatch):
    # The second run's best epoch is restored even when it scores below the first run's best.
    X, y = _easy(60)
    clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=4, warm_start=True, early_stopping=True,
                        n_iter_no_change=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        scores = iter([0.1, 0.3, 0.2, 0.0])
        snapshots = []

        def scripted_score(self, y_true, raw):
            snapshots.append(self._network.params.copy())  # the weights this epoch ends with
            return next(scores)

        monkeypatch.setattr(RNNClassifier, "_validation_score", scripted_score)
        clf.fit(X, y)
    assert clf.best_validation_score_ == 0.3
    assert_array_equal(clf._network.params, snapshots[1])


def test_zero_weight_training_split_raises(monkeypatch):
    # Every positive weight in the validation split leaves nothing to train on.
    X, y = _easy(20)
    monkeypatch.setattr(BaseRNN, "_split_validation", lambda self, n, Y, stratified: (np.arange(16), np.arange(16, 20)))
    with pytest.raises(ValueError, match="All sequences used for training have zero sample_weight"):
        RNNClassifier(max_iter=2, early_stopping=True).fit(X, y, sample_weight=np.r_[np.zeros(16), np.ones(4)])


def test_balanced_class_weight_is_refused_by_partial_fit():
    X, y = _easy(20)
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported for partial_fit"):
        RNNClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_fit_without_early_stopping_keeps_the_lowest_loss_epoch(monkeypatch):
    # One minibatch per epoch, whose loss is scripted: the fit must end on the weights of epoch 2 (loss 0.1).
    X, y = _easy(30)
    losses = iter([0.5, 0.1, 0.3, 0.4])
    snapshots = []
    original = BaseRNN._step

    def scripted_step(self, batch, Y, w, backup):
        original(self, batch, Y, w, backup)
        snapshots.append(self._network.params.copy())
        return next(losses)

    monkeypatch.setattr(BaseRNN, "_step", scripted_step)
    clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=4, batch_size=30, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.loss_curve_ == [0.5, 0.1, 0.3, 0.4] and clf.best_loss_ == 0.1
    assert_array_equal(clf._network.params, snapshots[1])
