"""Two or three training classes: which anchor, and a head or not, when no
class can be held out?

With fewer than 4 training classes no class can be held out, and samples of
the training classes can say how well those classes are separated, not what
transfers to new ones. Compared by them, the anchors' best is most often the
closed form, which separates exactly the training classes; so
``init="auto"`` there keeps the anchor it keeps where held-out classes are
too few to choose, not compared (``_selection.fixed_anchor``), alone: no
held-out class can show that a head transfers
(``_fitting._fixed_anchor_alone``).

Each draw trains on 2 or 3 classes of a dataset and clusters the classes
never seen in training (k-means NMI, k = their number): scikit-learn's
digits (pixels / 16; the other 7 or 8 digits), LetterRecognition
(``datasets.letters``: classes drawn from A-M, the letters N-Z unseen) and
the olive oils by area (``tabular_suite.py``, standardised by the training
classes; the other areas). Compared in the same run: raw features, the
defaults, the estimator with ``validation_split="samples"`` (which compares
the anchors on the held-out samples and trains a head beside the best),
the estimator with ``init="whitened", shrinkage=0.1`` (the whitened anchor
at its fixed shrinkage, a head trained beside it and its epochs chosen by
held-out samples), and the defaults' anchor with such a head (``init`` and
``shrinkage`` set to ``fixed_anchor``'s: the PLDA anchor on Ledoit-Wolf's
covariance for LetterRecognition and the olive oils, whose classes leave
few directions unspanned, the whitened anchor at 0.1 for the digits' 64
pixels).

``--kept-span`` measures raw features, the defaults, the whitened anchor
at 0.1 with its head and alone, and the defaults' anchor with its head on
the datasets of ``few_kept_span.py`` (with its ``--more`` and ``--fresh``)
whose 2 training classes leave at most ``FEW_KEPT_UNSPANNED`` directions
unspanned, drawn as that script draws them but with 2 or 3 training
classes (the page ``few_classes_kept_span``).

``--seen`` asks what leaving the head out costs the training classes
themselves: on the same datasets and draws, the defaults and the defaults'
anchor with a head are fitted on 70 % of the training classes' rows
(stratified), and scored on the unseen classes, on the other 30 % (k-means
NMI, and the accuracy of ``predict``), and by their fit time (the page
``few_classes_seen``).

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/few_classes.py``; ``--help`` lists the options.
"""

import argparse
import functools
import time
import warnings

import few_kept_span
import numpy as np
import tabular_suite
from datasets import DATASETS
from outputs import add_output, write_results
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import FEW_KEPT_UNSPANNED, fixed_anchor
from sklearn_dsc.metrics import kmeans_nmi

WHITENED = 'init="whitened", shrinkage=0.1'
WITH_HEAD = "the defaults' anchor, a head beside it"
WHITENED_ALONE = "the whitened anchor at 0.1, alone"
METHODS = [
    "raw features",
    "held-out samples choose the anchor",
    "defaults",
    WHITENED,
    WITH_HEAD,
]
# --kept-span: the datasets of few_kept_span.py, without the samples' choice
SPAN_METHODS = ["raw features", WHITENED, WITH_HEAD, WHITENED_ALONE, "defaults"]
# --seen: its two groups of datasets, what each draw scores, and how the
# page names it
SEEN_METHODS = ["defaults", WITH_HEAD]
FEW_CLASSES_DATASETS = "few_classes.md's datasets"
SPAN_DATASETS = "dataset (rows, features, classes)"
SEEN_SCORES = {
    "unseen": "unseen classes",
    "seen": "new rows of the training classes",
    "accuracy": "predict's accuracy on them",
}


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


def estimators(X_train, y_train, seed, methods):
    """``{method: estimator}``, unfitted, for those of ``methods`` that are
    estimators; ``WITH_HEAD``'s anchor is ``fixed_anchor``'s for
    ``X_train``'s classes."""
    n_classes = len(np.unique(y_train))
    init, shrinkage = fixed_anchor("auto", "auto", n_classes, X_train.shape[1])
    every = {
        "held-out samples choose the anchor": DeepSpectralClusteringEmbedder(
            validation_split="samples", random_state=seed
        ),
        "defaults": DeepSpectralClusteringEmbedder(random_state=seed),
        WHITENED: DeepSpectralClusteringEmbedder(
            init="whitened", shrinkage=0.1, random_state=seed
        ),
        WITH_HEAD: DeepSpectralClusteringEmbedder(
            init=init, shrinkage=shrinkage, random_state=seed
        ),
    }
    return {name: e for name, e in every.items() if name in methods}


def measure(X_train, y_train, X_test, y_test, seed, methods=METHODS):
    """Each of ``methods``' unseen-class NMI, and the anchor each estimator
    kept."""
    chosen = estimators(X_train, y_train, seed, methods)
    nmi = {"raw features": kmeans_nmi(X_test, y_test, random_state=seed)}
    kept = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, estimator in chosen.items():
            estimator.fit(X_train, y_train)
            embedded = estimator.transform(X_test)
            nmi[name] = kmeans_nmi(embedded, y_test, random_state=seed)
            kept[name] = estimator.init_
    if WHITENED_ALONE in methods:
        codes = np.unique(y_train, return_inverse=True)[1]
        ((weight, bias),) = anchor_maps([("whitened", 0.1)], X_train, codes, seed)
        embedded = X_test @ weight.T + bias
        nmi[WHITENED_ALONE] = kmeans_nmi(embedded, y_test, random_state=seed)
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
    draw's measure]}}`` over ``kept_span_datasets``: 2 training classes on
    even draws, 3 on odd ones, drawn as ``few_kept_span.py`` draws."""
    results = {}
    for name, (X, y, standardise) in kept_span_datasets().items():
        draws = []
        for seed in range(args.draws):
            halves = few_kept_span.drawn(X, y, seed, standardise, smallest=2)
            draws.append(measure(*halves, seed, methods=SPAN_METHODS))
        results[name] = {"shape": few_kept_span.shape_of(X, y), "draws": draws}
        nmi = {m: np.mean([run["nmi"][m] for run in draws]) for m in SPAN_METHODS}
        print(
            f"{name}: " + ", ".join(f"{m} {v:.3f}" for m, v in nmi.items()), flush=True
        )
    return results


def kept_span_datasets():
    """``{name: (X, y, standardise)}``: the datasets of ``few_kept_span.py``
    (with its ``--more`` and ``--fresh``) of at least its ``MIN_CLASSES``
    classes, whose 2 training classes leave at most ``FEW_KEPT_UNSPANNED``
    directions unspanned."""
    datasets = {}
    for name, loader in few_kept_span.loaders().items():
        X, y, standardise = loader()
        few = few_kept_span.span(2, X.shape[1]) == few_kept_span.LESS
        if len(np.unique(y)) >= few_kept_span.MIN_CLASSES and not few:
            datasets[name] = (X, y, standardise)
    return datasets


def measure_seen(X_train, y_train, X_test, y_test, seed):
    """The defaults and the defaults' anchor with a head, fitted on 70 % of
    the training classes' rows: ``{method: {"unseen", "seen", "accuracy",
    "fit s"}}``, the k-means NMI of the unseen classes and of the other 30 %,
    the accuracy of ``predict`` on those, and the seconds ``fit`` took."""
    X_fit, X_seen, y_fit, y_seen = train_test_split(
        X_train, y_train, test_size=0.3, stratify=y_train, random_state=seed
    )
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        for name, estimator in estimators(X_fit, y_fit, seed, SEEN_METHODS).items():
            began = time.perf_counter()
            estimator.fit(X_fit, y_fit)
            seconds = time.perf_counter() - began
            scores[name] = {
                "unseen": kmeans_nmi(
                    estimator.transform(X_test), y_test, random_state=seed
                ),
                "seen": kmeans_nmi(
                    estimator.transform(X_seen), y_seen, random_state=seed
                ),
                "accuracy": float(np.mean(estimator.predict(X_seen) == y_seen)),
                "fit s": seconds,
            }
    return scores


def run_seen(args):
    """``{group: {"<dataset>": {"draws": [one draw's measure_seen], "shape":
    [rows, features, classes] (for SPAN_DATASETS)}}}``: the datasets of
    ``CASES`` drawn as ``run`` draws them (``FEW_CLASSES_DATASETS``), then
    ``kept_span_datasets`` drawn as ``run_kept_span`` draws them."""

    def measured(key, halves, shape=None):
        draws = [measure_seen(*halves(seed), seed) for seed in range(args.draws)]
        gains = {what: seen_gain(draws, what) for what in SEEN_SCORES}
        print(
            f"{key}: " + ", ".join(f"{w} {g:+.3f}" for w, g in gains.items()),
            flush=True,
        )
        return {"draws": draws} if shape is None else {"shape": shape, "draws": draws}

    cases, spans = {}, {}
    for name in args.datasets:
        loader, standardise = CASES[name]
        data = loader()
        for n_train in args.classes:
            key = f"{name}, {n_train} classes"
            halves = functools.partial(drawn, data, n_train, standardise=standardise)
            cases[key] = measured(key, halves)
    for name, (X, y, standardise) in kept_span_datasets().items():
        halves = functools.partial(
            few_kept_span.drawn, X, y, standardise=standardise, smallest=2
        )
        spans[name] = measured(name, halves, few_kept_span.shape_of(X, y))
    return {FEW_CLASSES_DATASETS: cases, SPAN_DATASETS: spans}


def gain_summary(label, by_name, counted="datasets"):
    """One line of a page's summary: the gains ``by_name`` (a dataset's name
    to a mean gain) in mean, median, counts and extremes."""
    values = np.array(list(by_name.values()))
    worst, best = min(by_name, key=by_name.get), max(by_name, key=by_name.get)
    return (
        f"- {label}: {values.mean():+.3f} on average over {len(values)} "
        f"{counted} (median {np.median(values):+.3f}), above by more than 0.005 "
        f"on {(values > 0.005).sum()} and below on {(values < -0.005).sum()}; "
        f"at worst {by_name[worst]:+.3f} ({worst}), at best "
        f"{by_name[best]:+.3f} ({best})."
    )


def seen_gain(draws, what):
    """The defaults less the defaults' anchor with a head, in ``what`` (one
    of ``SEEN_SCORES``), mean over ``draws``."""
    return np.mean([draw["defaults"][what] - draw[WITH_HEAD][what] for draw in draws])


def seen_markdown(results, args):
    lines = [
        "# Two or three training classes: what the head does for them",
        "",
        f"Generated by `python benchmarks/few_classes.py --seen` ({args.draws} "
        "draws each: the datasets of `few_classes.md`, then those of "
        "`few_classes_kept_span.md`, drawn as those pages draw them). Each "
        "estimator is fitted on 70 % of the training classes' rows; *unseen "
        "classes*: the k-means NMI of the unseen ones, *new rows of the training "
        "classes*: of the other 30 %, and *predict's accuracy on them*. Each "
        "cell is the defaults (the anchor `_selection.fixed_anchor` keeps, "
        "alone) less that anchor with a head trained beside it (its epochs "
        "chosen by held-out samples), mean over draws.",
    ]
    seconds = dict.fromkeys(SEEN_METHODS, 0.0)
    for group, counted in (
        (FEW_CLASSES_DATASETS, "settings"),
        (SPAN_DATASETS, "datasets"),
    ):
        lines += [
            "",
            f"| {group} | " + " | ".join(SEEN_SCORES.values()) + " |",
            "|---" * (len(SEEN_SCORES) + 1) + "|",
        ]
        gains = {what: {} for what in SEEN_SCORES}
        for name, result in results[group].items():
            draws = result["draws"]
            for what in SEEN_SCORES:
                gains[what][name] = seen_gain(draws, what)
            for method in seconds:
                seconds[method] += sum(d[method]["fit s"] for d in draws)
            cells = " | ".join(f"{gains[what][name]:+.3f}" for what in SEEN_SCORES)
            if "shape" in result:
                name = few_kept_span.described(name, result["shape"])
            lines.append(f"| {name} | {cells} |")
        lines.append("")
        lines += [
            gain_summary(label, gains[what], counted)
            for what, label in SEEN_SCORES.items()
        ]
    lines.append(
        f"- fit time, every draw of every dataset: {seconds['defaults']:.1f} s "
        f"for the defaults against {seconds[WITH_HEAD]:.1f} s with a head "
        f"({seconds['defaults'] / seconds[WITH_HEAD]:.3f}x)."
    )
    return "\n".join(lines) + "\n"


# --kept-span: the differences the page gives, each a method less another
KEPT_SPAN_GAINS = {
    "the head left out": ("defaults", WITH_HEAD),
    "the PLDA anchor, a head beside each": (WITH_HEAD, WHITENED),
    "the PLDA anchor, both alone": ("defaults", WHITENED_ALONE),
}


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
        "PLDA anchor on Ledoit-Wolf's covariance, alone. The estimators with a "
        "head train it beside their anchor, its epochs chosen by held-out "
        f"samples: `{WHITENED}` beside the whitened anchor at 0.1, *{WITH_HEAD}* "
        "beside the PLDA one. The last columns are the differences summed up "
        "below the table.",
        "",
        "| dataset (rows, features, classes) | "
        + " | ".join(SPAN_METHODS)
        + " | "
        + " | ".join(f"{a} - {b}" for a, b in KEPT_SPAN_GAINS.values())
        + " |",
        "|---" * (len(SPAN_METHODS) + len(KEPT_SPAN_GAINS) + 1) + "|",
    ]
    gains = {what: {} for what in KEPT_SPAN_GAINS}
    for name, result in results.items():
        draws = result["draws"]
        means = {m: np.mean([run["nmi"][m] for run in draws]) for m in SPAN_METHODS}
        for what, (method, other) in KEPT_SPAN_GAINS.items():
            gains[what][name] = means[method] - means[other]
        cells = [f"{means[m]:.3f}" for m in SPAN_METHODS]
        cells += [f"{gains[what][name]:+.3f}" for what in KEPT_SPAN_GAINS]
        described = few_kept_span.described(name, result["shape"])
        lines.append(f"| {described} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [gain_summary(what, by_name) for what, by_name in gains.items()]
    return "\n".join(lines) + "\n"


def markdown(results, args):
    lines = [
        "# Two or three training classes",
        "",
        f"Generated by `python benchmarks/few_classes.py` ({args.draws} draws "
        "of the training classes each). k-means NMI of the classes never seen "
        "in training, mean ± std over draws; the best of each row in bold. "
        "*kept*: the anchors the held-out samples chose, over the draws. The "
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
    parser.add_argument(
        "--seen",
        action="store_true",
        help="those datasets, scored on new rows of the training classes too "
        "(few_classes_seen)",
    )
    kept_span, seen = "few_classes_kept_span.md", "few_classes_seen.md"
    add_output(parser, "few_classes", kept_span, seen, "and their .json")
    args = parser.parse_args(argv)
    if args.seen:
        results = run_seen(args)
        write_results(
            args.output, "few_classes_seen", seen_markdown(results, args), results
        )
        return
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
