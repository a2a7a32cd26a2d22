"""The only module that speaks HTTP to Jenkins: python-jenkins 1.8.3 underneath, typed results on top.

python-jenkins keeps one requests.Session per `jenkins.Jenkins` (so cookies, and
with them session-bound crumbs, persist) but has habits a fleet tool must
correct: no default timeout, a crumb cached forever, 400/405/503 surfacing as
raw `requests.HTTPError` while 401/403/500 become `JenkinsException` with the
response only in the exception's context, `get_version()` sending no
credentials when it is the first call.  This module hides all of that behind
`JenkinsClient`, whose methods return dataclasses and raise only
`JenkinsError` subclasses.

No credential ever appears in an exception text, a repr or the request log:
messages are built here from status, method and path (never the query string,
never a library's exception text).
"""

from __future__ import annotations

import html
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import jenkins
import requests

DEFAULT_TIMEOUT = 30.0
RETRYABLE_STATUS = (502, 503, 504)
YAML_TYPE = "application/x-yaml; charset=utf-8"


# --- errors ---------------------------------------------------------------------------------

class JenkinsError(Exception):
    """A failure talking to one controller; the text is safe to show (no credentials)."""

    retryable = False

    def __init__(self, message: str, *, request: str = ""):
        self.request = request  # "POST /configuration-as-code/check", never with a query string
        super().__init__(message)


class Unreachable(JenkinsError):
    """No HTTP answer: refused, reset, DNS, connect timeout."""

    retryable = True


class Timeout(JenkinsError):
    """The controller accepted the connection but did not answer in time (not retried)."""


class TLSError(JenkinsError):
    """The certificate did not verify."""


class BadResponse(JenkinsError):
    """An answer that is not what the endpoint returns: malformed JSON, an HTML page instead of JSON."""


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
class InstalledPlugin:
    short_name: str
    version: str
    active: bool
    enabled: bool
    dependencies: tuple[tuple[str, bool], ...] = ()  # (shortName, optional)


@dataclass(frozen=True)
class CheckIssue:
    line: int  # -1 when Jenkins did not say
    message: str
    severity: str  # error | warning


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
class ControllerState:
    version: str  # X-Jenkins of the answer; "" when absent
    quieting_down: bool
    quiet_down_reason: str


@dataclass(frozen=True)
class QueueItem:
    id: int
    task: str  # the job's full name; "" when Jenkins exports none (a Pipeline `node` block waiting)
    why: str
    in_queue_since: int  # epoch milliseconds, the controller's clock
    blocked: bool
    buildable: bool
    stuck: bool


@dataclass(frozen=True)
class QueueState:
    items: tuple[QueueItem, ...]
    now: int  # epoch milliseconds by the controller's clock (its Date header), else ours

    def longest_wait(self) -> float:
        """Seconds the oldest item has waited (0 when the queue is empty)."""
        return max((max(0, self.now - i.in_queue_since) / 1000 for i in self.items), default=0.0)


KUBERNETES_COMPUTER = "org.csanchez.jenkins.plugins.kubernetes.KubernetesComputer"


@dataclass(frozen=True)
class Computer:
    name: str
    kind: str  # the _class: hudson.model.Hudson$MasterComputer, hudson.slaves.SlaveComputer, ...
    offline: bool
    idle: bool
    executors: int

    @property
    def cloud(self) -> bool:
        """An agent pod of the Kubernetes cloud: it counts against containerCap (maxConcurrency)."""
        return self.kind == KUBERNETES_COMPUTER


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


# --- the client -----------------------------------------------------------------------------

class JenkinsClient:
    """One controller.  Not thread-safe: use one client per worker."""

    def __init__(self, url: str, credentials: Credentials | None, *, timeout: float = DEFAULT_TIMEOUT,
                 verify: bool = True, retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.url = url.rstrip("/") + "/"
        self.user = credentials.user if credentials else "anonymous"
        self.retry = retry
        self.log: list[RequestRecord] = []
        self.sessions: list[str] = []  # every distinct X-Jenkins-Session seen, in order
        self.version: str | None = None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._configure_available: bool | None = None
        self._server = jenkins.Jenkins(self.url, username=credentials.user if credentials else None,
                                       password=credentials.token if credentials else None, timeout=timeout)
        # python-jenkins turns verification off when PYTHONHTTPSVERIFY=0; ours is explicit.
        self._server._session.verify = verify
        self._server._session.hooks["response"].append(self._observe)

    def __repr__(self) -> str:
        return f"JenkinsClient({self.url!r}, user={self.user!r})"

    def close(self) -> None:
        self._server._session.close()

    # --- what the push needs ----------------------------------------------------------------

    def whoami(self) -> Identity:
        """GET /me/api/json through python-jenkins (which also resolves and sends the credentials)."""
        data = self._call("GET /me/api/json", self._server.get_whoami, expect="JSON")
        if not isinstance(data, dict) or "id" not in data:
            raise BadResponse("GET /me/api/json did not describe a user", request="GET /me/api/json")
        return Identity(data["id"], data.get("fullName") or data["id"], self.version or "",
                        self.sessions[-1] if self.sessions else "")

    def plugins(self, *, crumb: bool = True) -> list[InstalledPlugin]:
        data = self._json_response("GET", "pluginManager/api/json?depth=2", crumb=crumb)[0]
        try:
            return sorted((InstalledPlugin(p["shortName"], str(p["version"]), bool(p.get("active")),
                                           bool(p.get("enabled")),
                                           tuple((d["shortName"], bool(d.get("optional")))
                                                 for d in p.get("dependencies", []) if "shortName" in d))
                           for p in data["plugins"]), key=lambda p: p.short_name)
        except (KeyError, TypeError) as exc:
            raise BadResponse(f"GET /pluginManager/api/json: unexpected content (missing {exc})",
                              request="GET /pluginManager/api/json") from None

    def check(self, yaml_text: str, *, legacy_errors: bool = False) -> CheckResult:
        """POST the YAML to /configuration-as-code/check: warnings (200) or errors (400; a 500 error page
        when `legacy_errors`, as plugins before 1947.x answer)."""
        what = "POST /configuration-as-code/check"
        try:
            resp = self._send("POST", "configuration-as-code/check", data=yaml_text.encode("utf-8"),
                              headers={"Content-Type": YAML_TYPE})
        except RemoteError as err:
            if err.status == 400:
                return CheckResult(_rejection(err.body, what))
            if err.status == 500 and legacy_errors and not isinstance(err, AuthError):
                return CheckResult((CheckIssue(-1, _oops_message(err.body), "error"),))
            raise
        if not resp.text.strip():  # a clean check is `[]`: an empty page proves nothing was checked
            raise BadResponse(f"{what} answered an empty body instead of its JSON list (a proxy in the way?)",
                              request=what)
        return CheckResult(tuple(_issues(resp.text, "warning", what)))

    def export(self) -> str:
        resp = self._send("POST", "configuration-as-code/export")
        if "html" in resp.headers.get("Content-Type", ""):
            raise BadResponse("POST /configuration-as-code/export answered an HTML page instead of YAML",
                              request="POST /configuration-as-code/export")
        return resp.text

    def apply(self, yaml_text: str) -> ApplyResult:
        """/configure where the plugin has it (2065.x+), else /apply; a rejected configuration is in `issues`."""
        body = yaml_text.encode("utf-8")
        if self._configure_available is not False:
            try:
                self._send("POST", "configuration-as-code/configure", data=body, headers={"Content-Type": YAML_TYPE})
                self._configure_available = True
                return ApplyResult("configure")
            except RemoteError as err:
                if err.status == 400:
                    return ApplyResult("configure", _rejection(err.body, "POST /configuration-as-code/configure"))
                if err.status not in (404, 405) or isinstance(err, AuthError):
                    raise
                self._configure_available = False
        try:
            self._send("POST", "configuration-as-code/apply", data=body, headers={"Content-Type": YAML_TYPE})
        except RemoteError as err:
            if err.status == 500 and not isinstance(err, AuthError):
                return ApplyResult("apply", (CheckIssue(-1, _oops_message(err.body), "error"),))
            raise
        return ApplyResult("apply")

    def reload(self) -> ApplyResult:
        """POST /configuration-as-code/reload: success is a redirect; a 200 page means it failed."""
        what = "POST /configuration-as-code/reload"
        try:
            resp = self._send("POST", "configuration-as-code/reload")
        except RemoteError as err:
            if err.redirected:  # the reload worked; only the page it redirects to failed
                return ApplyResult("reload")
            raise
        if resp.history and resp.history[0].status_code in (301, 302, 303):
            return ApplyResult("reload")
        text = _html_text(resp.text)
        if "Error loading configuration" in text:
            message = text.split("Error loading configuration", 1)[1].strip() or "unknown error"
            return ApplyResult("reload", (CheckIssue(-1, message, "error"),))
        raise BadResponse(f"{what} answered 200 without redirecting: the reload cannot be confirmed",
                          request=what)

    def reload_with_token(self, token: str) -> ApplyResult:
        """POST /reload-configuration-as-code/ with the token in the form body (never in the URL, never logged)."""
        what = "POST /reload-configuration-as-code/"
        resp = self._send("POST", "reload-configuration-as-code/", data={"casc-reload-token": token},
                          crumb=False)
        text = resp.text.strip()
        if text.startswith(("{", "[")):
            try:
                data = json.loads(text)
            except ValueError:
                raise BadResponse(f"{what}: malformed JSON answer", request=what) from None
            items = data if isinstance(data, list) else [data]
            messages = [str(i.get("message") or i.get("error") or i) for i in items if isinstance(i, dict)
                        and (i.get("status") == "error" or "error" in i or "message" in i)]
            if messages:
                return ApplyResult("reload-token", tuple(CheckIssue(-1, m, "error") for m in messages))
        if "Error loading configuration" in text:
            return ApplyResult("reload-token", (CheckIssue(-1, _html_text(text), "error"),))
        return ApplyResult("reload-token")

    # --- what `fleet status` needs (GETs only: no crumb) --------------------------------------

    def controller_state(self) -> ControllerState:
        """GET /api/json?tree=quietingDown,quietDownReason; the version is the answer's X-Jenkins."""
        data, resp = self._json_response("GET", "api/json?tree=quietingDown,quietDownReason", crumb=False)
        if not isinstance(data, dict) or "quietingDown" not in data:
            raise BadResponse("GET /api/json did not describe a Jenkins controller", request="GET /api/json")
        return ControllerState(resp.headers.get("X-Jenkins", ""), bool(data["quietingDown"]),
                               str(data.get("quietDownReason") or ""))

    def queue(self) -> QueueState:
        """GET /queue/api/json: what waits, why, and since when (inQueueSince, epoch ms)."""
        what = "GET /queue/api/json"
        data, resp = self._json_response(
            "GET", "queue/api/json?tree=items[id,inQueueSince,why,blocked,buildable,stuck,task[name,fullName]]",
            crumb=False)
        try:
            items = tuple(QueueItem(int(i["id"]), str((i.get("task") or {}).get("fullName")
                                                      or (i.get("task") or {}).get("name") or ""),
                                    str(i.get("why") or ""), int(i["inQueueSince"]), bool(i.get("blocked")),
                                    bool(i.get("buildable")), bool(i.get("stuck")))
                          for i in data["items"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(f"{what}: unexpected content ({type(exc).__name__}: {exc})", request=what) from None
        return QueueState(items, _server_time_ms(resp))

    def computers(self) -> Computers:
        """GET /computer/api/json: executors busy and online, and every computer (node or agent pod)."""
        what = "GET /computer/api/json"
        data, _ = self._json_response(
            "GET", "computer/api/json?tree=busyExecutors,totalExecutors,"
                   "computer[displayName,offline,idle,numExecutors]", crumb=False)
        try:
            computers = tuple(Computer(str(c.get("displayName", "")), str(c.get("_class", "")), bool(c["offline"]),
                                       bool(c["idle"]), int(c.get("numExecutors", 0)))
                              for c in data["computer"])
            return Computers(int(data["busyExecutors"]), int(data["totalExecutors"]), computers)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(f"{what}: unexpected content ({type(exc).__name__}: {exc})", request=what) from None

    # --- plumbing ---------------------------------------------------------------------------

    def _observe(self, response: requests.Response, *args, **kwargs) -> None:
        version = response.headers.get("X-Jenkins")
        if version:
            self.version = version
        session = response.headers.get("X-Jenkins-Session")
        if session and (not self.sessions or self.sessions[-1] != session):
            self.sessions.append(session)
        path = requests.utils.urlparse(response.request.url).path
        self.log.append(RequestRecord(response.request.method, path, response.status_code,
                                      response.elapsed.total_seconds()))

    def _json(self, method: str, path: str):
        return self._json_response(method, path)[0]

    def _json_response(self, method: str, path: str, *, crumb: bool = True):
        what = f"{method} /{path.split('?')[0]}"
        resp = self._send(method, path, crumb=crumb)
        try:
            return json.loads(resp.text), resp
        except ValueError:
            kind = resp.headers.get("Content-Type", "").split(";")[0] or "no content type"
            raise BadResponse(f"{what} answered {kind} that is not JSON"
                              + (" (a login page or a proxy in the way?)" if "html" in kind else ""),
                              request=what) from None

    def _send(self, method: str, path: str, *, data=None, headers=None, crumb: bool = True) -> requests.Response:
        url = self.url + path
        what = f"{method} /{path.split('?')[0]}"

        def once():
            req = requests.Request(method, url, data=data, headers=dict(headers or {}))
            return self._server.jenkins_request(req, add_crumb=crumb)

        return self._call(what, once)

    def _call(self, what: str, fn, expect: str = ""):
        """Run one request with the retry policy and a single crumb refetch; raise JenkinsError."""
        crumb_refetched = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except (jenkins.JenkinsException, requests.RequestException, ValueError) as exc:
                err = self._translate(exc, what, expect)
            if isinstance(err, _StaleCrumb) and not crumb_refetched:
                crumb_refetched = True
                self._server.crumb = None  # python-jenkins caches the crumb forever: fetch a fresh one
                continue
            if isinstance(err, _StaleCrumb):
                err = AuthError(f"{what}: 403 No valid crumb, even with a fresh one", status=403, user=self.user,
                                request=what, body=err.body, headers=err.headers)
            if err.retryable and attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, self._rng))
                continue
            if err.retryable and attempt > 1:
                err.args = (f"{err.args[0]} (after {attempt} attempts)",)
            raise err

    def _translate(self, exc: Exception, what: str, expect: str) -> JenkinsError:
        response = _response_of(exc)
        if response is not None and response.status_code >= 400:
            return self._status_error(response, what)
        if _caused_by(exc, requests.exceptions.SSLError):
            return TLSError(f"{what}: TLS certificate verification failed "
                            "(fix the CA bundle; --insecure only for test controllers)", request=what)
        if _caused_by(exc, requests.exceptions.ConnectTimeout):
            return Unreachable(f"{what}: connection timed out", request=what)
        if isinstance(exc, jenkins.TimeoutException) or _caused_by(exc, requests.exceptions.Timeout):
            timeout = self._server.timeout
            return Timeout(f"{what}: no answer within {timeout:g} s", request=what)
        if _caused_by(exc, requests.exceptions.ConnectionError) or _caused_by(
                exc, requests.exceptions.ChunkedEncodingError):
            return Unreachable(f"{what}: {_connection_reason(exc)}", request=what)
        if isinstance(exc, ValueError):
            return BadResponse(f"{what} answered something that is not {expect or 'valid'}"
                               + (" (a login page or a proxy in the way?)" if expect == "JSON" else ""),
                               request=what)
        if isinstance(exc, jenkins.EmptyResponseException):
            return BadResponse(f"{what}: empty answer", request=what)
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            return BadResponse(f"{what}: redirect loop", request=what)
        return BadResponse(f"{what}: {type(exc).__name__}", request=what)

    def _status_error(self, response: requests.Response, what: str) -> RemoteError:
        status = response.status_code
        body = response.text[:65536]
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-")}
        redirected = bool(response.history)
        if status == 401:
            err = AuthError(f"{what}: 401 Unauthorized: Jenkins rejected user '{self.user}' "
                            "(wrong user name or API token)", status=401, user=self.user, request=what,
                            body=body, headers=headers)
        elif status == 403 and "No valid crumb" in body:
            err = _StaleCrumb(f"{what}: 403 No valid crumb", status=403, request=what, body=body, headers=headers)
        elif status == 403:
            who = response.headers.get("X-You-Are-Authenticated-As") or self.user
            permission = response.headers.get("X-Required-Permission", "")
            if permission:
                message = f"{what}: 403 Forbidden: user '{who}' lacks {_permission_name(permission)} ({permission})"
            else:
                message = f"{what}: 403 Forbidden for user '{who}': {_excerpt(body)}"
            err = AuthError(message, status=403, user=who, permission=permission, request=what, body=body,
                            headers=headers)
        elif status == 404:
            err = NotFound(f"{what}: 404 Not Found", status=404, request=what, body=body, headers=headers)
        elif status == 503:
            err = RemoteError(f"{what}: 503 Service Unavailable (Jenkins is starting, restarting or reloading)",
                              status=503, request=what, body=body, headers=headers)
        else:
            reason = response.reason or ""
            detail = _oops_message(body) if status == 500 else _excerpt(body)
            err = RemoteError(f"{what}: {status} {reason}".rstrip() + (f": {detail}" if detail else ""),
                              status=status, request=what, body=body, headers=headers)
        err.redirected = redirected
        return err



# --- helpers --------------------------------------------------------------------------------

def _server_time_ms(resp: requests.Response) -> int:
    """The answer's Date header in epoch ms: queue ages by the controller's own clock, not ours."""
    try:
        return int(parsedate_to_datetime(resp.headers["Date"]).timestamp() * 1000)
    except (KeyError, TypeError, ValueError, IndexError):
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
    for needle, reason in (("refused", "connection refused"), ("Name or service not known", "host not found"),
                           ("nodename nor servname", "host not found"),
                           ("Temporary failure in name resolution", "host not found"),
                           ("IncompleteRead", "connection dropped mid-response"),
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


def _html_text(body: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", body)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _excerpt(body: str, limit: int = 200) -> str:
    text = _html_text(body) if "<" in body else body.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _oops_message(body: str) -> str:
    """The exception message inside a Jenkins error page (old plugins report check errors this way)."""
    text = html.unescape(re.sub(r"<[^>]+>", "\n", body))
    for line in text.splitlines():
        m = re.search(r"(?:[\w$]+\.)+[\w$]*(?:Exception|Error): (.+)", line)
        if m:
            return m.group(1).strip()
    return _excerpt(body)


def _rejection(body: str, what: str) -> tuple[CheckIssue, ...]:
    """The errors of a 400 answer; never none: a 400 without its list (a proxy's) is still a rejection."""
    return tuple(_issues(body, "error", what)) or (
        CheckIssue(-1, "400 Bad Request without the list of errors (a proxy in the way?)", "error"),)


def _issues(body: str, severity: str, what: str) -> list[CheckIssue]:
    """The JSON list of /check and /configure: [{"line": N, "message"|"warning": ...}]."""
    try:
        data = json.loads(body) if body.strip() else []
    except ValueError:
        if severity == "error":
            return [CheckIssue(-1, _excerpt(body), "error")]
        raise BadResponse(f"{what} answered something that is not JSON", request=what) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadResponse(f"{what} answered unexpected JSON", request=what)
    issues = []
    for item in data:
        if not isinstance(item, dict):
            continue
        message = item.get("message") or item.get("warning") or item.get("error") or json.dumps(item)
        try:
            line = int(item.get("line", -1))
        except (TypeError, ValueError):
            line = -1
        issues.append(CheckIssue(line, str(message), severity))
    return issues
