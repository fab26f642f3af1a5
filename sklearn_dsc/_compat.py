"""The one place that imports scikit-learn's private helpers.

scikit-learn does not promise these names across releases; keeping them
together means a rename upstream is fixed in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    make_constraint,
    validate_params,
)

from ._wording import alternatives

__all__ = [
    "Interval",
    "StrOptions",
    "_fit_context",
    "constraint_problem",
    "output_config",
    "validate_params",
]


def output_config(estimator):
    """What ``estimator.set_output`` was given, as ``{"transform": "pandas"}``
    (empty where it was never called): scikit-learn keeps it in a private
    attribute, which pickles carry and model files record."""
    config = getattr(estimator, "_sklearn_output_config", None) or {}
    return {method: value for method, value in config.items() if isinstance(value, str)}


def constraint_problem(constraints, value, describe=str):
    """What ``value`` must be, in scikit-learn's words ("an int in the range
    [1, inf)") or as ``describe`` writes each constraint, or ``None`` when one
    of ``constraints`` (a parameter's list in ``_parameter_constraints`` or
    ``validate_params``) is satisfied.

    For callers that name the parameter their own way, such as the command
    line's options: scikit-learn's own error names it as the function does.
    """
    constraints = [make_constraint(constraint) for constraint in constraints]
    if any(constraint.is_satisfied_by(value) for constraint in constraints):
        return None
    return alternatives(
        [describe(constraint) for constraint in constraints if not constraint.hidden]
    )
