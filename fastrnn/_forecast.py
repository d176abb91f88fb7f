"""Time-series forecasting with the recurrent regressors: `make_windows` and `RNNForecaster`.

`make_windows` cuts series into (window, next values) pairs for any regressor of sequences. `RNNForecaster` fits
`RNNRegressor` models on such windows of one series (with optional exogenous inputs) and forecasts the steps after
its end, recursively (one one-step model fed its own forecasts) or directly (one model per step ahead).
"""

# SPDX-License-Identifier: BSD-3-Clause

import copy
from numbers import Integral

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._estimators import RNNRegressor

# RNNRegressor's parameters that RNNForecaster takes and passes to every model it fits, in RNNRegressor's order.
# Not passed: return_sequences (a forecaster maps a window to its next values) and data_layout (the forecaster
# builds the windows itself, always (N, T, F)).
_REGRESSOR_PARAMS = (
    "cell", "hidden_layer_sizes", "activation", "recurrent_activation", "bidirectional", "dropout", "pooling",
    "dense_layer_sizes", "loss", "solver", "alpha", "batch_size", "learning_rate", "learning_rate_init", "power_t",
    "max_iter", "shuffle", "random_state", "tol", "verbose", "warm_start", "momentum", "nesterovs_momentum",
    "early_stopping", "validation_fraction", "beta_1", "beta_2", "epsilon", "n_iter_no_change", "clipnorm",
)


# ---------------------------------------------------------------------------------------------------------------
# make_windows
# ---------------------------------------------------------------------------------------------------------------


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1); got {value!r}.")
    return int(value)


def _real_array(obj, name):
    """``obj`` as a float64 or float32 array, with a clear error for anything that is not real numbers."""
    try:
        array = np.asarray(obj)
    except ValueError as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must contain real numbers: {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must contain real numbers; got an array of dtype {array.dtype}.")
    if array.dtype != np.float32:
        array = array.astype(np.float64)
    return array


def _check_finite(array, name):
    if not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "infinity"
        raise ValueError(f"{name} contains {kind}; all values must be finite.")


def _series_list(series):
    """The series of `make_windows` as a list of (name, array) and whether the input was one series."""
    if isinstance(series, (list, tuple)):
        if len(series) == 0:
            raise ValueError("series is an empty list; pass a series or a non-empty list of series.")
        if all(np.ndim(item) == 0 for item in series):  # a plain list of numbers is one 1-D series
            return [("series", _real_array(series, "series"))], True
        return [(f"series {i}", _real_array(item, f"series {i}")) for i, item in enumerate(series)], False
    array = np.asarray(series)
    if array.dtype == object and array.ndim == 1 and any(np.ndim(item) > 0 for item in array):
        return _series_list(list(array))
    return [("series", _real_array(series, "series"))], True


def make_windows(series, window_length, horizon=1, step=1, target=None):
    """Cut time series into windows and the values that follow them, to train a regressor of sequences.

    Window ``i`` of a series ``s`` starts at step ``i * step``: its input is ``s[i*step : i*step + window_length]``
    and its target the next ``horizon`` values ``s[i*step + window_length : i*step + window_length + horizon]``
    of the target channel(s). Every window that fits is taken, so a series of ``T`` steps gives
    ``(T - window_length - horizon) // step + 1`` windows; the windows of a list of series are concatenated in
    the list's order and never span two series.

    Parameters
    ----------
    series : array-like of shape (T,) or (T, F), or list of such arrays
        One series (1-D: univariate; 2-D: ``F`` channels, time along the first axis) or a list of series of any
        lengths with the same number of channels. A list of numbers is one 1-D series; any other list or tuple
        is a list of series (pass one 2-D series as an array, not as nested lists). A 3-D array is refused: pass
        ``list(array)`` for a stack of series.
    window_length : int
        Time steps in every input window (>= 1).
    horizon : int, default=1
        Number of values after each window in its target (>= 1).
    step : int, default=1
        Steps between the starts of two consecutive windows of a series (>= 1).
    target : int, sequence of int, or None, default=None
        Channel(s) of a 2-D series to forecast: None means all ``F`` channels; an int selects one channel and
        gives targets shaped as for a 1-D series; a sequence of ints selects those channels (in that order).
        Negative indices count from the end. The inputs always hold every channel.

    Returns
    -------
    X : ndarray of shape (N, window_length, F)
        The windows, always 3-D (``F = 1`` for 1-D series), ready for `RNNRegressor`.
    y : ndarray
        The targets:

        - 1-D series, or ``target`` an int: shape ``(N,)`` when ``horizon == 1``, else ``(N, horizon)`` with
          ``y[i, h]`` the value ``h + 1`` steps after window ``i``;
        - otherwise (``target`` None or a sequence of ``k`` channels): shape ``(N, horizon * k)``, step-major:
          ``y[i, h * k + j]`` is channel ``j`` (of the selected ones) ``h + 1`` steps after window ``i``, so
          ``y.reshape(N, horizon, k)`` holds steps along axis 1. It is 2-D even when ``horizon * k == 1``.

        X and y are float32 when every series is float32, float64 otherwise; both are new arrays.

    Raises
    ------
    ValueError
        If window_length, horizon or step is not a positive integer; a series is not 1-D or 2-D, holds
        non-numbers, NaN or infinity, or is shorter than ``window_length + horizon`` (the error names its index);
        the series of a list have different numbers of channels; target names a channel that does not exist.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import make_windows
    >>> X, y = make_windows(np.arange(6.0), window_length=3, horizon=2)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.]])
    >>> y
    array([[3., 4.],
           [4., 5.]])
    """
    window_length = _check_positive_int(window_length, "window_length")
    horizon = _check_positive_int(horizon, "horizon")
    step = _check_positive_int(step, "step")
    items, single = _series_list(series)
    arrays = []
    for name, array in items:
        if array.ndim not in (1, 2):
            hint = " For a stack of series, pass list(series)." if array.ndim == 3 and single else ""
            raise ValueError(f"{name} must be 1-D (T,) or 2-D (T, F); got {array.ndim} dimension(s), shape "
                             f"{array.shape}.{hint}")
        if array.ndim == 2 and array.shape[1] == 0:
            raise ValueError(f"{name} has 0 channels (shape {array.shape}); at least one is required.")
        _check_finite(array, name)
        if array.shape[0] < window_length + horizon:
            raise ValueError(
                f"{name} has {array.shape[0]} time steps, fewer than window_length + horizon = {window_length} + "
                f"{horizon} = {window_length + horizon}: it cannot hold one window and its target."
            )
        arrays.append(array)
    univariate = all(a.ndim == 1 for a in arrays)
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    n_channels = arrays[0].shape[1]
    for (name, _), a in zip(items, arrays):
        if a.shape[1] != n_channels:
            raise ValueError(f"{name} has {a.shape[1]} channels, but {items[0][0]} has {n_channels}; all series "
                             "must have the same number of channels.")
    channels, squeeze = _target_channels(target, n_channels, univariate)
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64
    X_parts, y_parts = [], []
    for a in arrays:
        a = a.astype(dtype, copy=False)
        n = (a.shape[0] - window_length - horizon) // step + 1
        # (n, F, window_length) views -> (n, window_length, F)
        X_parts.append(sliding_window_view(a[:(n - 1) * step + window_length], window_length, axis=0)[::step]
                       .transpose(0, 2, 1))
        future = sliding_window_view(a[window_length:, channels], horizon, axis=0)[::step][:n]  # (n, k, horizon)
        y_parts.append(future.transpose(0, 2, 1).reshape(n, horizon * len(channels)))
    X = np.concatenate(X_parts)  # a new array, not a view of the input
    y = np.concatenate(y_parts)
    if squeeze and horizon == 1:
        y = y[:, 0]
    return X, y


def _target_channels(target, n_channels, univariate):
    """(list of channel indices, whether y takes the 1-D series shapes)."""
    if target is None:
        return list(range(n_channels)), univariate

    def check(index):
        if isinstance(index, bool) or not isinstance(index, Integral):
            raise ValueError(f"target must be None, an int or a sequence of ints; got {target!r}.")
        if not -n_channels <= index < n_channels:
            raise ValueError(f"target channel {index} does not exist: the series have {n_channels} channel(s).")
        return int(index) % n_channels

    if isinstance(target, Integral) and not isinstance(target, bool):
        return [check(target)], True
    if isinstance(target, (str, bytes)) or not np.iterable(target):
        raise ValueError(f"target must be None, an int or a sequence of ints; got {target!r}.")
    channels = [check(index) for index in target]
    if not channels:
        raise ValueError("target is an empty sequence; select at least one channel (or None for all).")
    return channels, False


# ---------------------------------------------------------------------------------------------------------------
# RNNForecaster
# ---------------------------------------------------------------------------------------------------------------


def _scale(values):
    """Per-column mean and standard deviation (1 where a column is constant), as float64; infinite or NaN when the
    values are too large for float64 (the caller checks)."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)


def _too_large(name, values, fix):
    return ValueError(f"{name} has values too large to scale (largest magnitude {np.abs(values).max():.3g}): "
                      f"standardising them overflows float64. {fix}")


class RNNForecaster(BaseEstimator):
    """Forecast a time series with recurrent networks trained on windows of its past.

    The forecaster cuts the training series into windows of ``window_length`` steps (as `make_windows`) and fits
    `RNNRegressor` models that map a window to the values that follow it. Every `RNNRegressor` parameter but
    ``return_sequences`` and ``data_layout`` is a parameter here too, with the same default, and is given to every
    model fitted.

    Parameters
    ----------
    window_length : int, default=24
        Past time steps the models read to forecast; cover at least the longest seasonal period.
    horizon : int, default=1
        With ``strategy="direct"``: the number of steps ahead forecast, one model per step ``h = 1..horizon``, and
        the most `predict` can forecast. With ``strategy="recursive"``: only `predict`'s default ``n_steps`` (any
        number of steps can be forecast).
    strategy : {"recursive", "direct"}, default="recursive"
        ``"recursive"``: one model forecasts one step ahead; `predict` appends each forecast to the window and
        forecasts again (one fit, any number of steps, but errors are fed back). ``"direct"``: model ``h`` forecasts
        ``h`` steps ahead from the observed window (``horizon`` fits, no feedback of errors).
    scaling : {"last_value", "standard"}, default="last_value"
        How the target series is put on the networks' scale (the exogenous features are always standardised).
        ``"last_value"``: every window is read relative to its last value ``y[t]`` (``y[s] - y[t]``, then
        standardised) and the models forecast the change ``y[t+h] - y[t]``, added back to ``y[t]``; offsets and
        trends (a series still growing past its training range) are forecast as well as the shape of the past;
        the models see the level relative to the window only (enough to revert to a mean the window shows).
        ``"standard"``: the values are standardised with the training series' mean and standard deviation and the
        models forecast ``y[t+h]`` itself, for a stationary series whose absolute level matters beyond what a
        window shows; a network cannot forecast values outside the range it was trained on, so not for a trend.
    cell, hidden_layer_sizes, activation, recurrent_activation, bidirectional, dropout, pooling, \
dense_layer_sizes, loss, solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter, shuffle, \
random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, \
beta_2, epsilon, n_iter_no_change, clipnorm
        As `RNNRegressor`'s, for every model. The models' seeds are drawn from ``random_state`` (one per model), so
        an int gives the same forecaster every time. ``warm_start=True`` continues every model from its previous
        weights and keeps the scaling statistics of the first fit (so ``window_length``, ``strategy`` and ``scaling``
        must not change; neither can they between `fit` and `predict`). ``early_stopping`` holds out a random
        ``validation_fraction`` of the windows (not the most recent ones). A fit that fails leaves the forecaster as
        it was.

    Attributes
    ----------
    estimators_ : list of RNNRegressor
        The fitted models: one with ``strategy="recursive"``; ``horizon`` with ``"direct"``, ``estimators_[h - 1]``
        forecasting ``h`` steps ahead.
    n_targets_ : int
        Channels of the target series (1 for a 1-D y).
    n_features_in_ : int
        Exogenous features (columns of X in `fit`); 0 when fitted without X.
    y_mean_, y_scale_ : ndarray of shape (n_targets_,)
        The models read the target at step ``s`` of a window ending at ``t`` as
        ``(y[s] - ref - y_mean_) / y_scale_``, where ``ref`` is ``y[t]`` with ``scaling="last_value"`` and 0 with
        ``"standard"``: mean and standard deviation of ``y[s] - y[t]`` over the training windows, or of the
        training series (1 where constant).
    target_mean_, target_scale_ : ndarray of shape (len(estimators_), n_targets_)
        Mean and standard deviation of the training targets ``y[t+h] - ref`` of each model, which learns them
        standardised; its outputs are mapped back with them.
    X_mean_, X_scale_ : ndarray of shape (n_features_in_,) or None
        Mean and standard deviation of the exogenous features over the training series; None without X.
    n_train_steps_ : int
        Length of the training series; forecasts start right after its last step.

    Notes
    -----
    **Scaling.** Give the series raw: the forecaster standardises the target (see ``scaling``) and the exogenous
    features with statistics of the training series only, and maps the forecasts back to the series' units.
    Computation is in float32 when y (and X) are float32, in float64 otherwise.

    **Exogenous features** are known in advance (calendar, planned prices, weather forecasts...): X holds one row
    per step of y, and forecasting needs their values over the forecast steps (`predict`'s ``X_future``). The
    model forecasting ``h`` steps ahead from a window ending at step ``t`` reads, at each step ``s`` of the window,
    the target at ``s`` beside the features at ``s + h``: its last row holds the features of the step it
    forecasts. For features known only up to the present, lag them by ``horizon`` steps yourself.

    **Model selection.** ``fit(y, X)`` takes the series in scikit-learn's ``X`` position and the exogenous
    features in its ``y`` position, and ``score(y, X)`` scores the forecast of the steps right after the training
    series. `GridSearchCV` and `cross_val_score` therefore work on one series with a `TimeSeriesSplit`, whose test
    fold directly follows its training fold::

        search = GridSearchCV(RNNForecaster(horizon=12, max_iter=50), {"hidden_layer_sizes": [(8,), (32,)]},
                              cv=TimeSeriesSplit(n_splits=3, test_size=12))
        search.fit(series)          # with exogenous features: search.fit(series, features)
        search.predict(12)          # the 12 steps after the series, by the best model refitted on all of it

    Keep ``TimeSeriesSplit``'s ``gap=0`` (a gap would shift the scored steps) and, with ``strategy="direct"``,
    ``test_size <= horizon``. Use the default ``scoring=None`` (the forecaster's `score`, a negative mean absolute
    error): scikit-learn's scorer strings call ``predict(X_test)``, which is not this predict.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import RNNForecaster
    >>> t = np.arange(200)
    >>> y = 100 + 0.05 * t + np.sin(2 * np.pi * t / 12)
    >>> model = RNNForecaster(window_length=24, horizon=12, cell="gru", hidden_layer_sizes=(8,),
    ...                       learning_rate_init=0.01, max_iter=40, random_state=0).fit(y)
    >>> model.predict().shape
    (12,)
    """

    _parameter_constraints = {
        "window_length": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"recursive", "direct"})],
        "scaling": [StrOptions({"last_value", "standard"})],
        **{name: RNNRegressor._parameter_constraints[name] for name in _REGRESSOR_PARAMS},
    }

    def __init__(self, window_length=24, horizon=1, strategy="recursive", scaling="last_value", *, cell="lstm",
                 hidden_layer_sizes=(64,), activation="tanh", recurrent_activation="logistic", bidirectional=False,
                 dropout=0.0, pooling="last", dense_layer_sizes=(), loss="squared_error", solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, clipnorm=5.0):
        self.window_length = window_length
        self.horizon = horizon
        self.strategy = strategy
        self.scaling = scaling
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.dense_layer_sizes = dense_layer_sizes
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.clipnorm = clipnorm

    # ---- input checks ----

    @staticmethod
    def _check_target(y, name):
        """y as a (T, k) float array, and whether it was 1-D."""
        y = _real_array(y, name)
        if y.ndim not in (1, 2):
            raise ValueError(f"{name} must be a 1-D series (T,) or a 2-D series (T, n_targets); got {y.ndim} "
                             f"dimension(s), shape {y.shape}.")
        if y.shape[0] == 0 or (y.ndim == 2 and y.shape[1] == 0):
            raise ValueError(f"{name} is empty (shape {y.shape}).")
        _check_finite(y, name)
        return (y[:, None] if y.ndim == 1 else y), y.ndim == 1

    @staticmethod
    def _check_exogenous(X, name):
        """X as a (n, F) float array (a 1-D X is one feature)."""
        X = _real_array(X, name)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_steps, n_features) (or 1-D for one feature); got {X.ndim} "
                             f"dimension(s), shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError(f"{name} has 0 features (shape {X.shape}); pass None for no exogenous features.")
        _check_finite(X, name)
        return X

    # ---- fitting ----

    def _model_inputs(self, windows):
        """Scaled target channels of raw (N, L, k) windows, and each window's reference value (N, k)."""
        ref = windows[:, -1] if self.scaling == "last_value" else np.zeros_like(windows[:, -1])
        return (windows - ref[:, None] - self.y_mean_) / self.y_scale_, ref

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, y, X=None):
        """Fit the models on the windows of the series y (and of the exogenous features X).

        Parameters
        ----------
        y : array-like of shape (T,) or (T, n_targets)
            The training series, oldest step first. Forecasts start right after its last step.
        X : array-like of shape (T, n_features) or (T,), default=None
            Exogenous features, one row per step of y (see the notes); `predict` then needs their future values.

        Returns
        -------
        self : object
        """
        y, y_1d = self._check_target(y, "y")
        T, k = y.shape
        if X is not None:
            X = self._check_exogenous(X, "X")
            if X.shape[0] != T:
                raise ValueError(f"X has {X.shape[0]} rows, but y has {T} time steps; the exogenous features must "
                                 "be aligned with y, one row per time step.")
        L = self.window_length
        n_models = self.horizon if self.strategy == "direct" else 1
        if T < L + n_models:
            ahead = (f"horizon={n_models} steps ahead (strategy='direct')" if self.strategy == "direct"
                     else "1 step ahead (strategy='recursive')")
            raise ValueError(f"y has {T} time steps, too few to train: a window of window_length={L} steps and "
                             f"its target {ahead} need at least {L + n_models}.")
        dtype = np.float32 if y.dtype == np.float32 and (X is None or X.dtype == np.float32) else np.float64
        y = y.astype(np.float64)
        warm = self.warm_start and hasattr(self, "estimators_")
        if warm:
            self._check_warm_start(k, 0 if X is None else X.shape[1], n_models)
        # A failed fit (overflow found below, divergence, early stopping refused, interruption) must leave a fitted
        # forecaster as it was. Fitting only rebinds attributes, so a shallow copy restores them, but a warm fit
        # trains the models in place: they are copied whole.
        state = self.__dict__.copy()
        if warm:
            state["estimators_"] = copy.deepcopy(self.estimators_)
        try:
            self._fit(y, X, y_1d, n_models, warm, dtype)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise
        return self

    def _fit(self, y, X, y_1d, n_models, warm, dtype):
        """The fit of checked inputs: y as (T, k) float64, X as (T, F) or None."""
        T, L = len(y), self.window_length
        # Values too large for float64 statistics overflow here; the checks below say so.
        with np.errstate(over="ignore", invalid="ignore"):
            if not warm:
                self._fit_scaling(y, X, n_models, y_1d)
            xs = None if X is None else (X - self.X_mean_) / self.X_scale_
            # Model h reads the windows ending at t = L-1 .. T-1-h, the first T-L+1-h windows of y (the last window,
            # which no model trains on, is the one predict reads).
            inputs, ref = self._model_inputs(sliding_window_view(y, L, axis=0).transpose(0, 2, 1))
            targets = [(y[L - 1 + h:] - ref[:T - L + 1 - h] - self.target_mean_[h - 1]) / self.target_scale_[h - 1]
                       for h in range(1, n_models + 1)]
        if not all(np.isfinite(a).all() for a in (self.y_mean_, self.y_scale_, self.target_mean_,
                                                  self.target_scale_, inputs, *targets)):
            raise _too_large("y", y, "Divide y by a constant before fitting (and multiply the forecasts by it).")
        if xs is not None and not all(np.isfinite(a).all() for a in (self.X_mean_, self.X_scale_, xs)):
            raise _too_large("X", X, "Divide X by a constant before fitting (and X_future by the same).")
        params = {name: getattr(self, name) for name in _REGRESSOR_PARAMS}
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=n_models)
        estimators = self.estimators_ if warm else [RNNRegressor() for _ in range(n_models)]
        for i, model in enumerate(estimators):
            h = i + 1
            # The target at s = t-L+1..t beside the features at s + h.
            model_inputs = inputs[:T - L + 1 - h]
            if xs is not None:
                features = sliding_window_view(xs[h:], L, axis=0).transpose(0, 2, 1)
                model_inputs = np.concatenate([model_inputs, features], axis=2)
            model.set_params(**{**params, "random_state": int(seeds[i])})
            model.fit(np.ascontiguousarray(model_inputs, dtype=dtype), targets[i].astype(dtype))
        self.estimators_ = estimators
        self.n_train_steps_ = T
        self._dtype = dtype
        # What predict needs: the last window of the target and of the exogenous features.
        self._y_tail = y[T - L:].copy()
        self._X_tail = None if X is None else X[T - L:].astype(np.float64)

    def _fit_scaling(self, y, X, n_models, y_1d):
        """The scaling statistics of a first fit (see the attributes)."""
        T, k = y.shape
        L = self.window_length
        self.n_targets_ = k
        self.n_features_in_ = 0 if X is None else X.shape[1]
        self._y_1d = y_1d
        # The statistics, windows and models below are made for these: later fits (warm_start) and predict need
        # the same.
        self._settings = {"window_length": L, "strategy": self.strategy, "scaling": self.scaling}
        if self.scaling == "standard":
            self.y_mean_, self.y_scale_ = _scale(y)
        elif L > 1:
            windows = sliding_window_view(y, L, axis=0).transpose(0, 2, 1)
            self.y_mean_, self.y_scale_ = _scale((windows[:, :-1] - windows[:, -1:]).reshape(-1, k))
        else:  # a window is its last value: the models' target input is always 0
            self.y_mean_, self.y_scale_ = np.zeros(k), np.ones(k)
        self.X_mean_, self.X_scale_ = (None, None) if X is None else _scale(X.astype(np.float64))
        stats = []
        for h in range(1, n_models + 1):
            ref = y[L - 1:T - h] if self.scaling == "last_value" else 0.0
            stats.append(_scale(y[L - 1 + h:] - ref))
        self.target_mean_ = np.array([m for m, _ in stats])
        self.target_scale_ = np.array([s for _, s in stats])

    def _check_warm_start(self, k, n_features, n_models):
        self._check_settings("warm_start=True continues the fitted models, which", "Set warm_start=False to fit new "
                             "models")
        fitted = {"target channels": self.n_targets_, "exogenous features": self.n_features_in_,
                  "models": len(self.estimators_)}
        now = {"target channels": k, "exogenous features": n_features, "models": n_models}
        for key, value in now.items():
            if fitted[key] != value:
                raise ValueError(f"warm_start=True continues the fitted models, which have {fitted[key]} {key}, "
                                 f"but this fit needs {value}. Set warm_start=False to fit new models.")

    def _check_settings(self, subject, fix):
        for name, fitted in self._settings.items():
            value = getattr(self, name)
            if value != fitted:
                raise ValueError(f"{subject} were fitted with {name}={fitted!r}, but {name} is now {value!r}. {fix}, "
                                 f"or set {name}={fitted!r} again.")

    # ---- forecasting ----

    def predict(self, n_steps=None, X_future=None):
        """Forecast the n_steps steps after the end of the training series.

        Parameters
        ----------
        n_steps : int, default=None
            Steps to forecast; None means ``horizon``. With ``strategy="direct"``, at most ``horizon``.
        X_future : array-like of shape (n_steps, n_features) or (n_steps,), default=None
            Exogenous features of the forecast steps: required when `fit` had X, refused otherwise. Rows after the
            first n_steps are ignored.

        Returns
        -------
        y_pred : ndarray of shape (n_steps,) or (n_steps, n_targets)
            The forecasts in the series' units; 1-D when the training y was 1-D.
        """
        check_is_fitted(self, "estimators_")
        self._check_settings("The models of this RNNForecaster", "Fit it again")
        n_steps = self.horizon if n_steps is None else n_steps
        if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer (>= 1); got {n_steps!r}.")
        n_steps = int(n_steps)
        if self.strategy == "direct" and n_steps > len(self.estimators_):
            raise ValueError(
                f"strategy='direct' forecasts at most horizon={len(self.estimators_)} steps (one model per step "
                f"ahead); got n_steps={n_steps}. Fit with a larger horizon, or use strategy='recursive'."
            )
        xs = self._future_exogenous(X_future, n_steps)
        L = self.window_length
        # Row a of y_buf and of xs is the training step T - L + a (rows L.. are the forecast steps).
        y_buf = np.empty((L + n_steps, self.n_targets_))
        y_buf[:L] = self._y_tail
        for i in range(n_steps):
            if self.strategy == "direct":  # model i reads the observed window, with the features i + 1 steps on
                model, first, x_first = i, 0, i + 1
            else:  # the one-step model reads the window ending at the previous forecast
                model, first, x_first = 0, i, i + 1
            inputs, ref = self._model_inputs(y_buf[None, first:first + L])
            if xs is not None:
                inputs = np.concatenate([inputs, xs[None, x_first:x_first + L]], axis=2)
            z = self.estimators_[model].predict(inputs.astype(self._dtype)).reshape(-1)
            y_buf[L + i] = ref[0] + z * self.target_scale_[model] + self.target_mean_[model]
        forecast = y_buf[L:].astype(self._dtype)
        return forecast[:, 0] if self._y_1d else forecast

    def _future_exogenous(self, X_future, n_steps):
        """Standardised exogenous rows of the training steps T - L .. T - 1 + n_steps, or None."""
        if self.n_features_in_ == 0:
            if X_future is not None:
                raise ValueError("X_future was given, but this RNNForecaster was fitted without exogenous features "
                                 "(X=None in fit); pass X_future=None.")
            return None
        if X_future is None:
            raise ValueError(f"X_future is required: this RNNForecaster was fitted with {self.n_features_in_} "
                             f"exogenous feature(s), and needs their values over the {n_steps} forecast steps, "
                             f"an array of shape ({n_steps}, {self.n_features_in_}).")
        X_future = self._check_exogenous(X_future, "X_future")
        if X_future.shape[1] != self.n_features_in_:
            raise ValueError(f"X_future has {X_future.shape[1]} features, but RNNForecaster is expecting "
                             f"{self.n_features_in_} features as input.")
        if X_future.shape[0] < n_steps:
            raise ValueError(f"X_future has {X_future.shape[0]} rows, but forecasting n_steps={n_steps} steps needs "
                             f"one row per step ({n_steps}).")
        rows = np.vstack([self._X_tail, X_future[:n_steps].astype(np.float64)])
        with np.errstate(over="ignore"):  # reported below
            xs = (rows - self.X_mean_) / self.X_scale_
        if not np.isfinite(xs).all():
            raise _too_large("X_future", X_future[:n_steps], "They are far outside the range of the training X.")
        return xs

    def score(self, y, X=None):
        """Negative mean absolute error of the forecast of the steps right after the training series.

        Parameters
        ----------
        y : array-like of shape (n_steps,) or (n_steps, n_targets)
            The true continuation of the training series; its length is the number of steps forecast.
        X : array-like of shape (n_steps, n_features), default=None
            Exogenous features of those steps (`predict`'s X_future).

        Returns
        -------
        score : float
            ``-mean(|y - predict(len(y), X)|)`` over steps and channels: greater is better, as scikit-learn's
            ``"neg_mean_absolute_error"``.
        """
        check_is_fitted(self, "estimators_")
        y, _ = self._check_target(y, "y")
        if y.shape[1] != self.n_targets_:
            raise ValueError(f"y has {y.shape[1]} target channel(s), but RNNForecaster was fitted on "
                             f"{self.n_targets_}.")
        if X is not None and self.n_features_in_ and _num_rows(X) != len(y):
            raise ValueError(f"X has {_num_rows(X)} rows, but y has {len(y)} time steps; they must be aligned.")
        forecast = self.predict(len(y), X).reshape(len(y), -1)
        return -float(np.mean(np.abs(forecast - y)))


def _num_rows(X):
    """Rows of an array-like (0 for a scalar)."""
    return np.shape(X)[0] if np.ndim(X) else 0
