"""Which plugins an instance gets: its requests resolved against the catalog of its Jenkins version.

An instance requests plugins in four places, in this order (templates/model/instance.libsonnet):
`prometheus` when monitoring is on, the base set of its Jenkins version
(controllers.versions.<v>.plugins in fleet.yaml), the `jenkins.plugins` of each matching
profile, and its own `jenkins.plugins`. A request is an
id or `id:version`; the last request of an id decides its version (as the model does).

The closure holds every requested plugin and, recursively, every non-optional dependency of
each release in it; an optional dependency is installed only when it is requested too. Every
plugin is pinned: the requested version, else the catalog's. Then, as Jenkins checks at
startup (hudson.PluginWrapper.resolvePluginDependencies): each dependency that is present,
optional or not, must be at least the version its dependent names, and each release's
requiredCore must not be newer than the instance's Jenkins.

A problem is reported where the request responsible for it was written: the plugin's own
request, the pin that is too old, or the first request (in the order above) whose
dependencies reach the plugin. Problems
of the base set and of profiles are therefore reported once, in fleet.yaml, whatever the
number of instances that share them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from .catalog import Catalog, Release
from .errors import WARNING, Diagnostic
from .sources import Document
from .version_number import compare

UNKNOWN = "unknown plugin"  # how an unknown id's message starts (fleet import-jiro reports those)
FLEET = "fleet"
MONITORING = "monitoring"
INSTANCE = "instance"


@dataclass(frozen=True)
class Request:
    plugin: str
    version: str | None  # a pin, or None for the catalog's release
    origin: str  # FLEET, MONITORING, "profile <name>" or INSTANCE
    doc: Document
    path: tuple
    context: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return self.plugin if self.version is None else f"{self.plugin}:{self.version}"

    def diagnostic(self, message: str, hint: str = "", severity: str = "error") -> Diagnostic:
        return self.doc.diagnostic(self.path, message, hint=hint, severity=severity, context=self.context)


@dataclass
class Resolution:
    jenkins: str
    catalog: str  # the catalog file, for messages and model.json
    installed: dict[str, str] = field(default_factory=dict)  # id -> version, sorted by id
    requested_by: dict[str, list[str]] = field(default_factory=dict)  # id -> origins of its requests
    dependency_of: dict[str, list[str]] = field(default_factory=dict)  # id -> installed plugins needing it
    advisories: list[dict] = field(default_factory=list)  # active security warnings and deprecations
    checksums: dict[str, str] = field(default_factory=dict)  # id -> sha256 hex, where the catalog has one

    def as_model(self) -> dict:
        """What model.json keeps (jenkins.installedPlugins, jenkins.pluginProvenance, ...)."""
        provenance = {}
        for pid in self.installed:
            entry = {}
            if pid in self.requested_by:
                entry["requestedBy"] = self.requested_by[pid]
            if pid in self.dependency_of:
                entry["dependencyOf"] = self.dependency_of[pid]
            provenance[pid] = entry
        return {"catalog": self.catalog, "installed": dict(self.installed), "provenance": provenance,
                "advisories": [dict(a) for a in self.advisories], "checksums": dict(self.checksums)}


def provenance_text(entry: dict) -> str:
    """'requested (fleet, monitoring); dependency of git, junit': one plugin's provenance, as
    model.json and `fleet plugins usage` show it."""
    parts = []
    if entry.get("requestedBy"):
        parts.append("requested (" + ", ".join(entry["requestedBy"]) + ")")
    if entry.get("dependencyOf"):
        parts.append("dependency of " + ", ".join(entry["dependencyOf"]))
    return "; ".join(parts)


def parse_spec(spec: str) -> tuple[str, str | None]:
    plugin, sep, version = spec.partition(":")
    return plugin, (version if sep else None)


def _hex(digest: str) -> str:
    """The update site writes sha256 in base64 (update-center2 ArtifactoryRepositoryImpl, hexToBase64)."""
    try:
        raw = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    return raw.hex() if len(raw) == 32 else digest.lower()


def _chain(pid: str, via: dict[str, str | None]) -> str:
    """'x (needed by y, needed by z)' from the dependency walk's parent links."""
    parents = []
    node = via.get(pid)
    while node is not None and len(parents) < 8:
        parents.append(node)
        node = via.get(node)
    return pid if not parents else f"{pid} (needed by {', needed by '.join(parents)})"


def resolve(catalog: Catalog, requests: list[Request], jenkins: str, label: str,
            acknowledged: frozenset = frozenset()) -> tuple[Resolution, list[Diagnostic]]:
    """The pinned closure of `requests` and every problem found, each placed at its request.

    label: how messages name the catalog, e.g. "the catalog for Jenkins 2.555.2". Instances
    with the same requests share one resolution (most of a fleet requests the base set and
    a few plugins): only the diagnostics are made per instance. acknowledged: the (plugin,
    advisory id) pairs fleet.yaml accepts for now; they stay in the model and the audit.
    """
    specs = tuple((r.plugin, r.version, r.origin) for r in requests)
    key = (jenkins, label, specs)
    if key not in catalog.closures:
        catalog.closures[key] = _solve(catalog, specs, jenkins, label)
    result, problems = catalog.closures[key]
    diags = [requests[i].diagnostic(message, hint, severity=severity)
             for i, message, hint, severity, advisory in problems if advisory not in acknowledged]
    return result, diags


def acknowledgement_problems(fleet_doc: Document, catalogs: dict, today: str) -> list[Diagnostic]:
    """Acknowledgements in fleet.yaml that no longer hold: expired, or matching no advisory of a catalog."""
    out = []
    for i, ack in enumerate(fleet_doc.data.get("acknowledgedAdvisories", [])):
        where = ("acknowledgedAdvisories", i)
        if ack.get("expires") is not None and str(ack["expires"]) < today:
            out.append(fleet_doc.diagnostic(where + ("expires",), f"the acknowledgement of {ack['plugin']} "
                                            f"{ack['id']} expired on {ack['expires']}: it is reported again",
                                            hint="move to a fixed release, or extend the date with a reason",
                                            severity=WARNING))
            continue
        known = any((ack["id"] == "deprecated" and ack["plugin"] in c.deprecations)
                    or any(w.id == ack["id"] for w in c.warnings.get(ack["plugin"], ()))
                    for c in catalogs.values())
        if catalogs and not known:
            out.append(fleet_doc.diagnostic(where, f"no catalog has the advisory {ack['id']} for {ack['plugin']}",
                                            hint="remove this acknowledgement (the advisory is gone or the id "
                                                 "is misspelt)", severity=WARNING))
    return out


def acknowledged_advisories(fleet: dict, today: str) -> frozenset:
    """(plugin, advisory id) pairs of fleet.yaml's acknowledgedAdvisories that have not expired."""
    return frozenset((a["plugin"], a["id"]) for a in fleet.get("acknowledgedAdvisories", [])
                     if a.get("expires") is None or str(a["expires"]) >= today)


def _solve(catalog: Catalog, specs: tuple, jenkins: str, label: str) -> tuple[Resolution, list[tuple]]:
    """resolve() on (plugin, version, origin) triples; problems are (request index, message, hint, severity)."""
    quick = _clean_closure(catalog, specs, jenkins)
    return quick if quick is not None else _Solver(catalog, specs, jenkins, label).solve()


def _clean_closure(catalog: Catalog, specs: tuple, jenkins: str) -> tuple[Resolution, list[tuple]] | None:
    """The resolution of requests that pin nothing and reach only clean plugins (see _clean), or
    None: the solver then works it out request by request, with every problem in place.

    Without pins every plugin is at the catalog's release, so the closure is the union of what
    each requested plugin reaches through non-optional dependencies (an optional one is installed
    only when requested, and then reached from its own request), and with every release clean
    there is nothing to report but the advisories of requested plugins, which the solver places
    at their own (last) request. Most of a fleet resolves this way; `_Solver` gives the same
    result (tests/properties/test_plugin_closure_properties.py)."""
    installed: set[str] = set()
    origins: dict[str, list[str]] = {}
    deciding: dict[str, int] = {}  # plugin -> its last request, which the solver's messages name
    for index, (plugin, version, origin) in enumerate(specs):
        reach = None if version is not None else _reach(catalog, plugin, jenkins)
        if reach is None:
            return None
        installed |= reach
        deciding[plugin] = index
        seen = origins.setdefault(plugin, [])
        if origin not in seen:
            seen.append(origin)
    result = Resolution(jenkins, catalog.reference or catalog.path)
    problems = []
    dependents = _dependents(catalog)
    for pid in sorted(installed):
        release, checksum = catalog.plugins[pid], _checksum(catalog, pid)
        result.installed[pid] = release.version
        if pid in origins:
            result.requested_by[pid] = origins[pid]
        if checksum:
            result.checksums[pid] = checksum
        users = dependents.get(pid)
        if users:
            users = sorted(users & installed)
            if users:
                result.dependency_of[pid] = users
        if _clean(catalog, pid, jenkins) is ADVISED:
            if pid not in deciding:
                return None  # reached through dependencies: its message names the chain the walk takes
            for entry, problem in _advisories(catalog, pid, release, catalog.active_warnings(pid, release.version),
                                              pid, deciding[pid]):
                result.advisories.append(entry)
                problems.append(problem)
    return result, problems


CLEAN, ADVISED = "clean", "advised"  # _clean's answers besides None


def _clean(catalog: Catalog, pid: str, jenkins: str) -> str | None:
    """CLEAN when nothing is to be reported about the catalog's release of `pid` whatever else is
    installed: known, for this Jenkins, every dependency in the catalog at a release that
    satisfies it (optional ones too, when the catalog has them: they may be installed; one it
    lacks can only be requested, and that request is unknown), none named twice, no active
    warning, not deprecated. ADVISED: all that but for warnings or a deprecation. Else None."""
    key = ("clean", pid, jenkins)
    if key not in catalog.closures:
        release = catalog.plugins.get(pid)
        sound = release is not None and (
            (release.required_core is None or compare(release.required_core, jenkins) <= 0)
            and len({d.name for d in release.dependencies}) == len(release.dependencies)
            and all(compare(catalog.plugins[d.name].version, d.version) >= 0 if d.name in catalog.plugins
                    else d.optional for d in release.dependencies))
        advised = sound and (bool(catalog.active_warnings(pid, release.version)) or pid in catalog.deprecations)
        catalog.closures[key] = (ADVISED if advised else CLEAN) if sound else None
    return catalog.closures[key]


def _reach(catalog: Catalog, pid: str, jenkins: str) -> frozenset | None:
    """`pid` and every plugin its non-optional dependencies reach, or None when one is unsound."""
    key = ("reach", pid, jenkins)
    if key not in catalog.closures:
        found, stack = set(), [pid]
        while stack:
            node = stack.pop()
            if node in found:
                continue
            if _clean(catalog, node, jenkins) is None:
                found = None
                break
            found.add(node)
            stack.extend(d.name for d in catalog.plugins[node].dependencies if not d.optional)
        catalog.closures[key] = frozenset(found) if found is not None else None
    return catalog.closures[key]


def _dependents(catalog: Catalog) -> dict[str, frozenset]:
    """id -> the plugins whose catalog release depends on it (optional or not)."""
    if "dependents" not in catalog.closures:
        out: dict[str, set] = {}
        for pid, release in catalog.plugins.items():
            for dep in release.dependencies:
                out.setdefault(dep.name, set()).add(pid)
        catalog.closures["dependents"] = {k: frozenset(v) for k, v in out.items()}
    return catalog.closures["dependents"]


def _checksum(catalog: Catalog, pid: str) -> str | None:
    key = ("sha256", pid)
    if key not in catalog.closures:
        digest = catalog.plugins[pid].sha256
        catalog.closures[key] = _hex(digest) if digest else None
    return catalog.closures[key]


class _Solver:
    """One closure: the requests checked, the dependency walk, then the checks of each release."""

    def __init__(self, catalog: Catalog, specs: tuple, jenkins: str, label: str):
        self.catalog, self.specs, self.jenkins, self.label = catalog, specs, jenkins, label
        self.problems: list[tuple] = []
        self.effective: dict[str, int] = {}  # plugin -> index of the request that decides its version
        self.origins: dict[str, list[str]] = {}
        self.root: dict[str, int] = {}  # plugin -> index of the first request whose walk reaches it
        self.via: dict[str, str | None] = {}  # plugin -> the plugin whose dependency it is (None: requested)

    def problem(self, index: int, message: str, hint: str, severity: str = "error", advisory: tuple = ()) -> None:
        self.problems.append((index, message, hint, severity, advisory))

    def solve(self) -> tuple[Resolution, list[tuple]]:
        catalog = self.catalog
        self.check_requests()
        result = Resolution(self.jenkins, catalog.reference or catalog.path)
        releases = self.walk()
        installed = {pid: release.version for pid, release in releases.items()}
        result.installed = installed
        result.requested_by = {pid: self.origins[pid] for pid in installed if pid in self.origins}
        for pid, release in releases.items():
            if release.sha256:
                result.checksums[pid] = _hex(release.sha256)
            self.check_dependencies(pid, release, installed, result)
            self.check_release(pid, release, result)
        for dependents in result.dependency_of.values():
            dependents.sort()
        result.dependency_of = dict(sorted(result.dependency_of.items()))
        return result, self.problems

    def check_requests(self) -> None:
        """Each request names a plugin and a release the catalog has; the last request of a plugin decides."""
        catalog, jenkins, label = self.catalog, self.jenkins, self.label
        for index, (plugin, version, origin) in enumerate(self.specs):
            known = catalog.versions(plugin)
            if not known:
                close = catalog.close_matches(plugin)
                if close:
                    hint = (f"did you mean {' or '.join(repr(c) for c in close)}? "
                            f"({catalog.reference or catalog.path} lists the plugins of Jenkins {jenkins})")
                else:
                    hint = (f"{label} has no such plugin; if the update site has it, add it with "
                            f"`fleet plugins refresh --from update-center.actual.json --jenkins {jenkins}`")
                self.problem(index, f"{UNKNOWN} '{plugin}'", hint)
                continue
            if catalog.release(plugin, version) is None:
                where = f"no release {version}" if version is not None else "only older releases that must be pinned"
                self.problem(index, f"plugin '{plugin}' has {where} in {label}",
                             f"known: {', '.join(known)}; pin one of them, or add the release with `fleet plugins "
                             f"refresh --from update-center.actual.json --versions plugin-versions.json`")
                continue
            self.effective[plugin] = index
            self.origins.setdefault(plugin, [])
            if origin not in self.origins[plugin]:
                self.origins[plugin].append(origin)

    def walk(self) -> dict[str, Release]:
        """The closure's releases, by plugin id; a dependency the catalog lacks is a problem."""
        catalog, specs, effective, root, via = self.catalog, self.specs, self.effective, self.root, self.via

        def release_of(pid: str) -> Release:
            return catalog.release(pid, specs[effective[pid]][1] if pid in effective else None)

        # Roots in request order, so that `root` names the first request reaching a plugin.
        walked: dict[str, Release] = {}
        missing: set[tuple[str, str]] = set()
        for start in dict.fromkeys(plugin for plugin, _, _ in specs if plugin in effective):
            stack = [(start, None)]
            while stack:
                pid, parent = stack.pop()
                if pid in root or (pid in effective and pid != start):
                    continue  # a requested plugin answers for itself, from its own request
                root[pid], via[pid] = effective[start], parent
                for dep in reversed(walked.setdefault(pid, release_of(pid)).dependencies):
                    if dep.optional and dep.name not in effective:
                        continue
                    if catalog.plugins.get(dep.name) is None and dep.name not in effective:
                        if (pid, dep.name) not in missing:
                            missing.add((pid, dep.name))
                            self.problem(root[pid], f"{_chain(pid, via)} needs plugin '{dep.name}' {dep.version}, "
                                                    f"which {self.label} does not have",
                                         "the catalog is incomplete: refresh it from the update site "
                                         f"(`fleet plugins refresh --from update-center.actual.json --jenkins "
                                         f"{self.jenkins}`)")
                        continue
                    stack.append((dep.name, pid))
        return {pid: walked[pid] for pid in sorted(root)}

    def check_dependencies(self, pid: str, release: Release, installed: dict[str, str], result: Resolution) -> None:
        """Each installed dependency is at least the version the release names (optional or not)."""
        for dep in release.dependencies:
            if dep.name not in installed:
                continue
            result.dependency_of.setdefault(dep.name, []).append(pid)
            have = installed[dep.name]
            if compare(have, dep.version) >= 0:
                continue
            pin = self.effective.get(dep.name)
            what = "an optional dependency" if dep.optional else "a dependency"
            if pin is not None and self.specs[pin][1] is not None:
                self.problem(pin, f"{dep.name} {have} is older than {pid} {release.version} needs ({what}: "
                                  f"{dep.name} >= {dep.version})",
                             f"pin {dep.name}:{dep.version} or newer, or remove the pin")
            else:
                self.problem(self.root[pid], f"{_chain(pid, self.via)} {release.version} needs {dep.name} >= "
                                             f"{dep.version}, but {self.label} has {have}",
                             f"refresh the catalog from a newer update-center file, or pin an older release of {pid}")

    def check_release(self, pid: str, release: Release, result: Resolution) -> None:
        """The release's requiredCore, its active security warnings and a deprecation."""
        catalog, label = self.catalog, self.label
        too_new = release.required_core is not None and compare(release.required_core, self.jenkins) > 0
        warnings = catalog.active_warnings(pid, release.version)
        if not (too_new or warnings or pid in catalog.deprecations):
            return  # the common case: the chain below is built only for a message
        chain, root = _chain(pid, self.via), self.root[pid]
        if too_new:
            self.problem(self.effective.get(pid, root),
                         f"{chain} {release.version} requires Jenkins {release.required_core} or newer; "
                         f"this instance runs {self.jenkins}",
                         f"move the instance to a newer jenkins.version, or pin an older release of {pid} "
                         f"that {label} knows: {', '.join(catalog.versions(pid))}")
        for entry, problem in _advisories(catalog, pid, release, warnings, chain, root):
            result.advisories.append(entry)
            self.problems.append(problem)


def _advisories(catalog: Catalog, pid: str, release: Release, warnings: list, chain: str,
                root: int) -> list[tuple[dict, tuple]]:
    """(model.json advisory, problem) per active security warning of the release, and its deprecation."""
    out = []
    for warning in warnings:
        out.append(({"plugin": pid, "version": release.version, "kind": "security",
                     "id": warning.id, "message": warning.message, "url": warning.url},
                    (root, f"{chain} {release.version} has an active security warning {warning.id}: "
                           f"{warning.message}",
                     f"see {warning.url}; refresh the catalog and use a fixed release, or record why you run it "
                     f"meanwhile under acknowledgedAdvisories in fleet.yaml", WARNING, (pid, warning.id))))
    if pid in catalog.deprecations:
        url = catalog.deprecations[pid]
        out.append(({"plugin": pid, "version": release.version, "kind": "deprecated",
                     "id": "deprecated", "message": "deprecated", "url": url},
                    (root, f"{chain} is deprecated", f"see {url}; plan its replacement", WARNING,
                     (pid, "deprecated"))))
    return out


def _get(data, *path):
    for key in path:
        found = (key in data) if isinstance(data, dict) else (
            isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data))
        if not found:
            return None
        data = data[key]
    return data


def requests_for(fleet_doc: Document, doc: Document, version: str, profiles: tuple[str, ...],
                 context: tuple[str, ...]) -> list[Request]:
    """Every plugin request of one instance, in the order the model applies them."""
    fleet = fleet_doc.data
    fleet_ctx = (f"while resolving the plugins of Jenkins {version} for the fleet",)
    # Monitoring: the last layer that says decides (fleet, then profiles, then the instance).
    indexes = {p.get("name"): i for i, p in enumerate(fleet.get("profiles", []))}
    monitored, where = _get(fleet, "monitoring", "enabled") is True, (fleet_doc, ("monitoring", "enabled"), fleet_ctx)
    for name in profiles:
        value = _get(fleet, "profiles", indexes[name], "set", "monitoring", "enabled")
        if isinstance(value, bool):
            monitored = value
            where = (fleet_doc, ("profiles", indexes[name], "set", "monitoring", "enabled"), fleet_ctx)
    value = _get(doc.data, "monitoring", "enabled")
    if isinstance(value, bool):
        monitored, where = value, (doc, ("monitoring", "enabled"), context)
    out: list[Request] = []
    if monitored:  # first, as in the model: a later request of prometheus decides its version
        out.append(Request("prometheus", None, MONITORING, where[0], where[1], where[2]))
    base = ("controllers", "versions", version, "plugins")
    for i, spec in enumerate(_get(fleet, *base) or []):
        out.append(Request(*parse_spec(spec), FLEET, fleet_doc, base + (i,), fleet_ctx))
    for name in profiles:
        path = ("profiles", indexes[name], "set", "jenkins", "plugins")
        for i, spec in enumerate(_get(fleet, *path) or []):
            out.append(Request(*parse_spec(spec), f"profile {name}", fleet_doc, path + (i,), fleet_ctx))
    for i, spec in enumerate(_get(doc.data, "jenkins", "plugins") or []):
        if isinstance(spec, str):
            out.append(Request(*parse_spec(spec), INSTANCE, doc, ("jenkins", "plugins", i), context))
    return out
