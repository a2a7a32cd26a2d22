"""Structural diff of two parsed YAML/JSON values, change by change.

One walker serves two modes:

- FULL (`fleet diff`, `fleet check`, `fleet deploy --diff`): symmetric; a key or item on either
  side counts, scalars compare strictly (`"10"` is not `10`: in a manifest that matters).
- MANAGED (`fleet push`: managed_diff): only what the desired side sets counts (JCasC is not
  stateful), scalars are normalised as Jenkins exports them, `${VARIABLES}` are not compared
  (Jenkins exports them resolved or encrypted). Only a genuine variable is skipped: `^${` is
  JCasC's escape for a literal `${` (every value of an instance file is generated escaped), and
  the export escapes literals the same way, so escaped values compare as text.

Paths read like `spec.hard["requests.cpu"]` or
`jenkins.clouds[kubernetes].templates[basic].containers[jnlp].image`: lists of
named things are matched by name, not by position. Secret-looking values are
always shown as <secret>.

The fleet-level diff of two renderings is generator/rendered_diff.py.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass

import yaml

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
    skip_placeholders: bool  # ${VAR} in the new side: not compared, listed in `not_compared`
    identity_keys: tuple[str, ...]  # what names a list item, in order of preference


FULL = Mode(symmetric=True, normalise=False, skip_placeholders=False, identity_keys=("name", "type"))
MANAGED = Mode(symmetric=False, normalise=True, skip_placeholders=True, identity_keys=("name",))


@dataclass(frozen=True)
class ValueDiff:
    changes: tuple[Change, ...]
    not_compared: tuple[str, ...]  # paths not compared (MANAGED: ${VAR} values)


def diff_values(old, new, mode: Mode = FULL) -> ValueDiff:
    """What turns `old` into `new`, change by change, in the order of `new`."""
    walker = _Walker(mode)
    walker.value(old, new, "", False)
    return ValueDiff(tuple(walker.changes), tuple(walker.not_compared))


def join(path: str, key) -> str:
    key = str(key)
    if _BARE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


# A JCasC variable: `${...}` not escaped by `^` (commons-text StringSubstitutor with escape char '^', as
# configuration-as-code's SecretSourceResolver sets it up; the export writes a literal `${` as `^${`
# through SecretSourceResolver.encode, ConfigurationAsCode plugin at 2117.vc05a_0b_e6b_f4e).
_VARIABLE_START = re.compile(r"(?<!\^)\$\{")


def _is_placeholder(value) -> bool:
    """Whether `value` holds a variable: an unescaped `${` with a `}` after it. Not one regular
    expression: `[$][{][^}]*[}]` searched a long run of `${` without a `}` in quadratic time."""
    if not isinstance(value, str) or "${" not in value:
        return False
    start = _VARIABLE_START.search(value)
    return start is not None and value.find("}", start.end()) >= 0


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
        self.not_compared: list[str] = []

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
            self.not_compared.append(path)
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
                    self.not_compared.append(p)
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
        return dict(zip(ids, items, strict=True))

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
                self.not_compared.append(path)
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
                self.not_compared.extend(probe.not_compared)
        if self.mode.symmetric:  # what is left pairs up by position: show fields, not whole items
            # strict=False: the surplus of the longer side is reported as added or removed below
            for i, j in zip(list(leftover), list(unmatched), strict=False):
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


def managed_diff(desired: dict, live: dict) -> ValueDiff:
    """What applying `desired` would change in `live` (a controller's JCasC export), for the keys
    `desired` sets (JCasC is not stateful: keys we do not set are not ours). Maps compare by key,
    lists of named items by name, lists of scalars as sets, scalars after normalisation ("10" == 10);
    `not_compared` lists the ${VAR} values, which Jenkins only shows resolved or encrypted."""
    return diff_values(live if isinstance(live, dict) else {}, desired, MANAGED)
