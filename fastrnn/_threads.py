"""When BLAS may use threads, and who runs the per-step products.

OpenBLAS splits even small products across its threads, and the per-step products of a recurrent layer are
small: on 2 cores a GRU(64) at batch 32 trains 4x slower with 2 BLAS threads than with 1, the threads spending
the step synchronising. So a product of fewer than `SMALL_STEP` multiply-adds per step runs single-threaded;
larger ones keep the thread count the user set (threadpoolctl, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS).

The kernels' own per-step product (src_c/_gemm.h) runs on one thread and beats one-threaded BLAS at every size
measured; several BLAS threads beat it on a large step. `own_product` is that rule. The backward's
whole-sequence products (weight gradients, dX) are large whatever the step: `own_sequence` is theirs.
"""
import contextlib

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
    """The most threads any BLAS library of the process may use now (a threadpool_limits context included)."""
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
    """A context in which BLAS runs single-threaded when the per-step products of `network` at `rows` live
    sequences are small, and unchanged otherwise."""
    work = max(rows * g * h * h for g, h in network.step_shapes())
    if work >= SMALL_STEP:
        return contextlib.nullcontext()
    return _blas_libraries().limit(limits=1)
