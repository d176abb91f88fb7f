"""Thin Python wrappers over the compiled kernels: check, allocate, dispatch.

`forward` runs one recurrent layer in one direction over a packed batch and `backward` backpropagates through it.
Every shape, dtype and layout check happens here, before any compiled code runs, because the kernels trust
their inputs. The dtype of X is the dtype of everything; float32 and float64 are supported.

Dimensions: P packed rows, F input features, H hidden units, G gates per cell (LSTM 4, GRU 3, RNN 1),
B sequences, T steps. Packed layout: see ``fastrnn._sequences`` and DESIGN.md section 2.
"""
import functools
from dataclasses import dataclass

import numpy as np

from . import _gru, _lstm, _rnn
from ._threads import lanes, one_blas_thread, own_product, own_sequence, run_lanes
from ._workspace import empty

# cell name -> gates per hidden unit
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
ACTIVATIONS = ("tanh", "relu")
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class Split:
    """A packed batch dealt to n lanes, sorted sequence j to lane j % n: each lane is a packed batch of its own,
    still sorted longest first, with about 1 / n of every step's rows, so that ragged lanes do equal work.

    rows[k] : the packed rows of lane k, in its own packed order (step by step, its sequences in order);
    batch_sizes[k] : its live sequences at each of its steps. Its sequences are the sorted rows k::n of a state.
    """

    def __init__(self, batch_sizes, n):
        bs = batch_sizes
        P = int(bs.sum())
        offsets = np.cumsum(bs) - bs
        lane = (np.arange(P) - np.repeat(offsets, bs)) % n  # j % n of row's sequence j
        self.n = n
        self.rows = [np.flatnonzero(lane == k) for k in range(n)]
        # Sequence j = k + n * i of lane k is live at a step with b live sequences when j < b.
        self.batch_sizes = [np.ascontiguousarray(((bs - k + n - 1) // n)[bs > k]) for k in range(n)]

    def deal_rows(self, A):
        """Each lane's rows of a packed (P, .) array."""
        return [A[r] for r in self.rows]

    def deal_states(self, S):
        """Each lane's rows of a (B, .) state (None: None each)."""
        return [None if S is None else S[k::self.n].copy() for k in range(self.n)]

    def join_rows(self, parts, out):
        """out (P, .) with each lane's rows put back; returns out."""
        for r, part in zip(self.rows, parts):
            out[r] = part
        return out

    def join_states(self, parts, out):
        """Put each lane's rows of a (B, .) state back into out (None: nothing)."""
        if out is None:
            return
        for k, part in enumerate(parts):
            out[k::self.n] = part


@functools.lru_cache(maxsize=2)
def _split(n, key):
    return Split(np.frombuffer(key, dtype=np.intp), n)


def split(batch_sizes, n):
    """Split(batch_sizes, n), kept for the next calls: a network's layers and directions, forward and backward,
    all deal the same batch."""
    return _split(n, batch_sizes.tobytes())


@dataclass
class Cache:
    """What `backward` needs from a training-mode `forward`, for one `backward`: the LSTM's and GRU's backward
    write the pre-activation gradients over the stashed gates (src_c/lstm.h), which saves an array as large as
    the gates (a long LSTM float64 training step grew the process by 415 MB with it, 290 MB without)."""

    cell: str
    activation: str
    X: np.ndarray
    batch_sizes: np.ndarray
    weights: tuple
    Y: np.ndarray
    stash: tuple
    reverse: bool
    # A batch run in lanes (`run_lanes`) keeps how it was dealt and each lane's Cache instead of a stash.
    split: "Split" = None
    lane_caches: list = None
    used: bool = False


def stash_width(F, H, itemsize):
    """Row length of the LSTM's and RNN's training stash [x_t, h_{t-1}, 1] (and of the backward's dW scratch):
    F + H + 1 rounded up to 64 bytes, whole or half strips of the own product, which it reads in place
    (src_c/_steps.pxd says why)."""
    unit = 64 // itemsize
    return -(-(F + H + 1) // unit) * unit


def check_cell(cell, activation="tanh"):
    if cell not in GATES:
        raise ValueError(f"cell must be one of {sorted(GATES)}, got {cell!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}.")


def _check_matrix(name, a, shape, dtype):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}.")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, but X has dtype {dtype}; all arrays must share X's dtype.")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}.")
    return np.ascontiguousarray(a)


# Rows of the RNN's pointwise pass that run as one flat loop in inference, over a bias and NaN sums tiled to as
# many rows (src_c/rnn.h): a row's own loop leaves its last units to scalar code when H is not a whole number of
# vectors.
TILED_ROWS = 16

# Steps whose checks are remembered (the key is the steps' bytes, kept by the cache): at most 16 sets of 32 KB.
REMEMBERED_STEPS = 4096


def check_batch_sizes(batch_sizes, n_rows):
    """Check the packed-layout step sizes; return them as a contiguous intp array."""
    bs = batch_sizes
    if (isinstance(bs, np.ndarray) and bs.dtype == np.intp and bs.ndim == 1 and bs.flags.c_contiguous
            and 0 < bs.size <= REMEMBERED_STEPS):
        # The layers of a network, and every batch of an epoch of equal lengths, check the same steps: their
        # checks (7 us of NumPy calls, a third of a layer's call at T = 1) are remembered.
        _check_steps(bs.tobytes(), n_rows)
        return bs
    bs = np.asarray(bs)
    if bs.ndim != 1 or bs.size == 0 or not np.issubdtype(bs.dtype, np.integer):
        raise ValueError(f"batch_sizes must be a non-empty 1-D integer array, got {bs.dtype} of shape {bs.shape}.")
    _check_step_values(bs, n_rows)
    return np.ascontiguousarray(bs, dtype=np.intp)


@functools.lru_cache(maxsize=16)
def _check_steps(key, n_rows):
    _check_step_values(np.frombuffer(key, dtype=np.intp), n_rows)


def _check_step_values(bs, n_rows):
    if bs[-1] < 1 or np.any(np.diff(bs) > 0):
        raise ValueError("batch_sizes must be positive and non-increasing (sequences sorted longest first).")
    if bs.sum() != n_rows:
        raise ValueError(f"batch_sizes sums to {bs.sum()}, but X has {n_rows} packed rows.")


def _check_weights(cell, weights, F, dtype):
    if len(weights) != 4:
        raise ValueError(f"weights must be the 4 arrays {WEIGHT_NAMES}, got {len(weights)}.")
    w_hh = weights[1]
    if not isinstance(w_hh, np.ndarray) or w_hh.ndim != 2:
        raise ValueError(f"weight_hh must be a 2-D numpy array, got {getattr(w_hh, 'shape', type(w_hh))}.")
    G = GATES[cell]
    GH, H = w_hh.shape
    if H < 1 or GH != G * H:
        raise ValueError(f"weight_hh of a {cell} layer must have shape ({G} * H, H) with H >= 1, got {w_hh.shape}.")
    shapes = [(GH, F), (GH, H), (GH,), (GH,)]
    return tuple(_check_matrix(n, w, s, dtype) for n, w, s in zip(WEIGHT_NAMES, weights, shapes)), H


def _state(name, s, B, H, dtype):
    """A fresh (B, H) state array: zeros, or a copy of s (the kernels write final states into it)."""
    if s is None:
        return np.zeros((B, H), dtype=dtype)
    return _check_matrix(name, s, (B, H), dtype).copy()


def forward(cell, X, batch_sizes, weights, h0=None, c0=None, reverse=False, training=False, activation="tanh"):
    """One recurrent layer in one direction over a packed batch.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    X : ndarray (P, F), float32 or float64; packed inputs.
    batch_sizes : ndarray (T,) of int; live sequences at each step.
    weights : (weight_ih (G*H, F), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,)), X's dtype.
    h0, c0 : ndarray (B, H) or None (zeros); initial states in sorted order. c0 only for "lstm".
    reverse : bool; walk the steps backwards in time.
    training : bool; keep the stash `backward` needs and return a Cache.
    activation : {"tanh", "relu"}; the candidate activation (LSTM: g and the output; GRU: n; RNN: h), as Keras's.

    Returns
    -------
    Y : ndarray (P, H); hn : ndarray (B, H); cn : ndarray (B, H) or None; cache : Cache or None.
    """
    check_cell(cell, activation)
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D (packed rows, features) numpy array, got {getattr(X, 'shape', type(X))}.")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32 or float64, got {X.dtype}.")
    if c0 is not None and cell != "lstm":
        raise ValueError(f"c0 is only for an LSTM, not {cell!r}.")
    dtype = X.dtype
    P, F = X.shape
    X = np.ascontiguousarray(X)
    bs = check_batch_sizes(batch_sizes, P)
    weights, H = _check_weights(cell, weights, F, dtype)
    B = int(bs[0])
    h = _state("h0", h0, B, H, dtype)
    cn = _state("c0", c0, B, H, dtype) if cell == "lstm" else None
    return run_forward(cell, activation, X, bs, weights, h, cn, reverse, training)


def run_forward(cell, activation, X, bs, weights, h, cn, reverse, training):
    """`forward` on arguments as it checks them: X C-contiguous, bs the intp steps of its packed rows, weights
    C-contiguous in X's dtype, h and cn (None unless an LSTM) the initial (B, H) states, overwritten with the final
    ones. A Network's layers call this: their arguments are right by construction, and `forward`'s checks took a
    sixth of a small LSTM's layer call (20 of 113 us; 32 sequences of 12 steps, H 16)."""
    dtype = X.dtype
    P, F = X.shape
    B, H = h.shape
    G = GATES[cell]
    n = lanes(B, P, G, H, F, dtype.itemsize)
    if n == 1:
        Y, cache = _forward(cell, activation, X, bs, weights, h, cn, reverse, training, own_product(B, G, H))
        return Y, h, cn, cache
    lane = split(bs, n)
    Xs, hs, cs = lane.deal_rows(X), lane.deal_states(h), lane.deal_states(cn)
    with one_blas_thread():
        own = own_product(B, G, H)
        parts = run_lanes(n, lambda k: _forward(cell, activation, Xs[k], lane.batch_sizes[k], weights, hs[k], cs[k],
                                                reverse, training, own))
    Y = lane.join_rows([Y_k for Y_k, _ in parts], empty((P, H), dtype))
    lane.join_states(hs, h)
    lane.join_states(cs, cn)
    cache = None
    if training:
        cache = Cache(cell, activation, X, bs, weights, Y, None, bool(reverse), lane, [c for _, c in parts])
    return Y, h, cn, cache


def _forward(cell, activation, X, bs, weights, h, cn, reverse, training, own):
    """Run a forward kernel on checked arguments, h and cn (LSTM) updated in place: (Y, Cache or None)."""
    dtype = X.dtype
    P, F = X.shape
    B, H = h.shape
    Y = empty((P, H), dtype)
    rows = P if training else 0
    # In inference on the own product, the gates of one step at a time (src_c/_steps.pxd, step_gates).
    gate_rows = B if not training and own and B > 1 else P
    relu = activation == "relu"
    # scratch: the kernel's sum of the biases, then its NaN sums; the RNN's, a row each for TILED_ROWS rows
    bias = empty((2 * min(B, TILED_ROWS) if cell == "rnn" else GATES[cell] + 1) * H, dtype)
    if cell == "lstm":
        gates, xh = empty((gate_rows, 4 * H), dtype), empty((rows, stash_width(F, H, dtype.itemsize)), dtype)
        c_prev, act_c = empty((rows, H), dtype), empty((rows, H), dtype)
        _lstm.lstm_forward(X, bs, *weights, bias, h, cn, Y, gates, xh, c_prev, act_c, relu, reverse, training,
                           own)
        stash = (gates, xh, c_prev, act_c)
    elif cell == "gru":
        gates = empty((gate_rows, 3 * H), dtype)
        ah, h_prev, ah_n = empty((B, 3 * H), dtype), empty((rows, H), dtype), empty((rows, H), dtype)
        _gru.gru_forward(X, bs, *weights, bias, h, Y, gates, ah, h_prev, ah_n, relu, reverse, training, own)
        stash = (gates, h_prev, ah_n)
    else:
        xh = empty((rows, stash_width(F, H, dtype.itemsize)), dtype)
        _rnn.rnn_forward(X, bs, *weights, bias, h, Y, xh, relu, reverse, training, own)
        stash = (xh,)
    return Y, (Cache(cell, activation, X, bs, weights, Y, stash, bool(reverse)) if training else None)


def backward(cache, dY, dhn=None, dcn=None, grads=None, need_dX=True):
    """Backpropagate through the layer whose training-mode `forward` returned `cache`.

    Parameters
    ----------
    cache : Cache from `forward(..., training=True)`, not yet backpropagated through (a Cache serves one call).
    dY : ndarray (P, H); gradient of the loss with respect to Y.
    dhn, dcn : ndarray (B, H) or None (zeros); gradients with respect to the final states (dcn: LSTM only).
    grads : (dweight_ih, dweight_hh, dbias_ih, dbias_hh) C-contiguous writable arrays shaped like the weights,
        which the gradients are ADDED to (so a caller can sum over layers or batches); None allocates zeros.
    need_dX : bool; compute dX (a first layer does not need it, and skipping saves a third of the work).

    Returns
    -------
    dX : ndarray (P, F) or None; dh0 : ndarray (B, H); dc0 : ndarray (B, H) or None; grads : the tuple above.
    """
    if not isinstance(cache, Cache):
        raise TypeError("cache must be the Cache returned by forward(..., training=True).")
    X, weights, dtype = cache.X, cache.weights, cache.X.dtype
    P, B, H = X.shape[0], int(cache.batch_sizes[0]), cache.Y.shape[1]
    dY = _check_matrix("dY", dY, (P, H), dtype)
    dh = _state("dhn", dhn, B, H, dtype)
    if dcn is not None and cache.cell != "lstm":
        raise ValueError(f"dcn is only for an LSTM, not {cache.cell!r}.")
    if grads is None:
        grads = tuple(np.zeros_like(w) for w in weights)
    else:
        if len(grads) != 4:
            raise ValueError(f"grads must be 4 arrays shaped like {WEIGHT_NAMES}, got {len(grads)}.")
        for name, g, w in zip(WEIGHT_NAMES, grads, weights):
            _check_matrix("d" + name, g, w.shape, dtype)
            if not (g.flags.c_contiguous and g.flags.writeable):
                raise ValueError(f"d{name} must be C-contiguous and writable: gradients are accumulated into it.")
    dc = _state("dcn", dcn, B, H, dtype) if cache.cell == "lstm" else None
    if cache.used:
        raise ValueError("This Cache has been backpropagated through already, and its stash now holds gradients: "
                         "run forward(..., training=True) again for another backward.")
    return run_backward(cache, dY, dh, dc, grads, need_dX)


def run_backward(cache, dY, dh, dc, grads, need_dX):
    """`backward` on arguments as it checks them: dY (P, H) C-contiguous, dh and dc (None unless an LSTM) the
    final states' gradients, (B, H) arrays overwritten with the initial ones', grads C-contiguous and writable
    (a Network's gradient views), cache not used before. Returns what `backward` returns."""
    X, bs, weights, dtype = cache.X, cache.batch_sizes, cache.weights, cache.X.dtype
    P, F = X.shape
    B, H, G = int(bs[0]), cache.Y.shape[1], GATES[cache.cell]
    cache.used = True
    if cache.split is None:
        dX = _backward(cache, dY, dh, dc, grads, need_dX, own_product(B, G, H), own_sequence(G, H, F))
        return dX, dh, dc, grads
    lane, n = cache.split, cache.split.n
    dYs, dhs, dcs = lane.deal_rows(dY), lane.deal_states(dh), lane.deal_states(dc)
    lane_grads = [grads] + [tuple(np.zeros_like(w) for w in weights) for _ in range(1, n)]
    with one_blas_thread():
        own, own_seq = own_product(B, G, H), own_sequence(G, H, F)
        dXs = run_lanes(n, lambda k: _backward(cache.lane_caches[k], dYs[k], dhs[k], dcs[k], lane_grads[k], need_dX,
                                               own, own_seq))
    lane.join_states(dhs, dh)
    lane.join_states(dcs, dc)
    for more in lane_grads[1:]:
        for g, g_k in zip(grads, more):
            g += g_k
    return (lane.join_rows(dXs, empty((P, F), dtype)) if need_dX else None), dh, dc, grads


def _backward(cache, dY, dh, dc, grads, need_dX, own, own_seq):
    """Run a backward kernel on checked arguments, dh and dc (LSTM) updated in place, gradients added to grads:
    dX or None."""
    X, bs, weights, dtype = cache.X, cache.batch_sizes, cache.weights, cache.X.dtype
    P, F = X.shape
    H = cache.Y.shape[1]
    G = GATES[cache.cell]
    dX = empty((P if need_dX else 0, F), dtype)
    relu = cache.activation == "relu"
    if cache.cell == "lstm":
        # scratch: the one product of all weight gradients
        dW = empty((G * H, stash_width(F, H, dtype.itemsize)), dtype)
        _lstm.lstm_backward(X, bs, *weights[:2], *cache.stash, dY, dh, dc, dX, dW, *grads, relu, cache.reverse,
                            own, own_seq)
    elif cache.cell == "gru":
        dgates_hh = empty((P, G * H), dtype)
        _gru.gru_backward(X, bs, *weights[:2], *cache.stash, dY, dh, dgates_hh, dX, *grads, relu, cache.reverse,
                          own, own_seq)
    else:
        dgates, dW = empty((P, H), dtype), empty((H, stash_width(F, H, dtype.itemsize)), dtype)
        _rnn.rnn_backward(X, bs, *weights[:2], cache.Y, *cache.stash, dY, dh, dgates, dX, dW, *grads, relu,
                          cache.reverse, own, own_seq)
    return dX if need_dX else None
