"""Tests for fastrnn._sequences: input validation and the packed layout."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from scipy import sparse

import reference as ref
from fastrnn._sequences import (
    Minibatches,
    PackedBatch,
    check_sequences,
    last_index,
    pack,
    pack_sequences,
    pad,
    row_sequence,
    row_step,
    sequence_order,
    unpack,
)


def _ragged(lengths, n_features=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(length, n_features)).astype(dtype) for length in lengths]


def _assert_sequences_equal(actual, expected):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        assert_array_equal(got, want)


# check_sequences: accepted forms -------------------------------------------


def test_3d_array_ntf():
    X = np.random.default_rng(0).normal(size=(4, 5, 3))
    sequences = check_sequences(X)
    _assert_sequences_equal(sequences, list(X))


def test_3d_array_nct_is_transposed():
    X = np.random.default_rng(0).normal(size=(4, 3, 5))
    sequences = check_sequences(X, data_layout="NCT")
    _assert_sequences_equal(sequences, [x.T for x in X])
    assert all(seq.flags.c_contiguous for seq in sequences)


@pytest.mark.parametrize("data_layout", ["NTF", "NCT"])
def test_2d_array_is_univariate_sequences(data_layout):
    X = np.arange(12.0).reshape(3, 4)
    sequences = check_sequences(X, data_layout=data_layout)
    _assert_sequences_equal(sequences, [x[:, np.newaxis] for x in X])


@pytest.mark.parametrize("container", [list, tuple, "object_array"])
def test_ragged_container_of_2d_arrays(container):
    expected = _ragged([3, 1, 4])
    if container == "object_array":
        X = np.empty(len(expected), dtype=object)
        X[:] = expected
    else:
        X = container(expected)
    _assert_sequences_equal(check_sequences(X), expected)


def test_ragged_list_nct():
    expected = _ragged([3, 1, 4], n_features=2)
    sequences = check_sequences([seq.T for seq in expected], data_layout="NCT")
    _assert_sequences_equal(sequences, expected)
    assert all(seq.flags.c_contiguous for seq in sequences)


@pytest.mark.parametrize("data_layout", ["NTF", "NCT"])
def test_list_of_1d_arrays_is_univariate(data_layout):
    column = np.arange(2.0)[:, np.newaxis]
    X = [np.arange(3.0), np.arange(5.0), column if data_layout == "NTF" else column.T]
    sequences = check_sequences(X, data_layout=data_layout)
    expected = [
        np.arange(3.0)[:, None],
        np.arange(5.0)[:, None],
        np.arange(2.0)[:, None],
    ]
    _assert_sequences_equal(sequences, expected)


def test_regular_nested_lists_read_as_arrays():
    _assert_sequences_equal(
        check_sequences([[1, 2, 3], [4, 5, 6]]),
        [np.array([[1.0], [2.0], [3.0]]), np.array([[4.0], [5.0], [6.0]])],
    )
    X3 = np.arange(12.0).reshape(2, 3, 2)
    _assert_sequences_equal(check_sequences(X3.tolist()), list(X3))


def test_ragged_nested_lists_are_sequences():
    sequences = check_sequences([[1, 2, 3], [4, 5]])
    _assert_sequences_equal(
        sequences, [np.array([[1.0], [2.0], [3.0]]), np.array([[4.0], [5.0]])]
    )


def test_array_like_with_dunder_array():
    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return np.arange(6.0).reshape(2, 3)

    _assert_sequences_equal(
        check_sequences(ArrayLike()),
        [np.arange(3.0)[:, None], np.arange(3.0, 6.0)[:, None]],
    )


def test_non_contiguous_input_gives_contiguous_output():
    X = np.random.default_rng(0).normal(size=(3, 8, 4))[:, ::2, ::2]
    sequences = check_sequences(X)
    assert all(seq.flags.c_contiguous for seq in sequences)
    _assert_sequences_equal(sequences, list(X))


@pytest.mark.parametrize(
    "X, expected_dtype",
    [
        (np.ones((2, 3, 1), dtype=np.float32), np.float32),
        (np.ones((2, 3, 1), dtype=np.float64), np.float64),
        (np.ones((2, 3), dtype=np.int64), np.float64),
        (np.ones((2, 3), dtype=np.int32), np.float64),
        (np.ones((2, 3), dtype=bool), np.float64),
        (np.ones((2, 3), dtype=np.float16), np.float64),
        (np.ones((2, 3), dtype=object), np.float64),
        ([np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float32)], np.float32),
        ([np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float64)], np.float64),
        ([np.ones(3, dtype=np.float32), np.ones(2, dtype=np.int32)], np.float64),
    ],
)
def test_default_dtype(X, expected_dtype):
    sequences = check_sequences(X)
    assert all(seq.dtype == expected_dtype for seq in sequences)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32", "float64"])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64, np.int64])
def test_forced_dtype(dtype, input_dtype):
    X = [np.ones((3, 2), dtype=input_dtype), np.ones((1, 2), dtype=input_dtype)]
    assert all(seq.dtype == np.dtype(dtype) for seq in check_sequences(X, dtype=dtype))


def test_matching_n_features_is_accepted():
    assert len(check_sequences(np.ones((2, 3, 5)), n_features=5)) == 2


# check_sequences: errors ----------------------------------------------------


class RNNClassifier:
    """Stand-in whose class name must appear in the feature-count error."""


@pytest.mark.parametrize(
    "estimator, name",
    [
        ("RNNClassifier", "RNNClassifier"),
        (RNNClassifier(), "RNNClassifier"),
        (None, "this model"),
    ],
)
@pytest.mark.parametrize(
    "X", [np.ones((2, 4, 3)), [np.ones((4, 3)), np.ones((2, 3))]], ids=["3d", "list"]
)
def test_n_features_mismatch(X, estimator, name):
    msg = f"X has 3 features, but {name} is expecting 5 features as input."
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        check_sequences(X, estimator=estimator, n_features=5)


def test_n_features_mismatch_nct_counts_channels():
    msg = "X has 4 features, but RNNClassifier is expecting 3 features as input."
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_sequences(
            np.ones((2, 4, 7)),
            data_layout="NCT",
            estimator="RNNClassifier",
            n_features=3,
        )


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([], ValueError, r"X contains no sequences; at least one is required"),
        ((), ValueError, r"X contains no sequences"),
        (np.empty(0, dtype=object), ValueError, r"X contains no sequences"),
        (np.zeros((0, 3)), ValueError, r"X contains no sequences \(shape=\(0, 3\)\)"),
        (
            np.zeros((0, 3, 2)),
            ValueError,
            r"X contains no sequences \(shape=\(0, 3, 2\)\)",
        ),
        (
            [np.ones((2, 3)), np.ones((1, 3)), np.ones((0, 3))],
            ValueError,
            r"Sequence 2 has length 0; every sequence needs at least one time step",
        ),
        ([np.ones(3), np.ones(0)], ValueError, r"Sequence 1 has length 0"),
        (
            np.zeros((12, 0)),
            ValueError,
            r"Found array with 0 feature\(s\) \(shape=\(12, 0\)\) while a minimum of "
            r"1 is required: a 2-D X is read as \(N, T\) univariate sequences, so "
            r"sequence 0 has length 0",
        ),
        (
            np.zeros((2, 0, 3)),
            ValueError,
            r"Sequence 0 has length 0 \(X has shape \(2, 0, 3\)",
        ),
        (
            np.zeros((2, 3, 0)),
            ValueError,
            r"X has 0 features \(shape \(2, 3, 0\) in NTF",
        ),
        ([np.ones((2, 0))], ValueError, r"Sequence 0 has 0 features"),
        (
            [np.ones((2, 3)), np.ones((4, 3)), np.ones((2, 4))],
            ValueError,
            r"Sequence 2 has 4 features, but sequence 0 has 3; all sequences must have "
            r"the same number of features",
        ),
        (
            [np.ones(3), np.ones((2, 2))],
            ValueError,
            r"Sequence 1 has 2 features, but sequence 0 has 1",
        ),
        (
            np.ones(5),
            ValueError,
            r"X must be a 3-D \(N, T, F\) array, a 2-D \(N, T\) array of univariate "
            r"sequences or a list of sequences; got a 1-D array of shape \(5,\)\. "
            r"Reshape your data with X.reshape\(1, -1\)",
        ),
        ([1.0, 2.0], ValueError, r"got a 1-D array of shape \(2,\)"),
        (np.float64(1.0), ValueError, r"got a 0-D array of shape \(\)\.$"),
        (
            np.ones((1, 2, 3, 4)),
            ValueError,
            r"got a 4-D array of shape \(1, 2, 3, 4\)\.$",
        ),
        (
            [np.ones((2, 3)), np.ones((2, 3, 1))],
            ValueError,
            r"Sequence 1 must be a 1-D \(T,\) or a 2-D \(T, F\) array; got 3 "
            r"dimension\(s\)",
        ),
        (
            [np.ones(2), 1.0],
            ValueError,
            r"Sequence 1 must be a 1-D .* got 0 dimension\(s\)",
        ),
        (
            [[[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]]],
            ValueError,
            r"sequence 0 could not be converted to an array",
        ),
        (
            np.array([[1.0, 2.0], [np.nan, 0.0]]),
            ValueError,
            r"X contains NaN in sequence 1",
        ),
        (
            [
                np.ones((2, 3)),
                np.ones((3, 3)),
                np.array([[1.0], [np.inf]]) * np.ones(3),
            ],
            ValueError,
            r"X contains infinity in sequence 2; all values must be finite",
        ),
        (
            np.array([[[-np.inf]], [[0.0]]]),
            ValueError,
            r"X contains infinity in sequence 0",
        ),
        (
            np.ones((2, 3)) * 1j,
            ValueError,
            r"Complex data not supported: X has dtype complex128",
        ),
        (
            [np.ones(3), np.ones(3) * 1j],
            ValueError,
            r"Complex data not supported: sequence 1 has dtype complex128",
        ),
        (
            np.array([["a", "b"]]),
            TypeError,
            r"X must contain real numbers; got an array of dtype <U1",
        ),
        (
            [np.ones(2), np.array(["a", "b"])],
            TypeError,
            r"sequence 1 must contain real numbers; got an array of dtype <U1",
        ),
        (
            np.array(["2020-01-01"], dtype="datetime64[D]").reshape(1, 1),
            TypeError,
            r"X must contain real numbers; got an array of dtype datetime64\[D\]",
        ),
        (
            np.array([[{"foo": "bar"}, 1.0]], dtype=object),
            TypeError,
            r"X must contain real numbers: float\(\) argument must be a string or a "
            r"(real )?number",
        ),
        ("abc", TypeError, r"X must contain real numbers; got an array of dtype <U3"),
        (
            sparse.csr_array(np.ones((2, 3))),
            TypeError,
            r"X is a sparse matrix, but sparse input is not supported",
        ),
    ],
)
def test_invalid_input(X, error, match):
    with pytest.raises(error, match=match):
        check_sequences(X)


def test_nan_in_nct_sequence_names_it():
    X = np.ones((3, 2, 4))
    X[2, 1, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN in sequence 2"):
        check_sequences(X, data_layout="NCT")


def test_zero_length_nct_item_names_it():
    with pytest.raises(ValueError, match="Sequence 1 has length 0"):
        check_sequences([np.ones((2, 3)), np.ones((2, 0))], data_layout="NCT")


def test_nct_item_error_names_expected_layout():
    with pytest.raises(ValueError, match=r"a 2-D \(F, T\) array; got 3 dimension"):
        check_sequences([np.ones((2, 3, 1))], data_layout="NCT")


def test_float32_overflow_is_reported_as_too_large():
    with pytest.raises(ValueError, match=r"too large for float32 in sequence 1 \(largest magnitude 1e\+300"):
        check_sequences(np.array([[1.0], [1e300]]), dtype=np.float32)
    with pytest.raises(ValueError, match="X contains infinity in sequence 1"):
        check_sequences(np.array([[1.0], [np.inf]]), dtype=np.float32)


def test_integers_too_large_for_float64_are_a_value_error():
    with pytest.raises(ValueError, match="X holds a number too large for float64"):
        check_sequences([[[10**400, 1]] * 5] * 2)
    with pytest.raises(ValueError, match="sequence 0 holds a number too large for float64"):
        check_sequences([np.array([[10**400], [1]], dtype=object)])


@pytest.mark.parametrize("data_layout", ["TNF", "ntf", None])
def test_invalid_data_layout(data_layout):
    msg = (
        "data_layout must be 'NTF' (batch, time, features) or 'NCT' "
        f"(batch, channels, time); got {data_layout!r}."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_sequences(np.ones((2, 3)), data_layout=data_layout)


@pytest.mark.parametrize(
    "dtype, error",
    [(np.int64, ValueError), (np.float16, ValueError), ("bogus", TypeError)],
)
def test_invalid_dtype(dtype, error):
    msg = f"dtype must be None, np.float32 or np.float64; got {dtype!r}."
    with pytest.raises(error, match=re.escape(msg)):
        check_sequences(np.ones((2, 3)), dtype=dtype)


# pack -----------------------------------------------------------------------


def test_pack_worked_example_with_ties():
    sequences = _ragged([2, 5, 3, 5, 1])
    batch = pack(sequences)
    assert_array_equal(batch.lengths, [2, 5, 3, 5, 1])
    # Longest first; the two length-5 sequences keep their original order.
    assert_array_equal(batch.sorted_indices, [1, 3, 2, 0, 4])
    assert_array_equal(batch.unsorted_indices, [3, 0, 2, 1, 4])
    assert_array_equal(batch.batch_sizes, [5, 4, 3, 2, 2])
    assert_array_equal(batch.offsets, [0, 5, 9, 12, 14, 16])
    assert_array_equal(batch.sorted_lengths, [5, 5, 3, 2, 1])
    assert (batch.n_sequences, batch.n_features, batch.max_length) == (5, 3, 5)
    assert batch.dtype == np.float64
    expected_rows = [
        (1, 0), (3, 0), (2, 0), (0, 0), (4, 0),
        (1, 1), (3, 1), (2, 1), (0, 1),
        (1, 2), (3, 2), (2, 2),
        (1, 3), (3, 3),
        (1, 4), (3, 4),
    ]  # fmt: skip
    expected = np.array([sequences[i][t] for i, t in expected_rows])
    assert_array_equal(batch.data, expected)
    assert_array_equal(
        row_sequence(batch), [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 0, 1, 0, 1]
    )
    assert_array_equal(row_step(batch), [0] * 5 + [1] * 4 + [2] * 3 + [3] * 2 + [4] * 2)
    assert_array_equal(last_index(batch), [14, 15, 11, 8, 4])
    assert_array_equal(
        sequence_order(batch), [0, 5, 9, 12, 14, 1, 6, 10, 13, 15, 2, 7, 11, 3, 8, 4]
    )


@pytest.mark.parametrize("n, steps, n_features", [(1, 1, 1), (1, 40, 3), (4, 1, 2), (5, 7, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pack_of_equal_lengths_matches_the_reference(n, steps, n_features, dtype):
    # Sequences of one length take pack's shortcut (no sort, no scatter): the same
    # batch as the reference packer's, every index array of its own.
    rng = np.random.default_rng(n * steps)
    sequences = [rng.standard_normal((steps, n_features)).astype(dtype) for _ in range(n)]
    batch = pack(sequences)
    X, batch_sizes, order = ref.pack(sequences)
    assert_array_equal(batch.data, X)
    assert batch.data.dtype == dtype and batch.data.flags.c_contiguous
    assert_array_equal(batch.batch_sizes, batch_sizes)
    assert_array_equal(batch.sorted_indices, order)
    assert_array_equal(batch.unsorted_indices, np.argsort(order))
    assert_array_equal(batch.lengths, [steps] * n)
    for name in ("batch_sizes", "lengths", "sorted_indices", "unsorted_indices"):
        assert getattr(batch, name).dtype == np.intp, name
    assert not np.shares_memory(batch.sorted_indices, batch.unsorted_indices)
    assert not any(np.shares_memory(batch.data, seq) for seq in sequences)
    for back, seq in zip(unpack(batch.data, batch), sequences):
        assert_array_equal(back, seq)


def test_pack_keeps_ties_in_original_order_for_many_sequences():
    # Large enough that an unstable sort would reorder equal lengths.
    lengths = np.random.default_rng(0).integers(1, 4, size=1000)
    batch = pack([np.zeros((length, 1)) for length in lengths])
    expected = np.concatenate([np.flatnonzero(lengths == n) for n in (3, 2, 1)])
    assert_array_equal(batch.sorted_indices, expected)


def test_pack_index_dtypes_and_layout():
    batch = pack(_ragged([3, 1, 2], dtype=np.float32))
    for name in ("batch_sizes", "lengths", "sorted_indices", "unsorted_indices"):
        assert getattr(batch, name).dtype == np.intp, name
    for index in (
        batch.offsets,
        last_index(batch),
        row_sequence(batch),
        row_step(batch),
    ):
        assert index.dtype == np.intp
    assert batch.data.dtype == np.float32
    assert batch.data.flags.c_contiguous


def test_pack_equal_lengths_is_time_major():
    X = np.random.default_rng(0).normal(size=(4, 6, 2))
    batch = pack(list(X))
    assert_array_equal(batch.batch_sizes, np.full(6, 4))
    assert_array_equal(batch.sorted_indices, np.arange(4))
    assert_array_equal(batch.data, X.transpose(1, 0, 2).reshape(-1, 2))


def test_pack_single_sequence():
    seq = np.arange(6.0).reshape(3, 2)
    batch = pack([seq])
    assert_array_equal(batch.data, seq)
    assert_array_equal(batch.batch_sizes, [1, 1, 1])
    assert_array_equal(last_index(batch), [2])


def test_pack_does_not_alias_input():
    sequences = _ragged([2, 3])
    batch = pack(sequences)
    batch.data[:] = 0.0
    assert np.all(sequences[1] != 0.0)


def test_packed_batch_is_frozen():
    batch = pack(_ragged([2, 3]))
    with pytest.raises(AttributeError):
        batch.data = np.zeros((5, 3))
    assert isinstance(batch, PackedBatch)


@pytest.mark.parametrize("lengths", [[5] * 9, [1] * 4, [7, 3, 7, 1, 5], [2] * 8 + [3]])
@pytest.mark.parametrize("stack_bytes", [None, 0])
def test_minibatches_pack_as_pack_does(lengths, stack_bytes, monkeypatch):
    # Equal lengths gather from one stacked copy (unless larger than STACK_BYTES), others go through pack: either
    # way the batch of any chosen sequences, in any order, repeated or not, is pack's, field by field.
    if stack_bytes is not None:
        monkeypatch.setattr(Minibatches, "STACK_BYTES", stack_bytes)
    sequences = _ragged(lengths, n_features=2, dtype=np.float32)
    batches = Minibatches(sequences)
    assert (batches.stacked is not None) == (len(set(lengths)) == 1 and stack_bytes is None)
    rng = np.random.default_rng(1)
    for indices in [np.arange(len(lengths)), rng.permutation(len(lengths))[:3], np.array([len(lengths) - 1]),
                    np.array([0, 0, 2])]:
        got, want = batches(indices), pack([sequences[i] for i in indices])
        for field in ("data", "batch_sizes", "lengths", "sorted_indices", "unsorted_indices"):
            assert_array_equal(getattr(got, field), getattr(want, field))
            assert getattr(got, field).dtype == getattr(want, field).dtype
        assert got.data.flags.c_contiguous
        got.data[:] = 0  # a batch of its own: the next ones, and the sequences, keep their values
    assert_array_equal(batches(np.arange(len(lengths))).data, pack(sequences).data)


def test_pack_sequences_passes_check_arguments():
    X = np.random.default_rng(0).normal(size=(3, 2, 4))
    batch = pack_sequences(X, data_layout="NCT", dtype=np.float32)
    assert batch.dtype == np.float32
    assert batch.n_features == 2
    assert_array_equal(
        batch.data, X.transpose(2, 0, 1).reshape(-1, 2).astype(np.float32)
    )
    with pytest.raises(ValueError, match="X has 2 features, but Foo is expecting 3"):
        pack_sequences(X, data_layout="NCT", estimator="Foo", n_features=3)


# unpack / pad / row helpers -------------------------------------------------


def test_unpack_round_trip_and_trailing_shapes():
    sequences = _ragged([4, 2, 4, 1, 3])
    batch = pack(sequences)
    _assert_sequences_equal(unpack(batch.data, batch), sequences)
    # Outputs with other trailing shapes follow the same rows.
    flat = unpack(batch.data[:, 0], batch)
    _assert_sequences_equal(flat, [seq[:, 0] for seq in sequences])
    cube = np.repeat(batch.data[:, :, np.newaxis], 2, axis=2)
    _assert_sequences_equal(
        unpack(cube, batch), [np.repeat(s[:, :, None], 2, 2) for s in sequences]
    )


def test_pad_original_order_and_fill():
    sequences = _ragged([2, 4, 1], n_features=2, dtype=np.float32)
    batch = pack(sequences)
    padded = pad(batch.data, batch, fill=-7.0)
    assert padded.shape == (3, 4, 2)
    assert padded.dtype == np.float32
    for i, seq in enumerate(sequences):
        assert_array_equal(padded[i, : len(seq)], seq)
        assert np.all(padded[i, len(seq) :] == -7.0)
    assert np.all(pad(batch.data[:, 0], batch)[2, 1:] == 0.0)


def test_last_index_gathers_last_steps():
    sequences = _ragged([3, 5, 3, 1])
    batch = pack(sequences)
    last = batch.data[last_index(batch)]
    expected = [sequences[i][-1] for i in batch.sorted_indices]
    assert_array_equal(last, expected)


def test_sequence_order_supports_reduceat_pooling():
    sequences = _ragged([3, 5, 3, 1, 5])
    batch = pack(sequences)
    starts = np.cumsum(batch.sorted_lengths) - batch.sorted_lengths
    segments = batch.data[sequence_order(batch)]
    mean = np.add.reduceat(segments, starts) / batch.sorted_lengths[:, None]
    maximum = np.maximum.reduceat(segments, starts)
    for j, i in enumerate(batch.sorted_indices):
        np.testing.assert_allclose(mean[j], sequences[i].mean(axis=0))
        assert_array_equal(maximum[j], sequences[i].max(axis=0))


@pytest.mark.parametrize("function", [unpack, pad])
@pytest.mark.parametrize("Y", [np.ones((5, 3)), np.ones((7, 3)), np.float64(1.0)])
def test_wrong_number_of_rows(function, Y):
    batch = pack(_ragged([2, 4]))
    msg = (
        f"Y must have one row per packed row (6 rows); got an array of shape {Y.shape}."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        function(Y, batch)


# Property tests ---------------------------------------------------------------

# Few distinct lengths make ties, the case the stable sort must get right.
lengths_strategy = st.lists(st.integers(1, 6), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(lengths=lengths_strategy, n_features=st.integers(1, 3))
def test_property_pack_layout(lengths, n_features):
    # Unique values make every row identify its sequence and step.
    sequences, start = [], 0
    for length in lengths:
        size = length * n_features
        sequences.append(
            np.arange(start, start + size, dtype=float).reshape(length, -1)
        )
        start += size
    batch = pack(sequences)
    lengths = np.array(lengths)

    assert_array_equal(batch.lengths, lengths)
    assert_array_equal(np.sort(batch.sorted_indices), np.arange(len(lengths)))
    assert_array_equal(
        batch.sorted_indices[batch.unsorted_indices], np.arange(len(lengths))
    )
    sorted_lengths = lengths[batch.sorted_indices]
    assert np.all(np.diff(sorted_lengths) <= 0)
    for length in np.unique(lengths):  # ties keep their original order
        assert np.all(np.diff(batch.sorted_indices[sorted_lengths == length]) > 0)
    expected_sizes = [(lengths > t).sum() for t in range(lengths.max())]
    assert_array_equal(batch.batch_sizes, expected_sizes)
    assert batch.data.shape == (lengths.sum(), n_features)

    sequence, step = row_sequence(batch), row_step(batch)
    for r in range(batch.data.shape[0]):
        original = batch.sorted_indices[sequence[r]]
        assert_array_equal(batch.data[r], sequences[original][step[r]])

    _assert_sequences_equal(unpack(batch.data, batch), sequences)
    padded = pad(batch.data, batch, fill=np.nan)
    for i, seq in enumerate(sequences):
        assert_array_equal(padded[i, : len(seq)], seq)
        assert np.isnan(padded[i, len(seq) :]).all()
    assert_array_equal(
        batch.data[last_index(batch)], [sequences[i][-1] for i in batch.sorted_indices]
    )
    order = sequence_order(batch)
    assert_array_equal(
        batch.data[order], np.concatenate([sequences[i] for i in batch.sorted_indices])
    )


@settings(max_examples=40, deadline=None)
@given(
    lengths=lengths_strategy,
    dtype=st.sampled_from([np.float32, np.float64]),
    data_layout=st.sampled_from(["NTF", "NCT"]),
)
def test_property_check_then_pack_round_trip(lengths, dtype, data_layout):
    sequences = _ragged(lengths, n_features=2, dtype=dtype)
    X = sequences if data_layout == "NTF" else [seq.T for seq in sequences]
    batch = pack_sequences(X, data_layout=data_layout)
    assert batch.dtype == dtype
    _assert_sequences_equal(unpack(batch.data, batch), sequences)
