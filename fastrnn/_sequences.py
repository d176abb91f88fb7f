"""Validation of sequence inputs and the packed variable-length layout.

Every input form accepted by fastrnn (a 3-D array, a 2-D array of univariate
sequences, or a ragged list of sequences) is validated by
:func:`check_sequences` into a list of ``(T_i, F)`` arrays, then turned by
:func:`pack` into a :class:`PackedBatch`: PyTorch's ``PackedSequence`` idea,
where sequences are sorted by length (longest first) and the rows of all
sequences at time step ``t`` are stored contiguously. The kernels walk the
steps of a packed batch with no padding and no masking.
"""

# SPDX-License-Identifier: BSD-3-Clause

from dataclasses import dataclass

import numpy as np
from scipy import sparse

_DATA_LAYOUTS = ("NTF", "NCT")


@dataclass(frozen=True, eq=False)
class PackedBatch:
    """A batch of variable-length sequences in packed, time-major layout.

    Sequences are sorted by length, longest first (ties keep their original
    order). Time step ``t`` owns the rows ``offsets[t]:offsets[t + 1]`` of
    ``data``, and row ``offsets[t] + j`` holds step ``t`` of the ``j``-th
    sequence in sorted order. Only the ``batch_sizes[t]`` longest sequences
    reach step ``t``, so no row is padding.

    Parameters
    ----------
    data : ndarray of shape (P, F)
        C-contiguous float32 or float64 rows, ``P = lengths.sum()``.

    batch_sizes : ndarray of shape (T,), dtype=np.intp
        ``batch_sizes[t]`` is the number of sequences longer than ``t``.

    lengths : ndarray of shape (N,), dtype=np.intp
        Length of every sequence, in the original order.

    sorted_indices : ndarray of shape (N,), dtype=np.intp
        Sorted position ``j`` holds original sequence ``sorted_indices[j]``.

    unsorted_indices : ndarray of shape (N,), dtype=np.intp
        Inverse permutation: original sequence ``i`` sits at sorted position
        ``unsorted_indices[i]``.
    """

    data: np.ndarray
    batch_sizes: np.ndarray
    lengths: np.ndarray
    sorted_indices: np.ndarray
    unsorted_indices: np.ndarray

    @property
    def n_sequences(self):
        """Number of sequences ``N``."""
        return self.lengths.shape[0]

    @property
    def n_features(self):
        """Number of features ``F`` of every row."""
        return self.data.shape[1]

    @property
    def max_length(self):
        """Length ``T`` of the longest sequence."""
        return self.batch_sizes.shape[0]

    @property
    def dtype(self):
        """Floating dtype of ``data``."""
        return self.data.dtype

    @property
    def offsets(self):
        """First packed row of every step, then ``P``: shape (T + 1,)."""
        return _offsets(self.batch_sizes)

    @property
    def sorted_lengths(self):
        """Sequence lengths in sorted (descending) order: shape (N,)."""
        return self.lengths[self.sorted_indices]


def check_sequences(
    X, *, data_layout="NTF", dtype=None, estimator=None, n_features=None
):
    """Validate sequences given in any accepted form.

    Parameters
    ----------
    X : array-like or list of array-like
        One of:

        - a 3-D array of shape ``(N, T, F)``, or ``(N, F, T)`` when
          ``data_layout="NCT"``;
        - a 2-D array of shape ``(N, T)``: ``N`` univariate sequences (the
          sktime/aeon convention, whatever ``data_layout`` is);
        - a list, tuple or 1-D object array of sequences, each a 2-D array
          ``(T_i, F)`` (``(F, T_i)`` when ``data_layout="NCT"``) or a 1-D
          univariate array ``(T_i,)``.

        Nested lists that form a regular array are read as that array;
        ragged nested lists are a list of sequences.

    data_layout : {"NTF", "NCT"}, default="NTF"
        Axis order of 3-D arrays and of 2-D sequences: time then features
        (``"NTF"``), or channels then time (``"NCT"``).

    dtype : {None, np.float32, np.float64}, default=None
        Dtype of the output. None keeps float32 when every sequence is
        float32 and uses float64 otherwise.

    estimator : estimator instance or str, default=None
        Estimator (or its class name) named in the feature-count error.

    n_features : int, default=None
        Expected number of features ``F``, e.g. ``n_features_in_`` of a
        fitted estimator. None accepts any number.

    Returns
    -------
    sequences : list of ndarray of shape (T_i, F)
        C-contiguous arrays sharing one dtype, in the original order. They
        may be views of ``X``.

    Raises
    ------
    ValueError
        If ``X`` holds no sequence, a sequence of length 0, sequences with
        different feature counts, NaN or infinity, complex numbers, has the
        wrong number of dimensions, or does not have ``n_features`` features.

    TypeError
        If ``X`` is sparse or holds values that are not real numbers.
    """
    if data_layout not in _DATA_LAYOUTS:
        raise ValueError(
            f"data_layout must be 'NTF' (batch, time, features) or 'NCT' "
            f"(batch, channels, time); got {data_layout!r}."
        )
    dtype = _check_dtype(dtype)
    X = _as_container(X)
    if _is_sequence_list(X):
        sequences = _sequences_from_list(X, data_layout)
    else:
        sequences = _sequences_from_array(X, data_layout)
    _check_n_features(sequences[0].shape[1], n_features, estimator)
    if dtype is None:
        all_float32 = all(seq.dtype == np.float32 for seq in sequences)
        dtype = np.dtype(np.float32 if all_float32 else np.float64)
    # A value too large for float32 becomes infinity, which _check_finite
    # reports as an error, so numpy's overflow warning would only repeat it.
    with np.errstate(over="ignore"):
        converted = [np.ascontiguousarray(seq, dtype=dtype) for seq in sequences]
    _check_finite(converted, sequences)
    return converted


def pack(sequences):
    """Pack sequences into a :class:`PackedBatch`.

    Parameters
    ----------
    sequences : list of ndarray of shape (T_i, F)
        Non-empty sequences with one feature count and one dtype, as returned
        by :func:`check_sequences` (not validated again).

    Returns
    -------
    batch : PackedBatch
        The packed batch; ``data`` is a new array.
    """
    if len(sequences) == 1 and sequences[0].shape[0] > 0:
        # One sequence (predict of one) needs no comparison of lengths.
        lengths = np.full(1, sequences[0].shape[0], dtype=np.intp)
        return _pack_equal(sequences, lengths)
    lengths = np.fromiter(
        (seq.shape[0] for seq in sequences), dtype=np.intp, count=len(sequences)
    )
    if lengths.size and lengths[0] > 0 and (lengths == lengths[0]).all():
        return _pack_equal(sequences, lengths)
    # A stable sort of the negated lengths sorts longest first and keeps tied
    # sequences in their original order, as PyTorch's pack_sequence does.
    sorted_indices = np.argsort(-lengths, kind="stable")
    unsorted_indices = np.empty_like(sorted_indices)
    unsorted_indices[sorted_indices] = np.arange(lengths.shape[0])
    # batch_sizes[t] = N - #{sequences of length <= t}
    length_counts = np.bincount(lengths)
    batch_sizes = lengths.shape[0] - np.cumsum(length_counts)[:-1]
    concatenated = np.concatenate(sequences)
    data = np.empty_like(concatenated)
    data[_original_to_packed(batch_sizes, lengths, unsorted_indices)] = concatenated
    return PackedBatch(
        data=data,
        batch_sizes=batch_sizes.astype(np.intp, copy=False),
        lengths=lengths,
        sorted_indices=sorted_indices,
        unsorted_indices=unsorted_indices,
    )


def _pack_equal(sequences, lengths):
    """:func:`pack` of sequences of one length: the sorted order is the original
    one, and packed row ``t * N + j`` is step ``t`` of sequence ``j``, so the
    data is the sequences stacked along axis 1, with no sort or scatter: one
    sequence of 40 steps 33 -> 14 us (of a 0.25 ms ``predict``), 1000 of them
    1.41 -> 0.86 ms."""
    n, steps = lengths.shape[0], int(lengths[0])
    # One sequence is its own packed rows: np.stack's generality took 3 us of
    # a 0.11 ms predict of one, and with the lengths' checks 14 us in all.
    if n == 1:
        data = sequences[0].copy()
    else:
        data = np.stack(sequences, axis=1).reshape(n * steps, -1)
    return PackedBatch(
        data=data,
        batch_sizes=np.full(steps, n, dtype=np.intp),
        lengths=lengths,
        sorted_indices=np.arange(n, dtype=np.intp),
        unsorted_indices=np.arange(n, dtype=np.intp),
    )


class Minibatches:
    """``pack`` of chosen sequences of one list, for the minibatches of a fit.

    When the sequences all have one length and together take at most ``STACK_BYTES``, they are copied once into
    one time-major ``(T, N, F)`` array, and a minibatch's packed rows are one gather from it: ``pack`` stacks
    the chosen sequences one by one, 50 us of a small LSTM's 430 us training step (32 sequences of 12 steps,
    F 2, H 16), against 9 for the gather. Larger sets are left as they are (their steps take long enough that
    packing does not show), so that a fit never holds more than that much beside its training set.

    Parameters
    ----------
    sequences : list of ndarray of shape (T_i, F)
        As returned by :func:`check_sequences`.
    """

    STACK_BYTES = 1 << 26

    def __init__(self, sequences):
        self.sequences = sequences
        self.stacked = None
        first = sequences[0].shape[0]
        if (all(seq.shape[0] == first for seq in sequences)
                and sum(seq.nbytes for seq in sequences) <= self.STACK_BYTES):
            self.stacked = np.stack(sequences, axis=1)

    def __call__(self, indices):
        """The packed batch of the sequences ``indices`` (an int array), as ``pack`` makes it."""
        if self.stacked is None:
            return pack([self.sequences[i] for i in indices])
        steps, n = self.stacked.shape[0], len(indices)
        return PackedBatch(
            # np.take, not self.stacked[:, indices]: numpy's fancy indexing on a middle axis took 8 us, take 3
            data=np.take(self.stacked, indices, axis=1).reshape(steps * n, -1),
            batch_sizes=np.full(steps, n, dtype=np.intp),
            lengths=np.full(n, steps, dtype=np.intp),
            sorted_indices=np.arange(n, dtype=np.intp),
            unsorted_indices=np.arange(n, dtype=np.intp),
        )


def pack_sequences(X, **check_params):
    """Validate ``X`` with :func:`check_sequences` and :func:`pack` it.

    Parameters
    ----------
    X : array-like or list of array-like
        Sequences in any form accepted by :func:`check_sequences`.

    **check_params : dict
        Keyword arguments of :func:`check_sequences`.

    Returns
    -------
    batch : PackedBatch
        The packed batch.
    """
    return pack(check_sequences(X, **check_params))


def unpack(Y, batch):
    """Split packed rows into one array per sequence, in the original order.

    Parameters
    ----------
    Y : array-like of shape (P, ...)
        One row per packed row of ``batch``, e.g. a layer's outputs.

    batch : PackedBatch
        The batch that defines the layout of ``Y``.

    Returns
    -------
    sequences : list of ndarray of shape (T_i, ...)
        ``sequences[i]`` holds the rows of original sequence ``i`` in time
        order. They are views of one new array.
    """
    Y = _check_packed_rows(Y, batch)
    index = _original_to_packed(
        batch.batch_sizes, batch.lengths, batch.unsorted_indices
    )
    return np.split(Y[index], np.cumsum(batch.lengths)[:-1])


def pad(Y, batch, fill=0.0):
    """Scatter packed rows into a padded array, in the original order.

    Parameters
    ----------
    Y : array-like of shape (P, ...)
        One row per packed row of ``batch``.

    batch : PackedBatch
        The batch that defines the layout of ``Y``.

    fill : scalar, default=0.0
        Value of the steps past the end of a sequence.

    Returns
    -------
    padded : ndarray of shape (N, T, ...)
        ``padded[i, t]`` is step ``t`` of original sequence ``i``.
    """
    Y = _check_packed_rows(Y, batch)
    padded = np.full(
        (batch.n_sequences, batch.max_length) + Y.shape[1:], fill, dtype=Y.dtype
    )
    original = batch.sorted_indices[row_sequence(batch)]
    padded[original, row_step(batch)] = Y
    return padded


def last_index(batch):
    """Packed row of the last step of every sequence, in sorted order.

    Parameters
    ----------
    batch : PackedBatch
        The packed batch.

    Returns
    -------
    index : ndarray of shape (N,), dtype=np.intp
        ``index[j]`` is the packed row of the final step of sorted sequence
        ``j``; ``Y[index]`` gathers every sequence's last output.
    """
    return batch.offsets[batch.sorted_lengths - 1] + np.arange(batch.n_sequences)


def row_sequence(batch):
    """Sorted-sequence index of every packed row.

    Parameters
    ----------
    batch : PackedBatch
        The packed batch.

    Returns
    -------
    sequence : ndarray of shape (P,), dtype=np.intp
        Packed row ``r`` belongs to sorted sequence ``sequence[r]``, e.g. the
        gradient of mean pooling is ``dpooled[sequence] / lengths[sequence]``
        with ``lengths = batch.sorted_lengths``.
    """
    offsets = batch.offsets
    return np.arange(offsets[-1]) - np.repeat(offsets[:-1], batch.batch_sizes)


def row_step(batch):
    """Time step of every packed row.

    Parameters
    ----------
    batch : PackedBatch
        The packed batch.

    Returns
    -------
    step : ndarray of shape (P,), dtype=np.intp
        Packed row ``r`` holds time step ``step[r]`` of its sequence.
    """
    return np.repeat(np.arange(batch.max_length), batch.batch_sizes)


def sequence_order(batch):
    """Packed rows regrouped sequence by sequence, in sorted order.

    Parameters
    ----------
    batch : PackedBatch
        The packed batch.

    Returns
    -------
    order : ndarray of shape (P,), dtype=np.intp
        The packed rows of sorted sequence 0 in time order, then those of
        sorted sequence 1, and so on. Every sequence becomes one contiguous
        segment of ``Y[order]``, which suits ``ufunc.reduceat`` pooling.

    Examples
    --------
    Mean and max pooling of packed outputs, one row per sorted sequence:

    >>> import numpy as np
    >>> from fastrnn._sequences import pack, sequence_order
    >>> batch = pack([np.array([[1.0], [2.0]]), np.array([[3.0], [4.0], [8.0]])])
    >>> Y = batch.data
    >>> starts = np.cumsum(batch.sorted_lengths) - batch.sorted_lengths
    >>> segments = Y[sequence_order(batch)]
    >>> (np.add.reduceat(segments, starts) / batch.sorted_lengths[:, None]).ravel()
    array([5. , 1.5])
    >>> np.maximum.reduceat(segments, starts).ravel()
    array([8., 2.])
    """
    return _original_to_packed(
        batch.batch_sizes, batch.sorted_lengths, np.arange(batch.n_sequences)
    )


def _offsets(batch_sizes):
    """Cumulative ``batch_sizes`` with a leading 0."""
    offsets = np.zeros(batch_sizes.shape[0] + 1, dtype=np.intp)
    np.cumsum(batch_sizes, out=offsets[1:])
    return offsets


def _original_to_packed(batch_sizes, lengths, positions):
    """Packed rows of concatenated sequences.

    Sequence ``k`` of the concatenation has ``lengths[k]`` steps and sits at
    sorted position ``positions[k]``; the result maps every concatenated row
    (sequence by sequence, in time order) to its packed row.
    """
    starts = np.cumsum(lengths) - lengths
    steps = np.arange(lengths.sum()) - np.repeat(starts, lengths)
    return _offsets(batch_sizes)[steps] + np.repeat(positions, lengths)


def _check_packed_rows(Y, batch):
    """Check that ``Y`` has one row per packed row of ``batch``."""
    Y = np.asarray(Y)
    n_rows = batch.data.shape[0]
    if Y.ndim == 0 or Y.shape[0] != n_rows:
        raise ValueError(
            f"Y must have one row per packed row ({n_rows} rows); got an array "
            f"of shape {Y.shape}."
        )
    return Y


def _check_dtype(dtype):
    """Return ``dtype`` as a float32/float64 ``np.dtype``, or None."""
    if dtype is None:
        return None
    try:
        checked = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"dtype must be None, np.float32 or np.float64; got {dtype!r}."
        ) from exc
    if checked not in (np.float32, np.float64):
        raise ValueError(
            f"dtype must be None, np.float32 or np.float64; got {dtype!r}."
        )
    return checked


def _as_container(X):
    """Return ``X`` as one array, or unchanged when it is a list of sequences.

    Nested Python lists that form a regular array are that array, read like
    any 2-D or 3-D input; a list or tuple holding arrays, or ragged nested
    lists, stays a list of sequences. Sparse matrices are returned unchanged
    so that validation can name them.
    """
    if isinstance(X, np.ndarray) or sparse.issparse(X):
        return X
    if isinstance(X, (list, tuple)):
        if len(X) == 0 or any(isinstance(item, np.ndarray) for item in X):
            return X
        try:
            return np.asarray(X)
        except ValueError:  # ragged nested lists
            return X
    return np.asarray(X)


def _is_sequence_list(X):
    """Whether ``X``, as returned by ``_as_container``, is a list of sequences."""
    return isinstance(X, (list, tuple)) or (
        isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    )


def _sequences_from_list(X, data_layout):
    """Validate the shape of every sequence of a list, tuple or object array."""
    if len(X) == 0:
        raise ValueError("X contains no sequences; at least one is required.")
    sequences = [_as_sequence(item, i, data_layout) for i, item in enumerate(X)]
    n_features = sequences[0].shape[1]
    for i, seq in enumerate(sequences):
        if seq.shape[1] != n_features:
            raise ValueError(
                f"Sequence {i} has {seq.shape[1]} features, but sequence 0 has "
                f"{n_features}; all sequences must have the same number of "
                "features."
            )
    return sequences


def _as_sequence(item, index, data_layout):
    """Turn one item of a sequence list into a real ``(T_i, F)`` array."""
    seq = _as_real_array(item, f"sequence {index}")
    if seq.ndim == 1:
        seq = seq[:, np.newaxis]
    elif seq.ndim == 2:
        if data_layout == "NCT":
            seq = seq.T
    else:
        expected = "(T, F)" if data_layout == "NTF" else "(F, T)"
        raise ValueError(
            f"Sequence {index} must be a 1-D (T,) or a 2-D {expected} array; "
            f"got {seq.ndim} dimension(s), shape {seq.shape}."
        )
    if seq.shape[0] == 0:
        raise ValueError(
            f"Sequence {index} has length 0; every sequence needs at least one "
            "time step."
        )
    if seq.shape[1] == 0:
        raise ValueError(f"Sequence {index} has 0 features; at least one is required.")
    return seq


def _sequences_from_array(X, data_layout):
    """Validate the shape of a 2-D or 3-D array and split it into sequences."""
    X = _as_real_array(X, "X")
    if X.ndim not in (2, 3):
        hint = (
            " Reshape your data with X.reshape(1, -1) if it is one univariate sequence."
            if X.ndim == 1
            else ""
        )
        raise ValueError(
            "X must be a 3-D (N, T, F) array, a 2-D (N, T) array of univariate "
            f"sequences or a list of sequences; got a {X.ndim}-D array of shape "
            f"{X.shape}.{hint}"
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"X contains no sequences (shape={X.shape}); at least one is required."
        )
    if X.ndim == 2:
        if X.shape[1] == 0:
            # Wording shared with scikit-learn, whose checks match it: the
            # columns of a 2-D X are its features there, its time steps here.
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                "of 1 is required: a 2-D X is read as (N, T) univariate "
                "sequences, so sequence 0 has length 0."
            )
        return list(X[:, :, np.newaxis])
    if data_layout == "NCT":
        X = X.transpose(0, 2, 1)
    if X.shape[1] == 0:
        raise ValueError(
            f"Sequence 0 has length 0 (X has shape {X.shape} in {data_layout} "
            "layout); every sequence needs at least one time step."
        )
    if X.shape[2] == 0:
        raise ValueError(
            f"X has 0 features (shape {X.shape} in {data_layout} layout); at "
            "least one is required."
        )
    return list(X)


def _as_real_array(obj, name):
    """Convert ``obj`` to an array of real numbers (any real dtype)."""
    if sparse.issparse(obj):
        raise TypeError(
            f"{name} is a sparse matrix, but sparse input is not supported; "
            "convert it with .toarray()."
        )
    try:
        array = np.asarray(obj)
    except ValueError as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if array.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {array.dtype}.")
    if array.dtype.kind == "O":
        try:
            return array.astype(np.float64)
        except OverflowError as exc:
            raise ValueError(f"{name} holds a number too large for float64: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must contain real numbers: {exc}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain real numbers; got an array of dtype {array.dtype}."
        )
    return array


def _check_n_features(n_features_got, n_features, estimator):
    """Raise scikit-learn's error when the feature count is not the expected one."""
    if n_features is None or n_features_got == n_features:
        return
    if estimator is None:
        name = "this model"
    elif isinstance(estimator, str):
        name = estimator
    else:
        name = type(estimator).__name__
    raise ValueError(
        f"X has {n_features_got} features, but {name} is expecting {n_features} "
        "features as input."
    )


def _check_finite(sequences, given):
    """Raise when a sequence holds NaN or infinity, naming the first one; given: the sequences before their
    conversion to the model's dtype, to tell a value too large for float32 from an infinity in X."""
    for i, seq in enumerate(sequences):
        if not np.isfinite(seq).all():
            if np.isfinite(given[i]).all():
                raise ValueError(
                    f"X holds values too large for {seq.dtype} in sequence {i} (largest magnitude "
                    f"{np.abs(given[i]).max():.3g}); scale X (e.g. with fastrnn.SequenceScaler)."
                )
            kind = "NaN" if np.isnan(seq).any() else "infinity"
            raise ValueError(
                f"X contains {kind} in sequence {i}; all values must be finite."
            )
