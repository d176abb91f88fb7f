"""When BLAS may use threads, who runs the per-step products, and when a layer's sequences go to lanes.

OpenBLAS splits even small products across its threads, and the per-step products of a recurrent layer are
small: on 2 cores a GRU(64) at batch 32 trains 4x slower with 2 BLAS threads than with 1, the threads spending
the step synchronising. So a product of fewer than `SMALL_STEP` multiply-adds per step runs single-threaded;
larger ones keep the thread count the user set (threadpoolctl, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS).

The kernels' own per-step product (src_c/_gemm.h) runs on one thread and beats one-threaded BLAS at every size
measured; several BLAS threads beat it on a large step. `own_product` is that rule. The backward's
whole-sequence products (weight gradients, dX) are large whatever the step: `own_sequence` is theirs.

Threads need not meet at every step, though: the sequences of a batch are independent. A layer with several
sequences and enough work runs in `lanes`, each a thread running the single-threaded kernel on its share of
the sequences, BLAS on one thread; they meet once per call (`run_lanes`).
"""
import contextlib
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import ThreadpoolController

# Multiply-adds of one recurrent step (rows * gates * H * H) below which threads cost more than they save.
SMALL_STEP = 1 << 22

_blas = None


def _blas_libraries():
    global _blas
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas


def blas_threads():
    """The most threads any BLAS library of the process may use now (a threadpool_limits context included); 1
    inside `one_blas_thread`, whatever the libraries say."""
    if _one_blas.get():
        return 1
    return max((lib.num_threads for lib in _blas_libraries().lib_controllers), default=1)


def own_product(rows, gates, hidden):
    """Whether a layer's per-step products (rows live sequences, (rows, hidden) @ (hidden, gates * hidden)) run on
    the kernels' own product rather than BLAS's: below SMALL_STEP multiply-adds, or when BLAS has one thread."""
    return rows * gates * hidden * hidden < SMALL_STEP or blas_threads() == 1


# Elements of a layer's weight gradient [dW_ih, dW_hh, db] (gates * H by F + H + 1) up to which the own product
# beats one-threaded BLAS on the backward's whole-sequence products: 2^17 is 512 KB of float32, within the L2
# cache. A long LSTM's (512 by 145) ran 8-20% faster; the large shape's (4096 by 1537) 8-27% slower, and a
# medium LSTM's in float64 (1024 by 321) 5% slower, where BLAS's copies pay for themselves.
SMALL_GRADIENT = 1 << 17


def own_sequence(gates, hidden, features):
    """Whether a layer's whole-sequence backward products (the weight gradients, and dX = da @ W_ih) run on the
    kernels' own product: for a small weight gradient when BLAS has one thread (its threads pay on these)."""
    return gates * hidden * (features + hidden + 1) <= SMALL_GRADIENT and blas_threads() == 1


def step_threads(rows, network):
    """A context for an estimator's fit or predict: BLAS single-threaded when the per-step products of `network`
    at `rows` live sequences are small, and unchanged otherwise. Its threads then go to lanes (`lanes`), which
    take them from this context."""
    work = max(rows * g * h * h for g, h in network.step_shapes())
    if work >= SMALL_STEP:
        return contextlib.nullcontext()
    return _lane_context(blas_threads())


@contextlib.contextmanager
def _lane_context(threads):
    token = _lane_threads.set(threads)
    try:
        with one_blas_thread():
            yield
    finally:
        _lane_threads.reset(token)


# A layer's products (P * gates * H * (F + H) multiply-adds, forward) that each lane must have: a lane costs a
# hand-over to a worker thread and copies of its rows (about 0.15 ms in all), and a layer's whole-sequence products
# (weight gradients, dX) run on BLAS's threads without lanes. At 2 threads a small LSTM float32 (2^25.8 in all) ran
# 1.2-1.4x faster in 2 lanes; the 3-layer GRU of "tiny" in float32 (2^23.6 and 2^24.5 a layer) trained no faster,
# and a small RNN float32 (2^23.8) ran 0.8x as fast.
LANE_WORK = 1 << 24
# Each lane lays out the weights for its own product, and the lanes' copies share the L3 cache and the memory bus.
# At 2 threads, in 2 lanes against BLAS's 2 threads, the large shape ran 7-25% faster as an LSTM in float32 (24 MB
# of weights a lane), 12-16% as a GRU in float32 (18 MB), 7-10% as an RNN in float64 (12 MB, inference), and as
# fast (within 5%, either way) as an LSTM or GRU in float64 (48 MB, 36 MB), where BLAS keeps one copy; a medium
# LSTM in float64 (2.6 MB) ran 1.46x as fast. A bidirectional LSTM's one sequence (H 512, F 256, float64, 12 MB a
# direction) ran its directions at once (direction_lanes) 1.8x as fast as one after the other. (Before the own
# product ran its whole k loop per block, 2377ec2, 24 MB a lane ran 0.97x as fast as BLAS's threads, and the
# bound was 8 MB.)
LANE_WEIGHTS = 1 << 26

# Threads for lanes set by `step_threads`, which runs BLAS on one.
_lane_threads = contextvars.ContextVar("fastrnn_lane_threads", default=0)
# Inside one_blas_thread (in this thread).
_one_blas = contextvars.ContextVar("fastrnn_one_blas", default=False)
_pool, _pool_workers = None, 0
_pool_lock = threading.Lock()


def _forget_pool():
    # A forked child has none of its parent's threads, but a copy of the pool that counts its idle worker and
    # would queue work for it forever: the child starts a pool of its own.
    global _pool, _pool_workers, _pool_lock
    _pool, _pool_workers, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def lanes(rows, packed_rows, gates, hidden, features, itemsize):
    """How many lanes a layer of `rows` sequences runs in: each a thread running the single-threaded kernel on
    every n-th sequence (fastrnn._cells.Split), with BLAS on one thread. 1: no lanes, BLAS's threads as they are
    set (a single sequence or thread, too little work a lane, or weights too large for a copy a lane).

    A step depends on the one before, so threads that share a step's product must meet at every step, as BLAS's
    do; the sequences of a batch are independent, so lanes meet once per layer (a medium LSTM float32 inference
    at 2 threads: 31.8 ms on BLAS's threads, 25.4 ms in 2 lanes)."""
    work = packed_rows * gates * hidden * (features + hidden)
    most = min(rows, work // LANE_WORK, LANE_WEIGHTS // (gates * hidden * (features + hidden) * itemsize))
    if most < 2:
        return 1
    return min(most, _lane_threads.get() or blas_threads())


def direction_lanes(directions, rows, packed_rows, gates, hidden, features, itemsize):
    """2 when the two directions of a bidirectional layer run at once, each on a thread with BLAS on one (their
    steps are independent): when BLAS may use threads and the layer's sequences get no lanes (`lanes`: a single
    sequence, or too little work for several lanes a direction), but a direction has LANE_WORK multiply-adds and
    both directions' weights fit in LANE_WEIGHTS. 1 otherwise, and for one direction."""
    if directions < 2 or lanes(rows, packed_rows, gates, hidden, features, itemsize) > 1:
        return 1
    weights = gates * hidden * (features + hidden)
    if packed_rows * weights < LANE_WORK or 2 * weights * itemsize > LANE_WEIGHTS:
        return 1
    return 2 if (_lane_threads.get() or blas_threads()) >= 2 else 1


class one_blas_thread:
    """A context in which BLAS runs single-threaded (the lanes are the threads), and runs as before after it.

    The libraries' own setters, not threadpoolctl's `limit`: that gathers every library's `info` (version,
    architecture, paths) to restore it, 17 us an entry and exit where the setters take 6, around every `predict`
    of a few sequences (about 300 us for a small LSTM's one sequence).

    OpenBLAS (0.3.30, pthreads) ignores a thread count set from any thread but the main one once the main thread
    has set one, so in a fit or predict called from another thread BLAS keeps its threads. `blas_threads` answers
    1 inside the context all the same (`_one_blas`, per thread, and in the lanes it starts), so that the kernels
    choose the same products (own_product, own_sequence) in any thread: they gave other bits (2e-16 apart) when
    called from a thread pool. What they leave to BLAS still runs on its threads there."""

    def __enter__(self):
        self._token = _one_blas.set(True)
        self._restore = []
        for lib in _blas_libraries().lib_controllers:
            n = lib.get_num_threads()
            if n is not None and n != 1:
                lib.set_num_threads(1)
                self._restore.append((lib, n))
        return self

    def __exit__(self, *exc):
        for lib, n in self._restore:
            lib.set_num_threads(n)
        _one_blas.reset(self._token)


def run_lanes(n, lane):
    """[lane(0), ..., lane(n - 1)], lane 0 on the calling thread and the others on worker threads; the first
    exception raised, once every lane has finished (a lane writes to arrays the caller may reuse)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool_workers < n - 1:
            _pool, _pool_workers = ThreadPoolExecutor(n - 1, thread_name_prefix="fastrnn-lane"), n - 1
        pool = _pool
    # Each lane in a copy of the caller's context: one_blas_thread's and step_threads's context variables hold in
    # the workers too.
    futures = [pool.submit(contextvars.copy_context().run, lane, k) for k in range(1, n)]
    try:
        first = lane(0)
    finally:
        wait(futures)
    return [first] + [f.result() for f in futures]
