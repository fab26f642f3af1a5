"""How many clusters? ``estimate_n_clusters`` on every zero-shot dataset.

For each dataset, the defaults are fitted on the training classes (seed 0)
and the unseen test classes are embedded; every method of
``estimate_n_clusters`` then estimates their number, in that embedding and
in the raw features (``"calibrated"`` and ``"calibrated_loss"`` read the
training rows, in the same space, as their reference). Reported: the
estimate against the true number, and the k-means NMI with the estimated
number against the NMI with the true one.
The table, a chart and the raw numbers go to ``docs/benchmarks/``.

Setup: ``bash benchmarks/install_data.sh``, then ``python benchmarks/n_clusters.py``.
"""

import argparse
import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
from datasets import DATASETS, class_share
from outputs import add_output
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import normalized_mutual_info_score

import sklearn_dsc
from sklearn_dsc import DeepSpectralClusteringEmbedder, estimate_n_clusters
from sklearn_dsc._n_clusters import METHODS, REFERENCE_METHODS

TOLERANCE = 0.2  # an estimate within 20 % of the true number is a hit
NMI_TOLERANCE = 0.03


def kmeans_nmi_at(points, labels, k, seed):
    predicted = KMeans(k, n_init=3, random_state=seed).fit_predict(points)
    return normalized_mutual_info_score(labels, predicted)


def measure(points, labels, reference, args):
    """Each method's estimate, its time and NMI, in ``points``; ``reference``
    is ``(rows, labels)`` of the training classes in the same space."""
    true_k = len(np.unique(labels))
    rows = {"true k": true_k, "NMI at true k": kmeans_nmi_at(points, labels, true_k, 0)}
    for method in args.methods:
        start = time.perf_counter()
        known, classes = reference if method in REFERENCE_METHODS else (None, None)
        options = {} if args.n_neighbors is None else {"n_neighbors": args.n_neighbors}
        estimate = estimate_n_clusters(
            points,
            method=method,
            reference=known,
            reference_labels=classes,
            random_state=args.random_state,
            **options,
        )
        seconds = time.perf_counter() - start
        k = estimate.n_clusters
        rows[method] = {
            "k": k,
            "seconds": seconds,
            "NMI": kmeans_nmi_at(points, labels, max(k, 2), 0),
            "candidates": estimate.candidates.tolist(),
            "criterion": estimate.criterion.tolist(),
            "reference band": estimate.reference_band,
            # the largest number considered: the criterion may point beyond it
            "at cap": bool(
                len(estimate.candidates) > 1 and k == estimate.candidates.max()
            ),
        }
        print(
            f"    {method:<10} k={k:<4} (true {true_k})  NMI {rows[method]['NMI']:.3f} "
            f"(at true k {rows['NMI at true k']:.3f})  {seconds:.1f} s",
            flush=True,
        )
    return rows


def source_digest():
    """A digest of the package's source: the key under which ``embedded``
    keeps a fit's embeddings, so that a change of the code refits."""
    digest = hashlib.sha256()
    for path in sorted(Path(sklearn_dsc.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def embedded(dataset, X_train, y_train, X_test, fits=None):
    """``(test rows, training rows)`` in the embedding of the defaults (seed
    0) fitted on ``dataset``'s training classes; with ``fits`` (a folder),
    read from there where a run of the same source wrote them, else written
    there: the fit is deterministic, and the options of the estimates do not
    change it."""
    path = None if fits is None else fits / f"{dataset}-{source_digest()}.npz"
    if path is not None and path.exists():
        print(f"  the embedding of {path}", flush=True)
        with np.load(path) as saved:
            return saved["test"], saved["train"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = DeepSpectralClusteringEmbedder(random_state=0).fit(X_train, y_train)
    test, train = model.transform(X_test), model.transform(X_train)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, test=test, train=train)
    return test, train


def spaces_of(dataset, new_fraction=1.0, reference_fraction=1.0, seed=0, fits=None):
    """The defaults (seed 0) fitted on ``dataset``'s training classes:
    ``({space: (new rows, reference rows)}, new labels, reference labels)``
    in the embedding and the raw features. The new rows are those of the
    unseen classes, the reference the training rows, each of a share of the
    classes drawn with ``seed``; ``fits``: as for ``embedded``."""
    X_train, y_train, X_test, y_test = DATASETS[dataset]()
    new = class_share(y_test, new_fraction, seed, 2)
    known = class_share(y_train, reference_fraction, seed, 2)
    print(f"\n{dataset}: {len(np.unique(y_test[new]))} unseen classes", flush=True)
    test, train = embedded(dataset, X_train, y_train, X_test, fits)
    spaces = {
        "embedding": (test[new], train[known]),
        "raw": (X_test[new], X_train[known]),
    }
    return spaces, y_test[new], y_train[known]


def run(args):
    results = {}
    for dataset in args.datasets:
        spaces, y_test, labels = spaces_of(
            dataset,
            args.new_fraction,
            args.reference_fraction,
            args.random_state,
            args.fits,
        )
        results[dataset] = {}
        for space, (points, reference) in spaces.items():
            print(f"  {space} ({points.shape[1]} dimensions)", flush=True)
            results[dataset][space] = measure(
                np.asarray(points), y_test, (np.asarray(reference), labels), args
            )
        # what a long run has measured so far, dataset by dataset
        args.partial.write_text(json.dumps(results, indent=1))
    return results


def is_hit(row, method):
    return abs(row[method]["k"] - row["true k"]) <= TOLERANCE * row["true k"]


def summary(results, methods, space):
    """Per method: datasets within 20 %, and of those within 0.03 NMI."""
    lines = []
    for method in methods:
        rows = [spaces[space] for spaces in results.values()]
        hits = [row for row in rows if is_hit(row, method)]
        close = [
            row
            for row in hits
            if row["NMI at true k"] - row[method]["NMI"] <= NMI_TOLERANCE
        ]
        error = np.median([abs(r[method]["k"] / r["true k"] - 1) for r in rows])
        lines.append(
            f"| {method} | {len(hits)} of {len(rows)} | {len(close)} of "
            f"{len(hits)} | {100 * error:.0f} % |"
        )
    return lines


def against_raw(results, methods):
    """Per method: on how many datasets the estimate in the embedding is
    closer to the true number than in the raw features, farther, as close."""
    lines = []
    for method in methods:
        errors = [
            [
                abs(spaces[s][method]["k"] - spaces[s]["true k"])
                for s in ("embedding", "raw")
            ]
            for spaces in results.values()
            if {"embedding", "raw"} <= spaces.keys()
        ]
        closer = sum(embedded < raw for embedded, raw in errors)
        farther = sum(embedded > raw for embedded, raw in errors)
        lines.append(
            f"| {method} | {closer} | {farther} | {len(errors) - closer - farther} |"
        )
    return lines


def markdown(results, methods, options):
    """The tables; ``options`` says, in words, those of the estimates."""
    lines = [
        "# How many clusters? Estimates on unseen classes",
        "",
        "Generated by `python benchmarks/n_clusters.py`: for each dataset the",
        "defaults are fitted on the training classes (seed 0); the number of",
        "unseen test classes is estimated by each method of",
        f"`estimate_n_clusters` ({options}) in that",
        "embedding and in the raw features; `calibrated` and",
        "`calibrated_loss` read the training rows, in the same space, as",
        "their reference. k-means NMI (3",
        "initialisations) with the estimated k against the NMI with the true k.",
        "",
        "## Summary",
        "",
    ]
    for space in ("embedding", "raw"):
        lines += [
            "In the embedding of the defaults:"
            if space == "embedding"
            else "In the raw features:",
            "",
            "| method | within 20 % of the true k | and NMI within 0.03 | "
            "median relative error |",
            "|---|---|---|---|",
            *summary(results, methods, space),
            "",
        ]
    lines += [
        "Datasets where the estimate is closer to the true k in the embedding",
        "than in the raw features:",
        "",
        "| method | closer in the embedding | farther | as close |",
        "|---|---|---|---|",
        *against_raw(results, methods),
        "",
    ]
    lines += [
        "## Per dataset",
        "",
        "| dataset | space | true k | NMI at true k | " + " | ".join(methods) + " |",
        "|---" * (4 + len(methods)) + "|",
    ]
    for dataset, spaces in results.items():
        for space, row in spaces.items():
            cells = [
                f"{'≥' if row[m].get('at cap') else ''}{row[m]['k']} "
                f"({row[m]['NMI']:.3f}, {row[m]['seconds']:.1f} s)"
                for m in methods
            ]
            lines.append(
                f"| {dataset} | {space} | {row['true k']} | "
                f"{row['NMI at true k']:.3f} | " + " | ".join(cells) + " |"
            )
    lines += [
        "",
        "Each cell: the estimated k (the NMI of k-means with it, the estimate's",
        "time on this machine, which may have been running other work). ≥: the",
        "largest number considered (`max_clusters`), where the criterion may",
        "point beyond it.",
    ]
    return "\n".join(lines) + "\n"


def chart(results, methods, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(results)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    width = 0.8 / len(methods)
    for axis, space in zip(axes, ("embedding", "raw"), strict=True):
        for index, method in enumerate(methods):
            ratios = [
                results[d][space][method]["k"] / results[d][space]["true k"]
                for d in datasets
            ]
            positions = (
                np.arange(len(datasets)) + (index - len(methods) / 2 + 0.5) * width
            )
            axis.bar(positions, ratios, width, label=method)
        axis.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.85", zorder=0)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_xticks(np.arange(len(datasets)), datasets, rotation=30)
        axis.set_title(
            {"embedding": "in the defaults' embedding", "raw": "in the raw features"}[
                space
            ]
        )
    axes[0].set_ylabel("estimated k / true k (grey: within 20 %)")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def merged(runs):
    """One result from several runs' results: a later run's estimate replaces an
    earlier one's for the same dataset, space and method."""
    results = {}
    for run_results in runs:
        for dataset, spaces in run_results.items():
            for space, row in spaces.items():
                results.setdefault(dataset, {}).setdefault(space, {}).update(row)
    return results


def add_fits(parser):
    parser.add_argument(
        "--fits",
        type=Path,
        metavar="DIR",
        help="keep the defaults' embeddings in DIR and read them there on later "
        "runs of the same source, which then only estimate (default: fit anew)",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS)
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--n-neighbors",
        type=int,
        help="neighbours in the affinity of calibrated and eigengap (default: "
        "estimate_n_clusters's)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the rows each estimate draws (0); the models keep seed 0",
    )
    parser.add_argument(
        "--reference-fraction",
        type=float,
        default=1.0,
        help="the share of the training classes that calibrated and "
        "calibrated_loss read as their reference (1: all; the others drawn with "
        "--random-state)",
    )
    parser.add_argument(
        "--new-fraction",
        type=float,
        default=1.0,
        help="the share of the unseen classes whose rows are the new data (1: "
        "all; the others drawn with --random-state)",
    )
    add_fits(parser)
    add_output(parser, "n_clusters", "n_clusters.png")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="write the outputs from the n_clusters.json (or .partial.json) files "
        "of earlier runs; later files replace earlier ones method by method",
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    args.partial = args.output / "n_clusters.partial.json"
    if args.merge:
        results = merged(json.loads(path.read_text()) for path in args.merge)
    else:
        results = run(args)
    options = (
        "default options"
        if args.n_neighbors is None
        else f"`n_neighbors={args.n_neighbors}`, the other options default"
    )
    options += f", `random_state={args.random_state}`"
    if args.reference_fraction != 1:
        options += (
            f"; the reference: {args.reference_fraction:.0%} of the training "
            "classes, drawn with that seed"
        )
    if args.new_fraction != 1:
        options += (
            f"; the new rows: those of {args.new_fraction:.0%} of the unseen "
            "classes, drawn with that seed"
        )
    table = markdown(results, args.methods, options)
    print("\n" + table)
    (args.output / "n_clusters.md").write_text(table)
    (args.output / "n_clusters.json").write_text(json.dumps(results, indent=1))
    chart(results, args.methods, args.output / "n_clusters.png")
    args.partial.unlink(missing_ok=True)
    print(f"wrote {args.output}/n_clusters.md, .json and .png")


if __name__ == "__main__":
    main()
