"""`fleet audit --live`: compare generated quotas with what a cluster reports.

Input is the JSON of `kubectl get resourcequota,limitrange -A -o json` (or `oc
get ...`), one file per cluster. Quantities are compared by value ("2" ==
"2000m", "8Gi" == "8192Mi"): the API server rewrites them in canonical form.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .audit import Finding, InstanceFacts, Snapshot, finding
from .errors import Diagnostic, FleetError
from .quantity import same_quantity

HINT = "produce it with: kubectl get resourcequota,limitrange -A -o json > FILE"
MANAGED_LABEL = ("app.kubernetes.io/managed-by", "jenkins-fleet")
KINDS = ("ResourceQuota", "LimitRange")


@dataclass
class LiveFile:
    path: str
    cluster: str | None  # given as CLUSTER=FILE, else inferred
    objects: list[dict] = field(default_factory=list)  # ResourceQuota and LimitRange items


def parse_argument(value: str, clusters: list[str]) -> tuple[str | None, str]:
    """'okd-c1=quota.json' names the cluster; a plain path leaves it to be inferred."""
    name, sep, path = value.partition("=")
    if sep and name in clusters:
        return name, path
    return None, value


def load_live_file(path: str, cluster: str | None = None) -> LiveFile:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise FleetError([Diagnostic(path, 0, 0, "", "file not found", hint=HINT)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot read file: {exc}", hint=HINT)]) from None
    return parse(text, path, cluster)


def from_cluster(kubectl, cluster: str) -> LiveFile:
    """The live objects read straight from a cluster, through the same kubectl as `fleet deploy`."""
    from .kubectl import KubectlError

    label = f"kubectl --context={kubectl.context}"
    try:
        call = kubectl.run(["get", "resourcequotas,limitranges", "--all-namespaces", "-o", "json"])
    except KubectlError as exc:
        raise FleetError([Diagnostic(label, 0, 0, "", f"cannot read cluster {cluster}: {exc.kind}: {exc}",
                                     hint="check the kubeconfig context (clusters[].kubeContext in fleet.yaml)")]) \
            from None
    return parse(call.stdout, label, cluster)


def parse(text: str, path: str, cluster: str | None = None) -> LiveFile:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        source = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        raise FleetError([Diagnostic(path, exc.lineno, exc.colno, "", f"not JSON: {exc.msg}", hint=HINT,
                                     source_line=source)]) from None
    if isinstance(data, dict) and data.get("kind") in KINDS:
        items = [data]
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    else:
        raise FleetError([Diagnostic(path, 1, 1, "", "expected a Kubernetes List with 'items' "
                                                     "(or a single ResourceQuota / LimitRange)", hint=HINT)])
    objects = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            continue  # other kinds may come along with a broader 'get'; they are not ours to judge
        meta = item.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("namespace"), str) or not isinstance(
                meta.get("name"), str):
            raise FleetError([Diagnostic(path, 0, 0, f"items[{i}]", f"{item['kind']} without metadata.name and "
                                                                    "metadata.namespace", hint=HINT)])
        objects.append(item)
    return LiveFile(path, cluster, objects)


def _same(expected, actual) -> bool:
    return expected == actual or same_quantity(expected, actual)


def _shown(value) -> str | None:
    return None if value is None else str(value)


def _diff_quota(expected: dict, actual: dict, label: str) -> list[dict]:
    want = (expected.get("spec") or {}).get("hard") or {}
    have = (actual.get("spec") or {}).get("hard") or {}
    return [{"object": label, "field": f"spec.hard.{key}", "expected": _shown(want.get(key)),
             "actual": _shown(have.get(key))}
            for key in sorted(set(want) | set(have)) if not _same(want.get(key), have.get(key))]


def _limits_by_type(obj: dict) -> dict[str, dict]:
    out = {}
    for item in (obj.get("spec") or {}).get("limits") or []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            out[item["type"]] = item
    return out


def _diff_limit_range(expected: dict, actual: dict, label: str) -> list[dict]:
    want, have = _limits_by_type(expected), _limits_by_type(actual)
    diffs = []
    for kind in sorted(set(want) | set(have)):
        w, h = want.get(kind, {}), have.get(kind, {})
        for bound in sorted((set(w) | set(h)) - {"type"}):
            wb, hb = w.get(bound) or {}, h.get(bound) or {}
            if not isinstance(wb, dict) or not isinstance(hb, dict):
                continue
            for res in sorted(set(wb) | set(hb)):
                if not _same(wb.get(res), hb.get(res)):
                    diffs.append({"object": label, "field": f"{kind}.{bound}.{res}",
                                  "expected": _shown(wb.get(res)), "actual": _shown(hb.get(res))})
    return diffs


def _name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _is_fleet_like(obj: dict, names: set[str]) -> bool:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return labels.get(MANAGED_LABEL[0]) == MANAGED_LABEL[1] or meta.get("name") in names


def _infer_cluster(live: LiveFile, snap: Snapshot, names: set[str]) -> tuple[str, str]:
    clusters = sorted({f.cluster for f in snap.instances.values()})
    if len(clusters) == 1:
        return clusters[0], "the only cluster"
    seen = {o["metadata"]["namespace"] for o in live.objects if _is_fleet_like(o, names)}
    overlap = {c: len(seen & {f.namespace for f in snap.instances.values() if f.cluster == c}) for c in clusters}
    best = sorted(overlap.items(), key=lambda kv: -kv[1])
    if best and best[0][1] > 0 and (len(best) == 1 or best[0][1] > best[1][1]):
        return best[0][0], "namespaces"
    raise FleetError([Diagnostic(live.path, 0, 0, "", "cannot tell which cluster this file describes",
                                 hint=f"name it: --live CLUSTER={live.path} (clusters: {', '.join(clusters)})")])


def drift(snap: Snapshot, files: list[LiveFile]) -> tuple[dict, list[Finding]]:
    """The live section of the report and its findings, for the selected instances."""
    findings: list[Finding] = []
    names = set()
    for facts in snap.instances.values():
        names.add(_name(facts.quota_object))
        names.add(_name(facts.limit_range_object))
    by_cluster: dict[str, LiveFile] = {}
    clusters_out = []
    for live in files:
        cluster, how = (live.cluster, "argument") if live.cluster else _infer_cluster(live, snap, names)
        if cluster in by_cluster:
            raise FleetError([Diagnostic(live.path, 0, 0, "", f"a second live file for cluster '{cluster}' "
                                                              f"(the first is {by_cluster[cluster].path})",
                                         hint="give one file per cluster, as CLUSTER=FILE")])
        by_cluster[cluster] = live
        clusters_out.append({"name": cluster, "file": os.path.basename(live.path), "matchedBy": how})
    instances_out, unknown_out, ignored = [], [], 0
    selected = [snap.instances[n] for n in snap.selected]
    for cluster, live in sorted(by_cluster.items()):
        objects: dict[str, dict[tuple[str, str], dict]] = {}
        for obj in live.objects:
            objects.setdefault(obj["metadata"]["namespace"], {})[(obj["kind"], _name(obj))] = obj
        defined = {f.namespace for f in snap.instances.values() if f.cluster == cluster}
        for facts in selected:
            if facts.cluster == cluster:
                entry, found = _compare(facts, objects.get(facts.namespace, {}))
                instances_out.append(entry)
                findings.extend(found)
        for ns in sorted(set(objects) - defined):
            ours = [f"{k}/{n}" for (k, n), o in sorted(objects[ns].items()) if _is_fleet_like(o, names)]
            if ours:
                unknown_out.append({"cluster": cluster, "namespace": ns, "objects": ours})
                if len(selected) == len(snap.instances):
                    findings.append(finding("live-namespace-unknown",
                                            f"namespace '{ns}' holds {', '.join(ours)} but no instance defines it "
                                            "(a removed instance, or a renamed namespace?)", cluster=cluster))
            else:
                ignored += 1
    not_checked = sorted({f.cluster for f in selected} - set(by_cluster))
    section = {"clusters": clusters_out, "instances": instances_out, "unknownNamespaces": unknown_out,
               "ignoredNamespaces": ignored, "notChecked": not_checked}
    return section, findings


def _compare(facts: InstanceFacts, live: dict[tuple[str, str], dict]) -> tuple[dict, list[Finding]]:
    entry = {"name": facts.name, "cluster": facts.cluster, "namespace": facts.namespace, "status": "in-sync",
             "differences": []}
    wanted = [("ResourceQuota", facts.quota_object, _diff_quota),
              ("LimitRange", facts.limit_range_object, _diff_limit_range)]
    present = [(kind, obj, diff) for kind, obj, diff in wanted if (kind, _name(obj)) in live]
    where = {"instance": facts.name, "cluster": facts.cluster}
    if not present:
        entry["status"] = "missing"
        others = sorted(f"{k}/{n}" for k, n in live)
        extra = f" (it has {', '.join(others)})" if others else ""
        return entry, [finding("live-namespace-missing", f"namespace '{facts.namespace}' has neither "
                                                         f"ResourceQuota/{_name(facts.quota_object)} nor "
                                                         f"LimitRange/{_name(facts.limit_range_object)} on the "
                                                         f"cluster{extra}: not deployed yet?", **where)]
    found = []
    for kind, obj, diff in wanted:
        label = f"{kind}/{_name(obj)}"
        actual = live.get((kind, _name(obj)))
        if actual is None:
            entry["differences"].append({"object": label, "field": "(object)", "expected": "present", "actual": None})
            found.append(finding("live-object-missing", f"{label} is missing in namespace '{facts.namespace}'",
                                 **where))
            continue
        entry["differences"].extend(diff(obj, actual, label))
    values = [d for d in entry["differences"] if d["field"] != "(object)"]
    if values:
        text = "; ".join(f"{d['object']} {d['field']}: generated {d['expected'] or '(none)'}, "
                         f"live {d['actual'] or '(none)'}" for d in values)
        found.append(finding("live-value-drift", f"{len(values)} value(s) differ in namespace "
                                                 f"'{facts.namespace}': {text}", **where))
    if entry["differences"]:
        entry["status"] = "drift"
    return entry, found
