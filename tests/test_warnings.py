"""Warnings point at the caller's code, wherever the package is installed."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_dsc
from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._warnings import warn

PACKAGE = Path(sklearn_dsc.__file__).resolve().parent


def test_a_warning_from_outside_the_package_points_at_its_caller():
    with pytest.warns(UserWarning, match="here") as record:
        warn("here")
    assert record[0].filename == __file__


def _convergence_warnings(fit):
    X = np.random.RandomState(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    estimator = DeepSpectralClusteringEmbedder(
        max_iter=1, init="random", early_stopping=False, device="cpu"
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit(estimator, X, y)
    found = [w for w in record if w.category is ConvergenceWarning]
    assert found
    return found  # one a fit: cross_val_score fits twice


@pytest.mark.parametrize(
    "fit",
    [
        pytest.param(lambda estimator, X, y: estimator.fit(X, y), id="fit"),
        pytest.param(
            lambda estimator, X, y: make_pipeline(StandardScaler(), estimator).fit(
                X, y
            ),
            id="pipeline",
        ),
        # a step before the last is fitted through joblib's Memory, and
        # cross_val_score fits through joblib's Parallel
        pytest.param(
            lambda estimator, X, y: make_pipeline(estimator, KMeans(2)).fit(X, y),
            id="pipeline-step",
        ),
        pytest.param(
            lambda estimator, X, y: cross_val_score(
                estimator, X, y, cv=StratifiedKFold(2)
            ),
            id="cross_val_score",
        ),
    ],
)
def test_training_warnings_point_at_the_line_that_fits(fit):
    # neither into this package nor into scikit-learn's fit wrappers, which
    # stand between the caller and the package's code
    for warning in _convergence_warnings(fit):
        assert Path(warning.filename).resolve().parent != PACKAGE
        assert warning.filename == __file__


def test_a_fit_keeps_kmeans_warnings_of_its_held_out_sets_to_itself():
    """Rows of 12 classes that take two values: every held-out set's k-means
    finds fewer distinct points than classes, at every set and epoch."""
    y = np.repeat(np.arange(12), 30)
    X = np.zeros((len(y), 3))
    X[:, 0] = y % 2
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = DeepSpectralClusteringEmbedder(random_state=0).fit(X, y)
    assert not [w for w in record if "distinct clusters" in str(w.message)]
    # the user's own k-means NMI still says so
    with pytest.warns(ConvergenceWarning, match="Number of distinct clusters"):
        model.score(X, y)
