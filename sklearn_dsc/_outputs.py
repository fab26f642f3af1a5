"""Writing the command line's results and model files.

Every file is written through ``atomic_write``: it appears complete or not at
all, so an interrupted run never leaves a half-written output. ``-o -``
writes CSV to standard output.
"""

import contextlib
import csv
import gzip
import io
import os
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np

from ._files import (
    COMPRESSED,
    COMPRESSED_CSV,
    CSV_SUFFIXES,
    DATA_SUFFIXES,
    MATRIX_SUFFIXES,
    PARQUET_SUFFIXES,
    DataError,
    data_suffix,
    is_stream,
)
from ._parquet import import_pyarrow
from ._wording import alternatives


@contextlib.contextmanager
def atomic_write(path, checked=True):
    """Open a temporary file beside ``path`` for writing bytes; rename it to
    ``path`` on success.

    The rename is atomic on POSIX and Windows: readers see the old file or
    the whole new one. On an error or an interrupt the temporary file is
    removed and ``path`` is left as it was. The file gets the permissions of
    the file it replaces, or those the umask gives a new file. Where
    ``checked``, ``check_output`` first says, as a ``DataError``, why
    ``path`` cannot be written; else the ``OSError`` of writing it does.
    """
    path = Path(path)
    if checked:
        check_output(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    try:
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(descriptor, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _mode_for(path):
    """The permission bits ``path`` has, or those of a new file (``0o666``
    less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # reading the umask means setting it
        os.umask(umask)
        return 0o666 & ~umask


def output_name(path):
    """How messages name the output ``path``."""
    return "standard output" if is_stream(path) else path


def _unknown_output_type(path, suffixes):
    plain = [suffix for suffix in suffixes if Path(suffix).suffix not in COMPRESSED]
    compressed = "" if len(plain) == len(suffixes) else COMPRESSED_CSV
    return DataError(
        f"{path}: unknown output type {data_suffix(path)!r}; use "
        f"{alternatives(plain)}{compressed}"
    )


def check_output(path, suffixes=None, stream=False):
    """Fail early, before any work, if ``path`` cannot be written as asked;
    with ``stream``, ``-`` (CSV on standard output) can."""
    if is_stream(path):
        if stream:
            return
        raise DataError(
            "- (standard output) takes CSV from transform and cluster alone; "
            "name a file to write"
        )
    path = Path(path)
    if not path.parent.is_dir():
        raise DataError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise DataError(f"cannot write {path}: it is a directory")
    if suffixes is not None and data_suffix(path) not in suffixes:
        raise _unknown_output_type(path, suffixes)
    # the outputs are written beside the path and renamed: try it
    try:
        with tempfile.TemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise DataError(f"cannot write {path}: {reason}") from None


def check_model_output(path):
    """``check_output`` for a model file, refused where ``path`` names a
    data file (``model.csv``): a model file so named would be taken for the
    embedding that ``transform`` writes, and read as data by nothing."""
    check_output(path)
    suffix = data_suffix(Path(path))
    if suffix not in DATA_SUFFIXES:
        return
    message = (
        f"cannot write {path}: fit writes a model file, and {suffix} names a data "
        "file; name the model otherwise (model.dsc)"
    )
    if suffix in MATRIX_SUFFIXES:
        message += f", and write its embedding with transform -o {Path(path).name}"
    raise DataError(message)


def check_figure_output(path, option, needs_matplotlib=True):
    """Fail before any work where ``path`` cannot take a figure: a file type
    (its suffix) that matplotlib does not write, or, with
    ``needs_matplotlib``, no matplotlib to draw it (``option`` names what
    asked for it)."""
    check_output(path)
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        if not needs_matplotlib:
            return
        raise DataError(f"{option} needs matplotlib: pip install matplotlib") from None
    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower()
    if suffix[1:] not in formats:
        raise DataError(
            f"{path}: unknown figure type {suffix!r}; use "
            f"{alternatives(['.' + name for name in sorted(formats)])}"
        )


def write_figure(figure, path, dpi=100):
    """A matplotlib ``figure`` to ``path`` in the format its suffix names
    (PNG where it has none), atomically."""
    path = Path(path)
    with atomic_write(path) as f:
        figure.savefig(f, format=path.suffix.lower()[1:] or "png", dpi=dpi)


def check_not_read(path, inputs):
    """Fail where the output ``path`` is one of the files that the command
    reads, ``inputs`` (``{what: path or None}``): writing it would replace
    them, the training data with a model, say."""
    path = Path(path)
    for what, given in inputs.items():
        if is_stream(given):
            continue  # a stream, which no file written replaces
        if given is not None and _same_file(path, Path(given)):
            raise DataError(
                f"cannot write {path}: it is {what}, which this command reads; "
                "name another file"
            )


def _same_file(path, other):
    """Whether ``path`` and ``other`` both exist and are one file (through
    links too)."""
    try:
        return os.path.samefile(path, other)
    except OSError:  # one of them does not exist (yet)
        return False


def check_parquet_writable(path):
    """Fail before any work where ``path`` is a Parquet file and pyarrow is
    missing."""
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        import_pyarrow(path, "writing")


def _write_parquet(path, matrix, column_names, index):
    """The columns of ``matrix`` (after ``index``'s, where given) as a
    Parquet file's named columns, atomically."""
    pyarrow = import_pyarrow(path, "writing")
    names = [str(name) for name in column_names]
    arrays = [pyarrow.array(matrix[:, j]) for j in range(matrix.shape[1])]
    if index is not None:
        name, values = index
        names.insert(0, str(name))
        arrays.insert(0, pyarrow.array(list(values)))
    table = pyarrow.table(arrays, names=names)
    with atomic_write(path) as f:
        pyarrow.parquet.write_table(table, f)


def _compressing(f, path):
    """A binary stream into ``f`` that compresses as ``path``'s last suffix
    says (``.gz``, ``.bz2``, ``.xz``), or ``f`` itself; leaving it ends the
    compressed data and leaves ``f`` open."""
    compression = path.suffix.lower()
    if compression == ".gz":  # its header names the file, not the temporary one
        return gzip.GzipFile(filename=path.name, mode="wb", fileobj=f)
    if compression in COMPRESSED:
        return COMPRESSED[compression](f, "wb")
    return contextlib.nullcontext(f)


def _write_csv(path, header, rows):
    """``header`` and ``rows`` as a CSV file in UTF-8 (what ``read_table``
    reads, whatever the locale), delimited by tabs for ``.tsv`` and
    compressed as a last suffix of ``COMPRESSED`` says, atomically; or, for
    ``-``, on standard output."""
    if is_stream(path):
        sys.stdout.flush()  # what was printed comes first
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a stream of text alone, as a notebook's may be
            _csv_rows(sys.stdout, ",", header, rows)
        else:  # UTF-8, whatever the terminal's encoding
            _csv_into(binary, ",", header, rows)
            binary.flush()
        return
    delimiter = "\t" if data_suffix(path).startswith(".tsv") else ","
    with atomic_write(path) as f, _compressing(f, path) as stream:
        _csv_into(stream, delimiter, header, rows)


def _csv_into(stream, delimiter, header, rows):
    """``header`` and ``rows`` as CSV in UTF-8 into the binary ``stream``,
    left open."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    _csv_rows(text, delimiter, header, rows)
    text.detach()  # flushed, and the stream left to its owner to close


def _csv_rows(text, delimiter, header, rows):
    """``header`` and ``rows`` as CSV into the ``text`` stream."""
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)


def write_matrix(path, matrix, column_names, index=None):
    """Write a 2-D array to CSV (with a header; ``.csv`` or ``.tsv``, also
    compressed: ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``), Parquet or
    ``.npy``, atomically; or, for ``-``, to standard output as CSV.

    ``index``, a ``(name, values)`` pair, is written as the first column of a
    CSV or Parquet file (an ``.npy`` file holds the matrix alone, in row
    order).
    """
    if is_stream(path):
        suffix = ".csv"
    else:
        path = Path(path)
        suffix = data_suffix(path)
    if suffix == ".npy":
        with atomic_write(path) as f:
            np.save(f, matrix, allow_pickle=False)
    elif suffix in PARQUET_SUFFIXES:
        _write_parquet(path, matrix, column_names, index)
    elif suffix in CSV_SUFFIXES:
        rows = matrix.tolist()
        if index is not None:
            name, values = index
            column_names = [name, *column_names]
            rows = [[value, *row] for value, row in zip(values, rows, strict=True)]
        _write_csv(path, column_names, rows)
    else:
        raise _unknown_output_type(path, MATRIX_SUFFIXES)
