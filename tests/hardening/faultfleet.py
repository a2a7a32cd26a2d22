"""A fleet of Jenkins doubles, one fault each, for `fleet push` (shared by the fault and secret tests).

Every scenario names the fault injected (tests/jenkins_double Fault), the credentials used, and
the outcome the push must report for that controller: outcome, step and a pattern of the reason.
Credentials are distinctive marker strings, so that the secret tests can grep every output for them.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from jenkins_double import Fault, JenkinsDouble, User, closed_port_url, plugins_for
from push_helpers import jcasc, model, write_build

# Markers: never to be printed, logged or written anywhere.
ENV_TOKEN = "11e1e1" + "5ec7e7" * 5  # FLEET_JENKINS_TOKEN
FILE_TOKEN = "11f1f1" + "5ec7e7" * 5  # [default] token of the credentials file
PASSWORD = "pw-" + "5ec7e7-p4ss" * 2  # admin's password: the crumb scenarios authenticate with it
WRONG_TOKEN = "11badbad" + "5ec7e7" * 4  # a token Jenkins rejects
RELOAD_TOKEN = "rl-" + "5ec7e7-r3l0ad" * 2  # reload-token of the credentials file
LDAP_SECRET = "ldap-" + "5ec7e7-b1nd" * 2  # the controller's LDAP bind password, in the environment
MARKERS = [ENV_TOKEN, FILE_TOKEN, PASSWORD, WRONG_TOKEN, RELOAD_TOKEN, LDAP_SECRET]


def basic_of(secret: str, user: str = "admin") -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def encoded_forms(secret: str, user: str = "admin") -> list[str]:
    """The secret as it could leak: itself, in a Basic header, URL-encoded."""
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return [secret, basic, quote(secret, safe=""), secret[:16]]


def admin_users() -> dict[str, User]:
    return {"admin": User("admin", PASSWORD, "admin", (ENV_TOKEN, FILE_TOKEN), "Administrator")}


@dataclass
class Scenario:
    name: str
    faults: list[Fault] = field(default_factory=list)
    auth: str = "token"  # token | password | wrong
    refused: bool = False  # nothing listens at its URL
    outcome: str = "applied"
    step: str = "verify"
    reason: str = r"1 change via /configure"
    configure_posts: str = "any"  # none | any: may the push POST the configuration?
    warning: str = ""  # a warning the report must contain


# Controllers that must fail; a healthy one must still be applied beside them.
FATAL = [
    Scenario("technology.healthy"),
    Scenario("technology.refused", refused=True, outcome="failed", step="whoami",
             reason=r"whoami: GET /me/api/json: connection refused \(after 4 attempts\)", configure_posts="none"),
    Scenario("technology.reset", [Fault("reset", path="/configuration-as-code/check", times=-1)], outcome="failed",
             step="check", reason=r"check: POST /configuration-as-code/check: connection (dropped mid-response|reset)"
                                  r" \(after 4 attempts\)", configure_posts="none"),
    Scenario("technology.dropped", [Fault("drop", path="/configuration-as-code/export", times=-1)], outcome="failed",
             step="diff", reason=r"diff: POST /configuration-as-code/export: connection (closed without answer|reset|"
                                 r"dropped mid-response|failed) \(after 4 attempts\)", configure_posts="none"),
    Scenario("technology.slow", [Fault("delay", path="/configuration-as-code/check", seconds=8)], outcome="failed",
             step="check", reason=r"check: POST /configuration-as-code/check: no complete answer within 2 s$",
             configure_posts="none"),
    Scenario("technology.error500", [Fault("status", path="/configuration-as-code/export", status=500, times=-1)],
             outcome="failed", step="diff",
             reason=r"diff: POST /configuration-as-code/export: 500 Internal Server Error: Jenkins logged the error "
                    r"with ID [0-9a-f-]{36} ", configure_posts="none"),
    Scenario("technology.storm", [Fault("status", path="/configuration-as-code/check", status=s) for s in
                                  (502, 503, 504, 502)], outcome="failed", step="check",
             reason=r"check: POST /configuration-as-code/check: 502 .*\(after 4 attempts\)", configure_posts="none"),
    Scenario("technology.badjson", [Fault("malformed_json", path="/configuration-as-code/check")], outcome="failed",
             step="check", reason=r"check: POST /configuration-as-code/check answered application/json that is not "
                                  r"JSON$", configure_posts="none"),
    Scenario("technology.loginpage", [Fault("html", path="/configuration-as-code/check")], outcome="failed",
             step="check", reason=r"check: POST /configuration-as-code/check answered text/html that is not JSON "
                                  r"\(a login page or a proxy in the way\?\)", configure_posts="none"),
    Scenario("technology.htmlexport", [Fault("html", path="/configuration-as-code/export")], outcome="failed",
             step="diff", reason=r"diff: POST /configuration-as-code/export answered an HTML page instead of YAML",
             configure_posts="none"),
    Scenario("technology.badcreds", auth="wrong", outcome="failed", step="whoami",
             reason=r"whoami: GET /me/api/json: 401 Unauthorized: Jenkins rejected user 'admin'",
             configure_posts="none"),
    # the first check goes without a crumb (tokens need none): its 403 asks for one, then two die in turn
    Scenario("technology.crumbdead", [Fault("expire_crumbs", path="/configuration-as-code/check", times=3)],
             auth="password", outcome="failed", step="check",
             reason=r"check: POST /configuration-as-code/check: 403 No valid crumb, even with a fresh one",
             configure_posts="none"),
    Scenario("technology.down", [Fault("restart", path="/configuration-as-code/check", restart_requests=1000)],
             outcome="failed", step="check",
             reason=r"check: POST /configuration-as-code/check: 503 Service Unavailable .*\(after 4 attempts\)",
             configure_posts="none"),
    # pages quoting the Authorization header, an export quoting the token: never shown as they came
    Scenario("technology.echo403", [Fault("echo_auth", path="/me/api/json")], outcome="failed", step="whoami",
             reason=r"^whoami: GET /me/api/json: 403 Forbidden for user 'admin': this request needs Overall/Read "
                    r"\(hudson\.model\.Hudson\.Read\)$", configure_posts="none"),
    Scenario("technology.echo418", [Fault("echo_auth", path="/me/api/json", status=418)], outcome="failed",
             step="whoami", reason=r"^whoami: GET /me/api/json: 418 I'm a Teapot: Refused by the gateway "
                                   r"Authorization: Basic \(redacted\) Host: 127\.0\.0\.1:\d+$",
             configure_posts="none"),
    Scenario("technology.echoexport", [Fault("answer", path="/configuration-as-code/export", times=-1,
                                             content_type="application/x-yaml;charset=utf-8",
                                             body=("jenkins:\n  systemMessage: 'Basic " + basic_of(FILE_TOKEN)
                                                   + " or " + FILE_TOKEN + "'\n").encode())],
             outcome="failed", step="verify", reason=r"^verify: 1 managed key\(s\) still differ after /configure: "
                                                     r"jenkins\.systemMessage$"),
    # restarts between apply and verify: /configure is not persisted, the restart loses it
    Scenario("technology.lostapply", [Fault("restart", path="/configuration-as-code/export", skip=1,
                                            restart_requests=2)],
             outcome="failed", step="verify", reason=r"verify: 1 managed key\(s\) still differ after /configure",
             warning="the controller restarted during the push"),
]

# Faults that pass: retried or refetched, every controller applied.
TRANSIENT = [
    Scenario("technology.blips", [Fault("status", path="/me/api/json", status=503),
                                  Fault("status", path="/pluginManager", status=502),
                                  Fault("status", path="/configuration-as-code/check", status=504)]),
    Scenario("technology.resetonce", [Fault("reset", path="/configuration-as-code/check")]),
    Scenario("technology.droponce", [Fault("drop", path="/configuration-as-code/configure")]),
    Scenario("technology.crumbonce", [Fault("expire_crumbs", path="/configuration-as-code/configure")],
             auth="password"),
    Scenario("technology.restart", [Fault("restart", path="/configuration-as-code/configure", restart_requests=2)],
             auth="password", warning="the controller restarted during the push"),
]


def _alias_bomb() -> bytes:
    """Some 400 bytes of YAML whose aliases expand to 10^9 values ("billion laughs")."""
    lines = ["jenkins: {systemMessage: x}", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    return ("\n".join(lines) + "\n").encode()


ALIAS_BOMB = _alias_bomb()
PLUGIN_AS_LIST = json.dumps({"_class": "hudson.LocalPluginManager", "plugins": [
    {"shortName": ["configuration-as-code"], "version": "2065.vd2e7ef5b_c1a_6", "active": True, "enabled": True,
     "dependencies": []}]}).encode()
YAML = "application/x-yaml;charset=utf-8"

# Answers no controller should give, each on its own controller: each fails that controller alone, at its
# step, with what was wrong; nothing is applied after it; the healthy controller beside them is applied.
MALFORMED = [
    Scenario("technology.healthy"),
    # only a password needs a crumb: a token's POSTs never ask for one
    Scenario("technology.crumbkey", [Fault("answer", path="/crumbIssuer", body=b'{"crumb": "abc"}')],
             auth="password", outcome="failed", step="check",
             reason=r"^check: GET /crumbIssuer/api/json answered unexpected content: the crumb has no "
                    r"'crumbRequestField'$", configure_posts="none"),
    Scenario("technology.crumbtext", [Fault("answer", path="/crumbIssuer", body=b'"abc"')], auth="password",
             outcome="failed", step="check",
             reason=r"^check: GET /crumbIssuer/api/json answered unexpected content: the crumb is a "
                    r"text, not an object$", configure_posts="none"),
    Scenario("technology.pluginlist", [Fault("answer", path="/pluginManager", body=PLUGIN_AS_LIST)],
             outcome="failed", step="plugins",
             reason=r"^plugins: GET /pluginManager/api/json answered unexpected content: plugin 1: 'shortName' is "
                    r"a list, not a text$", configure_posts="none"),
    Scenario("technology.longline", [Fault("answer", path="/configuration-as-code/check",
                                           body=b'[{"line": ' + b"7" * 5000 + b', "message": "x"}]')],
             outcome="failed", step="check", reason=r"^check: POST /configuration-as-code/check answered "
                                                    r"application/json that is not JSON$", configure_posts="none"),
    Scenario("technology.bigline", [Fault("answer", path="/configuration-as-code/check",
                                          body=b'[{"line": ' + b"7" * 4000 + b', "message": "x"}]')],
             outcome="failed", step="check",
             reason=r"^check: POST /configuration-as-code/check answered something that is not a check result: "
                    r"issue 1: 'line' is not a line number$", configure_posts="none"),
    Scenario("technology.deepjson", [Fault("answer", path="/configuration-as-code/check",
                                           body=b"[" * 100_000 + b"]" * 100_000)],
             outcome="failed", step="check", reason=r"^check: POST /configuration-as-code/check answered "
                                                    r"application/json that is not JSON$", configure_posts="none"),
    Scenario("technology.aliasbomb", [Fault("answer", path="/configuration-as-code/export", body=ALIAS_BOMB,
                                            content_type=YAML)],
             outcome="failed", step="diff",
             reason=r"^diff: POST /configuration-as-code/export answered YAML of more than 200,000 values once "
                    r"its aliases are expanded$", configure_posts="none"),
    Scenario("technology.flood", [Fault("flood", path="/configuration-as-code/export")], outcome="failed",
             step="diff", reason=r"^diff: POST /configuration-as-code/export: the answer is larger than 8 MiB: not "
                                 r"read$", configure_posts="none"),
    Scenario("technology.undeclared", [Fault("flood", path="/pluginManager", size=64 * 1024 ** 2, declare=False)],
             outcome="failed", step="plugins", reason=r"^plugins: GET /pluginManager/api/json: the answer is larger "
                                                      r"than 8 MiB: not read$", configure_posts="none"),
    Scenario("technology.trickle", [Fault("trickle", path="/configuration-as-code/export", seconds=0.2)],
             outcome="failed", step="diff", reason=r"^diff: POST /configuration-as-code/export: no complete answer "
                                                   r"within 2 s$", configure_posts="none"),
    # /check answers that are not check results (200 and JSON, but not the documented list)
    Scenario("technology.checkok", [Fault("answer", path="/configuration-as-code/check", body=b'{"status": "ok"}')],
             outcome="failed", step="check",
             reason=r"^check: POST /configuration-as-code/check answered something that is not a check result: "
                    r"the answer is an object, not the list of a check result$", configure_posts="none"),
    Scenario("technology.checkerror", [Fault("answer", path="/configuration-as-code/check",
                                             body=b'{"error": "x"}')],
             outcome="failed", step="check",
             reason=r"^check: POST /configuration-as-code/check answered something that is not a check result: "
                    r"the answer is an object, not the list of a check result$", configure_posts="none"),
    Scenario("technology.checkjunk", [Fault("answer", path="/configuration-as-code/check", body=b'[1, null, "x"]')],
             outcome="failed", step="check",
             reason=r"^check: POST /configuration-as-code/check answered something that is not a check result: "
                    r"issue 1 is a number, not an object$", configure_posts="none"),
]


@dataclass
class Fleet:
    root: str
    doubles: dict[str, JenkinsDouble]
    targets: str
    credentials: str


def prefix(name: str) -> str:
    return "/" + name.split(".")[-1]


def build_fleet(root: str, scenarios: list[Scenario], serve) -> Fleet:
    """build/ with one instance per scenario, its doubles served, a targets and a credentials file."""
    write_build(os.path.join(root, "build"),
                {s.name: (jcasc(f"pushed to {s.name}"), model(s.name)) for s in scenarios})
    doubles = {s.name: JenkinsDouble(name=s.name, users=admin_users(),
                                     plugins=plugins_for(["configuration-as-code"])) for s in scenarios}
    for s in scenarios:
        doubles[s.name].inject(*s.faults)
    server = serve({prefix(s.name): doubles[s.name] for s in scenarios})
    lines = ["clusters:", f"  okd-c1: {{url: 'http://127.0.0.1:{server.port}{{prefix}}'}}", "instances:"]
    lines += [f"  {s.name}: {{url: '{closed_port_url()}'}}" for s in scenarios if s.refused]
    if len(lines) == 3:
        lines.pop()
    targets = os.path.join(root, "targets.yaml")
    with open(targets, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    creds = [f"[default]\nuser = admin\ntoken = {FILE_TOKEN}\nreload-token = {RELOAD_TOKEN}\n"]
    for s in scenarios:
        if s.auth != "token":
            token = PASSWORD if s.auth == "password" else WRONG_TOKEN
            creds.append(f"[instance:{s.name}]\nuser = admin\ntoken = {token}\n")
    credentials = os.path.join(root, "credentials.ini")
    with open(credentials, "w", encoding="utf-8") as fh:
        fh.write("\n".join(creds))
    os.chmod(credentials, 0o600)
    return Fleet(root, doubles, targets, credentials)


def check_report(report: dict, scenarios: list[Scenario], fleet: Fleet) -> None:
    entries = {c["name"]: c for c in report["controllers"]}
    assert sorted(entries) == sorted(s.name for s in scenarios)
    for s in scenarios:
        entry = entries[s.name]
        where = f"{s.name}: {entry['outcome']} at {entry['step']}: {entry['reason']}"
        assert entry["outcome"] == s.outcome, where
        assert entry["step"] == s.step, where
        assert re.search(s.reason, entry["reason"]), f"{where}\n  expected /{s.reason}/"
        if s.warning:
            assert any(s.warning in w for w in entry["warnings"]), f"{where}: warnings {entry['warnings']}"
        posted = [e for e in fleet.doubles[s.name].log if e.method == "POST" and
                  e.path.rstrip("/").endswith(("/configure", "/apply", "/reload", "/reload-configuration-as-code"))]
        if s.configure_posts == "none":
            assert posted == [], f"{s.name}: applied after a failed step: {[(e.path, e.status) for e in posted]}"
