"""Data and helpers shared by several test modules."""

import subprocess
import sys
import tracemalloc
import warnings

import numpy as np


def run_fresh(script, *arguments, cwd=None):
    """``script`` run with ``arguments`` in a fresh interpreter (this one's),
    which must succeed: its ``CompletedProcess``, output as text."""
    return subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )


def informative_and_noise(n_classes=12, n_per_class=50, seed=0, n_noise=20):
    """Classes that differ in 4 dimensions, hidden among ``n_noise`` noisy
    ones.

    What separates the training classes (ignore the noise) also separates
    classes never seen in training.
    """
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, 4))
    y = np.repeat(np.arange(n_classes), n_per_class)
    informative = centers[y] + rng.normal(size=(len(y), 4))
    noise = rng.normal(scale=4.0, size=(len(y), n_noise))
    return np.hstack([informative, noise]), y


def largest_scatter_eigenvalue(X):
    """The largest eigenvalue of the centred ``X^T X``, of which the
    closed-form anchor's ridge is a share."""
    centred = X - X.mean(axis=0)
    return np.linalg.eigvalsh(centred.T @ centred).max()


def within_class_covariance(embeddings, y):
    residuals = embeddings.copy()
    for label in np.unique(y):
        residuals[y == label] -= embeddings[y == label].mean(axis=0)
    return residuals.T @ residuals / len(y)


def interrupted_at_call(function, n_call):
    """``function``, raising ``KeyboardInterrupt`` (Ctrl-C) at its
    ``n_call``-th call instead."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n_call:
            raise KeyboardInterrupt
        return function(*args, **kwargs)

    return wrapper


def host_synchronisations(function):
    """The host synchronisations (their warnings' messages) during one call
    of ``function`` on a CUDA device."""
    import torch

    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            function()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # (the first use of the debug mode also warns that it is a prototype)
    return [str(w.message) for w in caught if "a synchronizing" in str(w.message)]


def loss_and_grad(fn, embeddings, labels):
    """``fn``'s loss (detached) and its gradient at a copy of ``embeddings``."""
    embeddings = embeddings.detach().clone().requires_grad_(True)
    loss = fn(embeddings, labels)
    loss.backward()
    return loss.detach(), embeddings.grad


def peak_bytes(function, *args):
    """The most memory that ``function(*args)`` held at once (tracemalloc's
    peak: Python and NumPy allocations)."""
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def embedded(X, weight, bias):
    """``X`` (dense or sparse) through the affine map ``(weight, bias)``."""
    return np.asarray(X @ weight.T) + bias


def assert_moments_embed_as_rows(X, y, candidates, max_width, held_outs):
    """``ClassMoments`` embeds the rows of each set of ``held_outs`` classes
    by each of ``candidates`` as ``anchor_maps`` fitted on the other rows
    does: the same distances (up to an orthogonal map of the columns).
    Returns the weights of ``anchor_maps``."""
    from sklearn.metrics import pairwise_distances

    from sklearn_dsc._anchors import ClassMoments, anchor_maps

    moments = ClassMoments(X, y)
    weights = []
    for held_out in held_outs:
        held = np.isin(y, held_out)
        maps = anchor_maps(candidates, X[~held], y[~held], 0, max_width)
        found = moments.held_out_embeddings(held, candidates, max_width)
        for (weight, bias), embedding in zip(maps, found, strict=True):
            expected = embedded(X[held], weight, bias)
            assert embedding.shape == expected.shape
            np.testing.assert_allclose(
                pairwise_distances(embedding),
                pairwise_distances(expected),
                rtol=1e-7,
                atol=1e-9,
            )
            weights.append(weight)
    return weights
