"""Measurements in a fresh process, so that peak memory is the measurement's own."""

import json
import subprocess
import sys


def child_result(script, *args, env=None):
    """Run ``python script --child ARGS`` (in the environment ``env``, this
    one's by default) and return the JSON object that it prints last; raise
    with what it wrote to stderr where it fails."""
    command = [sys.executable, str(script), "--child", *(str(arg) for arg in args)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[1:])} failed (exit {result.returncode}):\n"
            f"{result.stderr}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])
