"""Reading Parquet files for the command line (``_files.read_table``), and
the import of ``pyarrow`` that reading and writing them need."""

import json

import numpy as np

from ._errors import DataError
from ._wording import counted


def read_parquet(path, kept):
    """The column names, the columns (``{name: values}``) and the names of
    the columns that hold pandas' row index, of the Parquet file ``path``.
    A column of a list a row is spread into a column a value
    (``_spread_lists``), and refused where it is one of ``kept``: the label
    and identifier columns, ``(option, name)`` each."""
    names, columns, index_names = _read_parquet(path)
    names, columns = _spread_lists(path, names, columns, kept)
    return names, columns, index_names


def import_pyarrow(path, doing):
    """``pyarrow`` with its Parquet module, or the error that says ``doing``
    ("reading", "writing") ``path`` needs it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise DataError(
            f"{path}: {doing} Parquet needs pyarrow (pip install pyarrow)"
        ) from None
    return pyarrow


def _read_parquet(path):
    pyarrow = import_pyarrow(path, "reading")
    try:
        table = pyarrow.parquet.read_table(path)
    except Exception as error:  # pyarrow raises its own error types
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if _is_list(pyarrow, column.type):
            columns[name] = _list_values(path, name, column.combine_chunks(), pyarrow)
            continue
        values = column.to_numpy(zero_copy_only=False)
        # missing dates and durations stay NaT, so that they stay dates
        if column.null_count and not pyarrow.types.is_temporal(column.type):
            values = np.asarray(values, dtype=object)
            values[np.asarray(column.is_null())] = None
        columns[name] = values
    return list(table.column_names), columns, _pandas_index_columns(table.schema)


def _is_list(pyarrow, data_type):
    """Whether a Parquet column of ``data_type`` holds a list a row."""
    types = pyarrow.types
    return (
        types.is_list(data_type)
        or types.is_large_list(data_type)
        or types.is_fixed_size_list(data_type)
    )


def _list_values(path, name, lists, pyarrow):
    """The column ``name`` of a list a row (as embeddings are often stored)
    as a 2-D array, a row a list: refused where a list is missing, lists
    differ in length, or they hold lists themselves."""
    if _is_list(pyarrow, lists.type.value_type):
        raise DataError(
            f"{path}: column {name!r} holds lists of lists; store each row's "
            "values as one flat list, or as columns of their own"
        )
    if lists.null_count:
        row = int(np.argmax(lists.is_null().to_numpy(zero_copy_only=False)))
        raise DataError(
            f"{path}: {counted(lists.null_count, 'missing list')} in column {name!r} "
            f"(first: row {row + 1})"
        )
    from pyarrow import compute

    lengths = compute.list_value_length(lists).to_numpy(zero_copy_only=False)
    size = int(lengths[0]) if len(lengths) else 0
    if np.any(lengths != size):
        row = int(np.argmax(lengths != size))
        raise DataError(
            f"{path}: column {name!r} holds lists of {lengths.min()} to "
            f"{lengths.max()} values ({size} in row 1, {lengths[row]} in row "
            f"{row + 1}): each of its values is a feature, so every row's list "
            "must be as long"
        )
    if size == 0 and len(lists):
        raise DataError(f"{path}: column {name!r} holds empty lists alone")
    values = lists.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(lists), size)


def _spread_lists(path, names, columns, kept):
    """``names`` and ``columns`` with each column of lists (a 2-D array)
    spread into a column a value, ``name[0]``, ``name[1]``, ...; refused
    where such a column is one of ``kept`` (the label and identifier
    columns, named by their options), or its values' names are taken."""
    spread_names, spread = [], {}
    for name in names:
        values = columns[name]
        if values.ndim == 1:
            spread_names.append(name)
            spread[name] = values
            continue
        for option, column in kept:
            if name == column:
                raise DataError(
                    f"{path}: {option} {name!r} names a column of lists; it "
                    "must hold one value a row"
                )
        for index in range(values.shape[1]):
            value_name = f"{name}[{index}]"
            if value_name in columns:
                raise DataError(
                    f"{path}: column {name!r} holds lists, whose values are "
                    f"read as columns {name + '[0]'!r}, {name + '[1]'!r}, ...; "
                    f"but {value_name!r} is a column already: rename one"
                )
            spread_names.append(value_name)
            spread[value_name] = values[:, index]
    return spread_names, spread


def _pandas_index_columns(schema):
    """The columns in which pandas' ``to_parquet`` stored the row index
    (``__index_level_0__`` for an unnamed one, else the index's names); a
    ``RangeIndex`` is stored as metadata alone."""
    metadata = (schema.metadata or {}).get(b"pandas")
    if metadata is None:
        return ()
    try:
        index_columns = json.loads(metadata).get("index_columns", [])
    except (ValueError, AttributeError):
        return ()  # metadata written by something else: every column is data
    return tuple(name for name in index_columns if isinstance(name, str))
