"""Ablation of the estimator's defaults on the zero-shot splits.

Each variant changes one parameter of the defaults, which turns one mechanism
off (or one counter-measure on), and is scored like ``zero_shot.py`` scores
every method: k-means NMI on the classes never seen in training, mean ±
standard deviation over seeds. The reference rows are the starting points the
defaults must not lose to (raw features, PCA, the closed-form linear map).
The table is printed and written, with the raw numbers, to ``docs/benchmarks/``.

Setup: ``bash benchmarks/install_data.sh``, then ``python benchmarks/ablation.py``;
``--help`` lists the options.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from datasets import DATASETS, glyph_renderer
from outputs import add_output
from sklearn.exceptions import ConvergenceWarning
from zero_shot import fit_ours_closed_form, fit_pca, fit_raw, merged_results

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc.metrics import kmeans_nmi

# name: (parameters changed from the defaults, what the change does)
VARIANTS = {
    "defaults": ({}, "every mechanism as shipped"),
    "held-out samples, not classes": (
        {"validation_split": "samples"},
        "early stopping on held-out samples of the training classes, every epoch",
    ),
    "no validation": (
        {"early_stopping": False},
        "PCA anchor, head always kept, trained until the loss stalls",
    ),
    "PCA anchor always": (
        {"init": "pca"},
        "no whitening or closed form; a head is trained, kept if it helps",
    ),
    "whitened anchor always": (
        {"init": "whitened"},
        "shrinkage chosen; a head is trained, kept if it helps",
    ),
    "shrinkage 0.1 always": ({"shrinkage": 0.1}, "no choice of shrinkage"),
    "closed-form anchor always": (
        {"init": "closed_form"},
        "a head is trained, kept if it helps",
    ),
    "no anchor": (
        {"init": "random"},
        "plain MLP from a random start, kept only if it helps held-out classes",
    ),
    # counter-measures to class collapse, on the PCA anchor so that a head is
    # trained: compare with "PCA anchor always"
    "PCA + head, no weight decay": (
        {"init": "pca", "alpha": 0.0},
        "alpha = 0 instead of 1e-4",
    ),
    "PCA + wide head": (
        {"init": "pca", "n_components": 64},
        "64 trained dimensions instead of k",
    ),
    "PCA + head, dropout": (
        {"init": "pca", "dropout": 0.3},
        "dropout 0.3 after the hidden layer",
    ),
    "PCA + head, 10 epochs at most": (
        {"init": "pca", "max_iter": 10},
        "max_iter = 10",
    ),
}
REFERENCES = {
    "raw features": fit_raw,
    "PCA": fit_pca,
    "closed form": fit_ours_closed_form,
}


def spectral_step(embeddings, n_clusters):
    """Row-normalised top left singular vectors of the centred embedding."""
    centred = embeddings - embeddings.mean(axis=0)
    left, _, _ = np.linalg.svd(centred, full_matrices=False)
    left = left[:, :n_clusters]
    norms = np.linalg.norm(left, axis=1, keepdims=True)
    return left / np.maximum(norms, np.finfo(left.dtype).tiny)


# Variants that score the defaults' embedding differently instead of refitting:
# name: (map of the embedding and the number of clusters, what it does)
TEST_TIME = {
    "spectral step at test time": (
        spectral_step,
        "k-means on the row-normalised left singular vectors of the centred "
        "embedding (the authors' test-time step)",
    ),
}


def run(args):
    results = {}  # dataset -> row -> list of per-seed NMI
    for dataset in args.datasets:
        X_train, y_train, X_test, y_test = DATASETS[dataset]()
        n_clusters = len(np.unique(y_test))
        print(f"\n{dataset}", flush=True)
        rows = results[dataset] = {}
        for name, fit in REFERENCES.items():
            rows[name] = [
                kmeans_nmi(
                    fit(X_train, y_train, seed, args)(X_test), y_test, random_state=seed
                )
                for seed in range(args.seeds)
            ]
        for name in args.variants:
            params, _ = VARIANTS[name]
            for seed in range(args.seeds):
                start = time.perf_counter()
                model = DeepSpectralClusteringEmbedder(
                    random_state=seed, device=args.device, **params
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X_train, y_train)
                embeddings = model.transform(X_test).astype(np.float64)
                rows.setdefault(name, []).append(
                    kmeans_nmi(embeddings, y_test, random_state=seed)
                )
                if name == "defaults":
                    for step, (rescore, _) in TEST_TIME.items():
                        rows.setdefault(step, []).append(
                            kmeans_nmi(
                                rescore(embeddings, n_clusters),
                                y_test,
                                random_state=seed,
                            )
                        )
                print(
                    f"  {name:<32} seed {seed}  NMI {rows[name][-1]:.3f}  "
                    f"{time.perf_counter() - start:.1f} s",
                    flush=True,
                )
            if args.partial is not None:  # what a long run has measured so far
                args.partial.write_text(json.dumps(results, indent=1))
    return results


def markdown(results, args):
    datasets = list(results)
    lines = [
        "# Ablation of the defaults",
        "",
        "Generated by `python benchmarks/ablation.py` "
        f"({args.seeds} seeds, device {args.device}, torch {torch.__version__}).",
        "k-means NMI on classes never seen in training, mean ± standard deviation",
        "over seeds. Each variant changes one parameter of the defaults; the",
        "reference rows are the starting points. Bold: best row of each dataset.",
    ]
    if {"glyphs", "fonts"} & set(datasets) and (renderer := glyph_renderer()):
        lines.append(f"Glyph images drawn with {renderer}.")
    lines += [
        "",
        "| variant | change | " + " | ".join(datasets) + " |",
        "|---|---" + "|---" * len(datasets) + "|",
    ]
    best = {d: max(np.mean(v) for v in results[d].values()) for d in datasets}
    # a variant not run on some dataset shows a dash there
    changes = {
        **{name: "reference" for name in REFERENCES},
        **{name: change for name, (_, change) in VARIANTS.items()},
        **{name: change for name, (_, change) in TEST_TIME.items()},
    }
    for name, change in changes.items():
        if not any(name in results[d] for d in datasets):
            continue
        cells = []
        for dataset in datasets:
            if name not in results[dataset]:
                cells.append("—")
                continue
            values = results[dataset][name]
            cell = f"{np.mean(values):.3f} ± {np.std(values):.3f}"
            if np.isclose(np.mean(values), best[dataset]):
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| {name} | {change} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS)
    )
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS)
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    add_output(parser, "ablation")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="write the outputs from the ablation.json files of earlier runs "
        "instead of running; later files replace earlier ones row by row",
    )
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    args.partial = None if args.merge else args.output / "ablation.partial.json"
    results = merged_results(args.merge) if args.merge else run(args)
    table = markdown(results, args)
    print("\n" + table)
    (args.output / "ablation.md").write_text(table)
    (args.output / "ablation.json").write_text(json.dumps(results, indent=1))
    if args.partial is not None:
        args.partial.unlink()


if __name__ == "__main__":
    main()
