"""Accuracy of RNNClassifier with its defaults against a carefully configured PyTorch LSTM, on UCR problems.

The claim checked: with default parameters (only random_state set), fastrnn's estimators reach accuracy at least
as good as a carefully configured PyTorch LSTM of the same hidden size. The problems are the UCR archive's
generator-defined ones (CBF, SyntheticControl, TwoPatterns; see ucr_synthetic.py), univariate, X as (N, T).

fastrnn: ``RNNClassifier(random_state=seed)`` and nothing else: LSTM, hidden 64, pooling "last", Adam 1e-3,
batch min(32, n), clipnorm 5, alpha 1e-4, max_iter 200 with MLP's stop on the training loss (tol 1e-4,
n_iter_no_change 10), float64 because X is float64.

PyTorch, configured as a careful practitioner would for this task (each choice is the usual advice for LSTM
classifiers, and the same hidden size):
- ``nn.LSTM(1, 64, batch_first=True)`` and ``nn.Linear(64, n_classes)`` on the last hidden state ``h_n[-1]``.
- Initialisation: Glorot-uniform ``weight_ih``, an orthogonal block per gate in ``weight_hh``, zero biases and
  forget-gate bias 1 (Jozefowicz et al. 2015; Keras's defaults). PyTorch's own default is U(-1/sqrt(H), 1/sqrt(H))
  everywhere with no forget bias, which is usually worse; ``--torch-init default`` uses it instead. The Linear
  keeps PyTorch's default init.
- ``Adam(lr=1e-3)`` (betas 0.9/0.999, eps 1e-8), cross-entropy, minibatches of 32 reshuffled every epoch,
  global gradient-norm clipping at 5 (``clip_grad_norm_``), no weight decay (fastrnn's alpha=1e-4 is an L2 of
  alpha/batch = 3e-6 per step: negligible), float32 as torch usually trains.
- Epochs: at most 200 with the same stopping rule as fastrnn (stop when the epoch's mean training loss has not
  fallen by more than 1e-4 below the best for more than 10 consecutive epochs), so neither side gets more passes
  by rule; both epoch counts are reported.

Both run single-threaded (threadpoolctl.threadpool_limits(1) around fastrnn, torch.set_num_threads(1)); fit
seconds cover training only. Note the dtypes differ (fastrnn float64 because X is, torch float32), so the times
are a side note, not the speed benchmark (that is compare_torch.py).

TwoPatterns is generated at UCR's 1000 / 4000 split only with ``--two-patterns-full``; by default it uses a
smaller 300 / 1000 split so a seed fits in about 1.5 minutes on a shared 2-core machine.

    python benchmarks/compare_accuracy.py --quick                     # seed 0, CBF and SyntheticControl
    python benchmarks/compare_accuracy.py                             # seeds 0-2, all three problems
    python benchmarks/compare_accuracy.py --datasets TwoPatterns --seeds 0 --json out.json
    python benchmarks/compare_accuracy.py --quick --set learning_rate_init=3e-3   # a fastrnn override, for study
"""
import argparse
import ast
import json
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ucr_synthetic import load  # noqa: E402

import fastrnn  # noqa: E402

# Imported by main(), not here: asv imports every module of benchmarks/, and torch would inflate its peakmem.
torch = None

HIDDEN = 64
MAX_EPOCHS = 200     # fastrnn's max_iter default
TOL = 1e-4           # fastrnn's tol default
N_NO_CHANGE = 10     # fastrnn's n_iter_no_change default
SMALL_TWO_PATTERNS = (300, 1000)


def fit_fastrnn(X_train, y_train, X_test, y_test, seed, overrides):
    clf = fastrnn.RNNClassifier(random_state=seed, **overrides)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the ConvergenceWarning at max_iter
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = clf.score(X_test, y_test)
    return dict(accuracy=float(accuracy), seconds=seconds, epochs=int(clf.n_iter_),
                final_loss=float(clf.loss_))


def torch_lstm_classifier(n_classes, hidden=HIDDEN, init="careful"):
    """nn.LSTM(1, hidden) and a Linear head on the last hidden state, initialised with care (or as PyTorch)."""

    class TorchLSTMClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, n_classes)
            if init == "careful":
                H = hidden
                with torch.no_grad():
                    torch.nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
                    for g in range(4):
                        torch.nn.init.orthogonal_(self.lstm.weight_hh_l0[g * H:(g + 1) * H])
                    self.lstm.bias_ih_l0.zero_()
                    self.lstm.bias_hh_l0.zero_()
                    self.lstm.bias_ih_l0[H:2 * H] = 1.0     # PyTorch's gate order is i, f, g, o
            elif init != "default":
                raise ValueError(f"init must be 'careful' or 'default', got {init!r}")

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.head(h_n[-1])

    return TorchLSTMClassifier()


def fit_torch(X_train, y_train, X_test, y_test, seed, init="careful", batch_size=32, lr=1e-3, clip=5.0):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    classes, y_enc = np.unique(y_train, return_inverse=True)
    X = torch.tensor(X_train, dtype=torch.float32).unsqueeze(-1)
    Y = torch.tensor(y_enc, dtype=torch.long)
    model = torch_lstm_classifier(len(classes), init=init)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(X)
    best, no_change, epochs = np.inf, 0, 0
    start = time.perf_counter()
    model.train()
    for _ in range(MAX_EPOCHS):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for lo in range(0, n, batch_size):
            idx = order[lo:lo + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            total += loss.item() * len(idx)
        epochs += 1
        epoch_loss = total / n
        # fastrnn's (MLP's) rule on the training loss
        no_change = no_change + 1 if epoch_loss > best - TOL else 0
        best = min(best, epoch_loss)
        if no_change > N_NO_CHANGE:
            break
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(X_test, dtype=torch.float32).unsqueeze(-1)).argmax(1).numpy()
    accuracy = float(np.mean(classes[pred] == y_test))
    return dict(accuracy=accuracy, seconds=seconds, epochs=epochs, final_loss=epoch_loss)


def parse_overrides(items):
    overrides = {}
    for item in items or ():
        key, _, value = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seed 0 only, CBF and SyntheticControl only")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default 0 1 2)")
    parser.add_argument("--datasets", nargs="+", choices=["CBF", "SyntheticControl", "TwoPatterns"])
    parser.add_argument("--two-patterns-full", action="store_true", help="TwoPatterns at UCR's 1000 / 4000 split")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--no-torch", action="store_true", help="fastrnn only")
    parser.add_argument("--torch-init", choices=["careful", "default"], default="careful")
    parser.add_argument("--set", action="append", metavar="PARAM=VALUE",
                        help="override a fastrnn parameter (for investigation; the claim is about defaults)")
    args = parser.parse_args(argv)

    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    datasets = args.datasets or (["CBF", "SyntheticControl"] if args.quick
                                 else ["CBF", "SyntheticControl", "TwoPatterns"])
    overrides = parse_overrides(args.set)
    global torch
    try:
        import torch
    except ImportError:  # fastrnn is still reported
        torch = None
    use_torch = torch is not None and not args.no_torch
    if torch is None:
        print("PyTorch is not installed: reporting fastrnn only (pip install torch==2.13.0 for the comparison).")
    if use_torch:
        torch.set_num_threads(1)
    print(f"fastrnn {fastrnn.__version__ if hasattr(fastrnn, '__version__') else ''} from "
          f"{os.path.dirname(fastrnn.__file__)}; torch {torch.__version__ if use_torch else '-'} "
          f"(init {args.torch_init}); fastrnn overrides: {overrides or 'none (defaults)'}")

    rows = []
    header = (f"{'dataset':<21} {'seed':>4} {'n_train':>7} {'n_test':>6}  {'fastrnn acc':>11} {'torch acc':>9}  "
              f"{'fastrnn s':>9} {'torch s':>8}  {'epochs fr/torch':>15}")
    print(header)
    print("-" * len(header))
    for name in datasets:
        sizes = {}
        if name == "TwoPatterns" and not args.two_patterns_full:
            sizes = dict(n_train=SMALL_TWO_PATTERNS[0], n_test=SMALL_TWO_PATTERNS[1])
        for seed in seeds:
            X_train, y_train, X_test, y_test = load(name, random_state=seed, **sizes)
            fr = fit_fastrnn(X_train, y_train, X_test, y_test, seed, overrides)
            th = fit_torch(X_train, y_train, X_test, y_test, seed, init=args.torch_init) if use_torch else None
            row = dict(dataset=name, seed=seed, n_train=len(y_train), n_test=len(y_test),
                       fastrnn_accuracy=fr["accuracy"], fastrnn_seconds=fr["seconds"], fastrnn_epochs=fr["epochs"],
                       fastrnn_final_loss=fr["final_loss"], fastrnn_overrides=overrides,
                       torch_accuracy=th and th["accuracy"], torch_seconds=th and th["seconds"],
                       torch_epochs=th and th["epochs"], torch_final_loss=th and th["final_loss"],
                       torch_init=args.torch_init if th else None)
            rows.append(row)
            fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
            print(f"{name:<21} {seed:>4} {row['n_train']:>7} {row['n_test']:>6}  {fr['accuracy']:>11.4f} "
                  f"{fmt(row['torch_accuracy'], '>9.4f'):>9}  {fr['seconds']:>9.1f} "
                  f"{fmt(row['torch_seconds'], '>8.1f'):>8}  "
                  f"{str(fr['epochs']) + '/' + fmt(row['torch_epochs'], 'd'):>15}", flush=True)
        mine = [r for r in rows if r["dataset"] == name]
        mean = lambda key: (None if mine[0][key] is None  # noqa: E731
                            else float(np.mean([r[key] for r in mine])))
        ta, ts, te = mean("torch_accuracy"), mean("torch_seconds"), mean("torch_epochs")
        print(f"{name + ' mean':<21} {'':>4} {'':>7} {'':>6}  {mean('fastrnn_accuracy'):>11.4f} "
              f"{'-' if ta is None else format(ta, '.4f'):>9}  {mean('fastrnn_seconds'):>9.1f} "
              f"{'-' if ts is None else format(ts, '.1f'):>8}  "
              f"{format(mean('fastrnn_epochs'), '.0f') + '/' + ('-' if te is None else format(te, '.0f')):>15}")
        print("-" * len(header))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"wrote {len(rows)} rows to {args.json}")
    return rows


if __name__ == "__main__":
    main()
