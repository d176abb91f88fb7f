"""Lanes against BLAS's threads on one kernel case, for tuning fastrnn/_threads.py's LANE_WEIGHTS.

    python benchmarks/lanes_vs_blas.py SHAPE CELL DTYPE MODE [ROUNDS] [THREADS]

MODE is `inf` (benchmarks.common.fastrnn_forward) or `train` (fastrnn_train_step). Each round times the same call
with LANE_WEIGHTS at 8 MB and at 1 GB, alternating, and prints the min and median of 3 calls of each after a
warm-up call: the layer runs in lanes under the 1 GB bound when it would run in lanes at all, and under the 8 MB
bound only if its weights' copies fit there. On a shared machine compare the rounds in pairs.
"""
import statistics
import sys
import time

from threadpoolctl import threadpool_limits

from fastrnn import _threads

try:  # imported as benchmarks.lanes_vs_blas (asv discovery)
    from .common import fastrnn_forward, fastrnn_train_step, kernel_case
except ImportError:  # run as a script
    from common import fastrnn_forward, fastrnn_train_step, kernel_case


def main(shape, cell, dtype, mode, rounds=3, threads=2):
    X, bs, layers = kernel_case(shape, cell, dtype)
    run = fastrnn_train_step if mode == "train" else fastrnn_forward

    def timed(bound):
        _threads.LANE_WEIGHTS = bound
        with threadpool_limits(threads, "blas"):
            run(cell, X, bs, layers)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                run(cell, X, bs, layers)
                times.append(time.perf_counter() - start)
        return 1e3 * min(times), 1e3 * statistics.median(times)

    for _ in range(rounds):
        small, large = timed(1 << 23), timed(1 << 30)
        print("%s %s %s %s, %d threads: 8 MB bound min %.1f median %.1f ms | 1 GB bound min %.1f median %.1f ms"
              % (shape, cell, dtype, mode, threads, *small, *large), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 4:
        sys.exit(__doc__)
    main(*args[:4], *(int(a) for a in args[4:6]))
