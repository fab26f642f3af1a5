"""The exact minimiser of the spectral clustering loss over linear maps.

Law, Urtasun and Zemel (CVPR 2016, "Closed-form training of Mahalanobis
distance for supervised clustering") show that the loss has a closed-form
minimiser when the embedding is a linear map of the inputs. With an
intercept, ``F = X W + 1 b^T`` ranges over the subspaces ``U`` of the column
space of ``X~ = [X, 1]``. For an orthonormal basis ``Q`` of ``U``::

    loss = 1/4 (dim U + k - 2 tr(Q^T P_Y Q))

so each direction ``u`` of ``U`` adds ``1/4 (1 - 2 u^T P_Y u)`` and the best
``U`` is spanned by the eigenvectors of ``P_X~ P_Y P_X~`` whose eigenvalues
exceed 1/2. Those share their non-zero eigenvalues with the k x k matrix
``M = J^T P_X~ J``; an eigenvector ``v`` of ``M`` gives the direction
``P_X~ J v``, the least-squares fit of the target ``J v``. The ridge penalty
``alpha`` replaces ``(X^T X)^+`` by ``(X^T X + alpha I)^-1`` (on centred
``X``; the intercept is not penalised).

The map is ``W = (Xc^T Xc + alpha I)^-1 Xc^T J V`` on centred ``Xc``, so the
training embedding has variance ``mu_i`` along direction ``i``: directions
that fit the classes better count more in Euclidean distances.

``Xc^T Xc`` is ``n_features x n_features``. Sparse inputs wider than
``MAX_COVARIANCE_FEATURES`` are first projected on their top
``WIDE_INPUT_DIRECTIONS`` principal directions (a randomized SVD), and the
map is solved there: memory then grows with ``n_features`` times that
number, not with ``n_features`` squared. Fewer rows than features are
solved in the span of the rows, where ``Xc^T J`` lies, from the eigenpairs
of their ``n_samples x n_samples`` Gram matrix (``row_space_eigh``).
"""

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._pca import (
    MAX_COVARIANCE_FEATURES,
    principal_directions,
    row_space_eigh,
    signed_eigh,
)

# Principal directions within which the closed form of wide sparse inputs is
# solved.
WIDE_INPUT_DIRECTIONS = 256


def closed_form_linear_map(
    X, codes, n_classes, alpha=0.0, n_components=None, directions=None, shrinkage=None
):
    """Weight, bias and eigenvalues of the closed-form linear embedding.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    codes : ndarray of shape (n_samples,)
        Classes as integers in ``[0, n_classes)``.
    n_classes : int
    alpha : float, default=0.0
        Ridge penalty on ``Xc^T Xc`` (unused where ``shrinkage`` is given).
    n_components : int or None
        ``None`` keeps the eigen-directions with eigenvalue above 1/2 (the
        exact minimiser, at least one direction); an int keeps that many of
        the top ones (the best subspace of that dimension, at most
        ``n_classes``).
    directions : ndarray of shape (n_directions, n_features), default=None
        Orthonormal rows within which to solve (the map is the closed form of
        ``X @ directions.T``). ``None`` solves in the whole input space, or,
        for sparse inputs wider than ``MAX_COVARIANCE_FEATURES``, within
        their top ``WIDE_INPUT_DIRECTIONS`` principal directions.
    shrinkage : float, default=None
        If given, the ridge penalty is ``shrinkage`` times the largest
        eigenvalue of ``Xc^T Xc`` instead of ``alpha``: a penalty in the
        inputs' own units.

    Returns
    -------
    weight : ndarray of shape (n_components, n_features)
    bias : ndarray of shape (n_components,)
    eigenvalues : ndarray of shape (n_classes,)
        All eigenvalues of ``M``, in decreasing order.
    """
    if directions is None and sp.issparse(X) and X.shape[1] > MAX_COVARIANCE_FEATURES:
        directions, _, _ = principal_directions(X, WIDE_INPUT_DIRECTIONS, seed=0)
    if directions is not None:
        weight, bias, eigenvalues = closed_form_linear_map(
            np.asarray(X @ directions.T),
            codes,
            n_classes,
            alpha,
            n_components,
            shrinkage=shrinkage,
        )
        return weight @ directions, bias, eigenvalues
    X = X.astype(np.float64)
    n_samples = X.shape[0]
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = class_sums(X, codes, n_classes)
    mean = sums.sum(axis=0) / n_samples
    if n_samples < X.shape[1]:  # O(n^2 d), and no n_features x n_features array
        eigh = row_space_eigh(dense(X) - mean)
        return closed_form_from_moments(
            None, sums, counts, mean, alpha, n_components, eigh, shrinkage
        )
    gram = dense(X.T @ X)
    gram -= n_samples * np.outer(mean, mean)  # Xc^T Xc
    return closed_form_from_moments(
        gram, sums, counts, mean, alpha, n_components, shrinkage=shrinkage
    )


def class_sums(X, codes, n_classes):
    """The ``n_classes x n_features`` sums of the rows of each class of
    ``codes`` in ``X`` (dense or sparse), as an array, without forming the
    ``n_samples x n_classes`` indicator matrix."""
    membership = sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))),
        shape=(n_classes, len(codes)),
    )
    return dense(membership @ X)


def dense(array):
    """``array`` as an ``ndarray``, densified if sparse."""
    return np.asarray(array.toarray() if sp.issparse(array) else array)


def closed_form_from_moments(
    scatter,
    class_sums,
    counts,
    mean,
    alpha=0.0,
    n_components=None,
    eigh=None,
    shrinkage=None,
    largest=None,
):
    """``closed_form_linear_map`` from the moments of the rows.

    ``scatter`` is ``Xc^T Xc`` (the rows about their ``mean``; ``None``
    will do where ``eigh`` is given), ``class_sums`` the
    ``n_classes x n_features`` sums of each class's rows and ``counts``
    their numbers (all positive); ``eigh``, if given, is the
    ``(eigenvalues, eigenvectors)`` of ``scatter`` along every direction the
    rows vary, to share one factorisation with a PCA; ``shrinkage`` as in
    ``closed_form_linear_map``. ``largest``, if given instead of ``eigh``
    with a ``shrinkage``, is the largest eigenvalue of ``scatter``, which
    then needs no eigendecomposition: its ridge, positive, is solved by a
    Cholesky factorisation.
    Returns ``(weight, bias, eigenvalues)``.
    """
    n_samples = counts.sum()
    # Xc^T J, J being the class indicators scaled by 1/sqrt(count)
    xt_j = (class_sums - np.outer(counts, mean)).T / np.sqrt(counts)
    # a positive ridge known without an eigendecomposition
    by_cholesky = (
        eigh is None
        and (shrinkage is not None and shrinkage > 0)
        and (largest is not None and largest > 0)
    )
    if by_cholesky:
        ridged = scatter + shrinkage * largest * np.eye(len(scatter))
        ridge_map = linalg.cho_solve(linalg.cho_factor(ridged), xt_j)  # D x k
    else:
        ridge_map = _ridge_map(scatter, xt_j, alpha, eigh, shrinkage)
    # M = J^T P_X~ J: the centred part plus the constant direction.
    sqrt_share = np.sqrt(counts / n_samples)
    m = xt_j.T @ ridge_map + np.outer(sqrt_share, sqrt_share)
    mu, v = signed_eigh((m + m.T) / 2)  # signs that LAPACK does not choose
    mu, v = mu[::-1], v[:, ::-1]
    if n_components is None:
        n_components = max(1, int(np.sum(mu > 0.5)))
    n_components = min(n_components, len(counts))
    v = v[:, :n_components]
    weight = (ridge_map @ v).T
    # the constant part of P_X~ J v is (1^T J v) / n
    bias = (np.sqrt(counts) @ v) / n_samples - weight @ mean
    return weight, bias, np.clip(mu, 0.0, 1.0)


def _ridge_map(scatter, xt_j, alpha, eigh, shrinkage):
    """``(scatter + ridge I)^+ xt_j`` by the eigendecomposition ``eigh`` of
    ``scatter`` (computed here where ``None``), the ridge being ``alpha``, or
    ``shrinkage`` times the largest eigenvalue where given; directions whose
    eigenvalue plus the ridge is rounding are left out."""
    eigenvalues, eigenvectors = linalg.eigh(scatter) if eigh is None else eigh
    largest = eigenvalues.max(initial=0.0)
    ridge = alpha if shrinkage is None or largest <= 0 else shrinkage * largest
    shifted = eigenvalues + ridge
    n_features = len(eigenvectors)
    keep = shifted > shifted.max(initial=0.0) * n_features * np.finfo(float).eps
    inverse = np.where(keep, 1.0 / np.where(keep, shifted, 1.0), 0.0)
    return (eigenvectors * inverse) @ (eigenvectors.T @ xt_j)
