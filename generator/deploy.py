"""`fleet deploy`: roll the generated Kubernetes objects out to their clusters, in waves; show drift.

Per cluster, one `kubectl get` reads back every object we manage (label
app.kubernetes.io/managed-by=jenkins-fleet) with its `jenkins-fleet.io/source-sha256` annotation:
the sha256 of the file in build/ it was applied from (as build/fleet.json records it). An
instance whose objects all carry the sha256 of their file, with nothing extra to prune, is
unchanged and costs nothing more. The others are deployed in waves (a canary of one, then
`wave_size` at a time, `jobs` in parallel): a server-side dry run of the objects that changed
(a conflict leaves the instance untouched), the apply in dependency order, the pruning of
objects build/ no longer has (inside the instance's namespace only), the StatefulSet rollout.
A wave with a failure stops the deployment: later instances are not attempted. Between waves,
the controllers that changed must answer the probe `fleet status` uses, when Jenkins
credentials are available.

Talks to clusters only through generator/kubectl.py; to controllers only through
generator/status.py and generator/push.py. Library code: returns results, never prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from . import __version__, built, output, yamlout
from .errors import Diagnostic, FleetError, plural
from .kubectl import Kubectl, KubectlError, Processes, context_for, printable, ref
from .value_diff import FULL, Change, diff_values, format_change

SOURCE_ANNOTATION = "jenkins-fleet.io/source-sha256"
MANAGED_BY = ("app.kubernetes.io/managed-by", "jenkins-fleet")
PROJECT_LABEL = "jenkins-fleet.io/project"
PART_OF_LABEL = "app.kubernetes.io/part-of"
RESULTS = ("applied", "unchanged", "failed", "not attempted")
MAX_FIELD_LINES = 12  # lines shown per drifted field (the report has the whole change)

# The order objects are applied in: what a later object refers to exists first.
ORDER = ("Namespace", "ResourceQuota", "LimitRange", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
         "Service", "Route", "ServiceMonitor", "StatefulSet")
# kubectl resource names of every kind we generate (group-qualified: no ambiguity with other CRDs)
RESOURCE_NAMES = {"Namespace": "namespaces", "ResourceQuota": "resourcequotas", "LimitRange": "limitranges",
                  "ServiceAccount": "serviceaccounts", "Role": "roles.rbac.authorization.k8s.io",
                  "RoleBinding": "rolebindings.rbac.authorization.k8s.io", "ConfigMap": "configmaps",
                  "Service": "services", "Route": "routes.route.openshift.io",
                  "ServiceMonitor": "servicemonitors.monitoring.coreos.com", "StatefulSet": "statefulsets.apps"}
OPTIONAL_KINDS = ("Route", "ServiceMonitor")  # CRDs a cluster may not have
# Fields the server owns: never drift.
NOISE = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


# --- what build/ says ---------------------------------------------------------------------------

@dataclass
class BuiltObject:
    file: str  # k8s/statefulset.yaml
    sha: str
    doc: dict

    @property
    def kind(self) -> str:
        return self.doc["kind"]

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    @property
    def ref(self) -> str:
        return ref(self.doc)

    def annotated(self) -> dict:
        """The object as applied: with the sha256 of its file, to read back."""
        doc = dict(self.doc)
        meta = dict(doc["metadata"])
        meta["annotations"] = {**(meta.get("annotations") or {}), SOURCE_ANNOTATION: self.sha}
        doc["metadata"] = meta
        return doc


@dataclass
class Instance:
    name: str
    cluster: str
    namespace: str
    objects: list[BuiltObject]  # in ORDER

    def find(self, kind: str) -> BuiltObject | None:
        return next((o for o in self.objects if o.kind == kind), None)


def read_instances(build_dir: str, names=()) -> tuple[list[Instance], dict]:
    """The selected instances' Kubernetes objects from build/, each file checked against fleet.json."""
    index, selected, diags = built.select_instances(build_dir, names)
    out = []
    for name in selected:
        entry = index["instances"][name]
        objects = []
        for rel, sha in sorted((entry.get("files") or {}).items()):
            if not rel.startswith("k8s/") or not rel.endswith(".yaml") or rel == "k8s/kustomization.yaml":
                continue
            path = os.path.join(build_dir, name, *rel.split("/"))
            data = built.read_checked(path, sha, diags, required=True)
            if data is None:
                continue
            doc = yamlout.safe_load(data.decode("utf-8"))
            if not isinstance(doc, dict) or doc.get("kind") not in ORDER:
                kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
                diags.append(Diagnostic(path, 0, 0, "", f"not a kind fleet deploy knows ({kind})"))
                continue
            objects.append(BuiltObject(rel, sha, doc))
        objects.sort(key=lambda o: (ORDER.index(o.kind), o.name))
        out.append(Instance(name, entry.get("cluster", ""), entry.get("namespace", ""), objects))
    if diags:
        raise FleetError(diags)
    return out, index


def check_placement(instances: list[Instance], fleet: dict, fleet_path: str) -> None:
    """Every instance's cluster must be one fleet.yaml declares."""
    clusters = [c.get("name") for c in fleet.get("clusters", [])]
    diags = [Diagnostic(fleet_path, 0, 0, "clusters", f"instance '{i.name}' is built for cluster '{i.cluster}', "
                        "which fleet.yaml does not declare",
                        hint=f"declared clusters: {', '.join(clusters)}; run 'fleet generate' after changing them")
             for i in instances if i.cluster not in clusters]
    if diags:
        raise FleetError(diags)


def stale_diagnostics(paths, build_dir: str, names=()) -> tuple[list[Diagnostic], dict]:
    """Why build/ does not match instances/ (empty when it does), and the fleet settings: the inputs
    keys `fleet generate` recorded beside build/ against those of the current sources; without
    them, file times."""
    from . import fleet as fleet_mod

    checked = fleet_mod.check_sources(paths)
    if any(d.is_error for d in checked.diagnostics):
        raise FleetError(checked.diagnostics)
    return _stale(paths, build_dir, names, checked), checked.sources.fleet.data


def _stale(paths, build_dir: str, names, checked) -> list[Diagnostic]:
    from . import regenerate

    tree = regenerate.freshness(paths, build_dir, checked, names)
    hint = "run 'fleet generate', then deploy"
    out = []
    for name in tree.missing:
        out.append(Diagnostic(os.path.join(paths.instances, name, "instance.yaml"), 0, 0, "",
                              f"instance '{name}' is not in {build_dir}/ yet", hint=hint))
    for name in tree.removed:
        out.append(Diagnostic(os.path.join(build_dir, name), 0, 0, "",
                              f"instance '{name}' was removed from {paths.instances}/ but is still in {build_dir}/",
                              hint=hint))
    if not tree.recorded:
        if not tree.built:
            return out
        # What is applied to the clusters must be what generate wrote here from these sources: a
        # build/ copied in, committed or edited has no record (output.read_cache) and is not deployed.
        return out + [Diagnostic(os.path.join(build_dir, output.INDEX), 0, 0, "",
                                 f"{build_dir}/ has no record of being written by 'fleet generate' on this machine "
                                 "(copied, restored or changed by hand), so what it holds cannot be tied to the "
                                 "instance files", hint=hint)]
    if len(tree.stale) > 1 and not tree.unchanged:
        out.append(Diagnostic(os.path.join(paths.instances, "fleet.yaml"), 0, 0, "",
                              f"every instance changed since {build_dir}/ was generated (the fleet settings, "
                              "the templates or the tool itself)", hint=hint))
    else:
        out += [Diagnostic(os.path.join(paths.instances, n, "instance.yaml"), 0, 0, "",
                           f"changed since {build_dir}/ was generated", hint=hint) for n in tree.stale]
    return out


# --- what the clusters say ----------------------------------------------------------------------

@dataclass
class LiveObject:
    kind: str
    namespace: str | None
    name: str
    labels: dict
    annotations: dict

    @property
    def project(self) -> str:
        return self.labels.get(PROJECT_LABEL, "")

    @property
    def sha(self) -> str:
        return self.annotations.get(SOURCE_ANNOTATION, "")

    @property
    def ref(self) -> str:
        resource = RESOURCE_NAMES.get(self.kind, self.kind.lower())
        group = resource.partition(".")[2]
        return f"{self.kind.lower()}.{group}/{self.name}" if group else f"{self.kind.lower()}/{self.name}"


@dataclass
class ClusterState:
    name: str
    context: str
    objects: list[LiveObject] = field(default_factory=list)
    error: KubectlError | None = None
    missing_kinds: list[str] = field(default_factory=list)


def read_cluster(kubectl: Kubectl, name: str, needed_kinds: set[str], fleet_name: str | None) -> ClusterState:
    """Every object we manage on one cluster, with one `kubectl get` (two when a CRD is missing)."""
    state = ClusterState(name, kubectl.context)
    kinds = list(ORDER)
    selector = "=".join(MANAGED_BY) + (f",{PART_OF_LABEL}={fleet_name}" if fleet_name else "")
    for _ in range(len(OPTIONAL_KINDS) + 1):
        try:
            listed = kubectl.list_managed([RESOURCE_NAMES[k] for k in kinds], selector)
        except KubectlError as exc:
            missing = [k for k in OPTIONAL_KINDS if k in kinds and exc.kind == "missing-kind"
                       and f'"{RESOURCE_NAMES[k].split(".")[0]}"' in str(exc)]
            if missing and not (set(missing) & needed_kinds):
                kinds = [k for k in kinds if k not in missing]
                state.missing_kinds += missing
                continue
            state.error = exc
            return state
        state.objects = [LiveObject(o["kind"], o["namespace"], o["name"], o["labels"], o["annotations"])
                         for o in listed]
        return state
    return state


# --- results ------------------------------------------------------------------------------------

@dataclass
class InstanceResult:
    name: str
    cluster: str
    namespace: str
    context: str
    wave: int | None = None  # 1 is the canary
    result: str = "not attempted"
    reason: str = ""
    changed: list[str] = field(default_factory=list)  # kind/name of the objects applied
    pruned: list[str] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    rollout_seconds: float | None = None
    jcasc: str = ""  # "" | reload-pushed | reload-failed | reload-needed: a ConfigMap-only change
    health: str = ""
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0
    calls: int = 0

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "unchanged")

    def as_dict(self) -> dict:
        return {"name": self.name, "cluster": self.cluster, "namespace": self.namespace, "context": self.context,
                "wave": self.wave, "result": self.result, "reason": self.reason, "objectsChanged": self.changed,
                "pruned": self.pruned, "conflicts": self.conflicts,
                "rolloutSeconds": None if self.rollout_seconds is None else round(self.rollout_seconds, 3),
                "jcasc": self.jcasc or None, "health": self.health or None, "notes": self.notes,
                "durationSeconds": round(self.duration, 3), "kubectlCalls": self.calls}


@dataclass
class Orphan:
    """Objects we manage on a cluster that no instance of build/ places there (a removed instance,
    or one moved to another cluster or namespace)."""

    cluster: str
    namespace: str
    project: str
    objects: list[str]
    action: str = "reported"  # reported | deleted | failed: <reason>

    def as_dict(self) -> dict:
        return {"cluster": self.cluster, "namespace": self.namespace, "project": self.project,
                "objects": self.objects, "action": self.action}


@dataclass
class DeployResult:
    instances: list[InstanceResult]
    orphans: list[Orphan] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)  # name -> "ok" | reason it could not be read
    waves: int = 0
    stopped_after: int | None = None  # the wave whose failure stopped the deployment
    interrupted: bool = False
    dry_run: bool = False
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)
    health_probe: str = ""  # what happened to the health probe between waves
    jcasc_mode: str = ""  # pushed | printed | none

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.ok for r in self.instances) and not any(
            o.action.startswith("failed") for o in self.orphans)

    def counts(self) -> dict[str, int]:
        return {r: sum(1 for i in self.instances if i.result == r) for r in RESULTS}

    def reload_needed(self) -> list[str]:
        return [i.name for i in self.instances if i.jcasc in ("reload-needed", "reload-failed")]

    def report(self) -> dict:
        return {"generator": f"jenkins-fleet {__version__}", "dryRun": self.dry_run, "ok": self.ok,
                "interrupted": self.interrupted, "durationSeconds": round(self.duration, 3),
                "waves": self.waves, "stoppedAfterWave": self.stopped_after, "counts": self.counts(),
                "clusters": self.clusters, "healthProbe": self.health_probe, "jcasc": self.jcasc_mode,
                "reloadNeeded": self.reload_needed(), "notes": self.notes,
                "instances": [i.as_dict() for i in self.instances],
                "removedInstances": [o.as_dict() for o in self.orphans]}


# --- planning -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeployOptions:
    dry_run: bool = False
    force_conflicts: bool = False
    all: bool = False
    canary: str | None = None
    wave_size: int = 10
    jobs: int = 4
    timeout: float = 300.0  # rollout (and health) wait per instance
    request_timeout: float = 30.0  # each API request
    prune_removed: bool = False  # --prune --yes: delete the objects of removed instances


@dataclass
class Plan:
    instance: Instance
    context: str
    apply: list[BuiltObject]  # changed (or all, with --all)
    prune: list[LiveObject]
    existed: bool  # its StatefulSet was live before
    namespace_live: bool = True

    @property
    def needed(self) -> bool:
        return bool(self.apply or self.prune)


def plan_instance(inst: Instance, state: ClusterState, force_all: bool) -> Plan:
    live = {(o.kind, o.name): o for o in state.objects
            if o.project == inst.name and (o.namespace == inst.namespace or (o.kind == "Namespace"
                                                                            and o.name == inst.namespace))}
    wanted = {(o.kind, o.name) for o in inst.objects}
    apply = [o for o in inst.objects if force_all or live.get((o.kind, o.name)) is None
             or live[(o.kind, o.name)].sha != o.sha]
    prune = [o for key, o in sorted(live.items()) if key not in wanted and o.kind != "Namespace"]
    return Plan(inst, state.context, apply, prune, any(kind == "StatefulSet" for kind, _ in live),
                ("Namespace", inst.namespace) in live)


def find_orphans(states: dict[str, ClusterState], index: dict) -> list[Orphan]:
    placed = {(e.get("cluster"), e.get("namespace"), n) for n, e in (index.get("instances") or {}).items()}
    groups: dict[tuple, list[str]] = {}
    for cluster, state in sorted(states.items()):
        for o in state.objects:
            ns = o.name if o.kind == "Namespace" else o.namespace
            if not o.project or (cluster, ns, o.project) in placed:
                continue
            groups.setdefault((cluster, ns or "", o.project), []).append(f"{o.kind}/{o.name}")
    return [Orphan(c, ns, p, sorted(objs)) for (c, ns, p), objs in sorted(groups.items())]


def waves_of(plans: list[Plan], canary: str | None, size: int) -> tuple[list[list[Plan]], str]:
    """A canary of one, then waves of `size`; returns the waves and a note about the canary choice."""
    if not plans:
        return [], ""
    note = ""
    first = plans[0]
    if canary:
        chosen = next((p for p in plans if p.instance.name == canary), None)
        if chosen is None:
            note = f"canary {canary} has nothing to deploy; {first.instance.name} is the canary instead"
        else:
            first = chosen
    rest = [p for p in plans if p is not first]
    return [[first]] + [rest[i:i + size] for i in range(0, len(rest), size)], note


# --- one instance ---------------------------------------------------------------------------------

def deploy_one(plan: Plan, kubectl: Kubectl, options: DeployOptions, result: InstanceResult) -> None:
    started = time.monotonic()
    calls_before = len(kubectl.log)
    try:
        _deploy(plan, kubectl, options, result)
    except KubectlError as exc:
        result.result = "failed"
        result.reason = "interrupted" if exc.kind == "interrupted" else f"{exc.kind}: {exc}"
    finally:
        result.duration = time.monotonic() - started
        result.calls = len(kubectl.log) - calls_before


def _deploy(plan: Plan, kubectl: Kubectl, options: DeployOptions, result: InstanceResult) -> None:
    inst = plan.instance
    labels = [f"{o.kind}/{o.name}" for o in plan.apply]
    objects = list(plan.apply)
    if objects and objects[0].kind == "Namespace" and not plan.namespace_live:
        # A server-side dry run of objects in a namespace that does not exist yet fails (NotFound):
        # the new namespace is created first (empty, harmless); in a dry run its objects cannot be checked.
        created = kubectl.apply([objects[0].annotated()], dry_run=options.dry_run, force=options.force_conflicts)
        if not created.ok:
            _failed_apply(created, plan, result, "dry run" if options.dry_run else "apply")
            return
        objects = objects[1:]
        if options.dry_run:
            result.notes.append(f"namespace {inst.namespace} does not exist yet: only it was checked")
            objects = []
    docs = [o.annotated() for o in objects]
    if docs:
        # a dry run first: a conflict or a rejected object leaves the instance as it was
        trial = kubectl.apply(docs, dry_run=True, force=options.force_conflicts)
        if not trial.ok:
            _failed_apply(trial, plan, result, "dry run")
            return
        if not options.dry_run:
            applied = kubectl.apply(docs, force=options.force_conflicts)
            if not applied.ok:
                _failed_apply(applied, plan, result, "apply")
                return
    result.changed = labels
    if plan.prune:
        result.pruned = [f"{o.kind}/{o.name}" for o in plan.prune]
        kubectl.delete(inst.namespace, [o.ref for o in plan.prune], dry_run=options.dry_run)
    kinds = {o.kind for o in plan.apply}
    if "ConfigMap" in kinds and "StatefulSet" not in kinds and plan.existed:
        result.jcasc = "reload-needed"
    sts = inst.find("StatefulSet")
    if sts is not None and "StatefulSet" in kinds and not options.dry_run:
        began = time.monotonic()
        done, message = kubectl.rollout_status("statefulset", inst.namespace, sts.name, options.timeout)
        result.rollout_seconds = time.monotonic() - began
        if not done:
            selector = ((sts.doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            problems = kubectl.pod_problems(inst.namespace, selector) if selector else []
            result.result = "failed"
            result.reason = f"rollout: StatefulSet/{sts.name} {message}" + (
                f"; {'; '.join(problems)}" if problems else "")
            return
    result.result = "applied"
    parts = [f"{plural(len(labels), 'object')} {'would change' if options.dry_run else 'applied'}"]
    if result.pruned:
        parts.append(f"{len(result.pruned)} {'would be ' if options.dry_run else ''}pruned")
    result.reason = ", ".join(parts)


def _failed_apply(outcome, plan: Plan, result: InstanceResult, step: str) -> None:
    err = outcome.error
    result.result = "failed"
    by_ref = {o.ref: f"{o.kind}/{o.name}" for o in plan.apply}
    failed = [by_ref.get(r, r) for r in outcome.failed]
    if err.kind == "conflict":
        where = failed[0] if len(failed) == 1 else ", ".join(failed) or "?"
        result.conflicts = [{"object": where, "field": c.field, "manager": c.manager} for c in err.conflicts]
        fields = "; ".join(str(c) for c in err.conflicts[:5]) or str(err)
        result.reason = (f"{step}: conflict on {where}: {fields} (another field manager owns "
                         f"{'these fields' if len(err.conflicts) != 1 else 'this field'}; nothing was changed; "
                         "--force-conflicts takes them over)")
        return
    result.reason = f"{step}: {err.kind}: " + (f"{', '.join(failed)}: " if failed and len(failed) < len(by_ref)
                                              else "") + str(err)


# --- the fleet ------------------------------------------------------------------------------------

HealthCheck = Callable[[list[str], float], dict[str, str]]  # names, seconds -> name: problem ("" when healthy)
ReloadPush = Callable[[list[str]], dict[str, str]]  # names -> name: problem ("" when pushed)


def deploy(instances: list[Instance], index: dict, fleet: dict, kubectl_factory: Callable[[str], Kubectl],
           options: DeployOptions, *, health: HealthCheck | None = None, push_reload: ReloadPush | None = None,
           progress: Callable[[InstanceResult], None] | None = None, announce: Callable[[str], None] | None = None,
           processes: Processes | None = None, consider_orphans: bool = True) -> DeployResult:
    """Deploy the instances; Ctrl-C (KeyboardInterrupt in this thread) ends the kubectl processes we
    started, marks the rest not attempted and returns the result with interrupted set."""
    started = time.monotonic()
    announce = announce or (lambda _m: None)
    processes = processes or Processes()
    fleet_name = fleet.get("name")
    results = {i.name: InstanceResult(i.name, i.cluster, i.namespace, context_for(fleet, i.cluster))
               for i in instances}
    out = DeployResult([results[i.name] for i in instances], dry_run=options.dry_run)
    try:
        states = _read_clusters(instances, fleet, kubectl_factory, options, fleet_name)
        _note_clusters(states, out)
        plans = _plan_fleet(instances, states, options, results)
        if consider_orphans:
            out.orphans = find_orphans({k: v for k, v in states.items() if v.error is None}, index)
        if any(r.result == "failed" for r in results.values()):
            # a cluster we cannot read: deploy nothing anywhere, the fleet's state is unknown
            for p in plans:
                results[p.instance.name].reason = "not attempted: a cluster could not be read"
            out.stopped_after = 0
            return out
        waves = _schedule(plans, options, health is not None, out, results)
        for number, wave in enumerate(waves, 1):
            label = "canary" if number == 1 else f"wave {number}"
            announce(f"{label}: {', '.join(p.instance.name for p in wave)}")
            _run_wave(wave, kubectl_factory, options, results, progress, processes)
            names = [p.instance.name for p in wave]
            failed = [name for name in names if not results[name].ok]
            if not failed and push_reload and not options.dry_run:
                failed = _push_reload(names, push_reload, results)
            if not failed and health and number < len(waves) and not options.dry_run:
                failed = _probe_health(names, health, options.timeout, results)
            if failed:
                out.stopped_after = number
                _not_attempted(results, f"wave {number} failed")
                break
        if options.prune_removed and not options.dry_run and out.orphans and out.stopped_after is None:
            _delete_orphans(out.orphans, kubectl_factory, fleet)
    except KeyboardInterrupt:
        processes.stop_all()
        out.interrupted = True
        for r in results.values():
            if r.result == "not attempted":
                r.reason = ("interrupted: " + r.reason) if r.reason else "interrupted before it started"
    finally:
        out.duration = time.monotonic() - started
    return out


def _note_clusters(states: dict[str, ClusterState], out: DeployResult) -> None:
    for name, state in states.items():
        out.clusters[name] = "ok" if state.error is None else f"{state.error.kind}: {state.error}"
        if state.missing_kinds:
            out.notes.append(f"cluster {name} has no {' or '.join(state.missing_kinds)} kind (CRD not installed)")


def _plan_fleet(instances: list[Instance], states: dict[str, ClusterState], options: DeployOptions,
                results: dict[str, InstanceResult]) -> list[Plan]:
    """The plans of the instances with something to apply; the others' results say why not
    (unchanged, or their cluster could not be read)."""
    plans = []
    for inst in instances:
        state = states[inst.cluster]
        r = results[inst.name]
        if state.error is not None:
            r.result = "failed"
            r.reason = f"cluster {inst.cluster} (context {state.context}): {state.error.kind}: {state.error}"
            continue
        plan = plan_instance(inst, state, options.all)
        if plan.needed:
            plans.append(plan)
        else:
            r.result, r.reason = "unchanged", "every object matches build/"
    return plans


def _schedule(plans: list[Plan], options: DeployOptions, health: bool, out: DeployResult,
              results: dict[str, InstanceResult]) -> list[list[Plan]]:
    """The waves, canary first; each instance's result knows its wave."""
    waves, note = waves_of(plans, options.canary, options.wave_size)
    if note:
        out.notes.append(note)
    out.waves = len(waves)
    out.health_probe = "not needed" if len(waves) < 2 else ("between waves" if health else
                                                           "skipped: no Jenkins credentials")
    for number, wave in enumerate(waves, 1):
        for p in wave:
            results[p.instance.name].wave = number
    return waves


def _push_reload(names: list[str], push_reload: ReloadPush, results: dict[str, InstanceResult]) -> list[str]:
    """The JCasC reload push for the instances of a wave that need one; the names it failed for."""
    todo = [name for name in names if results[name].jcasc == "reload-needed"]
    if not todo:
        return []
    failed = []
    for name, problem in push_reload(todo).items():
        r = results[name]
        r.jcasc = "reload-failed" if problem else "reload-pushed"
        if problem:
            r.result, r.reason = "failed", f"push --reload: {problem}"
            failed.append(name)
    return failed


def _probe_health(names: list[str], health: HealthCheck, seconds: float,
                  results: dict[str, InstanceResult]) -> list[str]:
    """The health probe after a wave; the names found unhealthy."""
    failed = []
    for name, problem in health(names, seconds).items():
        results[name].health = problem or "ok"
        if problem:
            results[name].result, results[name].reason = "failed", f"health: {problem}"
            failed.append(name)
    return failed


def _not_attempted(results: dict[str, InstanceResult], reason: str) -> None:
    """The reason of every instance of a later wave, which was not attempted."""
    for r in results.values():
        if r.result == "not attempted" and r.wave:
            r.reason = reason


def _read_clusters(instances, fleet, kubectl_factory, options, fleet_name) -> dict[str, ClusterState]:
    clusters = sorted({i.cluster for i in instances} | {c["name"] for c in fleet.get("clusters", [])
                                                         if options.prune_removed})
    needed = {c: {o.kind for i in instances if i.cluster == c for o in i.objects} for c in clusters}
    with ThreadPoolExecutor(max_workers=max(1, min(len(clusters), 8)), thread_name_prefix="read") as pool:
        futures = {c: pool.submit(read_cluster, kubectl_factory(c), c, needed[c], fleet_name) for c in clusters}
        return {c: _result(f) for c, f in futures.items()}


def _result(future):
    while True:
        done, _ = wait([future], timeout=0.2)  # short waits: Ctrl-C reaches this thread
        if done:
            return future.result()


def _run_wave(wave: list[Plan], kubectl_factory, options: DeployOptions, results, progress, processes) -> None:
    with ThreadPoolExecutor(max_workers=max(1, min(options.jobs, len(wave))), thread_name_prefix="deploy") as pool:
        futures = {}
        for p in wave:
            kubectl = kubectl_factory(p.instance.cluster)
            kubectl.processes = processes
            futures[pool.submit(deploy_one, p, kubectl, options, results[p.instance.name])] = p
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
                    if progress:
                        progress(results[futures[f].instance.name])
        except KeyboardInterrupt:
            processes.stop_all()
            for f in pending:
                f.cancel()
            wait(pending, timeout=10)
            for p in futures.values():
                r = results[p.instance.name]
                if r.result == "not attempted":
                    r.result, r.reason = "failed", "interrupted"
            raise


def _delete_orphans(orphans: list[Orphan], kubectl_factory, fleet) -> None:
    for o in orphans:
        kubectl = kubectl_factory(o.cluster)
        try:
            if f"Namespace/{o.namespace}" in o.objects:
                kubectl.delete(None, [f"namespace/{o.namespace}"])
            else:
                refs = [LiveObject(k, o.namespace, n, {}, {}).ref for k, n in (x.split("/", 1) for x in o.objects)]
                kubectl.delete(o.namespace, refs)
            o.action = "deleted"
        except KubectlError as exc:
            o.action = f"failed: {exc.kind}: {exc}"


# --- drift --------------------------------------------------------------------------------------

@dataclass
class ObjectDrift:
    object: str  # Kind/name
    change: str  # missing | extra | changed | conflict
    fields: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"object": self.object, "change": self.change, "fields": [c.as_dict() for c in self.fields]}


@dataclass
class InstanceDrift:
    name: str
    cluster: str
    namespace: str
    objects: list[ObjectDrift] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "cluster": self.cluster, "namespace": self.namespace,
                "drifted": bool(self.objects), "error": self.error or None,
                "objects": [o.as_dict() for o in self.objects]}


def _clean(obj: dict) -> dict:
    obj = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in NOISE}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != SOURCE_ANNOTATION}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    obj["metadata"] = meta
    return obj


def drift_one(inst: Instance, kubectl: Kubectl, state: ClusterState) -> InstanceDrift:
    """What `kubectl diff --server-side` compares: the live objects against the server's dry run of
    our apply (defaults filled in, other managers' fields kept), summarised field by field."""
    out = InstanceDrift(inst.name, inst.cluster, inst.namespace)
    try:
        dry = kubectl.apply([o.annotated() for o in inst.objects], dry_run=True, force=True, output="json")
        if not dry.ok:
            out.error = f"{dry.error.kind}: {dry.error}"
            return out
        live = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d
                for d in kubectl.get_objects(inst.namespace, [o.ref for o in inst.objects])}
    except KubectlError as exc:
        out.error = f"{exc.kind}: {exc}"
        return out
    merged = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for d in dry.documents}
    for o in inst.objects:
        key = (o.kind, o.name)
        label = f"{o.kind}/{o.name}"
        if key not in live:
            out.objects.append(ObjectDrift(label, "missing"))
            continue
        want = merged.get(key)
        if want is None:
            continue
        changes = list(diff_values(_clean(live[key]), _clean(want), FULL).changes)
        if changes:
            out.objects.append(ObjectDrift(label, "changed", changes))
    for o in state.objects:
        if o.project == inst.name and o.namespace == inst.namespace and (o.kind, o.name) not in {
                (b.kind, b.name) for b in inst.objects}:
            out.objects.append(ObjectDrift(f"{o.kind}/{o.name}", "extra"))
    return out


def drift(instances: list[Instance], fleet: dict, kubectl_factory: Callable[[str], Kubectl], jobs: int,
          progress: Callable[[InstanceDrift], None] | None = None) -> tuple[list[InstanceDrift], dict[str, str]]:
    fleet_name = fleet.get("name")
    clusters = sorted({i.cluster for i in instances})
    states = {c: read_cluster(kubectl_factory(c), c, {o.kind for i in instances if i.cluster == c
                                                      for o in i.objects}, fleet_name) for c in clusters}
    status = {c: "ok" if s.error is None else f"{s.error.kind}: {s.error}" for c, s in states.items()}
    results: dict[str, InstanceDrift] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="drift") as pool:
        futures = {}
        for inst in instances:
            state = states[inst.cluster]
            if state.error is not None:
                results[inst.name] = InstanceDrift(inst.name, inst.cluster, inst.namespace,
                                                   error=f"cluster {inst.cluster}: {state.error.kind}: {state.error}")
                continue
            futures[pool.submit(drift_one, inst, kubectl_factory(inst.cluster), state)] = inst.name
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                results[futures[f]] = f.result()
                if progress:
                    progress(results[futures[f]])
    return [results[i.name] for i in instances], status


def format_drift(d: InstanceDrift) -> list[str]:
    lines = []
    for o in d.objects:
        sign = {"missing": "+", "extra": "-", "changed": "~"}[o.change]
        what = {"missing": "not on the cluster", "extra": "on the cluster, not in build/ (deploy prunes it)",
                "changed": "differs"}[o.change]
        lines.append(f"    {sign} {o.object}: {what}")
        for change in o.fields:
            body = format_change(change, text_blocks=True)
            if len(body) > MAX_FIELD_LINES:  # a whole JCasC replaced: the first lines say enough
                body = body[:MAX_FIELD_LINES] + [f"    ... {len(body) - MAX_FIELD_LINES} more lines"]
            lines.extend("        " + printable(line, 400) for line in body)
    return lines


__all__ = ["DeployOptions", "DeployResult", "Instance", "InstanceDrift", "InstanceResult", "Orphan", "check_placement",
           "deploy", "drift", "format_drift", "read_instances", "stale_diagnostics"]
