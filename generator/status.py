"""Live state of the fleet's controllers, next to their quotas (`fleet status`).

Per controller, read-only GETs through generator/jenkins_client.py: the root API
(version from X-Jenkins, quiet-down state), the build queue, the executors, the
installed plugins. Controllers are asked in parallel, each request with a
timeout; a controller that cannot be asked is a row with a reason, never an
exception. Where each controller is and how to log in is resolved exactly as for
`fleet push` (generator/push.py). Library code: returns results, never prints.

Saturation: the instance can run `capacity` builds at once, maxConcurrency agent
pods of the Kubernetes cloud plus the executors of its online permanent agents.
It is saturated when that many builds run and the queue is not empty: the quota,
not Jenkins, makes builds wait (the evidence for `fleet audit`'s "more packs?").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import __version__
from .fleet_run import Running, run_controllers
from .jenkins_client import (
    AuthError,
    Interrupted,
    JenkinsClient,
    JenkinsError,
    RetryPolicy,
    Timeout,
    TLSError,
    Unreachable,
)
from .push import PluginReport, model_plugins
from .targets import Target

STATES = ("ok", "partial", "failed", "unreachable")


@dataclass(frozen=True)
class StatusOptions:
    jobs: int = 8
    timeout: float = 10.0
    verify_tls: bool = True
    # One retry: a status must answer quickly, even for a fleet with dead controllers.
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=2, base=0.5, cap=2.0))


@dataclass
class QueuedItem:
    task: str
    why: str
    waited: float  # seconds

    def as_dict(self) -> dict:
        return {"task": self.task, "why": self.why, "waitedSeconds": round(self.waited)}


@dataclass
class Status:
    name: str
    url: str
    cluster: str
    max_concurrency: int
    expected_version: str = ""
    state: str = "unreachable"  # ok | partial | failed | unreachable
    reason: str = ""
    step: str = ""
    version: str = ""
    quieting_down: bool | None = None
    running: int | None = None  # busy executors (builds running), every node
    static_executors: int | None = None  # executors of online permanent agents and the built-in node
    cloud_agents: int | None = None  # agent pods that exist (busy, idle or starting)
    queue: list[QueuedItem] | None = None
    plugins: PluginReport | None = None
    warnings: list[str] = field(default_factory=list)
    duration: float = 0.0
    requests: int = 0

    @property
    def reachable(self) -> bool:
        return self.state != "unreachable"

    @property
    def ok(self) -> bool:
        """The controller's state could be read (plugins may be unknown)."""
        return self.state in ("ok", "partial")

    @property
    def capacity(self) -> int | None:
        return None if self.static_executors is None else self.max_concurrency + self.static_executors

    @property
    def queue_length(self) -> int | None:
        return None if self.queue is None else len(self.queue)

    @property
    def longest_wait(self) -> float | None:
        if self.queue is None:
            return None
        return max((i.waited for i in self.queue), default=0.0)

    @property
    def saturated(self) -> bool | None:
        if self.running is None or self.capacity is None or self.queue is None:
            return None
        return self.running >= self.capacity and len(self.queue) > 0

    def plugin_summary(self) -> str:
        if self.plugins is None:
            return "?"
        p = self.plugins
        parts = [f"{len(x)} {word}" for x, word in ((p.missing, "missing"), (p.inactive, "inactive"),
                                                     (p.outdated, "outdated"), (p.newer, "newer")) if x]
        return ", ".join(parts) or "ok"

    def as_dict(self) -> dict:
        oldest = max(self.queue, key=lambda i: i.waited) if self.queue else None
        return {
            "name": self.name, "url": self.url, "cluster": self.cluster, "state": self.state,
            "reachable": self.reachable, "reason": self.reason, "step": self.step,
            "jenkinsVersion": self.version, "expectedVersion": self.expected_version,
            "quietingDown": self.quieting_down,
            "builds": {"running": self.running, "maxConcurrency": self.max_concurrency,
                       "staticExecutors": self.static_executors, "capacity": self.capacity,
                       "cloudAgents": self.cloud_agents},
            "queue": None if self.queue is None else {
                "length": len(self.queue),
                "longestWaitSeconds": round(self.longest_wait or 0),
                "oldest": oldest.as_dict() if oldest else None,
                "items": [i.as_dict() for i in sorted(self.queue, key=lambda i: -i.waited)],
            },
            "saturated": self.saturated,
            "plugins": None if self.plugins is None else {"drift": self.plugin_summary(), **self.plugins.as_dict()},
            "warnings": list(self.warnings),
            "durationSeconds": round(self.duration, 3),
            "requests": self.requests,
        }


ClientFactory = Callable[..., JenkinsClient]


def status_one(target: Target, options: StatusOptions, *, client_factory: ClientFactory = JenkinsClient,
               sink: dict | None = None) -> Status:
    """One controller's state; `sink[name]` holds its Status from the start (what Ctrl-C reports of it)."""
    status = new_status(target)
    if sink is not None:
        sink[target.name] = status
    entry = target.entry
    started = time.monotonic()
    client = client_factory(target.url, target.credentials, timeout=options.timeout, verify=options.verify_tls,
                            retry=options.retry)
    try:
        _read(client, entry, status)
    finally:
        client.close()
        status.duration = time.monotonic() - started
        status.requests = len(client.log)
    return status


def new_status(target: Target) -> Status:
    jenkins = target.entry.model.get("jenkins", {})
    return Status(target.name, target.url, target.entry.cluster, int(jenkins.get("maxConcurrency", 0)),
                  str(jenkins.get("version", "")))


def _read(client: JenkinsClient, entry, status: Status) -> None:
    status.step = "controller"
    try:
        root = client.controller_state()
    except Interrupted:
        status.state, status.reason = "failed", "interrupted"
        return
    except JenkinsError as err:
        # No HTTP answer at all is "unreachable"; an answer we cannot use (401, 403, 5xx) is "failed".
        status.state = "unreachable" if isinstance(err, (Unreachable, Timeout, TLSError)) else "failed"
        status.reason = str(err)
        return
    status.version, status.quieting_down = root.version, root.quieting_down
    if root.quieting_down:
        status.warnings.append("quieting down" + (f": {root.quiet_down_reason}" if root.quiet_down_reason else "")
                               + " (no new builds start)")
    if status.expected_version and root.version and root.version != status.expected_version:
        status.warnings.append(f"runs Jenkins {root.version}, the instance expects {status.expected_version}")
    try:
        status.step = "queue"
        queue = client.queue()
        status.step = "executors"
        computers = client.computers()
    except Interrupted:
        status.state, status.reason = "failed", f"interrupted while reading the {status.step}"
        return
    except JenkinsError as err:
        status.state, status.reason = "failed", f"{status.step}: {err}"
        return
    status.queue = [QueuedItem(i.task or "(pipeline node block)", i.why, max(0, queue.now - i.in_queue_since) / 1000)
                    for i in queue.items]
    status.running = computers.busy_executors
    status.cloud_agents = sum(1 for c in computers.computers if c.cloud)
    status.static_executors = sum(c.executors for c in computers.computers if not c.cloud and not c.offline)
    status.step = "plugins"
    try:
        installed = client.plugins(crumb=False)
    except Interrupted:
        status.state, status.reason = "failed", "interrupted while reading the plugins"
        return
    except JenkinsError as err:
        status.state = "partial"
        status.reason = f"plugins unknown: {err}" + (" (the status user needs Overall/SystemRead)"
                                                     if isinstance(err, AuthError) and err.status == 403 else "")
        return
    status.plugins = model_plugins(entry.model, installed)
    status.warnings.extend(status.plugins.problems())
    status.state = "ok"
    status.step = ""
    status.reason = _summary(status)


def _summary(status: Status) -> str:
    if status.saturated:
        return (f"saturated: {status.running} builds running (cap {status.capacity}), "
                f"{status.queue_length} waiting up to {format_duration(status.longest_wait)}")
    return "; ".join(status.warnings)


# --- the fleet --------------------------------------------------------------------------------

@dataclass
class FleetStatus:
    statuses: list[Status]
    duration: float
    interrupted: bool = False
    bugs: list[tuple[str, BaseException]] = field(default_factory=list)  # (controller, what it raised)

    @property
    def ok(self) -> bool:
        """Every controller answered with its state (exit code 0)."""
        return all(s.ok for s in self.statuses)

    def counts(self) -> dict[str, int]:
        return {state: sum(1 for s in self.statuses if s.state == state) for state in STATES}

    def report(self) -> dict:
        return {"generator": f"jenkins-fleet {__version__}", "ok": self.ok, "interrupted": self.interrupted,
                "durationSeconds": round(self.duration, 3), "counts": self.counts(),
                "saturated": sorted(s.name for s in self.statuses if s.saturated),
                "controllers": [s.as_dict() for s in self.statuses]}


def fleet_status(targets: list[Target], options: StatusOptions, *,
                 progress: Callable[[Status], None] | None = None, running: Running | None = None,
                 client_factory: ClientFactory = JenkinsClient) -> FleetStatus:
    """Ask every target, `options.jobs` at a time; Ctrl-C cuts what is in flight and reports the rest."""
    started = time.monotonic()
    running = running or Running()

    def salvage(target: Target, slot, status: Status | None) -> Status:
        status = status or new_status(target)
        status.state = "failed"
        if slot.error is not None:  # a bug: this controller's row says so, the others are asked
            status.reason = (f"internal error at {status.step or 'start'}: {type(slot.error).__name__}: "
                             f"{slot.error} (please report it)")
        else:
            status.reason = "interrupted" + (f" while reading the {status.step}" if status.step else "")
        return status

    statuses, bugs, interrupted = run_controllers(
        targets, lambda t, factory, sink: status_one(t, options, client_factory=factory, sink=sink),
        salvage, jobs=options.jobs, running=running, client_factory=client_factory, progress=progress)
    return FleetStatus(sorted(statuses, key=lambda s: s.name), time.monotonic() - started, interrupted, bugs)


def format_duration(seconds: float | None) -> str:
    """12s, 4m05s, 2h07m: what a table cell needs."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
