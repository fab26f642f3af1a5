"""Argument errors, named as the caller names the arguments."""

import pytest

from sklearn_dsc._errors import ArgumentError
from sklearn_dsc._wording import PythonNames, named_by, parameter, setting


def refuse(max_clusters):
    raise ArgumentError(
        f"{parameter('max_clusters')} ({max_clusters}) is below 4; "
        f"{setting('method', 'bic')} would ignore it."
    )


def test_the_message_names_the_arguments_as_the_function_does():
    with pytest.raises(ValueError, match=r"^max_clusters \(3\) is below 4; ") as error:
        refuse(3)
    assert isinstance(error.value, ArgumentError)
    assert str(error.value).endswith("method='bic' would ignore it.")


def test_a_caller_words_it_in_its_own_names():
    class Options(PythonNames):
        def parameter(self, name):
            return "--" + name.replace("_", "-")

        def setting(self, name, value):
            return f"{self.parameter(name)} {value}"

    with named_by(Options()), pytest.raises(ArgumentError) as error:
        refuse(3)
    assert str(error.value) == (
        "--max-clusters (3) is below 4; --method bic would ignore it."
    )
