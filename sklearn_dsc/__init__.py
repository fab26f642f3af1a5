"""Deep Spectral Clustering Learning for scikit-learn.

``DeepSpectralClusteringEmbedder`` learns an embedding in which k-means and
spectral clustering recover classes, also classes never seen in training,
with the spectral clustering loss of Law, Urtasun and Zemel (ICML 2017).
The loss itself is usable in any torch training loop.
"""

from ._embedder import DeepSpectralClusteringEmbedder
from ._loss import SpectralClusteringLoss, spectral_clustering_loss

__version__ = "0.1.0"

__all__ = [
    "DeepSpectralClusteringEmbedder",
    "SpectralClusteringLoss",
    "__version__",
    "spectral_clustering_loss",
]
