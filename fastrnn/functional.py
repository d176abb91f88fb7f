"""Run recurrent layers with given weights, PyTorch style, without PyTorch.

``lstm``, ``gru`` and ``rnn`` take a batch of sequences and a dict of weights named like a PyTorch ``state_dict``
of ``torch.nn.LSTM/GRU/RNN`` (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ... ``_l{k}`` for
stacked layers, ``_reverse`` for the backward direction of a bidirectional layer), and return what the PyTorch
module returns for ``batch_first=True``::

    import torch, numpy as np
    lstm = torch.nn.LSTM(8, 32, num_layers=2, batch_first=True)
    weights = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    # ... then, anywhere, with only numpy and fastrnn:
    output, (h_n, c_n) = fastrnn.functional.lstm(X, weights)

The number of layers and the directions are read from the keys. X is a ``(N, T, F)`` array or a list of
``(T_i, F)`` arrays (ragged; every sequence runs over its own length only, as a PackedSequence does); the output
has the same form (a list, tuple or object array in gives a list out; an array, an array), with ``D * H``
features (D = 2 when bidirectional). ``h0``, ``c0``, ``h_n`` and ``c_n`` are
``(L * D, N, H)`` in the order of X, as PyTorch's. float32 X computes in float32, anything else in float64; the
weights are cast to that dtype.
"""
import re

import numpy as np

from . import _cells
from ._sequences import check_sequences, pack, pad, unpack

__all__ = ["lstm", "gru", "rnn"]

_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh)_l(0|[1-9][0-9]*)(_reverse)?")


def lstm(X, weights, h0=None, c0=None):
    """Multi-layer (bidirectional) LSTM over X; returns ``output, (h_n, c_n)`` like ``torch.nn.LSTM``.

    Parameters
    ----------
    X : array-like (N, T, F), or list of (T_i, F) arrays (or 1-D univariate arrays).
    weights : dict of arrays named like ``torch.nn.LSTM.state_dict()``.
    h0, c0 : array-like (L * D, N, H) or None (zeros).

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn.functional import lstm
    >>> rng = np.random.default_rng(0)
    >>> F, H = 3, 4                                     # as torch.nn.LSTM(3, 4, batch_first=True)
    >>> weights = {"weight_ih_l0": rng.normal(size=(4 * H, F)), "weight_hh_l0": rng.normal(size=(4 * H, H)),
    ...            "bias_ih_l0": np.zeros(4 * H), "bias_hh_l0": np.zeros(4 * H)}
    >>> output, (h_n, c_n) = lstm(rng.normal(size=(2, 5, F)), weights)
    >>> output.shape, h_n.shape, c_n.shape
    ((2, 5, 4), (1, 2, 4), (1, 2, 4))
    >>> np.array_equal(output[:, -1], h_n[0])
    True

    A ragged batch, a list of (T_i, F) arrays, gives a list of (T_i, H) outputs and the state after each
    sequence's own last step:

    >>> X = [rng.normal(size=(5, F)), rng.normal(size=(2, F))]
    >>> output, (h_n, c_n) = lstm(X, weights)
    >>> [o.shape for o in output]
    [(5, 4), (2, 4)]
    >>> np.array_equal(output[1][-1], h_n[0, 1])
    True
    """
    output, h_n, c_n = _run("lstm", X, weights, h0, c0)
    return output, (h_n, c_n)


def gru(X, weights, h0=None):
    """Multi-layer (bidirectional) GRU over X; returns ``output, h_n`` like ``torch.nn.GRU``.

    Parameters are those of `lstm`, with no c0.

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn.functional import gru
    >>> rng = np.random.default_rng(0)
    >>> F, H = 3, 4                                     # two layers, bidirectional: _l1 and _reverse keys
    >>> weights = {f"{w}_l{k}{d}": rng.normal(size=(3 * H, (F if k == 0 else 2 * H) if w == "weight_ih" else H))
    ...            for k in (0, 1) for d in ("", "_reverse") for w in ("weight_ih", "weight_hh")}
    >>> output, h_n = gru(rng.normal(size=(2, 5, F)), weights)
    >>> output.shape, h_n.shape                         # (N, T, 2 H) and (L * 2, N, H), as torch.nn.GRU's
    ((2, 5, 8), (4, 2, 4))
    """
    output, h_n, _ = _run("gru", X, weights, h0, None)
    return output, h_n


def rnn(X, weights, h0=None, nonlinearity="tanh"):
    """Multi-layer (bidirectional) Elman RNN over X; returns ``output, h_n`` like ``torch.nn.RNN``.

    Parameters are those of `lstm`, with no c0, and ``nonlinearity`` "tanh" or "relu".

    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn.functional import rnn
    >>> weights = {"weight_ih_l0": np.eye(2), "weight_hh_l0": np.eye(2)}     # no biases: bias=False
    >>> output, h_n = rnn(np.array([[[1.0, -1.0], [2.0, 0.0]]]), weights, nonlinearity="relu")
    >>> output                                          # h_t = relu(x_t + h_{t-1})
    array([[[1., 0.],
            [3., 0.]]])
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}.")
    output, h_n, _ = _run("rnn", X, weights, h0, None, nonlinearity)
    return output, h_n


def _detached(value):
    # A torch tensor (even one that requires grad) converts through .detach().cpu().numpy(), without torch.
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def _as_numpy(name, value):
    try:
        return np.asarray(_detached(value))
    except Exception as exc:
        raise TypeError(f"{name} could not be read as a numpy array: {exc}") from exc


def _as_real(name, value, dtype):
    """value as a C-contiguous array of dtype; TypeError unless real numbers, ValueError unless finite."""
    a = _as_numpy(name, value)
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}.")
    with np.errstate(over="ignore"):  # float64 values too large for float32 become inf, reported below
        a = np.ascontiguousarray(a, dtype=dtype)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity (after conversion to {np.dtype(dtype).name}).")
    return a


def read_layers(cell, weights, dtype):
    """Group a PyTorch-named weight dict into ``layers[l][d] = (weight_ih, weight_hh, bias_ih, bias_hh)``.

    d is 0 for the forward and 1 for the reverse direction. Missing biases (``bias=False``) are zeros; shapes
    are checked against each other and against the cell's number of gates.
    """
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict named like a PyTorch state_dict, got {type(weights).__name__}.")
    found = {}
    for key, value in weights.items():
        m = _KEY.fullmatch(str(key))
        if m is None:
            raise ValueError(
                f"Unexpected key {key!r} in weights: expected weight_ih_l<k>, weight_hh_l<k>, bias_ih_l<k>, "
                "bias_hh_l<k>, optionally ending in _reverse (projections such as weight_hr are not supported)."
            )
        found[(int(m[2]), int(m[3] is not None), m[1])] = (key, value)
    n_layers = 1 + max((k[0] for k in found), default=-1)
    if n_layers == 0:
        raise ValueError("weights is empty: expected at least weight_ih_l0 and weight_hh_l0.")
    n_dirs = 2 if any(k[1] == 1 for k in found) else 1
    G = _cells.GATES[cell]
    layers = []
    for layer in range(n_layers):
        dirs = []
        for d in range(n_dirs):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            for name in ("weight_ih", "weight_hh"):
                if (layer, d, name) not in found:
                    raise ValueError(f"weights has no key {name + suffix!r}.")
            w_ih = _as_numpy(f"weights['weight_ih{suffix}']", found[layer, d, "weight_ih"][1])
            w_hh = _as_numpy(f"weights['weight_hh{suffix}']", found[layer, d, "weight_hh"][1])
            if w_hh.ndim != 2 or w_hh.shape[1] < 1 or w_hh.shape[0] != G * w_hh.shape[1]:
                raise ValueError(
                    f"weights['weight_hh{suffix}'] must have shape ({G} * H, H) for a {cell}, "
                    f"got {w_hh.shape}."
                )
            GH = w_hh.shape[0]
            if w_ih.ndim != 2 or w_ih.shape[0] != GH:
                raise ValueError(f"weights['weight_ih{suffix}'] must have shape ({GH}, F), got {w_ih.shape}.")
            biases = []
            has_bias = [(layer, d, n) in found for n in ("bias_ih", "bias_hh")]
            if any(has_bias) and not all(has_bias):
                raise ValueError(f"weights has only one of 'bias_ih{suffix}' and 'bias_hh{suffix}'.")
            for name in ("bias_ih", "bias_hh"):
                b = _as_numpy(f"weights['{name}{suffix}']", found[layer, d, name][1]) if all(has_bias) else np.zeros(GH)
                if b.shape != (GH,):
                    raise ValueError(f"weights['{name}{suffix}'] must have shape ({GH},), got {b.shape}.")
                biases.append(b)
            names = [f"weights['{n}{suffix}']" for n in _cells.WEIGHT_NAMES]
            dirs.append(tuple(_as_real(n, a, dtype) for n, a in zip(names, (w_ih, w_hh, *biases))))
        layers.append(dirs)
    H = layers[0][0][1].shape[1]
    for layer, dirs in enumerate(layers):
        F_expected = None if layer == 0 else n_dirs * H
        for w_ih, w_hh, _, _ in dirs:
            if w_hh.shape[1] != H:
                raise ValueError(f"every layer must have the same hidden size {H}; layer {layer} has {w_hh.shape[1]}.")
            if F_expected is not None and w_ih.shape[1] != F_expected:
                raise ValueError(
                    f"weight_ih_l{layer} must have {F_expected} columns (the previous layer's output), "
                    f"got {w_ih.shape[1]}."
                )
        if dirs[0][0].shape[1] != dirs[-1][0].shape[1]:
            raise ValueError(f"the two directions of layer {layer} have different input sizes.")
    return layers


def _initial_states(name, s, n_states, batch, H, dtype):
    """(L * D, N, H) in X's order -> list of (N, H) arrays in sorted order, or Nones."""
    if s is None:
        return [None] * n_states
    s = _as_real(name, s, dtype)
    expected = (n_states, batch.n_sequences, H)
    if s.shape != expected:
        raise ValueError(f"{name} must have shape (num_layers * num_directions, N, H) = {expected}, got {s.shape}.")
    return [np.ascontiguousarray(s[k][batch.sorted_indices]) for k in range(n_states)]


def _run(cell, X, weights, h0, c0, activation="tanh"):
    X = _detached(X)
    ragged = isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype == object)
    seqs = check_sequences(X)
    batch = pack(seqs)
    layers = read_layers(cell, weights, batch.dtype)
    if layers[0][0][0].shape[1] != batch.n_features:
        raise ValueError(
            f"X has {batch.n_features} features, but weight_ih_l0 expects {layers[0][0][0].shape[1]} features."
        )
    n_dirs, H = len(layers[0]), layers[0][0][1].shape[1]
    n_states = len(layers) * n_dirs
    h0s = _initial_states("h0", h0, n_states, batch, H, batch.dtype)
    c0s = _initial_states("c0", c0, n_states, batch, H, batch.dtype)
    x = batch.data
    h_n, c_n = [], []
    for layer, dirs in enumerate(layers):
        outputs = []
        for d, w in enumerate(dirs):
            k = layer * n_dirs + d
            Y, h, c, _ = _cells.forward(cell, x, batch.batch_sizes, w, h0s[k], c0s[k], reverse=bool(d),
                                        activation=activation)
            outputs.append(Y)
            h_n.append(h)
            c_n.append(c)
        x = outputs[0] if n_dirs == 1 else np.concatenate(outputs, axis=1)
    order = batch.unsorted_indices
    h_n = np.stack(h_n)[:, order]
    c_n = np.stack(c_n)[:, order] if cell == "lstm" else None
    output = unpack(x, batch) if ragged else pad(x, batch)
    return output, h_n, c_n
