"""Reading feature tables for the command line: CSV and ``.npz`` files here,
Parquet's columns in ``_parquet`` (``_outputs`` writes the results).

``-`` names standard input, as CSV.
"""

import bz2
import collections
import csv
import difflib
import gzip
import io
import lzma
import os
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._errors import DataError
from ._parquet import read_parquet
from ._validation import (
    as_rows,
    first_non_finite,
    is_missing,
    is_time,
    times_as_numbers,
)
from ._wording import columns_and_pronoun, counted, cut_short, listed

# CSV cells read as missing values.
MISSING = {"", "na", "nan", "n/a", "null", "none"}
# CSV cells of a column of truth values (pandas writes True, R writes TRUE),
# read as 1 and 0 as Parquet's boolean columns are.
TRUTH_VALUES = {"true": 1.0, "false": 0.0}
PARQUET_SUFFIXES = (".parquet", ".pq")
# CSV files compressed as gzip, bzip2 or xz (data.csv.gz) are read through
# the standard library's openers
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
CSV_SUFFIXES = tuple(
    plain + compressed for plain in (".csv", ".tsv") for compressed in ("", *COMPRESSED)
)
COMPRESSED_CSV = " (.csv and .tsv also compressed as .gz, .bz2 or .xz)"
# What write_matrix writes: the tables first, which can hold the row
# identifiers beside the numbers (CSV as it is read, compressed or not)
TABLE_SUFFIXES = (*CSV_SUFFIXES, *PARQUET_SUFFIXES)
MATRIX_SUFFIXES = (*TABLE_SUFFIXES, ".npy")
# Every name of data, read or written: what a model file is not named
DATA_SUFFIXES = (*MATRIX_SUFFIXES, ".npz")
# The arrays of a file that scipy.sparse.save_npz writes
SPARSE_ARRAYS = {"format", "shape", "data"}
# DATA, or an output, named so is CSV on standard input or output
STREAM = "-"
# how messages name standard input, where they name a file's path
STANDARD_INPUT = Path("standard input")


def is_stream(path):
    """Whether ``path`` is ``-``: standard input, or output, as CSV."""
    return path is not None and os.fspath(path) == STREAM


class Table:
    """Columns read from a data file: ``features`` (2-D float64), names, target."""

    def __init__(self, features, feature_names, target=None, ids=None):
        self.features = features
        self.feature_names = feature_names
        self.target = target
        self.ids = ids


def read_table(
    path,
    target=None,
    require_target=False,
    feature_names=None,
    id_column=None,
    sep=None,
    decimal=".",
    target_option="--target",
    id_option="--id",
):
    """Read a CSV (``.csv`` or ``.tsv``, or either compressed as ``.gz``,
    ``.bz2`` or ``.xz``), Parquet or ``.npz`` file into a ``Table``.

    CSV and Parquet files have named columns: ``target`` names the label
    column, ``id_column`` a column of row identifiers, every other column is a
    feature, except the columns that hold the row index pandas wrote to a
    Parquet file, or that pandas and R write as a CSV file's first column,
    without a name (they can still be named as ``target`` or ``id_column``).
    A Parquet column of a list a row (as embeddings are often stored) is a
    feature a value, ``name[0]``, ``name[1]``, ...
    With ``feature_names`` (a model's) the feature columns must be exactly
    those, and are returned in that order. A CSV file's delimiter is
    ``sep``, or detected among ``,;`` tab and ``|``; its numbers are written
    with the decimal mark ``decimal`` (``"."`` or ``","``). An ``.npz`` file holds
    arrays ``X`` (and ``y`` for the labels), or the sparse matrix that
    ``scipy.sparse.save_npz`` writes (features without labels, as CSR); its
    features have no names.
    ``target_option`` and ``id_option`` are the command-line options that
    name the label column and the identifiers, for the messages that suggest
    them.

    Raises
    ------
    DataError
        The file is missing or unreadable, the target column is missing, a
        feature column is not numeric, or a cell is missing, NaN or infinite,
        or a column's lists differ in length.
    """
    if is_stream(path):
        path, suffix, opener = STANDARD_INPUT, ".csv", _open_standard_input
    else:
        path = _data_file(path)
        suffix, opener = data_suffix(path), None
    headerless = ""
    if suffix in CSV_SUFFIXES:
        text = (target, id_column)
        names, columns, index_names = _csv_columns(path, sep, decimal, opener, text)
        headerless = _headerless(names, decimal)
    elif suffix in PARQUET_SUFFIXES:
        kept = ((target_option, target), (id_option, id_column))
        names, columns, index_names = read_parquet(path, kept)
    elif suffix in (".npz", ".npy"):
        if id_column is not None:
            raise DataError(
                f"{path}: an {suffix} file has no named columns for {id_option}"
            )
        if suffix == ".npy":
            return _read_npy(path, target, require_target, target_option)
        return _read_npz(path, target, require_target, target_option)
    else:
        raise DataError(
            f"{path}: unknown file type {suffix!r}; use .csv, .tsv, .parquet, "
            f".npz or .npy{COMPRESSED_CSV}"
        )
    _check_named(path, names, (target, id_column), headerless)
    if require_target and target is None:
        raise DataError(f"name the label column with {target_option}")
    options = (target_option, id_option)
    found = [
        name
        for name in names
        if name not in (target, id_column) and name not in index_names
    ]
    if feature_names is None:
        feature_names = found
    else:
        _check_same_columns(path, feature_names, found, (target, id_column), options)
    if not feature_names:
        raise DataError(f"{path}: no feature columns besides {target!r}")
    features = _numeric_features(path, feature_names, columns, decimal, options)
    labels = None
    if target is not None:
        labels = _labels(path, target, columns[target])
    ids = None if id_column is None else columns[id_column]
    return Table(features, feature_names, labels, ids)


def check_model_file(path, writing=False):
    """Refuse the model file ``path`` (a ``Path``) where it is a directory,
    or missing (``writing``: where its folder is), with the ``OSError`` that
    says so: ``save`` and ``load`` do, and the command line before loading
    imports torch."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a model file")
    if writing:
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {path}: no folder {path.parent}")
    elif not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")


def check_data_file(path):
    """Refuse ``path`` where it is a directory or missing (``-``, standard
    input, passes), before a command does work that it would wait for."""
    if not is_stream(path):
        _data_file(path)


def _data_file(path):
    """``path`` as a ``Path``, refused where it is a directory or missing."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file")
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    return path


def data_suffix(path):
    """The file type of ``path`` in lower case: its suffix, with the one
    before it where it is a compression's (``.csv.gz``)."""
    suffix = path.suffix.lower()
    if suffix in COMPRESSED:
        return Path(path.stem).suffix.lower() + suffix
    return suffix


def _check_named(path, names, named, hint=""):
    """Refuse a column ``named`` (``None`` where an option was not given)
    that is not among ``names``, with the closest name there is, and
    ``hint``."""
    for column in named:
        if column is not None and column not in names:
            close = difflib.get_close_matches(column, names, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise DataError(
                f"{path}: no column {column!r}; {guess}the columns are "
                f"{listed(names, repr)}{hint}"
            )


def _check_same_columns(path, expected, found, named, options):
    """Refuse feature columns other than the model's ``expected``; where
    every model column is there, say that a column left over may be the
    label column or the row identifiers, where ``named`` (``(target,
    id_column)``) leaves them unnamed, with the ``options`` that name them."""
    hints = [
        f"{what} with {option}"
        for what, option, column in zip(
            ("a label column", "row identifiers"), options, named, strict=True
        )
        if column is None
    ]
    hint = " or ".join(hints)
    expected_set, found_set = set(expected), set(found)
    missing = [name for name in expected if name not in found_set]
    extra = [name for name in found if name not in expected_set]
    problems = []
    if missing:
        problems.append(f"missing {listed(missing, repr)}")
    if extra:
        named = f" (name {hint})" if hint and not missing else ""
        problems.append(f"not in the model {listed(extra, repr)}{named}")
    if problems:
        raise DataError(
            f"{path}: the feature columns differ from the model's: "
            + "; ".join(problems)
        )


def _delimiter(f, sep, decimal):
    """``sep``, or the delimiter that the start of the open file ``f`` uses
    (not the decimal mark ``decimal``)."""
    if sep is not None:
        if sep == decimal:
            raise DataError(
                f"--sep {sep} is the decimal mark too (--decimal {decimal}): the "
                "delimiter must be another character"
            )
        return sep
    sample = f.read(1 << 16)
    f.seek(0)
    candidates = ",;\t|".replace(decimal, "")
    try:
        return csv.Sniffer().sniff(sample, delimiters=candidates).delimiter
    except csv.Error:  # one column, or no consistent delimiter: the default
        return candidates[0]


# The first bytes of what standard input may hold besides CSV: compressed
# CSV, read through the openers of the files of that suffix, and the binary
# files that only a name reads
_COMPRESSED_MAGIC = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\xfd7zXZ\x00": ".xz"}
NPY_MAGIC, NPZ_MAGIC = b"\x93NUMPY", b"PK\x03\x04"  # what numpy.save, savez write
_BINARY_MAGIC = {
    b"PAR1": "a Parquet file",
    NPZ_MAGIC: "an .npz file",
    NPY_MAGIC: "an .npy file",
}


def _open_standard_input(path, mode, newline, encoding):
    """Standard input as the text of a CSV file, decompressed where it is
    gzip, bzip2 or xz data: read whole, so that the delimiter can be
    detected on its start and the rows then read from it."""
    del path, mode  # an opener's arguments; standard input has one mode
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None or sys.stdin.isatty():
        raise DataError(
            "DATA is - (CSV on standard input), but standard input is a "
            "terminal: pipe or redirect the rows into it (< data.csv)"
        )
    data = stream.read()
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise DataError(
                f"{STANDARD_INPUT}: holds {what}; - reads CSV alone: give the "
                "file's name as DATA"
            )
    for magic, suffix in _COMPRESSED_MAGIC.items():
        if data.startswith(magic):
            try:
                with COMPRESSED[suffix](io.BytesIO(data)) as compressed:
                    data = compressed.read()
            except _UNREADABLE as error:
                raise DataError(
                    f"{STANDARD_INPUT}: cannot be decompressed ({error})"
                ) from None
            break
    return io.TextIOWrapper(io.BytesIO(data), encoding, newline=newline)


def _read_csv(path, sep=None, decimal=".", opener=None, text=()):
    """The header and the columns (``{name: cells}``) of the CSV file
    ``path``; ``opener`` opens it as ``open`` would (by default, that of its
    compression). The columns named in ``text`` (labels, identifiers) hold
    their cells as written; the others hold them so too, or as float64
    where ``_at_once`` reads every cell of them as a number."""
    if opener is None:
        opener = COMPRESSED.get(path.suffix.lower(), open)
    with opener(path, "rt", newline="", encoding="utf-8-sig") as f:
        try:
            delimiter = _delimiter(f, sep, decimal)
            reader = csv.reader(f, delimiter=delimiter)
        except _UNREADABLE as error:
            raise _unreadable(path, error) from None
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: the file is empty") from None
        except (csv.Error, *_UNREADABLE) as error:
            raise _unreadable(path, error) from None
        header = [name.strip() for name in header]
        counts = collections.Counter(header)
        duplicated = sorted(name for name, count in counts.items() if count > 1)
        if duplicated:
            raise DataError(
                f"{path}: duplicated column names {listed(duplicated, repr)}"
                + _headerless(header, decimal)
            )
        if decimal == "." and reader.line_num == 1:
            columns = _at_once(f, delimiter, header, text)
            if columns is not None:
                return header, columns
            reader = csv.reader(f, delimiter=delimiter)  # f is back at its start
            next(reader)
        rows = []
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {reader.line_num} has "
                        f"{counted(len(row), 'field')}, the header has {len(header)}"
                    )
                rows.append(row)
        except (csv.Error, *_UNREADABLE) as error:
            raise _unreadable(path, error) from None
    if not rows:
        raise DataError(f"{path}: the file has a header but no rows")
    cells = np.array(rows, dtype=object).reshape(len(rows), len(header))
    return header, {name: cells[:, j] for j, name in enumerate(header)}


def _at_once(f, delimiter, header, text):
    """The columns of the open CSV file ``f`` below its header line
    ``header``, read by NumPy's parser in one pass: float64, but those named
    in ``text`` or without a name, which hold their cells as written (as
    ``csv`` reads them). ``None``, with ``f`` back at its start, where a cell
    of a float64 column is not a number as ``float`` writes one (a missing
    value, a truth value, text), a line has more or fewer fields than the
    header, or no line holds any: ``_read_csv`` then reads every cell on its
    own, and says which is wrong where one is."""
    fields = [
        (f"c{j}", object if name in text or name == "" else np.float64)
        for j, name in enumerate(header)
    ]
    f.seek(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "loadtxt: input contained no data")
        try:
            table = np.loadtxt(
                f,
                dtype=fields,
                delimiter=delimiter,
                comments=None,
                skiprows=1,
                quotechar='"',
                ndmin=1,
            )
        except (ValueError, TypeError, *_UNREADABLE):
            table = None
    if table is None or not len(table):
        f.seek(0)
        return None
    return {name: table[f"c{j}"] for j, name in enumerate(header)}


def _csv_columns(path, sep, decimal, opener, text=()):
    """What ``_read_csv`` reads, less the column that a delimiter ending
    every line makes (no name, no value), and the names of the columns that
    hold a row index: a first column without a name, as pandas' ``to_csv``
    writes its index and R's ``write.csv`` its row names."""
    names, columns = _read_csv(path, sep, decimal, opener, text)
    if names[-1] == "" and not any(map(str.strip, columns[""])):
        names = names[:-1]
    return names, columns, ("",) if names and names[0] == "" else ()


def _headerless(header, decimal):
    """What to say of a CSV file's first line ``header`` where it holds
    numbers alone (a file without a header line), else nothing."""
    if all(
        name.lower() not in MISSING and _is_number(name, decimal) for name in header
    ):
        return (
            "; the first line holds numbers alone: give the file a first "
            "line that names the columns"
        )
    return ""


# What reading a CSV file may raise besides csv.Error: text that is not
# UTF-8, and compressed data that is corrupt or cut short
_UNREADABLE = (UnicodeDecodeError, OSError, EOFError, lzma.LZMAError, zlib.error)


def _unreadable(path, error):
    """The ``DataError`` for a CSV file that ``csv``, its decoding or its
    decompression refused."""
    if isinstance(error, UnicodeDecodeError):
        byte = error.object[error.start : error.start + 1].hex()
        return DataError(
            f"{path}: not UTF-8 text (byte 0x{byte} cannot be decoded); save it "
            "as UTF-8"
        )
    if isinstance(error, csv.Error) or path.suffix.lower() not in COMPRESSED:
        return DataError(f"{path}: not a readable CSV file ({error})")
    return DataError(f"{path}: cannot be decompressed ({error})")


def _not_rows(path, shape, name="X"):
    """The refusal of an ``.npz`` file's ``X`` (or an ``.npy`` file's array,
    ``name``) of ``shape``, not 2-D, with how to save it one sample a row,
    and the options that read images."""
    message = f"{path}: {name} must be 2-D, one sample a row; it has shape {shape}"
    if len(shape) < 3:
        return message
    rows, image = as_rows(shape)
    message += f": save {'X' if name == 'X' else name + ' X'} as {rows}"
    if image is None:
        return message
    return message + (
        f"; a model fitted with --network conv --input-shape "
        f"{','.join(map(str, image))} reads such rows as images"
    )


def _read_npz(path, target, require_target, target_option="--target"):
    if target not in {None, "y"}:
        raise DataError(
            f"{path}: an .npz file holds arrays X and y; {target_option} must be "
            f"y, not {target!r}"
        )
    try:
        with np.load(path, allow_pickle=False) as arrays:
            sparse = "X" not in arrays and set(arrays) >= SPARSE_ARRAYS
            if not sparse and "X" not in arrays:
                raise DataError(
                    f"{path}: no array 'X'; it holds {listed(list(arrays), repr)}"
                )
            X = None if sparse else arrays["X"]
            y = None if sparse else arrays.get("y")
        if sparse:  # scipy.sparse.save_npz's file: a matrix, as CSR
            X = sp.load_npz(path).tocsr()
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    if require_target and sparse:
        raise DataError(
            f"{path} holds a SciPy sparse matrix (scipy.sparse.save_npz) and no "
            "labels: save X, dense, and its labels y with numpy.savez, or use "
            "the estimator in Python, where it takes sparse matrices"
        )
    if require_target and y is None:
        raise DataError(f"{path}: no array 'y' holding the labels")
    _check_array(path, X.shape, X.dtype)
    features = _array_features(path, X)
    if y is not None and y.shape != (X.shape[0],):
        raise DataError(
            f"{path}: y must have one label per row of X ({X.shape[0]}), it has "
            f"shape {y.shape}"
        )
    return Table(features, None, y if target is not None or require_target else None)


def _read_npy(path, target, require_target, target_option="--target"):
    """The features of an ``.npy`` file, one array (as ``numpy.save`` writes
    embeddings, and ``transform`` its output): refused where labels are
    asked for, which such a file cannot hold, or where its header says that
    the array cannot be features."""
    if target is not None or require_target:
        what = f"no labels for {target_option}" if target is not None else "no labels"
        raise DataError(
            f"{path}: an .npy file holds one array, the features, and {what}: "
            f"save both with numpy.savez('{path.stem}.npz', X=X, y=y)"
        )
    _check_array(path, *_npy_header(path), "the array")  # before reading the data
    try:  # mapped: converting to float64 is then the one copy in memory
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as error:
        raise DataError(f"{path}: not a readable .npy file ({error})") from None
    return Table(_array_features(path, X), None)


def _npy_header(path):
    """The shape and dtype that the ``.npy`` file ``path`` says it holds,
    read before its data."""
    from numpy.lib import format as npy

    with open(path, "rb") as f:
        if f.read(len(NPZ_MAGIC)) == NPZ_MAGIC:
            raise DataError(
                f"{path}: an .npz file (several arrays) named .npy: name it .npz"
            )
        f.seek(0)
        try:
            version = npy.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = npy.read_array_header_1_0(f)
            else:  # 2.0 and 3.0 (field names in UTF-8) share its layout
                shape, _, dtype = npy.read_array_header_2_0(f)
        except (ValueError, OSError) as error:
            # np.load would take such a file for a pickle
            raise DataError(
                f"{path}: not an .npy file as numpy.save writes one ({error})"
            ) from None
    return shape, dtype


def _check_array(path, shape, dtype, name="X"):
    """Refuse an ``.npz`` or ``.npy`` file's array (``name``, as messages
    call it) of ``shape`` and ``dtype`` where it is not 2-D and numeric."""
    if len(shape) != 2:
        raise DataError(_not_rows(path, shape, name))
    if dtype.kind not in "biuf":
        raise DataError(f"{path}: {name} must be numeric, its dtype is {dtype}")


def _array_features(path, X):
    """The 2-D numeric array ``X`` of an ``.npz`` or ``.npy`` file as
    float64 features, refused where a cell is not finite."""
    features = X.astype(np.float64)
    _check_finite(path, features, [f"column {j}" for j in range(X.shape[1])])
    return features


def _numeric_features(path, names, columns, decimal=".", options=("--target", "--id")):
    times = [name for name in names if is_time(columns[name])]
    if times:
        noun, them = columns_and_pronoun(times)
        raise DataError(
            f"{path}: date or time feature {noun} {listed(times, repr)}: "
            f"{times_as_numbers(them)}, name {them} with {options[1]}, or drop {them}"
        )
    converted, bad = [], []
    for name in names:
        values = _as_float(columns[name], decimal)
        if values is None:
            bad.append(name)
        converted.append(values)
    if bad:
        _refuse_non_numeric(path, bad, columns, decimal, options)
    features = np.column_stack(converted)
    _check_finite(path, features, [repr(name) for name in names])
    return features


def _refuse_non_numeric(path, bad, columns, decimal, options):
    """Refuse the feature columns ``bad``, with a cell of the first that is
    not a number (cut short), and what may make them features: the decimal
    mark, or Parquet for lists written as text (``[0.1, 0.2]``, as pandas'
    ``to_csv`` writes a column of arrays, rounded and cut short there)."""
    example = next(value for value in columns[bad[0]] if not _is_number(value, decimal))
    text = cut_short(example)
    hint = ""
    if decimal == "." and _is_number(example, ","):
        hint = "; --decimal , reads decimal commas"
    elif text.startswith(("[", "(")) and str(example).rstrip().endswith(("]", ")")):
        hint = (
            f"; {bad[0]!r} holds lists written as text: save the data as Parquet, "
            "whose columns of lists are read as a feature a value, or write a "
            "column a value"
        )
    raise DataError(
        f"{path}: non-numeric feature columns {listed(bad, repr)} (e.g. "
        f"{text!r} in {bad[0]!r}); drop them, or name the label column with "
        f"{options[0]} or a column of row identifiers with {options[1]}{hint}"
    )


def _as_float(values, decimal="."):
    """A float64 column, NaN for missing cells, or ``None`` if not numeric
    (a column of truth values alone is: 1 and 0); text cells write their
    decimal mark as ``decimal``."""
    if values.dtype.kind in "biuf":  # np.column_stack makes the one copy
        return values.astype(np.float64, copy=False)
    if decimal == ".":
        try:  # numbers alone, as most columns hold: converted without a loop
            return values.astype(np.float64)
        except (TypeError, ValueError):
            pass  # missing cells, truth values, text: each cell as it is
    cells = [_cell(value, decimal) for value in values]
    given = [cell for cell in cells if not (isinstance(cell, str) and cell == "nan")]
    if given and all(isinstance(cell, str) and cell in TRUTH_VALUES for cell in given):
        cells = [TRUTH_VALUES.get(cell, cell) for cell in cells]
    try:
        return np.array(cells, dtype=object).astype(np.float64)
    except (TypeError, ValueError):
        return None


def _is_number(value, decimal="."):
    """Whether a cell is a number or missing (a truth value is neither)."""
    try:
        float(_cell(value, decimal))
    except (TypeError, ValueError):
        return False
    return True


def _cell(value, decimal="."):
    """A cell as ``_as_float`` converts it: text stripped, in lower case and
    with ``decimal`` as ``.``, ``"nan"`` where missing."""
    if value is None:
        return "nan"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in MISSING:
            return "nan"
        return text if decimal == "." else text.replace(decimal, ".")
    return value


def _check_finite(path, features, column_names):
    found = first_non_finite(features)
    if found is not None:
        problem = "missing or NaN" if found.missing else "infinite"
        raise DataError(
            f"{path}: {counted(found.count, f'{problem} feature cell')} (first: row "
            f"{found.row + 1}, column {column_names[found.column]})"
        )


def _labels(path, name, values):
    missing = np.array(
        [
            is_missing(value)
            or (isinstance(value, str) and value.strip().lower() in MISSING)
            for value in values
        ]
    )
    if missing.any():
        count = int(missing.sum())
        raise DataError(
            f"{path}: {count} missing label{'s' * (count > 1)} in {name!r} (first: "
            f"row {int(np.argmax(missing)) + 1})"
        )
    if values.dtype.kind in "biu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        integral = np.all(values == np.round(values))
        return values.astype(np.int64) if integral else values.astype(np.float64)
    strings = np.array([str(value).strip() for value in values])
    try:
        integers = strings.astype(np.int64)
    except (ValueError, OverflowError):  # text, or integers past int64's range
        return strings.astype(object)
    # integers written as such alone: "01" and "1", or "+1", would otherwise
    # be one class, and "007" would be named 7
    if not np.array_equal(integers.astype(str), strings):
        return strings.astype(object)
    return integers
