"""Two or three training classes: which anchor, when no class can be held out?

With fewer than 4 training classes ``validation_split="auto"`` holds out
samples instead of whole classes, and samples of the training classes can
say how well those classes are separated, not what transfers to new ones.
Compared by them, the anchors' best is most often the closed form, which
separates exactly the training classes; so ``init="auto"`` there keeps the
anchor it keeps where held-out classes are too few to choose, not compared
(``_selection.fixed_anchor``), and the samples still choose the head's
epochs (``_fitting._too_few_classes_to_hold_out``).

Each draw trains on 2 or 3 classes of a dataset and clusters the classes
never seen in training (k-means NMI, k = their number): scikit-learn's
digits (pixels / 16; the other 7 or 8 digits), LetterRecognition
(``datasets.letters``: classes drawn from A-M, the letters N-Z unseen) and
the olive oils by area (``tabular_suite.py``, standardised by the training
classes; the other areas). Compared in the same run: raw features, the
defaults, the estimator with ``validation_split="samples"`` (which compares
the anchors on the held-out samples), the estimator with
``init="whitened", shrinkage=0.1`` (the whitened anchor at its fixed
shrinkage, the head trained beside it as the defaults train theirs), and
the anchor the defaults keep, alone (``_selection.fixed_anchor``: the PLDA
anchor on Ledoit-Wolf's covariance for LetterRecognition and the olive
oils, whose classes leave few directions unspanned, the whitened anchor
for the digits' 64 pixels).

``--kept-span`` measures raw features, the defaults, the whitened anchor
with its head and the defaults' anchor alone on the datasets of
``few_kept_span.py`` (with its ``--more`` and ``--fresh``) whose 2 training
classes leave at most ``FEW_KEPT_UNSPANNED`` directions unspanned, drawn as
that script draws them but with 2 or 3 training classes (the page
``few_classes_kept_span``).

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/few_classes.py``; ``--help`` lists the options.
"""

import argparse
import warnings

import few_kept_span
import numpy as np
import tabular_suite
from datasets import DATASETS
from outputs import add_output, write_results
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import FEW_KEPT_UNSPANNED, fixed_anchor
from sklearn_dsc.metrics import kmeans_nmi

ANCHOR_ALONE = "the defaults' anchor alone"
WHITENED = 'init="whitened", shrinkage=0.1'
METHODS = [
    "raw features",
    "held-out samples choose the anchor",
    "defaults",
    WHITENED,
    ANCHOR_ALONE,
]
# --kept-span: the datasets of few_kept_span.py, without the samples' choice
SPAN_METHODS = ["raw features", WHITENED, "defaults", ANCHOR_ALONE]


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


def measure(X_train, y_train, X_test, y_test, seed, methods=METHODS):
    """Each of ``methods``' unseen-class NMI, and the anchor each estimator
    kept."""
    estimators = {
        "held-out samples choose the anchor": DeepSpectralClusteringEmbedder(
            validation_split="samples", random_state=seed
        ),
        "defaults": DeepSpectralClusteringEmbedder(random_state=seed),
        WHITENED: DeepSpectralClusteringEmbedder(
            init="whitened", shrinkage=0.1, random_state=seed
        ),
    }
    estimators = {name: e for name, e in estimators.items() if name in methods}
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
        codes = np.unique(y_train, return_inverse=True)[1]
        anchor = fixed_anchor("auto", "auto", codes.max() + 1, X_train.shape[1])
        ((weight, bias),) = anchor_maps([anchor], X_train, codes, seed)
        embedded = X_test @ weight.T + bias
        nmi[ANCHOR_ALONE] = kmeans_nmi(embedded, y_test, random_state=seed)
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


def run_kept_span(args):
    """``{"<dataset>": {"shape": [rows, features, classes], "draws": [one
    draw's measure]}}`` over ``few_kept_span.py``'s datasets (with its
    ``--more`` and ``--fresh``) whose 2 training classes leave at most
    ``FEW_KEPT_UNSPANNED`` directions unspanned: 2 training classes on even
    draws, 3 on odd ones, drawn as that script draws."""
    results = {}
    for name, loader in few_kept_span.loaders().items():
        X, y, standardise = loader()
        few = few_kept_span.span(2, X.shape[1]) == few_kept_span.LESS
        if len(np.unique(y)) < few_kept_span.MIN_CLASSES or few:
            continue
        draws = []
        for seed in range(args.draws):
            halves = few_kept_span.drawn(X, y, seed, standardise, smallest=2)
            draws.append(measure(*halves, seed, methods=SPAN_METHODS))
        results[name] = {"shape": [*X.shape, len(np.unique(y))], "draws": draws}
        nmi = {m: np.mean([run["nmi"][m] for run in draws]) for m in SPAN_METHODS}
        print(
            f"{name}: " + ", ".join(f"{m} {v:.3f}" for m, v in nmi.items()), flush=True
        )
    return results


def kept_span_markdown(results, args):
    lines = [
        "# Two or three training classes, on many datasets",
        "",
        f"Generated by `python benchmarks/few_classes.py --kept-span` ({args.draws} "
        "draws each: 2 training classes on even draws, 3 on odd ones, and up to "
        f"{few_kept_span.MAX_UNSEEN} unseen). k-means NMI of the unseen classes, mean "
        "over draws. The datasets are those of `few_kept_span.py` (with `--more` "
        "and `--fresh`) whose 2 training classes leave at most "
        f"{FEW_KEPT_UNSPANNED} directions unspanned, where the defaults keep the "
        "PLDA anchor on Ledoit-Wolf's covariance; *defaults - whitened*: the "
        f"defaults less the estimator with `{WHITENED}` (the whitened anchor at "
        "0.1, the head trained beside it, as the defaults train theirs).",
        "",
        "| dataset (rows, features, classes) | "
        + " | ".join(SPAN_METHODS)
        + " | defaults - whitened |",
        "|---" * (len(SPAN_METHODS) + 2) + "|",
    ]
    gains = {}
    for name, result in results.items():
        draws = result["draws"]
        means = {m: np.mean([run["nmi"][m] for run in draws]) for m in SPAN_METHODS}
        gains[name] = means["defaults"] - means[WHITENED]
        cells = " | ".join(f"{means[m]:.3f}" for m in SPAN_METHODS)
        described = f"{name} ({', '.join(str(v) for v in result['shape'])})"
        lines.append(f"| {described} | {cells} | {gains[name]:+.3f} |")
    values = np.array(list(gains.values()))
    worst, best = min(gains, key=gains.get), max(gains, key=gains.get)
    lines += [
        "",
        f"The defaults less `{WHITENED}`: {values.mean():+.3f} on average over "
        f"{len(values)} datasets, above by more than 0.005 on "
        f"{(values > 0.005).sum()} and below on {(values < -0.005).sum()}; at "
        f"worst {gains[worst]:+.3f} ({worst}), at best {gains[best]:+.3f} ({best}).",
    ]
    return "\n".join(lines) + "\n"


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
    parser.add_argument(
        "--kept-span",
        action="store_true",
        help="the datasets of few_kept_span.py instead (few_classes_kept_span)",
    )
    add_output(parser, "few_classes", "few_classes_kept_span.md", ".json")
    args = parser.parse_args(argv)
    if args.kept_span:
        results = run_kept_span(args)
        text = kept_span_markdown(results, args)
        write_results(args.output, "few_classes_kept_span", text, results)
        return
    results = run(args)
    text = markdown(results, args)
    write_results(args.output, "few_classes", text, results)


if __name__ == "__main__":
    main()
