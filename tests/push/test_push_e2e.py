"""`fleet push` end to end: the CLI against the Jenkins double (and a real Jenkins when set).

The CLI runs in this process through click's runner (no interpreter start-up per run); the tests
about what a whole process prints (--debug tracebacks, Ctrl-C) run it in a fresh interpreter.

Tests taking `jenkins_target` run against the double and, when FLEET_TEST_JENKINS_URL
and friends are set, a real controller.  Tests named `..._double_only` need the
double's fault injection or its users and state, so they never touch a real Jenkins.
Every CLI run asserts that the API token is absent from stdout and stderr
(conftest.run_fleet).
"""

from __future__ import annotations

import json
import os
import re

from jenkins_double import CASC_OLD, Fault, JenkinsDouble, plugin_entry, plugins_for
from push_helpers import MARKER, VERSION, jcasc, model, table, users, write_build

NAME = "technology.e2e"


def one_build(tmp_path, text: str, **model_kw) -> str:
    return write_build(str(tmp_path / "build"), {NAME: (text, model(NAME, **model_kw))})


def report_of(tmp_path) -> dict:
    with open(tmp_path / "report.json") as fh:
        text = fh.read()
    assert MARKER not in text
    return json.loads(text)


def controller(report: dict, name: str = NAME) -> dict:
    return next(c for c in report["controllers"] if c["name"] == name)


def push(fleet, target, *args, token=None, user=None):
    return fleet("push", NAME, "--url", target.url, "--report", "report.json", "--timeout", "10", *args,
                 user=user or target.user, token=token or target.token)


# --- against the double and a real Jenkins --------------------------------------------------------

def test_first_push_applies_and_second_push_is_unchanged(tmp_path, fleet, jenkins_target, unique):
    one_build(tmp_path, jcasc(unique))
    first = push(fleet, jenkins_target)
    assert first.code == 0, first.all
    assert table(first.out) == {NAME: "applied"}
    assert "jenkins.systemMessage: " in first.out and unique in first.out
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "applied" and entry["ok"] is True and entry["step"] == "verify"
    assert entry["endpoint"] in ("configure", "apply")
    assert {"kind": "changed" if entry["changes"][0]["kind"] == "changed" else "added",
            "path": "jenkins.systemMessage", "new": unique} .items() <= entry["changes"][0].items()

    second = push(fleet, jenkins_target)
    assert second.code == 0, second.all
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "unchanged" and entry["changes"] == [] and entry["endpoint"] == ""
    if jenkins_target.double:
        double = jenkins_target.double
        assert double.exported()["jenkins"]["systemMessage"] == unique
        assert len(double.requests("/configuration-as-code/configure", "POST")) == 1  # only the first push
        assert entry["requests"] == 4  # me, plugins, check, export: an API token's POSTs need no crumb
        assert double.requests("/crumbIssuer/api/json") == []


def test_dry_run_shows_the_diff_and_changes_nothing(tmp_path, fleet, jenkins_target, unique):
    one_build(tmp_path, jcasc(unique))
    run = push(fleet, jenkins_target, "--dry-run")
    assert run.code == 0, run.all
    assert f"{NAME} ({jenkins_target.url}): 1 key would change" in run.out
    assert unique in run.out
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "skipped" and entry["reason"].startswith("dry run: 1 change not applied")
    again = push(fleet, jenkins_target, "--dry-run")  # still pending: nothing was applied
    assert controller(report_of(tmp_path))["changes"][0]["new"] == unique, again.all
    if jenkins_target.double:
        assert jenkins_target.double.requests("/configuration-as-code/configure") == []
        assert jenkins_target.double.requests("/configuration-as-code/apply") == []
        assert jenkins_target.double.exported()["jenkins"].get("systemMessage") != unique


def test_check_errors_stop_the_controller_with_their_line_numbers(tmp_path, fleet, jenkins_target, unique):
    text = jcasc(unique) + "notAPluginRoot:\n  foo: bar\n"  # line 3 is systemMessage, line 4 the bad root
    one_build(tmp_path, text)
    run = push(fleet, jenkins_target)
    assert run.code == 3, run.all
    path = os.path.join("build", NAME, "jenkins", "jenkins.yaml")
    assert f"{path}:4:1: error: notAPluginRoot: No configurator found for the following root element" in run.err
    assert "  4 | notAPluginRoot:" in run.err
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "failed" and entry["step"] == "check"
    assert entry["checkIssues"][0]["line"] == 4 and entry["changes"] == []
    if jenkins_target.double:
        posted = [r.path for r in jenkins_target.double.log if r.method == "POST"]
        assert posted == ["/configuration-as-code/check"]  # never an export, never an apply


def test_wrong_token_is_a_401_naming_the_user(tmp_path, fleet, jenkins_target, unique):
    one_build(tmp_path, jcasc(unique))
    run = push(fleet, jenkins_target, token="11" + "0" * 32)
    assert run.code == 3, run.all
    assert (f"{NAME}: error: whoami: GET /me/api/json: 401 Unauthorized: Jenkins rejected user "
            f"'{jenkins_target.user}' (wrong user name or API token)") in run.err
    assert controller(report_of(tmp_path))["step"] == "whoami"


# --- double only: roles, drift, reload, faults ------------------------------------------------------

def test_missing_permission_names_user_and_permission_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="perm", users=users())
    server = serve({"/perm": double})
    one_build(tmp_path, jcasc("x"))
    reader = fleet("push", NAME, "--url", server.url("/perm"), user="reader",
                   token="11c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c2")
    assert reader.code == 3
    assert ("plugins: GET /pluginManager/api/json: 403 Forbidden: user 'reader' lacks Overall/SystemRead "
            "(hudson.model.Hudson.SystemRead)") in reader.err
    manager = fleet("push", NAME, "--url", server.url("/perm"), user="manager",
                    token="11b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1")
    assert manager.code == 3
    # the plugin denies with a bare 403 (no X-Required-Permission): the message says what the step needs
    assert ("check: POST /configuration-as-code/check: 403 Forbidden for user 'manager': this request needs "
            "Overall/Administer (hudson.model.Hudson.Administer)") in manager.err
    assert double.requests("/configuration-as-code/configure") == []


def test_version_and_plugin_drift_are_reported_double_only(tmp_path, fleet, serve):
    installed = plugins_for(["configuration-as-code", "git", "jacoco:3.1.0"])
    installed.append(plugin_entry("build-timeout", "1.33"))
    for p in installed:
        if p["shortName"] == "git":
            p["active"] = p["enabled"] = False
    double = JenkinsDouble(name="drift", version="2.541.3", plugins=installed, users=users())
    server = serve({"/drift": double})
    one_build(tmp_path, jcasc("drift"), plugins=["configuration-as-code", "git", "jacoco:3.3.7", "kubernetes"])
    run = fleet("push", NAME, "--url", server.url("/drift"), "--report", "report.json")
    assert run.code == 0, run.all  # drift is reported, not fatal: the configuration still applies
    assert f"{NAME}: warning: runs Jenkins 2.541.3, the instance expects {VERSION}" in run.err
    assert f"{NAME}: warning: plugins missing: kubernetes" in run.err
    assert f"{NAME}: warning: plugins inactive: git" in run.err
    assert f"{NAME}: warning: plugin jacoco 3.1.0 is older than 3.3.7" in run.err
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "applied" and entry["jenkinsVersion"] == "2.541.3"
    assert entry["plugins"] == {"missing": ["kubernetes"], "inactive": ["git"],
                                "outdated": [{"plugin": "jacoco", "installed": "3.1.0", "wanted": "3.3.7"}],
                                "extra": ["build-timeout"]}
    assert entry["reason"] == "1 change via /configure (4 warnings)"


def test_reload_mode_applies_what_the_configmap_holds_double_only(tmp_path, fleet, serve):
    text = jcasc("from the configmap")
    double = JenkinsDouble(name="reload", users=users(), file_source=text.replace("from the configmap", "old"))
    server = serve({"/reload": double})
    one_build(tmp_path, text)
    stale = fleet("push", NAME, "--url", server.url("/reload"), "--reload", "--report", "report.json")
    assert stale.code == 3  # the ConfigMap still holds the old file: reload works, verify does not
    assert "verify: 1 managed key(s) still differ after /reload: jenkins.systemMessage (was the ConfigMap updated?" \
        in stale.err
    double.file_source = text  # `oc apply -k build/<name>/k8s` happened
    run = fleet("push", NAME, "--url", server.url("/reload"), "--reload", "--report", "report.json")
    assert run.code == 0, run.all
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "applied" and entry["endpoint"] == "reload" and entry["mode"] == "reload"
    assert double.requests("/configuration-as-code/configure") == []


def test_reload_quirk_200_error_page_is_a_failure_double_only(tmp_path, fleet, serve):
    broken = "jenkins:\n  systemMesage: typo in the mounted file\n"
    double = JenkinsDouble(name="quirk", users=users(), file_source=broken)
    server = serve({"/quirk": double})
    one_build(tmp_path, jcasc("new"))
    run = fleet("push", NAME, "--url", server.url("/quirk"), "--reload", "--report", "report.json")
    assert run.code == 3, run.all
    assert double.requests("/configuration-as-code/reload")[0].status == 200  # the quirk itself
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "failed" and entry["step"] == "apply"
    assert entry["reason"].startswith("apply: /reload failed: Invalid configuration elements for type: "
                                      "class jenkins.model.Jenkins : systemMesage")


def test_fleet_of_three_one_failing_the_others_apply_double_only(tmp_path, fleet, serve):
    doubles = {p: JenkinsDouble(name=p, users=users()) for p in ("a", "b", "c")}
    doubles["b"].inject(Fault("status", path="/configuration-as-code/check", status=500, times=-1))
    server = serve({f"/{p}": d for p, d in doubles.items()})
    write_build(str(tmp_path / "build"), {
        "technology.a": (jcasc("A"), model("technology.a")),
        "technology.b": (jcasc("B"), model("technology.b")),
        "ee4j.c": (jcasc("C"), model("ee4j.c", cluster="okd-c2")),
    })
    (tmp_path / "targets.yaml").write_text(
        "clusters:\n"
        f"  okd-c1: {{url: 'http://127.0.0.1:{server.port}{{prefix}}'}}\n"
        "instances:\n"
        f"  ee4j.c: {{url: '{server.url('/c')}'}}\n")
    run = fleet("push", "--targets", "targets.yaml", "--report", "report.json", "--jobs", "3")
    assert run.code == 3, run.all
    assert table(run.out) == {"ee4j.c": "applied", "technology.a": "applied", "technology.b": "failed"}
    assert re.search(r"technology\.b: error: check: POST /configuration-as-code/check: 500 Internal Server Error: "
                     r"Jenkins logged the error with ID [0-9a-f-]{36} \(its log has the details; error pages show "
                     r"them only with -Djenkins\.model\.Jenkins\.SHOW_STACK_TRACE=true\)", run.err), run.err
    assert "3 controllers: 2 applied, 1 failed" in run.err
    report = report_of(tmp_path)
    assert report["ok"] is False and report["counts"] == {"applied": 2, "failed": 1, "skipped": 0, "unchanged": 0}
    assert [c["name"] for c in report["controllers"]] == ["ee4j.c", "technology.a", "technology.b"]
    assert controller(report, "ee4j.c")["url"] == server.url("/c")
    assert all(c["durationSeconds"] > 0 for c in report["controllers"])
    assert doubles["a"].exported()["jenkins"]["systemMessage"] == "A"
    assert doubles["c"].exported()["jenkins"]["systemMessage"] == "C"
    assert doubles["b"].requests("/configuration-as-code/configure") == []  # never apply after a failed check


def test_stale_crumb_is_refetched_once_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="crumb", users=users())
    double.inject(Fault("expire_crumbs", path="/configuration-as-code/configure"))
    server = serve({"/crumb": double})
    one_build(tmp_path, jcasc("crumbs"))
    # A password needs a crumb (tokens skip the check): the configure POST meets a dead crumb.
    run = fleet("push", NAME, "--url", server.url("/crumb"), "--report", "report.json", token="admin-password")
    assert run.code == 0, run.all
    configure = [r.status for r in double.requests("/configuration-as-code/configure")]
    assert configure == [403, 200]
    assert len(double.requests("/crumbIssuer/api/json")) == 2


def test_restart_during_push_503s_are_retried_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="restart", users=users(), file_source=jcasc("boot"))
    double.inject(Fault("restart", path="/configuration-as-code/check", restart_requests=2))
    server = serve({"/restart": double})
    one_build(tmp_path, jcasc("after restart"))
    run = fleet("push", NAME, "--url", server.url("/restart"), "--report", "report.json", token="admin-password")
    assert run.code == 0, run.all
    assert [r.status for r in double.requests("/configuration-as-code/check")][:2] == [503, 503]
    entry = controller(report_of(tmp_path))
    assert entry["outcome"] == "applied"
    assert any(w.startswith("the controller restarted during the push (session ") for w in entry["warnings"])


def test_timeout_fails_that_controller_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="slow", users=users())
    # 2 s: the steps before the export must finish within it even on a loaded machine
    double.inject(Fault("delay", path="/configuration-as-code/export", seconds=6))
    server = serve({"/slow": double})
    one_build(tmp_path, jcasc("slow"))
    run = fleet("push", NAME, "--url", server.url("/slow"), "--timeout", "2")
    assert run.code == 3
    assert f"{NAME}: error: diff: POST /configuration-as-code/export: no complete answer within 2 s" in run.err


def test_old_plugin_without_configure_falls_back_to_apply_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="old", users=users(), casc_version=CASC_OLD)
    server = serve({"/old": double})
    one_build(tmp_path, jcasc("old plugin"))
    run = fleet("push", NAME, "--url", server.url("/old"), "--report", "report.json")
    assert run.code == 0, run.all
    assert controller(report_of(tmp_path))["endpoint"] == "apply"
    assert [r.status for r in double.requests("/configuration-as-code/configure")] == [404]
    # old plugins report check errors as a 500 page; on Jenkins 2.224+ it has no details unless stack traces
    # are shown: still an error, saying where the details are
    one_build(tmp_path, jcasc("x") + "bogus: 1\n")
    bad = fleet("push", NAME, "--url", server.url("/old"))
    assert bad.code == 3
    assert re.search(r"jenkins\.yaml: error: rejected without details: configuration-as-code plugins before 1947 "
                     r"report check errors as a 500 page, which Jenkins 2\.224 and later show only in its log "
                     r"\(Logging ID [0-9a-f-]{36}\)", bad.err), bad.err
    assert "check: Jenkins rejected the generated configuration (1 error; jenkins.yaml: rejected without" in bad.err
    double.show_stack_trace = True  # -Djenkins.model.Jenkins.SHOW_STACK_TRACE=true: the message, and its line
    shown = fleet("push", NAME, "--url", server.url("/old"))
    assert "jenkins.yaml:4:1: error: bogus: No configurator found for the following root element: bogus" in shown.err


def test_a_value_with_a_literal_dollar_brace_is_pushed_double_only(tmp_path, fleet, serve):
    """systemMessage "Builds cost ${5} each" is generated as ^${5}: a change like any other, applied, and
    unchanged once it landed (the controller stores the literal and exports it escaped again)."""
    double = JenkinsDouble(name="dollar", users=users())
    server = serve({"/dollar": double})
    one_build(tmp_path, jcasc("Builds cost ^${5} each"))
    first = fleet("push", NAME, "--url", server.url("/dollar"), "--report", "report.json")
    assert first.code == 0, first.all
    assert table(first.out) == {NAME: "applied"}
    assert '+ jenkins.systemMessage: "Builds cost ^${5} each"' in first.out
    assert double.live["jenkins"]["systemMessage"] == "Builds cost ${5} each"
    second = fleet("push", NAME, "--url", server.url("/dollar"), "--report", "report.json")
    assert table(second.out) == {NAME: "unchanged"}
    assert controller(report_of(tmp_path))["notCompared"] == []


def test_verify_mismatch_is_a_failure_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="ignore", users=users())
    double.inject(Fault("ignore_apply"))
    server = serve({"/ignore": double})
    one_build(tmp_path, jcasc("never lands"))
    run = fleet("push", NAME, "--url", server.url("/ignore"))
    assert run.code == 3
    assert "verify: 1 managed key(s) still differ after /configure: jenkins.systemMessage" in run.err


def test_html_and_malformed_json_answers_fail_cleanly_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="proxy", users=users())
    double.inject(Fault("html", path="/me/api/json"))
    server = serve({"/proxy": double})
    one_build(tmp_path, jcasc("x"))
    run = fleet("push", NAME, "--url", server.url("/proxy"))
    assert run.code == 3
    assert ("whoami: GET /me/api/json answered text/html that is not JSON (a login page or a proxy in the way?)"
            in run.err)
    double.inject(Fault("malformed_json", path="/pluginManager/api/json"))
    run = fleet("push", NAME, "--url", server.url("/proxy"))
    assert run.code == 3
    assert "plugins: GET /pluginManager/api/json answered application/json that is not JSON" in run.err


def test_gateway_storm_is_retried_and_refused_connection_is_reported_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="storm", users=users())
    double.inject(Fault("status", path="/pluginManager", status=502, times=1),
                  Fault("status", path="/pluginManager", status=504, times=1))
    server = serve({"/storm": double})
    one_build(tmp_path, jcasc("storm"))
    run = fleet("push", NAME, "--url", server.url("/storm"))
    assert run.code == 0, run.all
    assert [r.status for r in double.requests("/pluginManager")] == [502, 504, 200]
    from jenkins_double import closed_port_url
    refused = fleet("push", NAME, "--url", closed_port_url())
    assert refused.code == 3
    assert f"{NAME}: error: whoami: GET /me/api/json: connection refused (after 4 attempts)" in refused.err


def test_token_never_appears_even_with_debug_double_only(tmp_path, fleet, serve):
    double = JenkinsDouble(name="leak", users=users(), reload_token=MARKER[::-1])
    server = serve({"/leak": double})
    one_build(tmp_path, jcasc("x") + "bogus: 1\n")
    scenarios = [
        {"token": MARKER},  # works until the check fails
        {"token": MARKER[:-1] + "0"},  # 401
        {"token": MARKER, "user": "nobody"},  # 401 for an unknown user
    ]
    for kw in scenarios:
        run = fleet("--debug", "push", NAME, "--url", server.url("/leak"), "--report", "report.json", process=True,
                    **kw)
        assert run.code == 3
        assert kw["token"] not in run.all
        report_of(tmp_path)  # asserts MARKER absent
    creds = tmp_path / "creds.ini"
    creds.write_text(f"[default]\nuser = admin\ntoken = {MARKER}\nreload-token = {MARKER[::-1]}\n")
    creds.chmod(0o600)
    one_build(tmp_path, jcasc("x"))
    run = fleet("--debug", "push", NAME, "--url", server.url("/leak"), "--reload", "--credentials", str(creds),
                "--report", "report.json", token="unused")
    assert MARKER not in run.all and MARKER[::-1] not in run.all
    assert double.requests("/reload-configuration-as-code")  # the token endpoint was used
    with open(tmp_path / "report.json") as fh:
        assert MARKER[::-1] not in fh.read()


# --- bad input --------------------------------------------------------------------------------------

def test_credentials_file_readable_by_others_is_refused(tmp_path, fleet):
    one_build(tmp_path, jcasc("x"))
    creds = tmp_path / "creds.ini"
    creds.write_text(f"[default]\nuser = admin\ntoken = {MARKER}\n")
    creds.chmod(0o644)
    run = fleet("push", NAME, "--url", "http://127.0.0.1:9/", "--credentials", str(creds))
    assert run.code == 1
    assert "creds.ini: error: credentials file has mode 0644: others can read it, refused" in run.err
    assert f"hint: chmod 600 {creds}" in run.err


def test_missing_build_is_bad_input(tmp_path, fleet):
    run = fleet("push", "--build", "nowhere")
    assert run.code == 1
    assert "nowhere/fleet.json: error: no generated fleet here (missing or unreadable fleet.json)" in run.err
    one_build(tmp_path, jcasc("x"))
    run = fleet("push", "nosuch.instance")
    assert run.code == 1 and "no generated instance matches 'nosuch.instance'" in run.err
    (tmp_path / "build" / NAME / "jenkins" / "jenkins.yaml").write_text("jenkins: {}\n")
    run = fleet("push", NAME)
    assert run.code == 1 and "changed since generation (sha256 differs from fleet.json)" in run.err


def test_bad_targets_file_is_bad_input_with_its_position(tmp_path, fleet):
    one_build(tmp_path, jcasc("x"))
    (tmp_path / "targets.yaml").write_text("clusters:\n  okd-c1:\n    url: 'https://{hots}/x'\n    bogus: 1\n")
    run = fleet("push", "--targets", "targets.yaml")
    assert run.code == 1
    assert "targets.yaml:3:10: error: clusters.okd-c1.url: unknown placeholder {hots}" in run.err
    assert "targets.yaml:4:5: error: clusters.okd-c1.bogus: unknown key 'bogus'" in run.err


def test_url_option_needs_exactly_one_instance_and_no_plain_http_to_remote_hosts(tmp_path, fleet):
    write_build(str(tmp_path / "build"), {n: (jcasc(n), model(n)) for n in ("technology.a", "technology.b")})
    run = fleet("push", "--url", "http://127.0.0.1:9/")
    assert run.code == 2 and "--url needs exactly one instance; the selection has 2" in run.err
    run = fleet("push", "technology.a", "--url", "http://jenkins.example.org/a")
    assert run.code == 1 and "plain http would send the API token unencrypted" in run.err
    run = fleet("push", "technology.a", "--url", f"https://admin:{MARKER}@jenkins.example.org/a")
    assert run.code == 1 and "must not carry credentials" in run.err


def test_no_credentials_for_several_controllers_is_said_once(tmp_path, fleet):
    write_build(str(tmp_path / "build"), {n: (jcasc(n), model(n)) for n in
                                          ("technology.a", "technology.b", "technology.c", "ee4j.d", "ee4j.e",
                                           "ee4j.f", "ee4j.g")})
    run = fleet("push", env={"FLEET_JENKINS_TOKEN": None})
    assert run.code == 1
    assert run.err == ("<environment>: error: no credentials for 7 controllers: ee4j.d, ee4j.e, ee4j.f, ee4j.g, "
                       "technology.a and 2 more\n"
                       "  hint: set FLEET_JENKINS_USER and FLEET_JENKINS_TOKEN, or use --credentials FILE\n"
                       "1 error in 1 file\n")
    creds = tmp_path / "creds.ini"
    creds.write_text(f"[instance:technology.a]\nuser = admin\ntoken = {MARKER}\n")
    creds.chmod(0o600)
    partial = fleet("push", "technology.*", "--credentials", str(creds), env={"FLEET_JENKINS_TOKEN": None})
    assert partial.code == 1
    assert partial.err == ("creds.ini: error: no credentials for 2 controllers: technology.b, technology.c\n"
                           "  hint: add a [default] section, or [cluster:NAME] / [instance:NAME] sections, "
                           f"to {creds}; or set FLEET_JENKINS_USER and FLEET_JENKINS_TOKEN\n1 error in 1 file\n")


def test_a_host_that_does_not_resolve_is_named_and_not_retried(tmp_path, fleet):
    one_build(tmp_path, jcasc("x"))
    run = fleet("push", NAME, "--url", "https://fleet-test.invalid/x", "--report", "report.json")
    assert run.code == 3
    assert f"{NAME}: error: whoami: GET /me/api/json: host fleet-test.invalid not found (DNS)\n" in run.err
    assert controller(report_of(tmp_path))["requests"] == 0 and "attempts" not in run.err


def test_instances_not_in_the_build_are_named(tmp_path, fleet):
    one_build(tmp_path, jcasc("x"))
    for name in (NAME, "technology.new", "ee4j.new"):
        (tmp_path / "instances" / name).mkdir(parents=True)
        (tmp_path / "instances" / name / "instance.yaml").write_text("project: {}\n")
    (tmp_path / "instances" / "fleet.yaml").write_text("clusters: []\n")
    os.utime(tmp_path / "instances" / "fleet.yaml", (0, 0))
    for name in (NAME, "technology.new", "ee4j.new"):
        os.utime(tmp_path / "instances" / name / "instance.yaml", (0, 0))
    run = fleet("push", "technology.*", "--url", "http://127.0.0.1:9/", "--timeout", "1",
                env={"FLEET_JENKINS_TOKEN": None})
    assert run.code == 1  # no credentials: nothing is sent, the warnings still come first
    assert run.err.startswith(
        "instances/technology.new/instance.yaml: warning: not in build/: this instance was added after the last "
        "'fleet generate' and is left out\n  hint: run 'fleet generate' first\n"), run.err
    assert "ee4j.new" not in run.err  # not selected
    everything = fleet("push", env={"FLEET_JENKINS_TOKEN": None})
    assert "instances/ee4j.new/instance.yaml: warning: not in build/" in everything.err


def test_no_credentials_is_bad_input(tmp_path, fleet):
    one_build(tmp_path, jcasc("x"))
    run = fleet("push", NAME, "--url", "http://127.0.0.1:9/", env={"FLEET_JENKINS_TOKEN": None})
    assert run.code == 1
    assert run.err == ("<environment>: error: no credentials for the controller: technology.e2e\n"
                       "  hint: set FLEET_JENKINS_USER and FLEET_JENKINS_TOKEN, or use --credentials FILE\n"
                       "1 error in 1 file\n")


# --- the sample fleet, credentials files, Ctrl-C -----------------------------------------------------

def test_generated_sample_instances_push_cleanly_double_only(tmp_path, fleet, serve):
    """The real generator output (LDAP realm, matrix, kubernetes cloud, ${SECRETS}) through check/diff/apply/verify."""
    from push_helpers import ROOT
    names = ["technology.cbi", "eclipse.platform"]
    gen = fleet("--instances", os.path.join(ROOT, "instances"), "generate", *names, "--out", "build", "--jobs", "1")
    assert gen.code == 0, gen.all
    doubles = {}
    for name in names:
        with open(tmp_path / "build" / name / "model.json") as fh:
            mdl = json.load(fh)
        doubles[mdl["deployment"]["prefix"]] = JenkinsDouble(
            name=name, users=users(), plugins=plugins_for(mdl["jenkins"]["plugins"]),
            env={"LDAP_MANAGER_PASSWORD": "not-shown"})
    server = serve(doubles)
    (tmp_path / "targets.yaml").write_text(f"clusters:\n  okd-c1: {{url: 'http://127.0.0.1:{server.port}{{prefix}}'}}\n")
    creds = tmp_path / "creds.yaml"
    creds.write_text(f"instances:\n  technology.cbi: {{user: admin, token: {MARKER}}}\n"
                     "clusters:\n  okd-c1: {user: admin, token: admin-password}\n")
    creds.chmod(0o600)
    args = ("push", "--targets", "targets.yaml", "--credentials", str(creds), "--report", "report.json")
    first = fleet(*args, token="unused-env-token")
    assert first.code == 0, first.all
    assert table(first.out) == {"eclipse.platform": "applied", "technology.cbi": "applied"}
    assert any(line.startswith("  +") and "managerPasswordSecret: ${LDAP_MANAGER_PASSWORD}" in line
               for line in first.out.splitlines())
    assert "not-shown" not in first.all
    assert {r.auth for r in doubles["/cbi"].log} == {"token"}
    assert {r.auth for r in doubles["/platform"].log} == {"password"}  # the okd-c1 section, with crumbs
    live = doubles["/cbi"].exported()["jenkins"]
    assert live["clouds"][0]["kubernetes"]["templates"][0]["name"] == "basic"
    second = fleet(*args, token="unused-env-token")
    assert second.code == 0 and table(second.out) == {"eclipse.platform": "unchanged", "technology.cbi": "unchanged"}
    assert controller(report_of(tmp_path), "technology.cbi")["notCompared"] == [
        "jenkins.securityRealm.ldap.configurations[0].managerPasswordSecret"]
    doubles["/cbi"].live["jenkins"]["numExecutors"] = 4  # someone changed it by hand
    drifted = fleet(*args, "technology.cbi", "--dry-run", token="unused-env-token")
    assert "~ jenkins.numExecutors: 4 -> 0" in drifted.out
    assert "(1 value from ${VARIABLES} not compared: Jenkins shows them resolved or encrypted)" in drifted.out


def interrupt_when(proc, arrived, timeout: float = 20) -> float:
    """Send SIGINT to `proc` once `arrived()`; the seconds from the signal to its exit, and its output."""
    import signal
    import time
    deadline = time.monotonic() + timeout
    while not arrived() and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=40)
    return time.monotonic() - sent, out, err


def cli_process(tmp_path, *args):
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(FLEET_JENKINS_USER="admin", FLEET_JENKINS_TOKEN=MARKER, NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "generator", *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_stops_at_once_and_reports_double_only(tmp_path, serve):
    """SIGINT while a controller is slow to answer: the request in flight is cut, nothing else starts, the
    summary and the report say what each controller did, within a moment (not after the slow answer)."""
    doubles = {p: JenkinsDouble(name=p, users=users()) for p in ("a", "b", "c")}
    doubles["a"].inject(Fault("delay", path="/configuration-as-code/check", seconds=30))  # the window for SIGINT
    server = serve({f"/{p}": d for p, d in doubles.items()})
    write_build(str(tmp_path / "build"), {f"technology.{p}": (jcasc(p), model(f"technology.{p}")) for p in "abc"})
    (tmp_path / "targets.yaml").write_text(f"clusters:\n  okd-c1: {{url: 'http://127.0.0.1:{server.port}{{prefix}}'}}\n")
    proc = cli_process(tmp_path, "push", "--targets", "targets.yaml", "--jobs", "1", "--timeout", "60", "--report",
                       "report.json")
    stopped, out, err = interrupt_when(proc, lambda: doubles["a"].requests("/configuration-as-code/check"))
    assert proc.returncode == 130, out + err
    assert stopped < 10, f"{stopped:.1f} s after SIGINT"  # cut at once; 30 s if the request ran to its end
    assert MARKER not in out + err
    report = report_of(tmp_path)
    assert report["interrupted"] is True and report["ok"] is False
    reasons = {c["name"]: c["reason"] for c in report["controllers"]}
    assert reasons == {"technology.a": "interrupted during check: nothing was changed",
                       "technology.b": "interrupted before whoami", "technology.c": "interrupted before whoami"}
    assert all(not d.requests("/configuration-as-code/configure") for d in doubles.values())
    assert "3 controllers: 3 skipped" in err and "interrupted" in err


def test_ctrl_c_stops_fleet_status_at_once_double_only(tmp_path, serve):
    doubles = {p: JenkinsDouble(name=p, users=users()) for p in ("a", "b")}
    doubles["b"].inject(Fault("delay", path="/queue/api/json", seconds=30))
    server = serve({f"/{p}": d for p, d in doubles.items()})
    write_build(str(tmp_path / "build"), {f"technology.{p}": (jcasc(p), model(f"technology.{p}")) for p in "ab"})
    (tmp_path / "targets.yaml").write_text(f"clusters:\n  okd-c1: {{url: 'http://127.0.0.1:{server.port}{{prefix}}'}}\n")
    proc = cli_process(tmp_path, "status", "--targets", "targets.yaml", "--timeout", "60", "--format", "json",
                       "--jobs", "1")
    stopped, out, err = interrupt_when(proc, lambda: doubles["b"].requests("/queue/api/json"))
    assert proc.returncode == 130, out + err
    assert stopped < 10, f"{stopped:.1f} s after SIGINT"
    report = json.loads(out)
    assert report["interrupted"] is True
    assert {c["name"]: (c["state"], c["reason"]) for c in report["controllers"]} == {
        "technology.a": ("ok", ""), "technology.b": ("failed", "interrupted while reading the queue")}
    assert "2 controllers: 1 ok, 1 failed (" in err and err.rstrip().endswith("- interrupted")
