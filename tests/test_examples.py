"""Every script of the example gallery runs to the end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
# The documentation build (make docs, run by CI) executes the gallery's plot_
# examples; here they run with ``pytest -m slow``. The others run every time.
SCRIPTS = [
    pytest.param(
        path,
        id=path.name,
        marks=[pytest.mark.slow] if path.name.startswith("plot_") else [],
    )
    for path in EXAMPLES
]


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script, tmp_path):
    pytest.importorskip("matplotlib")
    environment = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
