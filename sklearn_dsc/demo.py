"""Zero-shot clustering of handwritten digits: ``sklearn-dsc demo``.

Trains on the digits 0-4 of scikit-learn's bundled digits, embeds the digits
5-9 that training never saw, clusters them with k-means, and compares with
raw pixels, PCA, LDA and NCA on the same split. Writes a figure of the unseen
digits in the learned embedding next to raw pixels.
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NeighborhoodComponentsAnalysis

from ._embedder import DeepSpectralClusteringEmbedder
from ._outputs import write_figure
from ._progress import EpochProgress
from .metrics import kmeans_ami, kmeans_nmi, recall_at_k

OURS = "ours, defaults"


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
        (
            OURS,
            DeepSpectralClusteringEmbedder(random_state=random_state),
        ),
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


def plot_embeddings(embeddings, labels, path):
    """Save scatter plots of each embedding's first two principal directions."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5))
    axes = figure.subplots(1, len(embeddings))
    for axis, (name, points) in zip(axes, embeddings.items(), strict=True):
        projected = PCA(2, random_state=0).fit_transform(points)
        for label in np.unique(labels):
            mask = labels == label
            axis.scatter(*projected[mask].T, s=6, label=str(label))
        axis.set_title(f"{name} ({points.shape[1]} dims)")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[-1].legend(title="digit", markerscale=3)
    figure.suptitle("Digits 5-9, never seen in training: first two principal axes")
    figure.tight_layout()
    write_figure(figure, path)


def run(random_state=0, figure_path="sklearn_dsc_demo.png", show_progress=True):
    """Run the demo, print its table and save its figure; return the table rows."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels in [0, 1]
    seen, unseen = y < 5, y >= 5
    print(
        f"Training on {seen.sum()} images of the digits 0-4; clustering "
        f"{unseen.sum()} images of the digits 5-9, never seen in training.\n",
        flush=True,
    )
    rows, ours, progress = [], None, None
    for name, estimator in methods(random_state):
        if name == OURS and show_progress:  # its clock starts with our fit
            progress = EpochProgress(f"  {OURS:<26}")
            estimator.set_params(callback=progress)
        start = time.perf_counter()
        if estimator is None:
            embeddings = X[unseen]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                estimator.fit(X[seen], y[seen])
            embeddings = estimator.transform(X[unseen])
        seconds = time.perf_counter() - start
        if name == OURS:
            ours = embeddings
            if progress is not None:
                progress.close()
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
    if figure_path:
        try:
            plot_embeddings(
                {"raw pixels": X[unseen], "learned embedding": ours},
                y[unseen],
                figure_path,
            )
        except ImportError:
            print("\nInstall matplotlib to also draw the figure.")
        else:
            print(f"\nFigure of the unseen digits: {figure_path}")
    return rows
