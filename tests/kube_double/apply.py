"""Server-side apply as kube-apiserver does it, for the object shapes jenkins-fleet generates.

Field ownership (managedFields, FieldsV1), conflicts with other managers (a field set to another
value than the one another manager set: 409 with one cause per field, the message of
k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go), force, the removal of fields a
manager stopped applying when nobody else owns them. Maps merge key by key, the list-maps of
resources.LIST_MAP_KEYS merge item by item, every other list is atomic.
"""

from __future__ import annotations

import copy
import json

from .resources import list_keys

# A path is a tuple of segments: ("f", key) for a map key, ("k", ((key, value), ...)) for a list-map item.
Path = tuple


def leaves(obj, path: Path = (), names: tuple = ()) -> dict[Path, object]:
    """Every field the object sets, as path -> value (maps recurse, list-map items recurse, others are leaves).
    A list-map item also owns its own path (value: the item's key)."""
    out: dict[Path, object] = {}
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            p = path + (("f", key),)
            if isinstance(value, dict) and value:
                out.update(leaves(value, p, names + (key,)))
            elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value) \
                    and list_keys(names, key, value):
                keys = list_keys(names, key, value)
                for item in value:
                    ip = p + (("k", item_key(item, keys)),)
                    out[ip] = None
                    out.update(leaves(item, ip, names + (key,)))
            else:
                out[p] = value
    return out


def item_key(item: dict, keys: tuple[str, ...]) -> tuple:
    return tuple((k, item.get(k, "TCP" if k == "protocol" else None)) for k in keys)


def lookup(obj, path: Path):
    """The value at `path`, or a sentinel when absent."""
    for kind, seg in path:
        if kind == "f":
            if not isinstance(obj, dict) or seg not in obj:
                return MISSING
            obj = obj[seg]
        else:
            if not isinstance(obj, list):
                return MISSING
            obj = next((i for i in obj if isinstance(i, dict) and item_key(i, tuple(k for k, _ in seg)) == seg),
                       MISSING)
            if obj is MISSING:
                return MISSING
    return obj


class _Missing:
    def __repr__(self):
        return "MISSING"


MISSING = _Missing()


def path_string(path: Path) -> str:
    """fieldpath.Path.String(): .spec.template.spec.containers[name="jenkins"].image"""
    out = ""
    for kind, seg in path:
        if kind == "f":
            out += f".{seg}"
        else:
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in seg) + "]"
    return out


def fields_v1(paths) -> dict:
    """The FieldsV1 JSON of a set of paths."""
    root: dict = {}
    for path in sorted(paths, key=lambda p: json.dumps(p)):
        node = root
        for kind, seg in path:
            name = f"f:{seg}" if kind == "f" else "k:" + json.dumps(dict(seg), separators=(",", ":"), sort_keys=True)
            node = node.setdefault(name, {})
            if kind == "k":
                node.setdefault(".", {})
    return root


def merge(live, applied, names: tuple = ()):
    """The applied configuration merged over the live object."""
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for key, value in applied.items():
            if key in live:
                out[key] = _merge_field(live[key], value, names + (key,), key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(applied)


def _merge_field(live, applied, names, key):
    if isinstance(live, dict) and isinstance(applied, dict):
        return merge(live, applied, names)
    if isinstance(live, list) and isinstance(applied, list) and applied and all(isinstance(i, dict) for i in applied) \
            and list_keys(names[:-1], key, applied):
        keys = list_keys(names[:-1], key, applied)
        by_key = {item_key(i, keys): i for i in live if isinstance(i, dict)}
        out = []
        for item in applied:
            k = item_key(item, keys)
            out.append(merge(by_key.pop(k), item, names) if k in by_key else copy.deepcopy(item))
        out.extend(i for i in live if isinstance(i, dict) and item_key(i, keys) in by_key)
        return out
    return copy.deepcopy(applied)


def remove(obj, path: Path) -> None:
    """Delete the field (or list item) at `path`; empty maps left behind are removed too."""
    parents = []
    node = obj
    for kind, seg in path[:-1]:
        parents.append(node)
        node = lookup(node, ((kind, seg),))
        if node is MISSING:
            return
    kind, seg = path[-1]
    if kind == "f" and isinstance(node, dict):
        node.pop(seg, None)
    elif kind == "k" and isinstance(node, list):
        node[:] = [i for i in node if not (isinstance(i, dict) and item_key(i, tuple(k for k, _ in seg)) == seg)]
    for depth in range(len(path) - 2, -1, -1):  # prune emptied maps, innermost first
        parent = lookup(obj, path[:depth]) if depth else obj
        child_seg = path[depth]
        child = lookup(parent, (child_seg,))
        if child_seg[0] == "f" and isinstance(child, dict) and not child and isinstance(parent, dict):
            parent.pop(child_seg[1], None)
        else:
            break


def conflict_manager_text(manager: dict) -> str:
    """printManager(): "name", plus `using <apiVersion>` for an Update manager (time is not part of the
    manager's identity, so it is never printed here)."""
    text = json.dumps(manager["manager"])
    if manager.get("subresource"):
        text += f" with subresource {json.dumps(manager['subresource'])}"
    if manager["operation"] == "Update":
        text += f" using {manager['apiVersion']}"
    return text


def conflict_status(conflicts: list[tuple[dict, Path]]) -> dict:
    """The 409 Status of NewApplyConflict: one cause per field, the message grouped by manager."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {conflict_manager_text(m)}",
               "field": path_string(p)} for m, p in conflicts]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {conflict_manager_text(m)}: {path_string(p)}"
    else:
        grouped: dict[str, list[str]] = {}
        for m, p in conflicts:
            grouped.setdefault(conflict_manager_text(m), []).append(path_string(p))
        lines = []
        for name in sorted(grouped):
            lines.append(f"conflicts with {name}:")
            lines.extend(f"- {p}" for p in grouped[name])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "Conflict", "details": {"causes": causes}, "code": 409}


IGNORED_TOP = ("apiVersion", "kind", "status")


def owned_leaves(obj: dict) -> dict[Path, object]:
    """The fields an apply of `obj` claims (not apiVersion, kind, name, namespace, status)."""
    body = {k: v for k, v in obj.items() if k not in IGNORED_TOP}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in ("name", "namespace")}
    if meta:
        body["metadata"] = meta
    else:
        body.pop("metadata", None)
    return leaves(body)
