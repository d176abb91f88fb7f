"""fastrnn: recurrent neural networks (RNN, LSTM, GRU) for the CPU, with scikit-learn estimators."""
from . import functional
from ._estimators import RNNClassifier, RNNRegressor
from ._scaler import SequenceScaler

__all__ = ["RNNClassifier", "RNNRegressor", "SequenceScaler", "functional"]
__version__ = "0.1.0.dev0"
