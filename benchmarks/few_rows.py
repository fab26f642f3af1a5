"""Few training rows a class: the held-out nearest mean, each row left out
of its own class's mean.

The defaults rank their candidate anchors, and choose a trained head's
epoch, by the NMI of assigning each held-out row to the nearest held-out
class mean (``nearest_mean_nmi``). Counted with the row in it, a class's
mean is drawn towards each of its rows, the more so the fewer they are and
the wider the embedding: in ``d`` directions of noise of variance ``s**2``
a row lies ``(1 - 1/n) s**2 d`` from the mean of its own ``n`` rows, on
average, and ``(1 + 1/n) s**2 d`` (plus the means' distance) from another
class's. Wide anchors then look better apart than they are, and with two
rows a class every row is nearest its own mean whatever the embedding. The
defaults take the row out of its class's mean (leave one out).

This measures both on the benchmark's glyphs, fonts and dictionary
(``datasets.py``), training on ``--rows`` rows of each seen class, drawn
afresh for each seed (the full training set, ``--rows 0``, as the zero-shot
benchmark has it): the defaults as they are, and with each row counted in
its class's mean (``row_in_its_mean``), side by side in one run; beside
them the inputs themselves. k-means NMI of the unseen classes (all their
rows), and the anchor each fit kept.

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/few_rows.py``; ``--help`` lists the options.
"""

import argparse
import contextlib
import time
import warnings

import numpy as np
from datasets import DATASETS
from outputs import add_output, add_results, earlier_results, name_of, write_results
from sklearn.metrics import normalized_mutual_info_score

from sklearn_dsc import DeepSpectralClusteringEmbedder, _selection
from sklearn_dsc.metrics import kmeans_nmi

# the benchmark's datasets of 10 held-out classes or more a fit, which
# score a trained head's epochs by the nearest mean
MEASURED = ["glyphs", "fonts", "dictionary"]
LEFT_OUT = "the row left out (the defaults)"
COUNTED = "the row counted in its mean"


def _own_mean_with_the_row(distances, points, inverse, counts):
    """``_selection._own_mean_without_the_row`` undone: ``distances`` to
    the class means as they are, each row counted in its own."""
    return distances


def _nmi_of_every_row(distances, inverse):
    """``_selection._nearest_nmi`` over every row, alone in its class or not."""
    return normalized_mutual_info_score(inverse, np.argmin(distances, axis=1))


@contextlib.contextmanager
def row_in_its_mean():
    """The held-out nearest mean with each row counted in its own class's
    mean (every row scored), instead of left out of it."""
    saved = _selection._own_mean_without_the_row, _selection._nearest_nmi
    _selection._own_mean_without_the_row = _own_mean_with_the_row
    _selection._nearest_nmi = _nmi_of_every_row
    try:
        yield
    finally:
        _selection._own_mean_without_the_row, _selection._nearest_nmi = saved


def drawn_rows(y, per_class, seed):
    """The indices of ``per_class`` rows of each class of ``y`` (all of a
    class that has no more; every row for 0), drawn by ``seed``."""
    if per_class == 0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.choice(rows, min(per_class, len(rows)), replace=False)
            for rows in (np.flatnonzero(y == label) for label in np.unique(y))
        ]
    )


def fitted(X_train, y_train, X_test, y_test, seed):
    """The defaults fitted with ``seed``: unseen NMI, the anchor kept, the
    embedding's width and the fit's seconds."""
    start = time.perf_counter()
    model = DeepSpectralClusteringEmbedder(random_state=seed).fit(X_train, y_train)
    seconds = time.perf_counter() - start
    embedding = model.transform(X_test)
    return {
        "nmi": float(kmeans_nmi(embedding, y_test, random_state=0)),
        "kept": name_of((str(model.init_), model.shrinkage_)),
        "dims": int(embedding.shape[1]),
        "fit_seconds": seconds,
    }


def measure(name, rows, seeds):
    """``{"inputs": NMI, "rows": {per_class: {"n_rows": n, LEFT_OUT: [...],
    COUNTED: [...]}}}`` of dataset ``name``, a ``fitted`` dict a seed."""
    X_train, y_train, X_test, y_test = DATASETS[name]()
    result = {"inputs": float(kmeans_nmi(X_test, y_test, random_state=0)), "rows": {}}
    for per_class in rows:
        runs = {LEFT_OUT: [], COUNTED: []}
        for seed in range(seeds):
            drawn = drawn_rows(y_train, per_class, seed)
            split = X_train[drawn], y_train[drawn], X_test, y_test
            runs[LEFT_OUT].append(fitted(*split, seed))
            with row_in_its_mean():
                runs[COUNTED].append(fitted(*split, seed))
            print(
                f"{name}, {per_class or 'every'} row(s) a class, seed {seed}: "
                f"{runs[LEFT_OUT][-1]} | counted {runs[COUNTED][-1]}",
                flush=True,
            )
        result["rows"][str(per_class)] = {"n_rows": len(drawn), **runs}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=MEASURED)
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[2, 3, 5, 10, 20, 0],
        help="training rows of each seen class (0: all of them)",
    )
    parser.add_argument("--seeds", type=int, default=3)
    add_output(parser, "few_rows")
    add_results(parser)
    args = parser.parse_args(argv)
    if min(args.rows) < 0 or any(0 < rows < 2 for rows in args.rows):
        parser.error("--rows takes 2 or more rows a class, or 0 for all of them")
    results = earlier_results(args)
    if results is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # no head kept, and such
            results = {
                name: measure(name, args.rows, args.seeds) for name in args.datasets
            }
    write_results(args.output, "few_rows", _table(results), results)


def _mean(runs):
    return float(np.mean([run["nmi"] for run in runs]))


def _kept(runs):
    return ", ".join(sorted({run["kept"] for run in runs}))


def _table(results):
    seeds = max(
        len(runs[LEFT_OUT])
        for result in results.values()
        for runs in result["rows"].values()
    )
    lines = [
        "# Few training rows a class: the held-out nearest mean",
        "",
        "Generated by `python benchmarks/few_rows.py` "
        f"({seeds} seeds, each drawing the training rows). k-means NMI of the "
        "unseen classes (k-means seeded with 0), mean over seeds, of the "
        "defaults, whose held-out "
        "nearest mean leaves each row out of its own class's mean, and of the "
        "same with the row counted in it, side by side; *difference*: the "
        "first less the second. Why: the script's docstring.",
        "",
        f"| dataset | rows a class (training rows) | the inputs | {COUNTED} | "
        f"{LEFT_OUT} | difference | anchors kept, counted | anchors kept, left out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    differences = []
    for name, result in results.items():
        for per_class, runs in result["rows"].items():
            left_out, counted = _mean(runs[LEFT_OUT]), _mean(runs[COUNTED])
            differences.append(left_out - counted)
            rows = "every row" if per_class == "0" else per_class
            lines.append(
                f"| {name} | {rows} ({runs['n_rows']}) | {result['inputs']:.3f} "
                f"| {counted:.3f} | {left_out:.3f} | {differences[-1]:+.3f} "
                f"| {_kept(runs[COUNTED])} | {_kept(runs[LEFT_OUT])} |"
            )
    lines += [
        "",
        f"Over the {len(differences)} rows: the difference is "
        f"{np.mean(differences):+.3f} on average, {min(differences):+.3f} at "
        f"worst and {max(differences):+.3f} at best.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
