import os

import numpy as np
import pytest
from hypothesis import settings
from sklearn.datasets import load_digits, make_blobs

from cli_helpers import FAST, NAMES, ok, write_csv

# CI runs the same examples every time; locally hypothesis explores afresh.
# HYPOTHESIS_PROFILE=fuzz runs many more examples (the reliability fuzz suite).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.register_profile("fuzz", deadline=None, max_examples=1000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="module")
def blobs():
    """Four Gaussian blobs of 50 rows in 6 features, labelled by blob."""
    return make_blobs(n_samples=200, centers=4, n_features=6, random_state=0)


@pytest.fixture(autouse=True)
def no_captured_loss_graphs():
    """Each test starts with no CUDA graph of the loss: graphs are kept per
    shape across calls, so one test's calls would count towards another's."""
    from sklearn_dsc import _loss_graphs

    _loss_graphs.clear()


# the files of the command line's tests (test_cli*.py), made and fitted once


@pytest.fixture(scope="session")
def digit_files(tmp_path_factory):
    """Digits 0-4 (training) and 5-9 (unseen) as CSV and .npz files."""
    folder = tmp_path_factory.mktemp("data")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    seen, unseen = np.flatnonzero(y < 5)[:400], np.flatnonzero(y >= 5)[:300]
    for name, rows in (("seen", seen), ("unseen", unseen)):
        write_csv(
            folder / f"{name}.csv",
            [[*X[i], f"d{y[i]}"] for i in rows],
            [*NAMES, "digit"],
        )
    np.savez(folder / "seen.npz", X=X[seen], y=y[seen])
    np.savez(folder / "unseen.npz", X=X[unseen], y=y[unseen])
    return folder


@pytest.fixture(scope="session")
def digit_model(digit_files):
    """A model file that ``sklearn-dsc fit`` trained on the seen digits."""
    path = digit_files / "model.dsc"
    result = ok("fit", digit_files / "seen.csv", "--target", "digit", "-o", path, *FAST)
    assert "Saved to" in result.stdout
    assert "epoch" in result.stderr  # the progress bar
    return path
