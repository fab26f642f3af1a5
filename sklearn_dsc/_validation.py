"""Checks of the training data beyond scikit-learn's ``validate_data``: each
names what it found, so that the message points at the problem."""

import datetime
import sys
import typing
from numbers import Number

import numpy as np
import scipy.sparse as sp

from ._errors import ArgumentError
from ._warnings import warn
from ._wording import (
    columns_and_pronoun,
    counted,
    cut_short,
    in_python,
    listed,
    parameter,
    setting,
)

# The types of pandas' missing values, which pandas need not be installed to
# recognise: NA (nullable dtypes) and NaT (dates and times).
_MISSING_TYPE_NAMES = ("NAType", "NaTType")


def host_values(values):
    """A torch tensor's values as a NumPy array: detached, copied to the CPU,
    half precision as float32 (which NumPy has no bfloat16 for). So the
    metrics read embeddings straight from a network, with gradients or on a
    GPU; anything else is returned as it is (torch is not imported). A
    sparse tensor of rows (any of torch's sparse layouts) comes back as
    SciPy's CSR matrix, which the estimator reads as sparse; one whose
    columns are dense (a hybrid tensor) comes back dense."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(values, torch.Tensor):
        return values
    from ._loss_algebra import computing_dtype  # torch is imported by now

    values = values.detach().cpu()
    if values.layout != torch.strided:
        coo = values if values.layout == torch.sparse_coo else values.to_sparse()
        coo = coo.coalesce()
        if coo.ndim != 2 or coo.sparse_dim() != 2:
            values = values.to_dense()
        else:
            rows, columns = coo.indices().numpy()
            data = coo.values().to(computing_dtype(coo.dtype)).numpy()
            return sp.csr_matrix((data, (rows, columns)), shape=tuple(coo.shape))
    return values.to(computing_dtype(values.dtype)).numpy()


def is_constant(X):
    """Whether every row of ``X`` is the same (each column's min is its max)."""
    low, high = X.min(axis=0), X.max(axis=0)
    if sp.issparse(X):
        low, high = low.toarray(), high.toarray()
    return bool(np.all(low == high))


# Values of dates, times and durations, in object columns
_TIMES = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    np.datetime64,
    np.timedelta64,
)


def is_time(values):
    """Whether a column of ``values`` (a 1-D array of one type, missing
    values aside, as a file's typed column is) holds dates, times or
    durations: as NumPy's types, or as objects such as ``datetime.time``.
    Only the first value that is not missing is asked."""
    if values.dtype.kind in "mM":
        return True
    if values.dtype.kind != "O":
        return False
    first = next((value for value in values if not is_missing(value)), None)
    return isinstance(first, _TIMES)


def times_as_numbers(them):
    """What to do with date or time columns, ``them``, to make features."""
    return (
        f"turn {them} into numbers that carry what matters (a year, a month, a "
        "duration in seconds)"
    )


def check_numeric_frame(X):
    """Name a data frame's columns that are not numbers, which NumPy's
    conversion error does not ("could not convert string to float")."""
    columns, dtypes = getattr(X, "columns", None), getattr(X, "dtypes", None)
    if columns is None or dtypes is None:
        return
    bad, example, times, lists = [], None, [], []
    for name, dtype in zip(columns, dtypes, strict=True):
        kind = getattr(dtype, "kind", "O")
        if kind in "biuf":
            continue
        if kind in "mM":  # dates and durations: no category to encode
            times.append(repr(name))
            continue
        values = np.asarray(X[name], dtype=object)
        for value in values:
            try:
                float(value)
            except (TypeError, ValueError):
                if isinstance(value, _TIMES):
                    times.append(repr(name))
                elif isinstance(value, list | tuple | np.ndarray):
                    lists.append(name)
                else:
                    bad.append(repr(name))
                    example = value if example is None else example
                break
    if lists:
        _refuse_lists(lists)
    if bad:
        columns, them = columns_and_pronoun(bad)
        where = "" if len(bad) == 1 else f" in {bad[0]}"
        raise ValueError(
            f"X has non-numeric {columns} {', '.join(bad)} (e.g. "
            f"{cut_short(example)!r}{where}): "
            f"encode {them} as numbers (for example with OneHotEncoder in a "
            f"ColumnTransformer) or drop {them}."
        )
    if times:
        columns, them = columns_and_pronoun(times)
        raise ValueError(
            f"X has date or time {columns} {', '.join(times)}: "
            f"{times_as_numbers(them)} or drop {them}."
        )


def _refuse_lists(names):
    """Refuse a frame's columns ``names`` whose cells are lists or arrays
    (as embeddings are often stored), saying how to give their values as
    features: NumPy fails on them with "setting an array element with a
    sequence"."""
    columns, them = columns_and_pronoun(names)
    them = them if len(names) == 1 else "the first"
    raise ValueError(
        f"X has {columns} {listed(names, repr)} whose cells are lists or arrays, "
        f"but a feature is one number a cell: give each value a column of its "
        f"own (np.stack(X[{names[0]!r}]) makes a 2-D array of {them})."
    )


def is_missing(value):
    """Whether ``value`` is None, a float NaN, or pandas' NA or NaT."""
    if value is None or type(value).__name__ in _MISSING_TYPE_NAMES:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def check_labels(labels, name):
    """Refuse class labels that cannot be sorted into classes, naming the
    problem where NumPy's sort would only report a failed comparison
    ("'<' not supported between instances of 'NoneType' and 'str'"):
    missing labels (None, NaN, pandas' NA), and strings mixed with numbers.

    ``name`` is the argument's name in the message (through
    ``_wording.parameter``, so that a caller can name it as its user does).
    Labels of more than one column are left to the shape checks.
    """
    values = np.asarray(labels)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.dtype.kind not in "fO":
        return
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        types = set()
    else:
        types = set(map(type, values))
        may_miss = any(
            t is type(None)
            or t.__name__ in _MISSING_TYPE_NAMES
            or issubclass(t, float | np.floating)
            for t in types
        )
        missing = (
            np.fromiter(map(is_missing, values), dtype=bool, count=len(values))
            if may_miss
            else np.zeros(len(values), dtype=bool)
        )
    if missing.any():
        count = int(missing.sum())
        where = "positions" if count > 1 else "position"
        raise ArgumentError(
            f"{parameter(name)} holds {counted(count, 'missing label')} (None, NaN "
            f"or pandas' NA), at {where} {listed(np.flatnonzero(missing))}: drop "
            "them, and their rows, or give them a class."
        )
    strings = [t for t in types if issubclass(t, str | bytes)]
    numbers = [t for t in types if issubclass(t, Number)]
    if strings and numbers:
        first_string = next(v for v in values if isinstance(v, str | bytes))
        first_number = next(v for v in values if isinstance(v, Number))
        raise ArgumentError(
            f"{parameter(name)} mixes strings and numbers (e.g. {first_string!r} "
            f"and {first_number!r}), which cannot be sorted into classes: give "
            "every label one type, for example with .astype(str)."
        )


def check_known_classes(y, classes, continues):
    """Refuse labels of ``y`` outside ``classes`` (``classes_``): those that
    the first ``partial_fit`` call's ``classes=`` left out, or those that a
    continued model was not fitted on (a fit's classes are its ``y``'s).
    Labels are quoted as they are, so that ``'1'`` and ``1`` differ; they
    are compared as Python values, which tell strings from numbers without
    NumPy's warning that comparing them elementwise failed (NumPy 1.x)."""
    known = set(classes.tolist())
    unknown = [label for label in np.unique(y).tolist() if label not in known]
    if not unknown:
        return
    found = f"y holds classes {listed(unknown, repr)}"
    if not continues:
        raise ValueError(
            f"{found} that classes= does not list: it must list every class of "
            "the whole data set."
        )
    raise ValueError(
        f"{found} that the model was not fitted on (classes_: "
        f"{listed(classes.tolist(), repr)}); it continues on those alone. To "
        "train on more, list every class with classes= on the first call to "
        "partial_fit, or fit on data holding every class."
    )


def warn_if_single_rows(y):
    """Name the classes that have one row: nothing in it says how the class
    spreads, and such labels are often identifiers rather than classes."""
    classes, counts = np.unique(y, return_counts=True)
    single = classes[counts == 1]
    if len(single) == 0:
        return
    have = "class has" if len(single) == 1 else "classes have"
    warn(
        f"{len(single)} {have} a single row: {listed(single)}. One row says "
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


# The channel counts of images as files and libraries hold them: grey, RGB,
# RGBA.
IMAGE_CHANNELS = (1, 3, 4)


def check_rows(X):
    """Refuse ``X`` of more than two dimensions, such as an array of images,
    saying how to give it as rows: scikit-learn's "Found array with dim 3"
    names neither the reshape nor the ``input_shape`` that ``network="conv"``
    reads the rows with."""
    ndim = getattr(X, "ndim", None)
    if not isinstance(ndim, int) or ndim <= 2:
        return
    shape = tuple(int(n) for n in X.shape)
    message = f"X has shape {shape}, but the estimator takes 2-D X, one sample a row."
    rows, image = as_rows(shape)
    if image is not None:
        message += (
            f" For images, pass {rows} with {setting('network', 'conv')} and "
            f"{setting('input_shape', image)}."
        )
    else:
        message += f" Pass {rows} to give each sample's values as a row."
    raise ValueError(message)


def as_rows(shape):
    """How to give an array ``X`` of ``shape`` (more than two dimensions) one
    sample a row: the NumPy code that makes the rows, and where the samples
    are images (of 2 or 3 dimensions), the ``input_shape`` of one, channels
    first, that ``network="conv"`` reads them with (else ``None``)."""
    sample, rows = shape[1:], "X.reshape(len(X), -1)"
    if len(sample) not in (2, 3):
        return rows, None
    if len(sample) == 3 and _channels_last(sample):
        height, width, channels = sample
        sample = (height, width) if channels == 1 else (channels, height, width)
        if channels > 1:
            rows = "X.transpose(0, 3, 1, 2).reshape(len(X), -1) (channels first)"
    return rows, sample


class NonFinite(typing.NamedTuple):
    """The non-finite cells of a matrix that ``first_non_finite`` reports:
    NaN (``missing``) or, where there is none, infinity; how many, and the
    first in row order."""

    missing: bool
    count: int
    row: int
    column: int


def first_non_finite(X):
    """``None`` where every value of ``X`` (an array or sparse matrix) is
    finite, else its ``NonFinite`` cells: NaN before infinity, as missing
    values are the likelier cause."""
    values = X.data if sp.issparse(X) else X
    finite = np.isfinite(values)
    if finite.all():
        return None
    missing = np.isnan(values)
    has_missing = bool(missing.any())
    cells = missing if has_missing else ~finite
    if sp.issparse(X):
        coo = X.tocoo()  # its stored values in the order of X.data
        row = int(np.min(coo.row[cells]))
        column = int(np.min(coo.col[cells & (coo.row == row)]))
    else:
        row, column = (int(i) for i in np.argwhere(cells)[0])
    return NonFinite(has_missing, int(cells.sum()), row, column)


def check_finite(X, feature_names=None):
    """Refuse NaN and infinity in ``X`` (an array or sparse matrix, after
    ``validate_data``), counting them and naming the first by its row and
    column (by name where ``feature_names`` are known), with what to do:
    scikit-learn's message suggests estimators that handle missing values."""
    found = first_non_finite(X)
    if found is None:
        return
    them, rows = ("it", "that row") if found.count == 1 else ("them", "those rows")
    if found.missing:
        problem = "NaN (missing) value"
        remedy = (
            f"impute {them} first (sklearn.impute.SimpleImputer in a pipeline) "
            f"or drop {rows}"
        )
    else:
        problem, remedy = "infinite value", f"clip {them} or drop {rows}"
    column = found.column
    name = repr(feature_names[column]) if feature_names is not None else column
    raise ValueError(
        f"X contains {counted(found.count, problem)} (first: row {found.row}, "
        f"column {name}): {remedy}."
    )


def _channels_last(shape):
    """Whether ``(a, b, c)`` reads as ``(height, width, channels)``: a last
    entry of 1, 3 or 4 after a first one that is none of them."""
    return shape[2] in IMAGE_CHANNELS and shape[0] not in IMAGE_CHANNELS


def warn_if_channels_last(input_shape, n_features):
    """Warn when ``input_shape`` (of rows of ``n_features``) looks like
    ``(height, width, channels)``, the order of PIL, matplotlib and most
    image files, which ``network="conv"`` would read as ``(channels, height,
    width)``: a last entry of 1, 3 or 4 after a first one that is none of
    them. (A shape that does not fit the rows is refused elsewhere.)"""
    shape = tuple(int(n) for n in input_shape)
    if len(shape) != 3 or not _channels_last(shape) or np.prod(shape) != n_features:
        return
    height, width, channels = shape
    if channels == 1:
        fix = (
            f"for {height} x {width} images of one channel pass "
            f"{setting('input_shape', (height, width))}: their rows are the same "
            "in either order"
        )
    else:
        code = in_python(
            f"X.reshape(len(X), {height}, {width}, {channels})"
            ".transpose(0, 3, 1, 2).reshape(len(X), -1)"
        )
        fix = (
            f"rows of {height} x {width} images with their {channels} channels "
            f"last need reordering{f': {code}' if code else ' to channels first'}"
            f", with {setting('input_shape', (channels, height, width))}"
        )
    warn(
        f"{setting('input_shape', shape)} reads each row as {height} channels of "
        f"{width} x {channels} images (channels, height, width); {fix}.",
        UserWarning,
    )
