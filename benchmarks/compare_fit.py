"""fastrnn's estimators against the same model trained and used through PyTorch, in one process: a whole `fit`, and
`predict` of one sequence, the two calls a scikit-learn user makes.

    python benchmarks/compare_fit.py --quick                  # the LSTM on two problems, 30 seconds
    python benchmarks/compare_fit.py                          # every problem, cell and dtype: about 6 minutes
    python benchmarks/compare_fit.py --json out.json

Needs torch (``python -m pip install -e ".[torch]"``, the pinned CPU build); without it, it says so and exits.
compare_torch.py times the kernels alone; here each side is what a user runs, with its Python around the kernels.

A problem: N sequences of T steps of F features (standard normal), 3 classes; one recurrent layer of H units and
a linear head on its last hidden state, in X's dtype. Both sides do the same work:
- fit: ``RNNClassifier(cell, hidden_layer_sizes=(H,), batch_size=32, max_iter=E, alpha=0, tol=0,
  n_iter_no_change=E, random_state=0).fit(X, y)`` (checks and packs X, initialises, E epochs of reshuffled
  minibatches of 32, Adam at 1e-3, gradients clipped at norm 5, the epoch's mean loss recorded) against what one
  writes in PyTorch for the same: ``torch.from_numpy`` of X and y, ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (tanh,
  batch_first) and ``nn.Linear(H, 3)`` on ``h_n``, ``Adam(lr=1e-3)``, and for each of E epochs a ``randperm``,
  and for each minibatch ``zero_grad``, cross-entropy, ``backward``, ``clip_grad_norm_(..., 5)``, ``step`` and
  ``loss.item()`` (the epoch's mean loss). No weight decay on either side (alpha=0). Shown: ms a minibatch (the
  fit's time over its E * ceil(N / 32) minibatches).
- predict: ``clf.predict(X[:1])`` (checks, packs, runs the network, maps the class) against ``model(x).argmax(1)``
  under ``torch.no_grad()`` on ``torch.from_numpy(X[:1])``, mapped to the class labels the same way.
Both at one thread (``torch.set_num_threads(1)``, ``threadpoolctl.threadpool_limits(1)``); samples interleaved
and medians taken as in compare_torch.py (its ``interleaved``); the ratio is torch / fastrnn (above 1: fastrnn
faster).
"""
import argparse
import json
import math
import sys
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

try:  # imported as benchmarks.compare_fit
    from .compare_torch import interleaved
except ImportError:  # run as a script
    from compare_torch import interleaved

# name -> (N, T, F, H)
PROBLEMS = {
    "sensor": (512, 12, 3, 16),
    "gesture": (512, 40, 8, 32),
    "small": (256, 100, 8, 64),
}
CELLS = ("lstm", "gru", "rnn")
DTYPES = ("float32", "float64")
N_CLASSES = 3
BATCH = 32


def make_problem(name, dtype):
    N, T, F, H = PROBLEMS[name]
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, T, F)).astype(dtype), rng.integers(0, N_CLASSES, N), H


def fastrnn_side(cell, X, y, H, epochs):
    from fastrnn import RNNClassifier

    def make():
        return RNNClassifier(cell=cell, hidden_layer_sizes=(H,), batch_size=BATCH, max_iter=epochs, alpha=0.0,
                             tol=0.0, n_iter_no_change=epochs, random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ConvergenceWarning at max_iter
            return make().fit(X, y)

    fitted = fit()
    one = X[:1]
    return fit, lambda: fitted.predict(one), fitted


def torch_side(torch, cell, X, y, H, epochs):
    dtype = getattr(torch, str(X.dtype))
    rnn_class = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    classes = np.unique(y)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_class(X.shape[2], H, batch_first=True, dtype=dtype)
            self.head = torch.nn.Linear(H, len(classes), dtype=dtype)

        def forward(self, x):
            _, h_n = self.rnn(x)
            return self.head((h_n[0] if cell == "lstm" else h_n)[-1])

    gen = torch.Generator().manual_seed(0)

    def fit():
        torch.manual_seed(0)
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(np.searchsorted(classes, y))
        model = Model()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(Xt), generator=gen)
            total = 0.0
            for lo in range(0, len(Xt), BATCH):
                idx = order[lo:lo + BATCH]
                opt.zero_grad()
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                total += loss.item() * len(idx)
            model.loss_ = total / len(Xt)
        return model

    fitted = fit().eval()
    one = X[:1]

    def predict():
        with torch.no_grad():
            return classes[fitted(torch.from_numpy(one)).argmax(1).numpy()]

    return fit, predict, fitted


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the LSTM on 'sensor' and 'small' only")
    p.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated, of " + ", ".join(PROBLEMS))
    p.add_argument("--cells", default=",".join(CELLS))
    p.add_argument("--dtypes", default=",".join(DTYPES))
    p.add_argument("--epochs", type=int, default=2, help="epochs of each fit (default 2)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved samples a side (default 7)")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of untimed calls a side first (default 0.5)")
    p.add_argument("--min-sample", type=float, default=0.05, help="seconds a sample lasts at least (default 0.05)")
    p.add_argument("--max-case", type=float, default=20.0, help="fewer samples (3 at least) past this (default 20)")
    p.add_argument("--json", help="write the rows to this file")
    opts = p.parse_args(argv)
    # compare_torch.interleaved's options for one thread: no pause between samples
    opts.settle, opts.prewarm = 0.0, 0.0
    if opts.quick:
        opts.problems, opts.cells = "sensor,small", "lstm"
    for name, allowed in (("problems", PROBLEMS), ("cells", CELLS), ("dtypes", DTYPES)):
        chosen = getattr(opts, name).split(",")
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            p.error(f"unknown {name}: {', '.join(unknown)}; choose from {', '.join(allowed)}")
        setattr(opts, name, chosen)
    if opts.epochs < 1 or opts.repeats < 1:
        p.error("--epochs and --repeats must be at least 1")
    return opts


def main(argv=None):
    opts = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("compare_fit: torch is not installed, nothing to compare; skipped. Install the pinned CPU build "
              'with: python -m pip install -e ".[torch]"')
        return 0
    torch.set_num_threads(1)
    rows = []
    print("| problem (N, T, F, H) | cell | dtype | call | fastrnn ms | torch ms | torch/fastrnn | spread |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(1):
        for problem in opts.problems:
            for cell in opts.cells:
                for dtype in opts.dtypes:
                    X, y, H = make_problem(problem, dtype)
                    fr_fit, fr_predict, clf = fastrnn_side(cell, X, y, H, opts.epochs)
                    t_fit, t_predict, model = torch_side(torch, cell, X, y, H, opts.epochs)
                    if not (np.isfinite(clf.loss_) and np.isfinite(model.loss_)):
                        raise RuntimeError(f"{problem} {cell} {dtype}: a fit diverged ({clf.loss_}, {model.loss_})")
                    steps = opts.epochs * math.ceil(len(X) / BATCH)
                    for call, fa, fb, per in (("fit", fr_fit, t_fit, steps), ("predict(1)", fr_predict, t_predict, 1)):
                        a, b, spread, n = interleaved(fa, fb, opts, 1)
                        row = dict(problem=problem, sizes=PROBLEMS[problem], cell=cell, dtype=dtype, call=call,
                                   fastrnn_ms=a / per * 1e3, torch_ms=b / per * 1e3, ratio=b / a, spread=spread,
                                   samples=n)
                        rows.append(row)
                        unit = " a minibatch" if call == "fit" else ""
                        print(f"| {problem} {PROBLEMS[problem]} | {cell} | {dtype} | {call}{unit} | "
                              f"{row['fastrnn_ms']:.3g} | {row['torch_ms']:.3g} | {row['ratio']:.2f} | "
                              f"{spread:.0%} |", flush=True)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(dict(options={k: v for k, v in vars(opts).items() if k != "json"}, rows=rows), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
