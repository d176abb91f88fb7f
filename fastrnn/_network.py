"""The network the estimators train: stacked (bi)directional recurrent layers -> pooling -> dense head -> loss.

All parameters live in one flat vector `params` (and their gradients in `grad`, same layout), so an optimizer
updates one array; `views` names the pieces like a PyTorch ``state_dict`` (``weight_ih_l0``, ...,
``bias_hh_l1_reverse``) for the recurrent layers and ``coef_i`` / ``intercept_i`` (MLP's shapes, (fan_in,
fan_out)) for the dense layers.

Batches are `PackedBatch`es; everything inside runs in their sorted order (longest sequence first), and
`predict` returns rows in the original order. With pooling="steps" (per-step outputs: sequence tagging and
sequence-to-sequence) the head maps every packed row, and targets, weights and outputs are packed rows too.
Nothing here knows about estimators.
"""
import math
import os

import numpy as np
from scipy.special import expit

from . import _cells
from ._sequences import row_sequence, row_step, sequence_order
from ._stream import Stepper
from ._threads import direction_lanes, one_blas_thread, run_lanes
from ._workspace import aligned_zeros

OUT_ACTIVATIONS = ("identity", "logistic", "softmax")
POOLINGS = ("last", "mean", "max", "steps")


def _softmax(logits):
    """Softmax over each row of logits, and its log, from one exponential. scipy.special's softmax and log_softmax
    compute the same, each on its own, behind an array-API dispatch that cost a small model's training step 45
    us a minibatch (32 rows of 3 logits) where this takes 12."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    return e / total, z - np.log(total)


def _glorot(rng, shape, fan_in, fan_out, factor=6.0):
    bound = np.sqrt(factor / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def _orthogonal(rng, n):
    # QR of a Gaussian matrix, signs fixed by R's diagonal so the draw is uniform over orthogonal matrices.
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _physical_memory():
    """Bytes of physical memory, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(n_params, dtype):
    """A network whose parameters and gradients (and mask of penalized weights) alone exceed the machine's memory
    is refused before it is allocated: numpy would raise a MemoryError for the largest, but one that fits in
    address space but not in memory gets the process killed by the OS as training touches it."""
    need, memory = n_params * (2 * dtype.itemsize + 1), _physical_memory()
    if memory is not None and need > memory:
        raise ValueError(f"This network has {n_params:,} parameters, whose weights and gradients alone need "
                         f"{need / 2**30:,.1f} GiB, more than this machine's {memory / 2**30:,.1f} GiB of memory; "
                         "make hidden_layer_sizes or dense_layer_sizes smaller.")


class Network:
    """A recurrent network with a flat parameter vector.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    n_features : int, F.
    hidden_sizes : tuple of int, one per stacked recurrent layer.
    n_outputs : int, width of the output layer.
    out_activation : {"identity", "logistic", "softmax"}; the loss is squared error, binary or multiclass log-loss.
    activation : {"tanh", "relu"}, the cells' candidate activation (as Keras's `activation`).
    bidirectional : bool.
    dropout : float in [0, 1), applied to the outputs of every recurrent layer but the last when training.
    pooling : {"last", "mean", "max", "steps"}, how a sequence becomes one vector; "steps" keeps one per step.
    dense_sizes : tuple of int, hidden layers (relu) of the head.
    dtype : float32 or float64, the dtype of every parameter and computation.
    """

    def __init__(self, cell, n_features, hidden_sizes, n_outputs, out_activation, activation="tanh",
                 bidirectional=False, dropout=0.0, pooling="last", dense_sizes=(), dtype=np.float64):
        self._config = dict(cell=cell, n_features=int(n_features), hidden_sizes=tuple(int(h) for h in hidden_sizes),
                            n_outputs=int(n_outputs), out_activation=out_activation, activation=activation,
                            bidirectional=bool(bidirectional), dropout=float(dropout), pooling=pooling,
                            dense_sizes=tuple(int(d) for d in dense_sizes), dtype=np.dtype(dtype).name)
        self._build()

    def _build(self, params=None):
        """Lay out the flat parameter vector and its named views (zeros, or `params` when given)."""
        cfg = self._config
        self.cell = cfg["cell"]
        self.activation = cfg["activation"]
        self.hidden_sizes = cfg["hidden_sizes"]
        self.n_dirs = 2 if cfg["bidirectional"] else 1
        self.dropout = cfg["dropout"]
        self.pooling = cfg["pooling"]
        self.out_activation = cfg["out_activation"]
        self.dtype = np.dtype(cfg["dtype"])
        G = _cells.GATES[self.cell]

        shapes = []
        self.layers = []  # layers[l][d] = names of (weight_ih, weight_hh, bias_ih, bias_hh)
        F = cfg["n_features"]
        for layer, H in enumerate(self.hidden_sizes):
            dirs = []
            for d in range(self.n_dirs):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                names = tuple(n + suffix for n in _cells.WEIGHT_NAMES)
                shapes += zip(names, [(G * H, F), (G * H, H), (G * H,), (G * H,)])
                dirs.append(names)
            self.layers.append(dirs)
            F = self.n_dirs * H
        self.dense = []  # (coef name, intercept name)
        for i, width in enumerate((*cfg["dense_sizes"], cfg["n_outputs"])):
            shapes += [(f"coef_{i}", (F, width)), (f"intercept_{i}", (width,))]
            self.dense.append((f"coef_{i}", f"intercept_{i}"))
            F = width

        self.stepper = None  # the compiled streaming step, made by make_stepper when first needed
        sizes = [math.prod(s) for _, s in shapes]  # Python ints: no int64 overflow at absurd sizes
        _check_memory(sum(sizes), self.dtype)
        # On a 64-byte boundary: the streaming step reads the weights where they are, in 32-byte vectors (_gemm.h,
        # fr_dots), and numpy's large arrays start 16 bytes past a page, where a float64 weight_hh of (256, 64) made
        # the step's products 20-30% slower than on the boundary.
        self.params = aligned_zeros(sum(sizes), self.dtype)
        if params is not None:
            self.params[:] = params
        self.grad = np.zeros_like(self.params)
        self.views, self.grad_views = {}, {}
        # The L2 penalty applies to weight matrices, not biases (as MLP).
        self.penalized = np.zeros(self.params.shape, dtype=bool)
        start = 0
        for (name, shape), size in zip(shapes, sizes):
            self.views[name] = self.params[start:start + size].reshape(shape)
            self.grad_views[name] = self.grad[start:start + size].reshape(shape)
            self.penalized[start:start + size] = name.startswith(("weight_", "coef_"))
            start += size

    def step_shapes(self):
        """(gates, H) of every recurrent layer: a step's recurrent product is (rows, H) @ (H, gates * H)."""
        return [(_cells.GATES[self.cell], h) for h in self.hidden_sizes]

    def make_stepper(self):
        """The compiled streaming step (one step of every layer and the head, fastrnn._stream.Stepper), for a
        unidirectional network; it reads the weights through the views, so in-place updates reach it."""
        layers = [tuple(self.views[name] for name in dirs[0]) for dirs in self.layers]
        dense = [(self.views[coef], self.views[intercept]) for coef, intercept in self.dense]
        return Stepper(self.cell, self.activation, layers, dense, self.out_activation)

    def __getstate__(self):
        # Views pickle as independent copies, so only the configuration and the flat vector are kept.
        return {"config": self._config, "params": self.params}

    def __setstate__(self, state):
        self._config = state["config"]
        self._build(state["params"])

    def initialize(self, rng):
        """Glorot-uniform input weights, orthogonal recurrent blocks (one per gate), zero biases, LSTM forget-gate
        bias 1 (in bias_ih only), Glorot-uniform dense layers as MLP."""
        G = _cells.GATES[self.cell]
        for layer, dirs in enumerate(self.layers):
            H = self.hidden_sizes[layer]
            for w_ih, w_hh, b_ih, b_hh in dirs:
                F = self.views[w_ih].shape[1]
                self.views[w_ih][:] = _glorot(rng, (G * H, F), F, G * H)
                for g in range(G):
                    self.views[w_hh][g * H:(g + 1) * H] = _orthogonal(rng, H)
                self.views[b_ih][:] = 0
                self.views[b_hh][:] = 0
                if self.cell == "lstm":
                    self.views[b_ih][H:2 * H] = 1
        for i, (coef, intercept) in enumerate(self.dense):
            fan_in, fan_out = self.views[coef].shape
            last = i == len(self.dense) - 1
            factor = 2.0 if last and self.out_activation == "logistic" else 6.0
            self.views[coef][:] = _glorot(rng, (fan_in, fan_out), fan_in, fan_out, factor)
            self.views[intercept][:] = _glorot(rng, (fan_out,), fan_in, fan_out, factor)

    # ---- forward ----

    def _recurrent_forward(self, batch, training, rng):
        """Run the recurrent stack; returns the top layer's packed output, its final states, and the caches."""
        # The layers call the kernels' wrappers past their checks (_cells.run_forward): a batch made by
        # fastrnn._sequences, the views of `params` and the layers' outputs are as they check.
        x = np.ascontiguousarray(batch.data)
        B = batch.n_sequences
        caches, masks = [], []
        for layer, dirs in enumerate(self.layers):

            def direction(d):
                weights = tuple(self.views[n] for n in dirs[d])
                H = self.hidden_sizes[layer]
                h = np.zeros((B, H), dtype=self.dtype)
                c = np.zeros((B, H), dtype=self.dtype) if self.cell == "lstm" else None
                Y, hn, _, cache = _cells.run_forward(self.cell, self.activation, x, batch.batch_sizes, weights, h, c,
                                                     bool(d), training)
                return Y, hn, cache

            outputs, finals, layer_caches = zip(*self._directions(batch, layer, x.shape[1], direction))
            finals = list(finals)
            caches.append(list(layer_caches))
            x = outputs[0] if self.n_dirs == 1 else np.concatenate(outputs, axis=1)
            if training and self.dropout > 0 and layer < len(self.layers) - 1:
                mask = (rng.random(x.shape) >= self.dropout).astype(self.dtype) / (1 - self.dropout)
                x = x * mask
                masks.append(mask)
            else:
                masks.append(None)
        return x, finals, caches, masks

    def _directions(self, batch, layer, features, direction):
        """[direction(d) for each direction d of a layer], a bidirectional layer's two at once on two threads when
        fastrnn._threads.direction_lanes says so."""
        n = direction_lanes(self.n_dirs, batch.n_sequences, batch.data.shape[0], _cells.GATES[self.cell],
                            self.hidden_sizes[layer], features, self.dtype.itemsize)
        if n == 1:
            return [direction(d) for d in range(self.n_dirs)]
        with one_blas_thread():
            return run_lanes(n, direction)

    def _pool(self, batch, Y, finals):
        """(P, D*H) top outputs and final states -> (B, D*H) one vector per sorted sequence, plus pool state."""
        if self.pooling == "steps":
            return Y, None
        if self.pooling == "last":
            return np.concatenate(finals, axis=1) if self.n_dirs > 1 else finals[0], None
        if self.pooling == "mean":
            order = sequence_order(batch)
            lengths = batch.sorted_lengths
            starts = np.cumsum(lengths) - lengths
            return np.add.reduceat(Y[order], starts, axis=0) / lengths[:, None].astype(self.dtype), None
        padded = np.full((batch.n_sequences, batch.max_length, Y.shape[1]), -np.inf, dtype=self.dtype)
        padded[row_sequence(batch), row_step(batch)] = Y
        arg = padded.argmax(axis=1)
        return np.take_along_axis(padded, arg[:, None, :], axis=1)[:, 0], arg

    def _unpool(self, batch, dZ, arg):
        """Gradient of `_pool`: (B, D*H) -> (P, D*H) dY of the top layer and per-direction final-state grads."""
        P, width = batch.data.shape[0], dZ.shape[1]
        if self.pooling == "steps":
            return dZ, [None] * self.n_dirs
        if self.pooling == "last":
            H = width // self.n_dirs
            return None, [dZ[:, d * H:(d + 1) * H] for d in range(self.n_dirs)]
        if self.pooling == "mean":
            seq = row_sequence(batch)
            return dZ[seq] / batch.sorted_lengths[seq, None].astype(self.dtype), [None] * self.n_dirs
        dY = np.zeros((P, width), dtype=self.dtype)
        rows = batch.offsets[arg] + np.arange(batch.n_sequences)[:, None]
        dY[rows, np.arange(width)[None, :]] = dZ
        return dY, [None] * self.n_dirs

    def _dense_forward(self, Z):
        activations = [Z]
        for i, (coef, intercept) in enumerate(self.dense):
            Z = Z @ self.views[coef] + self.views[intercept]
            if i < len(self.dense) - 1:
                Z = np.maximum(Z, 0)
            activations.append(Z)
        return activations

    def forward(self, batch, training=False, rng=None):
        """Output-layer pre-activations (B, n_outputs) in sorted order ((P, n_outputs) packed rows with
        pooling="steps"), and what `backward` needs."""
        Y, finals, caches, masks = self._recurrent_forward(batch, training, rng)
        pooled, arg = self._pool(batch, Y, finals)
        activations = self._dense_forward(pooled)
        return activations[-1], (caches, masks, arg, activations)

    def predict(self, batch):
        """Output (after the output activation) in the batch's ORIGINAL order; packed rows with pooling="steps"
        (`fastrnn._sequences.unpack` or `pad` give them per sequence)."""
        logits, _ = self.forward(batch)
        out = self.activate(logits)
        return out if self.pooling == "steps" else out[batch.unsorted_indices]

    def activate(self, logits):
        if self.out_activation == "softmax":
            return _softmax(logits)[0]
        if self.out_activation == "logistic":
            return expit(logits)
        return logits

    # ---- loss and backward ----

    def loss(self, logits, y, w):
        """Weighted mean loss and its gradient with respect to the logits.

        y is (B, n_outputs) in sorted order (packed rows (P, n_outputs) with pooling="steps", so the mean runs over
        real steps only): one-hot for softmax, 0/1 for logistic, targets for identity; w (B,) (or (P,)) sample
        weights. Squared error is halved and averaged over outputs, as MLP's.
        """
        w = (w / w.sum())[:, None]
        if self.out_activation == "softmax":
            prob, log_prob = _softmax(logits)
            return -(w * y * log_prob).sum(), w * (prob - y)
        if self.out_activation == "logistic":
            # log(1 + exp(-|z|)) form: no overflow for any logit.
            per = np.logaddexp(0, logits) - y * logits
            return np.sum(w * per), w * (expit(logits) - y)
        n_out = logits.shape[1]
        diff = logits - y
        return 0.5 * np.sum(w * diff ** 2) / n_out, w * diff / n_out

    def loss_and_grad(self, batch, y, w, alpha=0.0, rng=None):
        """Forward and backward on one batch; fills `self.grad` and returns the loss (penalty included).

        y (B, n_outputs) and w (B,) are in the batch's sorted order; alpha is the L2 penalty, scaled by the
        batch's total sample weight as MLP scales it by the batch size.
        """
        logits, (caches, masks, arg, activations) = self.forward(batch, training=True, rng=rng)
        loss, delta = self.loss(logits, y, w)
        self.grad[:] = 0
        scale = alpha / w.sum()
        if scale:
            penalized = self.params[self.penalized]
            loss += 0.5 * scale * np.dot(penalized, penalized)

        for i in range(len(self.dense) - 1, -1, -1):
            coef, intercept = self.dense[i]
            self.grad_views[coef][:] = activations[i].T @ delta
            self.grad_views[intercept][:] = delta.sum(axis=0)
            delta = delta @ self.views[coef].T
            if i > 0:
                delta *= activations[i] > 0
        dY, dfinals = self._unpool(batch, delta.astype(self.dtype, copy=False), arg)

        for layer in range(len(self.layers) - 1, -1, -1):
            H = self.hidden_sizes[layer]

            def direction(d):
                dY_d = (np.zeros((batch.data.shape[0], H), dtype=self.dtype) if dY is None
                        else np.ascontiguousarray(dY[:, d * H:(d + 1) * H]))
                # a copy: the kernel overwrites dh with dL/dh0
                dh = (np.zeros((batch.n_sequences, H), dtype=self.dtype) if dfinals[d] is None
                      else np.array(dfinals[d], dtype=self.dtype, order="C"))
                dc = np.zeros_like(dh) if self.cell == "lstm" else None
                grads = tuple(self.grad_views[n] for n in self.layers[layer][d])
                return _cells.run_backward(caches[layer][d], dY_d, dh, dc, grads, layer > 0)[0]

            dXs = self._directions(batch, layer, caches[layer][0].X.shape[1], direction)
            dX = dXs[0] if self.n_dirs == 1 or layer == 0 else dXs[0] + dXs[1]
            if layer > 0:
                dY = dX if masks[layer - 1] is None else dX * masks[layer - 1]
                dfinals = [None] * self.n_dirs

        if scale:
            self.grad[self.penalized] += scale * penalized
        return float(loss)
