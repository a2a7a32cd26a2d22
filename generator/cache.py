"""Input fingerprints for the incremental cache.

An instance's key covers everything that can change its output: the generator
(its version and its own source files: an editable install or a checkout changes
code without changing the version), the library versions, every template and
schema file, the fleet settings (without the profiles), the profiles that match
it (in order), its own instance file and JCasC override, and the plugin catalog
of its Jenkins version. Never a path: the same inputs checked out elsewhere give
the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from . import __version__, nofollow

# The generator's own code: a change to it changes what any input renders to.
CODE_DIR = os.path.dirname(os.path.abspath(__file__))

# Libraries whose behaviour shapes the bytes we write.
_LIBRARIES = ("gojsonnet", "jsonnet", "jinja2", "pyyaml", "kubernetes-validate", "jsonschema-rs", "orjson")


def _library_versions() -> list[str]:
    found = _installed_versions()
    out = []
    for name in _LIBRARIES:
        version = found.get(_normalized(name))
        if version is None:  # not found by its directory name: ask importlib.metadata, which reads its METADATA
            from importlib import metadata
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = "absent"
        out.append(f"{name}=={version}")
    return out


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _installed_versions() -> dict[str, str]:
    """{normalized name: version} from the <name>-<version>.dist-info directories on sys.path, the
    first one of a name winning as at import (the binary distribution format names them so). Every
    run computes a cache key: importing importlib.metadata costs 15-40 ms, this listing 1 ms."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for item in names:
            if item.endswith(".dist-info"):
                name, sep, version = item[:-len(".dist-info")].partition("-")
                if sep and version:
                    found.setdefault(_normalized(name), version)
    return found


def _tree_digest(root: str) -> list[str]:
    """(relative path, content hash) of every file below root, in a stable order.

    Links are left out: fleet.check_sources refuses them in templates/ and schemas/ before
    any key is computed, and the generator's own code is not a pull request's to plant.
    """
    entries = []
    files, _ = nofollow.walk(root)
    for rel in files:
        if rel.endswith((".pyc", "~")):
            continue
        data = nofollow.read_file(os.path.join(root, rel))
        entries.append(f"{rel}:{hashlib.sha256(data).hexdigest()}")
    return entries


def common_key(templates_dir: str, schemas_dir: str, code_dir: str = CODE_DIR) -> str:
    """The part of every key shared by all instances (code, templates, schemas)."""
    return _digest(*(part.encode() for part in [
        f"jenkins-fleet=={__version__}", *_library_versions(), "code", *_tree_digest(code_dir),
        "templates", *_tree_digest(templates_dir), "schemas", *_tree_digest(schemas_dir)]))


def _digest(*parts: bytes) -> str:
    """sha256 of the parts, each followed by a NUL byte."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def _canonical(data) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fleet_key(common: str, fleet: dict) -> str:
    without_profiles = {k: v for k, v in fleet.items() if k != "profiles"}
    return hashlib.sha256(common.encode() + b"\0" + _canonical(without_profiles)).hexdigest()


def instance_key(fleet_part: str, fleet: dict, name: str, profiles: tuple[str, ...],
                 instance_data: dict, override_data, catalog: str = "") -> str:
    """catalog: the content hash of the plugin catalog of the instance's Jenkins version (with
    the rest, it decides the instance's plugin closure)."""
    by_name = {p["name"]: p for p in fleet.get("profiles", [])}
    return _digest(fleet_part.encode(), name.encode(), _canonical([by_name[p] for p in profiles]),
                   _canonical(instance_data), _canonical(override_data), catalog.encode())


def fleet_files_key(common: str, fleet: dict, controllers: list[dict]) -> str:
    """The key of the fleet-level files (generator/monitoring.py): the whole fleet settings and the
    monitored instances of the output, as the rules template takes them."""
    return _digest(b"fleet-files", common.encode(), _canonical(fleet), _canonical(controllers))


def sources_context(common: str, fleet_doc, catalogs: dict, today: str, instances_dir: str) -> str:
    """Everything besides an instance's own files that its pre-model checks read (fleet.check_sources):
    the code, templates and schemas, the fleet settings as written, the plugin catalogs, the date
    (acknowledged advisories expire) and where the instances are (messages name their files)."""
    return _digest(b"sources", common.encode(), "\n".join(fleet_doc.lines).encode(), _canonical(fleet_doc.data),
                   _canonical(sorted((c.reference, c.digest) for c in catalogs.values())), today.encode(),
                   os.path.abspath(instances_dir).encode())
