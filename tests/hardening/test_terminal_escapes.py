"""No control character from outside reaches the terminal raw (generator.errors.printable, one mechanism).

Text from outside: instance values (a display name with an escape sequence passes validation: it is a
display name), and a controller's answers (headers, /check messages, exported values, the quiet-down
reason). Each output path that shows them is run: `fleet explain`, `fleet diff`, `fleet check` and its
Markdown summary, `fleet push` (warnings, reasons, diffs, table, report) and `fleet status` (table, JSON).
"""

from __future__ import annotations

import json
import os
import shutil

from faultfleet import ENV_TOKEN, Scenario, admin_users, build_fleet
from fleettest import SAMPLE_INSTANCES, fleet_in_process, git
from jenkins_double import Fault, JenkinsDouble, plugins_for
from push_helpers import jcasc, model, run_fleet, write_build

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"  # title, clear screen, C1 CSI, bidi override
RAW = ("\x1b", "\x07", "\x9b", "\u202e")
SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202e"
SHOWN_QUOTED = "\\u001b]0;owned\\u0007\\u001b[2J\\x9b31m\\u202e"  # inside a JSON-quoted value of a diff


def assert_escaped(text: str, what: str) -> None:
    assert not [c for c in RAW if c in text], f"{what}: raw control characters in {text!r}"


def strings(data) -> set[str]:
    if isinstance(data, dict):
        return set().union(*(strings(v) for v in data.values())) if data else set()
    if isinstance(data, list):
        return set().union(*(strings(v) for v in data)) if data else set()
    return {data} if isinstance(data, str) else set()


def fleet_repo(tmp_path):
    """A git repository with fleet.yaml and one instance, committed on main."""
    repo = tmp_path / "repo"
    (repo / "instances").mkdir(parents=True)
    shutil.copy(os.path.join(SAMPLE_INSTANCES, "fleet.yaml"), repo / "instances" / "fleet.yaml")
    shutil.copytree(os.path.join(SAMPLE_INSTANCES, "technology.cbi"), repo / "instances" / "technology.cbi")
    shutil.copytree(os.path.join(SAMPLE_INSTANCES, "catalogs"), repo / "instances" / "catalogs")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    path = repo / "instances" / "technology.cbi" / "instance.yaml"
    text = path.read_text()
    assert "displayName: Eclipse CBI" in text
    path.write_text(text.replace("displayName: Eclipse CBI",
                                 "displayName: " + json.dumps("Eclipse CBI " + HOSTILE, ensure_ascii=True), 1))
    return repo


def test_instance_values_are_escaped_in_explain_diff_and_the_summary(tmp_path):
    repo = fleet_repo(tmp_path)
    explained = fleet_in_process(["--instances", "instances", "explain", "technology.cbi"], repo)
    assert explained.code == 0, explained.stderr
    assert_escaped(explained.stdout, "explain")
    [line] = [ln for ln in explained.stdout.splitlines() if ln.lstrip().startswith("project.displayName ")]
    assert f"Eclipse CBI {SHOWN}  <- instance file" in line
    as_json = fleet_in_process(["--instances", "instances", "explain", "technology.cbi", "--format", "json"], repo)
    assert_escaped(as_json.stdout, "explain --format json")
    assert "Eclipse CBI " + HOSTILE in strings(json.loads(as_json.stdout))  # the escapes decode to the value

    diffed = fleet_in_process(["--instances", "instances", "diff", "--base", "main", "-j", "1"], repo)
    assert diffed.code == 0, diffed.stderr
    assert_escaped(diffed.stdout, "diff")
    assert ('~ jenkins.systemMessage: "Welcome to the Eclipse CBI Jenkins instance." -> "Welcome to the Eclipse CBI '
            f'{SHOWN_QUOTED} Jenkins instance."') in diffed.stdout
    diff_json = fleet_in_process(["--instances", "instances", "diff", "--base", "main", "-j", "1", "--format", "json"],
                                 repo)
    assert_escaped(diff_json.stdout, "diff --format json")
    values = [f["new"] for o in json.loads(diff_json.stdout)["instances"][0]["objects"] for f in o["fields"]]
    assert "Eclipse CBI " + HOSTILE in values  # the JSON escapes decode to the very value

    checked = fleet_in_process(["--instances", "instances", "check", "--base", "main", "-j", "1", "--summary-md",
                                "summary.md"], repo)
    assert checked.code == 0, checked.stderr
    assert_escaped(checked.stdout + checked.stderr, "check")
    summary = (repo / "summary.md").read_text()
    assert_escaped(summary, "check --summary-md")
    assert SHOWN_QUOTED in summary


def test_controller_answers_are_escaped_in_push_and_status(tmp_path, serve):
    message = json.dumps([{"line": 3, "message": "deprecated " + HOSTILE}]).encode()
    scenarios = [
        Scenario("technology.warns", [Fault("answer", path="/configuration-as-code/check", body=message)]),
        Scenario("technology.denies", [Fault("answer", path="/pluginManager", status=403, body=b"denied",
                                             headers=(("X-You-Are-Authenticated-As", "ad" + HOSTILE[:-1]),
                                                      ("X-Required-Permission", "hudson.model.Hudson.SystemRead")))]),
    ]
    fleet = build_fleet(str(tmp_path), scenarios, serve)
    exported = fleet.doubles["technology.warns"]
    exported.live["jenkins"]["systemMessage"] = "live " + HOSTILE  # shown as the old value of the diff
    exported.quieting_down, exported.quiet_down_reason = True, "upgrade " + HOSTILE
    run = run_fleet(["push", "--targets", fleet.targets, "--credentials", fleet.credentials, "--report",
                     "report.json"], cwd=fleet.root, token=ENV_TOKEN)
    assert run.code == 3, run.all
    assert_escaped(run.all, "push")
    assert f"jenkins.yaml:3:1: warning: deprecated {SHOWN}" in run.err
    assert f"~ jenkins.systemMessage: \"live {SHOWN_QUOTED}\" -> \"pushed to technology.warns\"" in run.out
    assert "403 Forbidden: user 'ad\\x1b]0;owned\\x07\\x1b[2J\\x9b31m' lacks Overall/SystemRead" in run.err
    status = run_fleet(["status", "--targets", fleet.targets, "--credentials", fleet.credentials], cwd=fleet.root,
                       token=ENV_TOKEN)
    assert_escaped(status.all, "status")
    assert f"quieting down: upgrade {SHOWN}" in status.out
    as_json = run_fleet(["status", "--targets", fleet.targets, "--credentials", fleet.credentials, "--format",
                         "json"], cwd=fleet.root, token=ENV_TOKEN)
    assert_escaped(as_json.out, "status --format json")
    rows = {c["name"]: c for c in json.loads(as_json.out)["controllers"]}
    assert "quieting down: upgrade " + HOSTILE + " (no new builds start)" in rows["technology.warns"]["warnings"]


def test_a_single_controller_push_escapes_its_url_reason(tmp_path, serve):
    double = JenkinsDouble(name="x", users=admin_users(), plugins=plugins_for(["configuration-as-code"]))
    double.inject(Fault("answer", path="/me/api/json", status=418, body=("teapot " + HOSTILE).encode(),
                        content_type="text/plain;charset=utf-8"))
    server = serve({"/x": double})
    write_build(str(tmp_path / "build"), {"technology.x": (jcasc("x"), model("technology.x"))})
    run = run_fleet(["push", "--url", server.url("/x")], cwd=str(tmp_path), token=ENV_TOKEN)
    assert run.code == 3
    assert_escaped(run.all, "push")
    assert f"whoami: GET /me/api/json: 418 I'm a Teapot: teapot {SHOWN}" in run.err
