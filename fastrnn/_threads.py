"""When BLAS may use threads.

OpenBLAS splits even small products across its threads, and the per-step products of a recurrent layer are
small: on 2 cores a GRU(64) at batch 32 trains 4x slower with 2 BLAS threads than with 1, the threads spending
the step synchronising. So a product of fewer than `SMALL_STEP` multiply-adds per step runs single-threaded;
larger ones keep the thread count the user set (threadpoolctl, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS).
"""
import contextlib

from threadpoolctl import ThreadpoolController

# Multiply-adds of one recurrent step (rows * gates * H * H) below which threads cost more than they save.
SMALL_STEP = 1 << 22

_blas = None


def step_threads(rows, network):
    """A context in which BLAS runs single-threaded when the per-step products of `network` at `rows` live
    sequences are small, and unchanged otherwise."""
    global _blas
    work = max(rows * g * h * h for g, h in network.step_shapes())
    if work >= SMALL_STEP:
        return contextlib.nullcontext()
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas.limit(limits=1)
