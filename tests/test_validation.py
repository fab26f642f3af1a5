"""The training data checks that name what they found."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sklearn_dsc._validation import (
    check_numeric_frame,
    is_constant,
    warn_if_channels_last,
    warn_if_single_rows,
    warn_if_unlabelled_mark,
)


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
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shape in [(3, 32, 32), (1, 28, 28), (28, 28), (4, 4, 192), (4, 8, 3)]:
            warn_if_channels_last(shape, int(np.prod(shape)))
        warn_if_channels_last((32, 32, 3), 1024)  # refused as not fitting
