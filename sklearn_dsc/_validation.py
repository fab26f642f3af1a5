"""Checks of the training data beyond scikit-learn's ``validate_data``: each
names what it found, so that the message points at the problem."""

import numpy as np
import scipy.sparse as sp

from ._warnings import warn


def is_constant(X):
    """Whether every row of ``X`` is the same (each column's min is its max)."""
    low, high = X.min(axis=0), X.max(axis=0)
    if sp.issparse(X):
        low, high = low.toarray(), high.toarray()
    return bool(np.all(low == high))


def check_numeric_frame(X):
    """Name a data frame's columns that are not numbers, which NumPy's
    conversion error does not ("could not convert string to float")."""
    columns, dtypes = getattr(X, "columns", None), getattr(X, "dtypes", None)
    if columns is None or dtypes is None:
        return
    bad, example = [], None
    for name, dtype in zip(columns, dtypes, strict=True):
        if getattr(dtype, "kind", "O") in "biuf":
            continue
        values = np.asarray(X[name], dtype=object)
        for value in values:
            try:
                float(value)
            except (TypeError, ValueError):
                bad.append(repr(name))
                example = value if example is None else example
                break
    if bad:
        one = len(bad) == 1
        columns, them = ("column", "it") if one else ("columns", "them")
        where = "" if one else f" in {bad[0]}"
        raise ValueError(
            f"X has non-numeric {columns} {', '.join(bad)} (e.g. {example!r}{where}): "
            f"encode {them} as numbers (for example with OneHotEncoder in a "
            f"ColumnTransformer) or drop {them}."
        )


def warn_if_single_rows(y):
    """Name the classes that have one row: nothing in it says how the class
    spreads, and such labels are often identifiers rather than classes."""
    classes, counts = np.unique(y, return_counts=True)
    single = classes[counts == 1]
    if len(single) == 0:
        return
    shown = ", ".join(str(label) for label in single[:10])
    more = f", ... ({len(single)} in all)" if len(single) > 10 else ""
    have = "class has" if len(single) == 1 else "classes have"
    warn(
        f"{len(single)} {have} a single row: {shown}{more}. One row says "
        "nothing of how its class spreads, and it cannot be both trained on "
        "and held out; check that y holds classes, not row identifiers.",
        UserWarning,
    )


def warn_if_unlabelled_mark(classes):
    """Warn when ``-1`` looks like scikit-learn's mark of unlabelled rows
    (semi-supervised learning): beside at least two other, non-negative
    labels. It is trained as a class like any other."""
    if classes.dtype.kind not in "iu" or classes[0] != -1:
        return
    if len(classes) >= 3 and classes[1] >= 0:
        warn(
            "y holds the label -1, scikit-learn's mark of unlabelled rows; here "
            "it is trained as a class of its own. Leave those rows out of fit "
            "if they are unlabelled.",
            UserWarning,
        )
