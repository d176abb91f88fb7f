"""The compiled kernels: inference and one training step through fastrnn._cells, and the streaming step.

Every DESIGN shape (see common.SHAPES) for each cell and dtype, at 1 and 2 BLAS threads (threadpoolctl). The
"large" shape takes seconds per call (an LSTM in float32 on one core of the 2-core development VM: about 1 s
forward, 3 s forward + backward), so a full run is long; to time a subset set ``FASTRNN_BENCH_SHAPES`` and/or
``FASTRNN_BENCH_THREADS`` (comma-separated), which makes the other combinations skip (asv reports them as
skipped, n/a) without changing the parameter grid, so results stay comparable across commits.
"""
import numpy as np
from threadpoolctl import threadpool_limits

try:
    from fastrnn._stream import Stepper
except ImportError:  # a version from before the compiled streaming step: StepSuite skips
    Stepper = None

from .common import (
    CELLS,
    DTYPES,
    SHAPES,
    STEP_SHAPE,
    Benchmark,
    env_list,
    estimator_layout,
    fastrnn_forward,
    fastrnn_train_step,
    kernel_case,
    make_layers,
)

THREADS = (1, 2)


class _Threads:
    """Limit fastrnn's BLAS (scipy's OpenBLAS, reached through scipy.linalg.cython_blas) to the benchmark's
    thread count between setup and teardown."""

    def _limit(self, threads):
        if str(threads) not in env_list("FASTRNN_BENCH_THREADS", map(str, THREADS)):
            raise NotImplementedError(f"threads={threads} not in FASTRNN_BENCH_THREADS")
        self._limits = threadpool_limits(limits=threads, user_api="blas")

    def teardown(self, *params):
        limits = getattr(self, "_limits", None)
        if limits is not None:
            limits.restore_original_limits()
            self._limits = None


class _KernelCase(_Threads, Benchmark):
    """One stack of recurrent layers over an equal-length packed batch ``(T * B, F)``, ``batch_sizes = [B] * T``."""

    param_names = ["shape", "cell", "dtype", "threads"]
    params = (list(SHAPES), list(CELLS), list(DTYPES), list(THREADS))

    def setup(self, shape, cell, dtype, threads):
        if shape not in env_list("FASTRNN_BENCH_SHAPES", SHAPES):
            raise NotImplementedError(f"shape {shape!r} not in FASTRNN_BENCH_SHAPES")
        self._limit(threads)
        self.X, self.batch_sizes, self.layers = kernel_case(shape, cell, dtype)


class KernelSuite(_KernelCase):
    """``time_forward``: inference (no stash). ``time_forward_backward``: forward in training mode, then backward
    of the sum of the top layer's outputs, with the gradients of every weight and of the input."""

    def time_forward(self, shape, cell, dtype, threads):
        fastrnn_forward(cell, self.X, self.batch_sizes, self.layers)

    def time_forward_backward(self, shape, cell, dtype, threads):
        fastrnn_train_step(cell, self.X, self.batch_sizes, self.layers)


class KernelMemorySuite(_KernelCase):
    """KernelSuite's calls at 1 thread, for the process's peak memory (asv's peakmem: the largest resident set,
    the setup's inputs and weights included): the scratch of a forward pass, which keeps one step's gates
    (src_c/_steps.pxd, step_gates), and of a training step, which keeps the whole stash."""

    params = (list(SHAPES), list(CELLS), list(DTYPES), [1])

    def peakmem_forward(self, shape, cell, dtype, threads):
        fastrnn_forward(cell, self.X, self.batch_sizes, self.layers)

    def peakmem_forward_backward(self, shape, cell, dtype, threads):
        fastrnn_train_step(cell, self.X, self.batch_sizes, self.layers)


class StepSuite(_Threads, Benchmark):
    """Streaming: 100 consecutive steps of one sequence (F = 8, H = 64) through the compiled streaming step
    (``fastrnn._stream.Stepper``, one layer, no head: what ``predict_step`` runs), carrying the state, the way a
    caller feeding one new observation at a time would; the time is for all 100 (a single call is a few
    microseconds, too short to time on its own)."""

    param_names = ["cell", "dtype", "threads"]
    params = (list(CELLS), list(DTYPES), [1])
    n_steps = 100

    def setup(self, cell, dtype, threads):
        self._limit(threads)
        T, B, F, H, _ = STEP_SHAPE
        self.weights = estimator_layout(make_layers(cell, F, H, 1, dtype)[0])
        self.xs = np.random.default_rng(0).standard_normal((self.n_steps, 1, F)).astype(dtype)
        if Stepper is None:
            raise NotImplementedError("fastrnn._stream.Stepper does not exist in this version")
        self.stepper = Stepper(cell, "tanh", [self.weights], [])
        self.h0 = (np.zeros((1, H), dtype=dtype),)
        self.c0 = (np.zeros((1, H), dtype=dtype),) if cell == "lstm" else None

    def time_100_steps(self, cell, dtype, threads):
        h, c = self.h0, self.c0
        for x in self.xs:
            _, h, c = self.stepper.step(x, h, c)


class BidirectionalSuite(_Threads, Benchmark):
    """One bidirectional layer over one long sequence (the "stream" shape: T = 1000, F = 32, H = 128) through the
    estimators' network (``fastrnn._network.Network``, a linear head of one output): ``time_forward`` its
    prediction, ``time_loss_and_grad`` one training step. With one sequence there are no lanes of sequences; at
    2 threads the two directions run at once (``fastrnn._threads.direction_lanes``)."""

    param_names = ["cell", "dtype", "threads"]
    params = (list(CELLS), list(DTYPES), list(THREADS))

    def setup(self, cell, dtype, threads):
        from fastrnn._network import Network
        from fastrnn._sequences import pack

        self._limit(threads)
        T, _, F, H, _ = SHAPES["stream"]
        rng = np.random.default_rng(0)
        self.batch = pack([rng.standard_normal((T, F)).astype(dtype)])
        self.net = Network(cell, F, (H,), 1, "identity", bidirectional=True, dtype=np.dtype(dtype))
        self.net.initialize(rng)
        self.y, self.w = np.ones((1, 1), dtype=dtype), np.ones(1, dtype=dtype)

    def time_forward(self, cell, dtype, threads):
        self.net.forward(self.batch)

    def time_loss_and_grad(self, cell, dtype, threads):
        self.net.loss_and_grad(self.batch, self.y, self.w)
