"""Writing outputs: atomically, in the format their name says, figures too."""

import builtins
import bz2
import gzip
import lzma
import os
import subprocess
import sys

import numpy as np
import pytest

from sklearn_dsc._files import DataError, read_table
from sklearn_dsc._outputs import (
    atomic_write,
    check_figure_output,
    check_output,
    check_parquet_writable,
    write_figure,
    write_matrix,
)


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as f:
        f.write(b"new")
        assert path.read_bytes() == b"old"  # not yet replaced
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_keeps_the_old_file_on_an_error(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def interrupted():
        with atomic_write(path) as f:
            f.write(b"half")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_check_output_names_the_problem(tmp_path):
    check_output(tmp_path / "fine.csv", (".csv",))
    with pytest.raises(DataError, match="does not exist"):
        check_output(tmp_path / "missing" / "out.csv")
    with pytest.raises(DataError, match="is a directory"):
        check_output(tmp_path)
    with pytest.raises(DataError, match=r"unknown output type '\.txt'"):
        check_output(tmp_path / "out.txt", (".csv", ".npy"))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".npy"])
def test_write_matrix_round_trips(tmp_path, suffix):
    matrix = np.array([[0.5, -1.0], [2.0, 3.25]])
    path = tmp_path / f"out{suffix}"
    write_matrix(path, matrix, ["u", "v"])
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(path), matrix)
    elif suffix == ".parquet":
        pytest.importorskip("pyarrow")
        table = read_table(path)
        assert table.feature_names == ["u", "v"]
        np.testing.assert_array_equal(table.features, matrix)
    else:
        sep = "," if suffix == ".csv" else "\t"
        assert path.read_text().splitlines() == [
            sep.join(line) for line in (["u", "v"], ["0.5", "-1.0"], ["2.0", "3.25"])
        ]


@pytest.mark.parametrize(
    ("suffix", "decompress"),
    [
        (".csv.gz", gzip.decompress),
        (".TSV.BZ2", bz2.decompress),
        (".csv.xz", lzma.decompress),
    ],
)
def test_write_matrix_compresses_csv_as_its_name_says(tmp_path, suffix, decompress):
    """CSV outputs are written in each compression they are read in, and read
    back as written; gzip's header names the file, not its temporary."""
    path = tmp_path / f"out{suffix}"
    write_matrix(path, np.array([[0.5], [2.0]]), ["u"], index=("id", ["a", "b"]))
    sep = "\t" if suffix.lower().startswith(".tsv") else ","
    assert decompress(path.read_bytes()).decode().splitlines() == [
        sep.join(line) for line in (["id", "u"], ["a", "0.5"], ["b", "2.0"])
    ]
    assert read_table(path, id_column="id").features.tolist() == [[0.5], [2.0]]
    if suffix == ".csv.gz":
        assert b"out.csv\x00" in path.read_bytes()[:32]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_csv_outputs_are_utf8_whatever_the_locale(tmp_path):
    """Identifiers are written in UTF-8, which ``read_table`` reads, under an
    ASCII locale too (Python's own switch to UTF-8 turned off)."""
    path = tmp_path / "out.csv"
    code = (
        "import sys, numpy as np; from sklearn_dsc._outputs import write_matrix; "
        "write_matrix(sys.argv[1], np.eye(2), ['u', 'v'], "
        "index=('city', ['Z\\u00fcrich', '\\u6771\\u4eac']))"
    )
    environment = {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
    }
    subprocess.run([sys.executable, "-c", code, str(path)], env=environment, check=True)
    assert path.read_bytes().decode("utf-8").splitlines()[1:] == [
        "Z\u00fcrich,1.0,0.0",
        "\u6771\u4eac,0.0,1.0",
    ]
    table = read_table(path, id_column="city")
    assert table.ids.tolist() == ["Z\u00fcrich", "\u6771\u4eac"]


def test_unknown_output_types_are_named_with_the_known_ones(tmp_path):
    with pytest.raises(DataError) as refused:
        write_matrix(tmp_path / "out.json.gz", np.eye(2), ["u", "v"])
    assert str(refused.value).endswith(
        "unknown output type '.json.gz'; use .csv, .tsv, .parquet, .pq or .npy "
        "(.csv and .tsv also compressed as .gz, .bz2 or .xz)"
    )


@pytest.mark.parametrize(
    ("name", "start"),
    [("f.png", b"\x89PNG"), ("f.SVG", b"<?xml"), ("f.pdf", b"%PDF"), ("f", b"\x89PNG")],
)
def test_write_figure_writes_the_format_its_name_says(tmp_path, name, start):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.subplots().plot([0, 1])
    write_figure(figure, tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(start)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_figure_outputs_are_checked_before_any_work(tmp_path):
    pytest.importorskip("matplotlib")
    check_figure_output(tmp_path / "f.svg", "--plot")
    with pytest.raises(DataError, match=r"unknown figure type '\.csv'; use .*\.png"):
        check_figure_output(tmp_path / "f.csv", "--plot")
    with pytest.raises(DataError, match="does not exist"):
        check_figure_output(tmp_path / "missing" / "f.png", "--plot")


def _without(package, monkeypatch):
    """Imports of ``package`` (and of its modules) fail, as where it is not
    installed."""
    real_import = builtins.__import__

    def refused(name, *args, **kwargs):
        if name.startswith(package):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refused)


def test_figures_without_matplotlib(tmp_path, monkeypatch):
    """--plot is refused before any work without matplotlib; the demo's
    figure, which it then leaves out, is not."""
    _without("matplotlib", monkeypatch)
    with pytest.raises(DataError, match=r"--plot needs matplotlib: pip install"):
        check_figure_output(tmp_path / "k.png", "--plot")
    check_figure_output(tmp_path / "demo.png", "--figure", needs_matplotlib=False)


def test_writing_parquet_without_pyarrow_says_what_it_needs(tmp_path, monkeypatch):
    _without("pyarrow", monkeypatch)
    path = tmp_path / "out.parquet"
    with pytest.raises(DataError, match=r"writing Parquet needs pyarrow"):
        check_parquet_writable(path)
    with pytest.raises(DataError, match=r"writing Parquet needs pyarrow"):
        write_matrix(path, np.eye(2), ["u", "v"])
    assert not path.exists()
