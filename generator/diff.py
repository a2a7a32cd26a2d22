"""Structural diffs: of two parsed YAML/JSON values, and of two rendered fleets.

One walker serves two modes:

- FULL (`fleet diff`, `fleet check`): symmetric; a key or item on either side
  counts, scalars compare strictly (`"10"` is not `10`: in a manifest that matters).
- MANAGED (`fleet push`, through generator/jcasc_diff.py): only what the desired
  side sets counts (JCasC is not stateful), scalars are normalised as Jenkins
  exports them, `${VARIABLES}` are not compared (Jenkins exports them resolved or
  encrypted). Only a genuine variable is skipped: `^${` is JCasC's escape for a
  literal `${` (every value of an instance file is generated escaped), and the
  export escapes literals the same way, so escaped values compare as text.

Paths read like `spec.hard["requests.cpu"]` or
`jenkins.clouds[kubernetes].templates[basic].containers[jnlp].image`: lists of
named things are matched by name, not by position. Secret-looking values are
always shown as <secret>.

The fleet part compares the generated files of two renderings (the tree of a
git revision and the working tree) instance by instance and object by object.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field

import yaml

from . import yamlout
from .names import select_names

# Keys holding secrets (managerPasswordSecret, privateKey, token...); not secretName, a Kubernetes object's name.
SECRET_KEY = re.compile(r"(password|passphrase|privatekey|token|^secret$|secret$)", re.IGNORECASE)
ENCRYPTED = re.compile(r"^\{[A-Za-z0-9+/=]{16,}\}$")
REDACTED = "<secret>"
# model.json maps keyed by plugin id, not by setting name: "token-macro" names a plugin, not a token.
ID_KEYED = ("jenkins.installedPlugins", "jenkins.pluginProvenance", "jenkins.pluginChecksums")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


# --- values -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed | items (a list of scalars: old = items gone, new = items added)
    path: str
    old: object = None
    new: object = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Mode:
    symmetric: bool  # keys and items only on the old side are changes too
    normalise: bool  # "10" == 10, true == "true" (what a Jenkins export looks like)
    skip_placeholders: bool  # ${VAR} in the new side: not compared, listed in `skipped`
    identity_keys: tuple[str, ...]  # what names a list item, in order of preference


FULL = Mode(symmetric=True, normalise=False, skip_placeholders=False, identity_keys=("name", "type"))
MANAGED = Mode(symmetric=False, normalise=True, skip_placeholders=True, identity_keys=("name",))


@dataclass(frozen=True)
class ValueDiff:
    changes: tuple[Change, ...]
    skipped: tuple[str, ...]  # paths not compared (MANAGED: ${VAR} values)


def diff_values(old, new, mode: Mode = FULL) -> ValueDiff:
    """What turns `old` into `new`, change by change, in the order of `new`."""
    walker = _Walker(mode)
    walker.value(old, new, "", False)
    return ValueDiff(tuple(walker.changes), tuple(walker.skipped))


def join(path: str, key) -> str:
    key = str(key)
    if _BARE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


# A JCasC variable: `${...}` not escaped by `^` (commons-text StringSubstitutor with escape char '^', as
# configuration-as-code's SecretSourceResolver sets it up; the export writes a literal `${` as `^${`
# through SecretSourceResolver.encode, ConfigurationAsCode plugin at 2117.vc05a_0b_e6b_f4e).
_VARIABLE = re.compile(r"(?<!\^)\$\{[^}]*\}")


def _is_placeholder(value) -> bool:
    return isinstance(value, str) and "${" in value and _VARIABLE.search(value) is not None


def _norm(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def _strict(value):
    return (type(value).__name__, value)


def _id_keyed(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in ID_KEYED)


def redact(value, secret: bool = False, ids: bool = False):
    """ids: the keys of this value (and below) are plugin ids, never a hint that the value is secret."""
    if isinstance(value, dict):
        return {k: redact(v, secret or (not ids and bool(SECRET_KEY.search(str(k)))), ids) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret, ids) for v in value]
    if isinstance(value, str) and (ENCRYPTED.match(value) or (secret and value and not _is_placeholder(value))):
        return REDACTED
    return value


class _Walker:
    def __init__(self, mode: Mode):
        self.mode = mode
        self.changes: list[Change] = []
        self.skipped: list[str] = []

    def add(self, kind: str, path: str, old, new, secret: bool) -> None:
        ids = _id_keyed(path)
        self.changes.append(Change(kind, path, redact(old, secret, ids), redact(new, secret, ids)))

    def same(self, old, new) -> bool:
        """Two scalars."""
        return _norm(old) == _norm(new) if self.mode.normalise else _strict(old) == _strict(new)

    def value(self, old, new, path: str, secret: bool) -> None:
        if isinstance(new, dict):
            if not isinstance(old, dict):
                self.add("changed", path, old, new, secret)
                return
            self.mapping(old, new, path, secret)
            return
        if isinstance(new, list):
            if not isinstance(old, list):
                self.add("changed", path, old, new, secret)
                return
            self.sequence(old, new, path, secret)
            return
        if self.mode.skip_placeholders and _is_placeholder(new):
            self.skipped.append(path)
            return
        if isinstance(old, (dict, list)) or not self.same(old, new):
            self.add("changed", path, old, new, secret)

    def mapping(self, old: dict, new: dict, path: str, secret: bool) -> None:
        ids = _id_keyed(path)
        for key, value in new.items():
            child_secret = secret or (not ids and bool(SECRET_KEY.search(str(key))))
            p = join(path, key)
            if key not in old:
                if self.mode.skip_placeholders and _is_placeholder(value):
                    self.skipped.append(p)
                else:
                    self.add("added", p, None, value, child_secret)
                continue
            self.value(old[key], value, p, child_secret)
        if self.mode.symmetric:
            for key, value in old.items():
                if key not in new:
                    self.add("removed", join(path, key), value, None,
                             secret or (not ids and bool(SECRET_KEY.search(str(key)))))

    def identity(self, item) -> str | None:
        if not isinstance(item, dict):
            return None
        for key in self.mode.identity_keys:
            if isinstance(item.get(key), str):
                return item[key]
        if len(item) == 1:  # {group: {name: admins, ...}}, {kubernetes: {name: kubernetes, ...}}
            kind, inner = next(iter(item.items()))
            if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                return kind if inner["name"] == kind else f"{kind} {inner['name']}"
        return None

    def keyed(self, items: list) -> dict[str, object] | None:
        ids = [self.identity(i) for i in items]
        if not items or None in ids or len(set(ids)) != len(ids):
            return None
        return dict(zip(ids, items))

    def sequence(self, old: list, new: list, path: str, secret: bool) -> None:
        if not old and not new:
            return
        new_keyed, old_keyed = self.keyed(new), self.keyed(old)
        if (new_keyed is not None or (self.mode.symmetric and not new)) and (old_keyed is not None or not old):
            self.named_items(old_keyed or {}, new_keyed or {}, path, secret)
        elif all(not isinstance(v, (dict, list)) for v in new + old):
            self.scalar_items(old, new, path, secret)
        else:
            self.unnamed_items(old, new, path, secret)

    def named_items(self, old: dict, new: dict, path: str, secret: bool) -> None:
        for ident, item in new.items():
            p = f"{path}[{ident}]"
            if ident not in old:
                self.add("added", p, None, item, secret)
                continue
            n, o = item, old[ident]
            if len(n) == 1 and not any(k in n for k in self.mode.identity_keys) and isinstance(o, dict) \
                    and set(o) == set(n):
                n, o = next(iter(n.values())), next(iter(o.values()))  # {group: {name: x}}: compare the inside
            self.value(o, n, p, secret)
        for ident, item in old.items():
            if ident not in new:
                self.add("removed", f"{path}[{ident}]", item, None, secret)

    def scalar_items(self, old: list, new: list, path: str, secret: bool) -> None:
        if self.mode.normalise:  # as sets: Jenkins sorts permissions and labels its own way
            if self.mode.skip_placeholders and any(_is_placeholder(v) for v in new):
                self.skipped.append(path)
                return
            if sorted(map(_norm, new)) != sorted(map(_norm, old)):
                gone = sorted({_norm(v) for v in old} - {_norm(v) for v in new})
                added = sorted({_norm(v) for v in new} - {_norm(v) for v in old})
                self.add("changed", path, gone or old, added or new, secret)
            return
        if [_strict(v) for v in old] == [_strict(v) for v in new]:
            return
        count_old, count_new = Counter(map(_strict, old)), Counter(map(_strict, new))
        if count_old == count_new:
            self.add("changed", path, old, new, secret)  # the same items, in another order
            return
        self.add("items", path, _excess(old, count_new), _excess(new, count_old), secret)

    def unnamed_items(self, old: list, new: list, path: str, secret: bool) -> None:
        unmatched = list(range(len(old)))
        leftover: list[int] = []
        for i, item in enumerate(new):
            match = next((j for j in unmatched if self.matches(old[j], item)), None)
            if match is None:
                leftover.append(i)
                continue
            unmatched.remove(match)
            if self.mode.skip_placeholders:  # equal, but record what was not compared
                probe = _Walker(self.mode)
                probe.value(old[match], item, f"{path}[{i}]", secret)
                self.skipped.extend(probe.skipped)
        if self.mode.symmetric:  # what is left pairs up by position: show fields, not whole items
            for i, j in zip(list(leftover), list(unmatched)):
                self.value(old[j], new[i], f"{path}[{i}]", secret)
                leftover.remove(i)
                unmatched.remove(j)
        for i in leftover:
            self.add("added", f"{path}[{i}]", None, new[i], secret)
        for j in unmatched:
            self.add("removed", f"{path}[{j}]", old[j], None, secret)

    def matches(self, old, new) -> bool:
        probe = _Walker(self.mode)
        probe.value(old, new, "", False)
        return not probe.changes


def _excess(items: list, other: Counter) -> list:
    """The items of `items` beyond those counted in `other`, in their order."""
    left = Counter(other)
    out = []
    for v in items:
        key = _strict(v)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(v)
    return out


def show(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _norm(value) or "null"


def format_change(change: Change, *, text_blocks: bool = False) -> list[str]:
    """Readable lines for one change: ~ path: old -> new, + path: value, - path: value.

    With text_blocks, a changed multi-line string is shown as the lines that differ.
    """
    if not change.path:  # the whole document
        change = Change(change.kind, "(document)", change.old, change.new)
    if change.kind == "items":
        parts = [f"-{show(v)}" for v in change.old] + [f"+{show(v)}" for v in change.new]
        return [f"~ {change.path}: {' '.join(parts)}"]
    if change.kind == "changed":
        if text_blocks and isinstance(change.old, str) and isinstance(change.new, str) \
                and ("\n" in change.old or "\n" in change.new):
            body = difflib.unified_diff(change.old.splitlines(), change.new.splitlines(), lineterm="", n=0)
            return [f"~ {change.path}: text"] + [f"    {line}" for line in body
                                                 if not line.startswith(("---", "+++", "@@"))]
        return [f"~ {change.path}: {show(change.old)} -> {show(change.new)}"]
    sign, value = ("+", change.new) if change.kind == "added" else ("-", change.old)
    inline = show(value)
    if not isinstance(value, (dict, list)) or len(inline) <= 100:
        return [f"{sign} {change.path}: {inline}"]
    block = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True,
                           width=1 << 16).rstrip("\n").splitlines()
    return [f"{sign} {change.path}:"] + [f"{sign}     {line}" for line in block]


# --- rendered fleets ----------------------------------------------------------------------------

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
            return yamlout.load(text)
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
            f"{s['unchanged']} unchanged instance{'s' * (s['unchanged'] != 1)}; "
            f"{s['objects']} object{'s' * (s['objects'] != 1)} touched")


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
    from . import fleet as fleet_mod
    from . import vcs
    current = fleet_mod.generate(paths, (), jobs=jobs)
    with vcs.fleet_at(paths, revision) as (old_paths, origin):
        old = fleet_mod.generate(old_paths, (), jobs=jobs)
    return diff_fleets(old.files, current.files, names, origin)
