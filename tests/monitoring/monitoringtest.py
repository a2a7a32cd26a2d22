"""Helpers of the monitoring tests (imported as `monitoringtest`; conftest.py holds the fixtures)."""

from __future__ import annotations

import os

from fleettest import fleet_in_process, read_tree

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")


def generate_tree(instances: str, out, *args) -> dict[str, bytes]:
    run = fleet_in_process(["--instances", instances, "generate", "--jobs", "1", "--out", out, *args],
                           os.path.dirname(os.fspath(out)))
    assert run.code == 0, run.stderr
    return read_tree(out)
