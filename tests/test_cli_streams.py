"""``-`` as DATA and as ``-o``: CSV on standard input and output, in pipes."""

import bz2
import contextlib
import csv
import gzip
import io
import lzma
import os
import subprocess
import sys

import numpy as np
import pytest

from sklearn_dsc import load
from sklearn_dsc.cli import main

from cli_helpers import FAST, ClosedPipe, fails, ok


@pytest.fixture(autouse=True)
def _in_a_folder_of_its_own(tmp_path, monkeypatch):
    """Where ``-`` were taken for a file's name, it is written there."""
    monkeypatch.chdir(tmp_path)


def _standard_input(monkeypatch, data):
    """Standard input holding the bytes ``data``, as a pipe gives them."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def _csv_rows(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize(
    "compress", [bytes, gzip.compress, bz2.compress, lzma.compress], ids=str
)
def test_transform_reads_and_writes_the_standard_streams(
    digit_files, digit_model, monkeypatch, compress
):
    """``... | sklearn-dsc transform MODEL - -o - --target digit | ...``: the
    rows come from standard input (compressed too), the embedding goes to
    standard output alone, and what was written is said on standard error."""
    _standard_input(monkeypatch, compress((digit_files / "unseen.csv").read_bytes()))
    result = ok("transform", digit_model, "-", "-o", "-", "--target", "digit")
    fitted = load(digit_model)
    header, embedding = _csv_rows(result.stdout)
    assert header == list(fitted.get_feature_names_out())
    X = np.load(digit_files / "unseen.npz")["X"]
    np.testing.assert_allclose(embedding, fitted.transform(X), rtol=1e-12)
    assert "Wrote a 300 x 64 embedding to standard output" in result.stderr


def test_cluster_writes_its_clusters_alone_to_standard_output(
    digit_files, digit_model, tmp_path
):
    """With ``--n-clusters auto`` the estimate is said on standard error, so
    that standard output holds the CSV alone."""
    unseen = [digit_files / "unseen.csv", "--target", "digit", "--random-state", "0"]
    result = ok("cluster", digit_model, *unseen, "-o", "-")
    header, rows = _csv_rows(result.stdout)
    assert header == ["row", "cluster"]
    np.testing.assert_array_equal(rows[:, 0], np.arange(300))
    assert "Estimated K=" in result.stderr
    assert "to standard output" in result.stderr
    ok("cluster", digit_model, *unseen, "-o", tmp_path / "clusters.csv")
    assert (tmp_path / "clusters.csv").read_bytes().decode() == result.stdout


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_fit_and_evaluate_read_standard_input(digit_files, tmp_path, monkeypatch):
    seen = (digit_files / "seen.csv").read_bytes()
    _standard_input(monkeypatch, seen)
    options = ["--target", "digit", *FAST]
    ok("fit", "-", "-o", tmp_path / "piped.dsc", *options)
    ok("fit", digit_files / "seen.csv", "-o", tmp_path / "m.dsc", *options)
    X = np.load(digit_files / "unseen.npz")["X"]
    np.testing.assert_array_equal(
        load(tmp_path / "piped.dsc").transform(X), load(tmp_path / "m.dsc").transform(X)
    )
    _standard_input(monkeypatch, (digit_files / "unseen.csv").read_bytes())
    piped = ok("evaluate", tmp_path / "m.dsc", "-", "--target", "digit", "--json")
    named = ok(
        "evaluate",
        tmp_path / "m.dsc",
        digit_files / "unseen.csv",
        "--target",
        "digit",
        "--json",
    )
    assert piped.stdout == named.stdout


def test_what_the_streams_cannot_take_is_named(
    digit_files, digit_model, tmp_path, monkeypatch
):
    only_csv = "- (standard output) takes CSV from transform and cluster alone"
    seen = [digit_files / "seen.csv", "--target", "digit"]
    fails("fit", *seen, "-o", "-", message=only_csv)
    unseen = [digit_files / "unseen.csv", "--target", "digit", "-o", tmp_path / "c.csv"]
    fails("cluster", digit_model, *unseen, "--plot", "-", message=only_csv)
    both = "DATA and --reference cannot both be -"
    fails("cluster", digit_model, "-", "-o", "-", "--reference", "-", message=both)
    compressed = gzip.compress(b"a;label;b\n1.5;x;2\n3;y;-4\n" * 20)
    middle = len(compressed) // 2
    flipped = bytes(byte ^ 0xFF for byte in compressed[middle : middle + 8])
    corrupt_gzip = compressed[:middle] + flipped + compressed[middle + 8 :]
    for data, what in (
        (b"PAR1\0\0", "holds a Parquet file; - reads CSV alone"),
        ((digit_files / "seen.npz").read_bytes(), "holds an .npz file"),
        (b"\x93NUMPY\x01\x00", "holds an .npy file"),
        (gzip.compress(b"a,b\n1,2\n")[:-6], "standard input: cannot be decompressed"),
        (bz2.compress(b"a,b\n1,2\n")[:-6], "standard input: cannot be decompressed"),
        (corrupt_gzip, "standard input: cannot be decompressed (Error -3"),
        (b"", "standard input: the file is empty"),
        (b"px0,digit\n1,d0\n1,d1,oops\n", "standard input: line 3 has 3 fields"),
    ):
        _standard_input(monkeypatch, data)
        fails("transform", digit_model, "-", "-o", tmp_path / "z.npy", message=what)


def test_a_terminal_as_standard_input_is_refused(digit_model, tmp_path, monkeypatch):
    """``sklearn-dsc transform MODEL - -o z.npy`` typed without a pipe would
    wait for rows typed in: it says what ``-`` reads instead."""

    class Terminal(io.TextIOWrapper):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(io.BytesIO(b"px0\n1\n")))
    fails(
        "transform",
        digit_model,
        "-",
        "-o",
        tmp_path / "z.npy",
        message="standard input is a terminal: pipe or redirect the rows into it",
    )
    assert not (tmp_path / "z.npy").exists()


def test_a_pipe_through_the_installed_command(digit_files, digit_model):
    """In a real pipe, under an ASCII locale: the identifiers that the
    output copies are written in UTF-8, as CSV files are, and standard
    output holds nothing but the CSV."""
    lines = (digit_files / "unseen.csv").read_text().splitlines()
    cities = [f"Z\u00fcrich {i}" for i in range(len(lines) - 1)]
    data = "\n".join(
        [
            f"{lines[0]},city",
            *(f"{line},{city}" for line, city in zip(lines[1:], cities, strict=True)),
        ]
    )
    script = os.path.join(os.path.dirname(sys.executable), "sklearn-dsc")
    options = ["-o", "-", "--target", "digit", "--id", "city"]
    result = subprocess.run(
        [script, "transform", digit_model, "-", *options],
        input=data.encode("utf-8"),
        capture_output=True,
        env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout.decode("utf-8"))))
    assert rows[0][0] == "city"
    assert [row[0] for row in rows[1:]] == cities
    assert b"Wrote a 300 x 64 embedding to standard output" in result.stderr


def test_a_closed_pipe_ends_a_stream_output_quietly(digit_files, digit_model):
    """``sklearn-dsc transform MODEL DATA -o - | head -1``: the output was
    standard output, so there is no file whose absence to explain."""
    stderr = io.StringIO()
    argv = ["transform", str(digit_model), str(digit_files / "unseen.csv")]
    argv += ["--target", "digit", "-o", "-"]
    closed = contextlib.redirect_stdout(ClosedPipe())
    with closed, contextlib.redirect_stderr(stderr):
        assert main(argv) == 1
    assert stderr.getvalue() == ""
