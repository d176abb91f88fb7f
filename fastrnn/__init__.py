"""fastrnn: recurrent neural networks (RNN, LSTM, GRU) for the CPU, with scikit-learn estimators."""
from . import functional, interop
from ._estimators import RNNClassifier, RNNRegressor, StreamState
from ._forecast import RNNForecaster, make_windows
from ._scaler import SequenceScaler

__all__ = [
    "RNNClassifier", "RNNForecaster", "RNNRegressor", "SequenceScaler", "StreamState", "functional", "interop",
    "make_windows",
]
__version__ = "0.1.0.dev0"
