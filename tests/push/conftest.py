"""Fixtures for `fleet push`: a scratch directory, the Jenkins double, a real Jenkins when configured.

A real controller is used when FLEET_TEST_JENKINS_URL, FLEET_TEST_JENKINS_USER and
FLEET_TEST_JENKINS_TOKEN are set (see docs/push.md); tests taking `jenkins_target`
then run against both, and report the real variant as skipped otherwise.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fleettest import Run

# pytest puts this directory on sys.path for its conftest (push_helpers), tests/conftest.py puts
# tests/ there (the jenkins_double package)
from jenkins_double import JenkinsDouble, plugins_for
from push_helpers import (
    ADMIN,
    MARKER,
    REAL_TOKEN,
    REAL_URL,
    REAL_USER,
    VERSION,
    run_fleet,
    users,
)


@pytest.fixture
def fleet(tmp_path):
    """Run `fleet ...` in a scratch directory (outside the repository)."""
    def run(*args, **kw) -> Run:
        return run_fleet(list(args), cwd=str(tmp_path), **kw)
    return run


@dataclass
class JenkinsTarget:
    kind: str  # double | real
    url: str
    user: str
    token: str
    double: JenkinsDouble | None
    version: str


@pytest.fixture(params=["double", "real"])
def jenkins_target(request, serve):
    """The controller end-to-end tests push to: the double always, a real Jenkins when configured."""
    if request.param == "real":
        if not (REAL_URL and REAL_USER and REAL_TOKEN):
            pytest.skip("no real Jenkins: set FLEET_TEST_JENKINS_URL, FLEET_TEST_JENKINS_USER, "
                        "FLEET_TEST_JENKINS_TOKEN to run this test against one")
        yield JenkinsTarget("real", REAL_URL, REAL_USER, REAL_TOKEN, None, "")
        return
    double = JenkinsDouble(name="e2e", version=VERSION, plugins=plugins_for(["configuration-as-code"]),
                           users=users())
    server = serve({"/e2e": double})
    yield JenkinsTarget("double", server.url("/e2e"), ADMIN.name, MARKER, double, VERSION)


@pytest.fixture
def unique():
    """A value no earlier run left on a controller (real Jenkins keeps its state between runs)."""
    return f"fleet e2e {uuid.uuid4().hex[:12]}"
