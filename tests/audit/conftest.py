"""Fixtures for the audit tests (helpers are in audittest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from audittest import git
from fleettest import ROOT


@pytest.fixture
def fleet_repo(tmp_path) -> Path:
    """A throwaway git repository holding a copy of the sample fleet, its templates and schemas, on main."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for part in ("instances", "templates", "schemas"):
        shutil.copytree(Path(ROOT) / part, repo / part)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    return repo
