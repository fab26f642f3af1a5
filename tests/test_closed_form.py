import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import linalg
from sklearn.metrics import pairwise_distances

from sklearn_dsc import spectral_clustering_loss
from sklearn_dsc._closed_form import closed_form_from_moments, closed_form_linear_map


def problem(seed, n=120, n_features=6, n_classes=5):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, n_classes, n)
    X = rng.normal(size=(n, n_features)) + rng.normal(size=(n_classes, n_features))[y]
    return X, y


def loss(X, y, weight, bias):
    embeddings = torch.from_numpy(X @ weight.T + bias)
    return spectral_clustering_loss(embeddings, torch.from_numpy(y)).item()


def dense_eigenvalues(X, y):
    """Eigenvalues of J^T P_[X, 1] J with dense matrices."""
    one_hot = np.eye(y.max() + 1)[y]
    j = one_hot / np.sqrt(one_hot.sum(axis=0))
    augmented = np.column_stack([X, np.ones(len(X))])
    projection = augmented @ np.linalg.pinv(augmented)
    return np.sort(np.linalg.eigvalsh(j.T @ projection @ j))[::-1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eigenvalues_match_the_dense_definition(seed):
    X, y = problem(seed)
    _, _, eigenvalues = closed_form_linear_map(X, y, 5, alpha=0.0)
    np.testing.assert_allclose(eigenvalues, dense_eigenvalues(X, y), atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minimises_the_loss_over_linear_maps(seed):
    X, y = problem(seed)
    weight, bias, eigenvalues = closed_form_linear_map(X, y, 5, alpha=0.0)
    assert weight.shape[0] == np.sum(eigenvalues > 0.5)
    best = loss(X, y, weight, bias)
    # the value the derivation predicts
    kept = eigenvalues[eigenvalues > 0.5]
    assert best == pytest.approx((len(kept) + 5 - 2 * kept.sum()) / 4, abs=1e-8)
    rng = np.random.RandomState(seed)
    for n_components in range(1, 7):
        for _ in range(20):
            other = rng.normal(size=(n_components, X.shape[1]))
            assert loss(X, y, other, rng.normal(size=n_components)) >= best - 1e-9
    # every prefix of the eigen-directions is the best of its dimension
    for n_components in range(1, 6):
        w, b, _ = closed_form_linear_map(X, y, 5, alpha=0.0, n_components=n_components)
        assert w.shape[0] == n_components
        assert loss(X, y, w, b) >= best - 1e-9


def test_ridge_penalty_and_sparse_input():
    X, y = problem(3)
    weight, bias, _ = closed_form_linear_map(X, y, 5, alpha=0.0, n_components=4)
    sparse_weight, sparse_bias, _ = closed_form_linear_map(
        sp.csr_matrix(X), y, 5, alpha=0.0, n_components=4
    )
    np.testing.assert_allclose(sparse_weight, weight, atol=1e-8)
    np.testing.assert_allclose(sparse_bias, bias, atol=1e-8)
    ridge, _, _ = closed_form_linear_map(X, y, 5, alpha=1e6, n_components=4)
    assert np.linalg.norm(ridge) < 1e-3 * np.linalg.norm(weight)


def test_duplicated_and_constant_features_are_handled():
    X, y = problem(4)
    X = np.column_stack([X, X[:, 0], np.full(len(X), 3.0)])
    weight, bias, _ = closed_form_linear_map(X, y, 5, alpha=0.0)
    assert np.isfinite(weight).all()
    reference, reference_bias, _ = closed_form_linear_map(X[:, :6], y, 5, alpha=0.0)
    assert loss(X, y, weight, bias) == pytest.approx(
        loss(X[:, :6], y, reference, reference_bias), abs=1e-8
    )


def test_the_map_does_not_depend_on_the_signs_lapack_gives(monkeypatch):
    # an eigenvector's sign is LAPACK's choice, and other builds, or inputs
    # that differ by rounding, make the other one: the map's columns follow
    # their largest entries' signs instead (as scikit-learn's svd_flip)
    X, y = problem(5)
    weight, bias, eigenvalues = closed_form_linear_map(X, y, 5, alpha=0.0)
    eigh = linalg.eigh

    def other_signs(matrix, *args, **kwargs):
        values, vectors = eigh(matrix, *args, **kwargs)
        return values, -vectors

    monkeypatch.setattr(linalg, "eigh", other_signs)
    flipped = closed_form_linear_map(X, y, 5, alpha=0.0)
    np.testing.assert_allclose(flipped[0], weight, atol=1e-12)
    np.testing.assert_allclose(flipped[1], bias, atol=1e-12)
    np.testing.assert_allclose(flipped[2], eigenvalues, atol=1e-12)


@pytest.mark.parametrize("shrinkage", [0.01, 0.5])
def test_the_ridge_solved_from_the_largest_eigenvalue_alone(shrinkage):
    """Given the scatter's largest eigenvalue instead of its
    eigendecomposition, the shrunk ridge is solved by a Cholesky
    factorisation: the same map, up to rounding, with no eigendecomposition
    of the scatter."""
    X, y = problem(6, n=200, n_features=12)
    counts = np.bincount(y).astype(float)
    sums = np.vstack([X[y == k].sum(axis=0) for k in range(5)])
    mean = X.mean(axis=0)
    scatter = (X - mean).T @ (X - mean)
    eigen = linalg.eigh(scatter)
    moments = (scatter, sums, counts, mean)
    weight, bias, values = closed_form_from_moments(
        *moments, eigh=eigen, shrinkage=shrinkage
    )

    eigh = linalg.eigh

    def not_of_the_scatter(matrix, *args, **kwargs):  # M, of 5 classes, is
        assert len(matrix) == 5, "the scatter was eigendecomposed"
        return eigh(matrix, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linalg, "eigh", not_of_the_scatter)
        solved = closed_form_from_moments(
            *moments, shrinkage=shrinkage, largest=eigen[0][-1]
        )
    np.testing.assert_allclose(solved[0], weight, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(solved[1], bias, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(solved[2], values, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    ("alpha", "shrinkage"), [(0.0, None), (3.0, None), (0.0, 0.01)]
)
def test_fewer_rows_than_features_are_solved_in_their_span(sparse, alpha, shrinkage):
    """With fewer rows than features the map is solved from the rows' own
    Gram matrix, never forming or factorising the features' one: the same
    eigenvalues, embedding and loss as from the features' scatter (up to a
    rotation within an eigenspace: without a ridge, 40 rows in 90 features
    fit any labels, and every eigenvalue is 1)."""
    X, y = problem(7, n=40, n_features=90)
    counts = np.bincount(y).astype(float)
    sums = np.vstack([X[y == k].sum(axis=0) for k in range(5)])
    mean = X.mean(axis=0)
    scatter = (X - mean).T @ (X - mean)
    expected = closed_form_from_moments(
        scatter, sums, counts, mean, alpha, shrinkage=shrinkage
    )
    eigh = linalg.eigh

    def of_the_rows(matrix, *args, **kwargs):
        assert len(matrix) == 40 or len(matrix) == 5, "a features' matrix"
        return eigh(matrix, *args, **kwargs)

    inputs = sp.csr_matrix(X) if sparse else X
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linalg, "eigh", of_the_rows)
        found = closed_form_linear_map(inputs, y, 5, alpha=alpha, shrinkage=shrinkage)
    np.testing.assert_allclose(found[2], expected[2], atol=1e-10)
    assert found[0].shape == expected[0].shape
    np.testing.assert_allclose(
        pairwise_distances(X @ found[0].T + found[1]),
        pairwise_distances(X @ expected[0].T + expected[1]),
        atol=1e-8,
    )
    assert loss(X, y, *found[:2]) == pytest.approx(loss(X, y, *expected[:2]), abs=1e-9)
