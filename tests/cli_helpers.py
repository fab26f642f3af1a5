"""Running the ``sklearn-dsc`` command line in tests.

Every subcommand and error case runs ``main`` in this process (importing
torch in a fresh interpreter for each would dominate the run time); the
installed entry points themselves are run through subprocesses.
"""

import contextlib
import csv
import io
import os
import subprocess

from sklearn_dsc.cli import main

N_FEATURES = 64
NAMES = [f"px{i}" for i in range(N_FEATURES)]
# init="pca" trains a head (with "auto" the digits keep an anchor alone)
FAST = [
    "--max-iter",
    "2",
    "--hidden-layer-sizes",
    "16",
    "--init",
    "pca",
    "--random-state",
    "0",
]


def sklearn_dsc(*args):
    """``sklearn-dsc ARGS`` in this process; returns the completed "process"."""
    argv = [str(arg) for arg in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            returncode = main(argv)
        except SystemExit as exit:  # argparse: --help, usage errors
            returncode = exit.code
    return subprocess.CompletedProcess(
        argv, returncode, stdout.getvalue(), stderr.getvalue()
    )


def run_installed(*command):
    """Run an installed entry point in a fresh interpreter."""
    return subprocess.run(
        [*command],
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ok(*args, **kwargs):
    result = sklearn_dsc(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def fails(*args, message):
    """The command exits with status 1 and one line naming the problem."""
    result = sklearn_dsc(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("sklearn-dsc: error: "), result.stderr
    assert message in lines[-1], lines[-1]
    assert "Traceback" not in result.stderr
    return lines[-1]


class ClosedPipe(io.StringIO):
    """Standard output whose reader has gone, as ``| head`` leaves it."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def write_csv(path, rows, header):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def unseen(folder):
    """The arguments that name the unseen digits' CSV file and its labels."""
    return [folder / "unseen.csv", "--target", "digit"]
