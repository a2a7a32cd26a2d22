"""JSON Schema validation of instance and fleet files, as positioned diagnostics."""

from __future__ import annotations

import difflib
import json
import os
from functools import cached_property
from typing import Any, Iterable

import jsonschema
from referencing import Registry, Resource

from .errors import Diagnostic
from .sources import Document

INSTANCE_SCHEMA = "instance.schema.json"
FLEET_SCHEMA = "fleet.schema.json"
JCASC_SCHEMA = "jcasc.schema.json"

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


class Schemas:
    """The project's schemas, loaded once, resolvable by their relative names."""

    def __init__(self, directory: str):
        self.directory = directory
        resources = []
        self._raw: dict[str, dict] = {}
        for name in (INSTANCE_SCHEMA, FLEET_SCHEMA, JCASC_SCHEMA):
            path = os.path.join(directory, name)
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as fh:
                schema = json.load(fh)
            self._raw[name] = schema
            resources.append((schema["$id"], Resource.from_contents(schema)))
        self.registry = Registry().with_resources(resources)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def validator(self, name: str) -> jsonschema.protocols.Validator:
        cls = jsonschema.validators.validator_for(self._raw[name])
        return cls(self._raw[name], registry=self.registry, format_checker=cls.FORMAT_CHECKER)

    @cached_property
    def instance(self):
        return self.validator(INSTANCE_SCHEMA)

    @cached_property
    def fleet(self):
        return self.validator(FLEET_SCHEMA)

    @cached_property
    def jcasc(self):
        return self.validator(JCASC_SCHEMA)

    def raw(self, name: str) -> dict:
        return self._raw[name]


def validate_document(doc: Document, validator, context: str) -> list[Diagnostic]:
    """All schema errors of one document, each at the position of the offending key or value."""
    diags: list[Diagnostic] = []
    for error in validator.iter_errors(doc.data):
        diags.extend(_to_diagnostics(doc, error, context))
    return diags


def _to_diagnostics(doc: Document, error: jsonschema.ValidationError, context: str) -> Iterable[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint", "")
    ctx = (context,) if context else ()
    kind = error.validator
    value = error.instance

    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted((schema.get("properties") or {}).keys())
        extras = [k for k in value if k not in known]
        for key in extras:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            tip = f"did you mean '{close[0]}'?" if close else (
                f"allowed keys here: {', '.join(known)}" if known else "no keys are allowed here")
            yield doc.diagnostic(path + (key,), f"unknown key '{key}'", key=True, hint=tip, context=ctx)
        return
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        sub = (schema.get("properties") or {}).get(missing, {})
        tip = sub.get("x-hint") or sub.get("description") or ""
        where = "at the top of the file" if not path else "here"
        yield doc.diagnostic(path, f"missing required key '{missing}' {where}", key=bool(path), hint=tip, context=ctx)
        return
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        tip = hint or (f"quote it to make it a string: \"{value}\"" if "string" in names and value is not None
                       and not isinstance(value, (dict, list)) else "")
        yield doc.diagnostic(path, f"expected {want}, found {_describe(value)}", hint=tip, context=ctx)
        return
    if kind == "enum":
        options = [str(o) for o in error.validator_value]
        close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.5)
        if len(options) <= 6:
            message = f"{_describe(value)} is not one of: {', '.join(options)}"
            tip = f"did you mean '{close[0]}'?" if close else hint
        else:
            message = f"{_describe(value)} is not a known value"
            tip = f"did you mean '{close[0]}'?" if close else f"see the list in {INSTANCE_SCHEMA} ($defs)"
        yield doc.diagnostic(path, message, hint=tip, context=ctx)
        return
    if kind == "pattern":
        yield doc.diagnostic(path, f"{_describe(value)} is not in the expected format",
                             hint=hint or f"must match {error.validator_value}", context=ctx)
        return
    if kind in ("oneOf", "anyOf"):
        yield doc.diagnostic(path, "this entry does not have the expected shape",
                             hint=hint or error.message, context=ctx)
        return
    if kind == "uniqueItems":
        seen, dups = set(), []
        for item in value:
            marker = json.dumps(item, sort_keys=True)
            if marker in seen:
                dups.append(item)
            seen.add(marker)
        yield doc.diagnostic(path, f"duplicate entries: {', '.join(map(str, dups))}",
                             hint="list each entry once", context=ctx)
        return
    if kind in ("minItems", "minProperties") and not value:
        yield doc.diagnostic(path, "must not be empty", hint=hint, context=ctx)
        return
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        desc = schema.get("description", "")
        yield doc.diagnostic(path, error.message, hint=hint or desc, context=ctx)
        return
    yield doc.diagnostic(path, error.message, hint=hint, context=ctx)
