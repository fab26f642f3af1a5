"""Zero-shot clustering of handwritten digits: ``python -m sklearn_dsc.demo``.

Trains on the digits 0-4 of scikit-learn's bundled digits, embeds the digits
5-9 that training never saw, clusters them with k-means, and compares with
raw pixels, PCA, LDA and NCA on the same split.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NeighborhoodComponentsAnalysis

from ._embedder import DeepSpectralClusteringEmbedder
from .metrics import kmeans_ami, kmeans_nmi, recall_at_k


def methods(random_state):
    """The methods compared, as ``(name, estimator or None for raw pixels)``."""
    return [
        ("raw pixels", None),
        ("PCA (16 components)", PCA(16, random_state=random_state)),
        ("LDA", LinearDiscriminantAnalysis()),
        ("NCA", NeighborhoodComponentsAnalysis(random_state=random_state)),
        (
            "ours, linear closed form",
            DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form"),
        ),
        ("ours, defaults", DeepSpectralClusteringEmbedder(random_state=random_state)),
    ]


def evaluate(embeddings, labels, n_seeds=3):
    """Mean k-means NMI and AMI over ``n_seeds`` k-means seeds, and Recall@1."""
    nmi = np.mean(
        [kmeans_nmi(embeddings, labels, random_state=s) for s in range(n_seeds)]
    )
    ami = np.mean(
        [kmeans_ami(embeddings, labels, random_state=s) for s in range(n_seeds)]
    )
    return nmi, ami, recall_at_k(embeddings, labels, k=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels in [0, 1]
    seen, unseen = y < 5, y >= 5
    print(
        f"Training on {seen.sum()} images of the digits 0-4; clustering "
        f"{unseen.sum()} images of the digits 5-9, never seen in training.\n"
    )
    rows = []
    for name, estimator in methods(args.random_state):
        start = time.perf_counter()
        if estimator is None:
            embeddings = X[unseen]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X[seen], y[seen])
            embeddings = estimator.transform(X[unseen])
        seconds = time.perf_counter() - start
        rows.append(
            (name, embeddings.shape[1], *evaluate(embeddings, y[unseen]), seconds)
        )
        print(f"  {name:<26} done in {seconds:.1f}s", flush=True)

    print("\n| method | dims | NMI | AMI | Recall@1 | fit s |")
    print("|---|---|---|---|---|---|")
    for name, dims, nmi, ami, recall, seconds in rows:
        print(
            f"| {name} | {dims} | {nmi:.3f} | {ami:.3f} | {recall:.3f} | "
            f"{seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
