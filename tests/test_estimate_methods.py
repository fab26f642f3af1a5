"""The names of ``estimate_n_clusters``'s methods: which exist, which read a
reference, and what the command line offers."""

import re

import numpy as np
import pytest

from sklearn_dsc import estimate_n_clusters
from sklearn_dsc._estimate_methods import METHODS, REFERENCE_METHODS
from sklearn_dsc.cli import build_parser

from cli_helpers import sklearn_dsc


def test_the_command_line_offers_every_method():
    commands = build_parser()._subparsers._group_actions[0].choices
    (option,) = [
        action
        for action in commands["cluster"]._actions
        if "--method" in action.option_strings
    ]
    assert list(option.choices) == ["auto", *METHODS]
    # and its help names each of them
    listed = " ".join(sklearn_dsc("cluster", "--help").stdout.split())
    described = re.search(r"--method METHOD (.*?) --reference DATA", listed).group(1)
    for method in option.choices:
        assert re.search(rf"\b{method}\b", described), (method, described)


@pytest.mark.parametrize("method", METHODS)
def test_a_method_reads_a_reference_if_and_only_if_it_is_named_so(method):
    rng = np.random.RandomState(0)
    X = np.vstack([center + rng.normal(size=(30, 3)) for center in (0, 10, 20)])
    reference = {"reference": X, "reference_labels": np.repeat([0, 1, 2], 30)}
    if method in REFERENCE_METHODS:
        with pytest.raises(ValueError, match="needs reference rows"):
            estimate_n_clusters(X, method=method)
        estimate = estimate_n_clusters(X, method=method, random_state=0, **reference)
    else:
        with pytest.raises(ValueError, match="would ignore it"):
            estimate_n_clusters(X, method=method, **reference)
        estimate = estimate_n_clusters(X, method=method, random_state=0)
    assert estimate.method == method
