"""Tests for fastrnn._scaler.SequenceScaler."""

import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from fastrnn._scaler import SequenceScaler


def _ragged(lengths, n_features=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    # Channels with different offsets and spreads, so that a wrong axis or a
    # wrong weighting of the sequences shows.
    loc, scale = np.arange(n_features) * 10.0, np.arange(1, n_features + 1)
    return [
        (loc + scale * rng.normal(size=(n, n_features))).astype(dtype) for n in lengths
    ]


@parametrize_with_checks(
    [
        SequenceScaler(),
        SequenceScaler(with_mean=False),
        SequenceScaler(data_layout="NCT"),
    ],
    expected_failed_checks=lambda estimator: estimator._expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_expected_failed_checks_fail_for_the_stated_reason():
    # Keeps the list honest: every entry fails, for the (N, T) reading of 2-D
    # X, and nothing else fails.
    expected = SequenceScaler._expected_failed_checks
    results = check_estimator(
        SequenceScaler(), on_fail=None, on_skip=None, expected_failed_checks=expected
    )
    statuses = {(r["check_name"], r["status"]) for r in results}
    assert {name for name, status in statuses if status in ("failed", "xfail")} == set(
        expected
    )
    assert {status for _, status in statuses} <= {"passed", "xfail", "skipped"}
    for result in results:
        if result["status"] == "xfail":
            assert isinstance(result["exception"], AssertionError)
            assert re.search(
                "n_features_in_|number of features|^$", str(result["exception"])
            )


def test_tags():
    tags = get_tags(SequenceScaler())
    assert tags.input_tags.three_d_array
    assert tags.input_tags.two_d_array
    assert not tags.input_tags.allow_nan


def test_fit_ragged_uses_every_real_step():
    X = _ragged([1, 7, 3, 2])
    scaler = SequenceScaler().fit(X)
    rows = np.concatenate(X)
    assert_allclose(scaler.mean_, rows.mean(axis=0))
    assert_allclose(scaler.var_, rows.var(axis=0))
    assert_allclose(scaler.scale_, rows.std(axis=0))
    assert scaler.n_features_in_ == 3
    assert scaler.n_samples_seen_ == 13
    # Long sequences weigh more than short ones: not a mean of means.
    assert not np.allclose(scaler.mean_, np.mean([x.mean(axis=0) for x in X], axis=0))


@pytest.mark.parametrize("data_layout", ["NTF", "NCT"])
def test_3d_in_3d_out(data_layout):
    X = np.stack(_ragged([5] * 4))  # (N, T, F)
    X_in = X if data_layout == "NTF" else X.transpose(0, 2, 1)
    scaler = SequenceScaler(data_layout=data_layout).fit(X_in)
    assert_allclose(scaler.mean_, X.reshape(-1, 3).mean(axis=0))
    assert scaler.n_features_in_ == 3
    X_tr = scaler.transform(X_in)
    assert X_tr.shape == X_in.shape
    expected = (X - X.reshape(-1, 3).mean(axis=0)) / X.reshape(-1, 3).std(axis=0)
    assert_allclose(
        X_tr, expected if data_layout == "NTF" else expected.transpose(0, 2, 1)
    )
    assert_allclose(scaler.inverse_transform(X_tr), X_in)


def test_2d_is_univariate():
    X = np.arange(12.0).reshape(3, 4)
    scaler = SequenceScaler().fit(X)
    assert scaler.n_features_in_ == 1
    assert scaler.n_samples_seen_ == 12
    assert_allclose(scaler.mean_, [X.mean()])
    X_tr = scaler.transform(X)
    assert X_tr.shape == (3, 4)
    assert_allclose(X_tr, (X - X.mean()) / X.std())
    # Any number of time steps is accepted once fitted.
    assert scaler.transform(X[:, :2]).shape == (3, 2)
    assert_allclose(scaler.inverse_transform(X_tr), X)


@pytest.mark.parametrize("container", [list, tuple])
def test_list_in_list_out(container):
    X = _ragged([4, 1, 3])
    scaler = SequenceScaler().fit(container(X))
    X_tr = scaler.transform(container(X))
    assert isinstance(X_tr, list)
    rows = np.concatenate(X)
    for x, x_tr in zip(X, X_tr):
        assert x_tr.shape == x.shape
        assert_allclose(x_tr, (x - rows.mean(axis=0)) / rows.std(axis=0))
    back = scaler.inverse_transform(X_tr)
    assert isinstance(back, list)
    for x, x_back in zip(X, back):
        assert_allclose(x_back, x)


def test_object_array_in_list_out():
    X = np.empty(3, dtype=object)
    X[:] = _ragged([4, 1, 3])
    X_tr = SequenceScaler().fit_transform(X)
    assert isinstance(X_tr, list)
    assert [x.shape for x in X_tr] == [(4, 3), (1, 3), (3, 3)]


def test_list_keeps_1d_items_1d():
    X = [np.arange(4.0), np.arange(3.0)[:, np.newaxis], np.arange(2.0)]
    X_tr = SequenceScaler().fit_transform(X)
    assert [x.shape for x in X_tr] == [(4,), (3, 1), (2,)]
    rows = np.concatenate([np.arange(4.0), np.arange(3.0), np.arange(2.0)])
    assert_allclose(X_tr[0], (np.arange(4.0) - rows.mean()) / rows.std())


def test_ragged_nested_lists_in_list_out():
    X_tr = SequenceScaler().fit_transform([[1.0, 2.0, 3.0], [4.0, 5.0]])
    assert isinstance(X_tr, list)
    assert [x.shape for x in X_tr] == [(3,), (2,)]
    assert_allclose(np.concatenate(X_tr), (np.arange(1, 6) - 3.0) / np.sqrt(2.0))


def test_regular_nested_lists_are_an_array():
    X = np.arange(12.0).reshape(2, 3, 2)
    X_tr = SequenceScaler().fit_transform(X.tolist())
    assert isinstance(X_tr, np.ndarray)
    assert X_tr.shape == (2, 3, 2)


def test_ragged_nct_list():
    X = _ragged([4, 1, 3])
    X_nct = [x.T for x in X]
    scaler = SequenceScaler(data_layout="NCT").fit(X_nct)
    assert_allclose(scaler.mean_, np.concatenate(X).mean(axis=0))
    X_tr = scaler.transform(X_nct)
    assert [x.shape for x in X_tr] == [(3, 4), (3, 1), (3, 3)]
    X_tr_ntf = SequenceScaler().fit_transform(X)
    for x_nct, x_ntf in zip(X_tr, X_tr_ntf):
        assert_allclose(x_nct, x_ntf.T)


@pytest.mark.parametrize(
    "X",
    [
        np.stack(_ragged([3] * 4, dtype=np.float32)),
        _ragged([3, 5, 1], dtype=np.float32),
        np.ones((4, 5), dtype=np.float32),
    ],
    ids=["3d", "list", "2d"],
)
def test_float32_is_preserved(X):
    scaler = SequenceScaler().fit(X)
    X_tr = scaler.transform(X)
    for out in [X_tr, scaler.inverse_transform(X_tr)]:
        for x in out if isinstance(out, list) else [out]:
            assert x.dtype == np.float32


def test_integers_become_float64():
    X_tr = SequenceScaler().fit_transform(np.arange(12).reshape(3, 4))
    assert X_tr.dtype == np.float64


def test_input_is_not_modified():
    X = _ragged([3, 2])
    X_3d = np.stack(_ragged([2, 2]))
    copies = [x.copy() for x in X], X_3d.copy()
    scaler = SequenceScaler()
    scaler.fit_transform(X)
    scaler.inverse_transform(X)
    SequenceScaler().fit_transform(X_3d)
    for x, x_copy in zip(X, copies[0]):
        assert_array_equal(x, x_copy)
    assert_array_equal(X_3d, copies[1])


def test_constant_channel_gets_unit_scale():
    rng = np.random.default_rng(0)
    # 0.1 is not exact in binary, so the computed variance is a rounding error
    # rather than exactly 0.
    X = [np.column_stack([np.full(n, 0.1), rng.normal(size=n)]) for n in (7, 5, 9)]
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    assert scaler.scale_[1] != 1.0
    X_tr = scaler.transform(X)
    assert_allclose(np.concatenate(X_tr)[:, 0], 0.0, atol=1e-15)


def test_with_mean_false():
    X = _ragged([3, 4])
    scaler = SequenceScaler(with_mean=False).fit(X)
    rows = np.concatenate(X)
    assert_allclose(scaler.mean_, rows.mean(axis=0))
    assert_allclose(np.concatenate(scaler.transform(X)), rows / rows.std(axis=0))


def test_with_std_false():
    X = _ragged([3, 4])
    scaler = SequenceScaler(with_std=False).fit(X)
    rows = np.concatenate(X)
    assert scaler.scale_ is None
    assert_allclose(scaler.var_, rows.var(axis=0))
    assert_allclose(np.concatenate(scaler.transform(X)), rows - rows.mean(axis=0))
    assert_allclose(scaler.inverse_transform(scaler.transform(X))[1], X[1])


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_with_std_set_after_fitting_without_it(method):
    X = _ragged([3, 4])
    scaler = SequenceScaler(with_std=False).fit(X).set_params(with_std=True)
    msg = "with_std=True, but this SequenceScaler was fitted with with_std=False and has no scale_; fit it again."
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(scaler, method)(X)
    rows = np.concatenate(X)
    assert_allclose(np.concatenate(scaler.fit(X).transform(X)), (rows - rows.mean(axis=0)) / rows.std(axis=0))


def test_identity_when_nothing_to_do():
    X = np.stack(_ragged([3, 3]))
    X_tr = SequenceScaler(with_mean=False, with_std=False).fit_transform(X)
    assert_array_equal(X_tr, X)
    assert not np.shares_memory(X_tr, X)


def test_partial_fit_matches_fit():
    batches = [
        _ragged([3, 1], seed=0),
        _ragged([8], seed=1),
        _ragged([2, 5, 4], seed=2),
    ]
    partial = SequenceScaler()
    for batch in batches:
        partial.partial_fit(batch)
    full = SequenceScaler().fit([x for batch in batches for x in batch])
    assert partial.n_samples_seen_ == full.n_samples_seen_ == 23
    assert_allclose(partial.mean_, full.mean_, rtol=1e-12)
    assert_allclose(partial.var_, full.var_, rtol=1e-12)
    assert_allclose(partial.scale_, full.scale_, rtol=1e-12)


def test_partial_fit_mixed_forms_and_constant_channel():
    rng = np.random.default_rng(0)
    X_3d = np.concatenate([np.full((4, 6, 1), 0.1), rng.normal(size=(4, 6, 1))], axis=2)
    X_list = [np.column_stack([np.full(n, 0.1), rng.normal(size=n)]) for n in (2, 9)]
    scaler = SequenceScaler().partial_fit(X_3d).partial_fit(X_list)
    rows = np.concatenate(list(X_3d) + X_list)
    assert_allclose(scaler.mean_, rows.mean(axis=0))
    assert_allclose(scaler.var_[1], rows[:, 1].var())
    assert scaler.scale_[0] == 1.0


def test_fit_forgets_partial_fit():
    scaler = SequenceScaler().partial_fit(_ragged([5], seed=0))
    X = _ragged([2, 3], seed=1)
    scaler.fit(X)
    fresh = SequenceScaler().fit(X)
    assert scaler.n_samples_seen_ == 5
    assert_allclose(scaler.mean_, fresh.mean_)


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "partial_fit"])
def test_feature_mismatch_after_fit(method):
    scaler = SequenceScaler().fit(_ragged([3, 2], n_features=3))
    msg = "X has 2 features, but SequenceScaler is expecting 3 features as input."
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(scaler, method)(_ragged([3], n_features=2))


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_unfitted(method):
    with pytest.raises(NotFittedError):
        getattr(SequenceScaler(), method)(np.ones((2, 3)))


@pytest.mark.parametrize("name", ["with_mean", "with_std"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_invalid_bool_parameter(name, method):
    scaler = SequenceScaler(**{name: "yes"})
    msg = (
        f"The '{name}' parameter of SequenceScaler must be a bool; got 'yes' of "
        "type str."
    )
    with pytest.raises(TypeError, match=re.escape(msg)):
        getattr(scaler, method)(np.ones((2, 3)))


def test_invalid_data_layout():
    with pytest.raises(ValueError, match="data_layout must be 'NTF'.*got 'TNF'"):
        SequenceScaler(data_layout="TNF").fit(np.ones((2, 3, 1)))


@pytest.mark.parametrize(
    "X, match",
    [
        (
            [np.ones((2, 3)), np.array([[1.0, np.nan, 0.0]])],
            "X contains NaN in sequence 1",
        ),
        ([np.ones((2, 3)), np.ones((0, 3))], "Sequence 1 has length 0"),
        ([], "X contains no sequences"),
    ],
)
def test_invalid_input(X, match):
    with pytest.raises(ValueError, match=match):
        SequenceScaler().fit(X)


def _fitted_state(scaler, X):
    return [scaler.n_samples_seen_, scaler.mean_, scaler.var_, scaler.scale_, scaler.transform(X)]


@pytest.mark.parametrize(
    "X",
    [
        [[[0.0, 1e308], [0.0, 1e308]]],  # the sum of channel 1 overflows
        [[[0.0, 1e300], [0.0, -1e300]]],  # its variance overflows: not a constant channel
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_values_too_large_to_scale(X, method):
    msg = (
        "X has values too large to scale: the mean or variance of channel 1 over "
        "the {} time steps seen overflows float64."
    )
    with pytest.raises(ValueError, match=re.escape(msg.format(2))):
        getattr(SequenceScaler(), method)(X)
    seen = [[[0.0, 1.0], [1.0, -1.0]]]
    scaler = SequenceScaler().fit(seen)
    before = _fitted_state(scaler, seen)
    with pytest.raises(ValueError, match=re.escape(msg.format(2 if method == "fit" else 4))):
        getattr(scaler, method)(X)
    for a, b in zip(before, _fitted_state(scaler, seen)):
        assert np.array_equal(a, b)


def test_partial_fit_refuses_batches_too_large_together():
    scaler = SequenceScaler().fit([[[0.0, 1e300]]])
    msg = "the mean or variance of channel 1 over the 2 time steps seen overflows"
    with pytest.raises(ValueError, match=re.escape(msg)):
        scaler.partial_fit([[[0.0, -1e300]]])
    assert scaler.n_samples_seen_ == 1
    assert_array_equal(scaler.mean_, [0.0, 1e300])


def test_large_values_with_finite_moments():
    X = np.array([[[1e300, -1e307], [1e300, -1e307]]])
    with warnings.catch_warnings():
        # The rounding bound of a constant channel overflows: no warning, as
        # the channel is rightly found constant.
        warnings.simplefilter("error")
        scaler = SequenceScaler().fit(X)
    assert_array_equal(scaler.mean_, [1e300, -1e307])
    assert_array_equal(scaler.scale_, [1.0, 1.0])
    assert_array_equal(scaler.transform(X), np.zeros((1, 2, 2)))


def test_pickle_and_clone():
    X = _ragged([4, 2])
    scaler = SequenceScaler(with_mean=False).fit(X)
    restored = pickle.loads(pickle.dumps(scaler))
    for x, y in zip(restored.transform(X), scaler.transform(X)):
        assert_array_equal(x, y)
    cloned = clone(scaler)
    assert cloned.get_params() == scaler.get_params()
    assert not hasattr(cloned, "mean_")


def _summarise(X):
    """Per-sequence mean and last value of every channel: a 2-D feature table."""
    return np.array([np.concatenate([x.mean(axis=0), x[-1]]) for x in X])


@pytest.mark.parametrize("form", ["3d", "ragged"])
def test_in_pipeline(form):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, size=60) if form == "ragged" else np.full(60, 5)
    y = np.arange(60) % 2
    # Channel 1 has a huge offset and spread; the label is the sign of the
    # last step of channel 0.
    X = [rng.normal(size=(n, 2)) * [1.0, 1000.0] + [0.0, 5000.0] for n in lengths]
    for x, label in zip(X, y):
        x[-1, 0] = 1.0 if label else -1.0
    if form == "3d":
        X = np.stack(X)
    pipe = make_pipeline(
        SequenceScaler(), FunctionTransformer(_summarise), LogisticRegression()
    )
    pipe.fit(X, y)
    rows = np.concatenate(list(X))
    assert_allclose(pipe[0].mean_, rows.mean(axis=0))
    assert pipe.score(X, y) == 1.0
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.9
