"""Push generated JCasC to live controllers, fleet-wide, safely.

Per controller, in order: who am I -> version -> plugins -> check -> diff ->
apply (only when something changed) -> verify.  A failed step ends that
controller's push; nothing is applied after a failed check; one controller's
failure never stops the others.  Library code: returns results, never prints.

Where controllers are and how to log in: generator/targets.py; the semantic
diff of JCasC: generator/value_diff.py (managed_diff).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import __version__, sources, version_number, yamlout
from .errors import WARNING, Diagnostic, FleetError, plural
from .fleet_run import Running, run_controllers
from .jenkins_client import (
    InstalledPlugin,
    Interrupted,
    JenkinsClient,
    JenkinsError,
    RetryPolicy,
)
from .targets import Target
from .value_diff import Change, managed_diff
from .version_number import version_key

OUTCOMES = ("unchanged", "applied", "failed", "skipped")

# --- plugins ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PluginReport:
    missing: tuple[str, ...] = ()
    inactive: tuple[str, ...] = ()
    outdated: tuple[tuple[str, str, str], ...] = ()  # (plugin, installed, wanted at least)
    extra: tuple[str, ...] = ()
    newer: tuple[tuple[str, str, str], ...] = ()  # (plugin, installed, pinned): upgraded past the image

    def problems(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"plugins missing: {', '.join(self.missing)}")
        if self.inactive:
            out.append(f"plugins inactive: {', '.join(self.inactive)}")
        for name, have, want in self.outdated:
            out.append(f"plugin {name} {have} is older than {want}")
        for name, have, pinned in self.newer:
            out.append(f"plugin {name} {have} is not the pinned {pinned} (upgraded after the image was built)")
        return out

    def as_dict(self) -> dict:
        out = {"missing": list(self.missing), "inactive": list(self.inactive),
               "outdated": [{"plugin": n, "installed": h, "wanted": w} for n, h, w in self.outdated],
               "extra": list(self.extra)}
        if self.newer:  # only against a pinned closure (model.json jenkins.installedPlugins)
            out["newer"] = [{"plugin": n, "installed": h, "pinned": p} for n, h, p in self.newer]
        return out


def model_plugins(model: dict, installed: list[InstalledPlugin]) -> PluginReport:
    """The live plugins against model.json: the pinned closure where the instance has one
    (jenkins.installedPlugins, docs/plugins.md), else its requested plugins."""
    jenkins = model.get("jenkins", {})
    if jenkins.get("installedPlugins") is not None:
        return compare_pinned(jenkins["installedPlugins"], installed)
    return compare_plugins(list(jenkins.get("plugins", [])), installed)


def compare_pinned(pinned: dict[str, str], installed: list[InstalledPlugin]) -> PluginReport:
    """Every plugin of the image at exactly its pinned version: an older one is outdated, a newer
    one was upgraded in the UI, one the image does not have is extra."""
    have = {p.short_name: p for p in installed}
    missing = sorted(n for n in pinned if n not in have)
    inactive = sorted(n for n in pinned if n in have and not (have[n].active and have[n].enabled))
    order = {n: version_number.compare(have[n].version, v) for n, v in pinned.items() if n in have}
    outdated = sorted((n, have[n].version, pinned[n]) for n, c in order.items() if c < 0)
    newer = sorted((n, have[n].version, pinned[n]) for n, c in order.items() if c > 0)
    extra = sorted(n for n in have if n not in pinned)
    return PluginReport(tuple(missing), tuple(inactive), tuple(outdated), tuple(extra), tuple(newer))


def compare_plugins(required: list[str], installed: list[InstalledPlugin]) -> PluginReport:
    """`required` as in model.json jenkins.plugins: "id" or "id:minimum-version"."""
    have = {p.short_name: p for p in installed}
    wanted = {}
    for item in required:
        name, _, pin = item.partition(":")
        wanted[name] = pin
    missing = sorted(n for n in wanted if n not in have)
    inactive = sorted(n for n in wanted if n in have and not (have[n].active and have[n].enabled))
    outdated = sorted((n, have[n].version, pin) for n, pin in wanted.items()
                      if pin and n in have and version_key(have[n].version) < version_key(pin))
    needed, todo = set(), [n for n in wanted if n in have]
    while todo:  # dependencies of what we require are not "extra"
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(d for d, _ in have[name].dependencies if d in have)
    extra = sorted(n for n in have if n not in needed)
    return PluginReport(tuple(missing), tuple(inactive), tuple(outdated), tuple(extra))



# --- check issues against the generated file ------------------------------------------------------

def check_diagnostics(issues, path: str, text: str) -> list[Diagnostic]:
    """Jenkins' check issues as diagnostics positioned in the generated file (line -1 is located by key)."""
    if not issues:  # the usual answer: no need to parse the file for positions
        return []
    try:
        doc = sources.parse_text(text, path)
    except FleetError:
        doc = None
    lines = text.splitlines()
    out = []
    for issue in issues:
        line, column, key = issue.line, 1, ""
        if line <= 0:
            m = re.search(r"line (\d+), column (\d+)", issue.message)
            if m:
                line, column = int(m.group(1)), int(m.group(2))
            elif doc is not None:
                found = _locate(issue.message, doc)
                if found:
                    (line, column, _), key = found
        if line <= 0:
            line, column = 0, 0
        source = lines[line - 1] if 0 < line <= len(lines) else None
        out.append(Diagnostic(path, line, column, key, issue.message.splitlines()[0] if issue.message else "",
                              severity="error" if issue.severity == "error" else WARNING,
                              source_line=source, context=("reported by Jenkins' configuration-as-code check",)))
    return out


def _locate(message: str, doc) -> tuple[tuple[int, int, int], str] | None:
    names = []
    m = re.search(r"root elements?: ([\w\-, ]+)", message)
    if m:
        names = [("root", n.strip()) for n in m.group(1).split(",") if n.strip()]
    m = m or re.search(r"Invalid configuration elements for type:? (?:class )?[\w.$]+ : ([\w\-, ]+)", message)
    if m and not names:
        names = [("any", n.strip()) for n in m.group(1).split(",") if n.strip()]
    m2 = re.search(r"implementation found for (\w+)", message)
    if m2:
        names = [("any", m2.group(1))]
    for scope, name in names:
        for key_path, pos in doc.keys.items():
            if key_path and key_path[-1] == name and (scope == "any" or len(key_path) == 1):
                return pos, sources.format_path(key_path)
    return None


# --- one controller ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PushOptions:
    dry_run: bool = False
    jobs: int = 8
    timeout: float = 30.0
    verify_tls: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class Result:
    name: str
    url: str
    cluster: str
    mode: str
    outcome: str = "failed"
    reason: str = ""
    step: str = ""  # the last step reached
    duration: float = 0.0
    user: str = ""
    jenkins_version: str = ""
    expected_version: str = ""
    endpoint: str = ""
    interrupted: bool = False
    internal: bool = False  # the push of this controller hit a bug (exit code 4)
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plugins: PluginReport | None = None
    requests: int = 0
    sessions: list[str] = field(default_factory=list)
    request_log: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome != "failed" and not self.interrupted

    def as_dict(self) -> dict:
        return {
            "name": self.name, "url": self.url, "cluster": self.cluster, "mode": self.mode,
            "outcome": self.outcome, "ok": self.ok, "reason": self.reason, "step": self.step,
            "durationSeconds": round(self.duration, 3), "user": self.user,
            "jenkinsVersion": self.jenkins_version, "expectedVersion": self.expected_version,
            "endpoint": self.endpoint, "warnings": list(self.warnings),
            "changes": [c.as_dict() for c in self.changes], "notCompared": list(self.not_compared),
            "checkIssues": [{"line": d.line, "column": d.column, "key": d.key, "message": d.message,
                             "severity": d.severity} for d in self.diagnostics],
            "plugins": self.plugins.as_dict() if self.plugins else None,
            "requests": self.requests, "interrupted": self.interrupted, "internalError": self.internal,
        }


ClientFactory = Callable[..., JenkinsClient]


class _Stop(Exception):
    """The fleet was interrupted before this controller changed anything."""


def push_one(target: Target, options: PushOptions, *, stop: threading.Event | None = None,
             client_factory: ClientFactory = JenkinsClient, sink: dict | None = None) -> Result:
    """Push one controller; `sink[name]` holds its Result from the start (what Ctrl-C reports of it)."""
    entry = target.entry
    result = Result(entry.name, target.url, entry.cluster, target.mode,
                    expected_version=str(entry.model.get("jenkins", {}).get("version", "")))
    if sink is not None:
        sink[entry.name] = result
    started = time.monotonic()
    client = client_factory(target.url, target.credentials, timeout=options.timeout, verify=options.verify_tls,
                            retry=options.retry)

    def step(name: str) -> None:
        result.step = name
        if stop is not None and stop.is_set():
            raise _Stop(name)

    try:
        _run(target, options, client, result, step)
    except _Stop as exc:
        result.outcome, result.interrupted = "skipped", True
        result.reason = f"interrupted before {exc.args[0]}"
    except Interrupted:
        mark_interrupted(result)
    except JenkinsError as err:
        result.outcome, result.reason = "failed", f"{result.step}: {err}"
    finally:
        client.close()
        result.duration = time.monotonic() - started
        result.requests = len(client.log)
        result.request_log = list(client.log)
        result.sessions = list(client.sessions)
        if len(client.sessions) > 1:
            result.warnings.append(f"the controller restarted during the push (session "
                                   f"{' -> '.join(client.sessions)})")
        if result.warnings and result.outcome != "failed":
            n = len(result.warnings)
            result.reason += f" ({plural(n, 'warning')})"
    return result


def mark_interrupted(result: Result) -> None:
    """Ctrl-C cut this controller's request at `result.step`: say what that means for it."""
    result.interrupted = True
    if result.step == "apply":
        result.outcome = "failed"
        result.reason = ("interrupted during apply: whether the controller applied the configuration is unknown "
                         "(run 'fleet push' again: it changes only what still differs)")
    elif result.step == "verify":
        result.outcome = "applied"
        result.reason = f"applied via /{result.endpoint}; interrupted before the verify"
    else:
        result.outcome = "skipped"
        result.reason = f"interrupted during {result.step or 'whoami'}: nothing was changed"


def _run(target: Target, options: PushOptions, client: JenkinsClient, result: Result, step) -> None:
    entry = target.entry
    step("whoami")
    identity = client.whoami()
    result.user = identity.user

    step("version")
    result.jenkins_version = identity.version
    if not identity.version:
        result.warnings.append("the controller did not say its version (no X-Jenkins header)")
    elif result.expected_version and identity.version != result.expected_version:
        result.warnings.append(f"runs Jenkins {identity.version}, the instance expects {result.expected_version}")

    step("plugins")
    installed = client.plugins()
    result.plugins = model_plugins(entry.model, installed)
    result.warnings.extend(result.plugins.problems())

    casc = next((p for p in installed if p.short_name == "configuration-as-code"), None)
    if casc is None or not (casc.active and casc.enabled):
        result.reason = "plugins: the configuration-as-code plugin is not installed and active: nothing to push to"
        return

    step("check")
    # Before 1947.x the plugin reported check errors as a 500 page; later a 500 is a server fault.
    checked = client.check(entry.jcasc, legacy_errors=version_key(casc.version) < version_key("1947"))
    result.diagnostics = check_diagnostics(checked.issues, entry.jcasc_path, entry.jcasc)
    if checked.errors:
        first = next(d for d in result.diagnostics if d.is_error)
        n = len(checked.errors)
        result.reason = (f"check: Jenkins rejected the generated configuration ({plural(n, 'error')}; "
                         f"{os.path.basename(first.file)}" + (f":{first.line}" if first.line else "")
                         + f": {first.message})")
        return

    step("diff")
    desired = yamlout.safe_load(entry.jcasc) or {}
    diff = managed_diff(desired, client.export())
    result.changes, result.not_compared = list(diff.changes), list(diff.not_compared)
    if not diff.changes:
        result.outcome, result.reason = "unchanged", "up to date"
        return
    if options.dry_run:
        n = len(diff.changes)
        result.outcome, result.reason = "skipped", f"dry run: {plural(n, 'change')} not applied"
        return

    step("apply")
    if target.mode == "reload":
        applied = client.reload_with_token(target.reload_token) if target.reload_token else client.reload()
    else:
        applied = client.apply(entry.jcasc)
    result.endpoint = applied.endpoint
    if not applied.ok:
        result.diagnostics += check_diagnostics(applied.issues, entry.jcasc_path, entry.jcasc)
        result.reason = f"apply: /{applied.endpoint} failed: {applied.issues[0].message.splitlines()[0]}"
        return

    result.step = "verify"  # past the apply: an interruption no longer stops us
    after = managed_diff(desired, client.export())
    if after.changes:
        paths = ", ".join(c.path for c in after.changes[:3]) + (", ..." if len(after.changes) > 3 else "")
        hint = (" (was the ConfigMap updated? reload reads the mounted file)" if target.mode == "reload" else "")
        result.reason = (f"verify: {len(after.changes)} managed key(s) still differ after "
                         f"/{applied.endpoint}: {paths}{hint}")
        return
    result.outcome = "applied"
    n = len(diff.changes)
    result.reason = f"{plural(n, 'change')} via /{applied.endpoint}"


# --- the fleet --------------------------------------------------------------------------------

@dataclass
class FleetResult:
    results: list[Result]
    duration: float
    interrupted: bool = False
    dry_run: bool = False
    bugs: list[tuple[str, BaseException]] = field(default_factory=list)  # (controller, what it raised)

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for r in self.results if r.outcome == o) for o in OUTCOMES}

    def report(self) -> dict:
        return {"generator": f"jenkins-fleet {__version__}", "dryRun": self.dry_run, "ok": self.ok,
                "interrupted": self.interrupted, "durationSeconds": round(self.duration, 3),
                "counts": self.counts(), "controllers": [r.as_dict() for r in self.results]}


def push_fleet(targets: list[Target], options: PushOptions, *,
               progress: Callable[[Result], None] | None = None, running: Running | None = None,
               client_factory: ClientFactory = JenkinsClient) -> FleetResult:
    """Push every target with at most `options.jobs` in flight.  Ctrl-C (KeyboardInterrupt in the
    calling thread) starts no controller, cuts the requests in flight, and reports what each did."""
    started = time.monotonic()
    running = running or Running()

    def salvage(target: Target, slot, result: Result | None) -> Result:
        result = result or Result(target.name, target.url, target.entry.cluster, target.mode)
        if slot.error is not None:  # a bug: this controller failed, the others were pushed
            result.outcome, result.internal = "failed", True
            result.reason = (f"internal error at {result.step or 'start'}: {type(slot.error).__name__}: "
                             f"{slot.error} (please report it)")
        elif not slot.started:
            result.outcome, result.interrupted, result.reason = "skipped", True, "interrupted before whoami"
        else:  # its request did not end within the grace period after Ctrl-C
            mark_interrupted(result)
        return result

    results, bugs, interrupted = run_controllers(
        targets, lambda t, factory, sink: push_one(t, options, stop=running.stop, client_factory=factory, sink=sink),
        salvage, jobs=options.jobs, running=running, client_factory=client_factory, progress=progress)
    return FleetResult(sorted(results, key=lambda r: r.name), time.monotonic() - started, interrupted,
                       options.dry_run, bugs)
