"""Two or three training classes: which anchor, when no class can be held out?

With fewer than 4 training classes ``validation_split="auto"`` holds out
samples instead of whole classes, and samples of the training classes can
say how well those classes are separated, not what transfers to new ones.
Compared by them, the anchors' best is most often the closed form, which
separates exactly the training classes; so ``init="auto"`` there takes the whitened
anchor at its fixed shrinkage, not compared, and the samples still choose
the head's epochs (``_fitting._too_few_classes_to_hold_out``).

Each draw trains on 2 or 3 classes of a dataset and clusters the classes
never seen in training (k-means NMI, k = their number): scikit-learn's
digits (pixels / 16; the other 7 or 8 digits), LetterRecognition
(``datasets.letters``: classes drawn from A-M, the letters N-Z unseen) and
the olive oils by area (``tabular_suite.py``, standardised by the training
classes; the other areas). Compared in the same run: raw features, the
defaults, the estimator with ``validation_split="samples"`` (which compares
the anchors on the held-out samples), and the whitened anchor alone.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/few_classes.py``; ``--help`` lists the options.
"""

import argparse
import warnings

import numpy as np
import tabular_suite
from datasets import DATASETS
from outputs import add_output, write_results
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import DEFAULT_SHRINKAGE
from sklearn_dsc.metrics import kmeans_nmi

METHODS = [
    "raw features",
    "held-out samples choose the anchor",
    "defaults",
    "whitened anchor alone",
]


def digits():
    """Pixels / 16; the unseen classes are the digits not drawn."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y, None, None


def letters():
    """Standardised features; classes drawn from A-M, N-Z unseen."""
    return DATASETS["letters"]()


def olive():
    """The suite's olive oils by area; the unseen classes are the other
    areas (standardised by the training classes, as the suite does)."""
    X, y = tabular_suite.load("olive oils by area")
    return X, y, None, None


# name: (loader, whether to standardise by the training classes)
CASES = {
    "digits": (digits, False),
    "letters": (letters, False),
    "olive oils": (olive, True),
}


def drawn(data, n_train, seed, standardise):
    """``X_train, y_train, X_test, y_test``: ``n_train`` classes of ``data``
    (a loader's output) drawn with ``seed``; the unseen ones are the
    others, or the loader's unseen half where it has one."""
    X, y, X_test, y_test = data
    classes = np.random.RandomState(seed).permutation(np.unique(y))[:n_train]
    seen = np.isin(y, classes)
    if X_test is None:
        X_test, y_test = X[~seen], y[~seen]
    X_train, y_train = X[seen], y[seen]
    if standardise:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, y_train, X_test, y_test


def measure(X_train, y_train, X_test, y_test, seed):
    """Each method's unseen-class NMI, and the anchor each estimator kept."""
    estimators = {
        "held-out samples choose the anchor": DeepSpectralClusteringEmbedder(
            validation_split="samples", random_state=seed
        ),
        "defaults": DeepSpectralClusteringEmbedder(random_state=seed),
    }
    nmi = {"raw features": kmeans_nmi(X_test, y_test, random_state=seed)}
    kept = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, estimator in estimators.items():
            estimator.fit(X_train, y_train)
            embedded = estimator.transform(X_test)
            nmi[name] = kmeans_nmi(embedded, y_test, random_state=seed)
            kept[name] = estimator.init_
        anchor = ("whitened", DEFAULT_SHRINKAGE)
        ((weight, bias),) = anchor_maps([anchor], X_train, y_train, seed)
        embedded = X_test @ weight.T + bias
        nmi["whitened anchor alone"] = kmeans_nmi(embedded, y_test, random_state=seed)
    return {"nmi": nmi, "kept": kept}


def run(args):
    """``{"<dataset>, <n> classes": [one draw's measure]}``."""
    results = {}
    for name in args.datasets:
        loader, standardise = CASES[name]
        data = loader()
        for n_train in args.classes:
            key = f"{name}, {n_train} classes"
            results[key] = []
            for seed in range(args.draws):
                halves = drawn(data, n_train, seed, standardise)
                results[key].append(measure(*halves, seed))
                nmi = results[key][-1]["nmi"]
                print(
                    f"{key}, draw {seed}: "
                    + ", ".join(f"{m} {nmi[m]:.3f}" for m in METHODS),
                    flush=True,
                )
    return results


def markdown(results, args):
    lines = [
        "# Two or three training classes",
        "",
        f"Generated by `python benchmarks/few_classes.py` ({args.draws} draws "
        "of the training classes each). k-means NMI of the classes never seen "
        "in training, mean ± std over draws; the best of each row in bold. "
        "*kept*: the anchors the two estimators kept, over the draws. The "
        "datasets and methods: the script's docstring.",
        "",
        "| training classes | " + " | ".join(METHODS) + " | kept (samples choose) |",
        "|---" * (len(METHODS) + 2) + "|",
    ]
    for key, runs in results.items():
        values = {m: [run["nmi"][m] for run in runs] for m in METHODS}
        best = max(np.mean(v) for v in values.values())
        cells = []
        for method in METHODS:
            text = f"{np.mean(values[method]):.3f} ± {np.std(values[method]):.3f}"
            cells.append(f"**{text}**" if np.mean(values[method]) == best else text)
        chosen = [run["kept"]["held-out samples choose the anchor"] for run in runs]
        counts = ", ".join(f"{n} {chosen.count(n)}" for n in sorted(set(chosen)))
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {counts} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--classes", nargs="+", type=int, default=[2, 3])
    parser.add_argument("--draws", type=int, default=10)
    add_output(parser, "few_classes")
    args = parser.parse_args(argv)
    results = run(args)
    text = markdown(results, args)
    write_results(args.output, "few_classes", text, results)


if __name__ == "__main__":
    main()
