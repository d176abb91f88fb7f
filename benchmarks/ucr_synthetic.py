"""Three UCR problems that are defined by a published generator, written from their definitions.

We cannot download the UCR archive here, so these regenerate the synthetic UCR problems from the formulas in the
papers that introduced them (the arrays are new draws, not the archive's files):

- ``CBF``: Cylinder-Bell-Funnel (Saito 1994), 3 classes, length 128, UCR split 30 / 900.
- ``SyntheticControl``: control charts (Alcock & Manolopoulos 1999, after Pham & Chan 1998), 6 classes, length 60,
  UCR split 300 / 300.
- ``TwoPatterns``: (Geurts 2002), 4 classes, length 128, UCR split 1000 / 4000.

As in the UCR archive, every series is z-normalised on its own (mean 0, standard deviation 1 over its steps).

    from benchmarks.ucr_synthetic import load
    X_train, y_train, X_test, y_test = load("CBF", random_state=0)   # (30, 128), (30,), (900, 128), (900,)
"""
import numpy as np

__all__ = ["make_cbf", "make_synthetic_control", "make_two_patterns", "load", "DATASETS"]


def _znormalise(X):
    """Each row to mean 0 and standard deviation 1 (a constant row becomes zeros), as the UCR archive does."""
    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, keepdims=True)
    return (X - mu) / np.where(sd > 0, sd, 1.0)


def _balanced_labels(n_samples, n_classes, rng):
    """n_samples labels with the classes as equal in size as possible, in random order."""
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    return y


def make_cbf(n_samples, random_state=None):
    """Cylinder-Bell-Funnel (N. Saito, "Local feature extraction and its applications using a library of bases",
    PhD thesis, Yale University, 1994).

    For t = 1, ..., 128, with a ~ U{16, ..., 32}, b - a ~ U{32, ..., 96}, eta ~ N(0, 1) drawn once per series
    and eps(t) ~ N(0, 1) drawn at every step, and chi_[a,b] the indicator of a <= t <= b:

        cylinder  c(t) = (6 + eta) chi_[a,b](t)                         + eps(t)
        bell      b(t) = (6 + eta) chi_[a,b](t) (t - a) / (b - a)       + eps(t)
        funnel    f(t) = (6 + eta) chi_[a,b](t) (b - t) / (b - a)       + eps(t)

    Labels 0 (cylinder), 1 (bell), 2 (funnel), balanced. Each series is then z-normalised.

    Returns
    -------
    X : (n_samples, 128) float64
    y : (n_samples,) int
    """
    rng = np.random.default_rng(random_state)
    T = 128
    t = np.arange(1, T + 1, dtype=np.float64)
    y = _balanced_labels(n_samples, 3, rng)
    a = rng.integers(16, 32, size=n_samples, endpoint=True).astype(np.float64)
    b = a + rng.integers(32, 96, size=n_samples, endpoint=True)
    eta = rng.standard_normal(n_samples)
    eps = rng.standard_normal((n_samples, T))
    a, b, eta = a[:, None], b[:, None], eta[:, None]
    chi = ((t >= a) & (t <= b)).astype(np.float64)
    shape = np.where(y[:, None] == 0, 1.0, np.where(y[:, None] == 1, (t - a) / (b - a), (b - t) / (b - a)))
    X = (6.0 + eta) * chi * shape + eps
    return _znormalise(X), y


def make_synthetic_control(n_samples, random_state=None):
    """Synthetic control charts (R. J. Alcock and Y. Manolopoulos, "Time-series similarity queries employing a
    feature-based approach", 7th Hellenic Conference on Informatics, 1999; the generator of D. T. Pham and
    A. B. Chan, 1998).

    For t = 1, ..., 60, with m = 30, s = 2 and r(t) ~ U[-3, 3] drawn at every step:

        0 normal            y(t) = m + r(t) s
        1 cyclic            y(t) = m + r(t) s + a sin(2 pi t / T),    a ~ U[10, 15], T ~ U[10, 15]
        2 increasing trend  y(t) = m + r(t) s + g t,                  g ~ U[0.2, 0.5]
        3 decreasing trend  y(t) = m + r(t) s - g t
        4 upward shift      y(t) = m + r(t) s + k(t) x,               x ~ U[7.5, 20], k(t) = [t >= t3],
        5 downward shift    y(t) = m + r(t) s - k(t) x                t3 ~ U{20, ..., 40} (n/3 to 2n/3)

    with a, T, g, x, t3 drawn once per series. Labels 0..5, balanced. Each series is then z-normalised (the UCR
    archive's copy is; note that this turns a "normal" series into white noise).

    Returns
    -------
    X : (n_samples, 60) float64
    y : (n_samples,) int
    """
    rng = np.random.default_rng(random_state)
    T = 60
    t = np.arange(1, T + 1, dtype=np.float64)
    y = _balanced_labels(n_samples, 6, rng)
    m, s = 30.0, 2.0
    X = m + rng.uniform(-3, 3, size=(n_samples, T)) * s
    amp = rng.uniform(10, 15, size=n_samples)
    period = rng.uniform(10, 15, size=n_samples)
    g = rng.uniform(0.2, 0.5, size=n_samples)
    x = rng.uniform(7.5, 20, size=n_samples)
    t3 = rng.integers(T // 3, 2 * T // 3, size=n_samples, endpoint=True)
    for i in range(n_samples):
        if y[i] == 1:
            X[i] += amp[i] * np.sin(2 * np.pi * t / period[i])
        elif y[i] in (2, 3):
            X[i] += (1 if y[i] == 2 else -1) * g[i] * t
        elif y[i] in (4, 5):
            X[i] += (1 if y[i] == 4 else -1) * (t >= t3[i]) * x[i]
    return _znormalise(X), y


def make_two_patterns(n_samples, random_state=None):
    """Two patterns (P. Geurts, "Contributions to decision tree induction: bias/variance tradeoff and time series
    classification", PhD thesis, University of Liege, 2002; also Geurts, "Pattern extraction for time series
    classification", PKDD 2001).

    A class is the order of two patterns, each an upward step ``U`` (-5 for l/2 steps, then +5 for l/2 steps) or a
    downward step ``D`` (+5 then -5), on a background of N(0, 1) noise; a pattern replaces the noise where it lies:

        0 U then U,   1 U then D,   2 D then U,   3 D then D

    Series of length 128. Pattern lengths l1, l2 = 2 * U{8, ..., 16} (so 16 to 32 steps, an even number so each
    half is whole); the first starts at t1 ~ U{0, ..., 128 - l1 - l2} and the second at t2 ~ U{t1 + l1, ...,
    128 - l2}, so they never overlap and the first always comes first. Labels are drawn uniformly at random (the
    UCR file's classes are unequal in size too). Each series is then z-normalised.

    The thesis fixes the pattern shapes (+-5 plateaus, constant, in the noise) and the classes; the length and
    position ranges above are our reading, consistent with the UCR file: its z-normalised plateaus sit near +-1.7
    (+-5 over a standard deviation of about 3, e.g. two 24-step patterns) and no value exceeds +-1.94 in the whole
    archive copy (which two shortest, 16-step, patterns give: 5 / sqrt(0.25 * 25 + 0.75) = 1.89, up to the noise).

    Returns
    -------
    X : (n_samples, 128) float64
    y : (n_samples,) int
    """
    rng = np.random.default_rng(random_state)
    T = 128
    y = rng.integers(0, 4, size=n_samples)
    X = rng.standard_normal((n_samples, T))
    for i in range(n_samples):
        l1, l2 = 2 * rng.integers(8, 16, size=2, endpoint=True)
        t1 = rng.integers(0, T - l1 - l2, endpoint=True)
        t2 = rng.integers(t1 + l1, T - l2, endpoint=True)
        first_up, second_up = y[i] in (0, 1), y[i] in (0, 2)
        for start, length, up in ((t1, l1, first_up), (t2, l2, second_up)):
            half = length // 2
            sign = 1.0 if up else -1.0
            X[i, start:start + half] = -5.0 * sign
            X[i, start + half:start + length] = 5.0 * sign
    return _znormalise(X), y


# name -> (generator, UCR train size, UCR test size)
DATASETS = {
    "CBF": (make_cbf, 30, 900),
    "SyntheticControl": (make_synthetic_control, 300, 300),
    "TwoPatterns": (make_two_patterns, 1000, 4000),
}


def load(name, random_state=0, n_train=None, n_test=None):
    """X_train, y_train, X_test, y_test of a UCR-sized problem (train and test from independent streams).

    `n_train` / `n_test` override the UCR split sizes (e.g. a smaller TwoPatterns test set to save time).
    """
    try:
        make, default_train, default_test = DATASETS[name]
    except KeyError:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {sorted(DATASETS)}.") from None
    n_train = default_train if n_train is None else n_train
    n_test = default_test if n_test is None else n_test
    seeds = np.random.SeedSequence([random_state, sorted(DATASETS).index(name)]).spawn(2)
    X_train, y_train = make(n_train, np.random.default_rng(seeds[0]))
    X_test, y_test = make(n_test, np.random.default_rng(seeds[1]))
    return X_train, y_train, X_test, y_test
