"""No credential reaches an output, and TLS is verified unless the user explicitly says otherwise.

Marker secrets (faultfleet.MARKERS: the API token in the environment, the token, password and
reload token of a credentials file, a rejected token, an LDAP bind password in the environment)
are planted, then every command runs with and without --debug: generate, validate, generate
--check, audit, explain, a failing generate, and push in every outcome of the fault fleet (success,
each failure, dry run, reload with a token).  stdout, stderr, the --report JSON and every file the
commands leave in the working directory (build/ and its siblings) are searched for each marker,
also base64-encoded in a Basic header, URL-encoded, and its first 16 characters.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys

import pytest
from faultfleet import (
    ENV_TOKEN,
    FATAL,
    FILE_TOKEN,
    LDAP_SECRET,
    MARKERS,
    PASSWORD,
    RELOAD_TOKEN,
    TRANSIENT,
    admin_users,
    build_fleet,
    encoded_forms,
)
from fleettest import ROOT, copy_sample_fleet, fleet_in_process
from jenkins_double import DoubleServer, JenkinsDouble, plugins_for
from push_helpers import jcasc, model, write_build

from generator import targets as targets_lib
from generator.jenkins_client import Credentials, JenkinsClient


def secret_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update({"PYTHONPATH": ROOT, "NO_COLOR": "1", "COLUMNS": "200",
                "FLEET_JENKINS_USER": "admin", "FLEET_JENKINS_TOKEN": ENV_TOKEN,
                "FLEET_JENKINS_RELOAD_TOKEN": RELOAD_TOKEN, "LDAP_MANAGER_PASSWORD": LDAP_SECRET,
                "JENKINS_ADMIN_PASSWORD": PASSWORD})
    env.update({k: v for k, v in extra.items() if v is not None})
    for k in [k for k, v in extra.items() if v is None]:
        env.pop(k, None)
    return env


def fleet_cmd(args, cwd, **env) -> subprocess.CompletedProcess:
    """With --debug in a fresh interpreter: what the whole process writes, tracebacks included; otherwise
    in this process (click's runner), which sees the same environment and prints the same."""
    if "--debug" in args:
        return subprocess.run([sys.executable, "-m", "generator", *map(str, args)], cwd=cwd, env=secret_env(**env),
                              capture_output=True, text=True, timeout=180, check=False)
    done = fleet_in_process(args, cwd, secret_env(**env))
    return subprocess.CompletedProcess(args, done.code, done.stdout, done.stderr)


def leaks(text: str) -> list[str]:
    return [f"{marker[:8]}... as {form[:12]}..." for marker in MARKERS for form in encoded_forms(marker)
            if form in text]


def files_with_secrets(root: str, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path in skip:
                continue
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8", "replace")
            if leaks(text):
                found.append(f"{os.path.relpath(path, root)}: {leaks(text)}")
    return found


def assert_clean(proc: subprocess.CompletedProcess, what: str) -> None:
    assert not leaks(proc.stdout + proc.stderr), f"{what}: {leaks(proc.stdout + proc.stderr)}"


# --- generate, validate, audit, explain ------------------------------------------------------------

def secret_credentials(root) -> str:
    creds = root / "outside" / "credentials.ini"
    creds.parent.mkdir()
    creds.write_text(f"[default]\nuser = admin\ntoken = {FILE_TOKEN}\n")
    creds.chmod(0o600)
    return str(creds)


def test_generation_commands_never_output_a_secret(tmp_path):
    copy_sample_fleet(tmp_path)
    creds = secret_credentials(tmp_path)
    env = {"FLEET_CREDENTIALS": creds}
    commands = [["generate", "--jobs", "2"], ["--debug", "generate", "--jobs", "1", "--no-cache"],
                ["validate"], ["--debug", "validate", "--no-cache"], ["generate", "--check"],
                ["audit"], ["audit", "--format", "json", "-o", "audit.json"],
                ["--debug", "audit", "--format", "markdown"],
                ["explain", "technology.cbi"], ["--debug", "explain", "eclipse.platform"]]
    for args in commands:
        proc = fleet_cmd(args, tmp_path, **env)
        assert proc.returncode in (0, 1), (args, proc.stderr)
        assert_clean(proc, " ".join(args))
    # the LDAP bind password is referenced by name only
    jcasc_text = (tmp_path / "build" / "technology.cbi" / "jenkins" / "jenkins.yaml").read_text()
    assert "managerPasswordSecret: \"${LDAP_MANAGER_PASSWORD}\"" in jcasc_text
    assert files_with_secrets(str(tmp_path), skip=(creds,)) == []


def test_failing_generation_never_outputs_a_secret(tmp_path):
    """With --debug: bad input, and a build directory that is not ours."""
    copy_sample_fleet(tmp_path)
    creds = secret_credentials(tmp_path)
    env = {"FLEET_CREDENTIALS": creds}
    bad = tmp_path / "instances" / "rt.jetty" / "instance.yaml"
    bad.write_text(bad.read_text().replace("resourcePacks: 6", "resourcePacks: six"))
    proc = fleet_cmd(["--debug", "generate", "--jobs", "1"], tmp_path, **env)
    assert proc.returncode == 1 and "resourcePacks" in proc.stderr
    assert_clean(proc, "failing generate")
    (tmp_path / "not-ours").mkdir()
    (tmp_path / "not-ours" / "notes.txt").write_text("hand-written\n")
    bad.write_text(bad.read_text().replace("resourcePacks: six", "resourcePacks: 6"))
    proc = fleet_cmd(["--debug", "generate", "--jobs", "1", "--out", "not-ours"], tmp_path, **env)
    assert proc.returncode == 1 and "refusing to replace this directory" in proc.stderr
    assert_clean(proc, "generate into a foreign directory")
    assert files_with_secrets(str(tmp_path), skip=(creds,)) == []


# --- push ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_push_in_every_outcome_never_outputs_a_secret(tmp_path, serve, debug):
    fleet = build_fleet(str(tmp_path), FATAL + TRANSIENT, serve)
    base = ["--debug"] * debug + ["push", "--targets", fleet.targets, "--credentials", fleet.credentials,
                                 "--report", "report.json", "--timeout", "2", "--jobs", "32"]
    for extra in ([], ["--dry-run"]) if debug else ([],):
        proc = fleet_cmd(base + extra, tmp_path)
        assert proc.returncode in (0, 3), proc.stderr
        assert "Traceback" not in proc.stderr
        assert_clean(proc, " ".join(extra) or "push")
        assert files_with_secrets(str(tmp_path), skip=(fleet.credentials,)) == []
    # the environment's token, no credentials file
    proc = fleet_cmd(["--debug"] * debug + ["push", "technology.healthy", "--targets", fleet.targets,
                                            "--report", "report.json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc, "push with FLEET_JENKINS_TOKEN")
    assert files_with_secrets(str(tmp_path), skip=(fleet.credentials,)) == []


def test_reload_with_a_token_never_outputs_it(tmp_path, serve):
    double = JenkinsDouble(name="reload", users=admin_users(), file_source=jcasc("booted"),
                           reload_token=RELOAD_TOKEN, plugins=plugins_for(["configuration-as-code"]))
    server = serve({"/reload": double})
    double.file_source = jcasc("from the configmap")  # the ConfigMap changed since the controller started
    write_build(str(tmp_path / "build"), {"technology.reload": (jcasc("from the configmap"),
                                                                 model("technology.reload"))})
    for args in (["push", "--url", server.url("/reload"), "--reload", "--report", "r.json"],
                 ["--debug", "push", "--url", server.url("/reload"), "--reload", "--report", "r.json"]):
        proc = fleet_cmd(args, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert_clean(proc, " ".join(args))
    assert [e.status for e in double.requests("/reload-configuration-as-code")] == [200]
    write_build(str(tmp_path / "build"), {"technology.reload": (jcasc("newer"), model("technology.reload"))})
    wrong = fleet_cmd(["--debug", "push", "--url", server.url("/reload"), "--reload", "--report", "r.json"],
                      tmp_path, FLEET_JENKINS_RELOAD_TOKEN=FILE_TOKEN)  # a reload token Jenkins refuses
    assert wrong.returncode == 3, wrong.stderr
    assert "401" in wrong.stderr
    assert_clean(wrong, "wrong reload token")
    assert files_with_secrets(str(tmp_path)) == []


BAD_CREDENTIALS = {
    "yaml flow typo": ("credentials.yaml", f"default: {{user: admin, token={FILE_TOKEN}}}\n"),
    "yaml value as a key": ("credentials.yaml", f"default:\n  user: admin\n  {FILE_TOKEN}: token\n"),
    "yaml token at the top": ("credentials.yaml", f"{FILE_TOKEN}: x\n"),
    "yaml syntax error": ("credentials.yaml", f"default:\n  user: admin\n  token: {FILE_TOKEN}: x\n"),
    "yaml not a mapping": ("credentials.yaml", f"- {FILE_TOKEN}\n"),
    "yaml section not a mapping": ("credentials.yaml", f"clusters: {{okd-c1: {FILE_TOKEN}}}\n"),
    "ini key without value": ("credentials.ini", f"[default]\nuser = admin\n{FILE_TOKEN} =\n"),
    "ini line without '='": ("credentials.ini", f"[default]\nuser = admin\ntoken {FILE_TOKEN}\n"),
    "ini token as a section": ("credentials.ini", f"[{FILE_TOKEN}]\nuser = admin\n"),
    "ini duplicate": ("credentials.ini", f"[default]\ntoken = {FILE_TOKEN}\ntoken = {FILE_TOKEN}\n"),
    "ini no user": ("credentials.ini", f"[default]\ntoken = {FILE_TOKEN}\n"),
    "ini readable by others": ("credentials.ini", f"[default]\nuser = admin\ntoken = {FILE_TOKEN}\n"),
}


@pytest.mark.parametrize("case", sorted(BAD_CREDENTIALS))
def test_a_mistyped_credentials_file_is_refused_without_quoting_it(tmp_path, case):
    write_build(str(tmp_path / "build"), {"technology.x": (jcasc("x"), model("technology.x"))})
    name, text = BAD_CREDENTIALS[case]
    creds = tmp_path / "secret" / name
    creds.parent.mkdir()
    creds.write_text(text)
    creds.chmod(0o644 if "readable" in case else 0o600)
    for debug in ([], ["--debug"]):
        proc = fleet_cmd(debug + ["push", "--url", "http://127.0.0.1:9/", "--credentials", str(creds)], tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert re.search(rf"^secret/{re.escape(name)}(:\d+:\d+)?: error: ", proc.stderr, re.MULTILINE), proc.stderr
        assert "Traceback" not in proc.stderr
        assert_clean(proc, case)


URL = f"https://admin:{FILE_TOKEN}@ci.example.org"
MASKED = "https://" + "*" * len(f"admin:{FILE_TOKEN}") + "@ci.example.org"  # same length: the caret still fits
BAD_TARGETS = {  # a line holding a user:token@ URL, and what is wrong with it (or beside it)
    "unknown placeholder": (f"clusters:\n  okd-c1: {{url: '{URL}{{prefx}}'}}\n", 1,
                            "targets.yaml:2:17: error: clusters.okd-c1.url: unknown placeholder {prefx}",
                            f"  2 |   okd-c1: {{url: '{MASKED}{{prefx}}'}}\n    |                 ^~~"),
    "typo beside it": (f"clusters:\n  okd-c1: {{url: '{URL}/{{prefix}}', mdoe: reload}}\n", 1,
                       "targets.yaml:2:95: error: clusters.okd-c1.mdoe: unknown key 'mdoe'",
                       f"  2 |   okd-c1: {{url: '{MASKED}/{{prefix}}', mdoe: reload}}\n    | {' ' * 94}^~~~\n"),
    "control character": (f"clusters:\n  okd-c1: {{url: \"{URL}/\x07\"}}\n", 1, "targets.yaml:2:", MASKED),
    "instance not built": (f"instances:\n  gone.x: {{url: '{URL}/x'}}\n", 3,
                           "targets.yaml:2:3: warning: instances.gone.x: no generated instance 'gone.x'",
                           f"  2 |   gone.x: {{url: '{MASKED}/x'}}"),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_a_targets_file_line_is_shown_without_the_credentials_of_its_url(tmp_path, case):
    text, code, message, shown = BAD_TARGETS[case]
    write_build(str(tmp_path / "build"), {"technology.x": (jcasc("x"), model("technology.x"))})
    (tmp_path / "targets.yaml").write_text(text)
    proc = fleet_cmd(["push", "--targets", "targets.yaml", "--url", "http://127.0.0.1:9/", "--timeout", "1"],
                     tmp_path)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and shown in proc.stderr, proc.stderr
    assert_clean(proc, case)


def test_a_url_with_credentials_is_refused_without_showing_them(tmp_path):
    write_build(str(tmp_path / "build"), {"technology.x": (jcasc("x"), model("technology.x"))})
    (tmp_path / "targets.yaml").write_text(f"clusters:\n  okd-c1: {{url: 'https://admin:{FILE_TOKEN}@ci.example.org'}}\n")
    for args in (["push", "--targets", "targets.yaml"],
                 ["push", "--url", f"https://admin:{FILE_TOKEN}@ci.example.org/x"]):
        proc = fleet_cmd(args, tmp_path)
        assert proc.returncode == 1 and "must not carry credentials" in proc.stderr, proc.stderr
        assert_clean(proc, "a URL with user:token@")


def test_objects_holding_secrets_do_not_show_them():
    secret = targets_lib.Secret("admin", FILE_TOKEN, RELOAD_TOKEN, "file")
    store = targets_lib.CredentialStore(secret, {"c": secret}, {"i": secret})
    entry = targets_lib.BuildEntry("technology.x", "okd-c1", "https://x", "/b/jenkins.yaml", "jenkins: {}\n", {})
    target = targets_lib.Target(entry, "https://x", Credentials("admin", FILE_TOKEN), "reload", RELOAD_TOKEN)
    client = JenkinsClient("https://x", Credentials("admin", FILE_TOKEN))
    try:
        for obj in (secret, store, target, client, target.credentials):
            assert not leaks(repr(obj) + str(obj)), type(obj).__name__
    finally:
        client.close()


# --- TLS ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl), as on a test controller."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def https_double(certificate):
    """The double behind TLS: its listening socket wrapped before the server starts."""
    cert, key = certificate
    double = JenkinsDouble(name="tls", users=admin_users(), plugins=plugins_for(["configuration-as-code"]))
    server = DoubleServer({"/tls": double})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.start()
    yield double, f"https://127.0.0.1:{server.port}/tls/"
    server.stop()


INSECURE_WARNING = re.compile(r"^warning: --insecure: TLS certificates are not verified; anyone on the path can "
                              r"read the API token$", re.MULTILINE)


def test_tls_is_verified_by_default_and_nothing_is_sent_to_an_unverified_controller(tmp_path, https_double):
    double, url = https_double
    write_build(str(tmp_path / "build"), {"technology.tls": (jcasc("over tls"), model("technology.tls"))})
    for env in ({}, {"PYTHONHTTPSVERIFY": "0", "CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""}):
        proc = fleet_cmd(["push", "--url", url, "--timeout", "5"], tmp_path, **env)
        assert proc.returncode == 3, proc.stderr
        assert ("technology.tls: error: whoami: GET /me/api/json: TLS certificate verification failed "
                "(fix the CA bundle; --insecure only for test controllers)") in proc.stderr
        assert not INSECURE_WARNING.search(proc.stderr)
        assert_clean(proc, "TLS failure")
    assert double.log == []  # the handshake failed: no request, no credentials, reached the controller


def test_a_trusted_ca_bundle_verifies_the_controller(tmp_path, https_double, certificate):
    double, url = https_double
    write_build(str(tmp_path / "build"), {"technology.tls": (jcasc("over tls"), model("technology.tls"))})
    proc = fleet_cmd(["push", "--url", url], tmp_path, REQUESTS_CA_BUNDLE=str(certificate[0]))
    assert proc.returncode == 0, proc.stderr
    assert not INSECURE_WARNING.search(proc.stderr)
    assert double.exported()["jenkins"]["systemMessage"] == "over tls"


def test_insecure_must_be_asked_for_and_warns_once(tmp_path, https_double):
    double, url = https_double
    write_build(str(tmp_path / "build"), {"technology.tls": (jcasc("insecure"), model("technology.tls"))})
    proc = fleet_cmd(["push", "--url", url, "--insecure"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(INSECURE_WARNING.findall(proc.stderr)) == 1, proc.stderr
    assert "InsecureRequestWarning" not in proc.stderr  # ours, once, instead of urllib3's per request
    assert double.exported()["jenkins"]["systemMessage"] == "insecure"
    assert_clean(proc, "--insecure")
    # plain http to a remote host is the same decision: refused without --insecure
    refused = fleet_cmd(["push", "--url", "http://jenkins.example.org/x"], tmp_path)
    assert refused.returncode == 1 and "plain http would send the API token unencrypted" in refused.stderr
