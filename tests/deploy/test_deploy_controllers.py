"""fleet deploy with the controllers in the loop: the health probe between waves and --push.

The clusters are the API-server doubles of conftest.py; the controllers are Jenkins doubles
(tests/jenkins_double) reached through a targets file, with credentials in the environment
as for `fleet push`.
"""

from __future__ import annotations

import json
import os

import fleettest
import pytest
from jenkins_double import DoubleServer, Fault, JenkinsDouble, default_users, plugin_entry

from .conftest import rows
from .test_deploy_e2e import by_name, edit_instance, read, report

SELECTION = ("technology.cbi", "ee4j.jersey", "iot.4diac")  # a canary, then one wave of two
PREFIXES = {"technology.cbi": "/cbi", "ee4j.jersey": "/jersey", "iot.4diac": "/4diac"}
ADMIN = default_users()["admin"]


def installed(workdir, name: str) -> dict[str, str]:
    """The plugins the instance's image installs, at their pinned versions (model.json)."""
    model = json.loads(read(os.path.join(workdir, "build", name, "model.json")))
    return model["jenkins"]["installedPlugins"]


def jcasc(workdir, name: str) -> str:
    return read(os.path.join(workdir, "build", name, "jenkins", "jenkins.yaml"))


@pytest.fixture
def controllers(workdir):
    """A Jenkins double per instance, booted from the instance's generated JCasC."""
    doubles = {name: JenkinsDouble(name=name, file_source=jcasc(workdir, name), users=default_users(),
                                   plugins=[plugin_entry(p, v) for p, v in installed(workdir, name).items()])
               for name in SELECTION}
    server = DoubleServer({PREFIXES[n]: d for n, d in doubles.items()}).start()
    fleettest.write(os.path.join(workdir, "targets.yaml"), "instances:\n" + "".join(
        f"  {n}: {{url: '{server.url(p)}'}}\n" for n, p in PREFIXES.items()))
    yield doubles
    server.stop()


ENV = {"FLEET_JENKINS_USER": ADMIN.name, "FLEET_JENKINS_TOKEN": ADMIN.tokens[0]}


def probed(double: JenkinsDouble) -> bool:
    return any(e.method == "GET" and e.path.startswith("/api/json") for e in double.log)


def test_controllers_of_a_wave_answer_before_the_next_starts(cluster, deploy, workdir, controllers):
    run = deploy(cluster, *SELECTION, "--canary", "technology.cbi", "--wave-size", "2", "--targets", "targets.yaml",
                 "--report", "report.json", "--timeout", "20", env=ENV)
    assert run.code == 0, run.all
    rep = report(workdir)
    assert rep["healthProbe"] == "between waves"
    assert by_name(rep)["technology.cbi"]["health"] == "ok"
    # the canary's controller was asked; the last wave's were not (no wave follows them)
    assert probed(controllers["technology.cbi"])
    assert not probed(controllers["ee4j.jersey"]) and not probed(controllers["iot.4diac"])
    assert "health probe between waves: between waves" in run.err


def test_a_canary_that_does_not_answer_stops_the_deployment(cluster, deploy, workdir, controllers):
    controllers["technology.cbi"].inject(Fault("status", path="/api/json", status=503, times=-1))
    run = deploy(cluster, *SELECTION, "--canary", "technology.cbi", "--wave-size", "2", "--targets", "targets.yaml",
                 "--report", "report.json", "--timeout", "3", env=ENV)
    assert run.code == 3, run.all
    results = {n: r[2] for n, r in rows(run.out).items()}
    assert results == {"technology.cbi": "failed", "ee4j.jersey": "not attempted", "iot.4diac": "not attempted"}
    rep = by_name(report(workdir))
    assert rep["technology.cbi"]["reason"].startswith("health: ")
    assert rep["ee4j.jersey"]["result"] == "not attempted" and rep["ee4j.jersey"]["reason"] == "wave 1 failed"
    assert cluster.double("okd-c2").log == [] or all(m == "GET" for m, _ in cluster.double("okd-c2").log)


def test_push_reloads_a_controller_whose_jcasc_alone_changed(cluster, deploy, workdir, controllers):
    assert deploy(cluster, "technology.cbi", env=ENV).code == 0
    edit_instance(workdir, "technology.cbi", "Job/Read, Job/Build]", "Job/Read, Job/Build, Job/Cancel]")
    # the kubelet has refreshed the mounted ConfigMap by the time the reload reads it
    controllers["technology.cbi"].file_source = jcasc(workdir, "technology.cbi")
    controllers["technology.cbi"].log.clear()
    run = deploy(cluster, "technology.cbi", "--push", "--targets", "targets.yaml", "--report", "report.json", env=ENV)
    assert run.code == 0, run.all
    rep = report(workdir)
    assert rep["jcasc"] != "printed"
    assert by_name(rep)["technology.cbi"]["jcasc"] == "reload-pushed"
    assert any(e.method == "POST" and e.path.startswith("/configuration-as-code/reload")
               for e in controllers["technology.cbi"].log)
    assert "fleet push --reload technology.cbi" not in run.err  # done, not printed


def test_push_without_credentials_is_refused_before_anything_is_applied(cluster, deploy, workdir):
    run = deploy(cluster, "technology.cbi", "--push", env={"FLEET_JENKINS_USER": None, "FLEET_JENKINS_TOKEN": None})
    assert run.code == 1, run.all
    assert "error: --push: no Jenkins credentials for the reload push" in run.err
    assert all(m == "GET" for m, _ in cluster.double("okd-c1").log)
