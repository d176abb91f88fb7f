"""fastrnn's benchmarks: an airspeed velocity (asv) suite, and scripts comparing with PyTorch.

The asv suite follows scikit-learn's ``asv_benchmarks`` layout: ``common.py`` holds the shapes, the data and the
base class, and one file per area holds parameterised classes whose ``time_*``, ``peakmem_*`` and ``track_*``
methods asv collects:

- ``bench_kernels.py``: the compiled kernels through ``fastrnn._cells``, inference and one training step
  (forward + backward) for every DESIGN shape (tiny, small, medium, large, stream, long, probe), cell and dtype,
  at 1 and 2 BLAS threads; and 100 streaming one-step calls.
- ``bench_estimators.py``: ``RNNClassifier.fit`` for exactly 5 epochs (time and peak memory), ``predict`` of 1 and
  of 1000 sequences, 100 ``RNNRegressor.predict_step`` calls, and the accuracy of a 30-epoch fit on a fixed
  synthetic task (``track_*``).

Run it from the repository's root (where ``asv.conf.json`` is). Once per machine, ``asv machine --yes`` records
the machine's description with default answers (asv asks interactively otherwise). Then::

    python -m pip install -e ".[bench]"     # asv (and virtualenv, which asv uses)
    asv machine --yes
    asv run --quick --python=same --launch-method forkserver   # the installed fastrnn in this Python: ~2 min
    asv run --quick --launch-method forkserver                 # builds main's last commit in .asv/env: ~3-4 min
    asv run --launch-method forkserver                         # the measurement: repeated samples; long
    asv continuous --launch-method forkserver main HEAD        # compare two commits (asv compare, publish...)

``--quick`` runs every benchmark once (no repeats, no warm-up): a check that the suite works, not a measurement
(its single call also pays first-call costs). ``--python=same`` benchmarks the fastrnn importable from the
current Python (the editable install of the working tree), so it measures uncommitted changes; without it asv
builds commits (``pip wheel`` of the checked-out commit, then ``pip install`` of the wheel into a virtualenv) and
needs a compiler and network access for the build dependencies. ``--launch-method forkserver`` (Linux, macOS)
imports numpy, scipy, scikit-learn and fastrnn once instead of once per parameter combination: asv's default
("spawn") works too, but pays the imports (over a second on a busy 2-core machine) for each of the ~250
parameter combinations, several minutes in all. Results and environments go under ``.asv/`` (git-ignored).

The slowest combinations are honest rather than pruned: a full ``asv run`` spends most of its time on the "large"
shape. To time a subset, ``FASTRNN_BENCH_SHAPES=tiny,small,medium`` and/or ``FASTRNN_BENCH_THREADS=1`` (comma-
separated) make the other kernel combinations skip (reported as n/a) without changing the parameter grid, and
``--bench`` (a regular expression, e.g. ``--bench StepSuite``) selects benchmarks.

``compare_torch.py`` times fastrnn and ``torch.nn`` side by side in one process, interleaved
(``python benchmarks/compare_torch.py --quick``; see its docstring), and ``targets.py`` checks the rows of such a
run (its ``--json`` file) against the speed targets or prints them as README's tables; ``compare_accuracy.py``
compares accuracy with a PyTorch LSTM on UCR-style problems. They are scripts, not asv benchmarks.
"""
