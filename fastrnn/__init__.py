"""fastrnn: recurrent neural networks (RNN, LSTM, GRU) for the CPU, with scikit-learn estimators."""
import importlib

from . import functional

__all__ = [
    "RNNClassifier", "RNNForecaster", "RNNRegressor", "SequenceScaler", "StreamState", "functional", "interop",
    "make_windows",
]
__version__ = "0.1.0.dev0"

# The estimators import scikit-learn, which takes most of a second (0.6 s of `import fastrnn`'s 0.9 s on the
# development VM); fastrnn.functional and fastrnn.interop's weights need none of it. So these names are imported
# when first used (PEP 562), and `import fastrnn` for the functional API does not wait for scikit-learn.
_LAZY = {
    "RNNClassifier": "_estimators", "RNNRegressor": "_estimators", "StreamState": "_estimators",
    "RNNForecaster": "_forecast", "make_windows": "_forecast", "SequenceScaler": "_scaler", "interop": None,
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _LAZY[name]
    value = importlib.import_module(f"{__name__}.{module or name}")
    if module is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
