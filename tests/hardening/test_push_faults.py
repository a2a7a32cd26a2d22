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
import time

import pytest
from faultfleet import (
    ENV_TOKEN,
    FATAL,
    FILE_TOKEN,
    MALFORMED,
    PLUGIN_AS_LIST,
    TRANSIENT,
    Scenario,
    admin_users,
    build_fleet,
    check_report,
)
from jenkins_double import Fault, JenkinsDouble, plugins_for
from jenkins_double.controller import LogEntry, Response
from push_helpers import jcasc, model, run_fleet, write_build


def push(fleet, *extra, timeout: str = "2"):  # 2 s: margin for a loaded machine; the slow double takes 8
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
    # an export quoting our credentials is shown without them
    assert '~ jenkins.systemMessage: "Basic (redacted) or (redacted)" -> "pushed to technology.echoexport"' in run.out
    # the storm was retried, with backoff, exactly up to the bound
    assert [e.status for e in fleet.doubles["technology.storm"].requests("/configuration-as-code/check")] == \
        [502, 503, 504, 502]
    # a slow answer is not retried: the request may have had an effect
    assert len(fleet.doubles["technology.slow"].requests("/configuration-as-code/check")) == 1
    # the lost apply: applied once, then the verify saw the restart undo it
    lost = fleet.doubles["technology.lostapply"]
    assert [e.status for e in lost.requests("/configuration-as-code/configure")] == [200]
    assert lost.exported()["jenkins"].get("systemMessage") != "pushed to technology.lostapply"


def test_malformed_answers_fail_only_their_controller(tmp_path, serve):
    """Wrong types, a crumb without its field, a 5,000-digit line number, 100,000 nested brackets, an alias
    bomb, an endless body (declared or not), an answer trickling in byte by byte, /check answers that are not
    check results: exit 3, every controller in the summary and the report, the healthy one applied."""
    fleet = build_fleet(str(tmp_path), MALFORMED, serve)
    started = time.monotonic()
    run = push(fleet)
    assert run.code == 3, run.all
    assert time.monotonic() - started < 60  # the trickle alone would take 200 s; the bomb, minutes
    assert "Traceback" not in run.all and "internal error" not in run.all
    data = report(fleet)
    check_report(data, MALFORMED, fleet)
    assert data["counts"] == {"applied": 1, "failed": len(MALFORMED) - 1, "skipped": 0, "unchanged": 0}
    assert f"{len(MALFORMED)} controllers: 1 applied, {len(MALFORMED) - 1} failed" in run.err
    assert fleet.doubles["technology.healthy"].exported()["jenkins"]["systemMessage"] == "pushed to technology.healthy"


STATUS_MALFORMED = [  # (controller, faults, state, reason)
    ("technology.types", [Fault("answer", path="/api/json", body=b'{"quietingDown": "no"}')], "failed",
     ("GET /api/json did not describe a Jenkins controller: the controller: 'quietingDown' is a text, not true or "
     "false")),
    ("technology.queue", [Fault("answer", path="/queue/api/json", body=b'{"items": {"id": 1}}')], "failed",
     "queue: GET /queue/api/json answered unexpected content: the queue: 'items' is an object, not a list"),
    ("technology.executors", [Fault("answer", path="/computer/api/json",
                                    body=b'{"busyExecutors": -3, "totalExecutors": 2, "computer": []}')],
     "failed", ("executors: GET /computer/api/json answered unexpected content: busyExecutors: -3 is not a count of "
               "executors")),
    ("technology.plugins", [Fault("answer", path="/pluginManager", body=PLUGIN_AS_LIST)], "partial",
     ("plugins unknown: GET /pluginManager/api/json answered unexpected content: plugin 1: 'shortName' is a list, "
     "not a text")),
    ("technology.flood", [Fault("flood", path="/queue/api/json")], "failed",
     "queue: GET /queue/api/json: the answer is larger than 8 MiB: not read"),
    ("technology.trickle", [Fault("trickle", path="/pluginManager", seconds=0.2)], "partial",
     "plugins unknown: GET /pluginManager/api/json: no complete answer within 2 s"),
    ("technology.healthy", [], "ok", ""),
]


def test_status_reads_every_controller_whatever_they_answer(tmp_path, serve):
    fleet = build_fleet(str(tmp_path), [Scenario(name, faults) for name, faults, _, _ in STATUS_MALFORMED], serve)
    run = run_fleet(["status", "--targets", fleet.targets, "--credentials", fleet.credentials, "--format", "json",
                     "--timeout", "2"], cwd=fleet.root, token=ENV_TOKEN, timeout=120)
    assert run.code == 3, run.all
    assert "Traceback" not in run.all
    rows = {c["name"]: c for c in json.loads(run.out)["controllers"]}
    assert sorted(rows) == sorted(name for name, *_ in STATUS_MALFORMED)
    for name, _, state, reason in STATUS_MALFORMED:
        assert (rows[name]["state"], rows[name]["reason"]) == (state, reason), name


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
        posted = [e.path for e in double.log
                  if e.method == "POST" and "/check" not in e.path and "/export" not in e.path]
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


def test_a_redirect_to_another_origin_is_never_followed(tmp_path, serve):
    """A 307 of /check (or of a GET) to another host: not followed, so neither the Authorization header nor
    JENKINS_API_EXTRA_HEADERS reach it; the check fails; nothing is applied. The extra header's value is
    not logged either (python-jenkins logs it), only its name, once."""
    elsewhere = JenkinsDouble(name="elsewhere", users=admin_users(), plugins=plugins_for(["configuration-as-code"]))
    other = serve({"/x": elsewhere})  # another port: another origin
    double = JenkinsDouble(name="redirect", users=admin_users(), plugins=plugins_for(["configuration-as-code"]))
    double.inject(Fault("redirect", path="/configuration-as-code/check", times=-1,
                        location=other.url("/x") + "configuration-as-code/check"))
    server = serve({"/r": double})
    write_build(str(tmp_path / "build"), {"technology.r": (jcasc("redirected"), model("technology.r"))})
    extra = {"JENKINS_API_EXTRA_HEADERS": f"X-Proxy-Token: {FILE_TOKEN}\nX-Team: fleet"}
    run = run_fleet(["push", "--url", server.url("/r"), "--report", "report.json"], cwd=str(tmp_path),
                    token=ENV_TOKEN, env=extra)
    assert run.code == 3, run.all
    assert FILE_TOKEN not in run.all
    assert run.err.count("JENKINS_API_EXTRA_HEADERS adds the headers X-Proxy-Token, X-Team to every request (values "
                         "not shown; never sent to another host)") == 1
    with open(tmp_path / "report.json", encoding="utf-8") as fh:
        (entry,) = json.load(fh)["controllers"]
    assert (entry["outcome"], entry["step"]) == ("failed", "check")
    assert entry["reason"] == (f"check: POST /configuration-as-code/check was redirected to another origin "
                               f"(http://127.0.0.1:{other.port}): not followed (credentials are never sent to another "
                               "host; is the controller URL right?)")
    assert elsewhere.log == [] and double.requests("/configuration-as-code/configure") == []
    double.faults.clear()
    double.inject(Fault("redirect", path="/me/api/json", location=other.url("/x") + "me/api/json"))
    run = run_fleet(["push", "--url", server.url("/r")], cwd=str(tmp_path), token=ENV_TOKEN, env=extra)
    assert run.code == 3 and "whoami: GET /me/api/json was redirected to another origin" in run.err
    assert elsewhere.log == []
