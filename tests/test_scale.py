"""Throughput: where training data lives, and parallel model selection."""

import functools
import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sklearn_dsc import DeepSpectralClusteringEmbedder, _data

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def fit_digits(device="cpu", **params):
    X, y = load_digits(return_X_y=True)
    estimator = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(16,),
        max_iter=2,
        early_stopping=False,
        random_state=0,
        device=device,
        **params,
    )
    return estimator.fit(X / 16, y), X / 16


def test_data_that_does_not_fit_the_device_is_staged(monkeypatch):
    """Batches gathered on the host and copied give the same model as data
    held on the device."""
    resident, X = fit_digits()
    staged_batches = []
    original = _data.StagedRows.copy

    def copy(self, X, indices):
        staged_batches.append(len(indices))
        return original(self, X, indices)

    monkeypatch.setattr(_data, "fits_on_device", lambda n_bytes, device: False)
    monkeypatch.setattr(_data.StagedRows, "copy", copy)
    staged, _ = fit_digits()
    assert staged_batches  # the staged path ran
    np.testing.assert_array_equal(staged.transform(X), resident.transform(X))


def test_staged_rows_reuse_one_buffer_and_cast():
    X = np.arange(40, dtype=np.float64).reshape(10, 4)
    staging = _data.StagedRows(4, torch.device("cpu"))
    first = staging.copy(X, [3, 1])
    buffer = staging.buffer
    second = staging.copy(X, np.array([0]))
    assert staging.buffer is buffer
    assert first.dtype == torch.float32
    np.testing.assert_array_equal(first.numpy(), X[[3, 1]])
    np.testing.assert_array_equal(second.numpy(), X[[0]])
    staging.copy(X, np.arange(10))  # a larger batch grows the buffer
    assert len(staging.buffer) == 10


@CUDA
def test_cuda_staged_matches_resident(monkeypatch):
    resident, X = fit_digits("cuda")
    monkeypatch.setattr(_data, "fits_on_device", lambda n_bytes, device: False)
    staged, _ = fit_digits("cuda")
    np.testing.assert_allclose(
        staged.transform(X), resident.transform(X), rtol=1e-5, atol=1e-6
    )


@CUDA
def test_cuda_data_is_kept_on_the_device_when_it_fits():
    data = _data.TensorData(np.ones((100, 4)), torch.device("cuda"))
    assert data.staging is None
    assert data.X.is_cuda


def record_threads(folder, estimator):
    """Write the torch thread count of the process that trains ``estimator``."""
    path = os.path.join(folder, f"{os.getpid()}.txt")
    with open(path, "w") as stream:
        stream.write(str(torch.get_num_threads()))


def test_grid_search_workers_share_the_cores(tmp_path):
    """With joblib's default (process) backend each of the n_jobs workers
    runs torch on cpu_count // n_jobs threads, not on every core."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16, y[:400]
    estimator = DeepSpectralClusteringEmbedder(
        hidden_layer_sizes=(8,),
        max_iter=1,
        early_stopping=False,
        init="random",
        random_state=0,
        device="cpu",
        callback=functools.partial(record_threads, str(tmp_path)),
    )
    n_jobs = 2
    search = GridSearchCV(
        estimator, {"learning_rate_init": [1e-3, 1e-2]}, cv=2, n_jobs=n_jobs
    )
    search.fit(X, y)
    workers = [
        int(path.read_text())
        for path in tmp_path.glob("*.txt")
        if path.stem != str(os.getpid())  # the parent's refit
    ]
    assert workers
    assert max(workers) <= max(1, (os.cpu_count() or 1) // n_jobs)
