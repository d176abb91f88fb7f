"""The rows of compare_torch.py runs (their --json files) against the speed targets, and as README's tables.

    python benchmarks/targets.py out.json            # every one-thread row with a target: met or missed
    python benchmarks/targets.py out.json --tables   # README's performance tables (1 and 2 threads)
    python benchmarks/targets.py a.json b.json c.json    # several runs: each row's median over the runs

A ratio near its target lands on either side of it from one run to the next on a shared machine (torch's time
moves more than fastrnn's), so several runs can be given: a row's ratio is then the median of its runs' ratios,
and a missed row lists each run's. Each missed row also shows its ceiling, torch's time over the roofline
(compare_torch.py's GEMM FLOPs at the large-GEMM rate of the same run): the ratio an implementation would show
whose products ran at that rate and whose pointwise work and overhead cost nothing. A ceiling below the target
puts the target out of reach against that torch time, give or take how far a product can run above the
large-GEMM rate (fastrnn's own product, up to about 15% on some shapes: src_c/_gemm.h).

The targets (ratio torch / fastrnn, one thread): 10 for the LSTM's single steps (shapes "step" and
"predict_step"); 1 on "medium" and "large"; on the other shapes 2 for the LSTM in float32, 3 for every other cell
and dtype. Per-step overhead on "probe" inference, under 0.5 us: its whole time a step is printed, which bounds
the overhead from above.
"""
import argparse
import json
import statistics

try:  # imported as benchmarks.targets (asv discovery)
    from .common import CELLS, DTYPES, SHAPES
except ImportError:  # run as a script
    from common import CELLS, DTYPES, SHAPES

COLUMNS = tuple((dtype, mode) for dtype in DTYPES for mode in ("inference", "training"))


def target(row):
    """The ratio a one-thread row must reach, or None when it has none."""
    if row["mode"] == "step":
        return 10.0 if row["cell"] == "lstm" else None
    if row["shape"] in ("medium", "large"):
        return 1.0
    return 2.0 if (row["cell"], row["dtype"]) == ("lstm", "float32") else 3.0


def fmt(ratio):
    """Three significant figures, as README's tables."""
    if ratio >= 100:
        return f"{ratio:.0f}"
    return f"{ratio:.1f}" if ratio >= 10 else f"{ratio:.2f}"


KEY = ("threads", "shape", "cell", "dtype", "mode")


def ceiling(row):
    """torch's time over the roofline's: the ratio at which fastrnn would run at the roofline."""
    return row["torch/fastrnn"] * row["fastrnn/roofline"]


def merge(runs):
    """One row per case of the runs (lists of rows), in the order the runs first have them: a case of one run as
    it is; of several, their median ratio, fastrnn/roofline, fastrnn and torch times and ceiling, each the median
    over the runs that have the case (of an even number, the mean of the middle two), and "runs", each run's
    ratio."""
    cases = {}
    for rows in runs:
        for r in rows:
            cases.setdefault(tuple(r[k] for k in KEY), []).append(r)
    merged = []
    for same in cases.values():
        if len(same) == 1:
            merged.append(same[0])
            continue
        row = dict(same[0])
        for k in ("torch/fastrnn", "fastrnn/roofline", "fastrnn_ms", "torch_ms", "spread"):
            row[k] = statistics.median(r[k] for r in same)
        row["runs"] = [r["torch/fastrnn"] for r in same]
        row["ceiling"] = statistics.median(ceiling(r) for r in same)
        merged.append(row)
    return merged


def report(rows):
    one = [r for r in rows if r["threads"] == 1 and target(r) is not None]
    missed = [r for r in one if r["torch/fastrnn"] < target(r)]
    for r in sorted(missed, key=lambda r: r["torch/fastrnn"] / target(r)):
        cap = r.get("ceiling", ceiling(r))
        runs = f"; runs {', '.join(f'{x:.2f}' for x in r['runs'])}" if "runs" in r else ""
        print(f"missed  {r['shape']:13s} {r['cell']:4s} {r['dtype']:7s} {r['mode']:9s} "
              f"{r['torch/fastrnn']:6.2f} (target {target(r):g}{runs}; fastrnn {r['fastrnn_ms']:.4g} ms, torch "
              f"{r['torch_ms']:.4g} ms, fastrnn/roofline {r['fastrnn/roofline']:.2f}, ceiling {cap:.2f}"
              f"{' (below the target)' if cap < target(r) else ''}, spread {r['spread']:.0%})")
    print(f"{len(one) - len(missed)} of {len(one)} one-thread targets met")
    for r in rows:
        if r["threads"] == 1 and r["shape"] == "probe" and r["mode"] == "inference":
            print(f"probe {r['cell']} {r['dtype']}: {r['fastrnn_ms'] * 1e3 / r['T']:.3f} us a step in all")


def tables(rows):
    by_key = {tuple(r[k] for k in KEY): r for r in rows}
    for threads in sorted({r["threads"] for r in rows}):
        print(f"{threads} thread{'s' if threads > 1 else ''}:\n")
        print("| shape (T, B, F, H, L) | cell | f32 inference | f32 training | f64 inference | f64 training |")
        print("| --- | --- | --- | --- | --- | --- |")
        for shape, sizes in SHAPES.items():
            label = f"{shape} {tuple(sizes)}"  # on the shape's first row only
            for cell in CELLS:
                cells = [by_key.get((threads, shape, cell, dtype, mode)) for dtype, mode in COLUMNS]
                if not any(cells):
                    continue
                values = [fmt(r["torch/fastrnn"]) if r else "" for r in cells]
                print(f"| {label} | {cell.upper()} | " + " | ".join(values) + " |")
                label = ""
        print()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+", help="compare_torch.py --json files, one a run")
    p.add_argument("--tables", action="store_true", help="print README's tables instead")
    opts = p.parse_args(argv)
    runs = []
    for path in opts.json:
        with open(path) as f:
            runs.append(json.load(f)["rows"])
    rows = merge(runs)
    if opts.tables:
        tables(rows)
    else:
        report(rows)


if __name__ == "__main__":
    main()
