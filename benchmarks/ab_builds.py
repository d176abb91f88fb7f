"""A/B of two built trees of fastrnn: the same kernel call timed in alternating subprocesses, one per tree.

    python benchmarks/ab_builds.py OLD_TREE NEW_TREE ROUNDS CALLS CASE[,CASE...]

A tree is a checkout with its extensions built in place (`python setup.py build_ext --inplace`), for example a
`git worktree` of the old commit. A case is shape:cell:dtype:mode, mode `inf` (benchmarks.common.fastrnn_forward)
or `train` (fastrnn_train_step), on benchmarks.common.kernel_case, BLAS on 1 thread. Each round runs one process
per tree, in alternating order, and each process takes the min of CALLS calls after two warm-up calls. Printed:
the min over rounds of each tree and their ratio new / old, and the median of the rounds' ratios (the machine is
shared; the rounds see the same load in pairs).
"""
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import sys, time, json
from threadpoolctl import threadpool_limits
from benchmarks.common import kernel_case, fastrnn_forward, fastrnn_train_step
out = {}
with threadpool_limits(1, "blas"):
    for spec in sys.argv[2].split(","):
        shape, cell, dtype, mode = spec.split(":")
        X, bs, layers = kernel_case(shape, cell, dtype)
        f = fastrnn_train_step if mode == "train" else fastrnn_forward
        f(cell, X, bs, layers)
        f(cell, X, bs, layers)
        best = float("inf")
        for _ in range(int(sys.argv[1])):
            start = time.perf_counter()
            f(cell, X, bs, layers)
            best = min(best, time.perf_counter() - start)
        out[spec] = best
print(json.dumps(out))
"""


def main(old, new, rounds, calls, cases):
    trees = {"old": old, "new": new}
    times = {k: {c: [] for c in cases.split(",")} for k in trees}
    for r in range(int(rounds)):
        for k in ("old", "new") if r % 2 == 0 else ("new", "old"):
            env = dict(os.environ, PYTHONPATH=trees[k])
            run = subprocess.run([sys.executable, "-c", WORKER, calls, cases], cwd=trees[k], env=env,
                                 capture_output=True, text=True, check=True)
            for spec, t in json.loads(run.stdout).items():
                times[k][spec].append(t)
    for spec in times["new"]:
        o, n = min(times["old"][spec]), min(times["new"][spec])
        med = statistics.median(a / b for a, b in zip(times["new"][spec], times["old"][spec]))
        print(f"{spec:28s} old {o * 1e3:9.3f} ms  new {n * 1e3:9.3f} ms  min ratio {n / o:.3f}  median ratio {med:.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
