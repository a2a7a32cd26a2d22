"""generator.jenkins_client against the double: typed results, error mapping, retries, crumbs, faults.

All double only (fault injection)."""

from __future__ import annotations

import re

import pytest
from jenkins_double import CASC_OLD, Fault, JenkinsDouble, closed_port_url, plugins_for
from push_helpers import ADMIN, MARKER, READER, users

from generator.jenkins_client import (
    AuthError,
    BadResponse,
    CheckIssue,
    Credentials,
    Interrupted,
    JenkinsClient,
    JenkinsError,
    NotFound,
    RemoteError,
    RetryPolicy,
    Timeout,
    Unreachable,
)

FAST = RetryPolicy(attempts=3, base=0.01, cap=0.02)


@pytest.fixture
def double_url(serve):
    def start(double=None, prefix="/ci"):
        double = double or JenkinsDouble(users=users(), plugins=plugins_for(["configuration-as-code", "git"]))
        return double, serve({prefix: double}).url(prefix)
    return start


def client(url, user=ADMIN.name, secret=MARKER, **kw) -> JenkinsClient:
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 5)
    return JenkinsClient(url, Credentials(user, secret), **kw)


def test_whoami_version_session_and_plugins(double_url):
    double, url = double_url(JenkinsDouble(version="2.541.3", users=users(),
                                           plugins=plugins_for(["configuration-as-code", "git"])))
    c = client(url)
    me = c.whoami()
    assert (me.user, me.full_name, me.version, me.session) == ("admin", "Administrator", "2.541.3", double.session_id)
    plugins = {p.short_name: p for p in c.plugins()}
    assert plugins["git"].version == "5.7.0" and plugins["git"].active
    assert ("scm-api", False) in plugins["git"].dependencies
    assert [(r.method, r.path, r.status) for r in c.log] == [  # no crumb: only POSTs need one
        ("GET", "/ci/me/api/json", 200), ("GET", "/ci/pluginManager/api/json", 200)]
    c.check("jenkins: {}\n")  # an API token skips the crumb check: no crumb fetched
    assert [r.path for r in c.log[2:]] == ["/ci/configuration-as-code/check"]


def test_a_password_gets_a_crumb_after_the_first_refused_post_then_keeps_it(double_url):
    double, url = double_url()
    c = client(url, secret=ADMIN.password)
    c.check("jenkins: {}\n")
    c.export()
    assert [(r.path, r.status) for r in c.log] == [
        ("/ci/configuration-as-code/check", 403), ("/ci/crumbIssuer/api/json", 200),
        ("/ci/configuration-as-code/check", 200), ("/ci/configuration-as-code/export", 200)]
    assert [r.auth for r in double.requests("/configuration-as-code/check")] == ["password", "password"]


def test_check_results_in_both_formats(double_url):
    _, url = double_url()
    c = client(url)
    assert c.check("jenkins:\n  systemMessage: ok\n").issues == ()
    # deprecated attributes fail unless the file says `deprecated: warn` (ConfigurationContext)
    relaxed = "configuration-as-code:\n  deprecated: warn\njenkins:\n  agentProtocols: [Ping]\n"
    warned = c.check(relaxed)
    assert warned.warnings == [CheckIssue(4, "'agentProtocols' is deprecated", "warning")] and not warned.errors
    assert c.check("jenkins:\n  agentProtocols: [Ping]\n").errors == [
        CheckIssue(-1, "'agentProtocols' is deprecated", "error")]
    bad = c.check("jenkins:\n  nope: 1\n")
    assert bad.errors[0].message.startswith("Invalid configuration elements for type: class jenkins.model.Jenkins "
                                            ": nope.")
    _, old_url = double_url(JenkinsDouble(users=users(), casc_version=CASC_OLD), prefix="/old")
    old = client(old_url)
    assert old.check(relaxed).warnings[0].line == 4
    # Jenkins 2.224+ keeps the exception of a 500 page in its log: the message says where to look
    [error] = old.check("x: 1\n", legacy_errors=True).errors
    assert re.fullmatch(r"rejected without details: configuration-as-code plugins before 1947 report check errors "
                        r"as a 500 page, which Jenkins 2\.224 and later show only in its log \(Logging ID "
                        r"[0-9a-f-]{36}\); plugin 1947 or later lists the errors", error.message), error.message
    _, shown_url = double_url(JenkinsDouble(users=users(), casc_version=CASC_OLD, show_stack_trace=True),
                              prefix="/shown")
    [shown] = client(shown_url).check("x: 1\n", legacy_errors=True).errors
    assert (shown.line, shown.severity) == (-1, "error")
    assert shown.message.startswith("No configurator found for the following root element: x. This may indicate")
    with pytest.raises(RemoteError) as info:  # without legacy_errors a 500 is a server failure
        old.check("x: 1\n")
    assert info.value.status == 500


def test_apply_prefers_configure_and_falls_back_once(double_url):
    _, url = double_url()
    c = client(url)
    assert c.apply("jenkins:\n  systemMessage: one\n").endpoint == "configure"
    rejected = c.apply("jenkins:\n  systemMessage: [broken\n")
    assert not rejected.ok and rejected.endpoint == "configure" and "line 3, column 1" in rejected.issues[0].message
    old_double, old_url = double_url(JenkinsDouble(users=users(), casc_version=CASC_OLD), prefix="/old")
    old = client(old_url)
    assert old.apply("jenkins:\n  systemMessage: one\n").endpoint == "apply"
    assert old.apply("jenkins:\n  systemMessage: two\n").endpoint == "apply"
    assert len(old_double.requests("/configuration-as-code/configure")) == 1  # remembered
    assert old_double.exported()["jenkins"]["systemMessage"] == "two"
    failed = old.apply("jenkins: [broken\n")
    assert failed.endpoint == "apply" and not failed.ok


def test_auth_errors_name_user_and_permission(double_url):
    _, url = double_url()
    with pytest.raises(AuthError) as info:
        client(url, secret="11" + "0" * 32).whoami()
    assert info.value.status == 401 and info.value.user == "admin"
    assert str(info.value) == ("GET /me/api/json: 401 Unauthorized: Jenkins rejected user 'admin' "
                               "(wrong user name or API token)")
    with pytest.raises(AuthError) as info:
        client(url, READER.name, READER.tokens[0]).plugins()
    assert (info.value.status, info.value.user, info.value.permission) == (403, "reader",
                                                                           "hudson.model.Hudson.SystemRead")
    anonymous = JenkinsClient(url, None, timeout=5, retry=FAST)
    with pytest.raises(AuthError) as info:
        anonymous.whoami()
    assert "user 'anonymous' lacks Overall/Read (hudson.model.Hudson.Read)" in str(info.value)


def test_stale_crumb_is_refetched_once_then_reported(double_url):
    double, url = double_url()
    c = client(url, secret=ADMIN.password)
    c.check("jenkins: {}\n")  # a POST: 403 without a crumb, then fetches one
    double.expire_crumbs()
    assert c.export()  # 403, fresh crumb, retry
    assert [r.status for r in double.requests("/configuration-as-code/export")] == [403, 200]
    double.inject(Fault("expire_crumbs", path="/export", times=2))
    with pytest.raises(AuthError) as info:
        c.export()
    assert "No valid crumb, even with a fresh one" in str(info.value)


def test_api_token_needs_no_valid_crumb(double_url):
    double, url = double_url()
    c = client(url)
    c.check("jenkins: {}\n")  # a POST: fetches no crumb
    double.expire_crumbs()
    assert c.export()
    assert [r.status for r in double.requests("/configuration-as-code/export")] == [200]
    assert double.requests("/crumbIssuer") == []


def test_retries_503_storm_with_backoff_bounded(double_url):
    double, url = double_url()
    delays = []
    c = client(url, retry=RetryPolicy(attempts=4, base=0.1, cap=0.15), sleep=delays.append)
    double.inject(Fault("status", path="/me/api/json", status=503, times=2))
    assert c.whoami().user == "admin"
    assert len(delays) == 2 and 0.05 <= delays[0] <= 0.1 and 0.075 <= delays[1] <= 0.15
    double.inject(Fault("status", path="/pluginManager", status=503, times=-1))
    with pytest.raises(RemoteError) as info:
        c.plugins()
    assert info.value.status == 503 and str(info.value).endswith("(after 4 attempts)")
    assert len(double.requests("/pluginManager")) == 4


def test_500_401_403_400_are_not_retried(double_url):
    double, url = double_url()
    c = client(url)
    double.inject(Fault("status", path="/pluginManager", status=500, times=-1))
    with pytest.raises(RemoteError) as info:
        c.plugins()
    assert info.value.status == 500 and len(double.requests("/pluginManager")) == 1
    with pytest.raises(AuthError):
        client(url, secret="wrong").whoami()
    assert len(double.requests("/crumbIssuer", None)) <= 3


def test_connection_faults(double_url):
    double, url = double_url()
    c = client(url)
    double.inject(Fault("drop", path="/me/api/json"), Fault("reset", path="/pluginManager"))
    assert c.whoami().user == "admin"  # dropped once, retried
    assert c.plugins()  # reset mid-response once, retried
    double.inject(Fault("reset", path="/pluginManager", times=-1))
    with pytest.raises(Unreachable) as info:
        c.plugins()
    assert "connection dropped mid-response" in str(info.value) or "connection" in str(info.value)
    with pytest.raises(Unreachable) as info:
        client(closed_port_url()).whoami()
    assert str(info.value) == "GET /me/api/json: connection refused (after 3 attempts)"


def test_timeout_is_not_retried(double_url):
    double, url = double_url()
    double.inject(Fault("delay", path="/me/api/json", seconds=1.5))
    with pytest.raises(Timeout) as info:
        client(url, timeout=0.3).whoami()
    assert str(info.value) == "GET /me/api/json: no complete answer within 0.3 s"
    assert len(double.requests("/me/api/json")) == 1


def test_a_request_has_a_deadline_whatever_the_answer_trickles(double_url):
    """Headers at once, then one byte every 0.05 s: each read succeeds, the request as a whole must end."""
    import time
    double, url = double_url()
    double.inject(Fault("trickle", path="/configuration-as-code/export", seconds=0.05))
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        client(url, timeout=0.5).export()  # the export is some 1,000 bytes: 50 s at that pace
    assert time.monotonic() - started < 5
    assert str(info.value) == "POST /configuration-as-code/export: no complete answer within 0.5 s"


def test_abort_cuts_the_request_in_flight(double_url):
    import threading
    import time
    double, url = double_url()
    double.inject(Fault("delay", path="/me/api/json", seconds=30))
    c = client(url, timeout=60)
    threading.Timer(0.3, c.abort).start()
    started = time.monotonic()
    with pytest.raises(Interrupted, match=r"^GET /me/api/json: interrupted$"):
        c.whoami()
    assert time.monotonic() - started < 5
    with pytest.raises(Interrupted):  # and nothing after it
        c.plugins()


def test_an_answer_larger_than_the_limit_is_not_read(double_url):
    double, url = double_url()
    c = client(url, max_body=64 * 1024)
    assert c.plugins()  # a few KiB
    double.inject(Fault("flood", path="/pluginManager", size=1024 ** 2, declare=False))
    with pytest.raises(BadResponse, match=r"^GET /pluginManager/api/json: the answer is larger than 0\.0625 MiB: "
                                          r"not read$"):
        c.plugins()


def test_bad_answers(double_url):
    double, url = double_url()
    c = client(url)
    double.inject(Fault("html", path="/me/api/json"))
    with pytest.raises(BadResponse, match="not JSON"):
        c.whoami()
    double.inject(Fault("malformed_json", path="/pluginManager"))
    with pytest.raises(BadResponse, match="answered application/json that is not JSON"):
        c.plugins()
    double.inject(Fault("html", path="/configuration-as-code/export"))
    with pytest.raises(BadResponse, match="HTML page instead of YAML"):
        c.export()
    with pytest.raises(NotFound):
        c._send("GET", "no/such/page")


def test_reload_success_quirk_and_token(double_url):
    double, url = double_url(JenkinsDouble(users=users(), file_source="jenkins:\n  systemMessage: f\n",
                                           reload_token="tok3n"))
    c = client(url)
    assert c.reload().ok
    double.file_source = "jenkins:\n  bogus: 1\n"
    failed = c.reload()
    assert not failed.ok and failed.issues[0].message.startswith("Invalid configuration elements")
    assert double.requests("/configuration-as-code/reload")[-1].status == 200
    assert not c.reload_with_token("tok3n").ok
    double.file_source = "jenkins:\n  systemMessage: g\n"
    assert c.reload_with_token("tok3n").ok
    with pytest.raises(AuthError):
        c.reload_with_token("wrong")
    assert all("tok3n" not in r.path for r in c.log)


def test_no_secret_in_repr_or_messages(double_url):
    _, url = double_url()
    c = client(url, secret=MARKER)
    creds = Credentials("admin", MARKER)
    assert MARKER not in repr(c) and MARKER not in repr(creds) and MARKER not in str(creds)
    for fault, answer in ((Fault("status", status=500), "500 Internal Server Error"),
                          (Fault("drop", times=-1), "connection closed without answer")):
        double, url = double_url()
        double.inject(fault)
        c = client(url, secret=MARKER[:-1] + "1")
        with pytest.raises(JenkinsError) as info:
            c.whoami()
        assert answer in str(info.value)  # the fault was met
        assert MARKER[:-1] not in str(info.value) and MARKER[:-1] not in repr(info.value)


def test_tls_verification_on_by_default_even_with_pythonhttpsverify(monkeypatch, double_url):
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
    _, url = double_url()
    assert client(url)._server._session.verify is True
    assert client(url, verify=False)._server._session.verify is False
