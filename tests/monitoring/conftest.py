"""Fixtures for the monitoring tests: generating small fleets, the Jenkins double."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from monitoringtest import GOLDEN, generate_tree


@pytest.fixture(scope="session")
def golden_outputs(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Every golden case of tests/monitoring/golden, generated once."""
    out = {}
    for case in sorted(os.listdir(GOLDEN)):
        if os.path.isdir(os.path.join(GOLDEN, case, "instances")):
            out[case] = generate_tree(os.path.join(GOLDEN, case, "instances"),
                                      tmp_path_factory.mktemp(case) / "build")
    return out
