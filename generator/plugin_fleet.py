"""The fleet's view of its plugins: refresh a catalog, who uses which plugin, what is outdated."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from . import catalog as cat
from . import fleet as fleet_mod
from . import fleetdir
from .errors import WARNING, Diagnostic, FleetError, fail_if_errors
from .output import write_file
from .plugins import provenance_text, requests_for
from .schema import Schemas, validate_document
from .sources import Document
from .version_number import compare

# --- fleet plugins refresh ----------------------------------------------------------------------


@dataclass
class Refresh:
    version: str
    path: str  # the catalog file written
    reference: str  # as fleet.yaml names it (or should)
    referenced: bool  # fleet.yaml already names this file for the version
    plugins: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # id, old, new
    warnings: int = 0
    deprecations: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings: requests the file cannot serve


def _fleet_doc(paths: fleet_mod.Paths) -> Document:
    sources, diags = fleetdir.read_all(paths.instances)
    if sources is None:
        raise FleetError(diags)
    problems = validate_document(sources.fleet, Schemas(paths.schemas).fleet, "while validating the fleet settings")
    if any(d.is_error for d in problems):
        raise FleetError(problems)
    return sources.fleet


def _requests(paths: fleet_mod.Paths, fleet_doc: Document, version: str):
    """Every plugin request of the fleet for `version`: each instance of that version (files that
    do not load are skipped: validate reports them), plus the base set and every profile."""
    fleet = fleet_doc.data
    sources, _ = fleetdir.read_all(paths.instances)
    requests = []
    for name, src in sorted((sources.instances if sources else {}).items()):
        if not isinstance(src.doc.data, dict):
            continue
        try:
            if fleet_mod.jenkins_version(fleet, name, src.doc.data) != version:
                continue
        except (AttributeError, TypeError):
            continue  # a shape the schema rejects
        requests += requests_for(fleet_doc, src.doc, version, fleetdir.matching_profiles(fleet, name),
                                 (f"while refreshing the catalog for instance '{name}'",))
    # The base set and the profiles count even when no instance uses them yet.
    probe = Document(fleet_doc.path, {}, [])
    requests += requests_for(fleet_doc, probe, version, tuple(p["name"] for p in fleet.get("profiles", [])), ())
    return requests


def refresh(paths: fleet_mod.Paths, update_center_file: str, version: str | None = None,
            versions_file: str | None = None) -> Refresh:
    """Rewrite the catalog of `version` (default: controllers.latest) from a downloaded update-center file.

    Kept: every plugin the fleet requests for that version and everything they can depend on
    (optional dependencies too, so that requesting one later needs no refresh), with only the
    fields in generator/catalog.py; older releases that requests pin, from plugin-versions.json
    (or carried over from the current catalog). The output is sorted: the same inputs give the
    same bytes.
    """
    fleet_doc = _fleet_doc(paths)
    fleet = fleet_doc.data
    versions = fleet["controllers"]["versions"]
    version = version or fleet["controllers"]["latest"]
    if version not in versions:
        raise FleetError([fleet_doc.diagnostic(("controllers", "versions"), f"no controller version {version}",
                                               hint=f"known: {', '.join(sorted(versions))}")])
    reference = versions[version].get("catalog") or f"{cat.CATALOG_DIR}/{version}.json"
    target = cat.catalog_path(paths.instances, reference)
    uc = cat.read_update_center(update_center_file)
    plugin_versions = None
    if versions_file is not None:
        data = cat.read_update_center(versions_file)
        plugin_versions = data["plugins"]
    previous = None
    if os.path.exists(target):
        try:
            previous = cat.load_catalog(target)
        except FleetError:
            previous = None  # replaced by a good one

    requests = _requests(paths, fleet_doc, version)
    offered = uc["plugins"]
    diags: list[Diagnostic] = []
    older: dict[str, dict[str, dict]] = {}
    for req in requests:
        if req.plugin not in offered:
            close = difflib.get_close_matches(req.plugin, sorted(offered), n=3, cutoff=0.75)
            diags.append(req.diagnostic(
                f"plugin '{req.plugin}' is not in {update_center_file}",
                f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                else "is this the update site the fleet installs from?", severity=WARNING))
            continue
        if req.version is None or req.version == offered[req.plugin].get("version") \
                or req.version in older.get(req.plugin, {}):
            continue
        entry = ((plugin_versions or {}).get(req.plugin) or {}).get(req.version)
        if entry is None and previous is not None and previous.release(req.plugin, req.version) is not None:
            entry = _release_json(previous.release(req.plugin, req.version))  # carried over
        if entry is None:
            diags.append(req.diagnostic(
                f"{req.spec} is pinned, but {update_center_file} has {req.plugin} "
                f"{offered[req.plugin].get('version')}",
                "pass the update site's plugin-versions.json with --versions to keep older releases",
                severity=WARNING))
            continue
        older.setdefault(req.plugin, {})[req.version] = entry
    # A pinned older release may need plugins that the current releases do not.
    roots = {r.plugin for r in requests} | {d["name"] for by_version in older.values()
                                            for entry in by_version.values() for d in entry.get("dependencies") or []}
    trimmed = cat.trim(uc, cat.closure_ids(uc, roots), older)
    text = cat.dumps(trimmed)
    cat.read(cat.sources.parse_text(text, target))  # what we write must read back
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_file(target, text.encode())

    result = Refresh(version, target, reference, "catalog" in versions[version], len(trimmed["plugins"]),
                     warnings=len(trimmed["warnings"]), deprecations=len(trimmed["deprecations"]),
                     diagnostics=diags)
    before = {pid: r.version for pid, r in (previous.plugins.items() if previous else [])}
    after = {pid: e["version"] for pid, e in trimmed["plugins"].items()}
    result.added = sorted(set(after) - set(before))
    result.removed = sorted(set(before) - set(after))
    result.updated = [(pid, before[pid], after[pid]) for pid in sorted(set(before) & set(after))
                      if before[pid] != after[pid]]
    return result


def _release_json(release: cat.Release) -> dict:
    out = {"name": release.name, "version": release.version, "dependencies": [
        {"name": d.name, "optional": d.optional, "version": d.version} for d in release.dependencies]}
    if release.required_core:
        out["requiredCore"] = release.required_core
    if release.sha256:
        out["sha256"] = release.sha256
    return out


# --- fleet plugins usage ------------------------------------------------------------------------

@dataclass(frozen=True)
class Use:
    plugin: str
    version: str
    instance: str
    requested_by: tuple[str, ...]  # fleet, monitoring, profile <name>, instance
    dependency_of: tuple[str, ...]

    @property
    def how(self) -> str:
        return provenance_text({"requestedBy": self.requested_by, "dependencyOf": self.dependency_of})

    def to_json(self) -> dict:
        return {"plugin": self.plugin, "version": self.version, "instance": self.instance,
                "requestedBy": list(self.requested_by), "dependencyOf": list(self.dependency_of)}


def usage(paths: fleet_mod.Paths, plugin_ids=(), names=()) -> tuple[list[Use], list[str], list[Diagnostic]]:
    """Who installs which plugin at which version; also the instances without a catalog."""
    checked = fleet_mod.check_sources(paths, names)
    warnings = fail_if_errors(checked.diagnostics)
    uses, unpinned = [], []
    for inp in checked.inputs:
        if inp.plugins is None:
            unpinned.append(inp.name)
            continue
        for pid, version in inp.plugins["installed"].items():
            how = inp.plugins["provenance"].get(pid, {})
            uses.append(Use(pid, version, inp.name, tuple(how.get("requestedBy", ())),
                            tuple(how.get("dependencyOf", ()))))
    if plugin_ids:
        known = sorted({u.plugin for u in uses})
        missing = [p for p in plugin_ids if p not in known]
        if missing:
            diags = []
            for p in missing:
                close = difflib.get_close_matches(p, known, n=3, cutoff=0.75)
                diags.append(Diagnostic(paths.instances, 0, 0, "", f"no instance installs plugin '{p}'",
                                        hint=f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                                        else "plugin ids are as in image/plugins.txt, e.g. git"))
            raise FleetError(diags)
        uses = [u for u in uses if u.plugin in plugin_ids]
    uses.sort(key=lambda u: (u.plugin, u.instance))
    return uses, sorted(unpinned), warnings


# --- fleet plugins outdated ---------------------------------------------------------------------

@dataclass(frozen=True)
class Outdated:
    plugin: str
    pinned: str  # the catalog's release
    available: str  # the update-center file's
    required_core: str | None  # of the available release
    instances: tuple[str, ...]  # that install the plugin
    fits: bool  # the available release runs on the catalog's Jenkins version

    def to_json(self) -> dict:
        return {"plugin": self.plugin, "pinned": self.pinned, "available": self.available,
                "requiredCore": self.required_core, "fitsJenkins": self.fits, "instances": list(self.instances)}


def outdated(paths: fleet_mod.Paths, update_center_file: str,
             version: str | None = None) -> tuple[str, list[Outdated], list[str]]:
    """Plugins whose catalog release (for `version`, default controllers.latest) is older than the file's.

    Returns the version, one row per plugin, and the controller versions that have no catalog.
    """
    checked = fleet_mod.check_sources(paths)
    fail_if_errors(checked.diagnostics)
    fleet = checked.sources.fleet.data
    version = version or fleet["controllers"]["latest"]
    versions = fleet["controllers"]["versions"]
    if version not in versions:
        raise FleetError([checked.sources.fleet.diagnostic(("controllers", "versions"),
                                                           f"no controller version {version}",
                                                           hint=f"known: {', '.join(sorted(versions))}")])
    no_catalog = sorted(v for v in versions if v not in checked.sources.catalogs)
    current = checked.sources.catalogs.get(version)
    if current is None:
        return version, [], no_catalog
    offered = cat.read_update_center(update_center_file)["plugins"]
    users: dict[str, list[str]] = {}
    for inp in checked.inputs:
        if inp.plugins is not None and inp.plugins["catalog"] == current.reference:
            for pid in inp.plugins["installed"]:
                users.setdefault(pid, []).append(inp.name)
    rows = []
    for pid, release in sorted(current.plugins.items()):
        newer = offered.get(pid, {}).get("version")
        if not newer or compare(newer, release.version) <= 0:
            continue
        core = offered[pid].get("requiredCore")
        rows.append(Outdated(pid, release.version, newer, core, tuple(sorted(users.get(pid, []))),
                             core is None or compare(core, version) <= 0))
    return version, rows, no_catalog
