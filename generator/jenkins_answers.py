"""What a controller answers, checked before anything uses it: typed results or `Malformed`.

A controller (or whatever answers in its place: a proxy, a captive portal, a hostile host) can
send anything. Every answer the tool reads is parsed here into the dataclasses below, field by
field with its type, or refused with a sentence saying what was wrong; nothing downstream ever
indexes raw JSON. Documents are bounded: JSON and YAML nesting depth, YAML alias expansion
(an export is YAML, and 1 KB of nested aliases expands to gigabytes), the length of texts kept
for messages. The HTTP side (how much is read, for how long) is generator/jenkins_client.py.

The shapes are Jenkins' own: core's remote API (hudson.model.Api exports of Hudson, Queue,
ComputerSet, PluginManager, User; recorded answers in tests/fixtures/jenkins-http), the crumb of
hudson.security.csrf.DefaultCrumbIssuer, and the configuration-as-code plugin's answers
(ConfigurationAsCode.java at 2117.vc05a_0b_e6b_f4e: doCheck writes a JSON list of
{"line": int, "message": text}, 200 for warnings and 400 for errors; plugins before 1947 wrote
"warning" instead of "message").
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import yaml

MAX_DEPTH = 64  # nesting of a JSON or YAML answer; Jenkins' deepest (depth=2 plugins) is 5
MAX_NODES = 200_000  # values of a YAML answer, aliases expanded; a large export has some 10,000
MAX_TEXT = 2000  # characters of one controller text kept for a message
MAX_LINE = 10_000_000  # a /check line number beyond any file we send


class Malformed(Exception):
    """The answer is not what the endpoint returns; the text says what is wrong with it."""


# --- typed results ----------------------------------------------------------------------------

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
class Crumb:
    field: str  # the header name, "Jenkins-Crumb"
    value: str


# --- documents --------------------------------------------------------------------------------

def json_document(text: str):
    """JSON, bounded in depth; Malformed when it is not JSON."""
    if _json_depth(text) > MAX_DEPTH:
        raise Malformed(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # ValueError also for integers beyond 4300 digits
        raise Malformed("not JSON") from None


def _json_depth(text: str) -> int:
    """The bracket depth, counted before parsing (json.loads recurses; strings are skipped)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        c = token.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts nodes as if every alias were expanded, and refuses deep
    nesting and an alias inside its own anchor (a cycle)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[str, int] = {}
        self._open: set[str] = set()

    def _count(self, n: int) -> None:
        self._expanded += n
        if self._expanded > MAX_NODES:
            raise Malformed(f"YAML of more than {MAX_NODES:,} values once its aliases are expanded")

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise Malformed(f"YAML alias *{event.anchor} inside its own anchor (a cycle)")
            node = super().compose_node(parent, index)
            self._count(self._sizes.get(event.anchor, 1))
            return node
        anchor = getattr(event, "anchor", None)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise Malformed(f"YAML nested deeper than {MAX_DEPTH} levels")
        before = self._expanded
        self._count(1)
        if anchor:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        if anchor:
            self._open.discard(anchor)
            self._sizes[anchor] = self._expanded - before
        self._depth -= 1
        return node


# Where an alias can start a node (after a space, a line start, or a flow indicator): text without one
# cannot expand, and libyaml (0.2.5+ refuses nesting beyond 1000) reads it 15 times faster than the
# counting composer. Conservative: a "*" at such a place inside a quoted string also takes the slow path.
_MAYBE_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*", re.MULTILINE)


def yaml_document(text: str):
    """YAML with the safe constructors, its alias expansion, size and depth bounded; Malformed otherwise."""
    if not _MAYBE_ALIAS.search(text):
        try:
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise Malformed(f"YAML that does not parse{where}") from None
        except (ValueError, RecursionError, OverflowError):
            raise Malformed("YAML with a value that cannot be read") from None
        _bounded(data)
        return data
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise Malformed(f"YAML that does not parse{where}") from None
    except (ValueError, RecursionError, OverflowError):  # e.g. an integer beyond 4300 digits
        raise Malformed("YAML with a value that cannot be read") from None
    finally:
        loader.dispose()


def _bounded(data) -> None:
    """Depth and size of a value read without aliases, walked without recursion."""
    todo, seen = [(data, 1)], 0
    while todo:
        value, depth = todo.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise Malformed(f"YAML nested deeper than {MAX_DEPTH} levels")
        if seen > MAX_NODES:
            raise Malformed(f"YAML of more than {MAX_NODES:,} values once its aliases are expanded")
        if isinstance(value, dict):
            todo.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            todo.extend((v, depth + 1) for v in value)


# --- fields -----------------------------------------------------------------------------------

def _mapping(data, what: str) -> dict:
    if not isinstance(data, dict):
        raise Malformed(f"{what} is {_kind(data)}, not an object")
    return data


def _kind(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a text", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def field(data: dict, key: str, kind: type, what: str, *, optional: bool = False, default=None):
    """data[key] of exactly that type (a bool is not a number); absent or null only when optional."""
    value = data.get(key)
    if value is None:
        if optional:
            return default
        raise Malformed(f"{what} has no '{key}'")
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        expected = {str: "a text", int: "a whole number", bool: "true or false", list: "a list",
                    dict: "an object"}[kind]
        raise Malformed(f"{what}: '{key}' is {_kind(value)}, not {expected}")
    return clip(value) if kind is str else value


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """A controller's text as kept for messages: at most `limit` characters."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit:,} more characters)"


# --- endpoints --------------------------------------------------------------------------------

def crumb(data) -> Crumb:
    """GET /crumbIssuer/api/json: {"crumb": "<hex>", "crumbRequestField": "Jenkins-Crumb"}."""
    data = _mapping(data, "the crumb")
    name = field(data, "crumbRequestField", str, "the crumb")
    value = field(data, "crumb", str, "the crumb")
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}", name):  # an HTTP header name (RFC 9110 token)
        raise Malformed("the crumb's 'crumbRequestField' is not a header name")
    if not re.fullmatch(r"[\x21-\x7e]{1,512}", value):
        raise Malformed("the crumb's value is not a short printable text")
    return Crumb(name, value)


def user(data) -> tuple[str, str]:
    """GET /me/api/json (hudson.model.User): id and fullName."""
    data = _mapping(data, "the answer")
    ident = field(data, "id", str, "the user")
    return ident, field(data, "fullName", str, "the user", optional=True, default="") or ident


def plugins(data) -> list[InstalledPlugin]:
    """GET /pluginManager/api/json?depth=2: every plugin with its dependencies."""
    data = _mapping(data, "the answer")
    out = []
    for i, p in enumerate(field(data, "plugins", list, "the answer")):
        where = f"plugin {i + 1}"
        p = _mapping(p, where)
        name = field(p, "shortName", str, where)
        where = f"plugin '{name}'"
        deps = []
        for j, d in enumerate(field(p, "dependencies", list, where, optional=True, default=[])):
            d = _mapping(d, f"{where}, dependency {j + 1}")
            if "shortName" in d:  # without depth=2 each dependency is {}
                deps.append((field(d, "shortName", str, f"{where}, dependency {j + 1}"),
                             field(d, "optional", bool, f"{where}, dependency {j + 1}", optional=True,
                                   default=False)))
        out.append(InstalledPlugin(name, field(p, "version", str, where), field(p, "active", bool, where),
                                   field(p, "enabled", bool, where), tuple(deps)))
    names = [p.short_name for p in out]
    if len(set(names)) != len(names):
        raise Malformed("a plugin is listed twice")
    return sorted(out, key=lambda p: p.short_name)


def controller(data, version: str) -> ControllerState:
    """GET /api/json?tree=quietingDown,quietDownReason (hudson.model.Hudson)."""
    data = _mapping(data, "the answer")
    return ControllerState(version, field(data, "quietingDown", bool, "the controller"),
                           field(data, "quietDownReason", str, "the controller", optional=True, default=""))


def queue(data) -> tuple[QueueItem, ...]:
    """GET /queue/api/json?tree=items[id,inQueueSince,why,blocked,buildable,stuck,task[name,fullName]]."""
    data = _mapping(data, "the answer")
    items = []
    for i, item in enumerate(field(data, "items", list, "the queue")):
        where = f"queue item {i + 1}"
        item = _mapping(item, where)
        task = item.get("task")
        name = ""
        if task is not None:
            task = _mapping(task, f"{where}, task")
            name = (field(task, "fullName", str, f"{where}, task", optional=True, default="")
                    or field(task, "name", str, f"{where}, task", optional=True, default=""))
        items.append(QueueItem(field(item, "id", int, where), name,
                               field(item, "why", str, where, optional=True, default=""),
                               field(item, "inQueueSince", int, where),
                               field(item, "blocked", bool, where, optional=True, default=False),
                               field(item, "buildable", bool, where, optional=True, default=False),
                               field(item, "stuck", bool, where, optional=True, default=False)))
    return tuple(items)


def computers(data) -> tuple[int, int, tuple[Computer, ...]]:
    """GET /computer/api/json?tree=busyExecutors,totalExecutors,computer[...] (hudson.model.ComputerSet)."""
    data = _mapping(data, "the answer")
    out = []
    for i, c in enumerate(field(data, "computer", list, "the computers")):
        where = f"computer {i + 1}"
        c = _mapping(c, where)
        out.append(Computer(field(c, "displayName", str, where, optional=True, default=""),
                            field(c, "_class", str, where, optional=True, default=""),
                            field(c, "offline", bool, where), field(c, "idle", bool, where),
                            _count(field(c, "numExecutors", int, where, optional=True, default=0), where)))
    return (_count(field(data, "busyExecutors", int, "the computers"), "busyExecutors"),
            _count(field(data, "totalExecutors", int, "the computers"), "totalExecutors"), tuple(out))


def _count(n: int, what: str) -> int:
    if not 0 <= n <= 1_000_000:
        raise Malformed(f"{what}: {n if abs(n) < 10**12 else 'a huge number'} is not a count of executors")
    return n


def check_issues(data, severity: str) -> tuple[CheckIssue, ...]:
    """The JSON list of /check (and of /configure's 400): [{"line": N, "message": text}, ...];
    "warning" instead of "message" before 1947. Anything else is not a check result."""
    if not isinstance(data, list):
        raise Malformed(f"the answer is {_kind(data)}, not the list of a check result")
    issues = []
    for i, item in enumerate(data):
        where = f"issue {i + 1}"
        item = _mapping(item, where)
        unknown = set(item) - {"line", "message", "warning"}
        if unknown:
            raise Malformed(f"{where} has unexpected fields: {', '.join(sorted(clip(str(k), 40) for k in unknown))}")
        line = field(item, "line", int, where)
        if not (line == -1 or 0 < line <= MAX_LINE):
            raise Malformed(f"{where}: 'line' is not a line number")
        key = "message" if "message" in item else "warning"
        # /configure writes e.getMessage(), which may be null: json-lib then leaves the key out
        message = field(item, key, str, where, optional=severity == "error", default="") or "(no message)"
        issues.append(CheckIssue(line, message, severity))
    return tuple(issues)


# --- pages ------------------------------------------------------------------------------------

def html_text(body: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", body)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def excerpt(body: str, limit: int = 200) -> str:
    text = html_text(body) if "<" in body else " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exception_message(body: str) -> str:
    """The exception message of a Jenkins error page: only there when the controller shows stack traces
    (-Djenkins.model.Jenkins.SHOW_STACK_TRACE=true, core's oops.jelly since 2.224); "" otherwise."""
    text = html.unescape(re.sub(r"<[^>]+>", "\n", body))
    for line in text.splitlines():
        m = re.search(r"(?:[\w$]+\.)+[\w$]*(?:Exception|Error): (.+)", line)
        if m:
            return clip(m.group(1).strip())
    return ""


def logging_id(body: str) -> str:
    """The "Logging ID=<uuid>" of core's error page (oops.jelly): the key to the controller's log."""
    m = re.search(r"Logging ID=([0-9a-fA-F-]{8,64})", body)
    return m.group(1) if m else ""
