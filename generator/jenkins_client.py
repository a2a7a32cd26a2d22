"""The only module that speaks HTTP to Jenkins: python-jenkins 1.8.3 underneath, typed results on top.

python-jenkins keeps one requests.Session per `jenkins.Jenkins` (so cookies, and
with them session-bound crumbs, persist) but has habits a fleet tool must
correct: no default timeout, a crumb cached forever and read without a check,
400/405/503 surfacing as raw `requests.HTTPError` while 401/403/500 become
`JenkinsException` with the response only in the exception's context,
`get_version()` sending no credentials when it is the first call,
JENKINS_API_EXTRA_HEADERS logged with its values. This module hides all of that
behind `JenkinsClient`, whose methods return dataclasses and raise only
`JenkinsError` subclasses.

What a controller (or anything on the path) can do to us is bounded here:

- every request has a deadline (`timeout`: connect, send and the whole answer),
  also against an answer that arrives one byte at a time, and `abort()` (Ctrl-C)
  cuts the request in flight at once, by shutting its socket down;
- an answer is read up to `max_body` bytes, then refused;
- a redirect to another origin (scheme, host, port) is never followed, so the
  credentials and any extra headers never reach another host; the answer that
  redirected is reported instead;
- every answer is validated (generator/jenkins_answers.py) before it is used;
- our credentials, in any form a page could echo them (the token, the Basic
  header, URL- or JSON-escaped, an extra header's value), are cut out of every
  answer before anything reads it.

No credential ever appears in an exception text, a repr or the request log:
messages are built here from status, method and path (never the query string,
never a library's exception text).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit

import jenkins
import requests
import urllib3
from requests.adapters import HTTPAdapter

from . import jenkins_answers as answers
from .jenkins_answers import (  # noqa: F401 - typed results, re-exported
    KUBERNETES_COMPUTER,
    CheckIssue,
    Computer,
    ControllerState,
    InstalledPlugin,
    Malformed,
    QueueItem,
)

DEFAULT_TIMEOUT = 30.0
MAX_BODY = 8 * 1024 * 1024  # a large export or plugin list is well under 2 MiB
MAX_REDIRECTS = 5
RETRYABLE_STATUS = (502, 503, 504)
YAML_TYPE = "application/x-yaml; charset=utf-8"
EXTRA_HEADERS_ENV = "JENKINS_API_EXTRA_HEADERS"

# The permissions of each request (core's Jenkins.READ, MANAGE, SYSTEM_READ, ADMINISTER; the
# configuration-as-code plugin's checks in ConfigurationAsCode.java at 2117.vc05a_0b_e6b_f4e).
READ = "hudson.model.Hudson.Read"
MANAGE = "hudson.model.Hudson.Manage"
SYSTEM_READ = "hudson.model.Hudson.SystemRead"
ADMINISTER = "hudson.model.Hudson.Administer"


# --- errors ---------------------------------------------------------------------------------

class JenkinsError(Exception):
    """A failure talking to one controller; the text is safe to show (no credentials)."""

    retryable = False

    def __init__(self, message: str, *, request: str = ""):
        self.request = request  # "POST /configuration-as-code/check", never with a query string
        super().__init__(message)


class Unreachable(JenkinsError):
    """No HTTP answer: refused, reset, connect timeout."""

    retryable = True


class HostNotFound(Unreachable):
    """The name does not resolve: asking again will not help."""

    retryable = False


class Timeout(JenkinsError):
    """The controller accepted the connection but did not answer in time (not retried: it may have acted)."""


class Interrupted(JenkinsError):
    """Ctrl-C: the request was cut."""


class TLSError(JenkinsError):
    """The certificate did not verify."""


class BadResponse(JenkinsError):
    """An answer that is not what the endpoint returns: malformed, an HTML page instead of JSON, too large,
    a redirect to another host."""


class RemoteError(JenkinsError):
    """An HTTP error status."""

    def __init__(self, message: str, *, status: int, request: str = "", body: str = "",
                 headers: dict[str, str] | None = None):
        self.status = status
        self.redirected = False  # set when the error page is the target of a redirect
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(message, request=request)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in RETRYABLE_STATUS


class NotFound(RemoteError):
    pass


class AuthError(RemoteError):
    """401 (bad user or token) or 403 (missing permission)."""

    def __init__(self, message: str, *, status: int, user: str, permission: str = "", request: str = "",
                 body: str = "", headers: dict[str, str] | None = None):
        self.user = user
        self.permission = permission
        super().__init__(message, status=status, request=request, body=body, headers=headers)


class _StaleCrumb(RemoteError):
    """403 "No valid crumb": the crumb belonged to a session the controller no longer has."""


# --- typed results --------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    user: str
    token: str = field(repr=False)

    def __str__(self) -> str:
        return self.user


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for connection errors and 502/503/504 (bounded)."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1)) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Identity:
    user: str
    full_name: str
    version: str  # X-Jenkins
    session: str  # X-Jenkins-Session


@dataclass(frozen=True)
class CheckResult:
    issues: tuple[CheckIssue, ...]

    @property
    def errors(self) -> list[CheckIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[CheckIssue]:
        return [i for i in self.issues if i.severity == "warning"]


@dataclass(frozen=True)
class ApplyResult:
    endpoint: str  # configure | apply | reload | reload-token
    issues: tuple[CheckIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class QueueState:
    items: tuple[QueueItem, ...]
    now: int  # epoch milliseconds by the controller's clock (its Date header), else ours

    def longest_wait(self) -> float:
        """Seconds the oldest item has waited (0 when the queue is empty)."""
        return max((max(0, self.now - i.in_queue_since) / 1000 for i in self.items), default=0.0)


@dataclass(frozen=True)
class Computers:
    busy_executors: int  # busy executors of online computers (ComputerSet.getBusyExecutors)
    total_executors: int  # executors of online computers
    computers: tuple[Computer, ...]


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    seconds: float


def extra_header_names(env) -> list[str]:
    """The header names JENKINS_API_EXTRA_HEADERS adds to every request (python-jenkins reads it); never values."""
    return [line.split(":", 1)[0].strip() for line in env.get(EXTRA_HEADERS_ENV, "").split("\n") if ":" in line]


# --- the guarded transport ------------------------------------------------------------------

class _Cut(Exception):
    """Raised through requests when a request is cut (deadline, abort) or its answer refused (too large).
    Not an OSError: urllib3 and requests must not retry or rename it on the way up."""

    def __init__(self, reason: str):
        self.reason = reason  # deadline | interrupted | too-large
        super().__init__(reason)


class _Call:
    """One HTTP exchange in flight: its connection, so that a deadline or Ctrl-C can cut it."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.reason = ""
        self.finished = False
        self.timer: threading.Timer | None = None
        self._conn = None
        self._lock = threading.Lock()

    def attach(self, conn) -> None:
        with self._lock:  # not raising here even when cut: the pool must get its connection back
            self._conn = conn

    def cut(self, reason: str) -> bool:
        """Mark the call cut and shut its socket down; False while there is no socket yet (connecting)."""
        with self._lock:
            if self.finished:
                return True
            self.reason = self.reason or reason
            sock = getattr(self._conn, "sock", None)
            if sock is None:
                return False
            # the socket level: an SSLSocket's own shutdown() would drop its SSL state under the reader
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            return True

    def finish(self) -> None:
        with self._lock:
            self.finished = True


def _cut_until_done(call: _Call, reason: str) -> None:
    while not call.cut(reason):  # still connecting: the socket appears within the connect timeout
        time.sleep(0.05)


class _Guard:
    """Deadline, abort, size limit and scrubbing for one client's requests (one at a time)."""

    def __init__(self, timeout: float, max_body: int, secrets: list[str]):
        self.timeout = timeout
        self.max_body = max_body
        self.aborted = ""
        self.current: _Call | None = None
        self._deadline: float | None = None
        self._lock = threading.Lock()
        self._scrub = _scrubber(secrets)

    def begin(self) -> _Call:
        call = _Call(self._deadline or time.monotonic() + self.timeout)
        with self._lock:
            if self.aborted:
                raise _Cut(self.aborted)
            self.current = call
        timer = threading.Timer(max(0.0, call.deadline - time.monotonic()), _cut_until_done, (call, "deadline"))
        timer.daemon = True
        timer.start()
        call.timer = timer
        return call

    def end(self, call: _Call) -> None:
        call.finish()
        if call.timer is not None:
            call.timer.cancel()
        with self._lock:
            if self.current is call:
                self.current = None

    def abort(self, reason: str) -> None:
        with self._lock:
            self.aborted = self.aborted or reason
            call = self.current
        if call is not None:
            threading.Thread(target=_cut_until_done, args=(call, reason), daemon=True).start()

    @contextlib.contextmanager
    def deadline(self):
        """The requests inside (a request and its redirects) share one deadline."""
        self._deadline = time.monotonic() + self.timeout
        try:
            yield
        finally:
            self._deadline = None

    def scrub(self, data: bytes) -> bytes:
        return self._scrub(data)


MIN_SECRET = 8  # shorter secrets are not cut out: they would match ordinary words of an export
# What replaces them: no markup (an HTML excerpt would drop "<...>"), and still a plain string in YAML
REDACTED = b"(redacted)"


def _scrubber(secrets: list[str]) -> Callable[[bytes], bytes]:
    """Cut our credentials out of an answer, in every form a page could echo them: as sent (the token, the
    Basic header's base64 of user:token, an extra header's value), URL-encoded, JSON-escaped (json-lib
    writes / as \\/), HTML-escaped. Exact strings only: a pattern such as "Basic \\S+" would also cut
    ordinary text of an export (a pod template named basic)."""
    forms: set[bytes] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET:
            continue
        escaped = json.dumps(secret)[1:-1]
        for form in (secret, quote(secret, safe=""), escaped, escaped.replace("/", "\\/"), html.escape(secret)):
            forms.add(form.encode("utf-8"))
    ordered = sorted(forms, key=len, reverse=True)

    def scrub(data: bytes) -> bytes:
        for form in ordered:
            if form in data:
                data = data.replace(form, REDACTED)
        return data
    return scrub


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)


def _shown_origin(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, 80, 443) else "")


def _tracked(pool_class: type, guard: _Guard) -> type:
    class Tracked(pool_class):
        def _get_conn(self, timeout=None):
            conn = super()._get_conn(timeout)
            call = guard.current
            if call is not None:
                call.attach(conn)
            return conn
    return Tracked


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter with the guard: a deadline per request, a bounded body, scrubbed answers."""

    def __init__(self, guard: _Guard):
        self.guard = guard
        # Pools that tell the guard which connection a request uses (to shut its socket down).
        self._pools = {"http": _tracked(urllib3.HTTPConnectionPool, guard),
                       "https": _tracked(urllib3.HTTPSConnectionPool, guard)}
        super().__init__(max_retries=0)  # retries are ours (JenkinsClient._call), with backoff

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are their own classes: per-read timeout only
            manager.pool_classes_by_scheme = dict(self._pools)
        return manager

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        call = self.guard.begin()
        try:
            remaining = max(0.01, call.deadline - time.monotonic())
            resp = super().send(request, stream=True, timeout=(remaining, remaining), verify=verify, cert=cert,
                                proxies=proxies)
            try:
                if call.reason:
                    raise _Cut(call.reason)
                self._read(resp, call)
            except BaseException:
                resp.close()  # never hand a half-read connection back to the pool
                raise
            return resp
        except _Cut:
            raise
        except Exception as exc:
            if call.reason:  # the socket was shut under the request: say why, not how it broke
                raise _Cut(call.reason) from exc
            raise
        finally:
            self.guard.end(call)

    def _read(self, resp: requests.Response, call: _Call) -> None:
        limit = self.guard.max_body
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            raise _Cut("too-large")
        chunks, size = [], 0
        try:
            for chunk in resp.raw.stream(65536, decode_content=True):
                size += len(chunk)
                if size > limit:
                    raise _Cut("too-large")
                if call.reason:
                    raise _Cut(call.reason)
                chunks.append(chunk)
        except urllib3.exceptions.ReadTimeoutError as exc:  # as requests' iter_content translates them
            raise requests.exceptions.ReadTimeout(exc) from None
        except urllib3.exceptions.SSLError as exc:
            raise requests.exceptions.SSLError(exc) from None
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from None
        except (urllib3.exceptions.ProtocolError, OSError) as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        resp._content = self.guard.scrub(b"".join(chunks))
        resp._content_consumed = True
        resp.reason = self.guard.scrub((resp.reason or "").encode("latin-1", "replace")).decode("latin-1")
        for name, value in list(resp.headers.items()):
            clean = self.guard.scrub(value.encode("latin-1", "replace")).decode("latin-1")
            if clean != value:
                resp.headers[name] = clean


class _QuietExtraHeaders(logging.Filter):
    """python-jenkins logs JENKINS_API_EXTRA_HEADERS with the values (a proxy's token, say): not that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(EXTRA_HEADERS_ENV)


_QUIET = _QuietExtraHeaders()
_CONSTRUCTING = threading.Lock()


# --- the client -----------------------------------------------------------------------------

class JenkinsClient:
    """One controller.  Not thread-safe: use one client per worker (abort() may come from any thread)."""

    def __init__(self, url: str, credentials: Credentials | None, *, timeout: float = DEFAULT_TIMEOUT,
                 verify: bool = True, retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
                 max_body: int = MAX_BODY):
        self.url = url.rstrip("/") + "/"
        self.user = credentials.user if credentials else "anonymous"
        self.timeout = timeout
        self.retry = retry
        self.log: list[RequestRecord] = []
        self.sessions: list[str] = []  # every distinct X-Jenkins-Session seen, in order
        self.version: str | None = None
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait  # a backoff ends at once on abort()
        self._rng = rng or random.Random()
        self._configure_available: bool | None = None
        # POSTs go without a crumb until one is refused for the lack of it: requests authenticated with an
        # API token skip the crumb check (core 2.96+, CrumbFilter; shared/reference/jenkins-http-api.md), so
        # a token saves the GET /crumbIssuer round trip; a password (or an older core) pays one 403 and
        # from then on every POST carries the session's crumb. The 403 comes from the filter, before any
        # endpoint runs: sending the POST again applies nothing twice.
        self._crumb_wanted = False
        with _CONSTRUCTING:  # the filter is on the root logger only while python-jenkins reads the variable
            root = logging.getLogger()
            root.addFilter(_QUIET)
            try:
                self._server = jenkins.Jenkins(self.url, username=credentials.user if credentials else None,
                                               password=credentials.token if credentials else None, timeout=timeout)
            finally:
                root.removeFilter(_QUIET)
        session = self._server._session
        secrets = [v for k, v in session.headers.items() if k in extra_header_names(os.environ)]
        if credentials:
            secrets += [credentials.token,
                        base64.b64encode(f"{credentials.user}:{credentials.token}".encode()).decode()]
        self._guard = _Guard(timeout, max_body, secrets)
        # python-jenkins turns verification off when PYTHONHTTPSVERIFY=0; ours is explicit.
        session.verify = verify
        session.adapters.clear()
        adapter = _GuardedAdapter(self._guard)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.max_redirects = MAX_REDIRECTS
        session.get_redirect_target = self._redirect_target
        session.hooks["response"].append(self._observe)

    def __repr__(self) -> str:
        return f"JenkinsClient({self.url!r}, user={self.user!r})"

    def close(self) -> None:
        self._server._session.close()

    def abort(self, reason: str = "interrupted") -> None:
        """Cut the request in flight and refuse the next ones (from any thread: Ctrl-C)."""
        self._stop.set()
        self._guard.abort(reason)

    # --- what the push needs ----------------------------------------------------------------

    def whoami(self) -> Identity:
        """GET /me/api/json (the request python-jenkins' get_whoami makes; the first one sends credentials)."""
        data, _ = self._json_response("GET", "me/api/json", needs=READ)
        ident, full_name = self._parsed("GET /me/api/json", answers.user, data)
        return Identity(ident, full_name, self.version or "", self.sessions[-1] if self.sessions else "")

    def plugins(self, *, crumb: bool = True) -> list[InstalledPlugin]:
        data, _ = self._json_response("GET", "pluginManager/api/json?depth=2", crumb=crumb, needs=SYSTEM_READ)
        return self._parsed("GET /pluginManager/api/json", answers.plugins, data)

    def check(self, yaml_text: str, *, legacy_errors: bool = False) -> CheckResult:
        """POST the YAML to /configuration-as-code/check: warnings (200) or errors (400; a 500 error page
        when `legacy_errors`, as plugins before 1947.x answer). Any other answer is not a check result."""
        what = "POST /configuration-as-code/check"
        try:
            resp = self._send("POST", "configuration-as-code/check", data=yaml_text.encode("utf-8"),
                              headers={"Content-Type": YAML_TYPE}, needs=ADMINISTER)
        except RemoteError as err:
            if err.status == 400 and not err.redirected:
                return CheckResult(_rejection(err.body))
            if err.status == 500 and legacy_errors and not err.redirected and not isinstance(err, AuthError):
                return CheckResult((CheckIssue(-1, _legacy_error(err.body, "check"), "error"),))
            raise
        if resp.history:
            raise BadResponse(f"{what} was redirected: the answer is not a check result", request=what)
        if not resp.text.strip():  # a clean check is `[]`: an empty page proves nothing was checked
            raise BadResponse(f"{what} answered an empty body instead of its JSON list (a proxy in the way?)",
                              request=what)
        data = self._document(what, resp)
        return CheckResult(self._parsed(what, answers.check_issues, data, "warning",
                                        wrong="answered something that is not a check result"))

    def export(self) -> dict:
        """POST /configuration-as-code/export: the live configuration, parsed (aliases and depth bounded)."""
        what = "POST /configuration-as-code/export"
        resp = self._send("POST", "configuration-as-code/export", needs=SYSTEM_READ)
        if "html" in resp.headers.get("Content-Type", ""):
            raise BadResponse(f"{what} answered an HTML page instead of YAML", request=what)
        try:
            data = answers.yaml_document(resp.text)
        except Malformed as exc:
            raise BadResponse(f"{what} answered {exc}", request=what) from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise BadResponse(f"{what} did not answer a YAML mapping", request=what)
        return data

    def apply(self, yaml_text: str) -> ApplyResult:
        """/configure where the plugin has it (2065.x+), else /apply; a rejected configuration is in `issues`."""
        body = yaml_text.encode("utf-8")
        if self._configure_available is not False:
            try:
                resp = self._send("POST", "configuration-as-code/configure", data=body,
                                  headers={"Content-Type": YAML_TYPE}, needs=ADMINISTER)
                _unconfirmed("POST /configuration-as-code/configure", resp)
                self._configure_available = True
                return ApplyResult("configure")
            except RemoteError as err:
                if err.status == 400 and not err.redirected:
                    return ApplyResult("configure", _rejection(err.body))
                if err.status not in (404, 405) or isinstance(err, AuthError) or err.redirected:
                    raise
                self._configure_available = False
        try:
            resp = self._send("POST", "configuration-as-code/apply", data=body, headers={"Content-Type": YAML_TYPE},
                              needs=ADMINISTER)
        except RemoteError as err:
            if err.status == 500 and not isinstance(err, AuthError) and not err.redirected:
                return ApplyResult("apply", (CheckIssue(-1, _legacy_error(err.body, "apply"), "error"),))
            raise
        _unconfirmed("POST /configuration-as-code/apply", resp)
        return ApplyResult("apply")

    def reload(self) -> ApplyResult:
        """POST /configuration-as-code/reload: success is a redirect; a 200 page means it failed."""
        what = "POST /configuration-as-code/reload"
        try:
            resp = self._send("POST", "configuration-as-code/reload", needs=MANAGE, redirect_ok=True)
        except RemoteError as err:
            if err.redirected:  # the reload worked; only the page it redirects to failed
                return ApplyResult("reload")
            raise
        if resp.is_redirect or (resp.history and resp.history[0].status_code in (301, 302, 303)):
            return ApplyResult("reload")  # followed on the same origin, or the redirect itself (not followed)
        text = answers.html_text(resp.text)
        if "Error loading configuration" in text:
            message = text.split("Error loading configuration", 1)[1].strip() or "unknown error"
            return ApplyResult("reload", (CheckIssue(-1, answers.clip(message), "error"),))
        raise BadResponse(f"{what} answered 200 without redirecting: the reload cannot be confirmed",
                          request=what)

    def reload_with_token(self, token: str) -> ApplyResult:
        """POST /reload-configuration-as-code/ with the token in the form body (never in the URL, never logged)."""
        what = "POST /reload-configuration-as-code/"
        resp = self._send("POST", "reload-configuration-as-code/", data={"casc-reload-token": token},
                          crumb=False)
        _unconfirmed(what, resp)
        text = resp.text.strip()
        if text.startswith(("{", "[")):
            data = self._document(what, resp)
            items = data if isinstance(data, list) else [data]
            messages = [answers.clip(str(i.get("message") or i.get("error") or "error"))
                        for i in items if isinstance(i, dict)
                        and (i.get("status") == "error" or "error" in i or "message" in i)]
            if messages:
                return ApplyResult("reload-token", tuple(CheckIssue(-1, m, "error") for m in messages))
        if "Error loading configuration" in text:
            return ApplyResult("reload-token", (CheckIssue(-1, answers.clip(answers.html_text(text)), "error"),))
        return ApplyResult("reload-token")

    # --- what `fleet status` needs (GETs only: no crumb) --------------------------------------

    def controller_state(self) -> ControllerState:
        """GET /api/json?tree=quietingDown,quietDownReason; the version is the answer's X-Jenkins."""
        data, resp = self._json_response("GET", "api/json?tree=quietingDown,quietDownReason", crumb=False,
                                         needs=READ)
        version = answers.clip(resp.headers.get("X-Jenkins", ""), 100)
        return self._parsed("GET /api/json", answers.controller, data, version,
                            wrong="did not describe a Jenkins controller")

    def queue(self) -> QueueState:
        """GET /queue/api/json: what waits, why, and since when (inQueueSince, epoch ms)."""
        data, resp = self._json_response(
            "GET", "queue/api/json?tree=items[id,inQueueSince,why,blocked,buildable,stuck,task[name,fullName]]",
            crumb=False, needs=READ)
        return QueueState(self._parsed("GET /queue/api/json", answers.queue, data), _server_time_ms(resp))

    def computers(self) -> Computers:
        """GET /computer/api/json: executors busy and online, and every computer (node or agent pod)."""
        data, _ = self._json_response(
            "GET", "computer/api/json?tree=busyExecutors,totalExecutors,"
                   "computer[displayName,offline,idle,numExecutors]", crumb=False, needs=READ)
        return Computers(*self._parsed("GET /computer/api/json", answers.computers, data))

    # --- plumbing ---------------------------------------------------------------------------

    def _observe(self, response: requests.Response, *args, **kwargs) -> None:
        version = response.headers.get("X-Jenkins")
        if version:
            self.version = answers.clip(version, 100)
        session = response.headers.get("X-Jenkins-Session")
        if session and (not self.sessions or self.sessions[-1] != session):
            self.sessions.append(answers.clip(session, 100))
        path = self._guard.scrub(requests.utils.urlparse(response.request.url).path.encode()).decode()
        self.log.append(RequestRecord(response.request.method, path, response.status_code,
                                      response.elapsed.total_seconds()))

    def _redirect_target(self, resp: requests.Response) -> str | None:
        """requests' Session.get_redirect_target, for the same origin only: a redirect elsewhere is not
        followed (credentials and extra headers would go with it); the caller reports it."""
        target = requests.Session.get_redirect_target(self._server._session, resp)
        if target is None or _origin(urljoin(resp.url, target)) != _origin(resp.url):
            return None
        return target

    def _parsed(self, what: str, parse, *args, wrong: str = ""):
        try:
            return parse(*args)
        except Malformed as exc:
            raise BadResponse(f"{what} {wrong or 'answered unexpected content'}: {exc}", request=what) from None

    def _document(self, what: str, resp: requests.Response):
        try:
            return answers.json_document(resp.text)
        except Malformed:
            kind = answers.clip(resp.headers.get("Content-Type", "").split(";")[0], 60) or "no content type"
            raise BadResponse(f"{what} answered {kind} that is not JSON"
                              + (" (a login page or a proxy in the way?)" if "html" in kind else ""),
                              request=what) from None

    def _json_response(self, method: str, path: str, *, crumb: bool = True, needs: str = ""):
        what = f"{method} /{path.split('?')[0]}"
        resp = self._send(method, path, crumb=crumb, needs=needs)
        return self._document(what, resp), resp

    def _unredirected(self, what: str, resp: requests.Response) -> None:
        if resp.is_redirect:
            location = urljoin(resp.url, resp.headers.get("Location", ""))
            raise BadResponse(f"{what} was redirected to another origin ({_shown_origin(location)}): not followed "
                              "(credentials are never sent to another host; is the controller URL right?)",
                              request=what)

    def _send(self, method: str, path: str, *, data=None, headers=None, crumb: bool = True, needs: str = "",
              redirect_ok: bool = False) -> requests.Response:
        url = self.url + path
        what = f"{method} /{path.split('?')[0]}"
        crumb = crumb and method == "POST"  # core checks crumbs on POSTs only (hudson/security/csrf/CrumbFilter)

        def once():
            with_crumb = crumb and self._crumb_wanted
            if with_crumb and self._server.crumb is None:
                self._fetch_crumb()
            req = requests.Request(method, url, data=data, headers=dict(headers or {}))
            with self._guard.deadline():
                return self._server.jenkins_request(req, add_crumb=with_crumb)

        resp = self._call(what, once, needs, crumb=crumb)
        if not redirect_ok:
            self._unredirected(what, resp)
        return resp

    def _fetch_crumb(self) -> None:
        """GET /crumbIssuer/api/json, checked (python-jenkins would index whatever came back)."""
        what = "GET /crumbIssuer/api/json"
        try:
            with self._guard.deadline():
                resp = self._server.jenkins_request(requests.Request("GET", self.url + "crumbIssuer/api/json"),
                                                    add_crumb=False)
        except jenkins.NotFoundException:
            self._server.crumb = False  # CSRF protection is off
            return
        except (jenkins.JenkinsException, requests.RequestException, ValueError, _Cut) as exc:
            raise _Failed(self._translate(exc, what, READ)) from None
        self._unredirected(what, resp)
        found = self._parsed(what, answers.crumb, self._document(what, resp))
        self._server.crumb = {"crumbRequestField": found.field, "crumb": found.value}

    def _call(self, what: str, fn, needs: str = "", *, crumb: bool = False):
        """Run one request with the retry policy and a single crumb refetch; raise JenkinsError.
        `crumb`: the request is a POST that carries a crumb once the controller has asked for one."""
        crumb_refetched = False
        attempt = 0
        while True:
            attempt += 1
            if self._stop.is_set():
                raise Interrupted(f"{what}: interrupted", request=what)
            try:
                return fn()
            except _Failed as failed:
                err = failed.error
            except (jenkins.JenkinsException, requests.RequestException, ValueError, _Cut) as exc:
                err = self._translate(exc, what, needs)
            if isinstance(err, _StaleCrumb) and crumb and not self._crumb_wanted:
                self._crumb_wanted = True  # sent without one: not a stale crumb, and not an attempt
                attempt -= 1
                continue
            if isinstance(err, _StaleCrumb) and not crumb_refetched:
                crumb_refetched = True
                self._server.crumb = None  # python-jenkins caches the crumb forever: fetch a fresh one
                continue
            if isinstance(err, _StaleCrumb):
                err = AuthError(f"{what}: 403 No valid crumb, even with a fresh one", status=403, user=self.user,
                                request=what, body=err.body, headers=err.headers)
            if err.retryable and attempt < self.retry.attempts and not self._stop.is_set():
                self._sleep(self.retry.delay(attempt, self._rng))
                if not self._stop.is_set():
                    continue
            if err.retryable and attempt > 1:
                err.args = (f"{err.args[0]} (after {attempt} attempts)",)
            raise err

    def _translate(self, exc: BaseException, what: str, needs: str = "") -> JenkinsError:
        cut = next((e for e in _chain(exc) if isinstance(e, _Cut)), None)
        if cut is not None:
            if cut.reason == "deadline":
                return Timeout(f"{what}: no complete answer within {self.timeout:g} s", request=what)
            if cut.reason == "too-large":
                return BadResponse(f"{what}: the answer is larger than {self._guard.max_body / 2**20:g} MiB: "
                                   "not read", request=what)
            return Interrupted(f"{what}: interrupted", request=what)
        response = _response_of(exc)
        if response is not None and response.status_code >= 400:
            return self._status_error(response, what, needs)
        if _caused_by(exc, requests.exceptions.SSLError):
            return TLSError(f"{what}: TLS certificate verification failed "
                            "(fix the CA bundle; --insecure only for test controllers)", request=what)
        if _caused_by(exc, requests.exceptions.ConnectTimeout):
            return Unreachable(f"{what}: connection timed out", request=what)
        if isinstance(exc, jenkins.TimeoutException) or _caused_by(exc, requests.exceptions.Timeout):
            return Timeout(f"{what}: no complete answer within {self.timeout:g} s", request=what)
        if _caused_by(exc, requests.exceptions.ConnectionError) or _caused_by(
                exc, requests.exceptions.ChunkedEncodingError):
            reason = _connection_reason(exc)
            if reason == "host not found":
                host = urlsplit(self.url).hostname or "?"
                return HostNotFound(f"{what}: host {host} not found (DNS)", request=what)
            return Unreachable(f"{what}: {reason}", request=what)
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return BadResponse(f"{what}: more than {MAX_REDIRECTS} redirects", request=what)
        if isinstance(exc, jenkins.EmptyResponseException):
            return BadResponse(f"{what}: empty answer", request=what)
        if isinstance(exc, ValueError):
            return BadResponse(f"{what} answered something that cannot be read", request=what)
        return BadResponse(f"{what}: {type(exc).__name__}", request=what)

    def _status_error(self, response: requests.Response, what: str, needs: str) -> RemoteError:
        status = response.status_code
        body = response.text[:65536]
        headers = {k: answers.clip(v, 200) for k, v in response.headers.items() if k.lower().startswith("x-")}
        redirected = bool(response.history)
        if status == 401:
            err = AuthError(f"{what}: 401 Unauthorized: Jenkins rejected user '{self.user}' "
                            "(wrong user name or API token)", status=401, user=self.user, request=what,
                            body=body, headers=headers)
        elif status == 403 and "No valid crumb" in body:
            err = _StaleCrumb(f"{what}: 403 No valid crumb", status=403, request=what, body=body, headers=headers)
        elif status == 403:
            # Core's permission checks name the user and the permission in headers (AccessDeniedException3);
            # the configuration-as-code plugin denies with a bare sendError(403): then say what the request needs.
            who = headers.get("X-You-Are-Authenticated-As") or self.user
            permission = headers.get("X-Required-Permission", "")
            if permission:
                message = f"{what}: 403 Forbidden: user '{who}' lacks {_permission_name(permission)} ({permission})"
            elif needs:
                message = (f"{what}: 403 Forbidden for user '{who}': this request needs "
                           f"{_permission_name(needs)} ({needs})")
            else:
                message = f"{what}: 403 Forbidden for user '{who}'"
            err = AuthError(message, status=403, user=who, permission=permission or needs, request=what, body=body,
                            headers=headers)
        elif status == 404:
            err = NotFound(f"{what}: 404 Not Found", status=404, request=what, body=body, headers=headers)
        elif status == 503:
            err = RemoteError(f"{what}: 503 Service Unavailable (Jenkins is starting, restarting or reloading)",
                              status=503, request=what, body=body, headers=headers)
        else:
            reason = answers.clip(response.reason or "", 60)
            detail = _server_error(body) if status == 500 else answers.excerpt(body)
            err = RemoteError(f"{what}: {status} {reason}".rstrip() + (f": {detail}" if detail else ""),
                              status=status, request=what, body=body, headers=headers)
        err.redirected = redirected
        return err


def _unconfirmed(what: str, resp: requests.Response) -> None:
    """An apply answered after a redirect (to a login page, say) did not apply anything we can vouch for."""
    if resp.history:
        raise BadResponse(f"{what} was redirected: the apply cannot be confirmed", request=what)


class _Failed(Exception):
    """A JenkinsError raised inside the retry loop's request (the crumb fetch), carried out unchanged."""

    def __init__(self, error: JenkinsError):
        self.error = error
        super().__init__(str(error))


# --- helpers --------------------------------------------------------------------------------

def _server_time_ms(resp: requests.Response) -> int:
    """The answer's Date header in epoch ms: queue ages by the controller's own clock, not ours."""
    try:
        return int(parsedate_to_datetime(resp.headers["Date"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        return int(time.time() * 1000)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _response_of(exc: BaseException) -> requests.Response | None:
    # python-jenkins re-raises 401/403/404/500 as its own exceptions inside the `except HTTPError`
    # block, so the response is on the implicit context.
    for e in _chain(exc):
        response = getattr(e, "response", None)
        if isinstance(response, requests.Response):
            return response
    return None


def _caused_by(exc: BaseException, kind: type) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _connection_reason(exc: BaseException) -> str:
    text = " ".join(str(e) for e in _chain(exc))
    if any(isinstance(e, socket.gaierror) for e in _chain(exc)) or any(
            n in text for n in ("Name or service not known", "nodename nor servname", "NameResolutionError",
                                "Temporary failure in name resolution", "No address associated with hostname")):
        return "host not found"
    for needle, reason in (("refused", "connection refused"), ("IncompleteRead", "connection dropped mid-response"),
                           ("Connection broken", "connection dropped mid-response"),
                           ("reset", "connection reset"), ("RemoteDisconnected", "connection closed without answer"),
                           ("aborted", "connection closed without answer")):
        if needle in text:
            return reason
    return "connection failed"


_PERMISSION_GROUPS = {"hudson.model.Hudson": "Overall", "hudson.model.Item": "Job", "hudson.model.Run": "Run",
                      "hudson.model.View": "View", "hudson.model.Computer": "Agent", "hudson.scm.SCM": "SCM"}


def _permission_name(permission_id: str) -> str:
    """hudson.model.Hudson.Administer -> Overall/Administer."""
    owner, _, name = permission_id.rpartition(".")
    group = _PERMISSION_GROUPS.get(owner)
    return f"{group}/{name}" if group else permission_id


def _server_error(body: str) -> str:
    """What a 500 page can tell: the exception (only when the controller shows stack traces), else the
    Logging ID under which core's error page (oops.jelly, since 2.224) logged it."""
    message = answers.exception_message(body)
    if message:
        return message
    ident = answers.logging_id(body)
    if ident:
        return (f"Jenkins logged the error with ID {ident} (its log has the details; error pages show them only "
                "with -Djenkins.model.Jenkins.SHOW_STACK_TRACE=true)")
    return answers.excerpt(body)


def _legacy_error(body: str, step: str) -> str:
    """A configuration rejected the way plugins before 1947.x reject it: an exception, so a 500 page."""
    message = answers.exception_message(body)
    if message:
        return message
    ident = answers.logging_id(body)
    return (f"rejected without details: configuration-as-code plugins before 1947 report {step} errors as a 500 "
            "page, which Jenkins 2.224 and later show only in its log"
            + (f" (Logging ID {ident})" if ident else "") + "; plugin 1947 or later lists the errors")


def _rejection(body: str) -> tuple[CheckIssue, ...]:
    """The errors of a 400 answer; never none: a 400 without its list (a proxy's) is still a rejection."""
    try:
        issues = answers.check_issues(answers.json_document(body), "error") if body.strip() else ()
    except Malformed:
        issues = (CheckIssue(-1, answers.excerpt(body), "error"),)
    return issues or (CheckIssue(-1, "400 Bad Request without the list of errors (a proxy in the way?)", "error"),)
