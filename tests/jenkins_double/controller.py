"""One Jenkins controller as its HTTP API behaves (see docs in ../fixtures/jenkins-http/SOURCES.md).

The state machine behind the HTTP server: users and roles, API tokens vs
passwords, session-bound crumbs, the 401/403/405/404/503 answers with their
headers, the restart cycle, the configuration-as-code endpoints of three plugin
generations, and fault injection.

Denials and error pages are those of a real controller, not kinder ones:

- core's permission checks (Jenkins.getTarget's Overall/Read, PluginManager's
  SystemRead, quietDown's Manage) throw AccessDeniedException3, whose 403 names the
  user and the permission in X-You-Are-Authenticated-As and X-Required-Permission
  (hudson/security/AccessDeniedException3.java, AccessDeniedHandlerImpl.java at
  jenkins-2.555.2);
- the configuration-as-code plugin checks its permissions itself and answers a bare
  `sendError(403)` (`sendError(403, "Requires ADMINISTER permission")` for /configure):
  the servlet container's error page, with no X-You-Are-Authenticated-As, no
  X-Required-Permission and no X-Jenkins (ConfigurationAsCode.java at
  2117.vc05a_0b_e6b_f4e: doCheck, doApply, doConfigure need ADMINISTER, doExport and
  doSchema SYSTEM_READ, doReload MANAGE);
- an exception is core's "Oops!" page (jenkins/model/Jenkins/oops.jelly): a Logging ID,
  and the stack trace only when -Djenkins.model.Jenkins.SHOW_STACK_TRACE=true
  (`show_stack_trace=True` here; Jenkins.shouldShowStackTrace, since 2.224).

The /configuration-as-code/check model is one replaceable function: `checker`
(default casc.check; see casc.py).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

import yaml

from . import casc, load

READ = "hudson.model.Hudson.Read"
ADMINISTER = "hudson.model.Hudson.Administer"
MANAGE = "hudson.model.Hudson.Manage"
SYSTEM_READ = "hudson.model.Hudson.SystemRead"
IMPLIED_BY = {
    READ: "hudson.security.Permission.GenericRead, hudson.model.Hudson.Administer",
    MANAGE: "hudson.model.Hudson.Administer",
    SYSTEM_READ: "hudson.model.Hudson.Administer",
    ADMINISTER: "",
}
ROLES = {
    "admin": {READ, ADMINISTER, MANAGE, SYSTEM_READ},
    "manager": {READ, MANAGE, SYSTEM_READ},
    "reader": {READ},
    "anonymous": set(),
}
# Plugin generations of configuration-as-code: /check answers with `message` and 400
# since 1947, /configure exists since 2065.
CASC_NEW = "2065.vd2e7ef5b_c1a_6"
CASC_1947 = "1947.v2ca_d4b_e0f_6f3"
CASC_OLD = "1810.v9b_c30a_249a_4c"

# shortName -> (longName, version, dependencies as (shortName, version, optional))
CATALOG = {
    "configuration-as-code": ("Configuration as Code Plugin", CASC_NEW,
                              [("caffeine-api", "3.2.0-166.v72a_6d74b_870f", False),
                               ("snakeyaml-api", "2.3-125.v4d77857a_b_402", False)]),
    "kubernetes": ("Kubernetes plugin", "4340.v345364d31a_2a_",
                   [("kubernetes-client-api", "6.10.0-251.v556f5f100500", False),
                    ("kubernetes-credentials", "192.v4d5b_1c429d17", False),
                    ("variant", "60.v7290fc0eb_b_cd", False),
                    ("workflow-step-api", "700.v6e45cb_a_5a_a_21", False)]),
    "ldap": ("LDAP Plugin", "780.vcb_33c9a_e4332", [("mailer", "489.vd4b_25144138f", True)]),
    "matrix-auth": ("Matrix Authorization Strategy Plugin", "3.2.6", []),
    "git": ("Git plugin", "5.7.0", [("git-client", "6.1.3", False), ("credentials", "1415.v831096eb_5534", False),
                                    ("scm-api", "704.v3ce5c542825a_", False),
                                    ("structs", "343.vdcf37b_a_c81d5", False)]),
    "workflow-aggregator": ("Pipeline", "608.v67378e9d3db_1", [("workflow-job", "1520.v56d65e3b_4566", False)]),
    "dark-theme": ("Dark Theme", "524.vd675b_22b_30cb_", [("theme-manager", "262.vc57ee4a_eda_5d", False)]),
    "prometheus": ("Prometheus metrics plugin", "819.v50953a_c560dd", []),
    "copyartifact": ("Copy Artifact Plugin", "749.vfb_dca_a_9b_6549", []),
    "jacoco": ("Jenkins JaCoCo plugin", "3.3.7", []),
    "credentials": ("Credentials Plugin", "1415.v831096eb_5534", []),
}


def plugin_entry(short: str, version: str | None = None, *, active: bool = True,
                 dependencies: list | None = None) -> dict:
    """A /pluginManager/api/json?depth=2 entry (the fields of the recorded response)."""
    long_name, default_version, deps = CATALOG.get(short, (short.replace("-", " ").title() + " Plugin", "1.0", []))
    deps = deps if dependencies is None else dependencies
    return {
        "active": active, "backupVersion": None, "bundled": False, "deleted": False,
        "dependencies": [{"optional": o, "shortName": n, "version": v} for n, v, o in deps],
        "detached": False, "downgradable": False, "enabled": active, "hasUpdate": False,
        "longName": long_name, "pinned": False, "requiredCoreVersion": "2.479.3", "shortName": short,
        "supportsDynamicLoad": "MAYBE", "url": f"https://plugins.jenkins.io/{short}",
        "version": version or default_version,
    }


def plugins_for(required: list[str], *, casc_version: str = CASC_NEW) -> list[dict]:
    """Installed plugins satisfying `required` ("id" or "id:version"), with their dependencies."""
    out: dict[str, dict] = {}
    for item in required:
        short, _, pinned = item.partition(":")
        entry = plugin_entry(short, pinned or None)
        if short == "configuration-as-code":
            entry["version"] = casc_version
        out[short] = entry
        for dep in entry["dependencies"]:
            out.setdefault(dep["shortName"], plugin_entry(dep["shortName"], dep["version"]))
    out.setdefault("configuration-as-code", plugin_entry("configuration-as-code", casc_version))
    return [out[k] for k in sorted(out)]


@dataclass
class User:
    name: str
    password: str
    role: str
    tokens: tuple[str, ...] = ()
    full_name: str = ""


def default_users() -> dict[str, User]:
    return {u.name: u for u in [
        User("admin", "admin-password", "admin", ("11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8",), "Administrator"),
        User("manager", "manager-password", "manager", ("11b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1",), "Fleet manager"),
        User("reader", "reader-password", "reader", ("11c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c2",), "Read only"),
    ]}


@dataclass
class Request:
    method: str
    path: str  # below the controller's prefix, starting with "/"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is ignored, as servlet containers do
            return {}
        return {k: m.value for k, m in jar.items()}

    def form(self) -> dict[str, list[str]]:
        if "application/x-www-form-urlencoded" in self.headers.get("content-type", ""):
            return parse_qs(self.body.decode("utf-8", "replace"))
        return {}

    def param(self, name: str) -> str | None:
        values = self.query.get(name) or self.form().get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    reset: bool = False  # send the headers and half the body, then reset the connection
    trickle: float = 0.0  # send the body one byte every `trickle` seconds
    flood: int = 0  # a body of this many bytes of filler, until the client leaves (negative: undeclared)


@dataclass
class Fault:
    """Something going wrong on matching requests.

    kind: status (answer `status` with an HTML error page), delay (`seconds` before
    the normal answer), drop, reset, malformed_json, html (a login page instead of
    JSON), expire_crumbs (every crumb issued so far becomes invalid), restart
    (the controller restarts: `restart_requests` answers of 503, then a new
    session), ignore_apply (apply/configure answer success but change nothing),
    answer (`status` with exactly `body`, `content_type` and `headers`), trickle
    (the normal answer, its body one byte every `seconds`), flood (a body of
    `size` bytes, 4 GiB by default, of filler), redirect (`status`, default 307,
    to `location`), echo_auth (a proxy's 403 page quoting the request's
    Authorization header).
    """

    kind: str
    path: str | None = None  # substring of the path below the prefix; None matches every path
    method: str | None = None
    times: int = 1  # matching requests affected; -1 for all
    skip: int = 0  # matching requests let through first
    status: int = 0  # 0: the kind's own (status 500, answer 200, redirect 307)
    seconds: float = 0.0
    restart_requests: int = 3
    body: bytes = b""
    content_type: str = "application/json;charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    location: str = ""
    size: int = 4 * 1024 ** 3
    declare: bool = True  # flood: a Content-Length (else the body ends when the connection closes)

    def matches(self, req: Request) -> bool:
        return ((self.path is None or self.path in req.path)
                and (self.method is None or self.method == req.method))


@dataclass
class LogEntry:
    method: str
    path: str
    status: int
    user: str
    auth: str  # token | password | anonymous


_GROUP_HEADERS_DISABLED = ("JENKINS-39402: use -Dhudson.security.AccessDeniedException2.REPORT_GROUP_HEADERS=true"
                           " or use /whoAmI to diagnose")
_POST_ONLY = {"/configuration-as-code/check", "/configuration-as-code/configure", "/configuration-as-code/apply",
              "/configuration-as-code/export", "/configuration-as-code/reload", "/quietDown", "/cancelQuietDown",
              "/safeRestart", "/reload-configuration-as-code"}


class JenkinsDouble:
    def __init__(self, *, name: str = "jenkins", version: str = "2.555.2", plugins: list[dict] | None = None,
                 users: dict[str, User] | None = None, csrf: bool = True, file_source: str | None = None,
                 env: dict[str, str] | None = None, reload_token: str | None = None,
                 casc_version: str | None = None, show_stack_trace: bool = False,
                 checker: Callable[[str, dict[str, str], str], list] | None = None):
        self.name = name
        self.show_stack_trace = show_stack_trace  # -Djenkins.model.Jenkins.SHOW_STACK_TRACE=true
        # What /check, /configure and /apply accept: (text, installed {plugin: version}, Jenkins version)
        # -> warnings, or CheckFailed.
        self.checker = checker or casc.check
        self.version = version
        self.plugins = plugins if plugins is not None else plugins_for(
            ["configuration-as-code"], casc_version=casc_version or CASC_NEW)
        if casc_version:
            for p in self.plugins:
                if p["shortName"] == "configuration-as-code":
                    p["version"] = casc_version
        self.users = users if users is not None else default_users()
        self.csrf = csrf
        self.env = dict(env or {})
        self.reload_token = reload_token
        self.faults: list[Fault] = []
        self.log: list[LogEntry] = []
        self.quieting_down = False
        self.quiet_down_reason: str | None = None
        # Build queue and executors (load.py): set per test, e.g. double.queue = [load.queue_item(...)]
        self.queue: list[load.QueueEntry] = []
        self.computers: list[load.ComputerEntry] = [load.builtin_node()]
        self.root_url = "http://localhost:8080/"
        self.cookie_name = "JSESSIONID." + hashlib.sha256(name.encode()).hexdigest()[:8]
        self.session_id = hashlib.sha256(("session" + name).encode()).hexdigest()[:8]
        self._file_source = file_source
        self._sessions: set[str] = set()
        self._crumb_salt = secrets.token_hex(16)
        self._restarting = 0
        self._lock = threading.RLock()
        self.live = self._boot_configuration()

    # --- what tests set and read ------------------------------------------------------------

    @property
    def file_source(self) -> str | None:
        """The YAML at CASC_JENKINS_CONFIG (the mounted ConfigMap); read at boot and on reload."""
        return self._file_source

    @file_source.setter
    def file_source(self, text: str | None) -> None:
        self._file_source = text

    def attach(self, root_url: str) -> None:
        with self._lock:
            self.root_url = root_url
            self.live = self._boot_configuration()

    def inject(self, *faults: Fault) -> None:
        """Add faults; each double counts down its own copies (`times`, `skip`), so a Fault kept in a
        module-level scenario list affects every double it is given to, in whatever order tests run."""
        with self._lock:
            self.faults.extend(replace(f) for f in faults)

    def restart(self, requests: int = 3) -> None:
        """Begin a restart: `requests` answers of 503, then a new session id and no sessions."""
        with self._lock:
            self._restarting = max(1, requests)

    def expire_crumbs(self) -> None:
        with self._lock:
            self._crumb_salt = secrets.token_hex(16)

    def requests(self, path: str | None = None, method: str | None = None) -> list[LogEntry]:
        with self._lock:
            return [e for e in self.log if (path is None or path in e.path) and (method is None or e.method == method)]

    def exported(self) -> dict:
        with self._lock:
            return yaml.load(casc.export(self.live), Loader=casc._FAST_LOADER)

    @property
    def casc_version(self) -> str:
        return next((p["version"] for p in self.plugins if p["shortName"] == "configuration-as-code"), "")

    @property
    def casc_generation(self) -> int:
        try:
            return int(self.casc_version.split(".")[0])
        except ValueError:
            return 0

    # --- the request cycle ------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        with self._lock:
            resp, user, kind = self._handle(req)
            self.log.append(LogEntry(req.method, req.path, resp.status, user, kind))
            return resp

    def _handle(self, req: Request) -> tuple[Response, str, str]:
        fault = self._take_fault(req)
        if fault is not None and fault.kind == "restart":
            self.restart(fault.restart_requests)
        if self._restarting:
            self._restarting -= 1
            if not self._restarting:
                self._finish_restart()
            return self._page(503, "Jenkins is restarting",
                              "Please wait while Jenkins is restarting", api=False), "", "anonymous"
        if fault is not None:
            early = self._fault_response(fault, req)
            if early is not None:
                return early, "", "anonymous"
        auth = self._authenticate(req)
        if isinstance(auth, Response):
            return auth, "", "basic"
        user, kind = auth
        name = user.name if user else "anonymous"
        resp = self._dispatch(req, user, kind)
        if fault is not None and fault.kind in ("malformed_json", "html") and resp.status == 200:
            resp = self._fault_body(fault, resp)
        if fault is not None and fault.kind == "delay":
            resp.delay = fault.seconds
        if fault is not None and fault.kind == "trickle":
            resp.trickle = fault.seconds
        return resp, name, kind

    def _take_fault(self, req: Request) -> Fault | None:
        for fault in self.faults:
            if fault.kind == "ignore_apply" or fault.times == 0 or not fault.matches(req):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            if fault.times > 0:
                fault.times -= 1
            return fault
        return None

    def _fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "status":
            status = fault.status or 500
            if status == 500:
                return self._oops("java.lang.IllegalStateException: injected failure")
            titles = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}
            return self._page(status, titles.get(status, str(status)), titles.get(status, ""), api=False)
        if fault.kind == "answer":
            return Response(fault.status or 200, fault.body, self._headers(fault.content_type) + list(fault.headers))
        if fault.kind == "flood":
            return Response(200, b"", self._headers("application/json;charset=utf-8"),
                            flood=fault.size if fault.declare else -fault.size)
        if fault.kind == "redirect":
            return Response(fault.status or 307, b"",
                            self._headers("text/html;charset=utf-8") + [("Location", fault.location)])
        if fault.kind == "echo_auth":
            quoted = html.escape(req.headers.get("authorization", ""))
            host = html.escape(req.headers.get("host", ""))
            page = (f"<html><body><h1>Refused by the gateway</h1><pre>Authorization: {quoted}\n"
                    f"Host: {host}</pre></body></html>")
            return Response(fault.status or 403, page.encode(), [("Content-Type", "text/html;charset=utf-8")])
        if fault.kind == "drop":
            return Response(0, drop=True)
        if fault.kind == "reset":
            body = json.dumps({"_class": "hudson.model.Hudson", "filler": "x" * 4096}).encode()
            return Response(200, body, [("Content-Type", "application/json;charset=utf-8")], reset=True)
        if fault.kind == "expire_crumbs":
            self.expire_crumbs()
        return None

    def _fault_body(self, fault: Fault, resp: Response) -> Response:
        if fault.kind == "malformed_json":
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        else:
            resp.body = (b"<!DOCTYPE html><html><head><title>Sign in [Jenkins]</title></head>"
                         b"<body><form method='post' action='j_spring_security_check'></form></body></html>")
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "content-type"]
            resp.headers.append(("Content-Type", "text/html;charset=utf-8"))
        return resp

    def _finish_restart(self) -> None:
        self.session_id = secrets.token_hex(4)
        self._sessions.clear()
        self._crumb_salt = secrets.token_hex(16)
        self.quieting_down = False
        self.live = self._boot_configuration()

    def _boot_configuration(self) -> dict:
        live = casc.defaults(self.root_url)
        if self._file_source:
            try:
                self.checker(self._file_source, self._plugin_versions(), self.version)
                live = casc.merge(live, casc.resolve(casc.parse(self._file_source), self.env))
            except casc.CheckFailed:
                pass  # a real controller would log the error and start with what it had
        return live

    def _plugin_versions(self) -> dict[str, str]:
        return {p["shortName"]: p.get("version") for p in self.plugins if p.get("active", True)}

    def _plugin_ids(self) -> set[str]:
        return {p["shortName"] for p in self.plugins if p.get("active", True)}

    # --- authentication, crumbs, permissions ------------------------------------------------

    def _authenticate(self, req: Request):
        header = req.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None, "anonymous"
        try:
            user_name, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            user_name, secret = "", ""
        user = self.users.get(user_name)
        if user is not None and secret in user.tokens:
            return user, "token"
        if user is not None and secret == user.password:
            return user, "password"
        resp = self._page(401, "Unauthorized", f"Invalid password/token for user: {html.escape(user_name)}")
        resp.headers.append(("WWW-Authenticate", 'Basic realm="Jenkins"'))
        return resp

    def _has(self, user: User | None, permission: str) -> bool:
        return permission in ROLES[user.role if user else "anonymous"]

    def _denied(self, user: User | None, permission: str, body: str | None = None) -> Response:
        name = user.name if user else "anonymous"
        text = body or (f"{'Authentication required' if user is None else 'Access Denied'}\n<!--\n"
                        f"You are authenticated as: {name}\nGroups that you are in:\n  \n"
                        f"Permission you need to have (but didn't): {permission}\n-->")
        resp = self._page(403, "Access Denied", text)
        resp.headers += [("X-You-Are-Authenticated-As", name),
                         ("X-You-Are-In-Group-Disabled", _GROUP_HEADERS_DISABLED),
                         ("X-Required-Permission", permission)]
        if IMPLIED_BY.get(permission):
            resp.headers.append(("X-Permission-Implied-By", IMPLIED_BY[permission]))
        return resp

    def _session_of(self, req: Request) -> str | None:
        sid = req.cookies().get(self.cookie_name)
        return sid if sid in self._sessions else None

    def _crumb(self, sid: str) -> str:
        return hashlib.sha256(f"{sid}:{self._crumb_salt}".encode()).hexdigest()

    def _crumb_ok(self, req: Request, kind: str) -> bool:
        if not self.csrf or kind == "token":  # API tokens skip the crumb check (since 2.96)
            return True
        sid = self._session_of(req)
        sent = req.headers.get("jenkins-crumb") or (req.form().get("Jenkins-Crumb") or [None])[0]
        return sid is not None and sent == self._crumb(sid)

    # --- routing ----------------------------------------------------------------------------

    def _dispatch(self, req: Request, user: User | None, kind: str) -> Response:
        path = req.path.rstrip("/") or "/"
        if path.startswith("/manage/configuration-as-code"):
            path = path[len("/manage"):] or "/"
        if path == "/whoAmI/api/json":
            return self._whoami(user, kind)
        if path == "/reload-configuration-as-code":
            return self._token_reload(req)
        if req.method == "POST" and not self._crumb_ok(req, kind):
            return self._page(403, "Error 403 No valid crumb was included in the request",
                              "No valid crumb was included in the request")
        if not self._has(user, READ):
            return self._denied(user, READ)
        routes = {
            "/": self._home, "/api/json": self._root_api, "/me/api/json": self._me,
            "/crumbIssuer/api/json": self._crumb_issuer, "/pluginManager/api/json": self._plugin_manager,
            "/configuration-as-code": self._casc_page, "/configuration-as-code/check": self._casc_check,
            "/configuration-as-code/apply": self._casc_apply, "/configuration-as-code/export": self._casc_export,
            "/configuration-as-code/reload": self._casc_reload, "/configuration-as-code/schema": self._casc_schema,
            "/quietDown": self._quiet_down, "/cancelQuietDown": self._cancel_quiet_down,
            "/safeRestart": self._safe_restart,
            "/queue/api/json": self._queue_api, "/computer/api/json": self._computer_api,
        }
        if self.casc_generation >= 2065:
            routes["/configuration-as-code/configure"] = self._casc_configure
        handler = routes.get(path)
        if handler is None:
            return self._page(404, "Not Found", f"Error 404 Not Found: {html.escape(req.path)}")
        if path in _POST_ONLY and req.method != "POST":
            resp = self._page(405, "Error 405", "This URL requires POST")
            resp.headers.append(("Allow", "POST"))
            return resp
        return handler(req, user)

    # --- core endpoints ---------------------------------------------------------------------

    def _home(self, req, user):
        return self._page(200, "Dashboard [Jenkins]", "<div id='main-panel'>Welcome to Jenkins!</div>")

    def _root_api(self, req, user):
        jenkins = self.live.get("jenkins", {})
        data = {
            "_class": "hudson.model.Hudson", "assignedLabels": [{"name": "built-in"}],
            "mode": jenkins.get("mode", "NORMAL"), "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "", "numExecutors": jenkins.get("numExecutors", 2),
            "description": jenkins.get("systemMessage"), "jobs": [], "overallLoad": {},
            "primaryView": {"_class": "hudson.model.AllView", "name": "all", "url": self.root_url},
            "quietDownReason": self.quiet_down_reason if self.quieting_down else None,
            "quietingDown": self.quieting_down, "slaveAgentPort": 50000,
            "unlabeledLoad": {"_class": "jenkins.model.UnlabeledLoadStatistics"}, "url": self.root_url,
            "useCrumbs": self.csrf, "useSecurity": True,
            "views": [{"_class": "hudson.model.AllView", "name": "all", "url": self.root_url}],
        }
        tree = (req.query.get("tree") or [None])[0]
        return self._json(_apply_tree(data, tree) if tree else data)

    def _queue_api(self, req, user):
        data = load.queue_json(self.queue, self.root_url)
        tree = (req.query.get("tree") or [None])[0]
        return self._json(_apply_tree(data, tree) if tree else load.default_view_of_queue(data))

    def _computer_api(self, req, user):
        data = load.computers_json(self.computers)
        tree = (req.query.get("tree") or [None])[0]
        return self._json(_apply_tree(data, tree) if tree else data)

    def _whoami(self, user, kind):
        if user is None:
            return self._json({"_class": "hudson.security.WhoAmI", "anonymous": True, "authenticated": True,
                               "authorities": ["anonymous"], "details": None, "name": "anonymous",
                               "toString": "AnonymousAuthenticationToken [Principal=anonymous, Credentials=[PROTECTED],"
                                           " Authenticated=true, Granted Authorities=[anonymous]]"})
        return self._json({"_class": "hudson.security.WhoAmI", "anonymous": False, "authenticated": True,
                           "authorities": ["authenticated"], "details": None, "name": user.name,
                           "toString": f"UsernamePasswordAuthenticationToken [Principal={user.name}, "
                                       f"Credentials=[PROTECTED], Authenticated=true, "
                                       f"Granted Authorities=[authenticated]]"})

    def _me(self, req, user):
        if user is None:
            return self._denied(None, READ)
        return self._json({"_class": "hudson.model.User", "absoluteUrl": f"{self.root_url}user/{user.name}",
                           "description": None, "fullName": user.full_name or user.name, "id": user.name,
                           "property": [{"_class": "jenkins.security.ApiTokenProperty"},
                                        {"_class": "hudson.model.MyViewsProperty"}]})

    def _crumb_issuer(self, req, user):
        if not self.csrf:
            return self._page(404, "Not Found", "Error 404 Not Found")
        sid = self._session_of(req)
        headers = []
        if sid is None:
            sid = "node0" + secrets.token_hex(12) + ".node0"
            self._sessions.add(sid)
            headers.append(("Set-Cookie", f"{self.cookie_name}={sid}; Path={self._cookie_path()}; HttpOnly"))
        resp = self._json({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": self._crumb(sid),
                           "crumbRequestField": "Jenkins-Crumb"})
        resp.headers += headers
        return resp

    def _cookie_path(self) -> str:
        from urllib.parse import urlparse
        return urlparse(self.root_url).path or "/"

    def _plugin_manager(self, req, user):
        if not self._has(user, SYSTEM_READ):
            return self._denied(user, SYSTEM_READ)
        depth = int((req.query.get("depth") or ["0"])[0] or 0)
        plugins = []
        for p in self.plugins:
            entry = dict(p)
            if depth < 2:
                entry["dependencies"] = [{} for _ in p["dependencies"]]
            plugins.append(entry)
        return self._json({"_class": "hudson.LocalPluginManager", "plugins": plugins})

    def _quiet_down(self, req, user):
        if not self._has(user, MANAGE):
            return self._denied(user, MANAGE)
        self.quieting_down = True
        return self._redirect("")

    def _cancel_quiet_down(self, req, user):
        if not self._has(user, MANAGE):
            return self._denied(user, MANAGE)
        self.quieting_down = False
        return self._redirect("")

    def _safe_restart(self, req, user):
        if not self._has(user, MANAGE):
            return self._denied(user, MANAGE)
        self.restart()
        return self._redirect("")

    # --- configuration as code --------------------------------------------------------------

    def _casc_page(self, req, user):
        if not self._has(user, MANAGE):
            return self._denied(user, MANAGE)
        return self._page(200, "Configuration as Code [Jenkins]",
                          "<h1>Configuration as Code</h1><p>Configuration loaded from the sources.</p>")

    def _casc_check(self, req, user):
        if not self._has(user, ADMINISTER):
            return self._send_error(403, req)
        text = req.body.decode("utf-8", "replace")
        new = self.casc_generation >= 1947
        key = "message" if new else "warning"
        try:
            warnings = self.checker(text, self._plugin_versions(), self.version)
        except casc.CheckFailed as exc:
            if new:
                return self._json([{"line": i.line, "message": i.message} for i in exc.issues], status=400)
            return self._oops(f"io.jenkins.plugins.casc.ConfiguratorException: {exc.issues[0].message}")
        return self._json([{"line": i.line, key: i.message} for i in warnings])

    def _configure(self, text: str) -> None:
        # every apply dry-runs first and aborts before changing anything
        self.checker(text, self._plugin_versions(), self.version)
        ignore = next((f for f in self.faults if f.kind == "ignore_apply" and f.times != 0), None)
        if ignore is not None:
            ignore.times -= ignore.times > 0
            return
        self.live = casc.merge(self.live, casc.resolve(casc.parse(text), self.env))

    def _casc_configure(self, req, user):
        if not self._has(user, ADMINISTER):
            return self._send_error(403, req, "Requires ADMINISTER permission")
        try:
            self._configure(req.body.decode("utf-8", "replace"))
        except casc.CheckFailed as exc:
            return self._json([{"line": i.line, "message": i.message} for i in exc.issues], status=400)
        return Response(200, b"Configuration successfully applied.",
                        self._headers("text/plain;charset=utf-8"))

    def _casc_apply(self, req, user):
        if not self._has(user, ADMINISTER):
            return self._send_error(403, req)
        try:
            self._configure(req.body.decode("utf-8", "replace"))
        except casc.CheckFailed as exc:
            return self._oops(f"io.jenkins.plugins.casc.ConfiguratorException: {exc.issues[0].message}")
        return Response(200, b"", self._headers("text/html;charset=utf-8"))

    def _casc_export(self, req, user):
        if not self._has(user, SYSTEM_READ):
            return self._send_error(403, req)
        return Response(200, casc.export(self.live).encode(), self._headers("application/x-yaml;charset=utf-8"))

    def _reload_from_source(self) -> str | None:
        """Re-read the file source; the error message, or None on success."""
        if not self._file_source:
            return "No configuration source: CASC_JENKINS_CONFIG is not set"
        try:
            self._configure(self._file_source)
        except casc.CheckFailed as exc:
            return exc.issues[0].message
        return None

    def _casc_reload(self, req, user):
        if not self._has(user, MANAGE):
            return self._send_error(403, req)
        error = self._reload_from_source()
        if error is None:
            return self._redirect("manage/configuration-as-code/")
        # The plugin's quirk: a failed reload is a 200 page, not an error status.
        return self._page(200, "Configuration as Code [Jenkins]",
                          f"<h1>Error loading configuration</h1><p class='error'>{html.escape(error)}</p>")

    def _token_reload(self, req):
        if req.method != "POST":
            resp = self._page(405, "Error 405", "This URL requires POST")
            resp.headers.append(("Allow", "POST"))
            return resp
        if not self.reload_token:
            return self._page(404, "Not Found", "Error 404 Not Found")
        if req.param("casc-reload-token") != self.reload_token:
            return self._page(401, "Unauthorized", "Invalid token")
        error = self._reload_from_source()
        if error is not None:
            return self._json({"status": "error", "message": error})
        return Response(200, b"", self._headers("text/plain;charset=utf-8"))

    def _casc_schema(self, req, user):
        if not self._has(user, SYSTEM_READ):
            return self._send_error(403, req)
        return self._json({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                           "properties": {k: {"type": "object"} for k in casc.roots(self._plugin_versions(),
                                                                                     self.version)}})

    # --- response helpers -------------------------------------------------------------------

    def _headers(self, content_type: str, api: bool = True) -> list[tuple[str, str]]:
        headers = [("Content-Type", content_type), ("X-Content-Type-Options", "nosniff")]
        if api:
            headers += [("X-Jenkins", self.version), ("X-Jenkins-Session", self.session_id),
                        ("X-Hudson", "1.395")]
        return headers

    def _json(self, data, status: int = 200) -> Response:
        return Response(status, json.dumps(data).encode(), self._headers("application/json;charset=utf-8"))

    def _page(self, status: int, title: str, body: str, api: bool = True) -> Response:
        text = f"<html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>"
        return Response(status, text.encode(), self._headers("text/html;charset=utf-8", api=api))

    def _oops(self, message: str) -> Response:
        """Core's error page for an exception (oops.jelly): the trace only with SHOW_STACK_TRACE."""
        trace = (f"<h2>Stack trace</h2><pre style='margin:2em; clear:both'>{html.escape(message)}\n"
                 f"\tat io.jenkins.plugins.casc.ConfigurationAsCode.doCheck(ConfigurationAsCode.java:302)</pre>"
                 if self.show_stack_trace else "")
        return self._page(500, "Jenkins",
                          "<h1 style='text-align: center'>Oops!</h1><div id='error-description'>"
                          "<h2 style='text-align: center'>A problem occurred while processing the request</h2>"
                          f"<p style='text-align: center'>Logging ID={uuid.uuid4()}</p></div>{trace}")

    def _send_error(self, status: int, req: Request, message: str | None = None) -> Response:
        """HttpServletResponse.sendError as the plugin calls it: the servlet container's (Jetty's) error
        page, no Jenkins header at all."""
        reason = message or {403: "Forbidden", 404: "Not Found"}.get(status, "Error")
        text = (f"<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n"
                f"<title>Error {status} {html.escape(reason)}</title>\n</head>\n<body>\n"
                f"<h2>HTTP ERROR {status} {html.escape(reason)}</h2>\n<table>\n"
                f"<tr><th>URI:</th><td>{html.escape(req.path)}</td></tr>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n"
                f"<tr><th>MESSAGE:</th><td>{html.escape(reason)}</td></tr>\n"
                f"<tr><th>SERVLET:</th><td>Stapler</td></tr>\n</table>\n</body>\n</html>\n")
        return Response(status, text.encode("latin-1", "replace"), [("Content-Type", "text/html;charset=iso-8859-1")])

    def _redirect(self, where: str) -> Response:
        resp = Response(302, b"", self._headers("text/html;charset=utf-8"))
        resp.headers.append(("Location", self.root_url + where))
        return resp


def _split_tree(spec: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in spec:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        current += ch
    if current:
        parts.append(current)
    return parts


def _apply_tree(data, spec: str):
    """The `tree=` filter of the remote API: `_class` plus the named fields, recursively."""
    if isinstance(data, list):
        return [_apply_tree(item, spec) for item in data]
    if not isinstance(data, dict):
        return data
    out = {"_class": data["_class"]} if "_class" in data else {}
    for part in _split_tree(spec):
        name, _, sub = part.partition("[")
        if name in data:
            out[name] = _apply_tree(data[name], sub[:-1]) if sub else data[name]
    return out
