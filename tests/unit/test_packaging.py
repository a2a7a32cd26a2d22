"""The package metadata and the set-up steps: `make fleet` says what it does and pip prints no warning.

setuptools warns at every install about a `project.license` table (deprecated since 77: an SPDX
expression and `license-files` instead) and, for a flat layout installed through its meta path
finder, that a folder named like the package may shadow it. Installing for real takes 20 s, so
these tests check the metadata that decides both.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib

from fleettest import ROOT


def _pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        return tomllib.load(fh)


def test_license_is_an_spdx_expression_with_its_texts():
    project = _pyproject()["project"]
    assert project["license"] == "EPL-2.0 OR MIT"
    patterns = project["license-files"]
    for pattern in patterns:  # a pattern that matches nothing is a warning (and later an error)
        assert glob.glob(os.path.join(ROOT, pattern)), pattern
    texts = {os.path.basename(p) for pattern in patterns for p in glob.glob(os.path.join(ROOT, pattern))}
    assert {"EPL-2.0.txt", "MIT.txt"} <= texts


def test_the_build_backend_understands_spdx_licenses():
    (requirement,) = [r for r in _pyproject()["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.search(r">=\s*(\d+)", requirement)
    assert minimum and int(minimum.group(1)) >= 77, requirement


def test_the_editable_install_is_a_plain_path_entry():
    # With package-dir "" = "." setuptools writes a .pth file for the flat layout; without it, a
    # meta path finder and the "Editable installation" warning.
    assert _pyproject()["tool"]["setuptools"]["package-dir"] == {"": "."}


def _recipe(lines: list[str], target: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(target + ":"))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        body.append(line[1:])
    return body


def test_each_step_of_make_fleet_is_announced():
    """`make fleet` on a fresh clone: every command that takes time is preceded by a line saying what it does."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    for target in ("$(STAMP)", "fleet"):
        recipe = _recipe(lines, target)
        steps = [i for i, line in enumerate(recipe) if "pip install" in line or "-m venv" in line
                 or line.startswith("$(BIN)/fleet ")]
        assert steps, target
        for i in steps:
            assert "echo " in recipe[i] or recipe[i - 1].startswith("@echo "), \
                f"{target}: runs without saying what it does: {recipe[i]}"
