"""Estimating the number of clusters of an embedding."""

import numpy as np
import pytest
import torch

from sklearn_dsc import estimate_n_clusters, spectral_clustering_loss
from sklearn_dsc._n_clusters import (
    METHODS,
    NClustersEstimate,
    column_basis,
    spectral_loss,
)


def blobs(n_clusters=4, n_per_cluster=40, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    centers = 12 * rng.normal(size=(n_clusters, n_features))
    y = np.repeat(np.arange(n_clusters), n_per_cluster)
    return centers[y] + rng.normal(size=(len(y), n_features)), y


@pytest.mark.parametrize("method", METHODS)
def test_separated_blobs_are_counted(method):
    X, _ = blobs()
    estimate = estimate_n_clusters(X, max_clusters=12, method=method, random_state=0)
    assert isinstance(estimate, NClustersEstimate)
    assert estimate.n_clusters == 4
    assert estimate.method == method
    assert len(estimate.candidates) == len(estimate.criterion)
    assert estimate.candidates.max() <= 12
    assert isinstance(estimate.criterion_name, str)
    if method != "hdbscan":  # the estimate is where the criterion is largest
        best = estimate.candidates[np.argmax(estimate.criterion)]
        assert estimate.n_clusters == best


@pytest.mark.parametrize("method", ["eigengap", "loss"])
def test_the_same_seed_gives_the_same_estimate(method):
    X, _ = blobs(n_clusters=6, seed=1)
    first = estimate_n_clusters(X, method=method, random_state=3, max_samples=150)
    second = estimate_n_clusters(X, method=method, random_state=3, max_samples=150)
    assert first.n_clusters == second.n_clusters
    np.testing.assert_array_equal(first.criterion, second.criterion)


def test_more_rows_than_max_samples_are_drawn_from():
    X, _ = blobs(n_clusters=3, n_per_cluster=200)
    estimate = estimate_n_clusters(X, max_samples=90, random_state=0)
    assert estimate.n_clusters == 3
    assert estimate.candidates.max() <= 9  # a tenth of the rows drawn


def test_the_loss_criterion_is_the_spectral_clustering_loss():
    X, y = blobs(n_clusters=5, n_features=8)
    labels = np.random.RandomState(0).randint(0, 5, size=len(X))
    centred = torch.from_numpy(X - X.mean(axis=0))
    for partition in (y, labels):
        expected = spectral_clustering_loss(centred, torch.from_numpy(partition))
        got = spectral_loss(column_basis(X), partition)
        assert got == pytest.approx(expected.item(), rel=1e-10)


def test_repeated_rows_give_a_finite_affinity():
    X, _ = blobs(n_clusters=3, n_per_cluster=30)
    X = np.repeat(X, 10, axis=0)  # every row ten times, like integer features
    estimate = estimate_n_clusters(X, method="eigengap", random_state=0)
    assert np.isfinite(estimate.criterion).all()
    assert estimate.n_clusters == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"embedding": np.full((20, 3), np.nan)}, "NaN"),
        ({"embedding": np.ones((20, 3))}, "constant"),
        ({"embedding": np.arange(6.0).reshape(3, 2)}, "3 rows: 2 clusters need"),
        ({"max_clusters": 40}, "max_clusters=40 is not below the number of rows"),
        ({"max_clusters": 1}, "max_clusters must be an integer >= min_clusters"),
        ({"min_clusters": 1}, "min_clusters must be an integer >= 2"),
        ({"method": "gap"}, "method must be one of"),
        ({"embedding": np.ones(30)}, "2D array"),
    ],
)
def test_bad_input_is_named(change, message):
    X, _ = blobs(n_clusters=2, n_per_cluster=20)
    arguments = {"embedding": X, **change}
    with pytest.raises(ValueError, match=message):
        estimate_n_clusters(**arguments)
