"""Plain-NumPy reference implementation ("oracle") of the recurrent cells.

This module is the ground truth the compiled kernels are tested against. It shares no
code with them, is written straight from the equations below, and loops over every
sequence and every step one vector at a time. Speed is irrelevant; clarity is the point.

Conventions (PyTorch's names, shapes and gate orders)
-----------------------------------------------------
``F`` input features, ``H`` hidden units, ``G`` gates (LSTM 4, GRU 3, RNN 1).

    weight_ih (G*H, F)   weight_hh (G*H, H)   bias_ih (G*H,)   bias_hh (G*H,)

The gate blocks are stacked along the first axis in the order given below, so gate
``k`` of ``weight_ih`` is ``weight_ih[k*H:(k+1)*H]`` (likewise for the others).
``σ(a) = 1 / (1 + exp(-a))``; ``*`` is the elementwise product.

LSTM (gates i, f, g, o)::

    i  = σ(W_ii x + b_ii + W_hi h + b_hi)
    f  = σ(W_if x + b_if + W_hf h + b_hf)
    g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
    o  = σ(W_io x + b_io + W_ho h + b_ho)
    c' = f * c + i * g
    h' = o * tanh(c')

GRU (gates r, z, n)::

    r  = σ(W_ir x + b_ir + W_hr h + b_hr)
    z  = σ(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

RNN (one gate; act is "tanh" or "relu")::

    h' = act(W_ih x + b_ih + W_hh h + b_hh)

Packed variable-length layout
-----------------------------
A ragged batch of ``B`` sequences is sorted by length, longest first; ties keep their
original order (a stable sort). ``T`` is the longest length and ``P = sum(lengths)``.

* ``batch_sizes[t]`` (``np.intp``) = number of sequences longer than ``t``.
* ``offsets[t] = sum(batch_sizes[:t])``.
* Step ``t`` owns the packed rows ``offsets[t] : offsets[t] + batch_sizes[t]``;
  row ``offsets[t] + j`` holds step ``t`` of sorted sequence ``j``.

Every packed array (inputs ``X``, outputs ``Y`` and their gradients) is ``(P, ·)``.
The initial states ``h0``/``c0`` and final states ``hn``/``cn`` are ``(B, H)`` in
SORTED order: row ``j`` is sorted sequence ``j``.

Directions
----------
* forward: sequence ``j`` starts from ``h0[j]`` (``c0[j]``) at step 0 and walks up to its
  own last step ``length_j - 1``; ``hn[j]`` is the state after that last step.
* reverse (``reverse=True``): sequence ``j`` starts from ``h0[j]`` at its own last step
  ``length_j - 1`` and walks down to step 0; ``hn[j]`` is the state after step 0.

In both directions the output of a step is stored in the packed row of the input of
that step: ``Y[offsets[t] + j]`` is the ``h`` computed from ``X[offsets[t] + j]``.

Backward
--------
``*_backward(cache, dY, dhn[, dcn])`` returns the gradients of the scalar

    L = sum(dY * Y) + sum(dhn * hn) [+ sum(dcn * cn)]

with respect to every input, as a dict with keys ``"X"``, ``"weight_ih"``,
``"weight_hh"``, ``"bias_ih"``, ``"bias_hh"``, ``"h0"`` and, for the LSTM, ``"c0"``.
It is hand-written backpropagation through time, derived below next to each cell
(no autograd, no finite differences). Any of ``dY``, ``dhn``, ``dcn`` may be ``None``,
meaning zero; ``h0``/``c0`` may be ``None`` in the forward functions, meaning zeros.

dtype: float32 or float64 in, the same dtype out; everything is computed in the dtype
of ``X``.
"""

import numpy as np

__all__ = [
    "pack",
    "unpack",
    "packed_lengths",
    "packed_offsets",
    "sigmoid",
    "random_params",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
    "rnn_forward",
    "rnn_backward",
]

N_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


# ---------------------------------------------------------------------------------------
# Packed layout
# ---------------------------------------------------------------------------------------


def pack(seqs):
    """Pack a ragged list of ``(T_i, F)`` arrays.

    Returns ``(X, batch_sizes, order)``: ``X`` is ``(P, F)``, ``batch_sizes`` is ``(T,)``
    ``np.intp`` and ``order`` is the stable argsort of the lengths, descending, so that
    sorted sequence ``j`` is ``seqs[order[j]]``.
    """
    seqs = [np.asarray(s) for s in seqs]
    if len(seqs) == 0:
        raise ValueError("pack needs at least one sequence")
    for s in seqs:
        if s.ndim != 2:
            raise ValueError(f"every sequence must be 2-D (T_i, F), got shape {s.shape}")
        if s.shape[0] == 0:
            raise ValueError("zero-length sequences cannot be packed")
        if s.shape[1] != seqs[0].shape[1]:
            raise ValueError("all sequences must have the same number of features")
    lengths = np.array([s.shape[0] for s in seqs])
    order = np.argsort(-lengths, kind="stable")
    sorted_seqs = [seqs[k] for k in order]
    T = int(lengths.max())

    batch_sizes = np.array([np.sum(lengths > t) for t in range(T)], dtype=np.intp)
    rows = []
    for t in range(T):
        for j in range(batch_sizes[t]):
            rows.append(sorted_seqs[j][t])
    X = np.array(rows, dtype=np.result_type(*seqs))
    return X, batch_sizes, order


def packed_lengths(batch_sizes):
    """Length of every sorted sequence: ``lengths[j]`` = number of steps ``t`` with ``batch_sizes[t] > j``."""
    batch_sizes = np.asarray(batch_sizes)
    B = int(batch_sizes[0])
    return np.array([int(np.sum(batch_sizes > j)) for j in range(B)], dtype=np.intp)


def packed_offsets(batch_sizes):
    """``offsets[t] = sum(batch_sizes[:t])``: the first packed row of step ``t``."""
    batch_sizes = np.asarray(batch_sizes)
    return np.array([int(np.sum(batch_sizes[:t])) for t in range(len(batch_sizes))], dtype=np.intp)


def unpack(Y, batch_sizes):
    """Inverse of the packing: list of the sorted sequences' ``(T_j, ·)`` arrays (copies)."""
    Y = np.asarray(Y)
    offsets = packed_offsets(batch_sizes)
    lengths = packed_lengths(batch_sizes)
    if Y.shape[0] != int(np.sum(batch_sizes)):
        raise ValueError(f"Y has {Y.shape[0]} rows but batch_sizes sum to {int(np.sum(batch_sizes))}")
    return [np.array([Y[offsets[t] + j] for t in range(lengths[j])]) for j in range(len(lengths))]


def _steps(length, reverse):
    """The steps a sequence of this length visits, in processing order."""
    return list(range(length - 1, -1, -1)) if reverse else list(range(length))


# ---------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------


def sigmoid(a):
    """Logistic function that never overflows: ``exp`` only ever sees ``-|a|``."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def relu(a):
    return np.maximum(a, 0)


def activation_pair(activation):
    """(act, act') for the candidate activation of a cell: act' is written in terms of act's OUTPUT y."""
    if activation == "tanh":
        return np.tanh, lambda y: 1 - y**2
    if activation == "relu":
        return relu, lambda y: (y > 0).astype(y.dtype)
    raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")


# ---------------------------------------------------------------------------------------
# Parameters and input checks
# ---------------------------------------------------------------------------------------


def random_params(cell, F, H, rng, dtype=np.float64):
    """PyTorch's default init: every entry ~ U(-1/sqrt(H), 1/sqrt(H)).

    Draws, in this order, weight_ih (G*H, F), weight_hh (G*H, H), bias_ih, bias_hh.
    """
    G = N_GATES[cell]
    k = 1.0 / np.sqrt(H)
    shapes = {
        "weight_ih": (G * H, F),
        "weight_hh": (G * H, H),
        "bias_ih": (G * H,),
        "bias_hh": (G * H,),
    }
    return {name: rng.uniform(-k, k, size=shape).astype(dtype) for name, shape in shapes.items()}


def _prepare(cell, X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, states):
    """Check shapes and return private copies of everything in the dtype of ``X``.

    Copies, so that the cache never aliases the caller's arrays.
    """
    X = np.array(X)
    dtype = X.dtype
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"X must be float32 or float64, got {dtype}")
    batch_sizes = np.array(batch_sizes)
    if batch_sizes.ndim != 1 or len(batch_sizes) == 0 or not np.issubdtype(batch_sizes.dtype, np.integer):
        raise ValueError("batch_sizes must be a non-empty 1-D integer array")
    if batch_sizes[-1] < 1 or np.any(np.diff(batch_sizes) > 0):
        raise ValueError("batch_sizes must be positive and non-increasing")
    W_ih = np.array(weight_ih, dtype=dtype)
    W_hh = np.array(weight_hh, dtype=dtype)
    b_ih = np.array(bias_ih, dtype=dtype)
    b_hh = np.array(bias_hh, dtype=dtype)
    G = N_GATES[cell]
    H = W_hh.shape[1]
    F = W_ih.shape[1]
    B = int(batch_sizes[0])
    if X.ndim != 2 or X.shape != (int(np.sum(batch_sizes)), F):
        raise ValueError(f"X must be (P, F) = ({int(np.sum(batch_sizes))}, {F}), got {X.shape}")
    if W_ih.shape != (G * H, F) or W_hh.shape != (G * H, H):
        raise ValueError(f"bad weight shapes {W_ih.shape}, {W_hh.shape} for {cell} with H={H}")
    if b_ih.shape != (G * H,) or b_hh.shape != (G * H,):
        raise ValueError(f"bad bias shapes {b_ih.shape}, {b_hh.shape} for {cell} with H={H}")
    out_states = []
    for s in states:
        s = np.zeros((B, H), dtype=dtype) if s is None else np.array(s, dtype=dtype)
        if s.shape != (B, H):
            raise ValueError(f"initial states must be (B, H) = ({B}, {H}), got {s.shape}")
        out_states.append(s)
    return X, batch_sizes, W_ih, W_hh, b_ih, b_hh, out_states


def _zeros_if_none(a, shape, dtype):
    return np.zeros(shape, dtype=dtype) if a is None else np.asarray(a, dtype=dtype).reshape(shape)


# ---------------------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------------------


def lstm_forward(X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, reverse=False, activation="tanh"):
    """Returns ``(Y (P, H), hn (B, H), cn (B, H), cache)``.

    ``activation`` replaces both tanh of the equations (g and the output's tanh(c')), as Keras's LSTM does.
    """
    act, _ = activation_pair(activation)
    X, batch_sizes, W_ih, W_hh, b_ih, b_hh, (h0, c0) = _prepare(
        "lstm", X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, [h0, c0]
    )
    P, H, B = X.shape[0], W_hh.shape[1], int(batch_sizes[0])
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    Y = np.zeros((P, H), dtype=X.dtype)
    hn = np.zeros((B, H), dtype=X.dtype)
    cn = np.zeros((B, H), dtype=X.dtype)
    # What backward needs, stored at the packed row of the step that produced it.
    H_prev = np.zeros((P, H), dtype=X.dtype)  # h entering the step
    C_prev = np.zeros((P, H), dtype=X.dtype)  # c entering the step
    C = np.zeros((P, H), dtype=X.dtype)  # c leaving the step
    gates = np.zeros((P, 4 * H), dtype=X.dtype)  # i, f, g, o after their activations

    for j in range(B):
        h = h0[j].copy()
        c = c0[j].copy()
        for t in _steps(lengths[j], reverse):
            row = offsets[t] + j
            a = W_ih @ X[row] + b_ih + W_hh @ h + b_hh
            a_i, a_f, a_g, a_o = np.split(a, 4)
            i, f, g, o = sigmoid(a_i), sigmoid(a_f), act(a_g), sigmoid(a_o)
            H_prev[row], C_prev[row] = h, c
            c = f * c + i * g
            h = o * act(c)
            gates[row] = np.concatenate([i, f, g, o])
            C[row] = c
            Y[row] = h
        hn[j] = h
        cn[j] = c

    cache = dict(
        cell="lstm", X=X, batch_sizes=batch_sizes, reverse=reverse, activation=activation,
        weight_ih=W_ih, weight_hh=W_hh, H_prev=H_prev, C_prev=C_prev, C=C, gates=gates,
    )
    return Y, hn, cn, cache


def lstm_backward(cache, dY, dhn, dcn):
    """Gradients of ``sum(dY*Y) + sum(dhn*hn) + sum(dcn*cn)``.

    Per step, with ``dh``/``dc`` the gradients w.r.t. the h/c leaving the step::

        dh   += dY[row]                       (h leaving the step is also the output)
        do    = dh * act(c')                    (act = tanh unless activation="relu")
        dc   += dh * o * act'(c')
        di    = dc * g;   df = dc * c;   dg = dc * i
        da    = [di*i*(1-i), df*f*(1-f), dg*act'(g), do*o*(1-o)]   (pre-activations)
        dW_ih += outer(da, x);  dW_hh += outer(da, h);  db_ih += da;  db_hh += da
        dx    = W_ih^T da;   dh(prev) = W_hh^T da;   dc(prev) = dc * f
    """
    X, batch_sizes, reverse = cache["X"], cache["batch_sizes"], cache["reverse"]
    W_ih, W_hh = cache["weight_ih"], cache["weight_hh"]
    act, dact = activation_pair(cache["activation"])
    P, H, B, dtype = X.shape[0], W_hh.shape[1], int(batch_sizes[0]), X.dtype
    dY = _zeros_if_none(dY, (P, H), dtype)
    dhn = _zeros_if_none(dhn, (B, H), dtype)
    dcn = _zeros_if_none(dcn, (B, H), dtype)
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    grads = {
        "X": np.zeros_like(X), "weight_ih": np.zeros_like(W_ih), "weight_hh": np.zeros_like(W_hh),
        "bias_ih": np.zeros(4 * H, dtype), "bias_hh": np.zeros(4 * H, dtype),
        "h0": np.zeros((B, H), dtype), "c0": np.zeros((B, H), dtype),
    }
    for j in range(B):
        dh = dhn[j].copy()
        dc = dcn[j].copy()
        for t in reversed(_steps(lengths[j], reverse)):
            row = offsets[t] + j
            i, f, g, o = np.split(cache["gates"][row], 4)
            act_c = act(cache["C"][row])
            dh = dh + dY[row]
            do = dh * act_c
            dc = dc + dh * o * dact(act_c)
            di = dc * g
            df = dc * cache["C_prev"][row]
            dg = dc * i
            da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * dact(g), do * o * (1 - o)])
            grads["weight_ih"] += np.outer(da, X[row])
            grads["weight_hh"] += np.outer(da, cache["H_prev"][row])
            grads["bias_ih"] += da
            grads["bias_hh"] += da
            grads["X"][row] = W_ih.T @ da
            dh = W_hh.T @ da
            dc = dc * f
        grads["h0"][j] = dh
        grads["c0"][j] = dc
    return grads


# ---------------------------------------------------------------------------------------
# GRU
# ---------------------------------------------------------------------------------------


def gru_forward(X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, h0, reverse=False, activation="tanh"):
    """Returns ``(Y (P, H), hn (B, H), cache)``; ``activation`` replaces the tanh of n, as Keras's GRU does."""
    act, _ = activation_pair(activation)
    X, batch_sizes, W_ih, W_hh, b_ih, b_hh, (h0,) = _prepare(
        "gru", X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, [h0]
    )
    P, H, B = X.shape[0], W_hh.shape[1], int(batch_sizes[0])
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    Y = np.zeros((P, H), dtype=X.dtype)
    hn = np.zeros((B, H), dtype=X.dtype)
    H_prev = np.zeros((P, H), dtype=X.dtype)  # h entering the step
    gates = np.zeros((P, 3 * H), dtype=X.dtype)  # r, z, n after their activations
    hn_part = np.zeros((P, H), dtype=X.dtype)  # W_hn h + b_hn

    for j in range(B):
        h = h0[j].copy()
        for t in _steps(lengths[j], reverse):
            row = offsets[t] + j
            ax_r, ax_z, ax_n = np.split(W_ih @ X[row] + b_ih, 3)
            ah_r, ah_z, ah_n = np.split(W_hh @ h + b_hh, 3)
            r = sigmoid(ax_r + ah_r)
            z = sigmoid(ax_z + ah_z)
            n = act(ax_n + r * ah_n)
            H_prev[row] = h
            h = (1 - z) * n + z * h
            gates[row] = np.concatenate([r, z, n])
            hn_part[row] = ah_n
            Y[row] = h
        hn[j] = h

    cache = dict(
        cell="gru", X=X, batch_sizes=batch_sizes, reverse=reverse, activation=activation,
        weight_ih=W_ih, weight_hh=W_hh, H_prev=H_prev, gates=gates, hn_part=hn_part,
    )
    return Y, hn, cache


def gru_backward(cache, dY, dhn):
    """Gradients of ``sum(dY*Y) + sum(dhn*hn)``.

    Per step, with ``dh`` the gradient w.r.t. the h leaving the step, ``h`` the one
    entering it and ``ah_n = W_hn h + b_hn``::

        dh   += dY[row]
        dn    = dh * (1 - z);   dz = dh * (h - n)
        da_n  = dn * act'(n)                   (pre-activation of n; act = tanh unless "relu")
        dr    = da_n * ah_n
        da_r  = dr * r * (1 - r);   da_z = dz * z * (1 - z)
        dax   = [da_r, da_z, da_n]             (w.r.t. W_ih x + b_ih)
        dah   = [da_r, da_z, da_n * r]         (w.r.t. W_hh h + b_hh)
        dW_ih += outer(dax, x);  db_ih += dax;  dW_hh += outer(dah, h);  db_hh += dah
        dx    = W_ih^T dax;   dh(prev) = dh * z + W_hh^T dah
    """
    X, batch_sizes, reverse = cache["X"], cache["batch_sizes"], cache["reverse"]
    W_ih, W_hh = cache["weight_ih"], cache["weight_hh"]
    P, H, B, dtype = X.shape[0], W_hh.shape[1], int(batch_sizes[0]), X.dtype
    dY = _zeros_if_none(dY, (P, H), dtype)
    dhn = _zeros_if_none(dhn, (B, H), dtype)
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    grads = {
        "X": np.zeros_like(X), "weight_ih": np.zeros_like(W_ih), "weight_hh": np.zeros_like(W_hh),
        "bias_ih": np.zeros(3 * H, dtype), "bias_hh": np.zeros(3 * H, dtype),
        "h0": np.zeros((B, H), dtype),
    }
    for j in range(B):
        dh = dhn[j].copy()
        for t in reversed(_steps(lengths[j], reverse)):
            row = offsets[t] + j
            r, z, n = np.split(cache["gates"][row], 3)
            h_prev = cache["H_prev"][row]
            dh = dh + dY[row]
            dn = dh * (1 - z)
            dz = dh * (h_prev - n)
            da_n = dn * activation_pair(cache["activation"])[1](n)
            dr = da_n * cache["hn_part"][row]
            da_r = dr * r * (1 - r)
            da_z = dz * z * (1 - z)
            dax = np.concatenate([da_r, da_z, da_n])
            dah = np.concatenate([da_r, da_z, da_n * r])
            grads["weight_ih"] += np.outer(dax, X[row])
            grads["weight_hh"] += np.outer(dah, h_prev)
            grads["bias_ih"] += dax
            grads["bias_hh"] += dah
            grads["X"][row] = W_ih.T @ dax
            dh = dh * z + W_hh.T @ dah
        grads["h0"][j] = dh
    return grads


# ---------------------------------------------------------------------------------------
# Vanilla RNN
# ---------------------------------------------------------------------------------------


def rnn_forward(X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, h0, reverse=False, activation="tanh"):
    """Returns ``(Y (P, H), hn (B, H), cache)``; ``activation`` is ``"tanh"`` or ``"relu"``."""
    if activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {activation!r}")
    act = np.tanh if activation == "tanh" else relu
    X, batch_sizes, W_ih, W_hh, b_ih, b_hh, (h0,) = _prepare(
        "rnn", X, batch_sizes, weight_ih, weight_hh, bias_ih, bias_hh, [h0]
    )
    P, H, B = X.shape[0], W_hh.shape[1], int(batch_sizes[0])
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    Y = np.zeros((P, H), dtype=X.dtype)
    hn = np.zeros((B, H), dtype=X.dtype)
    H_prev = np.zeros((P, H), dtype=X.dtype)  # h entering the step
    A = np.zeros((P, H), dtype=X.dtype)  # pre-activation

    for j in range(B):
        h = h0[j].copy()
        for t in _steps(lengths[j], reverse):
            row = offsets[t] + j
            a = W_ih @ X[row] + b_ih + W_hh @ h + b_hh
            H_prev[row] = h
            h = act(a)
            A[row] = a
            Y[row] = h
        hn[j] = h

    cache = dict(
        cell="rnn", activation=activation, X=X, batch_sizes=batch_sizes, reverse=reverse,
        weight_ih=W_ih, weight_hh=W_hh, H_prev=H_prev, A=A, Y=Y,
    )
    return Y, hn, cache


def rnn_backward(cache, dY, dhn):
    """Gradients of ``sum(dY*Y) + sum(dhn*hn)``.

    Per step: ``dh += dY[row]``; ``da = dh * act'(a)`` with ``tanh' = 1 - h'^2`` and
    ``relu' = 1 if a > 0 else 0`` (0 at exactly 0, like PyTorch); then
    ``dW_ih += outer(da, x)``, ``dW_hh += outer(da, h)``, ``db_ih += da``, ``db_hh += da``,
    ``dx = W_ih^T da``, ``dh(prev) = W_hh^T da``.
    """
    X, batch_sizes, reverse = cache["X"], cache["batch_sizes"], cache["reverse"]
    W_ih, W_hh = cache["weight_ih"], cache["weight_hh"]
    P, H, B, dtype = X.shape[0], W_hh.shape[1], int(batch_sizes[0]), X.dtype
    dY = _zeros_if_none(dY, (P, H), dtype)
    dhn = _zeros_if_none(dhn, (B, H), dtype)
    offsets, lengths = packed_offsets(batch_sizes), packed_lengths(batch_sizes)

    grads = {
        "X": np.zeros_like(X), "weight_ih": np.zeros_like(W_ih), "weight_hh": np.zeros_like(W_hh),
        "bias_ih": np.zeros(H, dtype), "bias_hh": np.zeros(H, dtype),
        "h0": np.zeros((B, H), dtype),
    }
    for j in range(B):
        dh = dhn[j].copy()
        for t in reversed(_steps(lengths[j], reverse)):
            row = offsets[t] + j
            dh = dh + dY[row]
            if cache["activation"] == "tanh":
                da = dh * (1 - cache["Y"][row] ** 2)
            else:
                da = dh * (cache["A"][row] > 0)
            grads["weight_ih"] += np.outer(da, X[row])
            grads["weight_hh"] += np.outer(da, cache["H_prev"][row])
            grads["bias_ih"] += da
            grads["bias_hh"] += da
            grads["X"][row] = W_ih.T @ da
            dh = W_hh.T @ da
        grads["h0"][j] = dh
    return grads
