"""generator.push pieces without HTTP: the semantic diff, plugin drift, check positions, inputs."""

from __future__ import annotations

import os

import pytest
import yaml
from push_helpers import MARKER, jcasc, model, write_build

from generator import push, value_diff
from generator import targets as targets_lib
from generator.errors import FleetError
from generator.jenkins_client import CheckIssue, InstalledPlugin
from generator.version_number import version_key


def diff(desired: str, live: str):
    return value_diff.managed_diff(yaml.safe_load(desired), yaml.safe_load(live))


def lines(d) -> list[str]:
    return [line for c in d.changes for line in value_diff.format_change(c)]


# --- the semantic diff --------------------------------------------------------------------------

def test_only_managed_keys_count_and_scalars_are_normalised():
    d = diff("jenkins:\n  numExecutors: 0\n  containerCapStr: '10'\n  flag: true\n",
             "jenkins:\n  numExecutors: '0'\n  containerCapStr: 10\n  flag: 'true'\n  labelAtoms: [x]\n"
             "tool:\n  git: {}\n")
    assert d.changes == () and d.not_compared == ()


def test_changed_added_and_removed_items_by_name():
    desired = """
jenkins:
  systemMessage: new
  clouds:
  - kubernetes:
      name: kubernetes
      templates:
      - name: basic
        containers:
        - {name: jnlp, image: agent:2}
      - name: big
  authorizationStrategy:
    projectMatrix:
      entries:
      - group: {name: admins, permissions: [Overall/Administer]}
      - user: {name: bot, permissions: [Job/Build, Overall/Read]}
"""
    live = """
jenkins:
  systemMessage: old
  clouds:
  - kubernetes:
      name: kubernetes
      connectTimeout: 5
      templates:
      - {name: basic, idleMinutes: 0, containers: [{name: jnlp, image: agent:1}]}
      - {name: gone}
  authorizationStrategy:
    projectMatrix:
      entries:
      - group: {name: admins, permissions: [Overall/Administer]}
      - user: {name: bot, permissions: [Overall/Read, Job/Read]}
"""
    assert lines(diff(desired, live)) == [
        '~ jenkins.systemMessage: "old" -> "new"',
        '~ jenkins.clouds[kubernetes].templates[basic].containers[jnlp].image: "agent:1" -> "agent:2"',
        '+ jenkins.clouds[kubernetes].templates[big]: {"name": "big"}',
        '- jenkins.clouds[kubernetes].templates[gone]: {"name": "gone"}',
        '~ jenkins.authorizationStrategy.projectMatrix.entries[user bot].permissions: ["Job/Read"] -> ["Job/Build"]',
    ]


def test_scalar_lists_compare_as_sets_and_unnamed_items_by_content():
    assert diff("a: {l: [x, y]}\n", "a: {l: [y, x]}\n").changes == ()
    desired = "v:\n- secretVolume: {secretName: m2, mountPath: /a}\n- secretVolume: {secretName: m2, mountPath: /b}\n"
    live = ("v:\n- secretVolume: {secretName: m2, mountPath: /b, readOnly: true}\n"
            "- secretVolume: {secretName: m2, mountPath: /a}\n")
    assert diff(desired, live).changes == ()
    changed = diff(desired, "v:\n- secretVolume: {secretName: m2, mountPath: /a}\n")
    assert lines(changed) == ['+ v[1]: {"secretVolume": {"mountPath": "/b", "secretName": "m2"}}']


def test_variables_are_not_compared_and_secrets_never_shown():
    desired = "r:\n  managerPasswordSecret: ${LDAP}\n  server: ldaps://a\n  token: plain-" + MARKER + "\n"
    live = "r:\n  managerPasswordSecret: '{AQAAABAAAAAQabcdefabcdefabcdef=}'\n  server: ldaps://b\n  token: other\n"
    d = diff(desired, live)
    assert d.not_compared == ("r.managerPasswordSecret",)
    assert lines(d) == ['~ r.server: "ldaps://b" -> "ldaps://a"', '~ r.token: "<secret>" -> "<secret>"']
    added = diff("x:\n  ldap:\n    password: " + MARKER + "\n    enc: '{AQAAABAAAAAQabcdefabcdefabcdef=}'\n", "{}")
    assert MARKER not in str(added.changes) and "AQAAAB" not in str(added.changes)


def test_an_escaped_dollar_brace_is_compared_and_only_genuine_variables_are_skipped():
    """Instance values are generated with `${` escaped as `^${` (a literal for JCasC), and the export escapes
    literals the same way: such a value is compared like any text; `${VAR}` is not."""
    desired = "jenkins:\n  systemMessage: 'Builds cost ^${5} each'\n  labelString: '${LABELS}'\n"
    changed = diff(desired, "jenkins:\n  systemMessage: old\n")
    assert lines(changed) == ['~ jenkins.systemMessage: "old" -> "Builds cost ^${5} each"']
    assert changed.not_compared == ("jenkins.labelString",)
    landed = diff(desired, "jenkins:\n  systemMessage: 'Builds cost ^${5} each'\n  labelString: resolved\n")
    assert landed.changes == () and landed.not_compared == ("jenkins.labelString",)
    mixed = diff("a: {l: ['^${x}', y]}\nb: 'literal ^${A} and ${B}'\n", "a: {l: [y]}\n")
    assert lines(mixed) == ['~ a.l: ["y"] -> ["^${x}"]'] and mixed.not_compared == ("b",)


def test_big_added_values_are_shown_as_yaml_blocks():
    big = {"name": "basic", "containers": [{"name": "jnlp", "image": "x" * 80}]}
    out = value_diff.format_change(value_diff.Change("added", "t[basic]", None, big))
    assert out[0] == "+ t[basic]:" and out[1] == "+     name: basic" and out[-1].endswith("x" * 80)


# --- plugins ------------------------------------------------------------------------------------

def plugin(name, version="1.0", active=True, deps=()):
    return InstalledPlugin(name, version, active, active, tuple((d, False) for d in deps))


def test_plugin_drift():
    installed = [plugin("configuration-as-code", "2065.v1", deps=["snakeyaml-api"]), plugin("snakeyaml-api"),
                 plugin("git", "5.7.0", deps=["scm-api"]), plugin("scm-api"), plugin("jacoco", "3.1.0"),
                 plugin("ldap", active=False), plugin("build-timeout")]
    report = push.compare_plugins(["configuration-as-code", "git:5.10.0", "jacoco:3.0.9", "ldap", "kubernetes"],
                                  installed)
    assert report.missing == ("kubernetes",) and report.inactive == ("ldap",)
    assert report.outdated == (("git", "5.7.0", "5.10.0"),)
    assert report.extra == ("build-timeout",)


@pytest.mark.parametrize("older, newer", [("1.9", "1.10"), ("3355.v388858a_47b_33", "3356.v1"), ("2.0-beta", "2.0.1"),
                                          ("1947.v1", "2065.vd2e")])
def test_version_order(older, newer):
    assert version_key(older) < version_key(newer)


# --- check issues positioned in the generated file ----------------------------------------------------

def test_check_issues_are_located_in_the_generated_file():
    text = "# head\njenkins:\n  systemMessage: x\n  bogus: 1\nfoo:\n  a: 1\n"
    issues = [CheckIssue(-1, "No configurator found for the following root element: foo", "error"),
              CheckIssue(-1, "Invalid configuration elements for type: class jenkins.model.Jenkins : bogus.\n"
                             "Available attributes : a, b", "error"),
              CheckIssue(-1, "mapping values are not allowed here in 'request', line 3, column 9", "error"),
              CheckIssue(3, "'systemMessage' is odd", "warning"),
              CheckIssue(-1, "something else entirely", "error")]
    diags = push.check_diagnostics(issues, "build/x/jenkins/jenkins.yaml", text)
    assert [(d.line, d.column, d.key, d.severity) for d in diags] == [
        (5, 1, "foo", "error"), (4, 3, "jenkins.bogus", "error"), (3, 9, "", "error"), (3, 1, "", "warning"),
        (0, 0, "", "error")]
    assert diags[1].message == "Invalid configuration elements for type: class jenkins.model.Jenkins : bogus."
    assert diags[0].format().splitlines()[1] == "  5 | foo:"


# --- inputs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, problem", [
    ("https://ci.example.org/a", ""), ("http://127.0.0.1:8080/", ""), ("http://localhost/x", ""),
    ("http://[::1]:8080/", ""), ("http://ci.example.org/a", "plain http"), ("ftp://x/", "http:// or https://"),
    ("https://u:p@x/", "must not carry credentials"), ("https://x/?a=b", "query"), ("https:///nohost", "with a host"),
    ("https://x:99999/", "not a valid URL")])
def test_url_problems(url, problem):
    found = targets_lib.url_problem(url, insecure=False)
    assert (problem in found) if problem else found == ""
    assert targets_lib.safe_url("https://u:" + MARKER + "@h:8443/p?t=" + MARKER) == "https://h:8443/p"


def test_targets_file(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text("clusters:\n  okd-c1: {url: 'http://127.0.0.1:8080{prefix}', mode: reload}\n"
                    "instances:\n  technology.a: {url: 'https://a.example.org/'}\n  gone.x: {mode: apply}\n")
    targets = targets_lib.load_targets(str(path), {"technology.a", "technology.b"})
    assert [(d.line, d.message) for d in targets.warnings] == [(5, "no generated instance 'gone.x'")]
    build = write_build(str(tmp_path / "build"), {n: (jcasc(n), model(n)) for n in ("technology.a", "technology.b")})
    entries = targets_lib.read_build(build)
    store = targets_lib.CredentialStore(default=targets_lib.Secret("admin", MARKER))
    resolved = targets_lib.resolve_targets(entries, targets=targets, store=store)
    assert [(t.name, t.url, t.mode) for t in resolved] == [("technology.a", "https://a.example.org/", "reload"),
                                                           ("technology.b", "http://127.0.0.1:8080/b", "reload")]
    path.write_text("clusters: []\nnodes: {}\n")
    with pytest.raises(FleetError) as info:
        targets_lib.load_targets(str(path))
    assert [(d.line, d.message) for d in info.value.diagnostics] == [
        (1, "expected a mapping of names to settings"), (2, "unknown key 'nodes'")]


def _creds(tmp_path, name, text, mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_credentials_ini_and_yaml_sections_and_precedence(tmp_path):
    entries = {n: targets_lib.BuildEntry(n, c, "", "", "", {}) for n, c in
               (("technology.a", "okd-c1"), ("technology.b", "okd-c1"), ("ee4j.c", "okd-c2"), ("x.y", "okd-c3"))}
    ini = _creds(tmp_path, "c.ini", "# comment\n[default]\nuser = d\ntoken = %dtok\n[cluster:okd-c2]\nuser = c2\n"
                                    "token = c2tok\n[instance:technology.a]\nuser = a\ntoken = atok\n"
                                    "reload-token = r\n")
    yml = _creds(tmp_path, "c.yaml", "instances:\n  technology.a: {user: a, token: atok, reload-token: r}\n"
                                     "clusters:\n  okd-c2: {user: c2, token: c2tok}\n")
    env = {"FLEET_JENKINS_USER": "envuser", "FLEET_JENKINS_TOKEN": "envtok"}
    for path, default in ((ini, ("d", "%dtok")), (yml, ("envuser", "envtok"))):
        store = targets_lib.load_credentials(path, env, [])
        got = {n: (s.user, s.token) for n, s in ((n, store.for_entry(e)) for n, e in entries.items())}
        assert got == {"technology.a": ("a", "atok"), "technology.b": default, "ee4j.c": ("c2", "c2tok"),
                       "x.y": default}
        assert store.for_entry(entries["technology.a"]).reload_token == "r"
        assert "atok" not in repr(store)
    assert targets_lib.load_credentials(yml, {}, []).for_entry(entries["x.y"]) is None


def test_credentials_file_refusals(tmp_path):
    with pytest.raises(FleetError, match="mode 0640"):
        targets_lib.load_credentials(_creds(tmp_path, "open.ini", "[default]\nuser=a\ntoken=b\n", 0o640), {}, [])
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "instances").mkdir()
    inside = _creds(repo, "creds.ini", "[default]\nuser=a\ntoken=" + MARKER + "\n")
    with pytest.raises(FleetError, match="inside the repository") as info:
        targets_lib.load_credentials(inside, {}, [str(repo / "instances")])
    for text, message in (("[default]\nuser=a\n", "needs both 'user' and 'token'"),
                          ("[team:x]\nuser=a\ntoken=b\n",
                           "a section is not [default], [cluster:NAME] or [instance:NAME]"),
                          ("[default]\nuser=a\ntoken=" + MARKER + "\npassword=p\n", "1 unknown key (not shown"),
                          ("[default]\nuser = a\n  token" + MARKER + "\n[", "not a valid INI file")):
        with pytest.raises(FleetError) as info:
            targets_lib.load_credentials(_creds(tmp_path, "bad.ini", text), {}, [])
        assert message in str(info.value) and MARKER not in str(info.value)


def test_read_build_selects_by_pattern(tmp_path):
    build = write_build(str(tmp_path / "b"), {n: (jcasc(n), model(n)) for n in ("ee4j.a", "ee4j.b", "rt.c")})
    assert [e.name for e in targets_lib.read_build(build, ["ee4j.*"])] == ["ee4j.a", "ee4j.b"]
    assert [e.name for e in targets_lib.read_build(build)] == ["ee4j.a", "ee4j.b", "rt.c"]
    os.remove(os.path.join(build, "rt.c", "model.json"))
    with pytest.raises(FleetError, match="generated file is missing"):
        targets_lib.read_build(build, ["rt.c"])


# --- a bug in one controller's push ----------------------------------------------------------------

def test_a_bug_in_one_controllers_job_is_reported_for_it_and_the_others_still_run(tmp_path):
    from jenkins_double import closed_port_url

    from generator import status as status_lib
    from generator.jenkins_client import JenkinsClient, RetryPolicy

    build = write_build(str(tmp_path / "b"), {n: (jcasc(n), model(n)) for n in ("technology.a", "technology.b")})
    store = targets_lib.CredentialStore(default=targets_lib.Secret("admin", MARKER))
    targets = targets_lib.resolve_targets(targets_lib.read_build(build), targets=None, store=store, url=None)
    targets = [targets_lib.Target(t.entry, closed_port_url(), t.credentials) for t in targets]

    def factory(url, credentials, **kw):
        if url == targets[0].url:
            raise RuntimeError("a bug")
        return JenkinsClient(url, credentials, **kw)

    once = RetryPolicy(attempts=1)
    fleet = push.push_fleet(targets, push.PushOptions(retry=once), client_factory=factory)
    assert [(r.name, r.outcome, r.internal) for r in fleet.results] == [("technology.a", "failed", True),
                                                                        ("technology.b", "failed", False)]
    assert fleet.results[0].reason == "internal error at start: RuntimeError: a bug (please report it)"
    assert fleet.results[1].reason == "whoami: GET /me/api/json: connection refused"
    assert [(name, str(exc)) for name, exc in fleet.bugs] == [("technology.a", "a bug")]
    assert fleet.report()["controllers"][0]["internalError"] is True
    statuses = status_lib.fleet_status(targets, status_lib.StatusOptions(retry=once), client_factory=factory)
    assert [(s.name, s.state, s.reason) for s in statuses.statuses] == [
        ("technology.a", "failed", "internal error at start: RuntimeError: a bug (please report it)"),
        ("technology.b", "unreachable", "GET /api/json: connection refused")]
    assert [name for name, _ in statuses.bugs] == ["technology.a"]
