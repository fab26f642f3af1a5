"""Which held-out-class criterion chooses the anchor as well as k-means, for less?

The defaults choose their anchor by the k-means NMI of held-out training
classes, on up to ten sets of them (``choose_anchor``): the slowest and
noisiest part of a fit. This script measures, for every candidate anchor
(PCA, the whitened inputs at each shrinkage, the closed form, and LDA's own
map as a candidate the defaults do not have), how several criteria computed
on the same held-out classes rank the candidates, against what the classes
never seen in training say (the candidate fitted on every training class,
k-means NMI of the unseen ones):

- *k-means NMI*: what the defaults use (3 initialisations);
- *nearest-mean NMI*: each held-out row assigned to the nearest held-out
  class mean, NMI against the classes (no k-means: ``O(n k d)``);
- *centroid silhouette*: the mean over rows of ``(b - a) / max(a, b)``, ``a``
  the distance to the row's class mean, ``b`` to the nearest other one;
- *Recall@1*: the nearest neighbour's class;
- *minus the loss*: the spectral clustering loss of the held-out rows with
  their classes; it cannot tell apart maps that differ by an invertible
  linear map (PCA and whitened), which it does not see.

Per dataset and seed: the Spearman correlation between each criterion's
mean over the held-out sets and the unseen-class NMI across candidates, and
the unseen-class NMI of the candidate each criterion chooses, beside the
best one's; and each criterion's time. Each held-out set's scores are
recorded, so that the two-stage choice of the defaults (the nearest mean's
three best, then k-means) is also replayed on the first 2, 3 or 5 sets.
Tabular datasets come from ``tabular_suite.py`` (a fresh class split per
seed), the others from ``datasets.py`` (their fixed split; seeds draw the
held-out sets).

Setup: ``bash benchmarks/install_data.sh``, then
``python benchmarks/selection_criteria.py``; ``--help`` lists the options.
"""

import argparse
import time
import warnings

import numpy as np
import tabular_suite
import torch
from datasets import DATASETS
from outputs import add_output, add_results, earlier_results, name_of, write_results
from scipy.stats import spearmanr
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from sklearn_dsc import DeepSpectralClusteringEmbedder, spectral_clustering_loss
from sklearn_dsc._anchors import anchor_maps
from sklearn_dsc._selection import (
    ANCHOR_SPLITS,
    KMEANS_NMI,
    NEAREST_MEAN_NMI,
    SHRINKAGES,
    capped_per_class,
    distinct_subsets,
    held_out_nmi,
    n_held_out_classes,
    scored_rows_per_class,
)
from sklearn_dsc.metrics import kmeans_nmi, recall_at_k

# the estimator's default share of the classes held out to choose the anchor
VALIDATION_FRACTION = DeepSpectralClusteringEmbedder().validation_fraction
CANDIDATES = [
    ("pca", None),
    *[("whitened", shrinkage) for shrinkage in SHRINKAGES],
    ("closed_form", None),
    ("lda", None),
]


def class_means(embedding, codes):
    labels, inverse = np.unique(codes, return_inverse=True)
    means = np.zeros((len(labels), embedding.shape[1]))
    np.add.at(means, inverse, embedding)
    return means / np.bincount(inverse)[:, None], inverse


def mean_distances(embedding, means):
    squared = (
        (embedding**2).sum(axis=1)[:, None]
        - 2 * embedding @ means.T
        + (means**2).sum(axis=1)[None, :]
    )
    return np.sqrt(np.maximum(squared, 0))


def nearest_mean(embedding, codes, seed):
    return held_out_nmi(NEAREST_MEAN_NMI, embedding, codes, seed)


def centroid_silhouette(embedding, codes, seed):
    means, inverse = class_means(embedding, codes)
    distances = mean_distances(embedding, means)
    own = distances[np.arange(len(inverse)), inverse]
    distances[np.arange(len(inverse)), inverse] = np.inf
    other = distances.min(axis=1)
    return float(np.mean((other - own) / np.maximum(np.maximum(other, own), 1e-12)))


def recall_1(embedding, codes, seed):
    return recall_at_k(embedding, codes, k=1)


def minus_loss(embedding, codes, seed):
    _, inverse = np.unique(codes, return_inverse=True)
    loss = spectral_clustering_loss(
        torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float64)),
        torch.from_numpy(inverse),
    )
    return -float(loss)


def kmeans_3(embedding, codes, seed):
    return held_out_nmi(KMEANS_NMI, embedding, codes, seed)


CRITERIA = {
    "k-means NMI": kmeans_3,
    "nearest-mean NMI": nearest_mean,
    "centroid silhouette": centroid_silhouette,
    "Recall@1": recall_1,
    "minus the loss": minus_loss,
}


def maps(X, codes, seed, candidates=None):
    """``{candidate: transform}`` of ``candidates`` (``CANDIDATES`` unless
    given; LDA's own map is always among them) fitted on ``X``."""
    candidates = CANDIDATES if candidates is None else candidates
    anchors = [c for c in candidates if c[0] != "lda"]
    fitted = {}
    for candidate, (weight, bias) in zip(
        anchors, anchor_maps(anchors, X, codes, seed), strict=True
    ):
        fitted[candidate] = lambda Z, w=weight, b=bias: Z @ w.T + b
    lda = LinearDiscriminantAnalysis().fit(X, codes)
    fitted[("lda", None)] = lda.transform
    return fitted


def measure(X_train, codes, X_test, y_test, seed):
    """The criteria's scores (mean over held-out sets) and the unseen-class
    NMI of every candidate, and each criterion's seconds."""
    n_classes = len(np.unique(codes))
    n_held_out = n_held_out_classes(VALIDATION_FRACTION, n_classes)
    rng = np.random.RandomState(seed)
    held_out_sets = distinct_subsets(n_classes, n_held_out, ANCHOR_SPLITS, rng)
    scores = {c: {k: [] for k in CRITERIA} for c in CANDIDATES}
    seconds = dict.fromkeys(CRITERIA, 0.0)
    for held_out in held_out_sets:
        held = np.isin(codes, held_out)
        cap = scored_rows_per_class(n_held_out)
        rows = capped_per_class(np.flatnonzero(held), codes, cap, rng)
        for candidate, transform in maps(X_train[~held], codes[~held], seed).items():
            embedding = transform(X_train[rows])
            for criterion, function in CRITERIA.items():
                start = time.perf_counter()
                scores[candidate][criterion].append(
                    function(embedding, codes[rows], seed)
                )
                seconds[criterion] += time.perf_counter() - start
    unseen = {
        candidate: kmeans_nmi(transform(X_test), y_test, random_state=seed)
        for candidate, transform in maps(X_train, codes, seed).items()
    }
    splits = {
        criterion: [scores[c][criterion] for c in CANDIDATES] for criterion in CRITERIA
    }
    return splits, [unseen[c] for c in CANDIDATES], seconds


def run(args):
    results = {}
    for name in args.datasets:
        results[name] = []
        for seed, X_train, y_train, X_test, y_test in tabular_suite.seeded_splits(
            name, args.seeds
        ):
            codes = np.unique(y_train, return_inverse=True)[1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                splits, unseen, seconds = measure(X_train, codes, X_test, y_test, seed)
            means = {
                c: np.mean(values, axis=1).tolist() for c, values in splits.items()
            }
            results[name].append(
                {
                    "criteria": means,
                    "splits": splits,
                    "unseen": unseen,
                    "seconds": seconds,
                }
            )
            best = CANDIDATES[int(np.argmax(unseen))]
            print(
                f"{name}, seed {seed}: best unseen {name_of(best)} "
                f"{max(unseen):.3f}; k-means chooses "
                f"{name_of(CANDIDATES[int(np.argmax(means['k-means NMI']))])}",
                flush=True,
            )
    return results


# The k-means choice among the candidates but LDA's map, which the defaults
# do not compare.
WITHOUT_LDA = "k-means NMI, LDA's map left out"
# Two-stage choices, from the criteria above: the shortlist of the first
# criterion's best candidates, then the second among them; k-means is run
# for the shortlisted candidates only. Each stage sees the first so many
# held-out sets (every set with None; fewer only in runs that recorded each
# set's scores).
SHORTLISTS = {
    "nearest-mean top 3, then k-means": (
        "nearest-mean NMI",
        "k-means NMI",
        3,
        (None, None),
    ),
    **{
        f"the same on {n} sets": ("nearest-mean NMI", "k-means NMI", 3, (n, n))
        for n in (2, 3, 5)
    },
    **{
        f"the same, k-means on {n} sets": (
            "nearest-mean NMI",
            "k-means NMI",
            3,
            (None, n),
        )
        for n in (2, 3, 5)
    },
}


def criterion_means(run, criterion, n_splits):
    """The criterion's mean of each candidate over the first ``n_splits``
    held-out sets (every set when ``None``); ``None`` where the run did not
    record each set's scores."""
    if n_splits is None:
        return np.asarray(run["criteria"][criterion])
    if "splits" not in run:
        return None
    return np.array([np.mean(values[:n_splits]) for values in run["splits"][criterion]])


def shortlisted_choice(run, first, second, size, n_splits=(None, None)):
    """The candidate that ``second`` prefers among ``first``'s best ``size``,
    each on its number of held-out sets (``None`` where the run cannot
    tell)."""
    ranking = criterion_means(run, first, n_splits[0])
    scores = criterion_means(run, second, n_splits[1])
    if ranking is None or scores is None:
        return None
    shortlist = np.argsort(ranking)[::-1][:size]
    return int(shortlist[np.argmax(scores[shortlist])])


def used_splits(run, n_splits):
    """The share of the run's held-out sets that ``n_splits`` uses."""
    recorded = len(run["splits"]["k-means NMI"][0]) if "splits" in run else None
    if n_splits is None or recorded is None:
        return 1.0
    return min(n_splits, recorded) / recorded


def summary(results):
    """Per dataset and criterion: mean Spearman correlation with the unseen
    NMI, and mean unseen NMI of its choice; per dataset the best's NMI."""
    table = {}
    for name, runs in results.items():
        row = {"best": np.mean([max(run["unseen"]) for run in runs])}
        for criterion in CRITERIA:
            correlations, chosen = [], []
            for run in runs:
                values = run["criteria"][criterion]
                rho = spearmanr(values, run["unseen"]).statistic
                correlations.append(0.0 if np.isnan(rho) else rho)
                chosen.append(run["unseen"][int(np.argmax(values))])
            row[criterion] = (float(np.mean(correlations)), float(np.mean(chosen)))
        row["seconds"] = {
            criterion: float(np.mean([run["seconds"][criterion] for run in runs]))
            for criterion in CRITERIA
        }
        # k-means among the anchors alone, LDA's map left out
        anchors = [i for i, c in enumerate(CANDIDATES) if c[0] != "lda"]
        chosen = []
        for run in runs:
            scores = np.asarray(run["criteria"]["k-means NMI"])[anchors]
            chosen.append(run["unseen"][anchors[int(np.argmax(scores))]])
        row[WITHOUT_LDA] = (float("nan"), float(np.mean(chosen)))
        share = len(anchors) / len(CANDIDATES)
        row["seconds"][WITHOUT_LDA] = share * row["seconds"]["k-means NMI"]
        for name_2, (first, second, size, n_splits) in SHORTLISTS.items():
            choices = [
                shortlisted_choice(run, first, second, size, n_splits) for run in runs
            ]
            if None in choices:
                continue
            chosen = [run["unseen"][c] for run, c in zip(runs, choices, strict=True)]
            row[name_2] = (float("nan"), float(np.mean(chosen)))
            share = size / len(runs[0]["unseen"])
            row["seconds"][name_2] = float(
                np.mean(
                    [
                        used_splits(run, n_splits[0]) * run["seconds"][first]
                        + used_splits(run, n_splits[1]) * share * run["seconds"][second]
                        for run in runs
                    ]
                )
            )
        table[name] = row
    return table


def markdown(results, args):
    table = summary(results)
    criteria = list(CRITERIA)
    lines = [
        "# Choosing the anchor on held-out classes: criteria without k-means",
        "",
        f"Generated by `python benchmarks/selection_criteria.py` ({args.seeds} "
        "seeds). Candidates: "
        + ", ".join(name_of(c) for c in CANDIDATES)
        + ". Each cell: the Spearman correlation, across candidates, between "
        "the criterion on held-out training classes (mean over up to "
        f"{ANCHOR_SPLITS} sets) and the k-means NMI of the unseen classes, "
        "then the unseen NMI of the candidate the criterion chooses (mean over "
        "seeds). *best*: the unseen NMI of the best candidate.",
        "",
        *per_dataset(
            table, criteria, lambda row, c: f"{row[c][0]:+.2f} / {row[c][1]:.3f}"
        ),
    ]
    lines += [
        "",
        "Over the datasets: the mean correlation, the mean shortfall of the "
        "criterion's choice from the best candidate, and the criterion's time "
        "against k-means'.",
        "",
        "| criterion | mean correlation | mean shortfall | worst shortfall "
        "| time / k-means |",
        "|---|---|---|---|---|",
    ]
    for criterion in [*criteria, WITHOUT_LDA, *SHORTLISTS]:
        # the rules on fewer sets only where each set's scores were recorded
        rows = [row for row in table.values() if criterion in row]
        if not rows:
            continue
        shortfalls = [row["best"] - row[criterion][1] for row in rows]
        correlation = np.mean([row[criterion][0] for row in rows])
        seconds = sum(row["seconds"][criterion] for row in rows)
        kmeans_seconds = sum(row["seconds"]["k-means NMI"] for row in rows)
        correlation = "n/a" if np.isnan(correlation) else f"{correlation:+.2f}"
        where = "" if len(rows) == len(table) else f" ({len(rows)} datasets)"
        lines.append(
            f"| {criterion}{where} | {correlation} | {np.mean(shortfalls):.3f} | "
            f"{max(shortfalls):.3f} | {seconds / kmeans_seconds:.2f} |"
        )
    rules = [rule for rule in SHORTLISTS if any(rule in row for row in table.values())]
    lines += [
        "",
        "The two-stage choices per dataset (unseen NMI of the choice; *n/a*: "
        "the run did not record each set's scores).",
        "",
        *per_dataset(
            table, rules, lambda row, r: f"{row[r][1]:.3f}" if r in row else "n/a"
        ),
    ]
    return "\n".join(lines) + "\n"


def per_dataset(table, columns, cell):
    """The lines of a table with a row per dataset: its name, its best
    candidate's unseen NMI, then ``cell(row, column)`` for each column."""
    lines = [
        "| dataset | best | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name, row in table.items():
        cells = " | ".join(cell(row, column) for column in columns)
        lines.append(f"| {name} | {row['best']:.3f} | {cells} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    available = [*tabular_suite.SUITE, *DATASETS]
    parser.add_argument(
        "--datasets", nargs="+", default=list(tabular_suite.SUITE), choices=available
    )
    parser.add_argument("--seeds", type=int, default=3)
    add_output(parser, "selection_criteria")
    add_results(parser)
    args = parser.parse_args(argv)
    results = earlier_results(args)
    if results is not None:
        results.pop("candidates")
        args.seeds = len(next(iter(results.values())))
    else:
        results = run(args)
    text = markdown(results, args)
    named = {"candidates": [name_of(c) for c in CANDIDATES], **results}
    write_results(args.output, "selection_criteria", text, named, indent=None)


if __name__ == "__main__":
    main()
