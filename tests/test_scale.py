"""Parallel model selection: workers share the cores."""

import functools
import os

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sklearn_dsc import DeepSpectralClusteringEmbedder


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
