"""What pyproject.toml declares holds: the oldest releases that CI tests
under are those it admits, and the license it names ships."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# ruff is only run by `make test`; torch's older releases on PyPI are CUDA
# builds of several GB, so the oldest run keeps the CPU build (.ci/oldest.txt)
NOT_PINNED = {"ruff", "torch"}


def pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def lower_bounds():
    project = pyproject()["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", requirement)
        assert match, f"{requirement!r} has no plain lower bound"
        name, version = match.groups()
        if name not in NOT_PINNED:
            bounds[name] = version
    return bounds


def oldest_pins():
    pins = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    return pins


def test_the_oldest_run_pins_each_lower_bound():
    bounds = lower_bounds()
    pins = oldest_pins()
    assert set(pins) == set(bounds)
    for name, version in bounds.items():
        # 1.24 admits 1.24.0, which the oldest run pins
        parts = version.split(".")
        pinned = pins[name].split(".")
        assert pinned[: len(parts)] == parts, (name, version, pins[name])
        assert all(part == "0" for part in pinned[len(parts) :]), (name, pins[name])


def test_the_license_named_ships_and_the_build_reads_it():
    config = pyproject()
    project = config["project"]
    assert project["license"] == "BSD-3-Clause"
    (name,) = project["license-files"]
    assert (ROOT / name).read_text().startswith("BSD 3-Clause License\n")
    # a license expression (PEP 639) needs setuptools 77: older ones refuse it
    (setuptools,) = config["build-system"]["requires"]
    match = re.fullmatch(r"setuptools>=(\d+)", setuptools)
    assert match, setuptools
    assert int(match.group(1)) >= 77
