"""The only module that runs kubectl (or `oc`): typed results on top of the admins' own CLI.

Every call is `<binary> --context=<ctx> --request-timeout=<s> ...`: the kubeconfig, its contexts and
`oc login` tokens stay inside kubectl; no credential is ever an argument of ours or read by us.
Every call is bounded in time (the subprocess is killed after its deadline) and in output (stdout
and stderr are cut and the process killed past their limits). Text the server said reaches our
messages only through `printable()`: control characters escaped, length bounded.

Failures raise `KubectlError` with a kind: unreachable, unauthorized (401), forbidden (403),
conflict, not-found, timeout, missing-kind, failed. Library code: returns results, never prints.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field

import yaml

from .errors import Diagnostic, FleetError

DEFAULT_BINARY = "kubectl"
ENV_BINARY = "FLEET_KUBECTL"
FIELD_MANAGER = "jenkins-fleet"
MAX_STDOUT = 64 * 1024 * 1024  # a cluster-wide listing of a large fleet stays far below this
MAX_STDERR = 256 * 1024
MAX_MESSAGE = 2000  # characters of server text kept in one message


class KubectlError(Exception):
    """A kubectl call that failed; the text is safe to show (escaped, bounded, no credential)."""

    def __init__(self, kind: str, message: str, *, conflicts: list[Conflict] | None = None):
        self.kind = kind
        self.conflicts = conflicts or []
        super().__init__(message)


@dataclass(frozen=True)
class Conflict:
    """One field another manager owns: what `Apply failed with N conflicts` lists."""

    manager: str  # as the server printed it: "kubectl-edit" using v1
    field: str  # .data.jenkins.yaml

    def __str__(self) -> str:
        return f"{self.field} (owned by {self.manager})"


def printable(text: str, limit: int = MAX_MESSAGE) -> str:
    """Server text for our messages: control characters escaped (newlines and tabs too), bounded."""
    text = text.strip()
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text) - limit} more characters)"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def binary_for(env, fleet: dict) -> str:
    """FLEET_KUBECTL, else deploy.kubectl in fleet.yaml, else kubectl."""
    return env.get(ENV_BINARY) or (fleet.get("deploy") or {}).get("kubectl") or DEFAULT_BINARY


def context_for(fleet: dict, cluster: str) -> str:
    """clusters[].kubeContext, defaulting to the cluster's name."""
    for c in fleet.get("clusters", []):
        if c.get("name") == cluster:
            return c.get("kubeContext") or cluster
    return cluster


@dataclass
class Processes:
    """The kubectl processes we started and that still run: ended on Ctrl-C (ours only, by pid)."""

    running: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: threading.Event = field(default_factory=threading.Event)

    def stop_all(self) -> None:
        self.stopped.set()
        with self.lock:
            for proc in list(self.running):
                if proc.poll() is None:
                    proc.kill()


@dataclass
class Call:
    args: list[str]  # without the binary and --context: what the log may show
    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Kubectl:
    binary: str
    context: str
    timeout: float = 30.0  # per API request (kubectl --request-timeout) and per call
    processes: Processes = field(default_factory=Processes)
    env: dict | None = None  # None: ours (KUBECONFIG and friends pass through untouched)
    log: list[Call] = field(default_factory=list)

    # --- running ------------------------------------------------------------------------------

    def run(self, args: list[str], *, stdin: bytes | None = None, deadline: float | None = None,
            check: bool = True) -> Call:
        """Run one kubectl command; KubectlError when it fails (check) or exceeds its time."""
        if self.processes.stopped.is_set():
            raise KubectlError("interrupted", "interrupted")
        seconds = deadline if deadline is not None else self.timeout + 5
        argv = [self.binary, f"--context={self.context}", f"--request-timeout={max(1, round(self.timeout))}s", *args]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                    start_new_session=True)  # Ctrl-C reaches us; we end it, by its pid
        except FileNotFoundError:
            raise FleetError([Diagnostic("", 0, 0, "deploy.kubectl", f"'{self.binary}' was not found",
                                         hint=f"install kubectl (or oc), or name it with {ENV_BINARY} or "
                                              "deploy.kubectl in fleet.yaml")]) from None
        except PermissionError:
            raise FleetError([Diagnostic("", 0, 0, "deploy.kubectl", f"'{self.binary}' is not executable",
                                         hint=f"check {ENV_BINARY} or deploy.kubectl in fleet.yaml")]) from None
        with self.processes.lock:
            self.processes.running.add(proc)
        try:
            out, err, too_big = _communicate(proc, stdin, seconds)
        finally:
            with self.processes.lock:
                self.processes.running.discard(proc)
        call = Call(args, proc.returncode, out, err, time.monotonic() - started)
        self.log.append(call)
        if self.processes.stopped.is_set():
            raise KubectlError("interrupted", "interrupted")
        if too_big == "timeout":
            raise KubectlError("timeout", f"kubectl {args[0]} did not finish within {seconds:.0f}s")
        if too_big:
            raise KubectlError("failed", f"kubectl {args[0]} wrote more than {too_big} bytes: stopped")
        if check and call.code != 0:
            raise classify(err, args)
        return call

    # --- reads --------------------------------------------------------------------------------

    def list_managed(self, resources: list[str], selector: str) -> list[dict]:
        """One `kubectl get` for every object of these resource types carrying the label selector,
        in every namespace: kind, namespace, name, labels, annotations (jsonpath keeps it small)."""
        template = ('{range .items[*]}{.kind}{"\\t"}{.metadata.namespace}{"\\t"}{.metadata.name}{"\\t"}'
                    '{.metadata.labels}{"\\t"}{.metadata.annotations}{"\\n"}{end}')
        call = self.run(["get", ",".join(resources), "--all-namespaces", "-l", selector, "-o", f"jsonpath={template}"])
        out = []
        for line in call.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) != 5:
                continue
            out.append({"kind": parts[0], "namespace": parts[1] or None, "name": parts[2],
                        "labels": _json_map(parts[3]), "annotations": _json_map(parts[4])})
        return out

    def get_objects(self, namespace: str, refs: list[str]) -> list[dict]:
        """The live objects named `kind.group/name` (missing ones are left out)."""
        call = self.run(["get", *refs, "-n", namespace, "--ignore-not-found", "-o", "json"])
        return _items(call.stdout)

    def pod_problems(self, namespace: str, selector: dict[str, str]) -> list[str]:
        """Why the pods of a workload are not ready: waiting reasons and unschedulable conditions."""
        sel = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        try:
            pods = _items(self.run(["get", "pods", "-n", namespace, "-l", sel, "-o", "json"]).stdout)
        except KubectlError:
            return []
        out = []
        for pod in pods:
            name = (pod.get("metadata") or {}).get("name", "?")
            status = pod.get("status") or {}
            for cond in status.get("conditions") or []:
                if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                    out.append(f"pod {name}: {cond.get('reason', 'Unschedulable')}: {cond.get('message', '')}")
            for cs in status.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting")
                if waiting and waiting.get("reason"):
                    msg = f"pod {name} container {cs.get('name')}: {waiting['reason']}"
                    if waiting.get("message"):
                        msg += f" ({waiting['message']})"
                    out.append(msg)
        return [printable(p, 300) for p in out[:5]]

    # --- writes -------------------------------------------------------------------------------

    def apply(self, objects: list[dict], *, dry_run: bool = False, force: bool = False,
              output: str = "name") -> ApplyOutcome:
        """Server-side apply of `objects`, in their order, as field manager jenkins-fleet."""
        args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", "-o", output]
        if force:
            args.append("--force-conflicts")
        if dry_run:
            args.append("--dry-run=server")
        stdin = "".join("---\n" + yaml.safe_dump(o, sort_keys=False) for o in objects).encode()
        deadline = self.timeout * max(1, len(objects)) + 5
        call = self.run(args, stdin=stdin, deadline=deadline, check=False)
        if output == "json":
            applied_docs = _items(call.stdout) if call.stdout.strip() else []
            applied = [_ref(d) for d in applied_docs]
        else:
            applied_docs = []
            applied = [line.strip() for line in call.stdout.splitlines() if line.strip()]
        outcome = ApplyOutcome(applied, applied_docs)
        if call.code != 0:
            outcome.error = classify(call.stderr, args)
            # kubectl applies every object it can and reports the failures together, in order: the
            # objects it did not print are the ones that failed, in the order of the errors.
            failed = [o for o in objects if _ref(o) not in applied]
            outcome.failed = [_ref(o) for o in failed]
        return outcome

    def rollout_status(self, kind: str, namespace: str, name: str, seconds: float) -> tuple[bool, str]:
        """`kubectl rollout status` bounded by `seconds`: (done, kubectl's last line or the error)."""
        seconds = max(1, int(seconds))
        try:
            call = self.run(["rollout", "status", f"{kind}/{name}", "-n", namespace, f"--timeout={seconds}s"],
                            deadline=seconds + self.timeout + 5, check=False)
        except KubectlError as exc:
            if exc.kind != "timeout":
                raise
            return False, f"not ready within {seconds}s"
        last = (call.stdout.strip().splitlines() or [""])[-1]
        if call.code == 0:
            return True, printable(last, 300)
        if "timed out waiting" in call.stderr:
            return False, f"not ready within {seconds}s" + (f" ({printable(last, 200)})" if last else "")
        raise classify(call.stderr, ["rollout"])

    def delete(self, namespace: str | None, refs: list[str], *, dry_run: bool = False) -> list[str]:
        """Delete these objects (without waiting for finalizers); returns what kubectl reported deleted."""
        args = ["delete", *refs, "--ignore-not-found", "--wait=false", "-o", "name"]
        if namespace:
            args[1:1] = ["-n", namespace]
        if dry_run:
            args.append("--dry-run=server")
        call = self.run(args, deadline=self.timeout * max(1, len(refs)) + 5)
        return [line.strip() for line in call.stdout.splitlines() if line.strip()]


@dataclass
class ApplyOutcome:
    applied: list[str]  # kind.group/name of each object the server accepted
    documents: list[dict] = field(default_factory=list)  # with output json: what the server returned
    error: KubectlError | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


# --- helpers ----------------------------------------------------------------------------------

def _communicate(proc: subprocess.Popen, stdin: bytes | None, seconds: float) -> tuple[str, str, object]:
    """stdout and stderr, each read up to its limit in its own thread; the process killed past a
    limit or the deadline. Returns (stdout, stderr, problem) with problem "timeout", a byte limit, or None."""
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    problem: list[object] = []

    def reader(stream, key: str, limit: int) -> None:
        size = 0
        while True:
            data = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not data:
                return
            size += len(data)
            if size > limit:
                problem.append(limit)
                proc.kill()
                return
            chunks[key].append(data)

    threads = [threading.Thread(target=reader, args=(proc.stdout, "out", MAX_STDOUT), daemon=True),
               threading.Thread(target=reader, args=(proc.stderr, "err", MAX_STDERR), daemon=True)]
    for t in threads:
        t.start()
    if stdin is not None:
        try:
            proc.stdin.write(stdin)
        except (BrokenPipeError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        problem.append("timeout")
    for t in threads:
        t.join(timeout=5)
    out = b"".join(chunks["out"]).decode("utf-8", "replace")
    err = b"".join(chunks["err"]).decode("utf-8", "replace")
    return out, err, ("timeout" if "timeout" in problem else (problem[0] if problem else None))



def classify(stderr: str, args: list[str]) -> KubectlError:
    """kubectl's error output as a KubectlError of a kind we can act on."""
    text = "\n".join(line for line in stderr.splitlines()
                     if not re.match(r"^[EIW]\d{4} ", line))  # klog lines repeat the error; keep kubectl's own
    text = text.strip() or stderr.strip()
    first = _first_error(text)
    if "Apply failed with" in text:
        return KubectlError("conflict", printable(first, 500), conflicts=parse_conflicts(text))
    lowered = text.lower()
    if "you must be logged in" in lowered or "(unauthorized)" in lowered or "provide credentials" in lowered:
        return KubectlError("unauthorized", "the cluster refused the credentials of the kubeconfig context "
                                            "(401 Unauthorized: expired or wrong token?)")
    if "forbidden" in lowered:
        return KubectlError("forbidden", printable(first, 500))
    if "doesn't have a resource type" in lowered or "no matches for kind" in lowered:
        return KubectlError("missing-kind", printable(first, 500))
    if re.search(r"context .* (does not exist|was not found)|no context exists", lowered):
        return KubectlError("no-context", printable(first, 300))
    if any(s in lowered for s in ("unable to connect to the server", "connection refused", "no such host",
                                  "the connection to the server", "was refused",
                                  "i/o timeout", "connection reset", "tls handshake", "certificate")):
        return KubectlError("unreachable", printable(first, 500))
    if "timeout" in lowered or "deadline exceeded" in lowered:
        return KubectlError("timeout", printable(first, 500))
    if "notfound" in lowered.replace(" ", "") or "not found" in lowered:
        return KubectlError("not-found", printable(first, 500))
    return KubectlError("failed", printable(first or f"kubectl {args[0] if args else ''} failed", 500))


def _first_error(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("error:", "Error from server", "Error:", "Unable to")):
            return re.sub(r"^error:\s*", "", line)
    return (text.splitlines() or [""])[0]


def parse_conflicts(text: str) -> list[Conflict]:
    """The fields of `Apply failed with N conflict(s): ...` (the format of apimachinery's
    managedfields/internal/conflict.go: one line for a single conflict, grouped by manager otherwise)."""
    out = []
    for block in re.split(r"(?=Apply failed with )", text):
        if not block.startswith("Apply failed with"):
            continue
        m = re.match(r"Apply failed with 1 conflict: conflict with (.+?): (\.\S.*)$", block.splitlines()[0])
        if m:
            out.append(Conflict(printable(m.group(1), 200), printable(m.group(2), 300)))
            continue
        manager = None
        for line in block.splitlines():
            line = re.sub(r"^.*Apply failed with \d+ conflicts: ", "", line)
            head = re.match(r"conflicts with (.+):$", line)
            if head:
                manager = head.group(1)
            elif line.startswith("- ") and manager:
                out.append(Conflict(printable(manager, 200), printable(line[2:], 300)))
            elif line.startswith("Please review"):
                break
    return out


def _json_map(text: str) -> dict:
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _items(text: str) -> list[dict]:
    if not text.strip():
        return []
    try:
        doc = json.loads(text)
    except ValueError:
        raise KubectlError("failed", "kubectl answered output that is not JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        return [i for i in doc["items"] if isinstance(i, dict)]
    return [doc] if isinstance(doc, dict) else []


def _ref(obj: dict) -> str:
    """kind.group/name, as `kubectl -o name` prints it."""
    group = (obj.get("apiVersion") or "").rpartition("/")[0] if "/" in (obj.get("apiVersion") or "") else ""
    kind = (obj.get("kind") or "").lower()
    name = (obj.get("metadata") or {}).get("name", "")
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"


ref = _ref

__all__ = ["ApplyOutcome", "Call", "Conflict", "Kubectl", "KubectlError", "Processes", "binary_for", "classify",
           "context_for", "parse_conflicts", "printable", "ref"]
