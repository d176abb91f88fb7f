"""The package's top level: its public names, and what `import fastrnn` loads."""
import subprocess
import sys

import pytest

import fastrnn


def test_every_public_name_resolves():
    for name in fastrnn.__all__:
        assert getattr(fastrnn, name) is not None, name
    assert set(fastrnn.__all__) <= set(dir(fastrnn))
    from fastrnn import RNNClassifier, interop
    from fastrnn._estimators import RNNClassifier as defined

    assert RNNClassifier is defined and interop.__name__ == "fastrnn.interop"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'RNNClasifier'"):
        fastrnn.RNNClasifier


def run(code):
    """Run `code` in a fresh interpreter (this one has scikit-learn loaded already) and return its output."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_functional_api_does_not_import_scikit_learn():
    # scikit-learn's import takes most of a second, and only the estimators need it (fastrnn/__init__.py).
    code = (
        "import sys, numpy as np, fastrnn\n"
        "from fastrnn import functional, interop\n"
        "layers = interop.from_torch({'weight_ih_l0': np.ones((4, 2)), 'weight_hh_l0': np.ones((4, 1)),"
        " 'bias_ih_l0': np.zeros(4), 'bias_hh_l0': np.zeros(4)})\n"
        "functional.lstm(np.zeros((3, 5, 2)), layers)\n"
        "print('sklearn' in sys.modules)\n"
        "fastrnn.RNNClassifier\n"
        "print('sklearn' in sys.modules)\n"
    )
    assert run(code) == ["False", "True"]
