"""The rows of a compare_torch.py run (its --json file) against the speed targets, and as README's tables.

    python benchmarks/targets.py out.json            # every one-thread row with a target: met or missed
    python benchmarks/targets.py out.json --tables   # README's performance tables (1 and 2 threads)

The targets (ratio torch / fastrnn, one thread): 10 for the LSTM's single steps (shapes "step" and
"predict_step"); 1 on "medium" and "large"; on the other shapes 2 for the LSTM in float32, 3 for every other cell
and dtype. Per-step overhead on "probe" inference, under 0.5 us: its whole time a step is printed, which bounds
the overhead from above.
"""
import argparse
import json

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


def report(rows):
    one = [r for r in rows if r["threads"] == 1 and target(r) is not None]
    missed = [r for r in one if r["torch/fastrnn"] < target(r)]
    for r in sorted(missed, key=lambda r: r["torch/fastrnn"] / target(r)):
        print(f"missed  {r['shape']:13s} {r['cell']:4s} {r['dtype']:7s} {r['mode']:9s} "
              f"{r['torch/fastrnn']:6.2f} (target {target(r):g}; fastrnn {r['fastrnn_ms']:.4g} ms, torch "
              f"{r['torch_ms']:.4g} ms, fastrnn/roofline {r['fastrnn/roofline']:.2f}, spread {r['spread']:.0%})")
    print(f"{len(one) - len(missed)} of {len(one)} one-thread targets met")
    for r in rows:
        if r["threads"] == 1 and r["shape"] == "probe" and r["mode"] == "inference":
            print(f"probe {r['cell']} {r['dtype']}: {r['fastrnn_ms'] * 1e3 / r['T']:.3f} us a step in all")


def tables(rows):
    by_key = {(r["threads"], r["shape"], r["cell"], r["dtype"], r["mode"]): r for r in rows}
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
    p.add_argument("json", help="a compare_torch.py --json file")
    p.add_argument("--tables", action="store_true", help="print README's tables instead")
    opts = p.parse_args(argv)
    with open(opts.json) as f:
        rows = json.load(f)["rows"]
    if opts.tables:
        tables(rows)
    else:
        report(rows)


if __name__ == "__main__":
    main()
