"""Warnings attributed to the caller's code, not to library internals."""

import os
import sys
import warnings

import sklearn

PACKAGE = os.path.dirname(os.path.abspath(__file__))
# scikit-learn's wrappers stand between the caller and this package's code:
# ``_fit_context`` around ``fit``, ``set_output`` around ``transform``, and
# meta-estimators such as ``Pipeline``.
INTERNAL = (
    PACKAGE + os.sep,
    os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep,
)


def _internal(filename):
    return filename.startswith(INTERNAL)


def warn(message, category=UserWarning):
    """``warnings.warn``, attributed to the first caller outside this package
    and scikit-learn."""
    frame, level = sys._getframe(1), 2
    while frame is not None and _internal(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
