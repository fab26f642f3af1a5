"""Measurements in a fresh process, so that peak memory is the measurement's own."""

import json
import subprocess
import sys


def child_result(script, *args):
    """Run ``python script --child ARGS`` and return the JSON object that it
    prints last."""
    result = subprocess.run(
        [sys.executable, str(script), "--child", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
