"""Warnings attributed to the caller's code, not to library internals."""

import importlib.util
import os
import sys
import warnings

PACKAGE = os.path.dirname(os.path.abspath(__file__))
# scikit-learn's wrappers stand between the caller and this package's code:
# ``_fit_context`` around ``fit``, ``set_output`` around ``transform``, and
# meta-estimators such as ``Pipeline``; and joblib's, through which they call
# it: ``Parallel`` in ``cross_val_score`` and ``GridSearchCV``, ``Memory``
# around a ``Pipeline``'s steps before its last.
# Their folders are found without importing them (``find_spec``), so that
# the command line's --help imports neither.
INTERNAL = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (
        __file__,
        importlib.util.find_spec("sklearn").origin,
        importlib.util.find_spec("joblib").origin,
    )
)


def _internal(filename):
    return filename.startswith(INTERNAL)


def warn(message, category=UserWarning):
    """``warnings.warn``, attributed to the first caller outside this package,
    scikit-learn and joblib."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
