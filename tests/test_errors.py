"""Argument errors that callers word in their own names."""

from sklearn_dsc._errors import ArgumentError


def test_the_message_names_the_arguments_as_the_function_does():
    error = ArgumentError("{max_clusters} ({value}) is below {min_clusters}.", value=3)
    assert str(error) == "max_clusters (3) is below min_clusters."
    assert isinstance(error, ValueError)


def test_a_caller_words_it_in_its_own_names():
    error = ArgumentError("{max_clusters} ({value}) is below {min_clusters}.", value=3)
    names = {"max_clusters": "--max-clusters"}
    assert error.in_terms(names) == "--max-clusters (3) is below min_clusters."


def test_values_are_not_renamed():
    # a value that happens to be an argument's name stays a value
    error = ArgumentError("{method}={value!r} would ignore {reference}", value="bic")
    names = {"method": "--method", "reference": "--reference", "value": "no"}
    assert error.in_terms(names) == "--method='bic' would ignore --reference"
