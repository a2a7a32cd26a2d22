"""`fleet status` end to end: generate a fleet, serve its controllers with the Jenkins double, ask them.

One controller per situation (tests/monitoring/fleets/status): saturated (every slot busy,
builds waiting), busy but with free capacity and quieting down, idle with plugin drift and
another Jenkins version, unreachable (nothing listens), 403 on everything (a user without
Overall/Read), 403 on the plugins only (a reader), and one that answers too late. URLs come
from a targets file and credentials from a 0600 credentials file, as for `fleet push`.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner
from jenkins_double import (
    Fault,
    JenkinsDouble,
    User,
    agent_pods,
    builtin_node,
    closed_port_url,
    default_users,
    plugins_for,
    queue_item,
)
from jenkins_double.load import ComputerEntry
from monitoringtest import HERE, generate_tree

from generator.cli import cli
from generator.cli.status import table_rows
from generator.status import FleetStatus, Status, format_duration

FLEET = os.path.join(HERE, "fleets", "status", "instances")
ADMIN = default_users()["admin"]
READER = default_users()["reader"]
NOBODY = User("nobody", "nobody-password", "anonymous", ("11ee0000000000000000000000000000aa",), "No rights")
PLUGINS = ["configuration-as-code", "kubernetes", "git", "ldap", "matrix-auth", "theme-manager", "dark-theme",
           "prometheus"]  # the base plugins of fleets/status + monitoring


def users():
    out = default_users()
    out["nobody"] = NOBODY
    return out


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("status") / "build"
    generate_tree(FLEET, out)
    return out


@pytest.fixture
def fleet(build, serve, tmp_path):
    """The doubles, the targets and credentials files; returns (run, doubles)."""
    doubles = {
        "saturated": JenkinsDouble(name="saturated", plugins=plugins_for(PLUGINS), users=users()),
        "busy": JenkinsDouble(name="busy", plugins=plugins_for(PLUGINS), users=users()),
        "idle": JenkinsDouble(name="idle", version="2.541.3", plugins=plugins_for([p for p in PLUGINS if p != "git"]),
                              users=users()),
        "locked": JenkinsDouble(name="locked", plugins=plugins_for(PLUGINS), users=users()),
        "reader": JenkinsDouble(name="reader", plugins=plugins_for(PLUGINS), users=users()),
        "slow": JenkinsDouble(name="slow", plugins=plugins_for(PLUGINS), users=users()),
    }
    d = doubles
    d["saturated"].computers = [builtin_node()] + agent_pods(2)
    d["saturated"].queue = [queue_item("app/main", waited=905), queue_item(None, waited=300),
                            queue_item("docs", waited=61)]
    d["busy"].computers = [builtin_node()] + agent_pods(3) + [ComputerEntry("mac", "static", 2, busy=1)]
    d["busy"].queue = [queue_item("nightly", waited=42, label="macos")]
    d["busy"].quieting_down, d["busy"].quiet_down_reason = True, "upgrade at 18:00"
    d["reader"].computers = [builtin_node()] + agent_pods(1, busy=0)
    d["slow"].inject(Fault("delay", path="/api/json", seconds=8))  # well past --timeout 2, even on a loaded machine
    server = serve({f"/{k}": v for k, v in doubles.items()})
    targets = tmp_path / "targets.yaml"
    targets.write_text(f"clusters:\n  main:\n    url: \"http://127.0.0.1:{server.port}{{prefix}}\"\n"
                       f"instances:\n  ci.down:\n    url: \"{closed_port_url()}\"\n")
    credentials = tmp_path / "credentials.ini"
    credentials.write_text(f"[default]\nuser = admin\ntoken = {ADMIN.tokens[0]}\n\n"
                           f"[instance:ci.locked]\nuser = nobody\ntoken = {NOBODY.tokens[0]}\n\n"
                           f"[instance:ci.reader]\nuser = reader\ntoken = {READER.tokens[0]}\n")
    credentials.chmod(0o600)

    def run(*args):
        env = {k: None for k in os.environ if k.startswith("FLEET_")}
        env.update({"NO_COLOR": "1", "COLUMNS": "250"})
        result = CliRunner().invoke(cli, ["--instances", FLEET, "status", "--build", str(build), "--targets",
                                          str(targets), "--credentials", str(credentials), "--timeout", "2",
                                          *args], env=env, catch_exceptions=False)
        for secret in (ADMIN.tokens[0], NOBODY.tokens[0], READER.tokens[0]):
            assert secret not in result.stdout + result.stderr
        return result

    return run, doubles


def test_json_report(fleet):
    run, doubles = fleet
    result = run("--format", "json")
    assert result.exit_code == 3, result.stderr  # ci.down, ci.locked and ci.slow could not be read
    report = json.loads(result.stdout)
    rows = {c["name"]: c for c in report["controllers"]}
    assert sorted(rows) == ["ci.busy", "ci.down", "ci.idle", "ci.locked", "ci.reader", "ci.saturated", "ci.slow"]
    assert report["counts"] == {"ok": 3, "partial": 1, "failed": 1, "unreachable": 2}
    assert report["ok"] is False and report["saturated"] == ["ci.saturated"]

    sat = rows["ci.saturated"]
    assert sat["state"] == "ok" and sat["reachable"] is True and sat["saturated"] is True
    assert sat["jenkinsVersion"] == "2.555.2" and sat["quietingDown"] is False
    assert sat["builds"] == {"running": 2, "maxConcurrency": 2, "staticExecutors": 0, "capacity": 2,
                             "cloudAgents": 2}
    assert sat["queue"]["length"] == 3
    assert 903 <= sat["queue"]["longestWaitSeconds"] <= 907  # by the controller's clock (Date header)
    assert sat["queue"]["oldest"]["task"] == "app/main"
    assert sat["queue"]["oldest"]["why"] == "Waiting for next available executor on \u2018basic\u2019"
    assert [i["task"] for i in sat["queue"]["items"]] == ["app/main", "(pipeline node block)", "docs"]
    assert sat["plugins"]["drift"] == "ok" and sat["plugins"]["missing"] == []
    assert sat["reason"].startswith("saturated: 2 builds running (cap 2), 3 waiting up to 15m0")

    busy = rows["ci.busy"]
    assert busy["builds"] == {"running": 4, "maxConcurrency": 4, "staticExecutors": 2, "capacity": 6,
                              "cloudAgents": 3}
    assert busy["saturated"] is False and busy["queue"]["length"] == 1 and busy["quietingDown"] is True
    assert "quieting down: upgrade at 18:00 (no new builds start)" in busy["warnings"]

    idle = rows["ci.idle"]
    assert idle["state"] == "ok" and idle["saturated"] is False and idle["queue"]["length"] == 0
    assert idle["plugins"]["drift"] == "1 missing" and idle["plugins"]["missing"] == ["git"]
    assert idle["jenkinsVersion"] == "2.541.3" and idle["expectedVersion"] == "2.555.2"
    assert "runs Jenkins 2.541.3, the instance expects 2.555.2" in idle["warnings"]

    down = rows["ci.down"]
    assert down["state"] == "unreachable" and down["reachable"] is False
    assert down["reason"] == "GET /api/json: connection refused (after 2 attempts)"
    assert down["builds"]["running"] is None and down["queue"] is None and down["saturated"] is None

    locked = rows["ci.locked"]
    assert locked["state"] == "failed" and locked["reachable"] is True
    assert locked["reason"] == ("GET /api/json: 403 Forbidden: user 'nobody' lacks Overall/Read "
                                "(hudson.model.Hudson.Read)")

    reader = rows["ci.reader"]
    assert reader["state"] == "partial" and reader["plugins"] is None
    assert reader["builds"]["running"] == 0 and reader["builds"]["cloudAgents"] == 1
    assert "lacks Overall/SystemRead" in reader["reason"]
    assert "the status user needs Overall/SystemRead" in reader["reason"]

    slow = rows["ci.slow"]
    assert slow["state"] == "unreachable" and slow["reason"] == "GET /api/json: no complete answer within 2 s"

    # read-only: GETs only, no crumb, four requests for a controller that answers everything
    for double in doubles.values():
        assert {e.method for e in double.log} <= {"GET"}
        assert not double.requests("/crumbIssuer")
    assert [e.path for e in doubles["saturated"].log] == ["/api/json", "/queue/api/json", "/computer/api/json",
                                                          "/pluginManager/api/json"]
    assert sat["requests"] == 4


def test_table(fleet):
    run, _ = fleet
    result = run("ci.saturated", "ci.busy", "ci.idle", "ci.down")
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["instance", "state", "version", "quiet", "running", "queue", "wait", "plugins",
                                "saturated", "reason"]
    line = {ln.split()[0]: ln for ln in lines[1:]}
    assert re.match(r"ci\.saturated\s+ok\s+2\.555\.2\s+no\s+2/2\s+3\s+15m0\ds\s+ok\s+SATURATED\s+saturated: ",
                    line["ci.saturated"]), line["ci.saturated"]
    assert re.match(r"ci\.busy\s+ok\s+2\.555\.2\s+yes\s+4/6\s+1\s+4[123]s\s+ok\s+no\s+quieting down", line["ci.busy"])
    assert re.match(r"ci\.idle\s+ok\s+2\.541\.3\*\s+no\s+0/2\s+0\s+-\s+1 missing\s+no\s+runs Jenkins 2\.541\.3",
                    line["ci.idle"])
    assert re.match(r"ci\.down\s+unreachable\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+GET /api/json: connection refused",
                    line["ci.down"])
    assert "4 controllers: 3 ok, 1 unreachable; 1 saturated" in result.stderr


def test_exit_zero_when_every_controller_answers(fleet):
    run, _ = fleet
    result = run("ci.saturated", "ci.reader", "--format", "json")
    assert result.exit_code == 0, result.stderr  # a partial answer (plugins unknown) is still an answer
    assert json.loads(result.stdout)["ok"] is True


def test_a_403_alone_exits_3(fleet):
    run, _ = fleet
    result = run("ci.locked")
    assert result.exit_code == 3
    assert "403 Forbidden: user 'nobody' lacks Overall/Read" in result.stdout


def test_inputs_are_checked_like_push(fleet, build, tmp_path):
    run, _ = fleet
    assert run("no.such").exit_code == 1
    usage = run("ci.*", "--url", "http://127.0.0.1:1/")
    assert usage.exit_code == 2 and "--url needs exactly one instance" in usage.stderr
    loose = tmp_path / "loose.ini"
    loose.write_text("[default]\nuser = a\ntoken = b\n")
    loose.chmod(0o644)
    refused = CliRunner().invoke(cli, ["--instances", FLEET, "status", "--build", str(build), "--credentials",
                                       str(loose)], catch_exceptions=False)
    assert refused.exit_code == 1 and "others can read it, refused" in refused.stderr
    no_build = CliRunner().invoke(cli, ["status", "--build", str(tmp_path / "nothing")], catch_exceptions=False)
    assert no_build.exit_code == 1 and "run 'fleet generate' first" in no_build.stderr


# --- units ----------------------------------------------------------------------------------------

def test_saturation_needs_a_full_house_and_a_queue():
    def status(running, static, queue):
        s = Status("x", "u", "c", max_concurrency=4, running=running, static_executors=static, queue=[])
        s.queue = [object()] * queue
        return s
    assert status(4, 0, 1).saturated is True
    assert status(4, 0, 0).saturated is False  # full but nothing waits
    assert status(3, 0, 5).saturated is False  # a slot is free: the cloud is starting an agent
    assert status(5, 2, 2).saturated is False and status(6, 2, 2).saturated is True  # permanent agents count
    assert Status("x", "u", "c", max_concurrency=4).saturated is None  # unknown


def test_format_duration():
    assert [format_duration(s) for s in (None, 0, 59.6, 61, 3599, 3600, 7325)] == \
        ["-", "0s", "1m00s", "1m01s", "59m59s", "1h00m", "2h02m"]


def test_table_rows_for_an_unreachable_controller():
    rows = table_rows(FleetStatus([Status("a.b", "u", "c", 2, reason="GET /api/json: host not found")], 0.1))
    assert rows == [("a.b", "unreachable", "-", "-", "-", "-", "-", "-", "-", "GET /api/json: host not found")]
