"""JSON Schema validation of instance and fleet files, as positioned diagnostics.

The validator is jsonschema-rs: fast enough to check a thousand files in a
fraction of a second, and its regular expressions anchor `$` at the very end
(Python's `re` lets "cbi\\n" through `^[a-z0-9]+$`).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import jsonschema_rs

from . import nofollow
from .errors import Diagnostic, FleetError
from .sources import Document

INSTANCE_SCHEMA = "instance.schema.json"
FLEET_SCHEMA = "fleet.schema.json"

_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "null",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the string {value!r}"


class Validator:
    """One compiled schema plus the raw documents, to look up hints by schema path."""

    def __init__(self, name: str, raw: dict, documents: dict[str, dict]):
        self.name = name
        self.raw = raw
        self._documents = [raw] + [d for d in documents.values() if d is not raw]
        self._compiled = jsonschema_rs.Draft202012Validator(raw, retriever=lambda uri: documents[uri])

    def is_valid(self, data: Any) -> bool:
        return self._compiled.is_valid(data)

    def iter_errors(self, data: Any):
        return self._compiled.iter_errors(data)

    @cached_property
    def keys_by_location(self) -> dict[tuple[str, ...], frozenset[str]]:
        """Every mapping of the schema that names its keys, by location ('[]' for a list's items):
        where a key placed in the wrong section belongs."""
        found: dict[tuple[str, ...], set[str]] = {}

        def walk(node, doc, path: tuple[str, ...], seen: frozenset) -> None:
            if not isinstance(node, dict) or len(path) > 8:
                return
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                target, target_doc = self._resolve(ref, doc)
                walk(target, target_doc, path, seen | {ref})
            props = node.get("properties")
            if isinstance(props, dict):
                found.setdefault(path, set()).update(props)
                for name, sub in props.items():
                    walk(sub, doc, (*path, name), seen)
            if isinstance(node.get("items"), dict):
                walk(node["items"], doc, (*path, "[]"), seen)
            for combined in ("allOf", "anyOf", "oneOf"):
                for sub in node.get(combined) or ():
                    walk(sub, doc, path, seen)

        walk(self.raw, self.raw, (), frozenset())
        return {loc: frozenset(names) for loc, names in found.items()}

    def _resolve(self, ref: str, doc: dict) -> tuple[Any, dict]:
        """A $ref's target: '#/...' in `doc`, 'name.json#/...' in the document whose $id ends with it."""
        where, _, pointer = ref.partition("#")
        if where:
            doc = next((d for d in self._documents if str(d.get("$id", "")).endswith("/" + where)), None)
            if doc is None:
                return None, {}
        node: Any = doc
        for part in (p for p in pointer.split("/") if p):
            node = node.get(part) if isinstance(node, dict) else None
        return node, doc

    def subschema(self, path) -> dict:
        """The schema object at `path` (a schema_path), searching the referenced documents too."""
        for doc in self._documents:
            node: Any = doc
            try:
                for part in path:
                    node = node[part]
            except (KeyError, IndexError, TypeError):
                continue
            if isinstance(node, dict):
                return node
        return {}


class Schemas:
    """The project's schemas, loaded once; cross-file $refs resolve by $id."""

    def __init__(self, directory: str):
        links = nofollow.links_below(directory)  # a pull request can plant one
        if links:
            raise FleetError(links)
        self.directory = directory
        self._raw: dict[str, dict] = {}
        for name in (INSTANCE_SCHEMA, FLEET_SCHEMA):
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                self._raw[name] = json.load(fh)
        by_id = {schema["$id"]: schema for schema in self._raw.values()}
        self.instance = Validator(INSTANCE_SCHEMA, self._raw[INSTANCE_SCHEMA], by_id)
        self.fleet = Validator(FLEET_SCHEMA, self._raw[FLEET_SCHEMA], by_id)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def raw(self, name: str) -> dict:
        return self._raw[name]


def validate_document(doc: Document, validator: Validator, context: str) -> list[Diagnostic]:
    """All schema errors of one document, each at the position of the offending key or value."""
    if validator.is_valid(doc.data):
        return []
    diags: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data):
        diags.extend(_to_diagnostics(doc, validator, error, context))
    return diags


def _location_text(location: tuple[str, ...]) -> str:
    return ".".join(location).replace(".[]", "[]") if location else "the top level"


def _unknown_key_hint(validator: Validator, path: tuple, key: str, known: list[str]) -> str:
    """A key the schema does not allow here: where it belongs when another section has it (top-level
    `resourcePacks` belongs under project:), else the closest key here or elsewhere, else the keys here."""
    here = tuple("[]" if isinstance(p, int) else str(p) for p in path)
    elsewhere = {loc: names for loc, names in validator.keys_by_location.items() if loc != here}
    homes = sorted(loc for loc, names in elsewhere.items() if key in names)
    if len(homes) == 1:
        home = homes[0]
        if not home:
            return f"'{key}' belongs at the top level of the file, not under {_location_text(here)}"
        move = "" if home[-1] == "[]" else ": move it there"  # an entry of a list is another kind of thing
        return f"'{key}' belongs under {_location_text(home)} ({_location_text((*home, key))}){move}"
    if homes:
        places = [_location_text(h) for h in homes]
        not_here = "at the top level" if not here else f"under {_location_text(here)}"
        return f"'{key}' belongs under {', '.join(places[:-1])} or {places[-1]}, not {not_here}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    near = difflib.get_close_matches(key, sorted({n for names in elsewhere.values() for n in names}), n=1, cutoff=0.8)
    if near and (not close or _similarity(key, near[0]) > _similarity(key, close[0])):
        home = min(loc for loc, names in elsewhere.items() if near[0] in names)
        return f"did you mean '{near[0]}'? It belongs under {_location_text(home)} ({_location_text((*home, near[0]))})"
    if close:
        return f"did you mean '{close[0]}'?"
    return f"allowed keys here: {', '.join(known)}" if known else "no keys are allowed here"


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _type_hint(names: list[str], value, hint: str) -> str:
    """The schema's hint, else the quotes to add or remove to give the value the expected type."""
    if hint:
        return hint
    if "string" in names and value is not None and not isinstance(value, (dict, list)):
        return f"quote it to make it a string: \"{value}\""
    if isinstance(value, str) and ("integer" in names or "number" in names) and value.strip().lstrip("-").isdigit():
        return f"remove the quotes: {value.strip()}"
    return ""


def _to_diagnostics(doc: Document, validator: Validator, error, context: str) -> Iterable[Diagnostic]:
    path = tuple(error.instance_path)
    schema_path = list(error.schema_path)
    kind = error.kind
    name = kind.name
    parent = validator.subschema(schema_path[:-1])
    hint = parent.get("x-hint", "")
    ctx = (context,) if context else ()
    value = error.instance

    if name == "additionalProperties":
        known = sorted((parent.get("properties") or {}).keys())
        for key in kind.unexpected:
            tip = _unknown_key_hint(validator, path, key, known)
            yield doc.diagnostic(path + (key,), f"unknown key '{key}'", key=True, hint=tip, context=ctx)
        return
    if name == "required":
        missing = kind.property
        sub = (parent.get("properties") or {}).get(missing, {})
        tip = sub.get("x-hint") or sub.get("description") or ""
        where = "at the top of the file" if not path else "here"
        yield doc.diagnostic(path, f"missing required key '{missing}' {where}", key=bool(path), hint=tip, context=ctx)
        return
    if name == "type":
        names = list(kind.types)
        want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        yield doc.diagnostic(path, f"expected {want}, found {_describe(value)}", hint=_type_hint(names, value, hint),
                             context=ctx)
        return
    if name == "enum":
        options = [str(o) for o in kind.options]
        close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.5)
        if len(options) <= 6:
            message = f"{_describe(value)} is not one of: {', '.join(options)}"
            tip = f"did you mean '{close[0]}'?" if close else hint
        else:
            message = f"{_describe(value)} is not a known value"
            tip = f"did you mean '{close[0]}'?" if close else f"see the list in schemas/{INSTANCE_SCHEMA} ($defs)"
        yield doc.diagnostic(path, message, hint=tip, context=ctx)
        return
    if name == "pattern":
        yield doc.diagnostic(path, f"{_describe(value)} is not in the expected format",
                             hint=hint or f"must match {kind.pattern}", context=ctx)
        return
    if name in ("oneOf", "anyOf"):
        yield doc.diagnostic(path, "this entry does not have the expected shape",
                             hint=hint or error.message, context=ctx)
        return
    if name == "uniqueItems":
        seen, dups = set(), []
        for item in value:
            marker = json.dumps(item, sort_keys=True)
            if marker in seen:
                dups.append(item)
            seen.add(marker)
        yield doc.diagnostic(path, f"duplicate entries: {', '.join(map(str, dups))}",
                             hint="list each entry once", context=ctx)
        return
    if name in ("minItems", "minProperties") and not value:
        yield doc.diagnostic(path, "must not be empty", hint=hint, context=ctx)
        return
    if name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        limit = kind.limit
        words = {"minimum": "less than the minimum of", "maximum": "greater than the maximum of",
                 "exclusiveMinimum": "less than or equal to the minimum of",
                 "exclusiveMaximum": "greater than or equal to the maximum of"}[name]
        yield doc.diagnostic(path, f"{value} is {words} {limit}", hint=hint or parent.get("description", ""),
                             context=ctx)
        return
    if name == "propertyNames":
        yield doc.diagnostic(path, f"a key here is not in the expected format: {error.message}", hint=hint, context=ctx)
        return
    yield doc.diagnostic(path, error.message, hint=hint, context=ctx)
