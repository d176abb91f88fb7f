"""return_sequences=True: sequence tagging (RNNClassifier) and sequence-to-sequence regression (RNNRegressor)."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from fastrnn import RNNClassifier, RNNRegressor


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def parity_task(n, seed):
    """Ragged 0/1 sequences; the label of step t is the parity of the number of ones up to t: it depends on the
    whole past, not on the current input."""
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        x = rng.integers(0, 2, int(rng.integers(5, 20)))
        X.append(x[:, None].astype(float))
        Y.append(np.cumsum(x) % 2)
    return X, Y


def delayed_copy(n, seed, delay=2):
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        x = rng.standard_normal(int(rng.integers(8, 25)))
        X.append(x[:, None])
        Y.append(np.r_[np.zeros(delay), x[:-delay]])
    return X, Y


def tagger(**kw):
    params = dict(cell="gru", hidden_layer_sizes=(16,), return_sequences=True, random_state=0, max_iter=60,
                  learning_rate_init=0.01)
    return RNNClassifier(**{**params, **kw})


def test_tagger_learns_running_parity_on_ragged_data():
    X, Y = parity_task(400, 0)
    Xt, Yt = parity_task(200, 1)
    clf = tagger().fit(X, Y)
    assert clf.score(Xt, Yt) >= 0.95
    pred, proba = clf.predict(Xt), clf.predict_proba(Xt)
    assert isinstance(pred, list) and [len(p) for p in pred] == [len(x) for x in Xt]
    assert all(p.shape == (len(x), 2) for p, x in zip(proba, Xt))
    np.testing.assert_allclose(np.concatenate(proba).sum(1), 1)
    accuracy = np.mean(np.concatenate(pred) == np.concatenate(Yt))
    assert clf.score(Xt, Yt) == pytest.approx(accuracy)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_seq2seq_learns_a_delayed_copy(cell):
    X, Y = delayed_copy(300, 0)
    Xt, Yt = delayed_copy(100, 1)
    reg = RNNRegressor(cell=cell, hidden_layer_sizes=(16,), return_sequences=True, random_state=0, max_iter=60,
                       learning_rate_init=0.01).fit(X, Y)
    assert reg.score(Xt, Yt) > 0.9


def test_array_forms_and_multi_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 7, 2))
    Y = np.stack([X[:, :, 0].cumsum(1), X[:, :, 1]], axis=2)  # (N, T, 2) targets
    reg = RNNRegressor(hidden_layer_sizes=(6,), return_sequences=True, max_iter=3, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (20, 7, 2)
    reg1 = clone(reg).fit(X, Y[:, :, 0])
    assert reg1.predict(X).shape == (20, 7)
    assert reg1.predict(X[:, :4]).shape == (20, 4)  # other lengths at predict time
    clf = tagger(max_iter=3).fit(X, (X[:, :, 0] > 0).astype(int))
    assert clf.predict(X).shape == (20, 7) and clf.predict_proba(X).shape == (20, 7, 2)
    assert len(clf.predict_log_proba(list(X))) == 20


def test_multiclass_string_labels_per_step():
    rng = np.random.default_rng(1)
    X = [rng.standard_normal((int(rng.integers(3, 9)), 1)) for _ in range(60)]
    Y = [np.where(x[:, 0] > 0.5, "high", np.where(x[:, 0] < -0.5, "low", "mid")) for x in X]
    clf = tagger(max_iter=40).fit(X, Y)
    assert list(clf.classes_) == ["high", "low", "mid"]
    assert clf.score(X, Y) > 0.9
    assert clf.predict(X)[0].dtype == clf.classes_.dtype


def test_length_mismatch_names_the_sequence():
    X, Y = parity_task(10, 0)
    Y[3] = Y[3][:-1]
    with pytest.raises(ValueError, match="sequence 3 has .* steps, but its target has shape"):
        tagger().fit(X, Y)
    with pytest.raises(ValueError, match="X has 10 sequences, but y has 9 samples"):
        tagger().fit(X, Y[:9])


def test_per_step_sample_weight_and_class_weight():
    X, Y = parity_task(120, 0)
    base = tagger(max_iter=5).fit(X, Y)
    # Per-step weights of one everywhere equal no weights; per-sequence weights broadcast to the steps.
    ones = [np.ones(len(x)) for x in X]
    np.testing.assert_array_equal(tagger(max_iter=5).fit(X, Y, sample_weight=ones)._network.params,
                                  base._network.params)
    np.testing.assert_array_equal(tagger(max_iter=5).fit(X, Y, sample_weight=np.ones(len(X)))._network.params,
                                  base._network.params)
    # Steps with zero weight do not count: garbage labels there change nothing.
    noisy = [y.copy() for y in Y]
    weights = [np.ones(len(y)) for y in Y]
    for y, w in zip(noisy, weights):
        y[0] = 1 - y[0]
        w[0] = 0
    weighted = tagger(max_iter=5).fit(X, Y, sample_weight=weights)
    np.testing.assert_array_equal(tagger(max_iter=5).fit(X, noisy, sample_weight=weights)._network.params,
                                  weighted._network.params)
    # class_weight applies per step.
    assert not np.array_equal(tagger(max_iter=5, class_weight={0: 1, 1: 3}).fit(X, Y)._network.params,
                              base._network.params)
    with pytest.raises(ValueError, match="one weight per time step"):
        tagger().fit(X, Y, sample_weight=[w[:-1] for w in weights])


def test_pickle_and_streaming_match_predict():
    X, Y = parity_task(80, 0)
    clf = tagger(max_iter=5).fit(X, Y)
    again = pickle.loads(pickle.dumps(clf))
    for a, b in zip(clf.predict_proba(X), again.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    # Feeding one sequence step by step gives its per-step predictions.
    x = X[0]
    state, steps = clf.init_state(1), []
    for t in range(len(x)):
        p, state = clf.predict_proba_step(x[t:t + 1], state)
        steps.append(p[0])
    np.testing.assert_allclose(np.array(steps), clf.predict_proba([x])[0], rtol=1e-12)


def test_early_stopping_over_steps():
    X, Y = parity_task(200, 0)
    clf = tagger(early_stopping=True, max_iter=30).fit(X, Y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_per_step_sample_weight_as_an_array_equals_the_list_form():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 2, (40, 9, 1)).astype(float)
    Y = np.cumsum(X[:, :, 0], axis=1) % 2
    W = rng.uniform(0.5, 2.0, (40, 9))
    a = tagger(max_iter=3).fit(X, Y, sample_weight=W)
    b = tagger(max_iter=3).fit(list(X), list(Y), sample_weight=list(W))
    np.testing.assert_array_equal(a._network.params, b._network.params)
    assert a.predict(X).shape == (40, 9) and isinstance(b.predict(list(X)), list)
    with pytest.raises(ValueError, match="one weight per time step"):
        tagger().fit(X, Y, sample_weight=W[:, :-1])
