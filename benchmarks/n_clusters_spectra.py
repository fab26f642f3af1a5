"""Can the eigenvalues tell how many unseen classes there are?

For each zero-shot dataset, the defaults are fitted on the training classes
(seed 0, as in ``n_clusters.py``). In the embedding and in the raw features,
the eigenvalues of ``estimate_n_clusters``'s affinity are computed for draws
of the new rows of half of the unseen classes and of all of them, and for
"twins": draws of as many rows from as many random training classes. Two
questions, answered by the mean absolute difference of the first ``2c + 2``
eigenvalues (``c`` the training classes):

- do the new rows' eigenvalues of half of the classes differ from those of
  all of them by more than draws of the same classes differ ("separation",
  their ratio)?
- are they nearer the twins of as many classes than those of the other
  number (the reference's classes a model of the unseen ones)?

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/n_clusters_spectra.py``.
"""

import argparse
import itertools

import numpy as np
from datasets import DATASETS
from n_clusters import add_fits, spaces_of

from sklearn_dsc._n_clusters import _largest_eigenvalues


def _draw(points, labels, n_classes, n_rows, rng):
    """Up to ``n_rows`` rows of ``n_classes`` random classes."""
    classes = rng.choice(np.unique(labels), n_classes, replace=False)
    rows = np.flatnonzero(np.isin(labels, classes))
    return points[rng.choice(rows, min(n_rows, len(rows)), replace=False)]


def _distance(first, second):
    m = min(len(first), len(second))
    return float(np.mean(np.abs(first[:m] - second[:m])))


def _mean_distance(pairs):
    return float(np.mean([_distance(a, b) for a, b in pairs]))


def compare(points, labels, reference, reference_labels, args):
    """The separation of half of the new classes from all of them, and the
    distances of the new rows' eigenvalues to the twins' of as many classes
    and of the other number."""
    rng = np.random.RandomState(args.random_state)
    n_all = len(np.unique(labels))
    counts = (max(2, n_all // 2), n_all)
    n_eigenvalues = 2 * len(np.unique(reference_labels)) + 2

    def spectra(rows, row_labels, n_classes):
        return [
            _largest_eigenvalues(
                _draw(rows, row_labels, n_classes, args.n_rows, rng),
                n_eigenvalues,
                args.n_neighbors,
            )
            for _ in range(args.draws)
        ]

    twins = {k: spectra(reference, reference_labels, k) for k in counts}
    new = {k: spectra(points, labels, k) for k in counts}
    half, full = counts
    within = _mean_distance(
        pair for k in counts for pair in itertools.combinations(new[k], 2)
    )
    between = _mean_distance(itertools.product(new[half], new[full]))
    return {
        "classes": list(counts),
        "separation": between / within,
        "to the twin of as many": _mean_distance(
            (a, b) for k in counts for a in new[k] for b in twins[k]
        ),
        "to the twin of the other number": _mean_distance(
            (a, b)
            for k, other in ((half, full), (full, half))
            for a in new[k]
            for b in twins[other]
        ),
        "between twins": _mean_distance(
            pair for k in counts for pair in itertools.combinations(twins[k], 2)
        ),
    }


def markdown(results):
    lines = [
        "| dataset | classes: half, all | new rows, half against all: "
        "embedding, raw | embedding: to the twin of as many, of the other "
        "number | raw: the same |",
        "|---|---|---|---|---|",
    ]
    for dataset, spaces in results.items():
        embedded, raw = spaces["embedding"], spaces["raw"]
        half, full = embedded["classes"]
        lines.append(
            f"| {dataset} | {half}, {full} | {embedded['separation']:.1f}x, "
            f"{raw['separation']:.1f}x | "
            + " | ".join(
                f"{row['to the twin of as many']:.3f}, "
                f"{row['to the twin of the other number']:.3f}"
                for row in (embedded, raw)
            )
            + " |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS)
    )
    parser.add_argument("--draws", type=int, default=4, help="draws of each (4)")
    parser.add_argument("--n-rows", type=int, default=1500, help="rows a draw (1500)")
    parser.add_argument("--n-neighbors", type=int, default=60)
    parser.add_argument("--random-state", type=int, default=0)
    add_fits(parser)
    args = parser.parse_args(argv)
    if args.draws < 2:
        parser.error("--draws must be at least 2: the separation compares draws")
    results = {}
    for dataset in args.datasets:
        spaces, labels, reference_labels = spaces_of(dataset, fits=args.fits)
        results[dataset] = {}
        for space, (points, reference) in spaces.items():
            row = compare(
                np.asarray(points, dtype=np.float64),
                labels,
                np.asarray(reference, dtype=np.float64),
                reference_labels,
                args,
            )
            results[dataset][space] = row
            print(
                f"  {space}: separation {row['separation']:.1f}x; to the twin of "
                f"as many {row['to the twin of as many']:.4f}, of the other number "
                f"{row['to the twin of the other number']:.4f}, between twins "
                f"{row['between twins']:.4f}",
                flush=True,
            )
    print("\n" + markdown(results))
    return results


if __name__ == "__main__":
    main()
