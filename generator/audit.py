"""Quota audit: what every instance holds, what each cluster carries, and what disagrees.

Every figure comes from the generated artifacts (k8s/*.yaml, jenkins/jenkins.yaml,
model.json), parsed back as Kubernetes and Jenkins would read them, so the audit
checks what will be applied rather than re-deriving it from the inputs. The
artifacts are either generated in memory from the working tree (the default) or
read from an existing build directory (--build).

The report is plain data; generator/audit_formats.py renders it, the CLI prints it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from . import __version__, fleetdir, yamlout
from . import fleet as fleet_mod
from .errors import Diagnostic, FleetError, plural
from .model import ModelEngine, ModelInput
from .names import select_names
from .output import INDEX
from .quantity import cpu_millis, memory_mib, parse_quantity
from .schema import Schemas, validate_document

FORMAT_VERSION = 1
ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}
NEAR_CAPACITY_PERCENT = 90.0


# --- rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # the usual severity; quota-fit and live rules document their variants
    summary: str


RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("cluster-over-capacity", ERROR,
         "the quotas of a cluster's instances request more CPU, memory or pods than the cluster's capacity"),
    Rule("cluster-near-capacity", WARNING,
         f"a cluster's requested CPU, memory or pods reach {NEAR_CAPACITY_PERCENT:.0f}% of its capacity"),
    Rule("cluster-limits-overcommit", INFO,
         "the quotas' CPU or memory limits add up to more than the cluster's capacity (overcommit factor)"),
    Rule("unknown-cluster", ERROR, "an instance is deployed to a cluster that fleet.yaml does not define"),
    Rule("packs-over-policy", ERROR,
         "more resource packs than policy.maxPacks and no project.packsApproval in the instance file"),
    Rule("packs-approved", INFO, "more resource packs than policy.maxPacks, with an approval reference"),
    Rule("container-cap-mismatch", ERROR,
         "the JCasC Kubernetes cloud's containerCapStr is not the quota's pods - 1 (or there is no cloud)"),
    Rule("template-outside-limitrange", ERROR,
         "a pod template's container or pod resources are above the LimitRange maximum or below its minimum"),
    Rule("quota-fit", ERROR,
         "the controller plus maxConcurrency agent pods (with their jnlp sidecars) do not fit the quota; "
         "a warning when only some pod templates cannot run maxConcurrency times"),
    Rule("agent-below-minimum", ERROR,
         "a maxConcurrency override shrinks each agent below policy.minAgentCpuMillis or minAgentMemoryMiB"),
    Rule("shared-namespace", ERROR, "two instances use the same namespace on one cluster"),
    Rule("live-namespace-missing", ERROR,
         "--live: an instance's namespace has neither its ResourceQuota nor its LimitRange on the cluster"),
    Rule("live-object-missing", ERROR, "--live: one of an instance's ResourceQuota or LimitRange is missing"),
    Rule("live-value-drift", ERROR, "--live: a ResourceQuota or LimitRange value differs from the generated one"),
    Rule("live-namespace-unknown", WARNING,
         "--live: a namespace holds fleet-managed quota objects but no instance defines it"),
    Rule("plugin-security-warning", WARNING,
         "a pinned plugin release has an active security warning of the update site (one finding per "
         "release and advisory, naming the instances that install it)"),
    Rule("plugin-deprecated", WARNING, "an installed plugin is deprecated on the update site"),
]}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    message: str
    instance: str | None = None
    cluster: str | None = None

    def sort_key(self) -> tuple:
        return (SEVERITY_ORDER[self.severity], self.cluster or "", self.instance or "", self.rule, self.message)

    @property
    def subject(self) -> str:
        """What the finding is about: an instance, a cluster, or the whole fleet (plugin advisories)."""
        return self.instance or (f"cluster {self.cluster}" if self.cluster else "fleet")

    def to_json(self) -> dict:
        return {"rule": self.rule, "severity": self.severity, "instance": self.instance,
                "cluster": self.cluster, "message": self.message}


def finding(rule: str, message: str, *, instance=None, cluster=None, severity: str | None = None) -> Finding:
    return Finding(rule, severity or RULES[rule].severity, message, instance, cluster)


# --- facts read from the artifacts ---------------------------------------------------------------

@dataclass(frozen=True)
class Resources:
    """Integer millicores and MiB."""

    cpu_request: int = 0
    cpu_limit: int = 0
    memory_request: int = 0
    memory_limit: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_request + other.cpu_request, self.cpu_limit + other.cpu_limit,
                         self.memory_request + other.memory_request, self.memory_limit + other.memory_limit)

    def to_json(self) -> dict:
        return {"cpuRequestMillis": self.cpu_request, "cpuLimitMillis": self.cpu_limit,
                "memoryRequestMiB": self.memory_request, "memoryLimitMiB": self.memory_limit}


QUOTA_KEYS = {  # JSON name -> ResourceQuota spec.hard key
    "pods": "pods",
    "requestsCpuMillis": "requests.cpu",
    "requestsMemoryMiB": "requests.memory",
    "limitsCpuMillis": "limits.cpu",
    "limitsMemoryMiB": "limits.memory",
}
_QUOTA_PARSE = {"pods": lambda v: int(parse_quantity(v)), "requestsCpuMillis": cpu_millis,
                "requestsMemoryMiB": memory_mib, "limitsCpuMillis": cpu_millis, "limitsMemoryMiB": memory_mib}


@dataclass
class PodTemplate:
    name: str
    instance_cap: int | None  # None: unlimited
    containers: list[tuple[str, Resources]]
    sidecar: Resources | None  # the jnlp reservation added to each pod (None when the template lists its own)

    @property
    def pod(self) -> Resources:
        total = Resources()
        for _, res in self.containers:
            total = total + res
        return total + self.sidecar if self.sidecar else total

    def to_json(self) -> dict:
        return {"name": self.name, "instanceCap": self.instance_cap,
                "containers": [{"name": n, **r.to_json()} for n, r in self.containers],
                "jnlpSidecarCounted": self.sidecar is not None, "pod": self.pod.to_json()}


@dataclass
class InstanceFacts:
    name: str
    cluster: str
    namespace: str
    packs: int
    packs_approval: str | None
    max_concurrency: int
    static_agents: int
    controller: Resources
    agent: Resources
    jnlp: Resources
    quota: dict[str, int | None]  # QUOTA_KEYS names
    quota_object: dict  # the ResourceQuota as generated
    limit_range_object: dict  # the LimitRange as generated
    limit_range: dict[str, dict[str, dict[str, str]]]  # type -> min|max|default|defaultRequest -> cpu|memory
    clouds: int  # Kubernetes clouds in the JCasC
    container_cap: int | None  # None: unlimited (or no cloud)
    container_cap_raw: str | None
    templates: list[PodTemplate] = field(default_factory=list)
    # model.json jenkins.pluginAdvisories: active security warnings and deprecations of its plugins
    plugin_advisories: list[dict] = field(default_factory=list)

    def row(self) -> dict:
        return {
            "name": self.name, "cluster": self.cluster, "namespace": self.namespace,
            "packs": self.packs, "packsApproval": self.packs_approval,
            "maxConcurrency": self.max_concurrency, "containerCap": self.container_cap,
            "staticAgents": self.static_agents,
            "controller": self.controller.to_json(), "agent": self.agent.to_json(),
            "quota": dict(self.quota),
            "podTemplates": [t.to_json() for t in self.templates],
        }


class Artifacts:
    """Generated files by relative path (<name>/k8s/resourcequota.yaml, ...)."""

    def __init__(self, files: dict[str, bytes] | None = None, directory: str | None = None):
        self._files = files
        self.directory = directory

    def names(self) -> list[str]:
        if self._files is not None:
            return sorted({rel.split("/", 1)[0] for rel in self._files if "/" in rel})
        index_path = os.path.join(self.directory, INDEX)
        try:
            with open(index_path, encoding="utf-8") as fh:
                return sorted(json.load(fh)["instances"])
        except FileNotFoundError:
            raise FleetError([Diagnostic(self.directory, 0, 0, "",
                                         f"no {INDEX}: this is not a generated build directory",
                                         hint="run 'fleet generate' first, or audit without --build "
                                              "to generate in memory")]) from None
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise FleetError([Diagnostic(index_path, 0, 0, "", f"unreadable build index: {exc}",
                                         hint="run 'fleet generate' again")]) from None

    def read(self, rel: str) -> bytes | None:
        if self._files is not None:
            return self._files.get(rel)
        try:
            with open(os.path.join(self.directory, rel), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def where(self, rel: str) -> str:
        return os.path.join(self.directory, rel) if self.directory else f"<generated>/{rel}"


class _Bad(Exception):
    """An artifact that cannot be read; becomes a Diagnostic naming the file."""

    def __init__(self, rel: str, message: str):
        super().__init__(message)
        self.rel = rel


def _load(art: Artifacts, rel: str, *, json_file: bool = False):
    data = art.read(rel)
    if data is None:
        raise _Bad(rel, "file missing")
    try:
        return json.loads(data) if json_file else yamlout.safe_load(data)
    except (ValueError, yaml.YAMLError) as exc:
        raise _Bad(rel, f"cannot parse: {str(exc).splitlines()[0]}") from None


def _has(data, key) -> bool:
    if isinstance(data, dict):
        return key in data
    return isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data)


def _get(data, *path, default=None):
    for key in path:
        if not _has(data, key):
            return default
        data = data[key]
    return data


def _limit_range_table(obj: dict) -> dict:
    table: dict[str, dict[str, dict[str, str]]] = {}
    for item in _get(obj, "spec", "limits", default=[]) or []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            table[item["type"]] = {k: v for k, v in item.items() if k != "type" and isinstance(v, dict)}
    return table


def _container_resources(requests: dict, limits: dict, lr_container: dict) -> Resources:
    """Requests and limits as admission sees them.

    A missing limit takes the LimitRange default; a missing request takes the
    container's own limit, else the LimitRange defaultRequest (else its default).
    """
    def given(d: dict, kind: str):
        value = d.get(kind)
        return None if value in (None, "") else value

    def pick(kind: str, parse) -> tuple[int, int]:
        lim = given(limits, kind)
        if lim is None:
            lim = _get(lr_container, "default", kind)
        req = given(requests, kind)
        if req is None:
            req = given(limits, kind)
        if req is None:
            req = _get(lr_container, "defaultRequest", kind, default=_get(lr_container, "default", kind))
        return (0 if req is None else parse(req), 0 if lim is None else parse(lim))

    cpu_req, cpu_lim = pick("cpu", cpu_millis)
    mem_req, mem_lim = pick("memory", memory_mib)
    return Resources(cpu_req, cpu_lim, mem_req, mem_lim)


def _cap(value) -> int | None:
    """containerCapStr / instanceCap as the Kubernetes plugin reads them: empty or <= 0 is unlimited."""
    if value is None or value == "":
        return None
    n = int(str(value).strip())
    return n if 0 < n < 2**31 - 1 else None


def read_instance(art: Artifacts, name: str) -> InstanceFacts:
    try:
        return _read_instance(art, name)
    except _Bad as exc:
        raise FleetError([Diagnostic(art.where(exc.rel), 0, 0, "", str(exc),
                                     hint="regenerate it with 'fleet generate'",
                                     context=(f"while auditing instance '{name}'",))]) from None


def _read_instance(art: Artifacts, name: str) -> InstanceFacts:
    model = _load(art, f"{name}/model.json", json_file=True)
    quota_rel, lr_rel = f"{name}/k8s/resourcequota.yaml", f"{name}/k8s/limitrange.yaml"
    quota_obj, lr_obj = _load(art, quota_rel), _load(art, lr_rel)
    sts = _load(art, f"{name}/k8s/statefulset.yaml")
    jcasc_rel = f"{name}/jenkins/jenkins.yaml"
    jcasc = _load(art, jcasc_rel) or {}
    lr = _limit_range_table(lr_obj)
    lr_container = lr.get("Container", {})

    quota = _quota_hard(quota_obj, quota_rel)
    controller = _controller_resources(sts, f"{name}/k8s/statefulset.yaml", lr_container)
    _check_limit_range(lr, lr_rel)
    jnlp, agent, own, jenkins = _model_facts(model, f"{name}/model.json")
    cluster, namespace, packs, approval, concurrency, static = own
    clouds, cap, cap_raw, templates = _cloud_facts(jcasc, jcasc_rel, lr_container, jnlp)
    return InstanceFacts(
        name=name,
        cluster=cluster,
        namespace=_get(quota_obj, "metadata", "namespace", default=namespace),
        packs=packs,
        packs_approval=approval,
        max_concurrency=concurrency,
        static_agents=static,
        controller=controller,
        agent=agent,
        jnlp=jnlp,
        quota=quota,
        quota_object=quota_obj,
        limit_range_object=lr_obj,
        limit_range=lr,
        clouds=len(clouds),
        container_cap=cap,
        container_cap_raw=cap_raw,
        templates=templates,
        plugin_advisories=list(jenkins.get("pluginAdvisories") or []),
    )


def _quota_hard(quota_obj, quota_rel: str) -> dict[str, int | None]:
    """The ResourceQuota's spec.hard, parsed (requests.cpu may be written cpu)."""
    hard = _get(quota_obj, "spec", "hard", default={}) or {}
    quota: dict[str, int | None] = {}
    for key, hard_key in QUOTA_KEYS.items():
        value = hard.get(hard_key, hard.get(hard_key.removeprefix("requests.")) if key.startswith("requests") else None)
        try:
            quota[key] = None if value is None else _QUOTA_PARSE[key](value)
        except (ValueError, TypeError) as exc:
            raise _Bad(quota_rel, f"spec.hard.{hard_key}: {exc}") from None
    return quota


def _controller_resources(sts, sts_rel: str, lr_container: dict) -> Resources:
    """What the StatefulSet's pods take, all replicas together."""
    controller = Resources()
    try:
        replicas = int(_get(sts, "spec", "replicas", default=1))
        for c in _get(sts, "spec", "template", "spec", "containers", default=[]) or []:
            res = c.get("resources", {}) or {}
            one = _container_resources(res.get("requests", {}) or {}, res.get("limits", {}) or {}, lr_container)
            for _ in range(replicas):
                controller = controller + one
    except (ValueError, TypeError, AttributeError) as exc:
        raise _Bad(sts_rel, f"container resources: {exc}") from None
    return controller


def _check_limit_range(lr: dict, lr_rel: str) -> None:
    """Every quantity of the LimitRange parses."""
    for kind_of, bounds in lr.items():
        for bound, values in bounds.items():
            for kind, value in values.items():
                try:
                    (cpu_millis if kind == "cpu" else memory_mib)(value)
                except (ValueError, TypeError) as exc:
                    raise _Bad(lr_rel, f"{kind_of} {bound}.{kind}: {exc}") from None


def _model_facts(model, model_rel: str) -> tuple[Resources, Resources, tuple, dict]:
    """jnlp and agent resources, (cluster, namespace, packs, packsApproval, maxConcurrency,
    staticAgentCount) and the jenkins section of the resolved model."""
    def model_res(r: dict) -> Resources:
        return Resources(r["cpu"]["request"], r["cpu"]["limit"], r["memory"]["request"], r["memory"]["limit"])

    try:
        res = model["resources"]
        jnlp, agent = model_res(res["jnlp"]), model_res(res["agent"])
        project, jenkins, deployment = model["project"], model["jenkins"], model["deployment"]
        own = (deployment["cluster"], deployment["namespace"], project["resourcePacks"], project.get("packsApproval"),
               jenkins["maxConcurrency"], jenkins["staticAgentCount"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise _Bad(model_rel, f"not a resolved model (missing {exc})") from None
    return jnlp, agent, own, jenkins


def _cloud_facts(jcasc, jcasc_rel: str, lr_container: dict,
                 jnlp: Resources) -> tuple[list[dict], int | None, str | None, list[PodTemplate]]:
    """The JCasC's Kubernetes clouds, their summed container cap (None: unlimited), the caps as
    written, and their pod templates."""
    clouds = [c["kubernetes"] for c in _get(jcasc, "jenkins", "clouds", default=[]) or []
              if isinstance(c, dict) and isinstance(c.get("kubernetes"), dict)]
    try:
        caps = [_cap(c.get("containerCapStr")) for c in clouds]
        cap_raw = ", ".join(str(c.get("containerCapStr", "")) for c in clouds) if clouds else None
        cap = sum(caps) if clouds and all(x is not None for x in caps) else None
        templates = [_pod_template(t, lr_container, jnlp)
                     for cloud in clouds for t in cloud.get("templates", []) or []]
    except (ValueError, TypeError, AttributeError) as exc:
        raise _Bad(jcasc_rel, f"Kubernetes cloud: {exc}") from None
    return clouds, cap, cap_raw, templates


def _pod_template(t: dict, lr_container: dict, jnlp: Resources) -> PodTemplate:
    containers = []
    for c in t.get("containers", []) or []:
        containers.append((str(c.get("name", "")), _container_resources(
            {"cpu": c.get("resourceRequestCpu"), "memory": c.get("resourceRequestMemory")},
            {"cpu": c.get("resourceLimitCpu"), "memory": c.get("resourceLimitMemory")}, lr_container)))
    names = [n for n, _ in containers]
    # The quota model reserves a jnlp sidecar beside every build container; a template
    # that lists jnlp next to another container has made it explicit.
    explicit = "jnlp" in names and len(names) > 1
    return PodTemplate(str(t.get("name", "?")), _cap(t.get("instanceCap")), containers, None if explicit else jnlp)


# --- the snapshot: the whole fleet's facts -------------------------------------------------------

PROBE = "fleet-audit.one-pack"


@dataclass
class Snapshot:
    fleet: dict  # fleet.yaml as loaded
    instances: dict[str, InstanceFacts]  # the whole fleet: capacity needs every instance
    selected: list[str]
    source: dict
    one_pack: dict[str, int | None]  # the quota of a 1-pack instance with the fleet defaults
    warnings: list[Diagnostic] = field(default_factory=list)


def one_pack_quota(paths: fleet_mod.Paths, fleet: dict) -> dict[str, int | None]:
    """The ResourceQuota the templates generate for a default 1-pack instance (no profile)."""
    probe = ModelInput(PROBE, {"project": {"fullName": PROBE, "displayName": "capacity probe", "resourcePacks": 1}}, ())
    objects = ModelEngine(paths.templates).evaluate(fleet, [probe])[PROBE]["objects"]
    hard = objects["resourcequota.yaml"]["spec"]["hard"]
    return {key: _QUOTA_PARSE[key](hard[k]) if k in hard else None for key, k in QUOTA_KEYS.items()}


def snapshot(paths: fleet_mod.Paths, names: Iterable[str] = (), *, build_dir: str | None = None,
             jobs: int = 1) -> Snapshot:
    """Read the whole fleet's artifacts: generated in memory, or from build_dir when given."""
    names = tuple(names)
    warnings: list[Diagnostic] = []
    if build_dir is None:
        chosen = fleetdir.select(paths.instances, names) if names else None  # a typo fails before the work
        gen = fleet_mod.generate(paths, (), jobs=jobs, whole_models=False)  # files and names are read
        warnings = gen.warnings
        art = Artifacts(files=gen.files)
        all_names = sorted(gen.models)
        selected = chosen if chosen is not None else all_names
        source = {"kind": "generated", "path": None}
    else:
        art = Artifacts(directory=build_dir)
        all_names = art.names()
        selected = select_names(all_names, names, where=build_dir, missing="no instance named '{}' in this build",
                                hint="run 'fleet generate' to build it, or audit without --build")
        source = {"kind": "build", "path": build_dir}
    fleet_doc = _fleet_document(paths)
    instances = {n: read_instance(art, n) for n in all_names}
    return Snapshot(fleet_doc, instances, selected, source, one_pack_quota(paths, fleet_doc), warnings)


def _fleet_document(paths: fleet_mod.Paths) -> dict:
    doc = fleetdir.load_fleet(paths.instances)
    diags = validate_document(doc, Schemas(paths.schemas).fleet, "while validating the fleet settings")
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    return doc.data


# --- the report ---------------------------------------------------------------------------------

@dataclass
class ClusterRow:
    name: str
    description: str | None
    instances: int
    capacity: dict[str, int | None]  # cpuMillis, memoryMiB, pods
    totals: dict[str, int]  # QUOTA_KEYS names
    one_pack: dict[str, int | None]

    @property
    def known(self) -> bool:
        return self.capacity["cpuMillis"] is not None

    def utilisation(self) -> dict[str, float | None]:
        cap = self.capacity

        def pct(used, total):
            return None if not total else round(100.0 * used / total, 1)
        return {
            "podsPercent": pct(self.totals["pods"], cap["pods"]),
            "requestsCpuPercent": pct(self.totals["requestsCpuMillis"], cap["cpuMillis"]),
            "requestsMemoryPercent": pct(self.totals["requestsMemoryMiB"], cap["memoryMiB"]),
            "limitsCpuPercent": pct(self.totals["limitsCpuMillis"], cap["cpuMillis"]),
            "limitsMemoryPercent": pct(self.totals["limitsMemoryMiB"], cap["memoryMiB"]),
        }

    def headroom(self) -> dict[str, int | None]:
        cap = self.capacity
        return {
            "pods": None if cap["pods"] is None else cap["pods"] - self.totals["pods"],
            "cpuMillis": None if cap["cpuMillis"] is None else cap["cpuMillis"] - self.totals["requestsCpuMillis"],
            "memoryMiB": None if cap["memoryMiB"] is None else cap["memoryMiB"] - self.totals["requestsMemoryMiB"],
        }

    def one_pack_fit(self) -> int | None:
        """How many more default 1-pack instances fit in the headroom (requests and pods)."""
        if not self.known:
            return None
        room = self.headroom()
        fits = []
        for room_key, quota_key in (("cpuMillis", "requestsCpuMillis"), ("memoryMiB", "requestsMemoryMiB"),
                                    ("pods", "pods")):
            need = self.one_pack.get(quota_key)
            if room[room_key] is None or not need:
                continue
            fits.append(max(0, room[room_key] // need))
        return min(fits) if fits else None

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description, "instances": self.instances,
                "capacity": dict(self.capacity), "totals": dict(self.totals),
                "utilisation": self.utilisation(), "headroom": self.headroom(),
                "onePackQuota": dict(self.one_pack), "onePackInstancesFit": self.one_pack_fit()}


@dataclass
class Report:
    snapshot: Snapshot
    instances: list[InstanceFacts]  # the selected ones
    clusters: list[ClusterRow]
    totals: dict[str, int]
    findings: list[Finding]
    live: dict | None = None
    base: dict | None = None

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    def add_findings(self, findings: Iterable[Finding]) -> None:
        self.findings = sorted(list(self.findings) + list(findings), key=Finding.sort_key)

    def summary(self) -> dict:
        count = {s: sum(1 for f in self.findings if f.severity == s) for s in (ERROR, WARNING, INFO)}
        return {"instances": len(self.instances), "clusters": len(self.clusters),
                "errors": count[ERROR], "warnings": count[WARNING], "infos": count[INFO],
                "exitCode": 1 if count[ERROR] else 0}

    def to_json(self) -> dict:
        policy = self.snapshot.fleet.get("policy", {})
        out = {
            "formatVersion": FORMAT_VERSION,
            "generator": f"jenkins-fleet {__version__}",
            "source": dict(self.snapshot.source),
            "policy": {k: policy.get(k) for k in ("maxPacks", "minAgentCpuMillis", "minAgentMemoryMiB")},
            "instances": [i.row() for i in self.instances],
            "clusters": [c.to_json() for c in self.clusters],
            "totals": dict(self.totals),
            "findings": [f.to_json() for f in self.findings],
            "summary": self.summary(),
        }
        if self.live is not None:
            out["live"] = self.live
        if self.base is not None:
            out["base"] = self.base
        return out


def _zero_totals() -> dict[str, int]:
    return {k: 0 for k in QUOTA_KEYS}


def _add_quota(totals: dict[str, int], quota: dict[str, int | None]) -> None:
    for k in QUOTA_KEYS:
        totals[k] += quota.get(k) or 0


def cluster_rows(snap: Snapshot) -> list[ClusterRow]:
    defined = {c["name"]: c for c in snap.fleet.get("clusters", [])}
    totals: dict[str, dict[str, int]] = {name: _zero_totals() for name in defined}
    counts: dict[str, int] = {name: 0 for name in defined}
    for facts in snap.instances.values():
        totals.setdefault(facts.cluster, _zero_totals())
        counts[facts.cluster] = counts.get(facts.cluster, 0) + 1
        _add_quota(totals[facts.cluster], facts.quota)
    rows = []
    for name in list(defined) + sorted(set(totals) - set(defined)):
        spec = defined.get(name)
        cap = (spec or {}).get("capacity", {})
        capacity = {
            "cpuMillis": cpu_millis(cap["cpu"]) if "cpu" in cap else None,
            "memoryMiB": memory_mib(cap["memory"]) if "memory" in cap else None,
            "pods": cap.get("pods"),
        }
        rows.append(ClusterRow(name, (spec or {}).get("description"), counts[name], capacity, totals[name],
                               snap.one_pack))
    return rows


def build_report(snap: Snapshot) -> Report:
    selected = [snap.instances[n] for n in snap.selected]
    shown_clusters = {f.cluster for f in selected}
    clusters = [c for c in cluster_rows(snap) if c.name in shown_clusters or len(snap.selected) == len(snap.instances)]
    totals = _zero_totals()
    for facts in snap.instances.values():
        _add_quota(totals, facts.quota)
    findings: list[Finding] = []
    policy = snap.fleet.get("policy", {})
    for facts in selected:
        for rule in INSTANCE_RULES:
            findings.extend(rule(facts, policy))
    for row in clusters:
        findings.extend(cluster_findings(row))
    findings.extend(shared_namespaces(snap.instances.values(), set(snap.selected)))
    findings.extend(plugin_advisories(selected, snap.fleet.get("acknowledgedAdvisories", [])))
    return Report(snap, selected, clusters, totals, sorted(findings, key=Finding.sort_key))


# --- instance rules -----------------------------------------------------------------------------

def _fmt(kind: str, value: int) -> str:
    return f"{value}m" if kind == "cpu" else f"{value}Mi"


def rule_packs(facts: InstanceFacts, policy: dict):
    limit = policy.get("maxPacks")
    if limit is None or facts.packs <= limit:
        return
    if facts.packs_approval:
        yield finding("packs-approved", f"{facts.packs} resource packs, above the fleet maximum of {limit}; "
                                        f"approved: {facts.packs_approval}", instance=facts.name, cluster=facts.cluster)
    else:
        yield finding("packs-over-policy", f"{facts.packs} resource packs, above the fleet maximum of {limit}, "
                                           "and no project.packsApproval in the instance file",
                      instance=facts.name, cluster=facts.cluster)


def rule_container_cap(facts: InstanceFacts, policy: dict):
    pods = facts.quota.get("pods")
    if facts.clouds == 0:
        yield finding("container-cap-mismatch", "the JCasC has no Kubernetes cloud, so no agent can start "
                                                "(a JCasC override replaced jenkins.clouds?)",
                      instance=facts.name, cluster=facts.cluster)
        return
    if pods is None:
        return
    if facts.container_cap != pods - 1:
        shown = "no limit" if facts.container_cap is None else f"{facts.container_cap} agents"
        yield finding("container-cap-mismatch",
                      f"JCasC containerCapStr {facts.container_cap_raw!r} allows {shown} but the quota allows "
                      f"{pods} pods = controller + {pods - 1} agents", instance=facts.name, cluster=facts.cluster)


def rule_limit_range(facts: InstanceFacts, policy: dict):
    bounds = {"Container": facts.limit_range.get("Container", {}), "Pod": facts.limit_range.get("Pod", {})}

    def check(kind_of: str, what: str, res: Resources):
        lr = bounds[kind_of]
        for kind, parse in (("cpu", cpu_millis), ("memory", memory_mib)):
            values = {"request": res.cpu_request if kind == "cpu" else res.memory_request,
                      "limit": res.cpu_limit if kind == "cpu" else res.memory_limit}
            hi, lo = _get(lr, "max", kind), _get(lr, "min", kind)
            for side, value in values.items():
                if hi is not None and value > parse(hi):
                    yield f"{what} {kind} {side} {_fmt(kind, value)} is above the LimitRange {kind_of} maximum {hi}"
                elif lo is not None and value and value < parse(lo):
                    yield f"{what} {kind} {side} {_fmt(kind, value)} is below the LimitRange {kind_of} minimum {lo}"

    for t in facts.templates:
        problems = []
        for cname, res in t.containers:
            problems.extend(check("Container", f"container '{cname}'", res))
        problems.extend(check("Pod", "the pod" + (" (with its jnlp sidecar)" if t.sidecar else ""), t.pod))
        for p in problems:
            yield finding("template-outside-limitrange",
                          f"pod template '{t.name}': {p}; Kubernetes will refuse its pods",
                          instance=facts.name, cluster=facts.cluster)


_FIT_DIMS = (("requests.cpu", "requestsCpuMillis", "cpu_request", "cpu"),
             ("requests.memory", "requestsMemoryMiB", "memory_request", "memory"),
             ("limits.cpu", "limitsCpuMillis", "cpu_limit", "cpu"),
             ("limits.memory", "limitsMemoryMiB", "memory_limit", "memory"))


def _fit(facts: InstanceFacts, pod: Resources) -> tuple[int | None, str]:
    """How many such pods fit beside the controller, and the dimension that binds."""
    best, binding = None, ""
    pods = facts.quota.get("pods")
    if pods is not None:
        best, binding = pods - 1, "pods"
    for hard, key, attr, _ in _FIT_DIMS:
        total, need = facts.quota.get(key), getattr(pod, attr)
        if total is None or need <= 0:
            continue
        n = max(-1, (total - getattr(facts.controller, attr)) // need)
        if best is None or n < best:
            best, binding = n, hard
    return best, binding


def _need(facts: InstanceFacts, pod: Resources, n: int) -> str:
    parts = []
    for hard, key, attr, kind in _FIT_DIMS:
        total = facts.quota.get(key)
        need = getattr(facts.controller, attr) + n * getattr(pod, attr)
        if total is not None and need > total:
            parts.append(f"{hard} {_fmt(kind, need)} > {_fmt(kind, total)}")
    pods = facts.quota.get("pods")
    if pods is not None and n + 1 > pods:
        parts.append(f"pods {n + 1} > {pods}")
    return ", ".join(parts)


def _build_part(t: PodTemplate) -> str:
    pod, side = t.pod, t.sidecar or Resources()
    text = f"{pod.cpu_request - side.cpu_request}m/{pod.memory_request - side.memory_request}Mi"
    return text + (f" + jnlp sidecar {side.cpu_request}m/{side.memory_request}Mi" if t.sidecar else "")


def rule_quota_fit(facts: InstanceFacts, policy: dict):
    fits = {t.name: _fit(facts, t.pod) for t in facts.templates}
    fits = {k: v for k, v in fits.items() if v[0] is not None}
    if not fits:
        return
    cap = facts.container_cap if facts.container_cap is not None else facts.max_concurrency
    by_name = {t.name: t for t in facts.templates}
    for name, (n, _) in fits.items():
        if n < 1:
            yield finding("quota-fit", f"pod template '{name}' can never start: the controller plus one such pod "
                                       f"need {_need(facts, by_name[name].pod, 1)}",
                          instance=facts.name, cluster=facts.cluster)
    best_name = max(sorted(fits), key=lambda k: fits[k][0])
    best, binding = fits[best_name]
    if 1 <= best < cap:
        yield finding("quota-fit", f"the quota cannot hold the controller plus {cap} agents even with the smallest "
                                   f"pod template '{best_name}' ({_need(facts, by_name[best_name].pod, cap)}); "
                                   f"at most {best} builds run at once ({binding} binds)",
                      instance=facts.name, cluster=facts.cluster)
        return
    for name, (n, _) in fits.items():
        t = by_name[name]
        want = min(cap, t.instance_cap) if t.instance_cap is not None else cap
        if 1 <= n < want:
            yield finding("quota-fit", f"{want} parallel builds on pod template '{name}' ({_build_part(t)} each) "
                                       f"do not fit the quota ({_need(facts, t.pod, want)}); at most {n} run at "
                                       "once, the rest queue", instance=facts.name, cluster=facts.cluster,
                          severity=WARNING)


def rule_agent_minimum(facts: InstanceFacts, policy: dict):
    if facts.max_concurrency == 2 * facts.packs:
        return  # not an override: the pack arithmetic sizes agents as designed
    problems = []
    min_cpu, min_mem = policy.get("minAgentCpuMillis"), policy.get("minAgentMemoryMiB")
    if min_cpu is not None and facts.agent.cpu_request < min_cpu:
        problems.append(f"CPU {facts.agent.cpu_request}m < {min_cpu}m")
    if min_mem is not None and facts.agent.memory_request < min_mem:
        problems.append(f"memory {facts.agent.memory_request}Mi < {min_mem}Mi")
    if problems:
        yield finding("agent-below-minimum",
                      f"maxConcurrency {facts.max_concurrency} (default {2 * facts.packs} for {facts.packs} "
                      f"{plural(facts.packs, 'pack', count=False)}) "
                      f"shrinks each agent below the fleet minimum: {', '.join(problems)}; lower maxConcurrency "
                      "or add packs", instance=facts.name, cluster=facts.cluster)


INSTANCE_RULES = [rule_packs, rule_container_cap, rule_limit_range, rule_quota_fit, rule_agent_minimum]


def cluster_findings(row: ClusterRow) -> list[Finding]:
    if not row.known:
        return [finding("unknown-cluster", f"{row.instances} instance(s) are deployed to cluster '{row.name}', "
                                           "which fleet.yaml does not define; its capacity is unknown",
                        cluster=row.name)]
    out = []
    cap, tot = row.capacity, row.totals
    over, near = [], []
    for label, used, total, kind in (("requests.cpu", tot["requestsCpuMillis"], cap["cpuMillis"], "cpu"),
                                     ("requests.memory", tot["requestsMemoryMiB"], cap["memoryMiB"], "memory"),
                                     ("pods", tot["pods"], cap["pods"], "pods")):
        if total is None:
            continue
        shown = (lambda v: str(v)) if kind == "pods" else (lambda v, k=kind: _fmt(k, v))
        text = f"{label} {shown(used)} of {shown(total)} ({100.0 * used / total:.1f}%)"
        if used > total:
            over.append(text)
        elif 100.0 * used / total >= NEAR_CAPACITY_PERCENT:
            near.append(text)
    if over:
        out.append(finding("cluster-over-capacity", f"cluster '{row.name}' is over capacity: {'; '.join(over)}",
                           cluster=row.name))
    if near:
        out.append(finding("cluster-near-capacity", f"cluster '{row.name}' is near capacity: {'; '.join(near)}",
                           cluster=row.name))
    commit = []
    for label, used, total, kind in (("limits.cpu", tot["limitsCpuMillis"], cap["cpuMillis"], "cpu"),
                                     ("limits.memory", tot["limitsMemoryMiB"], cap["memoryMiB"], "memory")):
        if total and used > total:
            commit.append(f"{label} {_fmt(kind, used)} is {used / total:.2f}x the capacity {_fmt(kind, total)}")
    if commit:
        out.append(finding("cluster-limits-overcommit", f"cluster '{row.name}': {'; '.join(commit)}", cluster=row.name))
    return out


def plugin_advisories(instances: Iterable[InstanceFacts], acknowledged: list[dict] = ()) -> list[Finding]:
    """One finding per plugin release and advisory, with every instance that installs it (and
    fleet.yaml's acknowledgement, if any: the audit shows every advisory, accepted or not)."""
    def note(a: dict) -> str:
        until = f" until {a['expires']}" if a.get("expires") else ""
        return f"; acknowledged in fleet.yaml{until}: {a['reason']}"

    notes = {(a["plugin"], a["id"]): note(a) for a in acknowledged}
    by_advisory: dict[tuple, list[str]] = {}
    for facts in instances:
        for a in facts.plugin_advisories:
            key = (a["kind"], a["plugin"], a["version"], a["id"], a["message"], a["url"])
            by_advisory.setdefault(key, []).append(facts.name)
    out = []
    for (kind, plugin, version, ident, message, url), names in sorted(by_advisory.items()):
        where = f"{plural(len(names), 'instance')}: {', '.join(sorted(names))}"
        if kind == "security":
            out.append(finding("plugin-security-warning", f"{plugin} {version}: {ident} {message} ({url}); "
                                                          f"installed on {where}{notes.get((plugin, ident), '')}"))
        else:
            out.append(finding("plugin-deprecated", f"{plugin} {version} is deprecated ({url}); installed on "
                                                    f"{where}{notes.get((plugin, 'deprecated'), '')}"))
    return out


def shared_namespaces(instances: Iterable[InstanceFacts], selected: set[str]) -> list[Finding]:
    by_ns: dict[tuple[str, str], list[str]] = {}
    for facts in instances:
        by_ns.setdefault((facts.cluster, facts.namespace), []).append(facts.name)
    out = []
    for (cluster, ns), names in sorted(by_ns.items()):
        if len(names) < 2:
            continue
        for name in sorted(names):
            if name in selected:
                others = ", ".join(n for n in sorted(names) if n != name)
                out.append(finding("shared-namespace", f"namespace '{ns}' on cluster '{cluster}' is also used by "
                                                       f"{others}: their quotas and LimitRanges overwrite each other",
                                   instance=name, cluster=cluster))
    return out


# --- base comparison ----------------------------------------------------------------------------

COMPARED = ("packs", "maxConcurrency", "staticAgents") + tuple(QUOTA_KEYS)


def _figures(facts: InstanceFacts) -> dict[str, int | None]:
    return {"packs": facts.packs, "maxConcurrency": facts.max_concurrency, "staticAgents": facts.static_agents,
            **facts.quota}


def _delta(before: dict, after: dict) -> dict:
    return {k: (after.get(k) or 0) - (before.get(k) or 0) for k in after}


def compare_base(base: Snapshot, current: Snapshot, selected: list[str], revision: dict) -> dict:
    """Per-instance and per-cluster quota changes between a revision and the working tree."""
    names = sorted(set(selected) | ({n for n in base.instances if _selected(n, current)}))
    changes, unchanged = [], 0
    for name in names:
        old, new = base.instances.get(name), current.instances.get(name)
        before = _figures(old) if old else None
        after = _figures(new) if new else None
        if before == after and (old is None or (old.cluster, old.namespace) == (new.cluster, new.namespace)):
            unchanged += 1
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        changes.append({
            "name": name, "change": change,
            "cluster": (new or old).cluster,
            "before": before, "after": after,
            "delta": _delta(before or {k: 0 for k in COMPARED}, after or {k: 0 for k in COMPARED}),
        })
    clusters = []
    old_rows = {c.name: c for c in cluster_rows(base)}
    new_rows = {c.name: c for c in cluster_rows(current)}
    for name in list(new_rows) + [n for n in old_rows if n not in new_rows]:
        before = dict(old_rows[name].totals) if name in old_rows else _zero_totals()
        after = dict(new_rows[name].totals) if name in new_rows else _zero_totals()
        clusters.append({"name": name, "before": before, "after": after, "delta": _delta(before, after)})
    old_total, new_total = _zero_totals(), _zero_totals()
    for f in base.instances.values():
        _add_quota(old_total, f.quota)
    for f in current.instances.values():
        _add_quota(new_total, f.quota)
    return {"revision": revision, "instances": changes, "unchanged": unchanged, "clusters": clusters,
            "totals": {"before": old_total, "after": new_total, "delta": _delta(old_total, new_total)}}


def _selected(name: str, current: Snapshot) -> bool:
    # An instance removed since the base is part of the selection when the whole fleet is audited.
    return len(current.selected) == len(current.instances) and name not in current.instances
