"""RNNClassifier and RNNRegressor: fit for a fixed number of epochs, predict, streaming, accuracy.

The task (common.sequence_task) is fixed: 600 sequences of 40 steps and 3 features, labelled by whether the
running sum of feature 0 ever exceeds 3 (400 to train, 200 to test). Hidden size 64 (the default), one layer.
"""
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastrnn import RNNClassifier, RNNRegressor

from .common import CELLS, DTYPES, Benchmark, sequence_task


def _classifier(cell, **params):
    return RNNClassifier(cell=cell, random_state=0, **params)


def _fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


# Exactly 5 epochs: tol=0 and a patience longer than the run, so the stopping rule never ends a fit early.
FIXED_EPOCHS = dict(max_iter=5, tol=0.0, n_iter_no_change=1000)


class FitSuite(Benchmark):
    """``fit`` for exactly 5 epochs (13 minibatches of 32 sequences each)."""

    param_names = ["cell", "dtype"]
    params = (list(CELLS), list(DTYPES))

    def setup(self, cell, dtype):
        X, _, y, _ = sequence_task()
        self.X, self.y = X.astype(dtype), y
        self.estimator = _classifier(cell, **FIXED_EPOCHS)

    def time_fit(self, cell, dtype):
        _fit_quietly(self.estimator, self.X, self.y)

    def peakmem_fit(self, cell, dtype):
        _fit_quietly(self.estimator, self.X, self.y)


class PredictSuite(Benchmark):
    """``predict`` of one sequence and of 1000 sequences (40 steps each) with a model fitted for 5 epochs."""

    param_names = ["cell", "dtype", "n_sequences"]
    params = (list(CELLS), list(DTYPES), [1, 1000])

    def setup_cache(self):
        X, _, y, _ = sequence_task()
        return {(cell, dtype): _fit_quietly(_classifier(cell, **FIXED_EPOCHS), X.astype(dtype), y)
                for cell in CELLS for dtype in DTYPES}

    setup_cache.timeout = 600

    def setup(self, fitted, cell, dtype, n_sequences):
        self.estimator = fitted[cell, dtype]
        _, T, F = sequence_task()[0].shape
        self.X = np.random.default_rng(0).standard_normal((n_sequences, T, F)).astype(dtype)

    def time_predict(self, fitted, cell, dtype, n_sequences):
        self.estimator.predict(self.X)

    def peakmem_predict(self, fitted, cell, dtype, n_sequences):
        self.estimator.predict(self.X)


class StreamSuite(Benchmark):
    """Streaming: 100 consecutive ``RNNRegressor.predict_step`` calls on one stream (F = 8, H = 64), carrying the
    state; the time is for all 100. Skipped when the estimators have no ``predict_step``."""

    param_names = ["cell", "dtype"]
    params = (list(CELLS), list(DTYPES))
    n_steps = 100

    def setup(self, cell, dtype):
        if not hasattr(RNNRegressor, "predict_step"):
            raise NotImplementedError("RNNRegressor.predict_step does not exist in this version")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((32, 10, 8)).astype(dtype)
        self.estimator = _fit_quietly(RNNRegressor(cell=cell, hidden_layer_sizes=(64,), max_iter=1, random_state=0),
                                      X, X[:, :, 0].sum(axis=1))
        self.xs = rng.standard_normal((self.n_steps, 1, 8)).astype(dtype)
        self.state = self.estimator.init_state(1)

    def time_100_predict_steps(self, cell, dtype):
        state = self.state
        for x in self.xs:
            _, state = self.estimator.predict_step(x, state)


class AccuracySuite(Benchmark):
    """Test and train accuracy of ``RNNClassifier(cell=cell, random_state=0, max_iter=30)`` (every other parameter
    at its default) on the fixed task, and the epochs it ran; float64."""

    param_names = ["cell"]
    params = (list(CELLS),)

    def setup_cache(self):
        X, X_test, y, y_test = sequence_task()
        scores = {}
        for cell in CELLS:
            est = _fit_quietly(_classifier(cell, max_iter=30), X, y)
            scores[cell] = dict(test=est.score(X_test, y_test), train=est.score(X, y), n_iter=est.n_iter_)
        return scores

    setup_cache.timeout = 600

    def track_test_accuracy(self, scores, cell):
        return float(scores[cell]["test"])

    def track_train_accuracy(self, scores, cell):
        return float(scores[cell]["train"])

    def track_n_iter(self, scores, cell):
        return int(scores[cell]["n_iter"])

    track_test_accuracy.unit = track_train_accuracy.unit = "accuracy"
    track_n_iter.unit = "epochs"
