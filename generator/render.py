"""The Jinja step: JCasC and the image files, from the resolved model.

One environment per renderer (compiled templates are reused), StrictUndefined
so a typo in a template is an error, and filters that quote every scalar: no
string from an instance file can end a YAML value early or add a key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jinja2
import yaml

try:
    _Dumper = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Dumper = yaml.SafeDumper


_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def yaml_scalar(value: Any) -> str:
    """A YAML flow scalar that parses back to exactly `value`."""
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if not isinstance(value, str):
        raise TypeError(f"yaml filter expects a scalar, got {type(value).__name__}")
    if _PRINTABLE_ASCII.fullmatch(value):
        # For printable ASCII a JSON string is a YAML double-quoted scalar with the same escapes.
        return json.dumps(value)
    # Double-quoted style escapes newlines, quotes, control and non-BMP characters.
    text = yaml.dump(value, Dumper=_Dumper, default_style='"', allow_unicode=False, width=1 << 30)
    return text.rstrip("\n").removesuffix("\n...")


def jcasc_escape(value: str) -> str:
    """JCasC expands ${VAR} when it loads; '^${' is its escape for a literal '${'.

    Without this, a display name such as '${LDAP_MANAGER_PASSWORD}' would put
    a secret into the system message.
    """
    return value.replace("${", "^${")


def jcasc_scalar(value: Any) -> str:
    if isinstance(value, str):
        value = jcasc_escape(value)
    return yaml_scalar(value)


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates shared by the renderers of one process (each test, each `fleet` run in a
    long-lived process builds its own Renderer). Safe to share: Jinja keys a bucket on the template's
    name and file, and discards it when the checksum of the source differs. The key does not hold the
    environment's options, so only Renderer, whose options never change, may use it."""

    LIMIT = 256  # a few dozen templates per tree; tests copy trees to many directories

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if len(self._store) >= self.LIMIT:
            self._store.pop(next(iter(self._store)))
        self._store[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class Renderer:
    def __init__(self, templates_dir: str):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            bytecode_cache=_COMPILED,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["yaml"] = yaml_scalar
        self.env.filters["jcasc"] = jcasc_scalar
        self.env.filters["cpu"] = lambda millis: f"{int(millis)}m"
        self.env.filters["mem"] = lambda mib: f"{int(mib)}Mi"

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)


