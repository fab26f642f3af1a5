"""The ``sklearn-dsc`` command line as a whole: help, entry points, the demo,
and errors every command shares. Each command has its test file too."""

import contextlib
import io
import os
import re
import subprocess
import sys

import pytest

from sklearn_dsc.cli import build_parser, main

from cli_helpers import (
    FAST,
    ClosedPipe,
    fails,
    ok,
    run_installed,
    unseen,
)
from helpers import run_fresh


def test_help_of_every_subcommand():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "fit", "transform", "cluster", "evaluate", "info"}
    result = ok("--help")
    for command in commands:
        assert command in result.stdout
    for command in commands:
        text = ok(command, "--help").stdout
        assert "usage: sklearn-dsc " + command in text
        # each value is named (N, SEED, METHOD), not spelt as its parameter
        # (RANDOM_STATE) or as argparse's set of choices ({.,,})
        usage = text.split("\n\n")[0]
        assert "{" not in usage, usage
        assert not re.search(r"[A-Z]+_[A-Z]", usage), usage
        # a terminal of any encoding prints it (Windows' cp1252 has no \u2264)
        assert text.isascii(), [c for c in text if not c.isascii()]


def test_characters_the_terminal_cannot_encode_are_escaped(tmp_path, monkeypatch):
    """Labels that standard output's encoding lacks ('Z\u00fcrich' under an
    ASCII locale) print as escapes rather than end the command in a
    UnicodeEncodeError; the streams' error handlers are put back after."""
    import numpy as np

    from sklearn_dsc import DeepSpectralClusteringEmbedder, save

    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.repeat(["B\u00e2le", "Gen\u00e8ve", "Z\u00fcrich"], 10)
    model = tmp_path / "cities.dsc"
    save(DeepSpectralClusteringEmbedder(random_state=0).fit(X, y), model)
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["info", str(model)]) == 0
    assert stdout.errors == "strict"
    stdout.flush()
    text = stdout.buffer.getvalue().decode("ascii")
    assert "classes (3): B\\xe2le, Gen\\xe8ve, Z\\xfcrich" in text


def test_installed_entry_points(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "sklearn-dsc")
    for command in ([script], [sys.executable, "-m", "sklearn_dsc"]):
        result = run_installed(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage: sklearn-dsc" in result.stdout
    # errors: one line on stderr and exit status 1 ...
    result = run_installed(script, "info", tmp_path / "nothing.dsc")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("sklearn-dsc: error: ")
    assert "Traceback" not in result.stderr
    # ... unless --debug asks for the traceback
    result = run_installed(script, "info", tmp_path / "nothing.dsc", "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "FileNotFoundError" in result.stderr


def test_a_closed_pipe_ends_the_command_quietly(digit_model):
    """``sklearn-dsc info MODEL | head -1``: once the reader has gone, the
    command stops with status 1 and no error, as other tools do, and
    Python's flush at exit does not complain either."""
    script = os.path.join(os.path.dirname(sys.executable), "sklearn-dsc")
    process = subprocess.Popen(
        [script, "info", str(digit_model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # long before the interpreter has started
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert stderr == b""


def test_a_closed_pipe_says_so_where_a_file_was_to_be_written(digit_files, tmp_path):
    """``fit -v | head -1`` ends the fit; the one line on stderr says why
    the model file is not there."""
    stderr = io.StringIO()
    argv = ["fit", str(digit_files / "seen.csv"), "--target", "digit"]
    argv += ["-o", str(tmp_path / "model.dsc"), "-v", *FAST]
    closed = contextlib.redirect_stdout(ClosedPipe())
    with closed, contextlib.redirect_stderr(stderr):
        assert main(argv) == 1
    assert stderr.getvalue().splitlines()[-1] == (
        "sklearn-dsc: stopped: its standard output was closed before it finished"
    )
    assert not (tmp_path / "model.dsc").exists()


def test_demo(tmp_path):
    result = ok("demo", "--figure", tmp_path / "demo.png")
    assert "| ours, defaults |" in result.stdout
    for peer in ("raw pixels", "PCA", "LDA"):
        assert f"| {peer}" in result.stdout
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in result.stderr
    assert "ours, defaults" in result.stderr  # the progress of our fit
    # a figure type that matplotlib does not write is refused before the demo
    fails("demo", "--figure", tmp_path / "demo.xyz", message="unknown figure type")


def test_demo_quiet_is_spelt_as_fits():
    """``-q`` turns the progress bar off, as it does for ``fit``;
    ``--no-progress`` still does."""
    parser = build_parser()
    assert not parser.parse_args(["demo"]).quiet
    for flag in ("-q", "--quiet", "--no-progress"):
        assert parser.parse_args(["demo", flag]).quiet
    assert parser.parse_args(["fit", "d.csv", "-o", "m.dsc", "-q"]).quiet


def test_invalid_option_and_output(digit_files, digit_model, tmp_path):
    fails(
        "fit",
        digit_files / "seen.csv",
        "--target",
        "digit",
        "-o",
        tmp_path / "m",
        "--activation",
        "swish",
        message="--activation must be one of identity, logistic, relu, tanh; got",
    )
    fails(
        "transform",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "z.txt",
        message="unknown output type '.txt'",
    )
    fails(
        "cluster",
        digit_model,
        digit_files / "unseen.npz",
        "--n-clusters",
        1000,
        "-o",
        tmp_path / "c.npy",
        message="--n-clusters must be between 1 and the 300",
    )
    fails(
        "transform",
        digit_model,
        digit_files / "unseen.npz",
        "-o",
        tmp_path / "no" / "z.npy",
        message="does not exist",
    )


def test_an_unwritable_output_is_found_before_any_work(
    digit_files, tmp_path, monkeypatch
):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    for command in (
        [
            "fit",
            digit_files / "seen.csv",
            "--target",
            "digit",
            "-o",
            tmp_path / "m.dsc",
        ],
        ["demo", "--figure", tmp_path / "demo.png"],
    ):
        message = fails(*command, message="Permission denied")
        assert "cannot write" in message
    assert list(tmp_path.iterdir()) == []


def test_an_output_never_replaces_a_file_the_command_reads(
    digit_files, digit_model, tmp_path
):
    """``fit data.csv -o data.csv`` would replace the training data with a
    model, and ``transform`` or ``cluster`` their data with its embedding:
    an output that is one of the inputs, by name or through a link, is
    refused before any work, and the file is left as it was."""
    data = tmp_path / "data.csv"
    data.write_bytes((digit_files / "seen.csv").read_bytes())
    before = data.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    unseen_rows = digit_files / "unseen.csv"
    reference = ["--reference", data, "--reference-target", "digit"]
    cases = [
        ("fit", data, "--target", "digit", "-o", data, *FAST),
        ("fit", link, "--target", "digit", "-o", data, *FAST),
        ("transform", digit_model, data, "--target", "digit", "-o", data),
        ("cluster", digit_model, data, "--target", "digit", "-o", link),
        (
            "cluster",
            digit_model,
            unseen_rows,
            "--target",
            "digit",
            "-o",
            data,
            *reference,
        ),
    ]
    for command, *arguments in cases:
        fails(command, *arguments, message="which this command reads; name another")
        assert data.read_bytes() == before


def test_outputs_honour_the_umask_and_keep_an_existing_mode(
    digit_files, digit_model, tmp_path
):
    previous = os.umask(0o022)
    try:
        out = tmp_path / "embedding.npy"
        ok(
            "transform",
            digit_model,
            *unseen(digit_files),
            "-o",
            out,
        )
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        ok(
            "transform",
            digit_model,
            *unseen(digit_files),
            "-o",
            out,
        )
        assert out.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)


# What the command line imports before it exits, in a fresh interpreter.
IMPORTED_BY = """
import sys

import pytest
from sklearn_dsc import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("sklearn", "torch")
print("imported:", *sorted(name for name in heavy if name in sys.modules))
"""


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["fit", "--help"],
        ["fit", "missing.csv", "--target", "y", "-o", "model.dsc"],
        ["transform", "model.dsc", "missing.csv", "-o", "out.csv"],
        ["cluster", "model.dsc", "missing.csv", "-o", "out.csv"],
        ["evaluate", "model.dsc", "missing.csv", "--target", "y"],
        ["transform", "missing.dsc", "data.csv", "-o", "out.csv"],
        ["info", "missing.dsc"],
    ],
)
def test_help_and_a_missing_file_answer_without_torch(arguments, tmp_path):
    # torch and scikit-learn take seconds to import: the commands import them
    # where they run, so that --help and a mistyped file name answer at once
    (tmp_path / "model.dsc").write_bytes(b"not read")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    result = run_fresh(IMPORTED_BY, *arguments, cwd=tmp_path)
    assert result.stdout.splitlines()[-1] == "imported:"
    if "--help" not in arguments:
        missing = next(name for name in arguments if name.startswith("missing"))
        assert f": {missing}\n" in result.stderr
