"""fastrnn: recurrent neural networks (RNN, LSTM, GRU) for the CPU, with scikit-learn estimators."""

__version__ = "0.1.0.dev0"
