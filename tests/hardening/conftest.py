"""Fixtures of the hardening suite: the sample fleet with a generated build/, Jenkins doubles."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for _path in (HERE, TESTS, os.path.join(TESTS, "push")):  # hardening, fleettest/jenkins_double, push_helpers
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture
def serve():
    """Start doubles: serve({"/a": JenkinsDouble(...), ...}) -> DoubleServer; stopped after the test."""
    from jenkins_double import DoubleServer

    servers = []

    def start(controllers, **kw) -> DoubleServer:
        server = DoubleServer(controllers, **kw).start() if kw else DoubleServer(controllers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
