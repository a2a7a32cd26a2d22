import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Shared helpers live in tests/fleettest.py (`import fleettest`).
sys.path.insert(0, os.path.join(ROOT, "tests"))


@pytest.fixture
def serve():
    """Start Jenkins doubles: serve({"/a": JenkinsDouble(...), ...}) -> DoubleServer; stopped after the test."""
    from jenkins_double import DoubleServer

    servers = []

    def start(controllers):
        server = DoubleServer(controllers).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
