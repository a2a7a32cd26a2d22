"""The Jinja step: JCasC and the image files, from the resolved model.

One environment per renderer (compiled templates are reused), StrictUndefined
so a typo in a template is an error, and filters that quote every scalar: no
string from an instance file can end a YAML value early or add a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from contextlib import suppress
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


# The environment's options: they shape the compiled code, so they name the on-disk cache too.
_OPTIONS = {"autoescape": False, "keep_trailing_newline": True, "trim_blocks": True, "lstrip_blocks": True}


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates shared by the renderers of one process (each test, each `fleet` run in a
    long-lived process builds its own Renderer), and across runs in a private directory of the
    user's cache: compiling ours costs about 45 ms, which a run that renders one instance, and
    each worker of a full run, paid every time. Safe to share: Jinja keys a bucket on the
    template's name and file, and discards it when the checksum of the source differs; the
    directory is named after Jinja's version and the options above (the key does not hold them),
    so only Renderer, whose options never change, may use it."""

    LIMIT = 256  # a few dozen templates per tree; tests copy trees to many directories

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}
        self._disk: jinja2.FileSystemBytecodeCache | bool | None = False  # False: not looked for yet

    def _on_disk(self) -> jinja2.FileSystemBytecodeCache | None:
        if self._disk is False:
            directory = _private_cache_dir()
            self._disk = jinja2.FileSystemBytecodeCache(directory) if directory else None
        return self._disk

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)
            return
        disk = self._on_disk()
        if disk is not None:
            disk.load_bytecode(bucket)  # a stale or damaged file leaves the bucket empty: compiled again
            if bucket.code is not None:
                self._remember(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._remember(bucket)
        disk = self._on_disk()
        if disk is not None:
            with suppress(OSError):  # a full or read-only disk costs the next run a compilation, no more
                disk.dump_bytecode(bucket)

    def _remember(self, bucket: jinja2.bccache.Bucket) -> None:
        if len(self._store) >= self.LIMIT:
            self._store.pop(next(iter(self._store)))
        self._store[bucket.key] = bucket.bytecode_to_string()


def _private_cache_dir() -> str | None:
    """$XDG_CACHE_HOME/jenkins-fleet/jinja-<digest> (default ~/.cache/...), created 0700, or None when
    it cannot be made or is not ours alone: compiled code is loaded from it and run."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    digest = hashlib.sha256(json.dumps([jinja2.__version__, _OPTIONS], sort_keys=True).encode()).hexdigest()[:16]
    path = os.path.join(base, "jenkins-fleet", f"jinja-{digest}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


_COMPILED = _CompiledTemplates()


class Renderer:
    def __init__(self, templates_dir: str):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            bytecode_cache=_COMPILED,
            undefined=jinja2.StrictUndefined,
            **_OPTIONS,
        )
        self.env.filters["yaml"] = yaml_scalar
        self.env.filters["jcasc"] = jcasc_scalar
        self.env.filters["cpu"] = lambda millis: f"{int(millis)}m"
        self.env.filters["mem"] = lambda mib: f"{int(mib)}Mi"

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)


