"""Shared pieces of the asv suite and of compare_torch.py: the DESIGN shapes, inputs, weights, FLOP counts,
the fastrnn calls being timed, and the asv base class.

Nothing here is a benchmark: asv collects only names starting with ``time_``, ``peakmem_``, ``track_``, ``mem_`` or
``timeraw_``, and none here does.

The shapes (DESIGN.md section 5): batch B, steps T, input features F, hidden units H, stacked layers L. Every
sequence of a batch has the same length, so the packed layout is ``(T * B, F)`` with ``batch_sizes = [B] * T``,
which is exactly the memory of a PyTorch sequence-first ``(T, B, F)`` tensor.
"""
import functools
import os
import timeit
from collections import namedtuple

import numpy as np

# Imported here, not in the timed functions: an import inside the first timed call would be timed (asv --quick
# times one call).
from fastrnn import _cells

Shape = namedtuple("Shape", "T B F H L")

SHAPES = {
    "tiny": Shape(50, 32, 1, 50, 3),  # stacked small forecaster
    "small": Shape(100, 32, 8, 64, 1),  # typical sensor classifier
    "medium": Shape(100, 64, 64, 256, 1),  # mid-size
    "large": Shape(50, 128, 512, 1024, 1),  # GEMM-bound
    "stream": Shape(1000, 1, 32, 128, 1),  # one long sequence
    "long": Shape(2000, 16, 16, 128, 1),  # long sequences
    "probe": Shape(1000, 1, 1, 8, 1),  # pure per-step overhead
}

# One streaming step (T = 1) of one sequence, against torch.nn.LSTMCell / GRUCell / RNNCell.
STEP_SHAPE = Shape(1, 1, 8, 64, 1)

CELLS = ("lstm", "gru", "rnn")
DTYPES = ("float32", "float64")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def env_list(name, default):
    """A comma-separated environment variable as a tuple, or `default` when unset or empty."""
    value = os.environ.get(name, "").strip()
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else tuple(default)


# ---- inputs and weights ----


def make_layers(cell, F, H, L, dtype, seed=0):
    """Weights of L stacked layers, ``[(weight_ih, weight_hh, bias_ih, bias_hh), ...]``, PyTorch's default init
    U(-1/sqrt(H), 1/sqrt(H)) and PyTorch's gate order, so the same arrays load into ``torch.nn.LSTM/GRU/RNN``."""
    rng = np.random.default_rng(seed)
    G, k = GATES[cell], 1.0 / np.sqrt(H)
    layers = []
    for layer in range(L):
        F_l = F if layer == 0 else H
        shapes = [(G * H, F_l), (G * H, H), (G * H,), (G * H,)]
        layers.append(tuple(rng.uniform(-k, k, s).astype(dtype) for s in shapes))
    return layers


def estimator_layout(arrays):
    """Copies of `arrays` laid out as an estimator keeps its parameters: one after the other in one flat vector
    that starts on a 64-byte boundary (fastrnn/_network.py). The streaming step reads the weights in place, and
    how they sit against the cache lines changes its speed (stand-alone arrays start wherever numpy puts them,
    which differs from process to process)."""
    dtype = arrays[0].dtype
    sizes = [a.size for a in arrays]
    whole = np.zeros(sum(sizes) + 64 // dtype.itemsize, dtype)
    start = (-whole.ctypes.data % 64) // dtype.itemsize
    out = []
    for a, size in zip(arrays, sizes):
        view = whole[start:start + size].reshape(a.shape)
        view[...] = a
        out.append(view)
        start += size
    return tuple(out)


def make_packed_input(T, B, F, dtype, seed=1):
    """Equal-length packed batch: X ``(T * B, F)`` (row ``t * B + b`` is step t of sequence b) and
    ``batch_sizes = [B] * T``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T * B, F)).astype(dtype)
    return X, np.full(T, B, dtype=np.intp)


@functools.lru_cache(maxsize=4)
def kernel_case(shape_name, cell, dtype):
    """(X, batch_sizes, layers) of a DESIGN shape, built once per process (asv re-runs setup before every
    sample; the arrays are only read, never written, by the timed calls)."""
    s = SHAPES[shape_name] if shape_name in SHAPES else STEP_SHAPE
    X, bs = make_packed_input(s.T, s.B, s.F, dtype)
    return X, bs, make_layers(cell, s.F, s.H, s.L, dtype)


# ---- the fastrnn work being timed ----


def fastrnn_forward(cell, X, batch_sizes, layers):
    """Inference through stacked layers with the kernels of fastrnn._cells; returns the top layer's output."""
    x = X
    for w in layers:
        x = _cells.forward(cell, x, batch_sizes, w)[0]
    return x


def fastrnn_train_step(cell, X, batch_sizes, layers):
    """One training step of the stacked layers: forward, then backward of ``sum(outputs)``, giving the gradients
    with respect to every weight and to the input X (as torch autograd with ``requires_grad`` on X does).
    Returns ``(dX, [grads of layer 0, ...])``."""
    caches, x = [], X
    for w in layers:
        Y, _, _, cache = _cells.forward(cell, x, batch_sizes, w, training=True)
        caches.append(cache)
        x = Y
    dY = np.ones_like(x)
    grads = [None] * len(layers)
    for layer in range(len(layers) - 1, -1, -1):
        dY, _, _, grads[layer] = _cells.backward(caches[layer], dY, need_dX=True)
    return dY, grads


def gemm_flops(cell, shape, training=False):
    """GEMM floating-point operations of a shape: ``2 * T * B * G * H * (F_l + H)`` per layer forward (the input
    and recurrent products), 3x that for a training step (forward, and the two products of backward)."""
    T, B, F, H, L = shape
    G = GATES[cell]
    flops = sum(2.0 * T * B * G * H * ((F if layer == 0 else H) + H) for layer in range(L))
    return 3.0 * flops if training else flops


# ---- a fixed synthetic sequence-classification task for the estimator benchmarks ----


@functools.lru_cache(maxsize=4)
def sequence_task(n_samples=600, T=40, F=3, seed=0):
    """Equal-length (N, T, F) float64 sequences and binary labels that depend on the order of the steps: the
    label is whether the running sum of feature 0 ever exceeds 3. Returns X_train, X_test, y_train, y_test (two
    thirds / one third)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, T, F))
    y = (X[:, :, 0].cumsum(axis=1).max(axis=1) > 3).astype(np.int64)
    n_train = 2 * n_samples // 3
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


# ---- asv ----


class Benchmark:
    """Base of the asv benchmark classes (scikit-learn's asv_benchmarks/benchmarks/common.py idea).

    Wall time; asv's default two rounds (``rounds = 2``: each benchmark runs in two processes, the rounds of all
    benchmarks interleaved, which evens out a shared machine's load over the run); a generous timeout because the
    "large" shape takes seconds per call. Subclasses set ``params`` / ``param_names``.
    """

    timer = timeit.default_timer
    rounds = 2
    timeout = 600
    warmup_time = 0.1
