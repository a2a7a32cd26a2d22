"""Fixtures for the pull-request flow tests (helpers are in prflowtest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prflowtest import make_repo


@pytest.fixture
def fleet_repo(tmp_path) -> Path:
    """A throwaway git repository with the sample fleet, its templates and schemas, committed on main."""
    return make_repo(tmp_path / "repo")
