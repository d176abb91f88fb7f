"""fastrnn against torch.nn on the CPU: every shape of common.SHAPES, cell, dtype, thread count and mode, in one
process.

    python benchmarks/compare_torch.py --quick                 # a subset, under 3 minutes
    python benchmarks/compare_torch.py                         # everything: about an hour on a 2-core VM, most
                                                               # of it the "large" shape
    python benchmarks/compare_torch.py --shapes small,medium --cells lstm --dtypes float32 --threads 1,2 \\
        --modes inference,training --json out.json
    python benchmarks/compare_torch.py --quick --isa avx2      # both sides as on a CPU without AVX-512

Needs torch (``python -m pip install -e ".[torch]"``, the pinned CPU build); without it, it says so and exits.

What is timed (both sides do the same work on the same numbers):
- inference: fastrnn's kernels (``fastrnn._cells.forward``, layer after layer for the 3-layer "tiny") on the
  packed equal-length batch ``(T * B, F)`` with ``batch_sizes = [B] * T``, against ``torch.nn.LSTM/GRU/RNN``
  (``num_layers = L``, tanh) on the sequence-first ``(T, B, F)`` tensor (the same memory) under
  ``torch.no_grad()``.
- training: one training step, forward then backward of the sum of the top layer's outputs, giving the
  gradients of every weight and of the input: ``fastrnn._cells.forward(training=True)`` and
  ``fastrnn._cells.backward(need_dX=True)``, against torch autograd (``requires_grad`` on the parameters and the
  input, gradients reset to None before each step).
- step: one streaming step of one sequence (F = 8, H = 64), state carried from call to call: the compiled
  streaming step (``fastrnn._stream.Stepper``, one layer and no head, what ``predict_step`` runs after its
  checks, on weights laid out as an estimator keeps them: ``common.estimator_layout``) against
  ``nn.LSTMCell/GRUCell/RNNCell`` under ``no_grad`` (shape "step");
  and, when the estimators have it, ``RNNRegressor.predict_step`` (one layer of 64 and a linear head) against the
  torch cell followed by ``nn.Linear(64, 1)`` (shape "predict_step").
Both sides get the same weights (PyTorch's default initialisation) and the same input; before timing, the outputs
(and, for training, the input and weight gradients) are compared, and a mismatch is reported under the table.

How it is timed, so that the ratio can be trusted on a busy machine:
- same thread count for both: ``torch.set_num_threads(n)`` and ``threadpoolctl.threadpool_limits(n, "blas")`` (the
  OpenBLAS that fastrnn reaches through scipy.linalg.cython_blas); fastrnn's kernels are called directly, so the
  estimators' own rule (single-threaded BLAS for small per-step products, fastrnn._threads.step_threads) does not
  apply, but the kernels' choices of how to use the threads do (fastrnn._threads: at more than one thread, a
  batch with enough work runs in lanes, a share of its sequences to each thread; otherwise fastrnn's own product
  at one thread, BLAS's threads for large steps at more);
- warm-up: both sides alternately until each has run at least ``--warmup`` seconds (at least one call each);
- a sample is ``number`` back-to-back calls, ``number`` chosen in the warm-up so that a sample lasts at least
  ``--min-sample`` seconds; garbage collection is off during a sample;
- samples are interleaved, A B B A A B ..., so that a change of the machine's load hits both sides alike; at
  more than one thread a short pause (``--settle``) precedes every sample, so that the other side's spinning
  worker threads (OpenBLAS's, OpenMP's) have gone to sleep, and then ``--prewarm`` seconds of untimed calls of
  the side about to be timed (none when one call takes longer): both cores idle in the pause, and the first tens
  of milliseconds after it run slower than the rest, fastrnn's lanes most (small LSTM float32 inference at 2
  threads: 1.4 ms a call in steady state, 2.0-2.2 ms in the first 50 ms after a 0.1 s pause; threads that hand
  work to each other wake from idle, where OpenMP's, torch's, spin);
- ``--repeats`` samples a side (fewer, but at least 3, when a case exceeds ``--max-case`` seconds); the table
  shows medians, and "spread" is the larger of the two sides' half interquartile range over the median.

Columns: fastrnn ms and torch ms (median per call), torch/fastrnn (above 1: fastrnn faster), and
fastrnn/roofline: fastrnn's time over the time the shape's GEMM FLOPs (``2*T*B*G*H*(F_l+H)`` per layer forward,
3x for training) would take at the rate of one large GEMM (``--gemm-n`` cubed, scipy.linalg.blas sgemm/dgemm, the
same BLAS and thread count) measured in the same run (best of 5, at the start of each thread count). 1 would be
GEMM speed; per-step overhead and the small per-step products push it up.
"""
import argparse
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from fastrnn._blas_check import vector_bytes
from fastrnn._stream import Stepper

try:  # imported as benchmarks.compare_torch (asv discovery)
    from .common import CELLS, DTYPES, GATES, SHAPES, STEP_SHAPE, fastrnn_forward, fastrnn_train_step, gemm_flops
    from .common import estimator_layout, make_layers, make_packed_input
except ImportError:  # run as a script
    from common import CELLS, DTYPES, GATES, SHAPES, STEP_SHAPE, fastrnn_forward, fastrnn_train_step, gemm_flops
    from common import estimator_layout, make_layers, make_packed_input

MODES = ("inference", "training", "step")
QUICK = dict(shapes=("tiny", "small", "medium", "stream", "probe"), cells=CELLS, dtypes=DTYPES, threads=(1,),
             modes=MODES)
# Largest max |fastrnn - torch| accepted as "the same numbers", relative to max(1, max |torch|).
TOLERANCE = {"float32": 2e-3, "float64": 1e-9}
# --isa: the environment that makes both sides, and the BLAS under them, run the code of a narrower x86-64 CPU on a
# wider one: fastrnn's copies for that vector width (src_c/_fastmath.h), PyTorch's kernels (ATen), oneDNN's and
# MKL's, and scipy's OpenBLAS (its Haswell kernels are AVX2, Nehalem's SSE4.2). Each is read when its library
# starts, so the script runs itself again with the environment set.
ISA_ENV = {
    "avx2": dict(FASTRNN_VECTOR_BYTES="32", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2",
                 MKL_ENABLE_INSTRUCTIONS="AVX2", OPENBLAS_CORETYPE="Haswell"),
    "sse": dict(FASTRNN_VECTOR_BYTES="16", ATEN_CPU_CAPABILITY="default", ONEDNN_MAX_CPU_ISA="SSE41",
                MKL_ENABLE_INSTRUCTIONS="SSE4_2", OPENBLAS_CORETYPE="Nehalem"),
}


# ---- timing ----


def _sample(fn, number):
    """Seconds per call of `number` back-to-back calls, with garbage collection off (as timeit)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - start) / number
    finally:
        if gc_was_enabled:
            gc.enable()


def _rest(fn, settle, prewarm, per_call):
    """Before a sample at more than one thread: the pause, then about `prewarm` seconds of untimed calls of fn
    (none when one call, `per_call` seconds, takes longer)."""
    if settle <= 0:
        return
    time.sleep(settle)
    if per_call < prewarm:
        for _ in range(math.ceil(prewarm / per_call)):
            fn()


def interleaved(fa, fb, opts, threads):
    """Median seconds per call of fa and fb, timed alternately; returns (median_a, median_b, spread, n_samples)."""
    settle = opts.settle if threads > 1 else 0.0
    fns = (fa, fb)
    # Warm-up, alternating batches, until both sides have run `warmup` seconds; a batch grows (at most 10x) until
    # it lasts min_sample, and the last batch's time per call sets the side's number of calls per sample.
    spent, per_call, numbers = [0.0, 0.0], [0.0, 0.0], [1, 1]
    while min(spent) < opts.warmup or 0.0 in per_call:
        for k in (0, 1):
            if spent[k] < opts.warmup or per_call[k] == 0.0:
                time.sleep(settle)
                per_call[k] = _sample(fns[k], numbers[k])
                spent[k] += per_call[k] * numbers[k]
                target = math.ceil(opts.min_sample / max(per_call[k], 1e-9))
                numbers[k] = max(1, min(target, 10 * numbers[k]))
    samples = ([], [])
    start = time.perf_counter()
    for r in range(opts.repeats):
        for k in ((0, 1) if r % 2 == 0 else (1, 0)):
            _rest(fns[k], settle, opts.prewarm, per_call[k])
            samples[k].append(_sample(fns[k], numbers[k]))
        if r + 1 >= min(3, opts.repeats) and time.perf_counter() - start > opts.max_case:
            break
    medians = [statistics.median(s) for s in samples]
    spread = max(_half_iqr(s) / m for s, m in zip(samples, medians))
    return medians[0], medians[1], spread, len(samples[0])


def _half_iqr(s):
    q1, q3 = np.percentile(s, [25, 75])
    return (q3 - q1) / 2


def gemm_rate(dtype, n, opts):
    """FLOP/s of one n x n x n GEMM of scipy's BLAS (the best of 5 after a warm-up) at the current thread limit.
    The best, not the median: the rate is the machine's, and a GEMM slowed by another process (a full run's 2-thread
    float64 rate once came out at the 1-thread rate with the median of 3) would flatter every roofline ratio."""
    from scipy.linalg import blas

    gemm = blas.sgemm if dtype == "float32" else blas.dgemm
    rng = np.random.default_rng(0)
    a = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    b = np.asfortranarray(rng.standard_normal((n, n)).astype(dtype))
    gemm(1.0, a, b)
    times = [_sample(lambda: gemm(1.0, a, b), 1) for _ in range(5)]
    return 2.0 * n**3 / min(times)


# ---- the two sides of each case ----


def _torch_module(torch, cell, shape, layers, dtype):
    F, H, L = shape.F, shape.H, shape.L
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    module = cls(F, H, num_layers=L, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for layer, weights in enumerate(layers):
            for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights):
                getattr(module, f"{name}_l{layer}").copy_(torch.from_numpy(w))
    return module


def _max_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def sequence_case(torch, shape_name, cell, dtype, mode):
    """(fastrnn callable, torch callable, relative max difference of their results) for a shape of common.SHAPES."""
    shape = SHAPES[shape_name]
    T, B, F, H, L = shape
    X, batch_sizes = make_packed_input(T, B, F, dtype)
    layers = make_layers(cell, F, H, L, dtype)
    module = _torch_module(torch, cell, shape, layers, dtype)
    x = torch.from_numpy(X.reshape(T, B, F))  # the same memory as the packed batch
    if mode == "inference":
        def fast():
            return fastrnn_forward(cell, X, batch_sizes, layers)

        def slow():
            with torch.no_grad():
                return module(x)[0]

        diff = _max_diff(fast(), slow().numpy().reshape(T * B, H))
        return fast, slow, diff

    params = list(module.parameters())
    x.requires_grad_(True)

    def fast():
        return fastrnn_train_step(cell, X, batch_sizes, layers)

    def slow():
        for p in params:
            p.grad = None
        x.grad = None
        module(x)[0].sum().backward()

    dX, grads = fast()
    slow()
    diff = max(_max_diff(dX, x.grad.numpy().reshape(T * B, F)),
               _max_diff(grads[0][0], module.weight_ih_l0.grad.numpy()),
               _max_diff(grads[-1][1], getattr(module, f"weight_hh_l{L - 1}").grad.numpy()))
    return fast, slow, diff


def _torch_cell(torch, cell, weights, dtype):
    F, H = weights[0].shape[1], weights[1].shape[1]
    cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}[cell]
    module = cls(F, H, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), weights):
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(w, dtype=dtype)))
    return module


def _torch_stepper(torch, tcell, cell, H, dtype, head=None):
    """A closure stepping a torch cell (and optional head) on x, carrying the state; returns its output."""
    tdtype = getattr(torch, dtype)
    state = [torch.zeros(1, H, dtype=tdtype), torch.zeros(1, H, dtype=tdtype)]

    def step(x):
        with torch.no_grad():
            if cell == "lstm":
                state[0], state[1] = tcell(x, (state[0], state[1]))
            else:
                state[0] = tcell(x, state[0])
            return head(state[0]) if head is not None else state[0]

    return step


def step_case(torch, cell, dtype):
    """One streaming step of one layer (the compiled step under predict_step) against torch's cell, both carrying
    their state."""
    _, B, F, H, _ = STEP_SHAPE
    weights = estimator_layout(make_layers(cell, F, H, 1, dtype)[0])
    x_np = np.random.default_rng(1).standard_normal((B, F)).astype(dtype)
    stepper = Stepper(cell, "tanh", [weights], [])
    zeros = (np.zeros((B, H), dtype=dtype),)
    state = [zeros, zeros if cell == "lstm" else None]

    def fast():
        out, state[0], state[1] = stepper.step(x_np, state[0], state[1])
        return out

    torch_step = _torch_stepper(torch, _torch_cell(torch, cell, weights, dtype), cell, H, dtype)
    x = torch.from_numpy(x_np)

    def slow():
        return torch_step(x)

    diff = max(_max_diff(fast(), slow().numpy()) for _ in range(3))
    return fast, slow, diff


def predict_step_case(torch, cell, dtype):
    """RNNRegressor.predict_step (one layer of 64, linear head) against the torch cell and nn.Linear(64, 1) with
    the estimator's weights; None when the estimators have no predict_step."""
    from fastrnn import RNNRegressor

    if not hasattr(RNNRegressor, "predict_step"):
        return None
    _, B, F, H, _ = STEP_SHAPE
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 10, F)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = RNNRegressor(cell=cell, hidden_layer_sizes=(H,), max_iter=1, random_state=0)
        est.fit(X, X[:, :, 0].sum(axis=1))
    w = est.rnn_weights_
    weights = tuple(w[f"{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    head = torch.nn.Linear(H, 1, dtype=getattr(torch, dtype))
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(np.ascontiguousarray(est.coefs_[0].T, dtype=dtype)))
        head.bias.copy_(torch.from_numpy(np.ascontiguousarray(est.intercepts_[0], dtype=dtype)))
    torch_step = _torch_stepper(torch, _torch_cell(torch, cell, weights, dtype), cell, H, dtype, head)
    x_np = rng.standard_normal((B, F)).astype(dtype)
    x = torch.from_numpy(x_np)
    state = [est.init_state(B)]

    def fast():
        y, state[0] = est.predict_step(x_np, state[0])
        return y

    def slow():
        return torch_step(x)

    diff = max(_max_diff(np.ravel(fast()), slow().numpy().ravel()) for _ in range(3))
    return fast, slow, diff


# ---- driver ----


def _csv(kind, choices, cast=str):
    def parse(text):
        values = tuple(cast(v.strip()) for v in text.split(",") if v.strip())
        bad = [v for v in values if v not in choices]
        if bad or not values:
            shown = f"{choices.start}..{choices.stop - 1}" if isinstance(choices, range) else list(choices)
            raise argparse.ArgumentTypeError(f"{kind} must be a comma-separated subset of {shown}, got {text!r}")
        return values

    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"a subset in under 3 minutes: shapes {','.join(QUICK['shapes'])} (not large, long), "
                        "every cell and dtype, 1 thread, every mode, 5 samples a side (explicit filters below "
                        "override these)")
    p.add_argument("--json", metavar="PATH", help="also write the rows and the run's metadata to PATH")
    p.add_argument("--shapes", type=_csv("--shapes", tuple(SHAPES)), help=f"subset of {','.join(SHAPES)}")
    p.add_argument("--cells", type=_csv("--cells", CELLS), help="subset of lstm,gru,rnn")
    p.add_argument("--dtypes", type=_csv("--dtypes", DTYPES), help="subset of float32,float64")
    p.add_argument("--threads", type=_csv("--threads", range(1, 1025), int), help="thread counts, e.g. 1,2")
    p.add_argument("--modes", type=_csv("--modes", MODES), help="subset of inference,training,step")
    p.add_argument("--repeats", type=int, help="samples per side (default 7; 5 with --quick)")
    p.add_argument("--min-sample", type=float, default=0.05, help="seconds a sample lasts at least (0.05)")
    p.add_argument("--warmup", type=float, default=0.2, help="warm-up seconds per side and case (0.2)")
    p.add_argument("--max-case", type=float, help="seconds after which a case stops sampling, once it has 3 "
                                                  "samples a side (default 120; 20 with --quick)")
    p.add_argument("--settle", type=float, default=0.1, help="pause before every sample at >1 thread (0.1 s)")
    p.add_argument("--prewarm", type=float, default=0.05, help="untimed calls after each pause (0.05 s)")
    p.add_argument("--gemm-n", type=int, default=2048, help="size of the roofline GEMM (2048)")
    p.add_argument("--isa", choices=("native",) + tuple(ISA_ENV), default="native",
                   help="run both sides as on a CPU with at most AVX2 (avx2) or SSE4.2 (sse); x86-64 only")
    opts = p.parse_args(argv)
    defaults = QUICK if opts.quick else dict(shapes=tuple(SHAPES), cells=CELLS, dtypes=DTYPES, threads=(1, 2),
                                             modes=MODES)
    for key, value in defaults.items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    if opts.repeats is None:
        opts.repeats = 5 if opts.quick else 7
    if opts.max_case is None:
        opts.max_case = 20.0 if opts.quick else 120.0
    return opts


def _cases(opts):
    """(shape name, shape, cell, dtype, mode) of every case, in the order they run within a thread count."""
    for dtype in opts.dtypes:
        for shape_name in opts.shapes:
            for cell in opts.cells:
                for mode in ("inference", "training"):
                    if mode in opts.modes:
                        yield shape_name, SHAPES[shape_name], cell, dtype, mode
        if "step" in opts.modes:
            for cell in opts.cells:
                yield "step", STEP_SHAPE, cell, dtype, "step"
                yield "predict_step", STEP_SHAPE, cell, dtype, "step"


COLUMNS = [("shape", 12, "s"), ("cell", 4, "s"), ("dtype", 7, "s"), ("threads", 7, "d"), ("mode", 9, "s"),
           ("fastrnn_ms", 10, ".3f"), ("torch_ms", 10, ".3f"), ("torch/fastrnn", 13, ".2f"),
           ("fastrnn/roofline", 16, ".1f"), ("spread", 6, ".0%")]


def _format_row(row):
    return "  ".join(format(row[name], f">{width}{spec}") if name not in ("shape", "cell", "dtype", "mode")
                     else format(row[name], f"<{width}") for name, width, spec in COLUMNS)


def _blas_info():
    return [f"{i['internal_api']} {i.get('version')} {i.get('architecture', '')} ({os.path.basename(i['filepath'])})"
            for i in threadpool_info() if i["user_api"] == "blas"]


def _run_as_isa(isa, argv):
    """Runs this script again with argv in the environment of ISA_ENV[isa]; returns its exit status. None when the
    environment is already set (this is that run)."""
    env = ISA_ENV[isa]
    if all(os.environ.get(k) == v for k, v in env.items()):
        return None
    if platform.machine() not in ("x86_64", "AMD64"):
        print(f"compare_torch: --isa {isa} is for x86-64 CPUs, not {platform.machine()}.")
        return 2
    sys.stdout.flush()
    command = [sys.executable, os.path.abspath(__file__)] + list(sys.argv[1:] if argv is None else argv)
    return subprocess.run(command, env=dict(os.environ, **env)).returncode


def main(argv=None):
    opts = parse_args(argv)
    if opts.isa != "native":
        status = _run_as_isa(opts.isa, argv)
        if status is not None:
            return status
    try:
        import torch
    except ImportError:
        print("compare_torch: torch is not installed, nothing to compare; skipped. Install the pinned CPU build "
              'with: python -m pip install -e ".[torch]"')
        return 0
    import fastrnn
    import scipy

    meta = dict(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
                torch=torch.__version__, fastrnn=fastrnn.__version__, machine=platform.machine(),
                processor=_cpu_name(), cpus=os.cpu_count(), blas=_blas_info(), loadavg_start=_loadavg(),
                torch_blas=_torch_blas(torch), torch_onednn=bool(torch.backends.mkldnn.is_available()
                                                                  and torch.backends.mkldnn.enabled),
                options={k: v for k, v in vars(opts).items() if k != "json"})
    print(f"fastrnn {meta['fastrnn']} vs torch {meta['torch']}; numpy {meta['numpy']}, scipy {meta['scipy']}; "
          f"{meta['processor']}, {meta['cpus']} CPUs; load average at start {meta['loadavg_start']}")
    if opts.isa != "native":
        meta["isa_env"] = ISA_ENV[opts.isa]
        shown = " ".join(f"{k}={v}" for k, v in ISA_ENV[opts.isa].items())
        print(f"as a CPU with at most {opts.isa.upper()}: {shown}; torch's CPU capability "
              f"{torch.backends.cpu.get_cpu_capability()}")
    meta["vector_bytes"] = vector_bytes()
    print(f"fastrnn's vectors: {meta['vector_bytes']} bytes; its BLAS (scipy's): " + "; ".join(meta["blas"])
          + f"; torch's BLAS: {meta['torch_blas']}, oneDNN {'on' if meta['torch_onednn'] else 'off'}")
    load = meta["loadavg_start"]
    if load and load[0] > (os.cpu_count() or 1) - max(opts.threads) + 0.5:
        print(f"NOTE: load average {load[0]} on {meta['cpus']} CPUs before starting: other processes compete for "
              "the CPUs, so these timings are preliminary (at more than one thread especially).")
    print(f"medians of up to {opts.repeats} interleaved samples a side (>= {opts.min_sample} s each) after "
          f"{opts.warmup} s warm-up a side; at more than one thread, a {opts.settle} s pause and {opts.prewarm} s of "
          "untimed calls before each sample\n")
    print("  ".join(format(name, f">{w}" if spec not in ("s",) else f"<{w}") for name, w, spec in COLUMNS))
    rows, warnings_, gemm = [], [], {}
    started = time.perf_counter()
    for threads in opts.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads, user_api="blas"):
            rates = {}
            for dtype in opts.dtypes:
                rates[dtype] = gemm_rate(dtype, opts.gemm_n, opts)
                gemm[f"{dtype}/{threads}"] = rates[dtype] / 1e9
            for shape_name, shape, cell, dtype, mode in _cases(opts):
                if shape_name == "predict_step":
                    try:  # the streaming API is young: a change of it skips its rows, not the run
                        case = predict_step_case(torch, cell, dtype)
                    except Exception as exc:
                        warnings_.append(f"predict_step {cell} {dtype} failed ({type(exc).__name__}: {exc}): "
                                         "row skipped.")
                        continue
                    if case is None:
                        warnings_.append("RNNRegressor.predict_step does not exist: predict_step rows skipped.")
                        continue
                elif mode == "step":
                    case = step_case(torch, cell, dtype)
                else:
                    case = sequence_case(torch, shape_name, cell, dtype, mode)
                fast, slow, diff = case
                if not diff <= TOLERANCE[dtype]:
                    warnings_.append(f"{shape_name} {cell} {dtype} {mode}: fastrnn and torch differ by {diff:.2e} "
                                     f"(relative max), above {TOLERANCE[dtype]:g}.")
                t_fast, t_torch, spread, n = interleaved(fast, slow, opts, threads)
                roofline = gemm_flops(cell, shape, training=(mode == "training")) / rates[dtype]
                row = dict(shape=shape_name, cell=cell, dtype=dtype, threads=threads, mode=mode,
                           fastrnn_ms=t_fast * 1e3, torch_ms=t_torch * 1e3, **{"torch/fastrnn": t_torch / t_fast},
                           **{"fastrnn/roofline": t_fast / roofline}, spread=spread, samples=n, max_rel_diff=diff,
                           T=shape.T, B=shape.B, F=shape.F, H=shape.H, L=shape.L, G=GATES[cell])
                rows.append(row)
                print(_format_row(row), flush=True)
    meta.update(loadavg_end=_loadavg(), seconds=time.perf_counter() - started, gemm_gflops=gemm)
    print("\nroofline GEMM rate (GFLOP/s, dtype/threads, " + f"{opts.gemm_n}^3): "
          + ", ".join(f"{k} {v:.1f}" for k, v in gemm.items()))
    print(f"load average at end {meta['loadavg_end']}; {meta['seconds']:.0f} s")
    for w in dict.fromkeys(warnings_):
        print("WARNING: " + w)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)
        print(f"wrote {len(rows)} rows to {opts.json}")
    return 0


def _loadavg():
    try:
        return tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        return None


def _torch_blas(torch):
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return found[1] if found else "unknown"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
