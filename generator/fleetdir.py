"""The fleet directory: find the fleet settings and every instance's files."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from .errors import Diagnostic, FleetError
from .sources import Document, load

FLEET_FILE = "fleet.yaml"
INSTANCE_FILE = "instance.yaml"
OVERRIDE_FILE = "jenkins.yaml"
SCHEMA_LINE = "# yaml-language-server: $schema="
# Directories of the fleet directory that are never instances: the plugin catalogs
# (generator/catalog.py) live in catalogs/.
RESERVED = ("catalogs",)


@dataclass
class InstanceSource:
    name: str  # directory name = fullName
    directory: str
    doc: Document
    override: Document | None  # hand-written JCasC merged over the generated one

    @property
    def files(self) -> list[str]:
        return [self.doc.path] + ([self.override.path] if self.override else [])


@dataclass
class FleetSources:
    directory: str
    fleet: Document
    instances: dict[str, InstanceSource]
    # Jenkins version -> its plugin catalog (generator/catalog.py), loaded once the fleet file is valid
    catalogs: dict = field(default_factory=dict)


def instance_names(directory: str) -> list[str]:
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise FleetError([Diagnostic(directory, 0, 0, "", "instances directory not found",
                                     hint="run from the fleet repository or pass --instances DIR")]) from None
    return [e for e in entries
            if not e.startswith(".") and e not in RESERVED and os.path.isdir(os.path.join(directory, e))]


def select(directory: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Resolve NAME arguments (exact names or shell patterns such as 'ee4j.*')."""
    available = instance_names(directory)
    if not names:
        return available
    chosen: list[str] = []
    diags = []
    for pattern in names:
        hits = fnmatch.filter(available, pattern)
        if not hits:
            import difflib
            close = difflib.get_close_matches(pattern, available, n=3)
            diags.append(Diagnostic(directory, 0, 0, "", f"no instance named '{pattern}'",
                                    hint=(f"did you mean {', '.join(close)}?" if close
                                          else "instance names are the directory names in the instances directory")))
        chosen.extend(h for h in hits if h not in chosen)
    if diags:
        raise FleetError(diags)
    return sorted(chosen)


def read_all(directory: str, names: list[str] | tuple[str, ...] = ()) -> tuple[FleetSources | None, list[Diagnostic]]:
    """Load fleet.yaml and the selected instances, keeping going past unreadable files.

    Returns the sources that loaded (None when fleet.yaml did not) and a
    diagnostic for every file that did not, so one broken file never hides the
    problems of the others.
    """
    diags: list[Diagnostic] = _hidden_instances(directory) if not names else []
    fleet_doc = None
    try:
        fleet_doc = load(os.path.join(directory, FLEET_FILE))
    except FleetError as exc:
        diags.extend(exc.diagnostics)
    instances: dict[str, InstanceSource] = {}
    for name in select(directory, names):
        inst_dir = os.path.join(directory, name)
        override_path = os.path.join(inst_dir, OVERRIDE_FILE)
        doc = override = None
        try:
            doc = load(os.path.join(inst_dir, INSTANCE_FILE))
        except FleetError as exc:
            diags.extend(exc.diagnostics)
        if os.path.exists(override_path):
            try:
                override = load(override_path)
            except FleetError as exc:
                diags.extend(exc.diagnostics)
                doc = None  # an instance whose override is unreadable is not modelled
        if doc is not None:
            instances[name] = InstanceSource(name, inst_dir, doc, override)
    return (FleetSources(directory, fleet_doc, instances) if fleet_doc is not None else None), diags


def _hidden_instances(directory: str) -> list[Diagnostic]:
    """Instance files in dot-directories, which the fleet would otherwise skip without a word."""
    try:
        hidden = sorted(e for e in os.listdir(directory) if e.startswith(".")
                        and os.path.isfile(os.path.join(directory, e, INSTANCE_FILE)))
    except OSError:
        return []
    reserved = sorted(e for e in RESERVED if os.path.isfile(os.path.join(directory, e, INSTANCE_FILE)))
    return [Diagnostic(os.path.join(directory, e, INSTANCE_FILE), 0, 0, "",
                       f"the directory name '{e}' starts with '.', so this instance is not part of the fleet",
                       hint="name the directory after the instance's fullName") for e in hidden] + [
        Diagnostic(os.path.join(directory, e, INSTANCE_FILE), 0, 0, "",
                   f"'{e}/' is reserved for the fleet's plugin catalogs, so this instance is not part of the fleet",
                   hint="give the instance a dotted fullName such as 'technology.cbi' and name its directory so")
        for e in reserved]


def read(directory: str, names: list[str] | tuple[str, ...] = ()) -> FleetSources:
    """Load fleet.yaml and the selected instances; raise with every unreadable file at once."""
    sources, diags = read_all(directory, names)
    if diags or sources is None:
        raise FleetError(diags)
    return sources


def matching_profiles(fleet: dict, full_name: str) -> tuple[str, ...]:
    return tuple(p["name"] for p in fleet.get("profiles", [])
                 if any(fnmatch.fnmatchcase(full_name, pat) for pat in p["match"]))
