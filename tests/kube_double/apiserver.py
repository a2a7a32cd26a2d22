"""The API server's state and rules: objects, field managers, defaults, dry runs, watches, the
StatefulSet controller (status ready after a delay, never, or a failing pod), and authentication.

Routing and HTTP are in server.py; every answer is (status, body dict) here, or a watch stream.
"""

from __future__ import annotations

import copy
import datetime
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

import yaml

from . import apply as ssa
from . import resources
from .resources import Resource

KUBERNETES_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.4", "platform": "linux/amd64"}
ROLLOUT_MODES = ("ready", "never", "fail")


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    """A metav1.Status as kube-apiserver writes it (apimachinery/pkg/api/errors)."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def not_found(res: Resource, name: str) -> tuple[int, dict]:
    group = f".{res.group}" if res.group else ""
    return 404, status_body(404, "NotFound", f'{res.plural}{group} "{name}" not found',
                            {"name": name, **({"group": res.group} if res.group else {}), "kind": res.plural})


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Manager:
    manager: str
    operation: str  # Apply | Update
    api_version: str
    time: str
    paths: set = field(default_factory=set)

    def entry(self) -> dict:
        return {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": ssa.fields_v1(self.paths)}

    def ident(self) -> dict:
        return {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}


@dataclass
class Stored:
    res: Resource
    obj: dict  # without managedFields
    managers: list[Manager] = field(default_factory=list)

    def render(self) -> dict:
        out = copy.deepcopy(self.obj)
        out["metadata"]["managedFields"] = [m.entry() for m in self.managers]
        return out


@dataclass
class Rollout:
    mode: str = "ready"  # ready | never | fail
    delay: float = 0.2  # seconds until the pod is ready (mode ready)


class KubeDouble:
    """One cluster. `token` is what the kubeconfig's user sends; `auth` simulates its state."""

    def __init__(self, token: str = "double-token", user: str = "system:serviceaccount:fleet:deployer"):
        self.token = token
        self.user = user
        self.auth = "ok"  # ok | expired (401) | forbidden (403 on writes)
        self.discovery = "aggregated"  # aggregated | legacy
        self.resources = resources.RESOURCES
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple, Stored] = {}
        self.events: list[tuple[int, str, tuple, dict]] = []  # (rv, type, key, object)
        self.rv = 1000
        self.rollouts: dict[str, Rollout] = {}  # by namespace; "*" for every other one
        self.log: list[tuple[str, str]] = []  # (method, path with query): never a header
        self._timers: list[threading.Timer] = []
        self.closed = False

    # --- test controls ----------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty cluster (one double serves a whole test module)."""
        with self.lock:
            for t in self._timers:
                t.cancel()
            self._timers = []
            self.objects.clear()
            self.events.clear()
            self.rollouts.clear()
            self.log.clear()
            self.auth = "ok"
            self.discovery = "aggregated"

    def set_rollout(self, namespace: str, mode: str, delay: float = 0.2) -> None:
        assert mode in ROLLOUT_MODES
        self.rollouts[namespace] = Rollout(mode, delay)

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        with self.lock:
            stored = self.objects.get(self._key_for_kind(kind, namespace, name))
            return stored.render() if stored else None

    def names(self, kind: str) -> list[tuple[str | None, str]]:
        with self.lock:
            return sorted((k[2], k[3]) for k, s in self.objects.items() if s.res.kind == kind)

    def update(self, kind: str, namespace: str | None, name: str, values: dict[tuple, object],
               manager: str = "kubectl-edit") -> None:
        """Change fields as an Update-operation manager would (kubectl edit, a controller): it owns them."""
        with self.lock:
            stored = self.objects[self._key_for_kind(kind, namespace, name)]
            paths = set()
            for dotted, value in values.items():
                node = stored.obj
                for part in dotted[:-1]:
                    node = node.setdefault(part, {})
                node[dotted[-1]] = value
                paths.add(tuple(("f", p) for p in dotted))
            for m in stored.managers:
                m.paths -= paths
            stored.managers = [m for m in stored.managers if m.paths]
            stored.managers.append(Manager(manager, "Update", stored.res.group_version, _now(), paths))
            self._touch(stored, "MODIFIED")

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for t in self._timers:
                t.cancel()
            self.changed.notify_all()

    # --- keys -------------------------------------------------------------------------------

    def _key_for_kind(self, kind, namespace, name):
        res = next(r for r in self.resources if r.kind == kind)
        return (res.group, res.plural, namespace if res.namespaced else None, name)

    @staticmethod
    def key(res: Resource, namespace: str | None, name: str) -> tuple:
        return (res.group, res.plural, namespace if res.namespaced else None, name)

    def _next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _touch(self, stored: Stored, event: str) -> None:
        stored.obj["metadata"]["resourceVersion"] = self._next_rv()
        key = self.key(stored.res, stored.obj["metadata"].get("namespace"), stored.obj["metadata"]["name"])
        self.events.append((self.rv, event, key, stored.render()))
        del self.events[:-2000]  # bounded: a watch older than this gets 410 Gone
        self.changed.notify_all()

    # --- authentication -----------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], verb: str, res: Resource | None, namespace: str | None,
                     name: str | None) -> tuple[int, dict] | None:
        if headers.get("authorization") != f"Bearer {self.token}" or self.auth == "expired":
            # the authentication filter's answer (apiserver/pkg/endpoints/handlers/responsewriters)
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        if self.auth == "forbidden" and res is not None and verb not in ("get", "list", "watch"):
            group = res.group
            where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            kind = f'{res.plural}{"." + group if group else ""}'
            what = f'{kind} "{name}"' if name else kind
            return 403, status_body(403, "Forbidden",
                                    f'{what} is forbidden: User "{self.user}" cannot {verb} resource '
                                    f'"{res.plural}" in API group "{group}" {where}',
                                    {**({"name": name} if name else {}), **({"group": group} if group else {}),
                                     "kind": res.plural})
        return None

    # --- reads --------------------------------------------------------------------------------

    def read(self, res: Resource, namespace: str | None, name: str) -> tuple[int, dict]:
        with self.lock:
            stored = self.objects.get(self.key(res, namespace, name))
            if stored is None:
                return not_found(res, name)
            return 200, stored.render()

    def list(self, res: Resource, namespace: str | None, label_selector: str, field_selector: str) -> tuple[int, dict]:
        with self.lock:
            items = [s.render() for k, s in sorted(self.objects.items())
                     if s.res == res and (namespace is None or k[2] == namespace)
                     and matches(s.obj, label_selector, field_selector)]
            return 200, {"kind": f"{res.kind}List", "apiVersion": res.group_version,
                         "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def watch(self, res: Resource, namespace: str | None, label_selector: str, field_selector: str,
              since: str, timeout: float, send_initial: bool):
        """Watch events as JSON dicts; ends after `timeout` seconds (bounded) or when the double closes."""
        deadline = time.monotonic() + min(timeout, 60.0)
        with self.lock:
            start = int(since) if since and since != "0" else self.rv
            if since and since != "0" and self.events and start < self.events[0][0] - 1:
                yield {"type": "ERROR", "object": status_body(410, "Expired", "too old resource version")}
                return
            if send_initial:
                for k, s in sorted(self.objects.items()):
                    if s.res == res and (namespace is None or k[2] == namespace) and matches(s.obj, label_selector,
                                                                                              field_selector):
                        yield {"type": "ADDED", "object": s.render()}
                yield {"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.group_version,
                    "metadata": {"resourceVersion": str(self.rv),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}}
                start = self.rv
        seen = start
        while True:
            with self.lock:
                pending = [e for e in self.events if e[0] > seen]
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.closed:
                        return
                    self.changed.wait(min(remaining, 0.5))
                    continue
            for rv, kind, key, obj in pending:
                seen = rv
                if key[0] == res.group and key[1] == res.plural and (namespace is None or key[2] == namespace) \
                        and matches(obj, label_selector, field_selector):
                    yield {"type": kind, "object": obj}

    # --- writes -------------------------------------------------------------------------------

    def apply(self, res: Resource, namespace: str | None, name: str, body: bytes, manager: str, force: bool,
              dry_run: bool) -> tuple[int, dict]:
        applied, refused = _read_apply(res, name, body, manager)
        if refused is not None:
            return refused
        with self.lock:
            if res.namespaced and self.key(resources.by_kind("v1", "Namespace"), None, namespace) not in self.objects:
                return 404, status_body(404, "NotFound", f'namespaces "{namespace}" not found',
                                        {"name": namespace, "kind": "namespaces"})
            key = self.key(res, namespace, name)
            stored = self.objects.get(key)
            claimed = ssa.owned_leaves(applied)
            if stored is None:
                return self._create(res, namespace, key, applied, manager, claimed, dry_run)
            conflicts = _conflicts(stored, manager, claimed)
            if conflicts and not force:
                return 409, ssa.conflict_status(conflicts)
            return self._update(res, key, stored, applied, manager, claimed, conflicts, dry_run)

    def _create(self, res: Resource, namespace: str | None, key: tuple, applied: dict, manager: str, claimed: dict,
                dry_run: bool) -> tuple[int, dict]:
        obj = ssa.merge({}, {k: v for k, v in applied.items() if k != "status"})
        obj["metadata"] = dict(obj.get("metadata") or {})
        if res.namespaced:
            obj["metadata"]["namespace"] = namespace
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=_now())
        if res.generation:
            obj["metadata"]["generation"] = 1
        default(res, obj)
        new = Stored(res, obj, [Manager(manager, "Apply", res.group_version, _now(), set(claimed))])
        if dry_run:
            return 201, new.render()
        self.objects[key] = new
        self._touch(new, "ADDED")
        self._controller(new, created=True)
        return 201, new.render()

    def _update(self, res: Resource, key: tuple, stored: Stored, applied: dict, manager: str, claimed: dict,
                conflicts: list, dry_run: bool) -> tuple[int, dict]:
        """Apply over a stored object; `conflicts` (with --force-conflicts) are taken from their managers."""
        merged = ssa.merge(stored.obj, {k: v for k, v in applied.items() if k not in ("status",)})
        managers, mine = _managers_after(res, stored, manager, claimed, conflicts, merged)
        default(res, merged)
        spec_changed = {k: v for k, v in merged.items() if k not in ("metadata", "status")} != \
            {k: v for k, v in stored.obj.items() if k not in ("metadata", "status")}
        changed = merged != stored.obj or [(m.ident(), m.paths) for m in managers] != \
            [(m.ident(), m.paths) for m in stored.managers]
        result = Stored(res, merged, managers)
        if res.generation and spec_changed:
            merged["metadata"]["generation"] = int(stored.obj["metadata"].get("generation", 1)) + 1
        if dry_run or not changed:
            return 200, result.render()
        for m in managers:
            if m is mine:
                m.time = _now()
        self.objects[key] = result
        self._touch(result, "MODIFIED")
        if spec_changed:
            self._controller(result, created=False)
        return 200, result.render()

    def delete(self, res: Resource, namespace: str | None, name: str, dry_run: bool) -> tuple[int, dict]:
        with self.lock:
            key = self.key(res, namespace, name)
            stored = self.objects.get(key)
            if stored is None:
                return not_found(res, name)
            if dry_run:
                return 200, stored.render()
            del self.objects[key]
            self.events.append((int(self._next_rv()), "DELETED", key, stored.render()))
            if res.kind == "Namespace":  # its objects go with it (the namespace controller, at once here)
                for k in [k for k in self.objects if k[2] == name]:
                    gone = self.objects.pop(k)
                    self.events.append((int(self._next_rv()), "DELETED", k, gone.render()))
            self.changed.notify_all()
            return 200, stored.render()

    # --- the StatefulSet controller -----------------------------------------------------------

    def _controller(self, stored: Stored, created: bool) -> None:
        if stored.res.kind != "StatefulSet":
            return
        meta = stored.obj["metadata"]
        ns, name, generation = meta["namespace"], meta["name"], meta.get("generation", 1)
        rollout = self.rollouts.get(ns) or self.rollouts.get("*") or Rollout()
        revision = f"{name}-{uuid.uuid4().hex[:10]}"
        replicas = stored.obj["spec"].get("replicas", 1)
        status = stored.obj.setdefault("status", {})
        status.update(observedGeneration=generation, replicas=replicas, readyReplicas=0, updatedReplicas=0,
                      currentReplicas=0 if created else status.get("currentReplicas", 0),
                      updateRevision=revision, availableReplicas=0)
        status.setdefault("currentRevision", revision if created else status.get("updateRevision", revision))
        self._touch(stored, "MODIFIED")
        self._pod(ns, name, stored, "pending")
        if rollout.mode == "ready":
            self._later(rollout.delay, self._ready, stored.res, ns, name, generation, revision)
        elif rollout.mode == "fail":
            self._later(min(rollout.delay, 0.1), self._pod_failing, ns, name, generation)

    def _later(self, delay: float, fn, *args) -> None:
        t = threading.Timer(delay, fn, args)
        t.daemon = True
        self._timers.append(t)
        self._timers = [x for x in self._timers if x.is_alive() or x is t]
        t.start()

    def _current(self, ns, name, generation) -> Stored | None:
        stored = self.objects.get(("apps", "statefulsets", ns, name))
        if stored is None or stored.obj["metadata"].get("generation") != generation:
            return None  # deleted or changed again meanwhile: that change has its own timer
        return stored

    def _ready(self, res, ns, name, generation, revision) -> None:
        with self.lock:
            stored = self._current(ns, name, generation)
            if stored is None or self.closed:
                return
            replicas = stored.obj["spec"].get("replicas", 1)
            stored.obj["status"].update(readyReplicas=replicas, updatedReplicas=replicas, currentReplicas=replicas,
                                        availableReplicas=replicas, currentRevision=revision)
            self._touch(stored, "MODIFIED")
            self._pod(ns, name, stored, "ready")

    def _pod_failing(self, ns, name, generation) -> None:
        with self.lock:
            stored = self._current(ns, name, generation)
            if stored is not None and not self.closed:
                self._pod(ns, name, stored, "crashloop")

    def _pod(self, ns: str, name: str, sts: Stored, state: str) -> None:
        pod_res = resources.by_kind("v1", "Pod")
        labels = dict(((sts.obj["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {})
        containers = ((sts.obj["spec"].get("template") or {}).get("spec") or {}).get("containers") or [{"name": "c"}]
        waiting = {"pending": {"reason": "ContainerCreating"},
                   "crashloop": {"reason": "CrashLoopBackOff",
                                 "message": "back-off 40s restarting failed container=jenkins pod=" + name + "-0"}}
        cstatus = [{"name": c["name"], "ready": state == "ready", "restartCount": 3 if state == "crashloop" else 0,
                    "image": c.get("image", ""),
                    "state": {"running": {"startedAt": _now()}} if state == "ready" else {"waiting": waiting[state]}}
                   for c in containers]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{name}-0", "namespace": ns, "labels": labels, "uid": str(uuid.uuid4()),
                            "creationTimestamp": _now()},
               "spec": {"containers": [{"name": c["name"], "image": c.get("image", "")} for c in containers]},
               "status": {"phase": "Running" if state != "pending" else "Pending",
                          "conditions": [{"type": "Ready", "status": "True" if state == "ready" else "False"}],
                          "containerStatuses": cstatus}}
        stored = Stored(pod_res, pod)
        self.objects[self.key(pod_res, ns, pod["metadata"]["name"])] = stored
        self._touch(stored, "MODIFIED")


def _read_apply(res: Resource, name: str, body: bytes, manager: str) -> tuple[dict | None, tuple[int, dict] | None]:
    """The apply patch, or the API server's refusal of the request."""
    try:
        applied = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        return None, (400, status_body(400, "BadRequest", f"error decoding YAML: {exc}"))
    if not isinstance(applied, dict):
        return None, (400, status_body(400, "BadRequest", "the body of an apply patch must be an object"))
    if not manager:
        return None, (400, status_body(400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                                          "Required value: is required for apply patch"))
    meta = applied.get("metadata") or {}
    if applied.get("apiVersion") != res.group_version or applied.get("kind") != res.kind:
        return None, (400, status_body(400, "BadRequest",
                                       f"the API version in the data ({applied.get('apiVersion')}) "
                                       f"does not match the expected API version ({res.group_version})"))
    if meta.get("name") != name:
        return None, (400, status_body(400, "BadRequest",
                                       "the name of the object does not match the name on the URL"))
    return applied, None


def _conflicts(stored: Stored, manager: str, claimed: dict) -> list:
    """(other manager, path) for each field another manager owns with a different value."""
    conflicts = []
    for other in stored.managers:
        if other.manager == manager and other.operation == "Apply":
            continue
        for path in sorted(other.paths & set(claimed), key=str):
            live = ssa.lookup(stored.obj, path)
            if live is ssa.MISSING or claimed[path] is None or live == claimed[path]:
                continue
            conflicts.append((other.ident(), path))
    return conflicts


def _managers_after(res: Resource, stored: Stored, manager: str, claimed: dict, conflicts: list,
                    merged: dict) -> tuple[list[Manager], Manager]:
    """The field managers after the apply (copies), and the applying one: the conflicting fields move
    to it; the fields it applied before, no longer applies and nobody else owns leave `merged`."""
    managers = [copy.copy(m) for m in stored.managers]
    for m in managers:
        m.paths = set(m.paths)
    mine = next((m for m in managers if m.manager == manager and m.operation == "Apply"), None)
    before = set(mine.paths) if mine else set()
    for m in managers:
        if m is not mine:
            m.paths -= {p for _, p in conflicts}
    others = set().union(*(m.paths for m in managers if m is not mine)) if managers else set()
    for path in sorted(before - set(claimed) - others, key=len, reverse=True):
        ssa.remove(merged, path)
    if mine is None:
        mine = Manager(manager, "Apply", res.group_version, _now())
        managers.append(mine)
    mine.paths = set(claimed)
    return [m for m in managers if m.paths], mine


def matches(obj: dict, label_selector: str, field_selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, unquote(label_selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    meta = obj.get("metadata") or {}
    for term in filter(None, unquote(field_selector or "").split(",")):
        k, _, v = term.replace("==", "=").partition("=")
        have = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}.get(k)
        if have != v:
            return False
    return True


def default(res: Resource, obj: dict) -> None:
    """The defaults kube-apiserver fills in for what we generate (pkg/apis/core/v1/defaults.go,
    pkg/apis/apps/v1/defaults.go; the namespace label from the NamespaceDefaultLabelName feature)."""
    if res.kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif res.kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("clusterIP", "10.96.0." + str(abs(hash(obj["metadata"]["name"])) % 250 + 2))
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
    elif res.kind == "StatefulSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        pod = (spec.get("template") or {}).setdefault("spec", {})
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("schedulerName", "default-scheduler")
        for c in pod.get("containers") or []:
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            for p in c.get("ports") or []:
                p.setdefault("protocol", "TCP")
