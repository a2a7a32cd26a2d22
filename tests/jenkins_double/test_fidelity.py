"""The double against recorded Jenkins responses (tests/fixtures/jenkins-http, see SOURCES.md there)
and the behaviour the reference lists: the contract a real controller keeps."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import time
from urllib.parse import urlsplit

import jenkins
import pytest
import requests

from . import (
    CASC_1947,
    CASC_OLD,
    DoubleServer,
    JenkinsDouble,
    default_users,
    plugins_for,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "jenkins-http")
USERS = default_users()
ADMIN, READER, MANAGER = USERS["admin"], USERS["reader"], USERS["manager"]


def fixture_json(rel: str):
    with open(os.path.join(FIXTURES, rel)) as fh:
        return json.load(fh)


def apib(rel: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of an API Blueprint capture."""
    with open(os.path.join(FIXTURES, rel)) as fh:
        text = fh.read()
    response = text[text.index("+ Response"):]
    m = re.search(r"\+ Response (\d+) \(([^)]+)\)", response)
    status = int(m.group(1))
    head = response.split("+ Body", 1)[0]
    headers = dict(re.findall(r"^\s{12}([A-Za-z-]+): (.*)$", head.split("+ Headers", 1)[1], re.MULTILINE))
    headers.setdefault("Content-Type", m.group(2))
    body = "\n".join(line[12:] for line in response.split("+ Body", 1)[1].splitlines()).strip()
    return status, headers, body


def basic(user, secret) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.fixture
def served():
    servers = []

    def start(double: JenkinsDouble | None = None, prefix: str = "/jenkins"):
        double = double or JenkinsDouble()
        server = DoubleServer({prefix: double}).start()
        servers.append(server)
        return double, server.url(prefix)

    yield start
    for s in servers:
        s.stop()


# --- recorded responses ---------------------------------------------------------------------------

def test_anonymous_root_is_403_with_the_recorded_headers(served):
    status, headers, body = apib("butler-jenkins-2.62/apib-root-403-anonymous.md")
    _, url = served()
    r = requests.get(url, timeout=5)
    assert r.status_code == status == 403
    for name in ("X-You-Are-Authenticated-As", "X-Required-Permission", "X-Permission-Implied-By"):
        assert r.headers[name] == headers[name]
    assert "X-You-Are-In-Group-Disabled" in r.headers
    assert re.fullmatch(r"[0-9a-f]{8}", r.headers["X-Jenkins-Session"])
    assert re.fullmatch(r"[0-9a-f]{8}", headers["X-Jenkins-Session"])
    assert r.headers["Content-Type"] == headers["Content-Type"] == "text/html;charset=utf-8"
    for phrase in ("Authentication required", "Permission you need to have (but didn't): hudson.model.Hudson.Read"):
        assert phrase in body and phrase in r.text


@pytest.mark.parametrize("capture, auth", [("apib-whoAmI.md", None), ("apib-whoAmI-readonly.md", "reader")])
def test_whoami_has_the_recorded_shape(served, capture, auth):
    status, headers, body = apib(f"butler-jenkins-2.62/{capture}")
    recorded = json.loads(body)
    _, url = served()
    r = requests.get(url + "whoAmI/api/json", headers=basic(auth, READER.tokens[0]) if auth else {}, timeout=5)
    assert r.status_code == status == 200
    assert r.headers["Content-Type"] == headers["Content-Type"] == "application/json;charset=utf-8"
    assert {"X-Jenkins", "X-Jenkins-Session"} <= set(r.headers) and {"X-Jenkins", "X-Jenkins-Session"} <= set(headers)
    data = r.json()
    assert set(data) == set(recorded)
    assert (data["anonymous"], data["authenticated"]) == (recorded["anonymous"], recorded["authenticated"])
    assert data["name"] == ("reader" if auth else "anonymous")
    assert recorded["name"] == ("readonly" if auth else "anonymous")


def test_root_api_json_has_the_recorded_fields_and_types(served):
    recorded = fixture_json("ujenkins/root-api-json.json")
    older = fixture_json("api4jenkins/jenkins-jenkins.json")
    _, url = served()
    data = requests.get(url + "api/json", headers=basic("admin", ADMIN.tokens[0]), timeout=5).json()
    assert set(recorded) <= set(data)
    assert set(older) - {"description"} <= set(data) | {"nodeDescription"}
    for key, value in recorded.items():
        if value is not None:
            assert type(data[key]) is type(value), key
    assert data["_class"] == "hudson.model.Hudson" and data["useCrumbs"] is True and data["useSecurity"] is True


def test_root_api_json_tree_filter_as_recorded(served):
    _, _, body = apib("butler-jenkins-2.62/apib-Jobs.md")
    recorded = json.loads(body)
    _, url = served()
    data = requests.get(url + "api/json?tree=jobs[name,color]", headers=basic("admin", ADMIN.tokens[0]),
                        timeout=5).json()
    assert set(data) == set(recorded) == {"_class", "jobs"}
    data = requests.get(url + "api/json?tree=quietingDown,useCrumbs", headers=basic("admin", ADMIN.tokens[0]),
                        timeout=5).json()
    assert data == {"_class": "hudson.model.Hudson", "quietingDown": False, "useCrumbs": True}


def test_api_json_headers_as_recorded(served):
    _, headers, _ = apib("butler-jenkins-2.62/apib-Node.md")
    double, url = served(JenkinsDouble(version="2.62"))
    r = requests.get(url + "api/json", headers=basic("admin", ADMIN.tokens[0]), timeout=5)
    assert r.headers["X-Jenkins"] == headers["X-Jenkins"] == "2.62"
    assert r.headers["X-Content-Type-Options"] == headers["X-Content-Type-Options"]
    assert r.headers["X-Jenkins-Session"] == double.session_id


def test_plugin_manager_entries_have_the_recorded_fields(served):
    recorded = fixture_json("ujenkins/pluginManager-api-json-depth2.json")
    _, url = served(JenkinsDouble(plugins=plugins_for(["configuration-as-code", "git"])))
    data = requests.get(url + "pluginManager/api/json?depth=2", headers=basic("admin", ADMIN.tokens[0]),
                        timeout=5).json()
    assert data["_class"] == recorded["_class"]
    entry = next(p for p in data["plugins"] if p["shortName"] == "git")
    assert set(entry) == set(recorded["plugins"][0])
    assert set(entry["dependencies"][0]) == set(recorded["plugins"][0]["dependencies"][0])
    for key, value in recorded["plugins"][0].items():
        if value is not None:
            assert type(entry[key]) is type(value), key


def test_me_has_the_user_schema_fields(served):
    with open(os.path.join(FIXTURES, "butler-jenkins-2.62", "xml-user.xml")) as fh:
        fields = set(re.findall(r'<xsd:element name="(\w+)"', fh.read())) - {"user"}
    _, url = served()
    data = requests.get(url + "me/api/json", headers=basic("admin", ADMIN.tokens[0]), timeout=5).json()
    assert set(data) - {"_class"} == fields
    assert data["_class"] == "hudson.model.User" and data["id"] == "admin"
    anonymous = requests.get(url + "me/api/json", timeout=5)
    assert anonymous.status_code == 403 and anonymous.headers["X-You-Are-Authenticated-As"] == "anonymous"


# --- the configure endpoint cases of the plugin's own tests ---------------------------------------------

def _session(url, user=ADMIN, password=False):
    s = requests.Session()
    s.auth = (user.name, user.password if password else user.tokens[0])
    return s


def test_configure_endpoint_cases(served):
    with open(os.path.join(FIXTURES, "jcasc-plugin", "configure-endpoint-cases.md")) as fh:
        assert fh.read().count("| POST") >= 6  # the table these cases follow
    double, url = served()
    admin = _session(url)
    configure = url + "configuration-as-code/configure"
    assert admin.get(configure, timeout=5).status_code == 405
    r = admin.post(configure, data=b"jenkins:\n  systemMessage: 'Webhook Success'", timeout=5)
    assert (r.status_code, r.text) == (200, "Configuration successfully applied.")
    assert double.exported()["jenkins"]["systemMessage"] == "Webhook Success"
    for body in (b"jenkins:\n  systemMessage: [invalid", b"", b"jenkins:\n  invalidRoot:\n    foo: bar"):
        r = admin.post(configure, data=body, timeout=5)
        assert r.status_code == 400 and "message" in r.text, body
    reader = requests.post(configure, data=b"jenkins:\n  systemMessage: 'fail'", timeout=5,
                           auth=(READER.name, READER.tokens[0]))
    assert reader.status_code == 403
    anon = requests.Session()
    crumb = anon.get(url + "crumbIssuer/api/json", timeout=5)
    assert crumb.status_code == 403  # anonymous cannot even read: no crumb, no bypass
    r = anon.post(configure, data=b"jenkins:\n  systemMessage: 'anonymous bypass attempt'",
                  headers={"Jenkins-Crumb": "0" * 64}, timeout=5)
    assert r.status_code == 403
    for _ in range(2):
        r = admin.post(configure, data=b"jenkins:\n  systemMessage: 'same'", timeout=5)
        assert r.status_code == 200
    assert double.exported()["jenkins"]["systemMessage"] == "same"
    assert requests.get(url + "manage/configuration-as-code/schema", timeout=5).status_code == 403
    schema = admin.get(url + "manage/configuration-as-code/schema", timeout=5)
    assert schema.status_code == 200 and schema.headers["Content-Type"].startswith("application/json")


# --- the reference behaviour ------------------------------------------------------------------------

def test_bad_credentials_401_with_basic_challenge(served):
    _, url = served()
    r = requests.get(url + "api/json", auth=("admin", "wrong"), timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"'
    assert r.headers["Content-Type"].startswith("text/html")


def test_core_names_the_missing_permission(served):
    """Core's checks throw AccessDeniedException3: the 403 names user and permission (jenkins-2.555.2,
    hudson/security/AccessDeniedException3.java reportAsHeaders, AccessDeniedHandlerImpl)."""
    _, url = served()
    r = requests.get(url + "pluginManager/api/json?depth=2", auth=(READER.name, READER.tokens[0]), timeout=5)
    assert r.status_code == 403
    assert r.headers["X-You-Are-Authenticated-As"] == "reader"
    assert r.headers["X-Required-Permission"] == "hudson.model.Hudson.SystemRead"


# What ConfigurationAsCode.java (2117.vc05a_0b_e6b_f4e) checks before each endpoint, and its sendError message
CASC_DENIALS = [("configuration-as-code/check", "POST", MANAGER, "Forbidden"),
                ("configuration-as-code/apply", "POST", MANAGER, "Forbidden"),
                ("configuration-as-code/configure", "POST", MANAGER, "Requires ADMINISTER permission"),
                ("configuration-as-code/export", "POST", READER, "Forbidden"),
                ("configuration-as-code/reload", "POST", READER, "Forbidden"),
                ("configuration-as-code/schema", "GET", READER, "Forbidden")]


@pytest.mark.parametrize("path, method, who, message", CASC_DENIALS)
def test_the_configuration_as_code_plugin_denies_with_a_bare_403(served, path, method, who, message):
    """The plugin checks hasPermission itself and calls sendError(403): the container's error page, none of
    core's X-You-Are-Authenticated-As / X-Required-Permission headers, and no X-Jenkins either."""
    _, url = served()
    r = requests.request(method, url + path, data=b"jenkins: {}", auth=(who.name, who.tokens[0]), timeout=5)
    assert r.status_code == 403
    assert not {h for h in r.headers if h.lower().startswith("x-")}, r.headers
    assert f"<title>Error 403 {message}</title>" in r.text and "HTTP ERROR 403" in r.text


def test_an_error_page_shows_the_exception_only_with_stack_traces_on(served):
    """Core's oops.jelly (since 2.224): "A problem occurred", a Logging ID, and the stack trace only when
    jenkins.model.Jenkins.SHOW_STACK_TRACE is set (Jenkins.shouldShowStackTrace)."""
    for show, prefix in ((False, "/plain"), (True, "/traces")):
        _, url = served(JenkinsDouble(casc_version=CASC_OLD, show_stack_trace=show), prefix=prefix)
        r = requests.post(url + "configuration-as-code/check", data=b"nope: 1\n", timeout=5,
                          auth=(ADMIN.name, ADMIN.tokens[0]))
        assert r.status_code == 500 and r.headers["X-Jenkins"]
        assert "A problem occurred while processing the request" in r.text
        assert re.search(r"Logging ID=[0-9a-f-]{36}", r.text)
        assert ("No configurator found for the following root element: nope" in r.text) is show
        assert ("ConfiguratorException" in r.text) is show


def test_a_literal_dollar_brace_is_resolved_from_its_escape_and_exported_escaped(served):
    """SecretSourceResolver: ^${ is a literal ${ when applied, and export encodes a literal ${ as ^${."""
    double, url = served(JenkinsDouble(env={"HOME": "/var/jenkins"}))
    admin = _session(url)
    body = b"jenkins:\n  systemMessage: 'Builds cost ^${5} each, ^${HOME} stays, ${HOME} resolves'\n"
    assert admin.post(url + "configuration-as-code/configure", data=body, timeout=5).status_code == 200
    assert double.live["jenkins"]["systemMessage"] == "Builds cost ${5} each, ${HOME} stays, /var/jenkins resolves"
    exported = admin.post(url + "configuration-as-code/export", timeout=5).text
    assert "systemMessage: Builds cost ^${5} each, ^${HOME} stays, /var/jenkins resolves" in exported


def test_post_only_urls_answer_405_with_allow_and_unknown_paths_404(served):
    _, url = served()
    admin = _session(url)
    for path in ("configuration-as-code/check", "configuration-as-code/export", "configuration-as-code/reload",
                 "configuration-as-code/apply", "safeRestart", "quietDown"):
        r = admin.get(url + path, timeout=5)
        assert (r.status_code, r.headers.get("Allow")) == (405, "POST"), path
    assert admin.get(url + "no/such/thing", timeout=5).status_code == 404


def test_crumbs_are_bound_to_the_session_and_tokens_skip_them(served):
    _, url = served()
    s = _session(url, password=True)
    r = s.get(url + "crumbIssuer/api/json", timeout=5)
    body = r.json()
    assert set(body) == {"_class", "crumb", "crumbRequestField"}
    assert body["_class"] == "hudson.security.csrf.DefaultCrumbIssuer" and body["crumbRequestField"] == "Jenkins-Crumb"
    assert re.fullmatch(r"[0-9a-f]{64}", body["crumb"])
    assert re.match(r"JSESSIONID\.[0-9a-f]{8}=", r.headers["Set-Cookie"])
    crumb = {"Jenkins-Crumb": body["crumb"]}
    assert s.post(url + "configuration-as-code/export", headers=crumb, timeout=5).status_code == 200
    other = _session(url, password=True)  # same crumb, no session cookie
    r = other.post(url + "configuration-as-code/export", headers=crumb, timeout=5)
    assert r.status_code == 403 and "No valid crumb was included in the request" in r.text
    assert s.post(url + "configuration-as-code/export", timeout=5).status_code == 403  # password without crumb
    assert _session(url).post(url + "configuration-as-code/export", timeout=5).status_code == 200  # API token
    _, url2 = served(JenkinsDouble(csrf=False), prefix="/nocsrf")
    assert _session(url2).get(url2 + "crumbIssuer/api/json", timeout=5).status_code == 404


def test_restart_answers_503_then_a_new_session_and_old_crumbs_fail(served):
    double, url = served(JenkinsDouble(file_source="jenkins:\n  systemMessage: from file\n"))
    s = _session(url, password=True)
    crumb = {"Jenkins-Crumb": s.get(url + "crumbIssuer/api/json", timeout=5).json()["crumb"]}
    before = s.get(url + "api/json", timeout=5).headers["X-Jenkins-Session"]
    s.post(url + "configuration-as-code/configure", data=b"jenkins:\n  systemMessage: pushed\n", headers=crumb,
           timeout=5)
    assert double.exported()["jenkins"]["systemMessage"] == "pushed"
    r = s.post(url + "safeRestart", headers=crumb, timeout=5, allow_redirects=False)
    assert r.status_code == 302
    statuses = [s.get(url + "api/json", timeout=5).status_code for _ in range(3)]
    assert statuses == [503, 503, 503]
    r = s.get(url + "api/json", timeout=5)
    assert r.status_code == 200 and r.headers["X-Jenkins-Session"] != before
    assert s.post(url + "configuration-as-code/export", headers=crumb, timeout=5).status_code == 403
    # applied configuration is not persisted: the restart went back to the file source
    assert double.exported()["jenkins"]["systemMessage"] == "from file"


def test_check_answers_of_three_plugin_generations(served):
    # a deprecated attribute fails the check (ConfigurationContext: deprecation defaults to reject;
    # "configuration as code intentionally cancels Jenkins startup when a deprecated configuration
    # element is detected", jenkins-infra/jenkins.io#7853) unless the file relaxes it to warn
    bad, deprecated = b"foo:\n  bar: 1\n", b"jenkins:\n  agentProtocols: [JNLP4-connect]\n"
    warn = b"configuration-as-code:\n  deprecated: warn\njenkins:\n  agentProtocols: [JNLP4-connect]\n"
    for version, ok_key, error_status in ((None, "message", 400), (CASC_1947, "message", 400),
                                          (CASC_OLD, "warning", 500)):
        _, url = served(JenkinsDouble(casc_version=version) if version else JenkinsDouble(),
                             prefix=f"/v{version or 'new'}")
        admin = _session(url)
        assert admin.post(url + "configuration-as-code/check", data=b"jenkins:\n  systemMessage: x\n",
                          timeout=5).json() == []
        assert admin.post(url + "configuration-as-code/check", data=warn, timeout=5).json() == [
            {"line": 4, ok_key: "'agentProtocols' is deprecated"}]
        r = admin.post(url + "configuration-as-code/check", data=deprecated, timeout=5)
        assert r.status_code == error_status
        if error_status == 400:
            assert r.json() == [{"line": -1, "message": "'agentProtocols' is deprecated"}]
        r = admin.post(url + "configuration-as-code/check", data=bad, timeout=5)
        assert r.status_code == error_status
        # the old generation's error is an exception: on the page only with stack traces shown
        assert ("No configurator found for the following root element: foo" in r.text) is (error_status == 400)
        if error_status == 400:
            [issue] = r.json()
            assert issue["line"] == -1 and issue["message"].startswith(
                "No configurator found for the following root element: foo. This may indicate that the required "
                "plugin is not installed")
        has_configure = version is None
        r = admin.post(url + "configuration-as-code/configure", data=b"jenkins:\n  systemMessage: x\n", timeout=5)
        assert r.status_code == (200 if has_configure else 404)


def test_apply_export_and_reload_semantics(served):
    double, url = served(JenkinsDouble(file_source="jenkins:\n  systemMessage: file\n  numExecutors: 1\n"))
    admin = _session(url)
    r = admin.post(url + "configuration-as-code/apply", data=b"jenkins:\n  systemMessage: applied\n", timeout=5)
    assert (r.status_code, r.text) == (200, "")
    exported = admin.post(url + "configuration-as-code/export", timeout=5)
    assert exported.headers["Content-Type"].startswith("application/x-yaml")
    assert "systemMessage: applied" in exported.text and "numExecutors: 1" in exported.text  # keys not posted stay
    r = admin.post(url + "configuration-as-code/apply", data=b"jenkins: [broken", timeout=5)
    assert r.status_code == 500
    r = admin.post(url + "configuration-as-code/reload", timeout=5, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/manage/configuration-as-code/")
    assert double.exported()["jenkins"]["systemMessage"] == "file"  # apply was not persisted
    double.file_source = "jenkins:\n  systemMesage: typo\n"
    r = admin.post(url + "configuration-as-code/reload", timeout=5, allow_redirects=False)
    assert r.status_code == 200 and "Error loading configuration" in r.text  # the quirk


def test_reload_token_endpoint(served):
    _, url = served(JenkinsDouble(file_source="jenkins:\n  systemMessage: file\n"), prefix="/notoken")
    assert requests.post(url + "reload-configuration-as-code/?casc-reload-token=x", timeout=5).status_code == 404
    double, url = served(JenkinsDouble(file_source="jenkins:\n  systemMessage: file\n", reload_token="t0k"))
    assert requests.post(url + "reload-configuration-as-code/?casc-reload-token=bad", timeout=5).status_code == 401
    r = requests.post(url + "reload-configuration-as-code/", data={"casc-reload-token": "t0k"}, timeout=5)
    assert r.status_code == 200 and r.text == ""
    double.file_source = "bogus: 1\n"
    r = requests.post(url + "reload-configuration-as-code/?casc-reload-token=t0k", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "error"


def test_secrets_are_exported_encrypted_and_variables_resolved(served):
    body = (b"jenkins:\n  securityRealm:\n    ldap:\n      configurations:\n      - server: ldap://x\n"
            b"        managerPasswordSecret: ${LDAP_PW}\n")
    _, url = served(JenkinsDouble(env={"LDAP_PW": "hunter2"}), prefix="/noldap")
    r = _session(url).post(url + "configuration-as-code/configure", timeout=5, data=body)
    assert r.status_code == 400 and r.json()[0]["message"] == (
        "No hudson.security.SecurityRealm implementation found for ldap")  # the plugin is missing
    _, url = served(JenkinsDouble(env={"LDAP_PW": "hunter2"},
                                       plugins=plugins_for(["configuration-as-code", "ldap"])))
    admin = _session(url)
    assert admin.post(url + "configuration-as-code/configure", timeout=5, data=body).status_code == 200
    text = admin.post(url + "configuration-as-code/export", timeout=5).text
    assert "hunter2" not in text and "managerPasswordSecret: '{AQAAABAAAAAQ" in text


def test_python_jenkins_works_against_the_double(served):
    double, url = served(JenkinsDouble(version="2.555.2", plugins=plugins_for(["configuration-as-code", "git"])))
    server = jenkins.Jenkins(url, username="admin", password=ADMIN.password, timeout=5)
    assert server.get_whoami()["id"] == "admin"
    assert server.get_version() == "2.555.2"  # credentials resolved by the first call
    assert server.get_plugins()["git"]["version"] == "5.7.0"
    resp = server.jenkins_request(requests.Request("POST", url + "configuration-as-code/check",
                                                   data=b"jenkins:\n  systemMessage: hi\n"))
    assert resp.json() == []
    with pytest.raises(requests.HTTPError) as info:  # 400 surfaces raw, as the reference says
        server.jenkins_request(requests.Request("POST", url + "configuration-as-code/check", data=b"x: 1\n"))
    assert info.value.response.status_code == 400
    double.restart(1)
    with pytest.raises(jenkins.BadHTTPException):  # 503 inside get_info is wrapped
        server.get_info()


def test_answers_are_sent_without_nagle_delay(served):
    """Jetty sets TCP_NODELAY on every accepted connection (ServerConnector _acceptedTcpNoDelay = true): a
    keep-alive client gets small answers back to back, not one per delayed ACK (40 ms on Linux)."""
    _, url = served()
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    headers = basic(ADMIN.name, ADMIN.tokens[0])
    try:
        started = time.monotonic()
        for _ in range(20):
            conn.request("GET", parts.path + "me/api/json", headers=headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200
        elapsed = time.monotonic() - started
    finally:
        conn.close()
    assert elapsed < 0.4, f"20 answers took {elapsed:.2f} s: the double waits for delayed ACKs"
