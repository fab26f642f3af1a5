"""How many input directions the PCA and whitened anchors should keep.

The anchors keep at most ``MAX_ANCHOR_WIDTH`` (256) principal directions of
the inputs. For each dataset wider than some of ``--widths``, each anchor
(PCA, and the whitened one for every shrinkage the defaults choose among) is
fitted on the training classes at each width, and the classes never seen in
training are clustered in it: k-means NMI, mean over ``--seeds`` k-means
seeds. ``full`` keeps every direction up to the input width.

    python benchmarks/anchor_width.py --datasets glyphs fashion-mnist
"""

import argparse
import time

import numpy as np
from datasets import DATASETS

from sklearn_dsc._anchors import whitened_anchors
from sklearn_dsc._selection import SHRINKAGES
from sklearn_dsc.metrics import kmeans_nmi


def unseen_nmis(X_train, y_train, X_test, y_test, width, seeds):
    """``{shrinkage: NMI}`` of each anchor (``None``: PCA) at ``width``."""
    shrinkages = [None, *SHRINKAGES]
    anchors = whitened_anchors(X_train, y_train, shrinkages, width, seed=0)
    scores = {}
    for shrinkage, (weight, bias) in zip(shrinkages, anchors, strict=True):
        embedding = X_test @ weight.T + bias
        scores[shrinkage] = float(
            np.mean(
                [
                    kmeans_nmi(embedding, y_test, random_state=seed, n_init=3)
                    for seed in range(seeds)
                ]
            )
        )
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=["mnist-5k", "fashion-mnist", "glyphs", "dictionary"],
    )
    parser.add_argument("--widths", nargs="+", default=["64", "128", "256", "full"])
    parser.add_argument("--seeds", type=int, default=2, help="k-means seeds")
    args = parser.parse_args(argv)
    header = " | ".join(["PCA", *(f"{s:g}" for s in SHRINKAGES)])
    print(f"| dataset | width | {header} | best | s |")
    print("|---|---|" + "---|" * (len(SHRINKAGES) + 3))
    for dataset in args.datasets:
        X_train, y_train, X_test, y_test = DATASETS[dataset]()
        for width in args.widths:
            n_directions = X_train.shape[1] if width == "full" else int(width)
            if n_directions > X_train.shape[1]:
                continue
            start = time.perf_counter()
            scores = unseen_nmis(
                X_train, y_train, X_test, y_test, n_directions, args.seeds
            )
            cells = " | ".join(f"{score:.3f}" for score in scores.values())
            print(
                f"| {dataset} | {width} ({n_directions}) | {cells} "
                f"| {max(scores.values()):.3f} | {time.perf_counter() - start:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
