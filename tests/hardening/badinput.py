"""Support for the bad-input fuzz suite: where each value sits, what the schema says of it, and an
oracle that decides, independently of generator/, whether a mutated file must be rejected.

The oracle parses with the same libyaml the generator uses (a YAML file libyaml accepts is not
bad input), then applies the documented strictness rules with its own code (no aliases, no
duplicate or non-string keys, no tags, finite numbers within 64 bits, at most 64 levels) and
validates with the `jsonschema` package rather than jsonschema-rs.  A mutation the oracle
cannot prove invalid is discarded, never counted as a pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass

import jsonschema
import yaml
from fleettest import ROOT
from referencing import Registry, Resource

SCHEMAS = os.path.join(ROOT, "schemas")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DataLoader(_LOADER):
    """libyaml, keeping dates as the strings they were written as (as the generator does)."""


_DataLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
MAX_BYTES = 1024 * 1024  # documented in README: files over 1 MiB are refused
MAX_DEPTH = 64
OVERRIDE_SHAPE = "override shape"
JCASC_ROOTS = {"jenkins", "credentials", "unclassified", "tool", "security", "appearance"}
_STD_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")}


def _load_schema(name: str) -> dict:
    with open(os.path.join(SCHEMAS, name), encoding="utf-8") as fh:
        return json.load(fh)


INSTANCE_SCHEMA = _load_schema("instance.schema.json")
FLEET_SCHEMA = _load_schema("fleet.schema.json")
_BY_NAME = {"instance.schema.json": INSTANCE_SCHEMA, "fleet.schema.json": FLEET_SCHEMA}
_REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in _BY_NAME.values()])
VALIDATORS = {kind: jsonschema.Draft202012Validator(schema, registry=_REGISTRY)
              for kind, schema in (("instance", INSTANCE_SCHEMA), ("fleet", FLEET_SCHEMA))}


# --- the schema at a path ----------------------------------------------------------------------

def _resolve(doc: dict, schema: dict) -> tuple[dict, dict]:
    while isinstance(schema, dict) and "$ref" in schema:
        target, _, pointer = schema["$ref"].partition("#")
        if target:
            doc = _BY_NAME[target.rsplit("/", 1)[-1]]
        node = doc
        for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
            node = node[part]
        schema = node
    return doc, schema


def schema_at(kind: str, path: tuple) -> dict | None:
    """The (resolved) subschema for `path` in an instance or fleet file; None where it is open."""
    doc = INSTANCE_SCHEMA if kind == "instance" else FLEET_SCHEMA
    doc, schema = _resolve(doc, doc)
    for part in path:
        if isinstance(part, int):
            nxt = schema.get("items")
        else:
            nxt = (schema.get("properties") or {}).get(part)
            if nxt is None and isinstance(schema.get("additionalProperties"), dict):
                nxt = schema["additionalProperties"]
        if not isinstance(nxt, dict):
            return None
        doc, schema = _resolve(doc, nxt)
    return schema


def walk(data, path: tuple = ()):
    """Every (path, value) of a JSON-like document, the root first."""
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from walk(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from walk(v, path + (i,))


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_ok(schema: dict, value) -> bool:
    """Whether `value` passes the schema's type/enum alone."""
    if "enum" in schema:
        return value in schema["enum"]
    types = schema.get("type")
    if types is None:
        return True
    types = [types] if isinstance(types, str) else types
    t = json_type(value)
    return t in types or (t == "integer" and "number" in types)


def constrained(schema: dict | None) -> bool:
    """A scalar whose text matters: a pattern, an enum, a number or a boolean."""
    if not schema:
        return False
    types = schema.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    return "pattern" in schema or "enum" in schema or bool({"integer", "number", "boolean"} & set(types))


# --- where values are written ------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the text
    end: int
    line: int  # 0-based line of the start
    column: int
    single_line: bool
    flow_parent: bool  # the value sits in a flow collection ({...} or [...])
    key_start: int = -1  # for mapping values: where the key starts
    key_column: int = -1
    is_scalar: bool = True
    plain: bool = False  # an unquoted scalar


def spans(text: str) -> dict[tuple, Span]:
    """path -> where its value is written (libyaml marks; aliases and tags are not followed)."""
    node = yaml.compose(text, Loader=_LOADER)
    out: dict[tuple, Span] = {}
    seen: set[int] = set()

    def visit(n, path, flow, key=None):
        if id(n) in seen:
            return
        seen.add(id(n))
        s, e = n.start_mark, n.end_mark
        out[path] = Span(s.index, e.index, s.line, s.column, s.line == e.line, flow,
                         key.start_mark.index if key is not None else -1,
                         key.start_mark.column if key is not None else -1,
                         isinstance(n, yaml.ScalarNode),
                         isinstance(n, yaml.ScalarNode) and n.style is None)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode):
                    visit(v, path + (k.value,), bool(n.flow_style), k)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                visit(v, path + (i,), bool(n.flow_style))

    if node is not None:
        visit(node, (), False)
    return out


# --- the oracle ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    reject: bool
    why: str


def _strictness(node) -> str:
    """The first documented strictness rule `node` breaks, or ''."""
    seen: set[int] = set()
    stack = [(node, 0)]
    while stack:
        n, depth = stack.pop()
        if id(n) in seen:
            return "alias"
        seen.add(id(n))
        if n.tag not in _STD_TAGS:
            return f"tag {n.tag}"
        if isinstance(n, (yaml.MappingNode, yaml.SequenceNode)):
            if depth >= MAX_DEPTH:
                return "too deep"
            if isinstance(n, yaml.MappingNode):
                if n.tag != "tag:yaml.org,2002:map":
                    return f"tag {n.tag}"
                keys = set()
                for k, v in n.value:
                    if not isinstance(k, yaml.ScalarNode) or k.tag != "tag:yaml.org,2002:str":
                        return "non-string key"
                    if k.value in keys:
                        return f"duplicate key {k.value!r}"
                    keys.add(k.value)
                    stack.append((v, depth + 1))
            else:
                if n.tag != "tag:yaml.org,2002:seq":
                    return f"tag {n.tag}"
                stack.extend((v, depth + 1) for v in n.value)
        elif n.tag in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            return f"tag {n.tag} on a scalar"
    return ""


def _numbers_ok(data) -> str:
    for _, v in walk(data):
        if isinstance(v, float) and not math.isfinite(v):
            return "non-finite number"
        if isinstance(v, int) and not isinstance(v, bool) and not -2 ** 63 <= v < 2 ** 63:
            return "number out of range"
    return ""


def parse_verdict(raw: bytes) -> tuple[Verdict | None, object]:
    """A rejection for reasons of encoding, size or YAML alone, else (None, data)."""
    if len(raw) > MAX_BYTES:
        return Verdict(True, "too large"), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(True, "not UTF-8"), None
    text = text.removeprefix("\ufeff")
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        return Verdict(True, f"YAML: {str(exc).splitlines()[0]}"), None
    except RecursionError:
        return Verdict(True, "YAML: too deep"), None
    if node is None:
        return Verdict(True, "empty"), None
    why = _strictness(node)
    if why:
        return Verdict(True, why), None
    try:
        data = yaml.load(text, Loader=_DataLoader)
    except (yaml.YAMLError, ValueError, KeyError, IndexError) as exc:
        return Verdict(True, f"value: {type(exc).__name__}"), None
    why = _numbers_ok(data)
    if why:
        return Verdict(True, why), None
    return None, data


def verdict(kind: str, raw: bytes, directory: str | None = None) -> Verdict:
    """Must this file (kind: instance | fleet | override) be rejected?  `directory`: the instance's."""
    early, data = parse_verdict(raw)
    if early is not None:
        return early
    if kind == "override":
        if not isinstance(data, dict):
            return Verdict(True, f"{OVERRIDE_SHAPE}: not a mapping")
        unknown = set(data) - JCASC_ROOTS
        return Verdict(bool(unknown), f"{OVERRIDE_SHAPE}: unknown JCasC roots {sorted(unknown)}" if unknown else "")
    errors = sorted(VALIDATORS[kind].iter_errors(data), key=lambda e: list(e.path))
    # Python's re lets "name\n" through "^...$"; the generator's validator does not (schema.py).
    errors += [] if not isinstance(data, dict) else _trailing_newline_errors(kind, data)
    if errors:
        return Verdict(True, f"schema: {getattr(errors[0], 'message', errors[0])}"[:200])
    if kind == "instance" and directory is not None:
        full = data.get("project", {}).get("fullName")
        if full != directory:
            return Verdict(True, f"fullName {full!r} is not the directory {directory!r}")
    return Verdict(False, "")


def _trailing_newline_errors(kind: str, data: dict) -> list[str]:
    out = []
    for path, value in walk(data):
        if isinstance(value, str) and value.endswith("\n"):
            schema = schema_at(kind, path)
            if schema and "pattern" in schema:
                out.append(f"{path}: pattern with a trailing newline")
    return out


# --- trees -------------------------------------------------------------------------------------

def tree_digest(root: str) -> str:
    """sha256 over every path and file content below `root` (sorted): equal digests, equal trees."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            h.update(os.path.relpath(full, root).encode("utf-8", "surrogateescape") + b"\0")
            with open(full, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def leftovers(parent: str, name: str = "build") -> list[str]:
    """Siblings a write of `name` leaves while in progress: .<name>.tmp-*, .<name>.old-*, and a
    .<name>.spare that is not a whole tree (one being brought up to date; a whole one is the
    previous output, kept on purpose)."""
    spare = f".{name}.spare"
    return sorted(n for n in os.listdir(parent) if re.match(rf"^\.{re.escape(name)}\.(tmp|old)-", n)
                  or (n == spare and index_consistent(os.path.join(parent, n)) != ""))


def index_consistent(build: str) -> str:
    """'' when build/fleet.json lists exactly the files of the tree with their sha256, else why not."""
    try:
        with open(os.path.join(build, "fleet.json"), encoding="utf-8") as fh:
            index = json.load(fh)
    except (OSError, ValueError) as exc:
        return f"fleet.json unreadable: {exc}"
    listed = dict(index.get("fleet", {}).get("files", {}))  # fleet-level files, relative to the build
    for name, entry in index.get("instances", {}).items():
        for rel, digest in entry.get("files", {}).items():
            listed[f"{name}/{rel}"] = digest
    actual = {}
    for dirpath, _, filenames in os.walk(build):
        for f in filenames:
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, build).replace(os.sep, "/")
            if rel == "fleet.json":
                continue
            with open(full, "rb") as fh:
                actual[rel] = hashlib.sha256(fh.read()).hexdigest()
    if listed == actual:
        return ""
    missing = sorted(set(listed) - set(actual))[:5]
    extra = sorted(set(actual) - set(listed))[:5]
    wrong = sorted(p for p in set(listed) & set(actual) if listed[p] != actual[p])[:5]
    return f"index and tree differ: missing {missing}, unlisted {extra}, sha256 mismatch {wrong}"
