"""How many rows of each held-out class the anchor choice needs.

``init="auto"`` compares the anchors by k-means on sets of held-out classes
(``_selection.choose_anchor``), at most ``MAX_SCORED_ROWS_PER_CLASS`` rows of
a class and about ``MAX_SCORED_ROWS`` of a set (never fewer than
``MIN_SCORED_ROWS_PER_CLASS`` of a class: ``scored_rows_per_class``).
k-means' cost grows with the rows times the classes; this script measures
what fewer rows do to the choice. For each dataset and seed it runs
``choose_anchor`` with the estimator's settings, scoring every row of the
held-out classes, as many as the defaults score, and 60 and 30 of each
class, and reports the anchor each chose, the k-means NMI of the classes
never seen in training in that anchor (fitted on every training class) and
the seconds of the choice.

The datasets: glyphs and fonts (``datasets.py``; 15 and 30 classes held out
a set, of 200 and 100 rows), and ``datasets.many_rows_a_class`` (400 rows
of each of 240 generated classes in 128 features; 120 training classes, 36
held out a set: 14,400 rows), where the defaults score fewer rows than the
set holds.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/scored_rows.py``; ``--help`` lists the options.
"""

import argparse
import time
import warnings

import numpy as np
from datasets import DATASETS, many_rows_a_class
from outputs import add_output, name_of, write_results
from selection_criteria import VALIDATION_FRACTION
from sklearn.exceptions import ConvergenceWarning
from tabular_choices import defaults_choice

from sklearn_dsc import _selection
from sklearn_dsc._anchors import ClassMoments, anchor_maps
from sklearn_dsc._selection import n_held_out_classes
from sklearn_dsc.metrics import kmeans_nmi

LOADERS = {
    "glyphs": DATASETS["glyphs"],
    "fonts": DATASETS["fonts"],
    "many rows a class": many_rows_a_class,
}
EVERY_ROW = "every row"
DEFAULTS = "the defaults"
# how many rows of each held-out class are scored, by name (None: the
# defaults' MAX_SCORED_ROWS, as it is)
LEVELS = {EVERY_ROW: np.inf, DEFAULTS: None, "60 a class": 60, "30 a class": 30}


def scored_rows(level, n_held_out):
    """``MAX_SCORED_ROWS`` for ``level`` (a row count of each class, or
    ``None`` for the defaults' own) with ``n_held_out`` classes a set."""
    if level is None:
        return _selection.MAX_SCORED_ROWS
    if np.isinf(level):
        return np.iinfo(np.int64).max
    return level * n_held_out


def chosen(X, codes, seed, level, moments):
    """``(anchor, seconds)``: ``choose_anchor``'s choice with the estimator's
    settings (``tabular_choices.defaults_choice``), scoring ``level`` rows of
    each held-out class."""
    n_held_out = n_held_out_classes(VALIDATION_FRACTION, len(np.unique(codes)))
    budget, floor = _selection.MAX_SCORED_ROWS, _selection.MIN_SCORED_ROWS_PER_CLASS
    _selection.MAX_SCORED_ROWS = scored_rows(level, n_held_out)
    if level is not None:
        _selection.MIN_SCORED_ROWS_PER_CLASS = 1
    try:
        start = time.perf_counter()
        anchor = defaults_choice(X, codes, seed, moments=moments)
        return anchor, time.perf_counter() - start
    finally:
        _selection.MAX_SCORED_ROWS = budget
        _selection.MIN_SCORED_ROWS_PER_CLASS = floor


def run(args):
    """``{dataset: [{level: {"anchor", "nmi", "s"}} for each seed]}``."""
    results = {}
    for name in args.datasets:
        X_train, y_train, X_test, y_test = LOADERS[name]()
        codes = np.unique(y_train, return_inverse=True)[1]
        moments = ClassMoments(X_train, codes)
        unseen = {}  # NMI of each anchor met, fitted on every training class
        seeds = []
        for seed in range(args.seeds):
            row = {}
            for level_name, level in LEVELS.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    anchor, seconds = chosen(X_train, codes, seed, level, moments)
                if anchor not in unseen:
                    ((weight, bias),) = anchor_maps([anchor], X_train, codes, 0)
                    embedded = X_test @ weight.T + bias
                    unseen[anchor] = kmeans_nmi(embedded, y_test, random_state=0)
                row[level_name] = {
                    "anchor": name_of(anchor),
                    "nmi": unseen[anchor],
                    "s": seconds,
                }
            seeds.append(row)
            print(
                f"{name}, seed {seed}: "
                + ", ".join(
                    f"{level} {r['anchor']} {r['nmi']:.3f} ({r['s']:.1f} s)"
                    for level, r in row.items()
                ),
                flush=True,
            )
        results[name] = seeds
    return results


def table_rows(results):
    """One row a dataset: each level's mean unseen NMI, seconds and on how
    many seeds it chose the anchor that every row chose."""
    lines = []
    for name, seeds in results.items():
        cells = []
        for level in LEVELS:
            nmi = np.mean([seed[level]["nmi"] for seed in seeds])
            seconds = np.mean([seed[level]["s"] for seed in seeds])
            anchors = [
                (seed[level]["anchor"], seed[EVERY_ROW]["anchor"]) for seed in seeds
            ]
            same = sum(anchor == every for anchor, every in anchors)
            cells.append(f"{nmi:.3f}, {seconds:.1f} s, {same} of {len(seeds)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results, args):
    lines = [
        "# The anchor choice on fewer rows of each held-out class",
        "",
        f"Generated by `python benchmarks/scored_rows.py` ({args.seeds} seeds). "
        "`choose_anchor` with the estimator's settings, scoring every row of "
        "the held-out classes, as many as the defaults score "
        f"(`MAX_SCORED_ROWS` = {_selection.MAX_SCORED_ROWS:,} a set, at least "
        f"{_selection.MIN_SCORED_ROWS_PER_CLASS} of each class), and 60 and 30 "
        "of each class. Each cell: the unseen-class k-means NMI of the anchor "
        "chosen (fitted on every training class), mean over seeds; the mean "
        "seconds of the choice; on how many seeds it chose the anchor that "
        "every row chose. The datasets: the script's docstring. The seconds "
        "are a shared machine's, the first choice of a dataset with its "
        "warm-up: compare them along a row.",
        "",
        "| dataset | " + " | ".join(LEVELS) + " |",
        "|---" * (len(LEVELS) + 1) + "|",
        *table_rows(results),
        "",
        "The anchors chosen, seed by seed:",
        "",
    ]
    for name, seeds in results.items():
        for level in LEVELS:
            anchors = ", ".join(seed[level]["anchor"] for seed in seeds)
            lines.append(f"- {name}, {level}: {anchors}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(LOADERS), choices=LOADERS)
    parser.add_argument("--seeds", type=int, default=5)
    add_output(parser, "scored_rows")
    args = parser.parse_args(argv)
    results = run(args)
    write_results(args.output, "scored_rows", markdown(results, args), results)


if __name__ == "__main__":
    main()
