"""Per-channel standardisation of (ragged) sequences."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._sequences import _as_container, _is_sequence_list, check_sequences

_N_FEATURES_REASON = (
    "a 2-D X is read as (N, T) univariate sequences, so n_features_in_ is 1 "
    "(channels), not X.shape[1] (time steps), and any T is accepted"
)


class SequenceScaler(TransformerMixin, BaseEstimator):
    """Standardise every channel of sequences over all their time steps.

    The mean and standard deviation of a channel are computed over every real
    time step of every sequence, so a ragged list of sequences is scaled
    exactly as its concatenation would be, with no padding involved.

    Parameters
    ----------
    with_mean : bool, default=True
        Whether to subtract the mean of each channel.

    with_std : bool, default=True
        Whether to divide by the standard deviation of each channel.

    data_layout : {"NTF", "NCT"}, default="NTF"
        Axis order of 3-D arrays and of 2-D sequences: time then features
        (``"NTF"``), or channels then time (``"NCT"``, aeon/sktime's).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features_in_,)
        Mean of every channel.

    var_ : ndarray of shape (n_features_in_,)
        Variance of every channel.

    scale_ : ndarray of shape (n_features_in_,) or None
        Standard deviation of every channel, with 1 for constant channels;
        None when ``with_std=False``.

    n_features_in_ : int
        Number of channels ``F`` (not time steps).

    n_samples_seen_ : int
        Number of real time steps seen, summed over all sequences.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for 2-D tabular data.

    Notes
    -----
    Accepted inputs are those of the fastrnn estimators: a 3-D array
    ``(N, T, F)`` (``(N, F, T)`` with ``data_layout="NCT"``), a 2-D array
    ``(N, T)`` of univariate sequences, or a list of ``(T_i, F)`` (or 1-D)
    sequences. ``transform`` and ``inverse_transform`` return the same form
    as their input (a list for a list, tuple or object array), in the input's
    dtype when that is float32 and float64 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import SequenceScaler
    >>> X = [np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[4.0, 20.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_
    array([ 2., 20.])
    >>> [x.round(2) for x in scaler.transform(X)]
    [array([[-1.22, -1.22],
           [ 0.  ,  1.22]]), array([[1.22, 0.  ]])]
    """

    # scikit-learn's common checks feed 2-D X, which fastrnn reads as (N, T):
    # the checks below expect its columns to be features. Pass this dict to
    # ``parametrize_with_checks(..., expected_failed_checks=...)``.
    _expected_failed_checks = {
        "check_n_features_in": _N_FEATURES_REASON,
        "check_n_features_in_after_fitting": _N_FEATURES_REASON,
        # Only its last assertion fails: transform(X[:, :-1]) is valid input.
        "check_transformer_general": _N_FEATURES_REASON,
    }

    def __init__(self, *, with_mean=True, with_std=True, data_layout="NTF"):
        self.with_mean = with_mean
        self.with_std = with_std
        self.data_layout = data_layout

    def fit(self, X, y=None):
        """Compute the mean and standard deviation of every channel.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences: ``(N, T, F)`` or ``(N, T)`` array, or list of ``(T_i,
            F)`` or ``(T_i,)`` arrays.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        self._check_params()
        sequences = check_sequences(X, data_layout=self.data_layout, estimator=self)
        self._set_moments(*_moments(sequences))
        return self

    def partial_fit(self, X, y=None):
        """Update the mean and standard deviation with a batch of sequences.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences: ``(N, T, F)`` or ``(N, T)`` array, or list of ``(T_i,
            F)`` or ``(T_i,)`` arrays.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        if not hasattr(self, "n_samples_seen_"):
            return self.fit(X)
        self._check_params()
        sequences = check_sequences(
            X,
            data_layout=self.data_layout,
            estimator=self,
            n_features=self.n_features_in_,
        )
        self._set_moments(
            *_combine_moments(
                (self.n_samples_seen_, self.mean_, self.var_), _moments(sequences)
            )
        )
        return self

    def transform(self, X):
        """Standardise sequences.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences: ``(N, T, F)`` or ``(N, T)`` array, or list of ``(T_i,
            F)`` or ``(T_i,)`` arrays.

        Returns
        -------
        X_tr : ndarray or list of ndarray
            Scaled sequences, in the form of ``X``.
        """
        X = _as_container(X)
        rows, lengths = self._validated_rows(X)
        if self.with_mean:
            rows -= self.mean_
        if self.with_std:
            rows /= self.scale_
        return _restore_form(X, rows, lengths, self.data_layout)

    def inverse_transform(self, X):
        """Undo the standardisation.

        Parameters
        ----------
        X : array-like or list of array-like
            Scaled sequences: ``(N, T, F)`` or ``(N, T)`` array, or list of
            ``(T_i, F)`` or ``(T_i,)`` arrays.

        Returns
        -------
        X_original : ndarray or list of ndarray
            Sequences in the original units, in the form of ``X``.
        """
        X = _as_container(X)
        rows, lengths = self._validated_rows(X)
        if self.with_std:
            rows *= self.scale_
        if self.with_mean:
            rows += self.mean_
        return _restore_form(X, rows, lengths, self.data_layout)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags

    def _check_params(self):
        """Check the parameters that check_sequences does not."""
        for name in ("with_mean", "with_std"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"The '{name}' parameter of SequenceScaler must be a bool; "
                    f"got {value!r} of type {type(value).__name__}."
                )

    def _set_moments(self, n_samples, mean, var):
        """Store the moments and derive the scale from them."""
        # An infinite variance would pass for a constant channel (scale 1) and an
        # infinite mean would map every value to -inf: refused before anything
        # is stored.
        overflow = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(var)))
        if overflow.size:
            raise ValueError(
                f"X has values too large to scale: the mean or variance of channel "
                f"{overflow[0]} over the {n_samples} time steps seen overflows "
                "float64. Divide X by a constant first."
            )
        self.n_features_in_ = mean.shape[0]
        self.n_samples_seen_ = n_samples
        self.mean_ = mean
        self.var_ = var
        self.scale_ = _scale(n_samples, mean, var) if self.with_std else None

    def _validated_rows(self, X):
        """Concatenate the validated sequences of X into a new (P, F) array."""
        check_is_fitted(self)
        if self.with_std and self.scale_ is None:
            raise ValueError(
                "with_std=True, but this SequenceScaler was fitted with "
                "with_std=False and has no scale_; fit it again."
            )
        sequences = check_sequences(
            X,
            data_layout=self.data_layout,
            estimator=self,
            n_features=self.n_features_in_,
        )
        lengths = [seq.shape[0] for seq in sequences]
        # np.concatenate always copies, so scaling its result in place never
        # touches the caller's data.
        return np.concatenate(sequences), lengths


def _moments(sequences):
    """Number of rows, mean and variance of the concatenated sequences."""
    rows = np.concatenate(sequences)
    # Overflow of values too large for float64 is refused by _set_moments.
    with np.errstate(over="ignore", invalid="ignore"):
        # Accumulate in float64 even for float32 data, as StandardScaler does.
        return (
            rows.shape[0],
            rows.mean(axis=0, dtype=np.float64),
            rows.var(axis=0, dtype=np.float64),
        )


def _combine_moments(moments_a, moments_b):
    """Moments of the union of two sets of rows (Chan, Golub and LeVeque)."""
    n_a, mean_a, var_a = moments_a
    n_b, mean_b, var_b = moments_b
    n = n_a + n_b
    # Overflow of values too large for float64 is refused by _set_moments.
    with np.errstate(over="ignore", invalid="ignore"):
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b / n)
        sum_squares = n_a * var_a + n_b * var_b + delta**2 * (n_a * n_b / n)
        return n, mean, sum_squares / n


def _scale(n_samples, mean, var):
    """Standard deviation, with 1 for channels that are constant."""
    # A constant channel gets a tiny non-zero variance from the rounding of
    # its mean; the bound on that error (Chan, Golub and LeVeque, as in
    # scikit-learn's StandardScaler) tells it apart from a real spread.
    eps = np.finfo(np.float64).eps
    # A bound that overflows is above any finite variance, which is then
    # rounding error indeed.
    with np.errstate(over="ignore"):
        constant = var <= n_samples * eps * var + (n_samples * mean * eps) ** 2
    return np.where(constant, 1.0, np.sqrt(var))


def _restore_form(X, rows, lengths, data_layout):
    """Give the scaled (P, F) rows the form and layout of X.

    X is as returned by ``_as_container`` and has been validated: either one
    2-D or 3-D array, or a list of sequences.
    """
    if _is_sequence_list(X):
        pieces = np.split(rows, np.cumsum(lengths)[:-1])
        return [
            _restore_sequence(piece, np.ndim(item), data_layout)
            for piece, item in zip(pieces, X)
        ]
    if X.ndim == 2:
        return rows.reshape(len(lengths), -1)
    padded = rows.reshape(len(lengths), lengths[0], -1)
    return padded.transpose(0, 2, 1) if data_layout == "NCT" else padded


def _restore_sequence(sequence, ndim, data_layout):
    """Give one scaled (T_i, F) sequence the shape of its input item."""
    if ndim == 1:
        return sequence[:, 0]
    return sequence.T if data_layout == "NCT" else sequence
