"""`fleet push` against misbehaving controllers, a whole fleet at once (the Jenkins double's faults).

tests/push covers single faults one at a time (a 502+504 burst, refused connections, an expired
crumb refetched once, a restart answered by 503s, a slow export, HTML and malformed JSON in the
whoami/plugins steps).  Here every fault of the list sits on its own controller of one fleet,
including at the check step, where a transport failure must never read as "no errors":

    refused, reset mid-response, dropped, slower than --timeout, 500, a 502/503/504 storm,
    malformed JSON and a login page where /check answers JSON, HTML where /export answers YAML,
    a rejected token, a crumb that keeps expiring, a controller that never comes back, and one
    that restarts between the apply and the verify (losing the apply).

Each must end with its own outcome, step and reason; nothing is ever applied after a failed
step before the apply (asserted on each double's request log); the healthy controller next to
them is applied; the exit code is 3.  The transient versions of these faults (one reset, one
dropped POST, a burst of 5xx, one expired crumb, a restart during the apply) are retried and
every controller ends applied, exit 0.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from faultfleet import (
    ENV_TOKEN,
    FATAL,
    TRANSIENT,
    admin_users,
    build_fleet,
    check_report,
)
from jenkins_double import JenkinsDouble, plugins_for
from jenkins_double.controller import LogEntry, Response
from push_helpers import jcasc, model, run_fleet, write_build


def push(fleet, *extra, timeout: str = "3"):  # 3 s: margin for a loaded machine; the slow double takes 8
    return run_fleet(["push", "--targets", fleet.targets, "--credentials", fleet.credentials,
                      "--report", "report.json", "--timeout", timeout, "--jobs", "16", *extra],
                     cwd=fleet.root, token=ENV_TOKEN, timeout=120)


def report(fleet) -> dict:
    with open(os.path.join(fleet.root, "report.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_each_fault_fails_only_its_controller_and_nothing_is_applied_after_it(tmp_path, serve):
    fleet = build_fleet(str(tmp_path), FATAL, serve)
    run = push(fleet)
    assert run.code == 3, run.all
    data = report(fleet)
    check_report(data, FATAL, fleet)
    failed = [s for s in FATAL if s.outcome == "failed"]
    assert data["counts"] == {"applied": 1, "failed": len(failed), "skipped": 0, "unchanged": 0}
    assert data["ok"] is False and data["interrupted"] is False
    for s in failed:
        assert f"{s.name}: error: {s.step}: " in run.err, s.name
    assert f"{len(FATAL)} controllers: 1 applied, {len(failed)} failed" in run.err
    assert "Traceback" not in run.all
    healthy = fleet.doubles["technology.healthy"]
    assert healthy.exported()["jenkins"]["systemMessage"] == "pushed to technology.healthy"
    # the storm was retried, with backoff, exactly up to the bound
    assert [e.status for e in fleet.doubles["technology.storm"].requests("/configuration-as-code/check")] == \
        [502, 503, 504, 502]
    # a slow answer is not retried: the request may have had an effect
    assert len(fleet.doubles["technology.slow"].requests("/configuration-as-code/check")) == 1
    # the lost apply: applied once, then the verify saw the restart undo it
    lost = fleet.doubles["technology.lostapply"]
    assert [e.status for e in lost.requests("/configuration-as-code/configure")] == [200]
    assert lost.exported()["jenkins"].get("systemMessage") != "pushed to technology.lostapply"


def test_transient_faults_are_retried_and_every_controller_is_applied(tmp_path, serve):
    fleet = build_fleet(str(tmp_path), TRANSIENT, serve)
    run = push(fleet, timeout="10")
    assert run.code == 0, run.all
    data = report(fleet)
    check_report(data, TRANSIENT, fleet)
    assert data["counts"]["applied"] == len(TRANSIENT) and data["ok"] is True
    for s in TRANSIENT:
        assert fleet.doubles[s.name].exported()["jenkins"]["systemMessage"] == f"pushed to {s.name}", s.name
    assert [e.status for e in fleet.doubles["technology.blips"].log if e.path == "/me/api/json"] == [503, 200]
    assert [e.status for e in fleet.doubles["technology.droponce"].requests("/configuration-as-code/configure")] \
        == [0, 200]  # dropped before Jenkins saw it, then sent again
    statuses = [e.status for e in fleet.doubles["technology.restart"].requests("/configuration-as-code/configure")]
    assert statuses[:2] == [503, 503] and statuses[-1] == 200 and 403 in statuses  # restart, then a fresh crumb
    second = push(fleet, timeout="10")  # everything landed: nothing left to change
    assert second.code == 0, second.all
    assert {c["outcome"] for c in report(fleet)["controllers"]} == {"unchanged"}


def test_a_dry_run_against_the_faulty_fleet_changes_nothing(tmp_path, serve):
    fleet = build_fleet(str(tmp_path), FATAL, serve)
    run = push(fleet, "--dry-run")
    assert run.code == 3, run.all  # the failures are still failures
    data = report(fleet)
    assert data["dryRun"] is True
    entries = {c["name"]: c for c in data["controllers"]}
    assert entries["technology.healthy"]["outcome"] == "skipped"
    assert entries["technology.lostapply"]["outcome"] == "skipped"  # dry run: never reaches apply
    for name, double in fleet.doubles.items():
        posted = [e.path for e in double.log if e.method == "POST" and "/check" not in e.path and "/export" not in e.path]
        assert posted == [], f"{name}: {posted}"


# --- answers no Jenkins gives: an empty 200 or a 400 without its error list ----------------------

class OddAnswers(JenkinsDouble):
    """The double, with one endpoint answering what a proxy or a WAF might instead of Jenkins."""

    def __init__(self, *, path: str, status: int, body: bytes, **kw):
        super().__init__(**kw)
        self.odd = (path, status, body)

    def handle(self, req):
        path, status, body = self.odd
        if req.path.rstrip("/") == path and req.method == "POST":
            resp = Response(status, body, [("Content-Type", "text/plain;charset=utf-8"), ("X-Jenkins", self.version)])
            with self._lock:
                self.log.append(LogEntry(req.method, req.path, status, "admin", "token"))
            return resp
        return super().handle(req)


ODD = {
    "empty check": ("/configuration-as-code/check", 200, b"", "check", "answered an empty body"),
    "400 check, empty": ("/configuration-as-code/check", 400, b"", "check",
                         r"check: Jenkins rejected the generated configuration \(1 error; jenkins.yaml: 400 "),
    "400 check, []": ("/configuration-as-code/check", 400, b"[]", "check",
                      r"check: Jenkins rejected the generated configuration \(1 error; jenkins.yaml: 400 "),
    "400 configure, empty": ("/configuration-as-code/configure", 400, b"", "apply",
                             r"apply: /configure failed: 400 "),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_an_answer_that_is_not_a_check_result_never_counts_as_a_passed_check(tmp_path, serve, case):
    path, status, body, step, reason = ODD[case]
    double = OddAnswers(path=path, status=status, body=body, name="odd", users=admin_users(),
                        plugins=plugins_for(["configuration-as-code"]))
    server = serve({"/odd": double})
    write_build(str(tmp_path / "build"), {"technology.odd": (jcasc("odd"), model("technology.odd"))})
    run = run_fleet(["push", "--url", server.url("/odd"), "--report", "report.json"], cwd=str(tmp_path),
                    token=ENV_TOKEN)
    assert run.code == 3, run.all
    with open(tmp_path / "report.json", encoding="utf-8") as fh:
        (entry,) = json.load(fh)["controllers"]
    assert (entry["outcome"], entry["step"]) == ("failed", step), entry
    assert re.search(reason, entry["reason"]), entry["reason"]
    if step == "check":
        assert double.requests("/configuration-as-code/configure") == []
        assert double.requests("/configuration-as-code/apply") == []
