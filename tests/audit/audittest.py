"""Helpers for the audit tests: run `fleet` on a fixture fleet, compare with expected files.

Imported as `audittest` (pytest puts this directory on sys.path for its test modules).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from fleettest import UPDATE, fleet_in_process, git  # noqa: F401 - git is re-exported

FLEETS = Path(__file__).parent / "fleets"


def fleet(case: str | os.PathLike, *args, cwd=None):
    """`fleet --instances instances ARGS` in the case directory (so reported paths are short and stable)."""
    where = Path(cwd) if cwd else FLEETS / case
    return fleet_in_process(["--no-color", "--instances", "instances", *args], where)


def audit_doc(case: str, *args) -> dict:
    run = fleet(case, "audit", "-j", "1", "--format", "json", *args)
    assert run.code in (0, 1), run.stderr
    return json.loads(run.stdout)


def check_expected(path: Path, actual: str) -> None:
    """Fixture pair: `actual` must equal the expected file (FLEET_UPDATE_GOLDEN=1 rewrites it)."""
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing expected file {path}; run with FLEET_UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"{path.name} (expected)", "actual", n=2))
        pytest.fail(f"output differs from {path}:\n{diff[:6000]}")


