"""Deep Spectral Clustering Learning for scikit-learn.

``DeepSpectralClusteringEmbedder`` learns an embedding in which k-means and
spectral clustering recover classes, also classes never seen in training,
with the spectral clustering loss of Law, Urtasun and Zemel (ICML 2017).
The loss itself is usable in any torch training loop.

The public names are imported on first use, so that the command line starts
without loading torch and scikit-learn when it does not need them.
"""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_EXPORTS = {
    "DeepSpectralClusteringEmbedder": "._embedder",
    "ModelFileError": "._persistence",
    "NClustersEstimate": "._n_clusters",
    "SpectralClusteringLoss": "._loss",
    "TrainingInterrupted": "._training",
    "distributed_spectral_clustering_loss": "._large_batch",
    "estimate_n_clusters": "._n_clusters",
    "load": "._persistence",
    "save": "._persistence",
    "spectral_clustering_backward": "._large_batch",
    "spectral_clustering_loss": "._loss",
}

__all__ = [
    "DeepSpectralClusteringEmbedder",
    "ModelFileError",
    "NClustersEstimate",
    "SpectralClusteringLoss",
    "TrainingInterrupted",
    "__version__",
    "distributed_spectral_clustering_loss",
    "estimate_n_clusters",
    "load",
    "save",
    "spectral_clustering_backward",
    "spectral_clustering_loss",
]

if TYPE_CHECKING:
    from ._embedder import DeepSpectralClusteringEmbedder
    from ._large_batch import (
        distributed_spectral_clustering_loss,
        spectral_clustering_backward,
    )
    from ._loss import SpectralClusteringLoss, spectral_clustering_loss
    from ._n_clusters import NClustersEstimate, estimate_n_clusters
    from ._persistence import ModelFileError, load, save
    from ._training import TrainingInterrupted


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_EXPORTS})
