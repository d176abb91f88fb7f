"""RNNClassifier and RNNRegressor: scikit-learn estimators on the compiled recurrent kernels.

They own the training loop (minibatches, optimizer, early stopping, curves, warnings), modelled on scikit-learn's
MLP; the model itself is a `fastrnn._network.Network`.
"""
import time
import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_class_weight, compute_sample_weight
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, _num_samples, check_is_fitted, column_or_1d

from ._network import Network
from ._optimizers import AdamOptimizer, SGDOptimizer, clip_grad_norm
from ._sequences import Minibatches, check_sequences, pack, row_sequence, row_step, unpack
from ._threads import step_threads

# Sequences per chunk when predicting: bounds the memory of a prediction on a large X.
_PREDICT_CHUNK = 1024

# check_estimator feeds 2-D X, which fastrnn reads as (N, T) univariate sequences: n_features_in_ is then 1 (the
# channels), not X.shape[1] (the time steps), and any T is accepted at predict time. The checks below assert the
# opposite, so they are expected to fail; every other check passes.
EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": "2-D X is (N, T) univariate sequences: n_features_in_ is 1, not X.shape[1].",
    "check_n_features_in_after_fitting": "2-D X is (N, T) univariate sequences: any T is accepted.",
    "check_estimators_partial_fit_n_features": "2-D X is (N, T) univariate sequences: any T is accepted.",
    # Its last assertions expect predict(X.T) to raise; X.T is valid (N, T) input. Its accuracy assertion holds
    # (tests/test_estimators.py runs that part on its own).
    "check_classifiers_train": "2-D X is (N, T) univariate sequences: predict(X.T) is valid input.",
}


# Version of the pickled state of a fitted estimator (see BaseRNN.__getstate__). Bump it when the layout changes;
# __setstate__ refuses any other version with a message saying so.
PERSISTENCE_FORMAT = 1


class StreamState:
    """Recurrent state of ``n_samples`` independent streams, from `init_state` or `predict_step`.

    The caller owns it: keep one per group of streams, as many as you like (there is no hidden global state).
    `predict_step` never modifies the state it is given; it returns a new one.

    Attributes
    ----------
    h : tuple of ndarray of shape (n_samples, H_l)
        Hidden state of every recurrent layer, row ``i`` for stream ``i``.
    c : tuple of ndarray of shape (n_samples, H_l), or None
        Cell state of every layer of an LSTM; None for GRU and RNN.

    Examples
    --------
    Three streams of different lengths, stepped together while all three go on, then the two longer ones alone:

    >>> import numpy as np
    >>> from fastrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 10, 2))
    >>> reg = RNNRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
    >>> reg = reg.fit(X, X[:, :, 0].sum(axis=1))
    >>> streams = [rng.normal(size=(T, 2)) for T in (6, 4, 6)]
    >>> state = reg.init_state(n_samples=3)
    >>> for t in range(4):
    ...     y_t, state = reg.predict_step(np.stack([s[t] for s in streams]), state)
    >>> longer = [0, 2]
    >>> sub = state.take(longer)
    >>> for t in range(4, 6):
    ...     y_sub, sub = reg.predict_step(np.stack([streams[i][t] for i in longer]), sub)
    >>> state = state.put(longer, sub)
    >>> np.allclose(y_sub, reg.predict([streams[0], streams[2]]))
    True
    >>> state.n_samples, [h.shape for h in state.h]
    (3, [(3, 8)])
    """

    __slots__ = ("h", "c")

    def __init__(self, h, c=None):
        h = tuple(h)
        c = None if c is None else tuple(c)
        if not h or any(not isinstance(a, np.ndarray) or a.ndim != 2 for a in h + (c or ())):
            raise ValueError("A StreamState holds, for every layer, a 2-D (n_samples, H) array of h (and of c for "
                             "an LSTM); make one with an estimator's init_state.")
        if c is not None and [a.shape for a in c] != [a.shape for a in h]:
            raise ValueError(f"c must hold arrays shaped as h's {[a.shape for a in h]}, got {[a.shape for a in c]}.")
        if len({a.shape[0] for a in h}) > 1:
            raise ValueError(f"Every layer's state must hold the same streams, got {[a.shape for a in h]}.")
        self.h = h
        self.c = c

    @property
    def n_samples(self):
        """Number of streams."""
        return self.h[0].shape[0]

    def _arrays(self):
        return self.h + (self.c or ())

    def _streams(self, indices):
        """indices (ints, negative ones from the end, or a boolean mask of n_samples) as an int array, checked."""
        idx = np.asarray(indices)
        idx = idx[None] if idx.ndim == 0 else idx
        n = self.n_samples
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise ValueError(f"A boolean mask of streams must have shape ({n},), got {idx.shape}.")
            return np.flatnonzero(idx)
        if idx.size == 0:
            return np.empty(0, dtype=np.intp)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError(f"indices must be integers or a boolean mask, got {idx.dtype} of shape {idx.shape}.")
        if idx.min() < -n or idx.max() >= n:
            raise ValueError(f"indices must be in [-{n}, {n}) for a state of {n} streams, got {indices!r}.")
        return idx

    def _same_model(self, other, what):
        if (not isinstance(other, StreamState) or (self.c is None) != (other.c is None)
                or [a.shape[1] for a in self.h] != [a.shape[1] for a in other.h]
                or self.h[0].dtype != other.h[0].dtype):
            raise ValueError(f"{what} needs StreamStates of the same model (cell, hidden sizes and dtype), got "
                             f"{self!r} and {other!r}.")

    def take(self, indices):
        """A new state holding the streams ``indices`` (an int array, a list or a boolean mask), copied."""
        idx = self._streams(indices)
        h = tuple(a[idx] for a in self.h)
        return StreamState(h, None if self.c is None else tuple(a[idx] for a in self.c))

    def put(self, indices, other):
        """A new state: this one with the streams ``indices`` replaced by those of `other` (in order)."""
        self._same_model(other, "put")
        idx = self._streams(indices)
        if len(idx) != other.n_samples:
            raise ValueError(f"put replaces {len(idx)} streams, but the other state holds {other.n_samples}; they "
                             "must match.")
        arrays = []
        for mine, theirs in zip(self._arrays(), other._arrays()):
            new = mine.copy()
            new[idx] = theirs
            arrays.append(new)
        n = len(self.h)
        return StreamState(arrays[:n], None if self.c is None else arrays[n:])

    @classmethod
    def concatenate(cls, states):
        """One state holding the streams of every state in ``states``, in order (e.g. to add new streams)."""
        states = list(states)
        if not states or any(not isinstance(s, StreamState) for s in states):
            raise ValueError("concatenate needs a non-empty list of StreamState.")
        for s in states[1:]:
            states[0]._same_model(s, "concatenate")
        h = tuple(np.concatenate(parts) for parts in zip(*(s.h for s in states)))
        c = None if states[0].c is None else tuple(np.concatenate(parts) for parts in zip(*(s.c for s in states)))
        return cls(h, c)

    def __getstate__(self):
        return {"h": self.h, "c": self.c}

    def __setstate__(self, state):
        self.h, self.c = state["h"], state["c"]

    def __repr__(self):
        sizes = tuple(a.shape[1] for a in self.h)
        return (f"StreamState(n_samples={self.n_samples}, hidden_sizes={sizes}, dtype={self.h[0].dtype}, "
                f"cell_state={self.c is not None})")


def _flatten_steps(seqs, y, sample_weight):
    """Per-step targets (and weights) as rows, sequence after sequence, checked against the sequences' lengths.

    y is an (N, T[, k]) array or a list of (T_i[, k]) arrays; sample_weight None, (N,) (one weight per sequence,
    given to each of its steps), or per step as an (N, T) array or a list of (T_i,) arrays. Returns the rows of y
    (R[, k]), the weights (R,) and where each sequence's rows start (N,).
    """
    lengths = np.array([len(s) for s in seqs])
    y_seqs = [np.asarray(yi) for yi in y]
    for i, (yi, n) in enumerate(zip(y_seqs, lengths)):
        if yi.ndim == 0 or len(yi) != n:
            raise ValueError(
                f"With return_sequences=True, y must hold one target per time step: sequence {i} has {n} steps, "
                f"but its target has shape {yi.shape}."
            )
    if len({yi.shape[1:] for yi in y_seqs}) > 1:
        raise ValueError("With return_sequences=True, every sequence's targets must have the same shape per step.")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    y_rows = np.concatenate(y_seqs)
    if sample_weight is None:
        w = np.ones(len(y_rows))
    elif not ((isinstance(sample_weight, np.ndarray) and sample_weight.ndim == 2)
              or (isinstance(sample_weight, (list, tuple)) and len(sample_weight) > 0
                  and np.ndim(sample_weight[0]) == 1)):
        w = np.repeat(_check_sample_weight(sample_weight, np.empty(len(seqs)), dtype=np.float64), lengths)
    else:
        w_seqs = [np.asarray(wi, dtype=np.float64) for wi in sample_weight]
        if len(w_seqs) != len(seqs) or any(wi.shape != (n,) for wi, n in zip(w_seqs, lengths)):
            raise ValueError("Per-step sample_weight must hold one weight per time step of every sequence.")
        w = np.concatenate(w_seqs)
        if not np.isfinite(w).all():
            raise ValueError("sample_weight contains NaN or infinity.")
    return y_rows, w, starts


def _check_weight_sum(sw, name):
    """Weights whose sum overflows float64 would make every weighted mean loss NaN and every gradient 0, a fit
    that "succeeds" without training."""
    if not np.isfinite(sw.sum()):
        raise ValueError(f"{name} sums to infinity in float64 (largest weight {sw.max():.3g}); scale the weights "
                         "down.")


def _batch_targets(batch, idx, Y, w, starts):
    """The targets and weights of the sequences idx packed as `batch`: one row per sorted sequence, or with
    per-step targets (starts given) one row per packed row."""
    s = idx[batch.sorted_indices]
    if starts is None:
        return Y[s], w[s]
    rows = starts[s][row_sequence(batch)] + row_step(batch)
    return Y[rows], w[rows]


class BaseRNN(BaseEstimator):
    """Shared parameters and training loop of the recurrent estimators (see RNNClassifier for the docs)."""

    _parameter_constraints = {
        "cell": [StrOptions({"rnn", "lstm", "gru"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"tanh", "relu"})],
        "recurrent_activation": [StrOptions({"logistic", "sigmoid"})],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "pooling": [StrOptions({"last", "mean", "max"})],
        "dense_layer_sizes": ["array-like"],
        "return_sequences": ["boolean"],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "clipnorm": [Interval(Real, 0, None, closed="neither"), None],
        "data_layout": [StrOptions({"NTF", "NCT"})],
    }

    @abstractmethod
    def __init__(self, cell, hidden_layer_sizes, activation, recurrent_activation, bidirectional, dropout, pooling,
                 dense_layer_sizes, return_sequences, solver, alpha, batch_size, learning_rate, learning_rate_init,
                 power_t, max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
                 early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, clipnorm,
                 data_layout):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.dense_layer_sizes = dense_layer_sizes
        self.return_sequences = return_sequences
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
        self.data_layout = data_layout

    # ---- what the subclasses define ----

    @abstractmethod
    def _encode_targets(self, y, first_fit, classes=None):
        """Check y and return the (N, n_outputs) training targets; set the target attributes on a first fit."""

    @abstractmethod
    def _out_activation(self):
        """The output activation of a new network."""

    @abstractmethod
    def _validation_score(self, y_true, raw):
        """Score of the raw network outputs on validation targets (as encoded)."""

    # ---- fitting ----

    def _check_layer_sizes(self, name):
        sizes = getattr(self, name)
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(self).__name__} must contain positive integers only. "
                f"Got {getattr(self, name)!r} instead."
            )
        if name == "hidden_layer_sizes" and not sizes:
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must have at least one recurrent "
                "layer. Got an empty tuple instead."
            )
        return sizes

    def _check_fit_params(self):
        hidden = self._check_layer_sizes("hidden_layer_sizes")
        dense = self._check_layer_sizes("dense_layer_sizes")
        return hidden, dense

    def _pooling(self):
        """The network's pooling: per-step outputs with return_sequences."""
        return "steps" if self.return_sequences else self.pooling

    def _check_X_y(self, X, y, sample_weight, reset):
        n_features = None if reset else self.n_features_in_
        dtype = None if reset else self._network.dtype
        seqs = check_sequences(X, data_layout=self.data_layout, estimator=self, n_features=n_features, dtype=dtype)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        n_y = _num_samples(y)  # also for array-likes without __len__ (only __array__)
        if n_y != len(seqs):
            raise ValueError(f"X has {len(seqs)} sequences, but y has {n_y} samples; they must match.")
        starts = None
        if self.return_sequences:
            y, sample_weight, starts = _flatten_steps(seqs, y, sample_weight)
            sw = sample_weight
        else:
            sw = _check_sample_weight(sample_weight, np.empty(len(seqs)), dtype=np.float64)
        if np.any(sw < 0) or not sw.sum() > 0:
            raise ValueError("sample_weight must be non-negative with a positive sum.")
        _check_weight_sum(sw, "sample_weight")
        return seqs, y, sw, starts

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : array-like of shape (N, T, F) or (N, T), or list of (T_i, F) or (T_i,) arrays
            Training sequences; a 2-D array is N univariate sequences of length T, a list may be ragged.
        y : array-like of shape (N,) or (N, n_outputs)
            Targets: class labels (classifier) or values (regressor). With return_sequences=True, one per step:
            an (N, T[, n_outputs]) array or a list of (T_i[, n_outputs]) arrays matching X's lengths.
        sample_weight : array-like of shape (N,), default=None
            Weight of every sequence in the loss; with return_sequences=True also per step, as an (N, T) array
            or a list of (T_i,) arrays.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        # A fit that fails leaves the estimator as it was: a fitted model stays fitted and continues exactly (its
        # random generator too), whether the call fails its checks (one class, a validation set too small, weights
        # that sum to 0) or, fitting a new network, fails later (out of memory). The one exception: training that
        # diverges keeps its last finite weights (_diverged says so). Until the epochs start, fit only rebinds
        # attributes (a new network, optimizer, curves) and draws from the generator, so putting the attributes
        # and the generator's state back undoes it; the epochs change an existing network's weights in place.
        first_fit = not hasattr(self, "_network") or not (self.warm_start or incremental)
        saved = dict(self.__dict__)
        rng_state = self._rng.bit_generator.state if "_rng" in saved else None
        training = False
        try:
            run = self._start_fit(X, y, sample_weight, incremental, classes, first_fit)
            training = True
            self._train(*run)
        except BaseException as exc:
            if not (training and isinstance(exc, FloatingPointError)) and (first_fit or not training):
                self.__dict__.clear()
                self.__dict__.update(saved)
                if rng_state is not None:
                    self._rng.bit_generator.state = rng_state
            raise
        return self

    def _start_fit(self, X, y, sample_weight, incremental, classes, first_fit):
        """Check the arguments, make the network (first fit) and the optimizer, and split off the validation set:
        what `_train` runs the epochs on."""
        hidden, dense = self._check_fit_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True (as MLP's).")
        seqs, y, sw, starts = self._check_X_y(X, y, sample_weight, reset=first_fit)
        Y = self._encode_targets(y, first_fit, classes)
        if first_fit:
            self._rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
            self.n_features_in_ = seqs[0].shape[1]
            self.n_outputs_ = Y.shape[1]
            self.out_activation_ = self._out_activation()
            self._network = Network(
                self.cell, self.n_features_in_, hidden, self.n_outputs_, self.out_activation_,
                activation=self.activation, bidirectional=self.bidirectional, dropout=self.dropout,
                pooling=self._pooling(), dense_sizes=dense, dtype=seqs[0].dtype,
            )
            self._network.initialize(self._rng)
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.validation_loss_curve_ = self.validation_scores_ = None
        else:
            self._check_same_architecture(hidden, dense)
        if first_fit or not incremental:
            self._start_run()
        sw = self._class_weighted(sw, y)
        if first_fit or not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        Y = Y.astype(self._network.dtype)
        early_stopping = self.early_stopping and not incremental
        # The weight of each sequence: its own, or the sum over its steps.
        seq_weight = sw if starts is None else np.add.reduceat(sw, starts)
        validation = None
        if early_stopping:
            # Stratify sequence labels; per-step labels cannot stratify a split of sequences.
            train, val = self._split_validation(len(seqs), Y, stratified=starts is None)
            val_batch = pack([seqs[i] for i in val])
            validation = (val_batch, *_batch_targets(val_batch, val, Y, sw, starts))
        else:
            train = np.arange(len(seqs))
        if not seq_weight[train].sum() > 0:
            raise ValueError("All sequences used for training have zero sample_weight"
                             + (" (after the early_stopping validation split)." if early_stopping else "."))
        return seqs, Y, sw, starts, incremental, train, validation

    def _start_run(self):
        """A fit (first or warm) is a new run of epochs: its own stopping counter, and its own best epoch to
        restore with early_stopping; loss_curve_ and the validation curves go on across warm fits."""
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_loss_curve_ = getattr(self, "validation_loss_curve_", None) or []
            self.validation_scores_ = getattr(self, "validation_scores_", None) or []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_loss_curve_ = self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _check_same_architecture(self, hidden, dense):
        """warm_start and partial_fit continue from the fitted weights, so the network must be the same."""
        config = self._network._config
        now = dict(cell=self.cell, hidden_sizes=hidden, dense_sizes=dense, bidirectional=bool(self.bidirectional),
                   activation=self.activation, pooling=self._pooling(), dropout=float(self.dropout))
        for key, value in now.items():
            if config[key] != value:
                raise ValueError(
                    f"warm_start and partial_fit continue from the fitted network, whose {key} is {config[key]!r}, "
                    f"but the estimator's parameters now give {value!r}. Set warm_start=False to fit a new network."
                )

    def _class_weighted(self, sw, y):
        return sw

    def _new_optimizer(self):
        params = self._network.params
        if self.solver == "sgd":
            return SGDOptimizer(params, self.learning_rate_init, self.learning_rate, self.momentum,
                                self.nesterovs_momentum, self.power_t)
        return AdamOptimizer(params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _batch_size(self, n):
        # "auto": 32 sequences, as Keras. A recurrent net needs many updates; UCR/UEA training sets are often a few
        # hundred sequences, which MLP's min(200, n) would turn into one or two updates an epoch.
        if self.batch_size == "auto":
            return min(32, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped.")
        return min(self.batch_size, n)

    def _split_validation(self, n, Y, stratified):
        stratify = None
        if stratified:
            stratify = Y.argmax(1) if self.out_activation_ == "softmax" else (
                Y[:, 0] if self.out_activation_ == "logistic" else None)
        idx = np.arange(n)
        seed = int(self._rng.integers(2**31 - 1))
        try:
            train, val = train_test_split(idx, test_size=self.validation_fraction, random_state=seed,
                                          stratify=stratify)
        except ValueError:
            # Too few members of a class to stratify: a plain random split still gives a usable validation set.
            train, val = train_test_split(idx, test_size=self.validation_fraction, random_state=seed)
        if len(val) < 2 or len(train) < 1:
            raise ValueError(
                f"The validation set of early_stopping is too small ({len(val)} sequences from "
                f"validation_fraction={self.validation_fraction} of {n}); increase validation_fraction."
            )
        return train, val

    def _train(self, seqs, Y, sw, starts, incremental, train, validation):
        """Run the epochs of one fit (one epoch for partial_fit) on the sequences `train`, with MLP's stopping
        rules; validation: the early_stopping set as (batch, targets, weights), or None.

        Y and sw hold one row per sequence, or with return_sequences one row per step, sequence after sequence:
        sequence i's rows start at starts[i].
        """
        batch_size = self._batch_size(len(train))
        if self.verbose:
            print(f"{'epoch':>5}  {'train loss':>11}  {'val loss':>11}  {'val score':>9}  {'seconds':>8}")
        best_params = None
        batches = Minibatches(seqs)
        try:
            with step_threads(batch_size, self._network):
                for _ in range(1 if incremental else self.max_iter):
                    improved = self._epoch(batches, Y, sw, starts, train, batch_size, validation)
                    # The run ends on its best epoch (validation score, or training loss): Adam's loss spikes
                    # otherwise leave a model stopped just after a spike.
                    if improved and not incremental:
                        best_params = self._network.params.copy()
                    if incremental or self._should_stop(validation is not None):
                        break
                else:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                        "hasn't converged yet.",
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if best_params is not None:
            self._network.params[:] = best_params

    def _epoch(self, batches, Y, sw, starts, train, batch_size, validation):
        """One pass over the training sequences; records the curves and returns whether it is the best yet."""
        net = self._network
        start = time.perf_counter()
        order = self._rng.permutation(train) if self.shuffle else train
        backup = np.empty_like(net.params)
        total = total_weight = 0.0
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            batch = batches(idx)
            Yb, wb = _batch_targets(batch, idx, Y, sw, starts)
            weight = wb.sum()
            if not weight > 0:
                continue  # only zero-weight sequences: no loss, and the weighted mean would be 0 / 0
            total += self._step(batch, Yb, wb, backup) * weight
            total_weight += weight
        self.n_iter_ += 1
        self.t_ += len(train)
        self.loss_ = total / total_weight
        self.loss_curve_.append(self.loss_)
        val_loss = val_score = None
        if validation is not None:
            val_batch, val_Y, val_w = validation
            logits, _ = net.forward(val_batch)
            val_loss = float(net.loss(logits, val_Y, val_w)[0])
            val_score = self._validation_score(val_Y, net.activate(logits))
            self.validation_loss_curve_.append(val_loss)
            self.validation_scores_.append(val_score)
        self._optimizer.iteration_ends(self.t_)
        improved = self._update_no_improvement_count(validation is not None)
        if self.verbose:
            self._print_row(val_loss, val_score, time.perf_counter() - start, improved)
        return improved

    def _should_stop(self, early_stopping):
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if early_stopping else "Training loss"
        msg = f"{what} did not improve more than tol={self.tol} for {self.n_iter_no_change} consecutive epochs."
        if self._optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    def _step(self, batch, Y, w, backup):
        """One optimizer update on one minibatch; returns the minibatch loss."""
        net = self._network
        try:
            loss = net.loss_and_grad(batch, Y, w, self.alpha, self._rng)
        except FloatingPointError:
            loss = np.nan
        norm = clip_grad_norm(net.grad, self.clipnorm) if np.isfinite(loss) else np.nan
        if not np.isfinite(norm):
            self._diverged()
        backup[:] = net.params
        self._optimizer.update_params(net.params, net.grad)
        if not np.isfinite(net.params).all():
            net.params[:] = backup
            self._diverged()
        return loss

    def _diverged(self):
        raise FloatingPointError(
            f"Training diverged in epoch {self.n_iter_ + 1}: the loss or its gradient became NaN or infinite. "
            "Scale the inputs (e.g. fastrnn.SequenceScaler in a Pipeline before this estimator), lower "
            "learning_rate_init, or lower clipnorm. The model keeps its last finite weights."
        )

    def _update_no_improvement_count(self, early_stopping):
        """MLP's stopping rule; returns True when this epoch is the best so far."""
        if early_stopping:
            score = self.validation_scores_[-1]
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                return True
            return False
        if self.loss_ > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_ < self.best_loss_:
            self.best_loss_ = self.loss_
            return True
        return False

    def _print_row(self, val_loss, val_score, seconds, improved):
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        print(f"{self.n_iter_:>5}  {self.loss_:>11.6f}  {fmt(val_loss, '>11.6f'):>11}  {fmt(val_score, '>9.4f'):>9}"
              f"  {seconds:>8.3f}{'  *' if improved else ''}")

    # ---- prediction ----

    def _fitted_network(self):
        """The fitted network, or sklearn's NotFittedError. check_is_fitted only when there is none: on every call
        it gathers the estimator's tags, 7 us of a 140 us predict of one sequence."""
        net = self.__dict__.get("_network")
        if net is None:
            check_is_fitted(self, "_network")
        return net

    def _forward(self, X):
        """Raw network outputs (after the output activation) for X, in X's order.

        One (N, n_outputs) array; with per-step outputs, a list of (T_i, n_outputs) arrays, one per sequence.
        """
        net = self._fitted_network()
        seqs = check_sequences(X, data_layout=self.data_layout, estimator=self, n_features=self.n_features_in_,
                               dtype=net.dtype)
        outputs = []
        with step_threads(min(len(seqs), _PREDICT_CHUNK), net):
            for lo in range(0, len(seqs), _PREDICT_CHUNK):
                batch = pack(seqs[lo:lo + _PREDICT_CHUNK])
                out = net.predict(batch)
                if net.pooling == "steps":
                    outputs.extend(unpack(out, batch))
                else:
                    outputs.append(out)
        return outputs if net.pooling == "steps" else np.concatenate(outputs)

    @property
    def _per_step_outputs(self):
        """Fitted with return_sequences: one output per time step."""
        return getattr(self, "_network", None) is not None and self._network.pooling == "steps"

    def _per_step(self, X, rows_of):
        """Per-step outputs in X's form: an (N, T, ...) array when every sequence has X's length T and X is an
        array, else a list. rows_of maps one sequence's (T_i, n_outputs) raw outputs to what is returned."""
        per_seq = [rows_of(r) for r in self._forward(X)]
        ragged = isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object)
        return per_seq if ragged else np.stack(per_seq)

    def _steps_score(self, X, y, sample_weight, metric):
        """A score over every real step of every sequence (return_sequences)."""
        pred = self.predict(X)  # checks X; its per-sequence outputs have the sequences' lengths
        y_flat, w, _ = _flatten_steps(pred, y, sample_weight)
        pred_flat = np.concatenate([np.asarray(p) for p in pred])
        return metric(y_flat, pred_flat, sample_weight=w)

    # ---- fitted weights, named like PyTorch's state_dict and MLP's coefs_ ----

    @property
    def rnn_weights_(self):
        """Recurrent weights named like a PyTorch ``state_dict`` (``weight_ih_l0``, ..., ``*_reverse``)."""
        check_is_fitted(self, "_network")
        return {k: v for k, v in self._network.views.items() if not k.startswith(("coef_", "intercept_"))}

    @property
    def coefs_(self):
        """Dense head weight matrices, (fan_in, fan_out) each, as MLP's ``coefs_``."""
        check_is_fitted(self, "_network")
        return [self._network.views[c] for c, _ in self._network.dense]

    @property
    def intercepts_(self):
        """Dense head bias vectors, as MLP's ``intercepts_``."""
        check_is_fitted(self, "_network")
        return [self._network.views[b] for _, b in self._network.dense]

    # ---- streaming: one time step of many independent streams ----

    def _streaming_network(self):
        """The fitted network, if it can run one step at a time; a clear error otherwise."""
        net = self._fitted_network()
        if net.n_dirs != 1:
            raise ValueError(
                f"Streaming (init_state / predict_step) needs a unidirectional model, but this {type(self).__name__}"
                " is bidirectional: its backward direction reads every sequence from its end, which a stream has "
                "not reached yet. Use predict on whole sequences."
            )
        # "steps" (per-step outputs, return_sequences) maps every step's state through the head: a step's output
        # is what one streaming step computes, as for "last".
        if net.pooling not in ("last", "steps"):
            raise ValueError(
                f"Streaming (init_state / predict_step) needs pooling='last', but this {type(self).__name__} has "
                f"pooling={net.pooling!r}, whose output depends on every step of the sequence. Use predict on "
                "whole sequences."
            )
        return net

    def init_state(self, n_samples=1):
        """The state of ``n_samples`` new streams (all zeros, as the start of every sequence in `predict`).

        Parameters
        ----------
        n_samples : int, default=1
            Number of independent streams stepped together.

        Returns
        -------
        state : StreamState
            Hidden (and, for an LSTM, cell) state of every layer, ``(n_samples, H_l)`` arrays the caller owns.
        """
        net = self._streaming_network()
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        h = tuple(np.zeros((int(n_samples), H), dtype=net.dtype) for H in net.hidden_sizes)
        c = tuple(np.zeros_like(a) for a in h) if net.cell == "lstm" else None
        return StreamState(h, c)

    def _stream_forward(self, X_t, state):
        """One step: (outputs after the output activation (n, n_outputs), new state).

        The common case (a 2-D array of the model's dtype and width, and a StreamState) goes straight to the
        compiled step (Stepper.stream), which checks the state and the values itself: a step at H = 64 takes two
        or three microseconds, and each Python-level check here cost a few percent of that. Anything else takes
        the path below, with the estimator's conversions and messages.
        """
        net = self.__dict__.get("_network")
        stepper = net.stepper if net is not None else None
        if stepper is None:
            # Made on first use, after _streaming_network's checks, and kept with the network.
            net = self._streaming_network()
            stepper = net.stepper = net.make_stepper()
        done = stepper.stream(X_t, state, StreamState)
        if done is not None:
            return done
        x = X_t
        # dtype identity: the builtin dtypes are singletons, and an equal dtype that is not takes the full path.
        if type(x) is not np.ndarray or x.dtype is not stepper.dtype or x.ndim != 2:
            x = self._step_input(x, stepper.dtype)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X_t has {x.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        if state is None:
            if x.shape[0] == 0:
                raise ValueError("X_t has no rows: predict_step takes one row per stream.")
            state = self.init_state(x.shape[0])
        elif type(state) is not StreamState:
            raise TypeError(f"state must be the StreamState returned by init_state or predict_step, got "
                            f"{type(state).__name__}.")
        out, h, c = stepper.step(x, state.h, state.c)
        return out, StreamState(h, c)

    def _step_input(self, X_t, dtype):
        """X_t as an (n_samples, n_features) array of the model's dtype, or a clear error."""
        x = np.asarray(X_t)
        if x.dtype != dtype:
            if x.dtype.kind not in "biuf":
                raise TypeError(f"X_t must hold real numbers, got dtype {x.dtype}.")
            x = x.astype(dtype)
        if x.ndim == 1 and self.n_features_in_ == 1:
            x = x[:, None]  # (n_samples,) univariate streams
        if x.ndim != 2:
            raise ValueError(
                f"X_t must be one time step of every stream, shape (n_samples, n_features) (or (n_samples,) for "
                f"univariate data), got shape {x.shape}."
            )
        return x

    # ---- persistence: the pickled state holds numpy arrays and built-ins only ----

    def __getstate__(self):
        """Pickled state: the estimator's attributes, with the network as its configuration (a dict of built-ins)
        and flat parameter vector, the optimizer as its arrays and numbers (so that partial_fit after loading
        continues exactly), and the random generator as its bit generator's state; no fastrnn, numpy Generator
        or scikit-learn object besides the estimator itself. ``_fastrnn_format`` versions the layout."""
        from . import __version__

        state = dict(super().__getstate__())
        net = state.pop("_network", None)
        if net is not None:
            state["_network"] = {"config": dict(net._config), "params": net.params}
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            kind = "adam" if isinstance(optimizer, AdamOptimizer) else "sgd"
            state["_optimizer"] = {"kind": kind, "state": dict(vars(optimizer))}
        rng = state.pop("_rng", None)
        if rng is not None:
            state["_rng"] = rng.bit_generator.state
        state.pop("_label_encoder", None)  # rebuilt from classes_
        state["_fastrnn_format"] = PERSISTENCE_FORMAT
        state["_fastrnn_version"] = __version__
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        fmt = state.pop("_fastrnn_format", None)
        saved_by = state.pop("_fastrnn_version", None)
        if fmt != PERSISTENCE_FORMAT:
            raise ValueError(
                f"Cannot load this {type(self).__name__}: it was saved by fastrnn {saved_by or '(unknown version)'}"
                f" in persistence format {fmt!r}, but fastrnn {__version__} reads format {PERSISTENCE_FORMAT} "
                "only. Load it with the fastrnn version that saved it (and, to move it across versions, export "
                "its weights with fastrnn.interop.to_torch), or fit it again."
            )
        net = state.pop("_network", None)
        if net is not None:
            network = Network.__new__(Network)
            # The network copies the parameters (joblib may hand back read-only memory maps, and training writes
            # into them).
            network.__setstate__({"config": dict(net["config"]), "params": net["params"]})
            state["_network"] = network
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            cls = AdamOptimizer if optimizer["kind"] == "adam" else SGDOptimizer
            opt = cls.__new__(cls)
            opt.__dict__.update({k: np.array(v) if isinstance(v, np.ndarray) else v
                                 for k, v in optimizer["state"].items()})
            state["_optimizer"] = opt
        rng = state.pop("_rng", None)
        if rng is not None:
            bit_generator = getattr(np.random, rng["bit_generator"])()
            bit_generator.state = rng
            state["_rng"] = np.random.Generator(bit_generator)
        if "classes_" in state:
            encoder = LabelEncoder()
            encoder.classes_ = state["classes_"]
            state["_label_encoder"] = encoder
        super().__setstate__(state)

    # ---- weights from elsewhere (fastrnn.interop) ----

    def _set_network(self, network, classes=None):
        """Make this estimator a fitted one around `network` (weights read by fastrnn.interop), with every fitted
        attribute a fit sets; predict, pickling, warm_start and partial_fit then work as after a fit."""
        self._rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        self._network = network
        self.n_features_in_ = network._config["n_features"]
        self.n_outputs_ = network._config["n_outputs"]
        self.out_activation_ = network.out_activation
        self._set_imported_targets(classes)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_ = None  # not trained by fastrnn
        self.loss_curve_ = []
        self.validation_loss_curve_ = self.validation_scores_ = None
        self._start_run()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class RNNClassifier(ClassifierMixin, BaseRNN):
    """Recurrent neural network classifier of sequences (vanilla RNN, LSTM or GRU).

    Stacked recurrent layers read each sequence; its final state (or the mean or max of its outputs) goes through
    an optional dense head to a softmax (multiclass) or logistic (binary) output, trained on the log-loss by
    minibatch Adam or SGD with backpropagation through time in compiled code.

    fit and predict use the threads BLAS may use (``threadpoolctl.threadpool_limits``, ``OMP_NUM_THREADS``): a
    minibatch's sequences are dealt to one thread each in turn, and the two directions of a bidirectional layer
    run at once when there are too few sequences; the same data and thread count give the same model.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrent cell; "rnn" is an Elman network.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden units of each stacked recurrent layer.
    activation : {"tanh", "relu"}, default="tanh"
        The cells' candidate activation, as Keras's `activation`: an RNN's output, an LSTM's g and the
        activation of its cell state, a GRU's n. PyTorch's LSTM and GRU are tanh.
    recurrent_activation : {"logistic", "sigmoid"}, default="logistic"
        Gate activation of LSTM and GRU cells ("sigmoid" is an alias).
    bidirectional : bool, default=False
        Read each sequence in both directions and join the two.
    dropout : float, default=0.0
        Dropout on the outputs of every recurrent layer but the last, while training (PyTorch's semantics).
    pooling : {"last", "mean", "max"}, default="last"
        How a sequence becomes one vector: the final state (both directions' final states when bidirectional), or
        the mean or maximum of the top layer's outputs over the sequence's real steps.
    dense_layer_sizes : tuple of int, default=()
        Hidden layers (relu) of the dense head between pooling and output.
    return_sequences : bool, default=False
        One output per time step instead of one per sequence: a sequence tagger. y then holds a label per step,
        as an (N, T) array or a list of (T_i,) arrays matching X's lengths; sample_weight may be per sequence or
        per step; the loss and score average over real steps only; `pooling` is not used. scikit-learn's
        scoring strings (``scoring="accuracy"`` in cross_val_score, ...) compare y with predict(X) as arrays,
        which ragged lists of per-step labels are not (they score NaN, with a warning): use the default scoring
        (the estimator's `score`), or equal lengths.
    solver : {"adam", "sgd"}, default="adam"
    alpha : float, default=1e-4
        L2 penalty on all weight matrices (not biases), scaled as MLP's.
    batch_size : int or "auto", default="auto"
        Sequences per minibatch; "auto" is min(32, n_samples): recurrent nets need many updates, and small
        training sets would get one or two an epoch with MLP's min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule of solver="sgd".
    learning_rate_init : float, default=1e-3
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the sequences every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, dropout and the validation split: the same seed gives the same weights,
        bit for bit.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print one row per epoch: epoch, train loss, validation loss and score, seconds; "*" marks a new best.
    warm_start : bool, default=False
        Reuse the previous fit's weights as the starting point.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out validation_fraction of the training set (stratified), stop when its score stops improving, and
        keep the weights of the epoch with the best validation score. Without it, training stops when the training
        loss stops improving and keeps the weights of the epoch with the lowest training loss (unlike MLP, which
        keeps the last: Adam's loss spikes would otherwise leave a model stopped just after a spike).
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default=10
    clipnorm : float or None, default=5.0
        Largest global norm of the gradient; larger gradients are scaled down (None: no clipping).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, multiplied into sample_weight.
    data_layout : {"NTF", "NCT"}, default="NTF"
        Axis order of 3-D X: (sequences, time, features), or (sequences, channels, time) as aeon/sktime.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Features per time step F (not the number of time steps).
    n_outputs_ : int
    out_activation_ : str
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
    validation_loss_curve_, validation_scores_ : list of float or None
        Per-epoch validation loss and accuracy, with early_stopping.
    best_loss_ : float or None
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    t_ : int
        Training sequences seen.
    rnn_weights_ : dict of ndarray
        Recurrent weights named like a PyTorch ``state_dict``.
    coefs_, intercepts_ : list of ndarray
        The dense head (output layer included), as MLP's.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 12, 2))               # 200 sequences of 12 steps, 2 features each
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)    # 1 where feature 0 sums to more than 0
    >>> clf = RNNClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0).fit(X, y)
    >>> clf.classes_
    array([0, 1])
    >>> print(clf.score(X, y) > 0.95)
    True

    Sequences of other lengths, and ragged batches as lists:

    >>> clf.predict_proba([rng.normal(size=(30, 2)), rng.normal(size=(5, 2))]).shape
    (2, 2)
    """

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, cell="lstm", hidden_layer_sizes=(64,), activation="tanh", recurrent_activation="logistic",
                 bidirectional=False, dropout=0.0, pooling="last", dense_layer_sizes=(), return_sequences=False,
                 solver="adam", alpha=1e-4, batch_size="auto", learning_rate="constant", learning_rate_init=1e-3,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 clipnorm=5.0, class_weight=None, data_layout="NTF"):
        super().__init__(
            cell=cell, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            recurrent_activation=recurrent_activation, bidirectional=bidirectional, dropout=dropout,
            pooling=pooling, dense_layer_sizes=dense_layer_sizes, return_sequences=return_sequences, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, clipnorm=clipnorm, data_layout=data_layout,
        )
        self.class_weight = class_weight

    def _encode_targets(self, y, first_fit, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first_fit:
            self._label_encoder = LabelEncoder().fit(y if classes is None else classes)
            self.classes_ = self._label_encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, but the data contains "
                    f"only one class: {self.classes_[0]!r}."
                )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y has labels not seen in the first fit or in `classes`: {unseen.tolist()}.")
        codes = self._label_encoder.transform(y)
        if len(self.classes_) == 2:
            return codes[:, None].astype(np.float64)
        return np.eye(len(self.classes_))[codes]

    def _out_activation(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _class_weighted(self, sw, y):
        if self.class_weight is None:
            return sw
        y = column_or_1d(y)
        if isinstance(self.class_weight, dict):
            # Against every class of the model, not only those of this y: a partial_fit batch may lack a class.
            weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
            bad = ~(np.isfinite(weights) & (weights >= 0))
            if bad.any():
                raise ValueError(f"class_weight must be finite and non-negative, got {weights[bad].tolist()[0]!r} "
                                 f"for class {self.classes_[bad].tolist()[0]!r}.")
            sw = sw * weights[self._label_encoder.transform(y)]
        else:
            sw = sw * compute_sample_weight(self.class_weight, y)
        if not sw.sum() > 0:
            raise ValueError(f"class_weight={self.class_weight!r} gives every sequence of y weight 0.")
        _check_weight_sum(sw, "sample_weight times class_weight")
        return sw

    def _validation_score(self, y_true, raw):
        return accuracy_score(self._decode(y_true), self._decode(raw))

    def _decode(self, raw):
        codes = (raw[:, 0] > 0.5).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
        return self.classes_[codes]

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X, y, sample_weight : as in `fit`.
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole problem; required on the first call.

        Returns
        -------
        self : object
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: one batch does not show the class "
                "frequencies. Compute them on the whole data (sklearn.utils.compute_class_weight) and pass a dict."
            )
        if not hasattr(self, "_network"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={list(classes)}` is not the same as on the first call to partial_fit "
                             f"({list(self.classes_)}).")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """Class labels of the sequences in X, shape (N,); with return_sequences, of every step: (N, T) for an
        array X, a list of (T_i,) arrays for a list."""
        if self._per_step_outputs:
            return self._per_step(X, self._decode)
        return self._decode(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities of the sequences in X, shape (N, n_classes), columns ordered as classes_; with
        return_sequences, of every step: (N, T, n_classes), or a list of (T_i, n_classes) arrays."""
        if self._per_step_outputs:
            return self._per_step(X, self._proba)
        return self._proba(self._forward(X))

    @staticmethod
    def _proba(raw):
        """Network outputs -> probabilities of every class (a binary model has one logistic output)."""
        return np.hstack([1 - raw, raw]) if raw.shape[1] == 1 else raw

    def predict_log_proba(self, X):
        """Log of predict_proba."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return [np.log(p) for p in proba] if isinstance(proba, list) else np.log(proba)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; with return_sequences, over every step of every sequence."""
        if self._per_step_outputs:
            return self._steps_score(X, y, sample_weight, accuracy_score)
        return super().score(X, y, sample_weight)

    def predict_step(self, X_t, state=None):
        """Class labels after one more time step of each stream, without replaying the history.

        Parameters
        ----------
        X_t : array-like of shape (n_samples, n_features), or (n_samples,) when n_features is 1
            The next time step of every stream (any ``data_layout``: one step has no time axis).
        state : StreamState or None, default=None
            The streams' state from `init_state` or the previous call; None starts ``len(X_t)`` new streams.
            It is not modified.

        Returns
        -------
        y_t : ndarray
            Class label of every stream after this step, shape (n_samples,).
        state : StreamState
            The new state, to pass to the next call.

        Notes
        -----
        After the last step of a sequence, the labels are those `predict` gives on the whole
        sequence (unidirectional models with pooling="last" only). Streams of different lengths: stop feeding
        a stream (keep one state per stream, or step a subset with ``state.take(idx)`` and merge back with
        ``state.put(idx, sub_state)``).
        """
        raw, state = self._stream_forward(X_t, state)
        return self._decode(raw), state

    def predict_proba_step(self, X_t, state=None):
        """Class probabilities after one more time step of each stream, without replaying the history.

        Parameters
        ----------
        X_t : array-like of shape (n_samples, n_features), or (n_samples,) when n_features is 1
            The next time step of every stream (any ``data_layout``: one step has no time axis).
        state : StreamState or None, default=None
            The streams' state from `init_state` or the previous call; None starts ``len(X_t)`` new streams.
            It is not modified.

        Returns
        -------
        y_t : ndarray
            Probabilities, shape (n_samples, n_classes), columns ordered as classes_.
        state : StreamState
            The new state, to pass to the next call.

        Notes
        -----
        After the last step of a sequence, the probabilities are those `predict_proba` gives on the whole
        sequence (unidirectional models with pooling="last" only). Streams of different lengths: stop feeding
        a stream (keep one state per stream, or step a subset with ``state.take(idx)`` and merge back with
        ``state.put(idx, sub_state)``).
        """
        raw, state = self._stream_forward(X_t, state)
        return self._proba(raw), state

    def _set_imported_targets(self, classes):
        self._label_encoder = LabelEncoder().fit(classes)
        self.classes_ = self._label_encoder.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class RNNRegressor(RegressorMixin, BaseRNN):
    """Recurrent neural network regressor of sequences (vanilla RNN, LSTM or GRU).

    Each sequence maps to one value (or one vector, for multi-output y) through stacked recurrent layers,
    pooling, an optional dense head and an identity output, trained on half the mean squared error. The
    parameters are RNNClassifier's, without class_weight and with `loss`.

    Parameters
    ----------
    loss : {"squared_error"}, default="squared_error"
        The loss: half the squared error, averaged over outputs (as MLPRegressor).
    Other parameters: see RNNClassifier.

    Attributes
    ----------
    As RNNClassifier, without classes_; validation_scores_ hold R^2.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 12, 2))               # 200 sequences of 12 steps, 2 features each
    >>> y = X[:, :, 0].mean(axis=1)
    >>> reg = RNNRegressor(cell="gru", hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    >>> print(reg.fit(X, y).score(X, y) > 0.95)
    True

    Streaming: the same model one step at a time, from a state the caller keeps (`init_state`,
    `predict_step`); after a sequence's last step the output is `predict`'s on the whole sequence.

    >>> state = reg.init_state(n_samples=1)
    >>> for x_t in X[0]:                                # x_t: (2,), the next step of the one stream
    ...     y_t, state = reg.predict_step(x_t[None], state)
    >>> np.allclose(y_t, reg.predict(X[:1]))
    True
    """

    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "loss": [StrOptions({"squared_error"})],
    }

    def __init__(self, cell="lstm", hidden_layer_sizes=(64,), activation="tanh", recurrent_activation="logistic",
                 bidirectional=False, dropout=0.0, pooling="last", dense_layer_sizes=(), return_sequences=False,
                 loss="squared_error", solver="adam", alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 clipnorm=5.0, data_layout="NTF"):
        super().__init__(
            cell=cell, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            recurrent_activation=recurrent_activation, bidirectional=bidirectional, dropout=dropout,
            pooling=pooling, dense_layer_sizes=dense_layer_sizes, return_sequences=return_sequences, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, clipnorm=clipnorm, data_layout=data_layout,
        )
        self.loss = loss

    def _encode_targets(self, y, first_fit, classes=None):
        y = np.asarray(y)
        if y.dtype.kind == "O":
            try:  # numbers held in an object array, as scikit-learn's regressors accept
                y = y.astype(np.float64)
            except (TypeError, ValueError, OverflowError):
                pass
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must be numeric for a regressor, got dtype {y.dtype}.")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D (n_samples, n_outputs), got shape {y.shape}.")
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        if first_fit:
            self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1).astype(np.float64)
        if Y.shape[1] == 0:
            raise ValueError(f"y must have at least one output, got shape {y.shape}.")
        if not first_fit and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but {type(self).__name__} was fitted with "
                             f"{self.n_outputs_}.")
        return Y

    def _out_activation(self):
        return "identity"

    def _validation_score(self, y_true, raw):
        return r2_score(y_true, raw)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights. Parameters as in `fit`."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values of the sequences in X, shape (N,) or (N, n_outputs); with return_sequences, of every
        step: (N, T[, n_outputs]) for an array X, a list of (T_i[, n_outputs]) arrays for a list."""
        if self._per_step_outputs:
            return self._per_step(X, self._shaped)
        return self._shaped(self._forward(X))

    def _shaped(self, raw):
        """Network outputs -> predictions shaped like the training targets (1-D y gives 1-D predictions)."""
        return raw.ravel() if self._y_1d else raw

    def score(self, X, y, sample_weight=None):
        """R^2; with return_sequences, over every step of every sequence."""
        if self._per_step_outputs:
            return self._steps_score(X, y, sample_weight, r2_score)
        return super().score(X, y, sample_weight)

    def predict_step(self, X_t, state=None):
        """Predicted values after one more time step of each stream, without replaying the history.

        Parameters
        ----------
        X_t : array-like of shape (n_samples, n_features), or (n_samples,) when n_features is 1
            The next time step of every stream (any ``data_layout``: one step has no time axis).
        state : StreamState or None, default=None
            The streams' state from `init_state` or the previous call; None starts ``len(X_t)`` new streams.
            It is not modified.

        Returns
        -------
        y_t : ndarray
            Shape (n_samples,) or (n_samples, n_outputs), as predict's.
        state : StreamState
            The new state, to pass to the next call.

        Notes
        -----
        After the last step of a sequence, the values are those `predict` gives on the whole
        sequence (unidirectional models with pooling="last" only). Streams of different lengths: stop feeding
        a stream (keep one state per stream, or step a subset with ``state.take(idx)`` and merge back with
        ``state.put(idx, sub_state)``).
        """
        raw, state = self._stream_forward(X_t, state)
        return self._shaped(raw), state

    def _set_imported_targets(self, classes):
        self._y_1d = self.n_outputs_ == 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may be (N, n_outputs)
        return tags
