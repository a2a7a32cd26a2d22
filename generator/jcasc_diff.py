"""A semantic diff of the JCasC keys we manage against a controller's live export.

Only keys we set are compared; list items are matched by name; ${VARIABLES}
are skipped and secret-looking values are never shown."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

# Keys holding secrets (managerPasswordSecret, privateKey, token...); not secretName, a Kubernetes object's name.
SECRET_KEY = re.compile(r"(password|passphrase|privatekey|token|^secret$|secret$)", re.IGNORECASE)
ENCRYPTED = re.compile(r"^\{[A-Za-z0-9+/=]{16,}\}$")
REDACTED = "<secret>"


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed
    path: str
    old: object = None
    new: object = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    not_compared: tuple[str, ...]  # ${VAR} values: Jenkins only shows them resolved or encrypted


def managed_diff(desired: dict, live: dict) -> Diff:
    """What applying `desired` would change in `live`, for the keys `desired` sets (JCasC is not stateful:
    keys we do not set are not ours).  Maps compare by key, lists of named items by name, lists of
    scalars as sets, scalars after normalisation ("10" == 10)."""
    changes: list[Change] = []
    skipped: list[str] = []
    _diff(desired, live if isinstance(live, dict) else {}, "", changes, skipped, secret=False)
    return Diff(tuple(changes), tuple(skipped))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_placeholder(value) -> bool:
    return isinstance(value, str) and "${" in value


def _norm(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def _identity(item) -> str | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("name"), str):
        return item["name"]
    if len(item) == 1:
        kind, inner = next(iter(item.items()))
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return kind if inner["name"] == kind else f"{kind} {inner['name']}"
    return None


def _keyed(items: list) -> dict[str, object] | None:
    ids = [_identity(i) for i in items]
    if not items or None in ids or len(set(ids)) != len(ids):
        return None
    return dict(zip(ids, items))


def redact(value, secret: bool = False):
    if isinstance(value, dict):
        return {k: redact(v, secret or bool(SECRET_KEY.search(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    if isinstance(value, str) and (ENCRYPTED.match(value) or (secret and value and not _is_placeholder(value))):
        return REDACTED
    return value


def _diff(want, have, path, out, skipped, secret):
    if isinstance(want, dict):
        if not isinstance(have, dict):
            out.append(Change("changed", path, redact(have, secret), redact(want, secret)))
            return
        for key, value in want.items():
            child_secret = secret or bool(SECRET_KEY.search(key))
            p = _join(path, key)
            if key not in have:
                if _is_placeholder(value):
                    skipped.append(p)
                else:
                    out.append(Change("added", p, None, redact(value, child_secret)))
                continue
            _diff(value, have[key], p, out, skipped, child_secret)
        return
    if isinstance(want, list):
        if not isinstance(have, list):
            out.append(Change("changed", path, redact(have, secret), redact(want, secret)))
            return
        _diff_list(want, have, path, out, skipped, secret)
        return
    if _is_placeholder(want):
        skipped.append(path)
        return
    if isinstance(have, (dict, list)) or _norm(want) != _norm(have):
        out.append(Change("changed", path, redact(have, secret), redact(want, secret)))


def _diff_list(want, have, path, out, skipped, secret):
    want_keyed, have_keyed = _keyed(want), _keyed(have)
    if want_keyed is not None and (have_keyed is not None or not have):
        have_keyed = have_keyed or {}
        for ident, item in want_keyed.items():
            p = f"{path}[{ident}]"
            if ident not in have_keyed:
                out.append(Change("added", p, None, redact(item, secret)))
                continue
            w, h = item, have_keyed[ident]
            if len(w) == 1 and "name" not in w and isinstance(h, dict) and set(h) == set(w):
                w, h = next(iter(w.values())), next(iter(h.values()))  # {group: {name: x}}: compare the inside
            _diff(w, h, p, out, skipped, secret)
        for ident, item in have_keyed.items():
            if ident not in want_keyed:
                out.append(Change("removed", f"{path}[{ident}]", redact(item, secret), None))
        return
    if all(not isinstance(v, (dict, list)) for v in want + have):
        if any(_is_placeholder(v) for v in want):
            skipped.append(path)
            return
        if sorted(map(_norm, want)) != sorted(map(_norm, have)):
            gone = sorted({_norm(v) for v in have} - {_norm(v) for v in want})
            new = sorted({_norm(v) for v in want} - {_norm(v) for v in have})
            out.append(Change("changed", path, redact(gone or have, secret), redact(new or want, secret)))
        return
    unmatched = list(range(len(have)))
    for i, item in enumerate(want):
        match = next((j for j in unmatched if _matches(item, have[j])), None)
        if match is None:
            out.append(Change("added", f"{path}[{i}]", None, redact(item, secret)))
        else:
            unmatched.remove(match)
            _diff(item, have[match], f"{path}[{i}]", [], skipped, secret)  # to record what was not compared
    for j in unmatched:
        out.append(Change("removed", f"{path}[{j}]", redact(have[j], secret), None))


def _matches(want, have) -> bool:
    changes: list[Change] = []
    _diff(want, have, "", changes, [], False)
    return not changes


def format_change(change: Change) -> list[str]:
    """Readable lines for one change: ~ path: old -> new, + path: value, - path: value."""
    def show(value) -> str:
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _norm(value) or "null"

    if change.kind == "changed":
        return [f"~ {change.path}: {show(change.old)} -> {show(change.new)}"]
    sign, value = ("+", change.new) if change.kind == "added" else ("-", change.old)
    inline = show(value)
    if not isinstance(value, (dict, list)) or len(inline) <= 100:
        return [f"{sign} {change.path}: {inline}"]
    block = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True,
                           width=1 << 16).rstrip("\n").splitlines()
    return [f"{sign} {change.path}:"] + [f"{sign}     {line}" for line in block]
