"""Deep Spectral Clustering Learning for scikit-learn.

The spectral clustering loss of Law, Urtasun and Zemel (ICML 2017), with its
closed-form gradient, usable in any torch training loop.
"""

from ._loss import SpectralClusteringLoss, spectral_clustering_loss

__version__ = "0.1.0"

__all__ = [
    "SpectralClusteringLoss",
    "__version__",
    "spectral_clustering_loss",
]
