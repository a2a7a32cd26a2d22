"""`fleet diff` and the diff step of `fleet check`: two renderings of the fleet (the tree of a git
revision and the working tree) compared instance by instance and object by object, field by field
with the FULL mode of generator/value_diff.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import yaml

from . import fleet as fleet_mod
from . import vcs, yamlout
from .errors import plural
from .names import select_names
from .value_diff import FULL, Change, diff_values, format_change

FORMAT_VERSION = 1
_LABELS = {"jenkins/jenkins.yaml": "JCasC", "model.json": "resolved model", "image/Dockerfile": "controller image",
           "image/plugins.txt": "plugin list"}


@dataclass
class ObjectDiff:
    file: str  # relative to the instance: k8s/resourcequota.yaml
    object: str  # ResourceQuota/jenkins-instance-quota, JCasC, ...
    change: str  # added | removed | changed
    fields: list[Change] = field(default_factory=list)  # for `changed`

    def to_json(self) -> dict:
        return {"file": self.file, "object": self.object, "change": self.change,
                "fields": [c.as_dict() for c in self.fields]}


@dataclass
class InstanceDiff:
    name: str
    change: str  # added | removed | changed
    cluster: str | None  # the new one (the old one for a removed instance)
    namespace: str | None
    before: dict | None  # {"cluster", "namespace"} at the base, None when added
    objects: list[ObjectDiff]

    def to_json(self) -> dict:
        return {"name": self.name, "change": self.change, "cluster": self.cluster, "namespace": self.namespace,
                "before": self.before, "objects": [o.to_json() for o in self.objects]}


@dataclass
class FleetDiff:
    instances: list[InstanceDiff]  # those that differ, sorted by name
    unchanged: list[str]
    revision: dict | None = None  # vcs origin of the old side: ref, commit, templates, schemas
    fleet_files: list[ObjectDiff] = field(default_factory=list)  # files outside instance directories

    def count(self, change: str) -> int:
        return sum(1 for i in self.instances if i.change == change)

    def summary(self) -> dict:
        return {"added": self.count("added"), "changed": self.count("changed"), "removed": self.count("removed"),
                "unchanged": len(self.unchanged),
                "objects": sum(len(i.objects) for i in self.instances) + len(self.fleet_files)}

    def to_json(self) -> dict:
        return {"formatVersion": FORMAT_VERSION, "base": self.revision,
                "instances": [i.to_json() for i in self.instances], "unchanged": len(self.unchanged),
                "fleetFiles": [o.to_json() for o in self.fleet_files], "summary": self.summary()}


def parse_file(rel: str, data: bytes):
    """A generated file as data: YAML and JSON parsed, other text as {"lines": its non-blank lines}."""
    text = data.decode("utf-8", "replace")
    try:
        if rel.endswith((".yaml", ".yml")):
            return yamlout.safe_load(text)
        if rel.endswith(".json"):
            return json.loads(text)
    except (ValueError, yaml.YAMLError):
        pass  # compared as text below
    return {"lines": [line for line in text.splitlines() if line.strip()]}


def object_label(rel: str, doc) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("kind"), str):
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        return f"{doc['kind']}/{name}" if name else doc["kind"]
    return _LABELS.get(rel, rel)


def split_by_instance(files: dict[str, bytes]) -> tuple[dict[str, dict[str, bytes]], dict[str, bytes]]:
    """fleet.generate's files ({"<name>/<rel>": bytes}) as {name: {rel: bytes}}, plus the fleet-wide files
    (those outside an instance directory, such as monitoring rules). An instance directory is one that
    holds a model.json; the index (fleet.json) is not among generate's files."""
    names = {p.split("/", 1)[0] for p in files if p.count("/") == 1 and p.endswith("/model.json")}
    instances: dict[str, dict[str, bytes]] = {}
    shared: dict[str, bytes] = {}
    for path, data in files.items():
        name, sep, rel = path.partition("/")
        if sep and name in names:
            instances.setdefault(name, {})[rel] = data
        else:
            shared[path] = data
    return instances, shared


def _parsed(files: dict[str, bytes]) -> dict[str, object]:
    """Every file parsed; a ConfigMap value that is another file's text becomes a short reference to it,
    so the JCasC carried by the ConfigMap is diffed once (as jenkins/jenkins.yaml), not twice."""
    texts = {data.decode("utf-8", "replace"): rel for rel, data in files.items()}
    out = {}
    for rel, data in sorted(files.items()):
        doc = parse_file(rel, data)
        if isinstance(doc, dict) and doc.get("kind") == "ConfigMap" and isinstance(doc.get("data"), dict):
            doc = dict(doc)
            doc["data"] = {k: (f"<same as {texts[v]}, sha256 {hashlib.sha256(v.encode()).hexdigest()[:12]}>"
                               if isinstance(v, str) and texts.get(v) not in (None, rel) else v)
                           for k, v in doc["data"].items()}
        out[rel] = doc
    return out


def _placement(files: dict[str, bytes] | None) -> dict | None:
    """Cluster and namespace from the instance's model.json."""
    model = parse_file("model.json", files["model.json"]) if files and "model.json" in files else None
    dep = model.get("deployment") if isinstance(model, dict) else None
    if not isinstance(dep, dict):
        return None
    return {"cluster": dep.get("cluster"), "namespace": dep.get("namespace")}


def diff_files(old: dict[str, bytes], new: dict[str, bytes]) -> list[ObjectDiff]:
    """Object by object: files added, removed, and the fields of those changed."""
    old_docs, new_docs = _parsed(old), _parsed(new)
    objects = []
    for rel in sorted(set(old_docs) | set(new_docs)):
        if rel not in old_docs:
            objects.append(ObjectDiff(rel, object_label(rel, new_docs[rel]), "added"))
        elif rel not in new_docs:
            objects.append(ObjectDiff(rel, object_label(rel, old_docs[rel]), "removed"))
        elif old[rel] != new[rel]:
            fields = list(diff_values(old_docs[rel], new_docs[rel], FULL).changes)
            if fields:  # bytes differ but the data does not (a comment): not a semantic change
                objects.append(ObjectDiff(rel, object_label(rel, new_docs[rel]), "changed", fields))
    return objects


def diff_instance(name: str, old: dict[str, bytes] | None, new: dict[str, bytes] | None) -> InstanceDiff | None:
    """The object-level diff of one instance's generated files; None when they are the same."""
    objects = diff_files(old or {}, new or {})
    if not objects:
        return None
    before, after = _placement(old), _placement(new)
    change = "added" if old is None else "removed" if new is None else "changed"
    where = after or before or {}
    return InstanceDiff(name, change, where.get("cluster"), where.get("namespace"), before, objects)


def diff_fleets(old_files: dict[str, bytes], new_files: dict[str, bytes], names=(),
                revision: dict | None = None) -> FleetDiff:
    """Compare two renderings ({"<name>/<rel>": bytes}); NAME patterns limit the instances (and leave
    the fleet-wide files out)."""
    (old, old_shared), (new, new_shared) = split_by_instance(old_files), split_by_instance(new_files)
    chosen = select_names(set(old) | set(new), names, missing="no instance named '{}' in either revision")
    instances, unchanged = [], []
    for name in chosen:
        entry = diff_instance(name, old.get(name), new.get(name))
        if entry is None:
            unchanged.append(name)
        else:
            instances.append(entry)
    shared = [] if names else diff_files(old_shared, new_shared)
    return FleetDiff(instances, unchanged, revision, shared)


_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def describe_placement(entry: InstanceDiff) -> str:
    def where(p):
        return f"{p.get('cluster')}, namespace {p.get('namespace')}"
    now = {"cluster": entry.cluster, "namespace": entry.namespace}
    if entry.change == "changed" and entry.before and entry.before != now:
        return f"{where(entry.before)} -> {where(now)}"
    return where(now)


def revision_title(revision: dict | None) -> str:
    if not revision:
        return "base"
    return f"{revision.get('ref')} ({str(revision.get('commit', ''))[:12]})"


def summary_line(fd: FleetDiff) -> str:
    s = fd.summary()
    return (f"{s['added']} added, {s['changed']} changed, {s['removed']} removed, "
            f"{plural(s['unchanged'], 'unchanged instance')}; {plural(s['objects'], 'object')} touched")


def _object_lines(objects: list[ObjectDiff]) -> list[str]:
    lines = []
    for obj in objects:
        lines.append(f"    {_SIGN[obj.change]} {obj.file}  {obj.object}")
        for change in obj.fields:
            lines.extend("        " + line for line in format_change(change, text_blocks=True))
    return lines


def render_text(fd: FleetDiff, *, max_lines: int | None = None) -> str:
    """The diff for people: per instance, per object, per field."""
    lines = [f"Rendered diff: {revision_title(fd.revision)} -> working tree"]
    if fd.revision and fd.revision.get("templates") == "current":
        lines.append("(the base is rendered with the current templates: the repository has none of its own)")
    for entry in fd.instances:
        lines.append("")
        lines.append(f"{_SIGN[entry.change]} {entry.name}: {entry.change} ({describe_placement(entry)})")
        lines.extend(_object_lines(entry.objects))
    if fd.fleet_files:
        lines += ["", "~ fleet-wide files"]
        lines.extend(_object_lines(fd.fleet_files))
    lines += ["", summary_line(fd)]
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max(1, max_lines - 2)]
        lines = kept + [f"... {len(lines) - len(kept) - 1} more lines: run 'fleet diff' to see them all", lines[-1]]
    return "\n".join(lines) + "\n"


def rendered_diff(paths, revision, names=(), jobs: int = 1) -> FleetDiff:
    """Render the fleet at `revision` (a vcs.Revision) and in the working tree, and compare them."""
    current = fleet_mod.generate(paths, (), jobs=jobs)
    with vcs.fleet_at(paths, revision) as (old_paths, origin):
        old = fleet_mod.generate(old_paths, (), jobs=jobs)
    return diff_fleets(old.files, current.files, names, origin)
