"""The one place that imports scikit-learn's private helpers.

scikit-learn does not promise these names across releases; keeping them
together means a rename upstream is fixed in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions", "_fit_context"]
