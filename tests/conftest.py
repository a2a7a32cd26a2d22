import atexit
import os
import shutil
import sys
import tempfile

import pytest
from hypothesis import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Shared helpers live in tests/fleettest.py (`import fleettest`).
sys.path.insert(0, os.path.join(ROOT, "tests"))

# fleet generate keeps the key that signs its output records in $XDG_STATE_HOME/jenkins-fleet/
# (generator/output.py): tests and the processes they start use a private one, not the user's.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="fleet-test-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)
# and the compiled Jinja templates in $XDG_CACHE_HOME/jenkins-fleet/ (generator/render.py)
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fleet-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)

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
