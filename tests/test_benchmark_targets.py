"""benchmarks/targets.py: a compare_torch.py run's rows against the speed targets, one run or the median of
several."""
import json

import pytest

from benchmarks import targets


def row(shape, cell, dtype, mode, ratio, per_roofline, threads=1, fastrnn_ms=2.0):
    return {"threads": threads, "shape": shape, "cell": cell, "dtype": dtype, "mode": mode, "T": 100,
            "torch/fastrnn": ratio, "fastrnn/roofline": per_roofline, "fastrnn_ms": fastrnn_ms,
            "torch_ms": ratio * fastrnn_ms, "spread": 0.01}


@pytest.mark.parametrize("shape, cell, dtype, mode, expected", [
    ("small", "lstm", "float32", "training", 2.0),
    ("small", "lstm", "float64", "inference", 3.0),
    ("tiny", "gru", "float32", "inference", 3.0),
    ("large", "lstm", "float32", "inference", 1.0),
    ("medium", "rnn", "float64", "training", 1.0),
    ("step", "lstm", "float32", "step", 10.0),
    ("step", "gru", "float32", "step", None),
])
def test_target(shape, cell, dtype, mode, expected):
    assert targets.target(row(shape, cell, dtype, mode, 1.0, 1.0)) == expected


def test_merge_takes_each_cases_median_over_the_runs():
    runs = [[row("small", "lstm", "float64", "inference", r, q), row("tiny", "gru", "float32", "training", 5, 1.5)]
            for r, q in ((2.9, 1.5), (3.2, 1.4), (2.7, 1.6))]
    runs[1].append(row("long", "rnn", "float64", "inference", 3.5, 1.2))  # in one run only
    merged = targets.merge(runs)
    assert [(r["shape"], r["cell"]) for r in merged] == [("small", "lstm"), ("tiny", "gru"), ("long", "rnn")]
    small = merged[0]
    assert small["torch/fastrnn"] == 2.9 and small["fastrnn/roofline"] == 1.5
    assert small["runs"] == [2.9, 3.2, 2.7]
    assert small["ceiling"] == pytest.approx(sorted([2.9 * 1.5, 3.2 * 1.4, 2.7 * 1.6])[1])
    assert merged[2]["torch/fastrnn"] == 3.5 and "runs" not in merged[2]
    # An even number of runs: the mean of the middle two.
    two = targets.merge(runs[:2])
    assert two[0]["torch/fastrnn"] == pytest.approx(3.05) and two[0]["runs"] == [2.9, 3.2]
    # Threads tell cases apart.
    assert len(targets.merge([[row("large", "gru", "float64", "inference", 1.1, 1.1, threads=t)
                               for t in (1, 2)]])) == 2


def test_report_names_misses_with_their_ceiling(capsys):
    rows = [row("small", "lstm", "float64", "inference", 2.9, 1.5),    # ceiling 4.35: reachable
            row("long", "gru", "float64", "inference", 2.45, 1.16),    # ceiling 2.84: below 3
            row("tiny", "rnn", "float32", "training", 4.0, 1.2),       # met
            row("small", "lstm", "float32", "training", 1.5, 1.6, threads=2),  # 2 threads: no target
            row("probe", "gru", "float32", "inference", 100.0, 30.0, fastrnn_ms=0.05)]
    targets.report(rows)
    out = capsys.readouterr().out.splitlines()
    missed = [line for line in out if line.startswith("missed")]
    assert len(missed) == 2
    assert missed[0].split()[1:5] == ["long", "gru", "float64", "inference"]  # furthest below its target first
    assert "ceiling 2.84 (below the target)" in missed[0]
    assert "ceiling 4.35," in missed[1] and "below" not in missed[1]
    assert "2 of 4 one-thread targets met" in out
    assert "probe gru float32: 0.500 us a step in all" in out


def test_main_reads_several_runs(tmp_path, capsys):
    paths = []
    for k, ratio in enumerate((2.8, 3.1, 2.9)):
        path = tmp_path / f"run{k}.json"
        path.write_text(json.dumps({"meta": {}, "rows": [row("small", "lstm", "float64", "inference", ratio, 1.5)]}))
        paths.append(str(path))
    targets.main(paths)
    out = capsys.readouterr().out
    assert "2.90 (target 3; runs 2.80, 3.10, 2.90;" in out
    targets.main(paths + ["--tables"])
    assert "| small (100, 32, 8, 64, 1) | LSTM |  |  | 2.90 |  |" in capsys.readouterr().out
