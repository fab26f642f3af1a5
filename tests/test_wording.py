"""Wording shared by messages."""

import numpy as np
import pytest
import torch

from sklearn_dsc._wording import (
    PythonNames,
    choice,
    counted,
    cut_short,
    in_python,
    listed,
    named_by,
    parameter,
    setting,
    setting_list,
)


def test_listed_cuts_long_lists_and_says_how_long_they_are():
    assert listed(["a", "b"]) == "a, b"
    assert listed(["a", "b"], repr) == "'a', 'b'"
    assert listed(range(12)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all)"
    assert listed("abcd", limit=2) == "a, b, ... (4 in all)"
    assert listed("abcd", limit=2, total=False) == "a, b, ..."
    assert listed("abcd", limit=4, total=False) == "a, b, c, d"


def test_counted_is_singular_for_one_alone():
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(3, "row") == "3 rows"
    assert counted(2, "class", "classes") == "2 classes"
    assert counted(1, "class", "classes") == "1 class"


def test_settings_are_named_as_python_names_them_by_default():
    assert setting("init", "random") == "init='random'"
    assert setting("input_shape", (3, 3)) == "input_shape=(3, 3)"
    assert setting("shrinkage", np.float64(0.1)) == "shrinkage=0.1"
    assert parameter("max_iter") == "max_iter"
    assert choice("plda") == "'plda'"
    assert in_python("PCA(2) after it") == "PCA(2) after it"
    assert setting_list([("init", "plda"), ("shrinkage", 0.1)]) == (
        "init='plda', shrinkage=0.1"
    )


def two_layers(n_features, n_components):
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )


def test_modules_and_functions_are_named_in_one_line():
    # a module of layers by its type (its repr runs over one line a layer),
    # a one-line repr as it is, a function or a class by its name
    assert setting("network", two_layers(4, 2)) == "network=Sequential(...)"
    assert setting("network", torch.nn.Linear(4, 2)) == (
        "network=Linear(in_features=4, out_features=2, bias=True)"
    )
    assert setting("network", two_layers) == "network=two_layers"
    assert setting("network", torch.nn.Linear) == "network=Linear"
    assert choice(two_layers(4, 2)) == "Sequential(...)"


def test_a_caller_names_them_its_own_way_inside_named_by():
    class Upper(PythonNames):
        def parameter(self, name):
            return name.upper()

    with named_by(Upper()):
        assert parameter("max_iter") == "MAX_ITER"
        with named_by(PythonNames()):
            assert parameter("max_iter") == "max_iter"
        assert parameter("max_iter") == "MAX_ITER"
    assert parameter("max_iter") == "max_iter"
    # an error inside does not leave the naming behind
    with pytest.raises(KeyError), named_by(Upper()):
        raise KeyError
    assert parameter("max_iter") == "max_iter"


def test_a_quoted_cell_is_one_line_cut_short():
    assert cut_short("red") == "red"
    assert cut_short(1.5) == "1.5"
    assert cut_short("x" * 40) == "x" * 40
    assert cut_short("x" * 41) == "x" * 37 + "..."
    assert cut_short("[1.0 2.0\n 3.0]") == "[1.0 2.0 3.0]"
    assert cut_short(np.arange(100), length=12) == "[ 0 1 2 3..."
