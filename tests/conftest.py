import os
import sys

import pytest
from hypothesis import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Shared helpers live in tests/fleettest.py (`import fleettest`).
sys.path.insert(0, os.path.join(ROOT, "tests"))

# In CI (CI=true) hypothesis replays the same examples every run, so a red build is reproducible
# and never depends on luck; a developer's `make test` explores new ones each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


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
