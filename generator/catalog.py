"""Plugin catalogs: what the update site offers for one Jenkins version, kept in the repository.

A catalog is a JSON file in a subset of the Jenkins update site's `update-center.actual.json`
(written by jenkins-infra/update-center2, UpdateCenterRoot and PluginUpdateCenterEntry; read
by Jenkins core, hudson.model.UpdateSite). Only these fields are kept (docs/plugins.md):

    plugins.<id>:    name, version, requiredCore, dependencies [{name, version, optional}], sha256
    warnings[]:      id, type, name, message, url, versions [{firstVersion, lastVersion, pattern}]
    deprecations.<id>: url

plus `pluginVersions.<id>.<version>` (same fields as plugins.<id>), the layout of the same
update site's plugin-versions.json, for the older releases an instance pins. A real
update-center.actual.json is therefore a valid catalog as it is, only larger; `fleet plugins
refresh` trims one to what the fleet uses.

Catalog files live in the fleet directory's reserved `catalogs/` directory, which is never
an instance, and are named by `controllers.versions.<version>.catalog` in fleet.yaml.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from . import sources
from .errors import Diagnostic, FleetError
from .sources import Document
from .version_number import sort_key

CATALOG_DIR = "catalogs"  # reserved in every fleet directory (generator/fleetdir.py)
# Where the update site serves every release: <root>/<id>/<version>/<id>.hpi (update-center2,
# src/main/java/io/jenkins/update_center/HPI.java getDownloadUrl, and the DOWNLOADS_ROOT_URL
# default in MavenArtifact.java). The image build downloads from there (templates/image/Dockerfile.j2).
DOWNLOAD_ROOT = "https://updates.jenkins.io/download/plugins"
# An update-center.actual.json of the whole update site is a few MB.
MAX_UPDATE_CENTER_BYTES = 64 * 1024 * 1024
# update-center.json wraps the same object in a JavaScript call (JSONP); .actual.json does not.
JSONP_START = "updateCenter.post("
PLUGIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SHA256 = re.compile(r"^([A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})$")  # base64 as the update site writes it, or hex
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")

ENTRY_FIELDS = ("name", "version", "requiredCore", "dependencies", "sha256")
WARNING_FIELDS = ("id", "type", "name", "message", "url", "versions")
RANGE_FIELDS = ("firstVersion", "lastVersion", "pattern")


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    optional: bool


@dataclass(frozen=True)
class Release:
    """One release of a plugin as the update site describes it."""

    name: str
    version: str
    required_core: str | None
    dependencies: tuple[Dependency, ...]
    sha256: str | None = None  # base64, as the update site writes it


@dataclass(frozen=True)
class Warning:
    """An update-site security warning. Jenkins applies it to a version when any range's
    pattern matches the whole version text, or always when it has no range
    (hudson.model.UpdateSite.Warning.isRelevantToVersion)."""

    id: str
    name: str
    message: str
    url: str
    patterns: tuple[str, ...]

    def applies_to(self, version: str) -> bool:
        if not self.patterns:
            return True
        for text in self.patterns:
            pattern = _pattern(text)
            if pattern is None or pattern.fullmatch(version):
                return True
        return False


@functools.lru_cache(maxsize=4096)  # compiled when first needed: most warnings are of other plugins
def _pattern(text: str) -> re.Pattern | None:
    try:
        return re.compile(text)
    except re.error:
        # Jenkins logs the pattern and uses '.*' instead: the warning applies to every version.
        return None


@dataclass
class Catalog:
    path: str
    plugins: dict[str, Release]
    older: dict[str, dict[str, Release]] = field(default_factory=dict)  # id -> version -> release
    warnings: dict[str, list[Warning]] = field(default_factory=dict)  # plugin id -> its warnings
    deprecations: dict[str, str] = field(default_factory=dict)  # plugin id -> notice URL
    doc: Document | None = field(default=None, repr=False)
    reference: str = ""  # as fleet.yaml names it (catalogs/<file>.json): what model.json records
    digest: str = ""  # sha256 of the file's text: part of the incremental cache's keys (fleet.py _keys)
    # What was already worked out against this catalog: resolutions by request set
    # (generator/plugins.py resolve), active warnings by release
    closures: dict = field(default_factory=dict, repr=False, compare=False)

    def label(self, jenkins: str) -> str:
        return f"the catalog for Jenkins {jenkins} ({self.reference or self.path})"

    def release(self, plugin: str, version: str | None = None) -> Release | None:
        current = self.plugins.get(plugin)
        if version is None or (current is not None and current.version == version):
            return current
        return self.older.get(plugin, {}).get(version)

    def versions(self, plugin: str) -> list[str]:
        known = [self.plugins[plugin].version] if plugin in self.plugins else []
        return known + sorted(self.older.get(plugin, {}), key=sort_key, reverse=True)

    def close_matches(self, plugin: str) -> list[str]:
        return difflib.get_close_matches(plugin, sorted(self.plugins), n=3, cutoff=0.75)

    def active_warnings(self, plugin: str, version: str) -> list[Warning]:
        key = ("warnings", plugin, version)
        if key not in self.closures:
            self.closures[key] = [w for w in self.warnings.get(plugin, []) if w.applies_to(version)]
        return self.closures[key]


# --- reading a catalog file ---------------------------------------------------------------------

class _Reader:
    """Checks the shape of a catalog document, collecting every problem with its position."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.diags: list[Diagnostic] = []

    def error(self, path, message: str, hint: str = "") -> None:
        self.diags.append(self.doc.diagnostic(path, message, hint=hint,
                                              context=("while reading the plugin catalog",)))

    def string(self, data: dict, key: str, path, *, required: bool = True, pattern=None) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(path, f"missing '{key}'", hint="every entry of the update site has it")
            return None
        if not isinstance(value, str) or not value:
            self.error(path + (key,), f"'{key}' must be a non-empty string")
            return None
        if pattern is not None and not pattern.match(value):
            self.error(path + (key,), f"'{value}' is not a valid {key}")
            return None
        return value

    def release(self, data, path, expected_name: str, expected_version: str | None = None) -> Release | None:
        before = len(self.diags)
        if not isinstance(data, dict):
            self.error(path, "a plugin entry must be an object")
            return None
        name = self.string(data, "name", path, pattern=PLUGIN_ID)
        version = self.string(data, "version", path, pattern=VERSION)
        core = self.string(data, "requiredCore", path, required=False, pattern=VERSION)
        digest = self.string(data, "sha256", path, required=False, pattern=SHA256)
        if name is not None and name != expected_name:
            self.error(path + ("name",), f"entry '{expected_name}' is named '{name}'",
                       hint="the key and the name of a plugin entry are the same id")
        if version is not None and expected_version is not None and version != expected_version:
            self.error(path + ("version",), f"release '{expected_version}' has version '{version}'")
        deps_data = data.get("dependencies", [])
        deps: list[Dependency] = []
        if not isinstance(deps_data, list):
            self.error(path + ("dependencies",), "'dependencies' must be a list")
            deps_data = []
        for i, dep in enumerate(deps_data):
            dpath = path + ("dependencies", i)
            if not isinstance(dep, dict):
                self.error(dpath, "a dependency must be an object with name, version and optional")
                continue
            dname = self.string(dep, "name", dpath, pattern=PLUGIN_ID)
            dversion = self.string(dep, "version", dpath, pattern=VERSION)
            optional = dep.get("optional", False)
            if not isinstance(optional, bool):
                self.error(dpath + ("optional",), "'optional' must be true or false")
                continue
            if dname and dversion:
                deps.append(Dependency(dname, dversion, optional))
        if len(self.diags) > before:
            return None
        # Sorted: the update site lists them in manifest order, which says nothing.
        return Release(name, version, core, tuple(sorted(deps, key=lambda d: d.name)), digest)

    def warning(self, data, path) -> Warning | None:
        if not isinstance(data, dict):
            self.error(path, "a warning must be an object")
            return None
        if data.get("type") != "plugin":
            return None  # core warnings concern the Jenkins version, not a plugin
        values = {k: self.string(data, k, path) for k in ("id", "name", "message", "url")}
        patterns: list[str] = []
        ranges = data.get("versions", [])
        if not isinstance(ranges, list):
            self.error(path + ("versions",), "'versions' must be a list")
            return None
        for i, rng in enumerate(ranges):
            text = rng.get("pattern") if isinstance(rng, dict) else None
            if not isinstance(text, str):
                self.error(path + ("versions", i), "a version range needs a 'pattern'")
                continue
            patterns.append(text)
        if None in values.values():
            return None
        return Warning(values["id"], values["name"], values["message"], values["url"], tuple(patterns))


class _Unusual(ValueError):
    """JSON that json.loads takes but our YAML reader would refuse (duplicate keys, NaN)."""


def _strict_object(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _Unusual("duplicate key")
    return dict(pairs)


def _no_constant(name):
    raise _Unusual(name)


def load_catalog(path: str) -> Catalog:
    """Read a catalog file through the common loaders (size limit, UTF-8).

    A catalog is JSON, read at JSON speed; only a file with a problem is read again with
    positions (sources.parse_text), so that every problem is reported at its line.
    """
    text = sources.read_text(path)
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        data = json.loads(text, object_pairs_hook=_strict_object, parse_constant=_no_constant)
        return read(Document(path, data), digest)
    except (ValueError, FleetError):  # JSONDecodeError and _Unusual are ValueErrors
        return read(sources.parse_text(text, path), digest)


def read(doc: Document, digest: str = "") -> Catalog:
    """A catalog from its parsed document; FleetError with every problem of its shape."""
    reader = _Reader(doc)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("plugins"), dict):
        raise FleetError([doc.diagnostic((), "a plugin catalog is an object with a 'plugins' object",
                                         hint="the layout of the update site's update-center.actual.json; "
                                              "see docs/plugins.md",
                                         context=("while reading the plugin catalog",))])
    plugins = {}
    for pid, entry in data["plugins"].items():
        release = reader.release(entry, ("plugins", pid), pid)
        if release is not None:
            plugins[pid] = release
    older = _plugin_versions(reader, data.get("pluginVersions", {}))
    warnings = _warnings(reader, data.get("warnings", []))
    deprecations = _deprecations(reader, data.get("deprecations", {}))
    if reader.diags:
        raise FleetError(reader.diags)
    return Catalog(doc.path, plugins, older, warnings, deprecations, doc, digest=digest)


def _plugin_versions(reader: _Reader, pinned) -> dict[str, dict[str, Release]]:
    """pluginVersions: plugin id -> version -> release."""
    older: dict[str, dict[str, Release]] = {}
    if not isinstance(pinned, dict):
        reader.error(("pluginVersions",), "'pluginVersions' must be an object: plugin id -> version -> entry")
        return older
    for pid, by_version in pinned.items():
        if not isinstance(by_version, dict):
            reader.error(("pluginVersions", pid), "must be an object: version -> entry")
            continue
        for version, entry in by_version.items():
            release = reader.release(entry, ("pluginVersions", pid, version), pid, version)
            if release is not None:
                older.setdefault(pid, {})[version] = release
    return older


def _warnings(reader: _Reader, raw_warnings) -> dict[str, list[Warning]]:
    """The security warnings, by plugin id."""
    warnings: dict[str, list[Warning]] = {}
    if not isinstance(raw_warnings, list):
        reader.error(("warnings",), "'warnings' must be a list")
        return warnings
    for i, item in enumerate(raw_warnings):
        warning = reader.warning(item, ("warnings", i))
        if warning is not None:
            warnings.setdefault(warning.name, []).append(warning)
    return warnings


def _deprecations(reader: _Reader, raw_deprecations) -> dict[str, str]:
    """The deprecated plugins: plugin id -> the URL of the deprecation notice."""
    deprecations = {}
    if not isinstance(raw_deprecations, dict):
        reader.error(("deprecations",), "'deprecations' must be an object: plugin id -> {url}")
        return deprecations
    for pid, entry in raw_deprecations.items():
        if not isinstance(entry, dict):
            reader.error(("deprecations", pid), "a deprecation must be an object with a 'url'",
                         hint='as the update site writes it: "<id>": {"url": "https://..."}')
            continue
        url = reader.string(entry, "url", ("deprecations", pid))
        if url:
            deprecations[pid] = url
    return deprecations


def catalog_path(instances_dir: str, reference: str) -> str:
    return os.path.join(instances_dir, *reference.split("/"))


def load_all(instances_dir: str, fleet_doc: Document) -> tuple[dict[str, Catalog], list[Diagnostic]]:
    """The catalog of every controller version that names one (each file read once).

    A version without a catalog is allowed (an imported Jiro fleet has none yet): its plugins
    are not checked and its images resolve them when they are built.
    """
    diags: list[Diagnostic] = []
    by_file: dict[str, Catalog | None] = {}
    catalogs: dict[str, Catalog] = {}
    for version, entry in sorted(fleet_doc.data["controllers"]["versions"].items()):
        reference = entry.get("catalog")
        if reference is None:
            continue  # unpinned plugins (docs/plugins.md); `fleet plugins outdated` lists such versions
        if reference not in by_file:
            by_file[reference] = None
            try:
                by_file[reference] = load_catalog(catalog_path(instances_dir, reference))
                by_file[reference].reference = reference
            except FleetError as exc:
                diags.extend(_located(exc.diagnostics, fleet_doc, ("controllers", "versions", version, "catalog")))
        if by_file[reference] is not None:
            catalogs[version] = by_file[reference]
    return catalogs, diags


def _located(diags, fleet_doc: Document, path) -> list[Diagnostic]:
    """A catalog that cannot be read at all is reported where fleet.yaml names it, too."""
    out = list(diags)
    if any(d.line == 0 for d in diags):  # not found or unreadable: say who asked for it
        out = [d for d in diags if d.line != 0]
        for d in diags:
            if d.line == 0:
                out.append(fleet_doc.diagnostic(path, f"plugin catalog {d.file}: {d.message}",
                                                hint=f"the path is relative to the fleet directory, under "
                                                     f"'{CATALOG_DIR}/'; `fleet plugins refresh --from FILE "
                                                     "--jenkins VERSION` writes it"))
    return out


# --- writing a catalog (fleet plugins refresh) ---------------------------------------------------

def _entry(data: dict) -> dict:
    out = {k: data[k] for k in ENTRY_FIELDS if k in data and k != "dependencies" and data[k] not in (None, "")}
    deps = data.get("dependencies") or []
    out["dependencies"] = sorted(({"name": d["name"], "optional": bool(d.get("optional", False)),
                                   "version": d["version"]} for d in deps if isinstance(d, dict)
                                  and "name" in d and "version" in d), key=lambda d: d["name"])
    return out


def trim(update_center: dict, keep: set[str], older: dict[str, dict[str, dict]] | None = None) -> dict:
    """The catalog of the plugins in `keep`: only the fields we use, keys sorted.

    older: id -> version -> entry (plugin-versions.json layout) of older releases to keep.
    """
    plugins = update_center.get("plugins", {})
    out: dict = {"plugins": {pid: _entry(plugins[pid]) for pid in sorted(keep) if pid in plugins}}
    if older:
        out["pluginVersions"] = {pid: {v: _entry(entry) for v, entry in sorted(by_version.items())}
                                 for pid, by_version in sorted(older.items()) if by_version}
    kept = set(out["plugins"]) | set(older or {})
    warnings = [{k: w[k] for k in WARNING_FIELDS if k in w} for w in update_center.get("warnings", [])
                if isinstance(w, dict) and w.get("type") == "plugin" and w.get("name") in kept]
    for w in warnings:
        w["versions"] = [{k: r[k] for k in RANGE_FIELDS if k in r} for r in w.get("versions", [])]
    out["warnings"] = sorted(warnings, key=lambda w: (w.get("name", ""), w.get("id", "")))
    out["deprecations"] = {pid: {"url": d["url"]} for pid, d in sorted(update_center.get("deprecations", {}).items())
                           if pid in kept and isinstance(d, dict) and "url" in d}
    return out


def closure_ids(update_center: dict, roots: set[str]) -> set[str]:
    """Every plugin that `roots` can pull in, optional dependencies included (an instance may
    request them later), as the update site describes the current releases."""
    plugins = update_center.get("plugins", {})
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in plugins:
            continue
        seen.add(pid)
        todo.extend(d["name"] for d in plugins[pid].get("dependencies") or [] if isinstance(d, dict) and "name" in d)
    return seen


def dumps(catalog: dict) -> str:
    """Deterministic text: one plugin per few lines, stable key order, a final newline."""
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_update_center(path: str) -> dict:
    """A downloaded update-center.actual.json (or update-center.json, whose JSONP wrapper is removed)."""
    text = sources.read_text(path, MAX_UPDATE_CENTER_BYTES, "an update-center file is a few MB")
    if text.lstrip().startswith(JSONP_START):
        text = text.strip().removeprefix(JSONP_START).removesuffix(";").rstrip().removesuffix(")")
    data = sources.parse_json(text, path)
    if not isinstance(data, dict) or not isinstance(data.get("plugins"), dict):
        raise FleetError([Diagnostic(path, 1, 1, "", "not an update-center file: no 'plugins' object",
                                     hint="download https://updates.jenkins.io/update-center.actual.json "
                                          "(or the file of your update site)")])
    return data
