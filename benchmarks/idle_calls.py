"""Calls that come apart: fastrnn against torch.nn when each call follows a pause, as in a service that answers a
request now and then.

    python benchmarks/idle_calls.py                                     # small LSTM float32, 1 and 2 threads
    python benchmarks/idle_calls.py --shape tiny --cell gru --dtype float64 --pauses 0,0.01,0.1,0.5

compare_torch.py times calls back to back, after a warm-up (and, at more than one thread, after untimed calls
that follow each pause), so that it measures each side's steady state. Here every timed call follows a pause of
its own, during which both cores idle: threads that handed work to each other sleep, and the time to wake them
and to fill the caches again is part of the call. The sides take turns in blocks of calls (fastrnn, torch,
torch, fastrnn, ...), each block's first call untimed: it follows the other side's block, whose threads may still
be spinning on the second core. The weights and input are those of compare_torch.py's inference rows, and so is
the work (common.fastrnn_forward against torch.nn.LSTM/GRU/RNN under no_grad). A pause of 0 is back-to-back
calls. Printed: the median time of a call for each side, and their ratio torch/fastrnn.

Needs torch (``python -m pip install -e ".[torch]"``); without it, it says so and exits.
"""
import argparse
import math
import statistics
import sys
import time

from threadpoolctl import threadpool_limits

try:
    from .common import CELLS, DTYPES, SHAPES
    from .compare_torch import _csv, sequence_case
except ImportError:  # run as a script
    from common import CELLS, DTYPES, SHAPES
    from compare_torch import _csv, sequence_case


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="small", choices=sorted(SHAPES))
    p.add_argument("--cell", default="lstm", choices=CELLS)
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument("--threads", type=_csv("--threads", range(1, 1025), int), default=(1, 2),
                   help="comma-separated thread counts (default 1,2)")
    p.add_argument("--pauses", default="0,0.002,0.02,0.2", help="seconds before each call (default 0,0.002,0.02,0.2)")
    p.add_argument("--calls", type=int, default=30, help="timed calls a side for each pause (default 30)")
    p.add_argument("--block", type=int, default=5, help="timed calls in a side's block (default 5)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls a side at each thread count (default 20)")
    opts = p.parse_args(argv)
    opts.pauses = [float(s) for s in opts.pauses.split(",")]
    if min(opts.pauses) < 0 or min(opts.calls, opts.block) < 1 or opts.warmup < 0:
        p.error("pauses must be >= 0, calls and block >= 1, warmup >= 0")
    return opts


def timed_after(fn, pause):
    time.sleep(pause)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    opts = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("idle_calls.py needs torch: python -m pip install -e '.[torch]' (the pinned CPU build)")
        return 0
    fast, slow, diff = sequence_case(torch, opts.shape, opts.cell, opts.dtype, "inference")
    print(f"{opts.shape} {opts.cell} {opts.dtype} inference; outputs differ by {diff:.1e} (relative)")
    print(f"{'threads':>7}  {'pause ms':>8}  {'fastrnn ms':>10}  {'torch ms':>9}  {'torch/fastrnn':>13}")
    for threads in opts.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(threads, "blas"):
            for _ in range(opts.warmup):
                fast()
                slow()
            for pause in opts.pauses:
                times = ([], [])
                for k in range(math.ceil(opts.calls / opts.block)):
                    for side in ((0, 1) if k % 2 == 0 else (1, 0)):
                        fn = (fast, slow)[side]
                        timed_after(fn, pause)
                        times[side].extend(timed_after(fn, pause) for _ in range(opts.block))
                f, t = (statistics.median(s) * 1e3 for s in times)
                print(f"{threads:>7}  {pause * 1e3:>8g}  {f:>10.3f}  {t:>9.3f}  {t / f:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
