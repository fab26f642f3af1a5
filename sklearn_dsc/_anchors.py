"""Fixed linear maps ("anchors") that the embedding starts from.

Each returns a weight and bias ``(W, b)``, the map ``x -> W x + b``, rescaled
so that the training data's embedding has unit root-mean-square distance to
its mean.

- The PCA anchor keeps the geometry of the inputs (at most ``max_width``
  principal directions): ``whitened_anchors`` with shrinkage ``None``.
- The whitened anchor divides out, within that PCA subspace, the directions
  along which the training classes vary internally: it is the Mahalanobis
  metric of the shrunk within-class covariance ``S_w + shrinkage * s_1 I``,
  where ``s_1`` is the largest variance of the inputs. A large shrinkage
  gives the PCA geometry back; a small one is the full-rank metric of linear
  discriminant analysis. Variation that the training classes share (pose,
  stroke, lighting, topic-independent wording) tends to be shared by new
  classes too, so dividing it out can help to cluster classes never seen in
  training, while every direction of the inputs is kept.
- The closed-form anchor is the ridge regression onto the class indicators
  (:func:`closed_form_linear_map` with every class direction).
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._closed_form import closed_form_linear_map
from ._pca import MAX_COVARIANCE_FEATURES, principal_directions

# The PCA and whitened anchors keep at most this many directions of the inputs.
MAX_ANCHOR_WIDTH = 256


def _unit_spread(X, weight, bias):
    """``(weight, bias)`` scaled so that ``X @ weight.T`` has unit spread."""
    spread = np.sqrt(np.sum(np.var(np.asarray(X @ weight.T), axis=0)))
    return _divided(weight, bias, spread)


def _divided(weight, bias, spread):
    """``(weight, bias) / spread``, in place (both are fresh arrays)."""
    if spread > 0:
        weight /= spread
        bias /= spread
    return weight, bias


def whitened_anchors(X, codes, shrinkages, max_width, seed, directions=None):
    """The whitened anchor for each value of ``shrinkages``, one at a time
    (a generator: each map is ``max_width x n_features``).

    One PCA of ``X`` (at most ``max_width`` directions) and one within-class
    covariance serve them all. A shrinkage is relative to the largest
    variance of the inputs; ``None`` gives the PCA anchor, as do all of them
    where the inputs do not vary.
    """
    X = X.astype(np.float64, copy=False)  # float32 squares overflow from ~1e19
    components, mean, variances = directions or principal_directions(X, max_width, seed)
    largest = float(variances[0]) if len(variances) else 0.0
    # Every anchor is ``T @ components`` for a square ``T``, and embeds X as
    # ``projected @ T.T``: its spread comes from the covariance of the
    # projection, with no pass over X per anchor.
    projected = np.asarray(X @ components.T) - components @ mean
    projected -= projected.mean(axis=0)
    covariance = projected.T @ projected / len(projected)
    if largest > 0 and any(shrinkage is not None for shrinkage in shrinkages):
        _, codes = np.unique(codes, return_inverse=True)
        counts = np.bincount(codes).astype(np.float64)
        class_means = np.zeros((len(counts), projected.shape[1]))
        np.add.at(class_means, codes, projected)
        class_means /= counts[:, None]
        residuals = projected - class_means[codes]
        within = residuals.T @ residuals / len(projected)
    for shrinkage in shrinkages:
        transform = np.eye(len(components))
        if shrinkage is not None and largest > 0:
            values, vectors = linalg.eigh(
                within + shrinkage * largest * np.eye(len(within))
            )
            transform = (vectors / np.sqrt(values)).T
        weight = transform @ components
        spread = np.sqrt(max(np.sum((transform @ covariance) * transform), 0.0))
        yield _divided(weight, -weight @ mean, spread)


def closed_form_anchor(X, codes, alpha, directions=None):
    """Every class direction of the closed-form linear map (ridge ``alpha``),
    within ``directions`` (orthonormal rows) when given."""
    X = X.astype(np.float64, copy=False)
    _, codes = np.unique(codes, return_inverse=True)
    n_classes = codes.max() + 1
    weight, bias, _ = closed_form_linear_map(
        X, codes, n_classes, alpha, n_classes, directions
    )
    return _unit_spread(X, weight, bias)


def anchor_maps(candidates, X, codes, alpha, seed, max_width=MAX_ANCHOR_WIDTH):
    """Weight and bias, at unit spread, of each ``(init, shrinkage)`` of
    ``candidates``, one at a time (a generator): ``"pca"``, ``"whitened"``
    (with its shrinkage) or ``"closed_form"`` (ridge ``alpha``). The PCA and
    whitened ones share one PCA (``seed``), of at most ``max_width``
    directions; for sparse inputs too wide for a covariance matrix, the
    closed form is solved within those directions too."""
    X = X.astype(np.float64, copy=False)
    directions = None
    if sp.issparse(X) and X.shape[1] > MAX_COVARIANCE_FEATURES:
        directions = principal_directions(X, max_width, seed)
    geometry = [s for init, s in candidates if init != "closed_form"]
    maps = whitened_anchors(X, codes, geometry, max_width, seed, directions)
    # every class direction of the closed form: a ridge regression onto
    # the class indicators, which transfers better than the loss's minimiser
    components = None if directions is None else directions[0]
    for init, _ in candidates:
        if init == "closed_form":
            yield closed_form_anchor(X, codes, alpha, components)
        else:
            yield next(maps)
