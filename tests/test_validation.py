"""The training data checks that name what they found."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder, estimate_n_clusters
from sklearn_dsc._cli_fit import OptionNames
from sklearn_dsc._errors import ArgumentError
from sklearn_dsc._validation import (
    check_finite,
    check_labels,
    check_numeric_frame,
    check_rows,
    is_constant,
    warn_if_channels_last,
    warn_if_single_rows,
    warn_if_unlabelled_mark,
)
from sklearn_dsc._wording import named_by
from sklearn_dsc.metrics import kmeans_nmi


@pytest.mark.parametrize("layout", [np.asarray, sp.csr_matrix, sp.csc_matrix])
def test_non_finite_values_are_counted_and_the_first_is_named(layout):
    X = np.arange(12.0).reshape(4, 3)
    X[[2, 3], 1] = np.nan
    X[1, 2] = np.inf
    # NaN first, as missing values are the likelier cause
    with pytest.raises(
        ValueError,
        match=r"^X contains 2 NaN \(missing\) values \(first: row 2, column 1\): "
        r"impute them first \(sklearn.impute.SimpleImputer in a pipeline\) or "
        r"drop those rows\.$",
    ):
        check_finite(layout(X))
    X[[2, 3], 1] = 0.0
    with pytest.raises(
        ValueError,
        match=r"^X contains 1 infinite value \(first: row 1, column 'c'\): clip "
        r"it or drop that row\.$",
    ):
        check_finite(layout(X), np.array(["a", "b", "c"], dtype=object))
    X[1, 2] = 0.0
    check_finite(layout(X))


def test_the_estimator_names_the_missing_values_of_a_frame():
    X = pd.DataFrame({"height": [1.0, 2.0, 3.0, 4.0], "age": [1, 2, None, 4]})
    X["age"] = X["age"].astype("Int64")  # pandas' NA
    y = [0, 0, 1, 1]
    with pytest.raises(ValueError, match=r"first: row 2, column 'age'\): impute it"):
        DeepSpectralClusteringEmbedder().fit(X, y)
    fitted = DeepSpectralClusteringEmbedder(random_state=0).fit(X.fillna(0), y)
    with pytest.raises(ValueError, match=r"first: row 2, column 'age'\): impute it"):
        fitted.transform(X)


def test_is_constant_on_dense_and_sparse_rows():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert is_constant(X)
    assert is_constant(sp.csr_matrix(X))
    X[1, 1] = 2.0
    assert not is_constant(X)
    assert not is_constant(sp.csr_matrix(X))


def test_numeric_frames_and_arrays_pass():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "flag": [True, False]})
    frame["as_text"] = pd.Series(["1.5", "2"], dtype=object)  # converts
    check_numeric_frame(frame)
    check_numeric_frame(np.array([["red"]]))  # not a frame: NumPy's to check


def test_text_columns_are_named_with_a_value():
    frame = pd.DataFrame({"a": [1.0, 2.0], "colour": ["red", "blue"]})
    with pytest.raises(
        ValueError, match=r"column 'colour' \(e\.g\. 'red'\): encode it"
    ):
        check_numeric_frame(frame)
    frame["size"] = pd.Categorical(["small", "large"])
    with pytest.raises(ValueError, match=r"columns 'colour', 'size' \(e\.g\. 'red' in"):
        check_numeric_frame(frame)


MISSING_LABELS = {
    "None": np.array(["a", "b", None, "a"], dtype=object),
    "NaN among strings": np.array(["a", "b", np.nan, "a"], dtype=object),
    "NaN in floats": np.array([0.0, 1.0, np.nan, 0.0]),
    "pandas' NA, strings": pd.Series(["a", "b", pd.NA, "a"], dtype="string"),
    "pandas' NA, integers": pd.Series([0, 1, pd.NA, 0], dtype="Int64"),
    "a category's NaN": pd.Series(["a", "b", None, "a"], dtype="category"),
    "a column": np.array([["a"], ["b"], [None], ["a"]], dtype=object),
}


@pytest.mark.parametrize("labels", MISSING_LABELS.values(), ids=MISSING_LABELS)
def test_missing_labels_are_counted_and_placed(labels):
    with pytest.raises(
        ArgumentError, match=r"^y holds 1 missing label .*, at position 2: drop"
    ):
        check_labels(labels, "y")


def test_many_missing_labels_are_listed_up_to_ten():
    labels = np.array([None] * 12 + ["a"], dtype=object)
    with pytest.raises(
        ArgumentError,
        match=r"12 missing labels .* positions 0, 1, .*, 9, \.\.\. \(12 in all\)",
    ):
        check_labels(labels, "y")


def test_strings_mixed_with_numbers_are_named_with_an_example():
    labels = np.array(["cat", "dog", 3, "cat"], dtype=object)
    with pytest.raises(
        ArgumentError, match=r"labels mixes strings and numbers \(e\.g\. 'cat' and 3\)"
    ):
        check_labels(labels, "labels")


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["a", "b"]),
        np.array([0.5, 1.5]),
        np.array([1, 2], dtype=object),
        np.array(["a", "b"], dtype=object),
        np.array([True, False]),
        pd.Series(["a", "b"], dtype="category"),
        np.array([[0, 1], [1, 0]]),  # several columns: the shape checks' task
    ],
)
def test_labels_of_one_type_pass(labels):
    check_labels(labels, "y")


def test_the_estimator_and_the_metrics_name_bad_labels():
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.array(["a", "b"] * 4, dtype=object)
    linear = DeepSpectralClusteringEmbedder(hidden_layer_sizes=(), solver="closed_form")
    model = linear.fit(X, y)
    missing = y.copy()
    missing[3] = None
    with pytest.raises(ValueError, match=r"^y holds 1 missing label"):
        DeepSpectralClusteringEmbedder().fit(X, missing)
    with pytest.raises(ValueError, match=r"^y holds 1 missing label"):
        DeepSpectralClusteringEmbedder().partial_fit(X, missing)
    with pytest.raises(ValueError, match=r"^classes holds 1 missing label"):
        DeepSpectralClusteringEmbedder().partial_fit(X, y, classes=["a", "b", None])
    with pytest.raises(ValueError, match=r"^y holds 1 missing label"):
        model.score(X, missing)
    mixed = y.copy()
    mixed[3] = 7
    with pytest.raises(ValueError, match=r"^labels mixes strings and numbers"):
        kmeans_nmi(X, mixed)
    with pytest.raises(ValueError, match=r"^reference_labels holds 1 missing label"):
        estimate_n_clusters(X, reference=X, reference_labels=missing)


def test_single_row_classes_are_listed_and_counted():
    y = np.array([0, 0, 1, 2, 2, 3])
    with pytest.warns(UserWarning, match="2 classes have a single row: 1, 3"):
        warn_if_single_rows(y)
    y = np.arange(14)
    with pytest.warns(UserWarning, match=r"0, 1, .*, 9, \.\.\. \(14 in all\)"):
        warn_if_single_rows(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_single_rows(np.repeat([0, 1], 2))


def test_minus_one_is_flagged_only_beside_other_labels():
    with pytest.warns(UserWarning, match="unlabelled rows"):
        warn_if_unlabelled_mark(np.array([-1, 0, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_unlabelled_mark(np.array([-1, 1]))  # a binary problem
        warn_if_unlabelled_mark(np.array(["-1", "a", "b"]))


def test_channels_last_shapes_are_flagged_with_the_reordering():
    with pytest.warns(UserWarning, match=r"reads each row as 32 channels") as caught:
        warn_if_channels_last((32, 32, 3), 3072)
    message = str(caught[0].message)
    assert "transpose(0, 3, 1, 2)" in message
    assert "input_shape=(3, 32, 32)" in message
    with pytest.warns(UserWarning, match=r"pass input_shape=\(28, 28\)"):
        warn_if_channels_last([28, 28, 1], 784)
    # the command line, which has no NumPy to reorder with
    with named_by(OptionNames()), pytest.warns(UserWarning, match="32 ch") as caught:
        warn_if_channels_last((32, 32, 3), 3072)
    assert str(caught[0].message).endswith(
        "need reordering to channels first, with --input-shape 3,32,32."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shape in [(3, 32, 32), (1, 28, 28), (28, 28), (4, 4, 192), (4, 8, 3)]:
            warn_if_channels_last(shape, int(np.prod(shape)))
        warn_if_channels_last((32, 32, 3), 1024)  # refused as not fitting


@pytest.mark.parametrize(
    ("sample", "rows", "input_shape"),
    [
        ((8, 8), "X.reshape(len(X), -1)", "(8, 8)"),
        ((1, 8, 8), "X.reshape(len(X), -1)", "(1, 8, 8)"),
        ((8, 8, 1), "X.reshape(len(X), -1)", "(8, 8)"),
        ((8, 8, 3), "X.transpose(0, 3, 1, 2).reshape(len(X), -1)", "(3, 8, 8)"),
    ],
)
def test_arrays_of_images_are_refused_with_their_rows_and_input_shape(
    sample, rows, input_shape
):
    images = np.zeros((5, *sample))
    with pytest.raises(ValueError, match=r"has shape \(5, ") as caught:
        check_rows(images)
    assert f"pass {rows}" in str(caught.value)
    assert f"input_shape={input_shape}" in str(caught.value)
    check_rows(images.reshape(5, -1))
    check_rows([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"Pass X.reshape\(len\(X\), -1\) to give"):
        check_rows(np.zeros((5, 2, 2, 2, 2)))


def test_the_rows_an_array_of_images_is_told_to_give_fit_as_it_says():
    rng = np.random.default_rng(0)
    images = rng.random((24, 6, 5, 3))  # channels last, as image files hold them
    y = np.repeat([0, 1, 2], 8)
    estimator = DeepSpectralClusteringEmbedder(
        network="conv", init="random", max_iter=1, random_state=0
    )
    with pytest.raises(ValueError, match="input_shape=") as caught:
        estimator.fit(images, y)
    assert not hasattr(estimator, "module_")
    assert "X.transpose(0, 3, 1, 2).reshape(len(X), -1)" in str(caught.value)
    assert "input_shape=(3, 6, 5)" in str(caught.value)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    # each row, read with that shape, holds its image channels first
    channels_first = rows.reshape(-1, 3, 6, 5)
    np.testing.assert_array_equal(channels_first[:, :, 4, 1], images[:, 4, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no channels-last warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = estimator.set_params(input_shape=(3, 6, 5)).fit(rows, y)
    assert fitted.transform(rows).shape[0] == len(rows)
    for method in (fitted.transform, fitted.predict):
        with pytest.raises(ValueError, match=r"has shape \(24, 6, 5, 3\)"):
            method(images)
