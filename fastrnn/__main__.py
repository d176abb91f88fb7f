"""`python -m fastrnn`: train a recurrent classifier on scikit-learn's digits and report accuracy and time.

Each 8x8 digit image is read as a sequence of 8 rows (8 steps of 8 features); a GRU reads the rows top to bottom.
"""
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastrnn import RNNClassifier


def main():
    digits = load_digits()
    X = digits.images / 16.0  # (1797, 8, 8): N sequences, T = 8 steps, F = 8 features
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.25, random_state=0,
                                                        stratify=digits.target)
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(64,), max_iter=30, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # The demo trains a fixed 30 epochs: that they end before the loss settles is the point, not news.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(f"fastrnn: GRU(64) on scikit-learn digits read as {X.shape[1]}-step sequences of {X.shape[2]} features")
    print(f"  train sequences {len(X_train)}, test sequences {len(X_test)}, epochs {clf.n_iter_}")
    print(f"  fit time {seconds:.2f} s ({1000 * seconds / clf.n_iter_:.1f} ms per epoch)")
    print(f"  test accuracy {clf.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
