"""Warnings point at the caller's code."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc._warnings import warn


def test_a_warning_from_outside_the_package_points_at_its_caller():
    with pytest.warns(UserWarning, match="here") as record:
        warn("here")
    assert record[0].filename == __file__


def test_training_warnings_do_not_point_into_the_package():
    X = np.random.RandomState(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    estimator = DeepSpectralClusteringEmbedder(
        max_iter=1, init="random", early_stopping=False, device="cpu"
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    (warning,) = [w for w in record if w.category is ConvergenceWarning]
    assert "sklearn_dsc" not in warning.filename
