"""Tests for fastrnn._forecast: make_windows and RNNForecaster."""

import inspect
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from fastrnn import RNNRegressor
from fastrnn import _forecast
from fastrnn._forecast import RNNForecaster, make_windows

# Small, fast models: a GRU of 8 units, a high learning rate and few epochs fit these series in well under a second.
FAST = dict(cell="gru", hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=40, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _trend_season(n, offset=0.0, seed=0):
    """y_t = offset + 0.05 t + sin(2 pi t / 12) + noise."""
    t = np.arange(n)
    return offset + 0.05 * t + np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(seed).standard_normal(n)


def _mae(a, b):
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


# ---------------------------------------------------------------------------------------------------------------
# make_windows
# ---------------------------------------------------------------------------------------------------------------


def test_make_windows_univariate_by_hand():
    X, y = make_windows(np.arange(6.0), window_length=3)
    assert X.shape == (3, 3, 1) and y.shape == (3,)
    assert_array_equal(X[:, :, 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    assert_array_equal(y, [3, 4, 5])

    X, y = make_windows(np.arange(6.0), window_length=3, horizon=2)
    assert_array_equal(X[:, :, 0], [[0, 1, 2], [1, 2, 3]])
    assert_array_equal(y, [[3, 4], [4, 5]])

    # A plain list of numbers is one series; ints become float64.
    X, y = make_windows([0, 1, 2, 3, 4], window_length=4)
    assert X.dtype == y.dtype == np.float64
    assert_array_equal(X[:, :, 0], [[0, 1, 2, 3]])
    assert_array_equal(y, [4])


def test_make_windows_step():
    X, y = make_windows(np.arange(10.0), window_length=3, horizon=1, step=3)
    # Starts 0, 3, 6 (start 9 would need 4 more steps).
    assert_array_equal(X[:, :, 0], [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    assert_array_equal(y, [3, 6, 9])
    X, y = make_windows(np.arange(10.0), window_length=2, horizon=3, step=4)
    assert_array_equal(X[:, :, 0], [[0, 1], [4, 5]])
    assert_array_equal(y, [[2, 3, 4], [6, 7, 8]])
    # The count formula of the docstring.
    for T, L, H, s in [(50, 7, 3, 2), (50, 7, 3, 5), (20, 1, 1, 1), (20, 19, 1, 7)]:
        X, y = make_windows(np.arange(float(T)), L, H, s)
        assert len(X) == len(y) == (T - L - H) // s + 1
        assert_array_equal(X[:, 0, 0], np.arange(len(X)) * s)


def test_make_windows_multichannel_targets():
    series = np.arange(12.0).reshape(6, 2)  # channel 0: 0, 2, 4, ..; channel 1: 1, 3, 5, ..
    X, y = make_windows(series, window_length=3, horizon=2)
    assert X.shape == (2, 3, 2)
    assert_array_equal(X[1], series[1:4])
    # target=None: every channel, step-major (step 1: ch0, ch1; step 2: ch0, ch1).
    assert_array_equal(y, [[6, 7, 8, 9], [8, 9, 10, 11]])
    assert_array_equal(y.reshape(2, 2, 2)[0], series[3:5])
    # An int selects one channel with the shapes of a 1-D series.
    _, y1 = make_windows(series, 3, horizon=1, target=1)
    assert_array_equal(y1, [7, 9, 11])
    _, y2 = make_windows(series, 3, horizon=2, target=-1)
    assert_array_equal(y2, [[7, 9], [9, 11]])
    # A sequence keeps the 2-D form, in its order, even for one channel and one step.
    _, y3 = make_windows(series, 3, horizon=1, target=[1])
    assert y3.shape == (3, 1)
    _, y4 = make_windows(series, 3, horizon=2, target=[1, 0])
    assert_array_equal(y4, [[7, 6, 9, 8], [9, 8, 11, 10]])
    # A (T, 1) series is 2-D: y stays 2-D.
    _, y5 = make_windows(np.arange(5.0)[:, None], 3)
    assert y5.shape == (2, 1)


def test_make_windows_list_of_series_never_crosses_boundaries():
    a, b = np.arange(5.0), 100 + np.arange(4.0)
    X, y = make_windows([a, b], window_length=2, horizon=1)
    assert_array_equal(X[:, :, 0], [[0, 1], [1, 2], [2, 3], [100, 101], [101, 102]])
    assert_array_equal(y, [2, 3, 4, 102, 103])
    # Ragged 2-D series; float32 stays float32 when every series is float32.
    s1 = np.arange(10, dtype=np.float32).reshape(5, 2)
    s2 = np.arange(14, dtype=np.float32).reshape(7, 2) + 50
    X, y = make_windows((s1, s2), window_length=3, horizon=1, step=2)
    assert X.dtype == y.dtype == np.float32
    # s1: (5 - 3 - 1) // 2 + 1 = 1 window; s2: (7 - 3 - 1) // 2 + 1 = 2 windows, starting at 0 and 2.
    assert X.shape == (3, 3, 2) and y.shape == (3, 2)
    assert_array_equal(X[0], s1[:3])
    assert_array_equal(y[0], s1[3])
    assert_array_equal(X[2], s2[2:5])
    assert_array_equal(y[1:], s2[[3, 5]])
    # An object array of series is a list too; outputs are new arrays.
    series = np.empty(2, dtype=object)
    series[:] = [a, b]
    X2, _ = make_windows(series, 2)
    X2[0, 0, 0] = -1
    assert a[0] == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(series=np.arange(10.0), window_length=0), r"window_length must be a positive integer.*got 0"),
        (dict(series=np.arange(10.0), window_length=2.5), r"window_length must be a positive integer"),
        (dict(series=np.arange(10.0), window_length=3, horizon=0), r"horizon must be a positive integer.*got 0"),
        (dict(series=np.arange(10.0), window_length=3, step=0), r"step must be a positive integer.*got 0"),
        (dict(series=np.arange(10.0), window_length=3, step=True), r"step must be a positive integer"),
        (dict(series=np.arange(4.0), window_length=3, horizon=2),
         r"series has 4 time steps, fewer than window_length \+ horizon = 3 \+ 2 = 5"),
        (dict(series=[np.arange(10.0), np.arange(9.0), np.arange(3.0)], window_length=3),
         r"series 2 has 3 time steps, fewer than window_length \+ horizon = 3 \+ 1 = 4"),
        (dict(series=np.array([0.0, 1, np.nan, 3, 4]), window_length=2), r"series contains NaN"),
        (dict(series=[np.arange(5.0), np.array([0.0, np.inf, 2, 3])], window_length=2),
         r"series 1 contains infinity"),
        (dict(series=np.zeros((3, 4, 2)), window_length=2), r"series must be 1-D \(T,\) or 2-D \(T, F\); got 3 "
                                                            r"dimension\(s\).*pass list\(series\)"),
        (dict(series=[np.arange(5.0), np.zeros((5, 2, 1))], window_length=2), r"series 1 must be 1-D"),
        (dict(series=np.float64(3.0), window_length=1), r"series must be 1-D"),
        (dict(series=[], window_length=2), r"series is an empty list"),
        (dict(series=[np.zeros((6, 2)), np.zeros((6, 3))], window_length=2),
         r"series 1 has 3 channels, but series 0 has 2"),
        (dict(series=np.array(["a", "b", "c"]), window_length=1), r"series must contain real numbers"),
        (dict(series=np.zeros((6, 2)), window_length=2, target=2), r"target channel 2 does not exist.*2 channel"),
        (dict(series=np.zeros((6, 2)), window_length=2, target=[0, -3]), r"target channel -3 does not exist"),
        (dict(series=np.zeros((6, 2)), window_length=2, target="0"), r"target must be None, an int or a sequence"),
        (dict(series=np.zeros((6, 2)), window_length=2, target=[]), r"target is an empty sequence"),
    ],
)
def test_make_windows_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_windows(**kwargs)


# ---------------------------------------------------------------------------------------------------------------
# RNNForecaster: accuracy
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
def test_beats_naive_forecast_on_trend_and_season(strategy):
    # A large offset and a trend that leaves the training range: the scaling must handle both.
    y = _trend_season(312, offset=500.0)
    train, test = y[:300], y[300:]
    model = RNNForecaster(window_length=24, horizon=12, strategy=strategy, **FAST)
    if strategy == "direct":
        model.set_params(max_iter=25)  # 12 models
    forecast = model.fit(train).predict(12)
    assert forecast.shape == (12,)
    naive = _mae(np.full(12, train[-1]), test)
    assert _mae(forecast, test) < 0.7 * naive, (_mae(forecast, test), naive)
    assert len(model.estimators_) == (12 if strategy == "direct" else 1)
    assert all(isinstance(e, RNNRegressor) for e in model.estimators_)
    assert model.score(test) == pytest.approx(-_mae(forecast, test))
    if strategy == "direct":
        # Fewer steps: the first models' forecasts.
        assert_allclose(model.predict(5), forecast[:5])


def test_exogenous_input_beats_model_without_it():
    rng = np.random.default_rng(1)
    t = np.arange(212)
    x = rng.standard_normal(212)  # unpredictable from the past, known in advance
    y = 10 + np.sin(2 * np.pi * t / 12) + 2 * x + 0.05 * rng.standard_normal(212)
    params = dict(window_length=12, horizon=12, **FAST)
    with_x = RNNForecaster(**params).fit(y[:200], x[:200])
    without = RNNForecaster(**params).fit(y[:200])
    mae_x = _mae(with_x.predict(12, x[200:]), y[200:])
    mae_none = _mae(without.predict(12), y[200:])
    assert mae_x < 0.7 * mae_none, (mae_x, mae_none)
    assert with_x.n_features_in_ == 1 and without.n_features_in_ == 0
    assert with_x.X_mean_.shape == with_x.X_scale_.shape == (1,)
    assert without.X_mean_ is None
    # score passes X on as X_future; extra future rows are ignored.
    assert with_x.score(y[200:], x[200:, None]) == pytest.approx(-mae_x)
    assert_allclose(with_x.predict(6, np.r_[x[200:], 0.0]), with_x.predict(12, x[200:])[:6])


def test_multichannel_target():
    y = np.column_stack([_trend_season(212, offset=-40.0), 3 * np.cos(2 * np.pi * np.arange(212) / 6)])
    model = RNNForecaster(window_length=12, horizon=6, **FAST).fit(y[:200])
    forecast = model.predict()
    assert forecast.shape == (6, 2)
    assert model.n_targets_ == 2 and model.y_mean_.shape == model.y_scale_.shape == (2,)
    assert model.target_mean_.shape == (1, 2)
    naive = np.abs(y[199] - y[200:206]).mean(axis=0)
    assert np.all(np.abs(forecast - y[200:206]).mean(axis=0) < 0.7 * naive)


def test_standard_scaling_fits_a_stationary_series():
    t = np.arange(212)
    y = 1000 + 2 * np.sin(2 * np.pi * t / 8) + 0.1 * np.random.default_rng(3).standard_normal(212)
    model = RNNForecaster(window_length=16, horizon=8, scaling="standard", **FAST).fit(y[:200])
    assert model.y_mean_[0] == pytest.approx(y[:200].mean())
    assert model.y_scale_[0] == pytest.approx(y[:200].std())
    assert _mae(model.predict(8), y[200:208]) < 0.5 * _mae(np.full(8, y[199]), y[200:208])


# ---------------------------------------------------------------------------------------------------------------
# RNNForecaster: what the models see (alignment of windows, exogenous features and targets)
# ---------------------------------------------------------------------------------------------------------------


class _Recorder(RNNRegressor):
    """An RNNRegressor whose predict returns 0 and records its inputs (fit also records, without training)."""

    def fit(self, X, y, sample_weight=None):
        self.fit_X_, self.fit_y_ = X, y
        self.predict_X_ = []
        return self

    def predict(self, X):
        self.predict_X_.append(X)
        return np.zeros((len(X), self.fit_y_.shape[1]))


@pytest.mark.parametrize("strategy", ["recursive", "direct"])
@pytest.mark.parametrize("scaling", ["last_value", "standard"])
def test_windows_exogenous_and_targets_are_aligned(monkeypatch, strategy, scaling):
    monkeypatch.setattr(_forecast, "RNNRegressor", _Recorder)
    T, L, H = 20, 4, 3
    y = (np.arange(T) ** 2).astype(float)
    x = np.column_stack([1000 + np.arange(T + H), -np.arange(T + H) * 3.0])  # x[s] encodes s
    model = RNNForecaster(window_length=L, horizon=H, strategy=strategy, scaling=scaling).fit(y, x[:T])
    forecast = model.predict(H, x[T:])
    last_value = scaling == "last_value"
    for i, est in enumerate(model.estimators_):
        h = i + 1
        inputs = est.fit_X_ * np.r_[model.y_scale_, model.X_scale_] + np.r_[model.y_mean_, model.X_mean_]
        n = T - h - L + 1
        assert inputs.shape == (n, L, 3)
        for w in (0, n - 1):  # window w covers the steps w .. w + L - 1 and ends at t = w + L - 1
            t = w + L - 1
            ref = y[t] if last_value else 0.0
            assert_allclose(inputs[w, :, 0], y[w:t + 1] - ref)
            assert_allclose(inputs[w, :, 1:], x[w + h:t + 1 + h])  # the features h steps on
            target = est.fit_y_[w] * model.target_scale_[i] + model.target_mean_[i]
            assert_allclose(target, [y[t + h] - ref])
    # The models output 0 (standardised), i.e. target_mean_ in the series' units.
    expected = []
    y_ext = list(y)
    for i in range(H):
        model_i = i if strategy == "direct" else 0
        t = T - 1 if strategy == "direct" else T - 1 + i
        ref = y_ext[t] if last_value else 0.0
        expected.append(ref + model.target_mean_[model_i, 0])
        if strategy == "recursive":
            y_ext.append(expected[-1])
        est = model.estimators_[model_i]
        seen = est.predict_X_[i if strategy == "recursive" else 0][0]
        seen = seen * np.r_[model.y_scale_, model.X_scale_] + np.r_[model.y_mean_, model.X_mean_]
        h = i + 1 if strategy == "direct" else 1
        assert_allclose(seen[:, 0], np.array(y_ext[t - L + 1:t + 1]) - ref)
        assert_allclose(seen[:, 1:], x[t - L + 1 + h:t + 1 + h])
    assert_allclose(forecast, expected)


# ---------------------------------------------------------------------------------------------------------------
# RNNForecaster: scikit-learn contract
# ---------------------------------------------------------------------------------------------------------------


def test_every_regressor_parameter_passes_through():
    regressor = inspect.signature(RNNRegressor.__init__).parameters
    forecaster = inspect.signature(RNNForecaster.__init__).parameters
    shared = set(regressor) - {"self", "return_sequences", "data_layout"}
    assert shared == set(_forecast._REGRESSOR_PARAMS)
    assert set(forecaster) - {"self"} == shared | {"window_length", "horizon", "strategy", "scaling"}
    for name in shared:
        assert forecaster[name].default == regressor[name].default, name
    # __init__ only stores; the values reach every model (random_state: a seed drawn from it).
    y = _trend_season(60)
    model = RNNForecaster(window_length=6, horizon=2, strategy="direct", cell="rnn", hidden_layer_sizes=(3,),
                          dense_layer_sizes=(4,), alpha=0.01, max_iter=2, batch_size=16, tol=0.5, random_state=7)
    model.fit(y)
    for est in model.estimators_:
        params = est.get_params()
        assert params["cell"] == "rnn" and params["hidden_layer_sizes"] == (3,)
        assert params["dense_layer_sizes"] == (4,) and params["alpha"] == 0.01 and params["batch_size"] == 16
        assert params["max_iter"] == 2 and params["tol"] == 0.5
    assert model.estimators_[0].random_state != model.estimators_[1].random_state


def test_clone_get_params_set_params_pickle_and_determinism():
    model = RNNForecaster(window_length=12, horizon=4, strategy="direct", **FAST)
    params = model.get_params()
    assert params["window_length"] == 12 and params["strategy"] == "direct" and params["cell"] == "gru"
    copy = clone(model)
    assert copy.get_params() == params
    assert copy.set_params(horizon=3, cell="lstm") is copy
    assert copy.horizon == 3 and model.horizon == 4
    y = _trend_season(80)
    a = model.fit(y).predict()
    b = clone(model).fit(y).predict()
    assert_array_equal(a, b)  # random_state=0 gives the same forecaster
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(), a)
    assert not hasattr(clone(model), "estimators_")


def test_gridsearchcv_with_time_series_split():
    y = _trend_season(160)
    cv = TimeSeriesSplit(n_splits=2, test_size=12)  # folds: train y[:136] test y[136:148]; y[:148] / y[148:]
    search = GridSearchCV(RNNForecaster(window_length=12, horizon=12, **FAST),
                          {"hidden_layer_sizes": [(2,), (8,)], "max_iter": [1, 40]}, cv=cv)
    search.fit(y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0)  # negative MAE
    # One epoch of a tiny network forecasts worse than a trained one.
    assert search.best_params_["max_iter"] == 40
    # The best model was refitted on the whole series: predict forecasts after its end.
    assert search.best_estimator_.n_train_steps_ == 160
    assert_array_equal(search.predict(12), search.best_estimator_.predict(12))
    # Each split's score is the forecaster's score on the steps following its training fold.
    train, test = list(cv.split(y))[0]
    best = clone(search.best_estimator_).fit(y[train])
    assert search.cv_results_["split0_test_score"][search.best_index_] == pytest.approx(best.score(y[test]))


def test_cross_val_score_with_exogenous_features():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(100)
    y = 5 + 2 * x + 0.05 * rng.standard_normal(100)
    # The exogenous features go in scikit-learn's y position, and are split with the series.
    scores = cross_val_score(RNNForecaster(window_length=4, horizon=6, **FAST), y, x,
                             cv=TimeSeriesSplit(n_splits=2, test_size=6))
    assert scores.shape == (2,)
    assert np.all(-scores < 0.5 * np.mean(np.abs(np.diff(y))))


def test_warm_start_continues_the_models():
    y = _trend_season(60)
    model = RNNForecaster(window_length=6, horizon=2, strategy="direct", warm_start=True, cell="gru",
                          hidden_layer_sizes=(3,), max_iter=2, tol=0.0, random_state=0).fit(y)
    first = model.estimators_[0]
    mean = model.y_mean_.copy()
    model.fit(y[10:] + 5)
    assert model.estimators_[0] is first and first.n_iter_ == 4
    assert_array_equal(model.y_mean_, mean)  # the scaling of the first fit is kept
    with pytest.raises(ValueError, match=r"warm_start=True continues the fitted models, which have 2 models, but "
                                         r"this fit needs 3"):
        model.set_params(horizon=3).fit(y)
    with pytest.raises(ValueError, match=r"which have 0 exogenous features, but this fit needs 1"):
        model.set_params(horizon=2).fit(y, y)


@pytest.mark.parametrize("params", [dict(scaling="standard"), dict(window_length=8), dict(strategy="recursive")])
def test_warm_start_and_predict_refuse_changed_settings(params):
    # Direct with horizon=1 has one model, like recursive: only the strategy check tells them apart.
    y = _trend_season(40)
    model = RNNForecaster(window_length=5, horizon=1, strategy="direct", warm_start=True, hidden_layer_sizes=(4,),
                          max_iter=1, random_state=0).fit(y)
    forecast = model.predict()
    (name, value), = params.items()
    fitted = model.get_params()[name]
    with pytest.raises(ValueError, match=rf"warm_start=True continues the fitted models, which were fitted with "
                                         rf"{name}={fitted!r}, but {name} is now {value!r}\. Set warm_start=False"):
        model.set_params(**params).fit(y)
    # The statistics and models were made for the fitted value: predict refuses the new one too.
    with pytest.raises(ValueError, match=rf"fitted with {name}={fitted!r}, but {name} is now {value!r}\. Fit it "
                                         rf"again, or set {name}={fitted!r} again"):
        model.predict()
    assert_array_equal(model.set_params(**{name: fitted}).predict(), forecast)


def test_float32_series_stays_float32():
    y = _trend_season(60).astype(np.float32)
    model = RNNForecaster(window_length=6, horizon=3, cell="gru", hidden_layer_sizes=(3,), max_iter=2).fit(y)
    assert model.estimators_[0]._network.dtype == np.float32
    assert model.predict().dtype == np.float32
    assert RNNForecaster(window_length=6, max_iter=1, hidden_layer_sizes=(2,)).fit(y.astype(np.float64)) \
        .predict().dtype == np.float64


# ---------------------------------------------------------------------------------------------------------------
# RNNForecaster: errors
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    """Fitted forecasters (recursive without X; direct with 2 exogenous features), trained for one epoch."""
    y = _trend_season(40)
    X = np.random.default_rng(0).standard_normal((40, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = RNNForecaster(window_length=5, horizon=3, cell="gru", hidden_layer_sizes=(2,), max_iter=1).fit(y)
        exog = RNNForecaster(window_length=5, horizon=3, strategy="direct", cell="gru", hidden_layer_sizes=(2,),
                             max_iter=1).fit(y, X)
    return plain, exog


@pytest.mark.parametrize(
    "params, y, X, error, match",
    [
        (dict(strategy="multi"), None, None, InvalidParameterError, r"'strategy' parameter of RNNForecaster"),
        (dict(scaling="minmax"), None, None, InvalidParameterError, r"'scaling' parameter of RNNForecaster"),
        (dict(window_length=0), None, None, InvalidParameterError, r"'window_length' parameter"),
        (dict(horizon=0), None, None, InvalidParameterError, r"'horizon' parameter"),
        (dict(cell="tcn"), None, None, InvalidParameterError, r"'cell' parameter of RNNForecaster"),
        (dict(window_length=10), np.arange(10.0), None, ValueError,
         r"y has 10 time steps, too few to train: a window of window_length=10 steps and its target 1 step ahead "
         r"\(strategy='recursive'\) need at least 11"),
        (dict(window_length=10, horizon=5, strategy="direct"), np.arange(14.0), None, ValueError,
         r"y has 14 time steps.*horizon=5 steps ahead \(strategy='direct'\) need at least 15"),
        ({}, np.r_[np.arange(30.0), np.nan], None, ValueError, r"y contains NaN"),
        ({}, np.r_[np.arange(30.0), np.inf], None, ValueError, r"y contains infinity"),
        ({}, np.zeros((30, 2, 2)), None, ValueError, r"y must be a 1-D series \(T,\) or a 2-D series"),
        ({}, np.float64(1.0), None, ValueError, r"y must be a 1-D series"),
        ({}, np.zeros(0), None, ValueError, r"y is empty"),
        ({}, np.array(["a"] * 30), None, ValueError, r"y must contain real numbers"),
        ({}, np.arange(30.0), np.zeros((29, 2)), ValueError,
         r"X has 29 rows, but y has 30 time steps; the exogenous features must be aligned"),
        ({}, np.arange(30.0), np.zeros((30, 2, 1)), ValueError, r"X must be 2-D \(n_steps, n_features\)"),
        ({}, np.arange(30.0), np.full((30, 2), np.nan), ValueError, r"X contains NaN"),
        ({}, np.arange(30.0), np.zeros((30, 0)), ValueError, r"X has 0 features"),
    ],
)
def test_fit_errors(params, y, X, error, match):
    y = np.arange(30.0) if y is None else y
    model = RNNForecaster(window_length=5, max_iter=1, hidden_layer_sizes=(2,)).set_params(**params)
    with pytest.raises(error, match=match):
        model.fit(y, X)


def _fitted_state(model):
    """What a failed fit must leave as it was: the forecasts, the statistics and the models' training."""
    return [model.predict(), model.y_mean_, model.y_scale_, model.target_mean_, model.target_scale_,
            model.n_features_in_, model.n_train_steps_, [e.n_iter_ for e in model.estimators_],
            [list(e.loss_curve_) for e in model.estimators_]]


def _assert_same_state(before, after):
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a, b), (a, b)


@pytest.mark.parametrize(
    "params, factor, X, error, match",
    [
        (dict(early_stopping=True, validation_fraction=0.01), 1000, None, ValueError,
         r"validation set of early_stopping is too small"),
        (dict(early_stopping=True, validation_fraction=0.01), 1, np.ones((40, 2)), ValueError,
         r"validation set of early_stopping is too small"),
        (dict(learning_rate_init=1e308), 5, None, FloatingPointError, r"Training diverged"),
    ],
)
def test_failed_refit_leaves_the_forecaster_as_it_was(params, factor, X, error, match):
    y = _trend_season(40)
    model = RNNForecaster(window_length=5, horizon=3, strategy="direct", hidden_layer_sizes=(4,), max_iter=1,
                          random_state=0).fit(y)
    before = _fitted_state(model)
    with pytest.raises(error, match=match):
        model.set_params(**params).fit(factor * y, X)
    _assert_same_state(before, _fitted_state(model))  # no X_future needed: X of the failed fit is forgotten


def test_failed_warm_refit_leaves_the_models_as_they_were():
    y = _trend_season(60)
    model = RNNForecaster(window_length=5, horizon=3, strategy="direct", warm_start=True, hidden_layer_sizes=(4,),
                          max_iter=1, random_state=0).fit(y)
    before = _fitted_state(model)
    # Model h trains on 56 - h windows: 1.87% of them leaves 2 for validation from 55 and 54 windows but 1 from 53,
    # so the first two models are trained further before the last one fails.
    with pytest.raises(ValueError, match=r"validation set of early_stopping is too small \(1 sequences .* of 53\)"):
        model.set_params(early_stopping=True, validation_fraction=0.0187).fit(y)
    _assert_same_state(before, _fitted_state(model))
    model.set_params(early_stopping=False).fit(y)  # the models go on from their weights before the failed fit
    assert [e.n_iter_ for e in model.estimators_] == [2, 2, 2]


def test_interrupted_fit_leaves_the_forecaster_as_it_was(monkeypatch):
    y = _trend_season(40)
    model = RNNForecaster(window_length=5, horizon=3, strategy="direct", hidden_layer_sizes=(4,), max_iter=1,
                          random_state=0)
    fresh = clone(model)
    before = _fitted_state(model.fit(y))
    fit, calls = RNNRegressor.fit, []

    def interrupted_on_second_model(self, X, y):
        calls.append(self)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fit(self, X, y)

    monkeypatch.setattr(RNNRegressor, "fit", interrupted_on_second_model)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(y)
    assert not hasattr(fresh, "y_mean_")  # still unfitted
    with pytest.raises(NotFittedError):
        fresh.predict()
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        model.fit(3 * y, np.ones(40))
    _assert_same_state(before, _fitted_state(model))


@pytest.mark.parametrize(
    "y, scaling",
    [
        (1e300 * _trend_season(40), "last_value"),  # the standard deviation overflows
        (np.r_[np.full(20, 1e308), np.full(20, -1e308)], "last_value"),  # y[s] - y[t] overflows
        (np.full(40, 1e308), "standard"),  # the mean overflows
    ],
)
def test_fit_refuses_y_too_large_to_scale(y, scaling):
    model = RNNForecaster(window_length=5, scaling=scaling, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with pytest.raises(ValueError, match=r"y has values too large to scale \(largest magnitude [\d.]+e\+3\d\d\): "
                                         r"standardising them overflows float64"):
        clone(model).fit(y)
    before = _fitted_state(model.fit(_trend_season(40)))
    with pytest.raises(ValueError, match=r"y has values too large to scale"):
        model.fit(y)
    _assert_same_state(before, _fitted_state(model))


def test_fit_and_predict_refuse_exogenous_features_too_large_to_scale():
    y = _trend_season(40)
    params = dict(window_length=5, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with pytest.raises(ValueError, match=r"X has values too large to scale \(largest magnitude 1e\+300\)"):
        RNNForecaster(**params).fit(y, 1e300 * np.sin(np.arange(40)))
    model = RNNForecaster(**params).fit(y, 1e-3 * np.sin(np.arange(40)))
    # 1e306 is finite, but 1e306 standardised with a scale of about 7e-4 is not.
    with pytest.raises(ValueError, match=r"X_future has values too large to scale \(largest magnitude 1e\+306\)"):
        model.predict(1, np.full(1, 1e306))


def test_predict_errors(tiny):
    plain, exog = tiny
    with pytest.raises(NotFittedError):
        RNNForecaster().predict(3)
    with pytest.raises(NotFittedError):
        RNNForecaster().score(np.zeros(3))
    for bad in (0, -1, 2.0, True, "3"):
        with pytest.raises(ValueError, match=r"n_steps must be a positive integer"):
            plain.predict(bad)
    assert plain.predict(50).shape == (50,)  # recursive: any number of steps
    with pytest.raises(ValueError, match=r"strategy='direct' forecasts at most horizon=3 steps.*got n_steps=4"):
        exog.predict(4, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"X_future was given, but this RNNForecaster was fitted without"):
        plain.predict(3, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"X_future is required: .* fitted with 2 exogenous feature\(s\).*shape "
                                         r"\(3, 2\)"):
        exog.predict(3)
    with pytest.raises(ValueError, match=r"X_future has 2 rows, but forecasting n_steps=3 steps needs"):
        exog.predict(3, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"X_future has 1 features, but RNNForecaster is expecting 2"):
        exog.predict(3, np.zeros(3))
    with pytest.raises(ValueError, match=r"X_future contains NaN"):
        exog.predict(3, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match=r"X_future must be 2-D"):
        exog.predict(3, np.zeros((3, 2, 1)))
    assert exog.predict(2, np.zeros((3, 2))).shape == (2,)


def test_score_errors(tiny):
    plain, exog = tiny
    with pytest.raises(ValueError, match=r"y has 2 target channel\(s\), but RNNForecaster was fitted on 1"):
        plain.score(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"y contains NaN"):
        plain.score(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"X has 2 rows, but y has 3 time steps"):
        exog.score(np.zeros(3), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"X_future is required"):
        exog.score(np.zeros(3))
    with pytest.raises(ValueError, match=r"strategy='direct' forecasts at most horizon=3"):
        exog.score(np.zeros(4), np.zeros((4, 2)))
