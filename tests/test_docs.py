"""The documentation's examples run as written: every docstring example of the public modules (doctest, outputs
compared), and every Python block of README.md."""
import doctest
import importlib
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

MODULES = ["fastrnn._estimators", "fastrnn._forecast", "fastrnn._scaler", "fastrnn._sequences", "fastrnn.functional",
           "fastrnn.interop"]
README = Path(__file__).resolve().parent.parent / "README.md"


def strict_warnings():
    """Inside catch_warnings: an example that warns (a fit that stops short, an overflow) shows its reader a
    warning, so it fails here; the deprecations of the libraries a fresh install brings are theirs, and only show."""
    warnings.simplefilter("error")
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.simplefilter("default", category)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(module) if t.examples]
    for test in tests:
        with warnings.catch_warnings():
            strict_warnings()
            runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples of {name} failed (output above)"


def test_every_public_module_with_examples_is_run():
    # A new module with examples is not forgotten: the package's modules with docstring examples are MODULES.
    package = Path(importlib.import_module("fastrnn").__file__).parent
    with_examples = {f"fastrnn.{p.stem}" for p in package.glob("*.py") if ">>> " in p.read_text()}
    assert with_examples == set(MODULES)


def readme_blocks():
    """The ```python blocks of README.md, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def write_safetensors(path, tensors):
    """A .safetensors file (an 8-byte header length, a JSON header, the raw data) of float32 arrays."""
    import json
    import struct
    header, data, offset = {}, b"", 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    blocks = readme_blocks()
    assert len(blocks) >= 6
    # The files that the functional-API and interop examples read, as their comments describe them: an LSTM's
    # state_dict of 8 input features, and a classifier of the streaming example's X (2 features) with a head.
    rng = np.random.default_rng(0)
    H, F = 5, 8
    np.savez(tmp_path / "lstm_weights.npz", weight_ih_l0=rng.normal(size=(4 * H, F)),
             weight_hh_l0=rng.normal(size=(4 * H, H)), bias_ih_l0=np.zeros(4 * H), bias_hh_l0=np.zeros(4 * H))
    write_safetensors(tmp_path / "model.safetensors", {
        "weight_ih_l0": rng.normal(size=(3 * H, 2)), "weight_hh_l0": rng.normal(size=(3 * H, H)),
        "bias_ih_l0": np.zeros(3 * H), "bias_hh_l0": np.zeros(3 * H),
        "head.weight": rng.normal(size=(2, H)), "head.bias": np.zeros(2)})
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with warnings.catch_warnings():
        strict_warnings()
        for i, block in enumerate(blocks):
            # One namespace, as a reader running them in turn: the interop example predicts on the streaming
            # one's X.
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "nan" not in printed.lower()
