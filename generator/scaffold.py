"""`fleet new`: a new instance file that follows the fleet's conventions, checked before it is written.

What the file states (the conventions of the sample fleet, docs/adding-a-project.md):
the schema line first, so editors validate and complete it; project.fullName and
project.displayName (required); resourcePacks only when it is not the default of
1; packsApproval when given; deployment.cluster only when it differs from what
fleet.yaml's defaults and matching profiles already choose. Everything else comes
from the fleet defaults and is added by hand when it differs.

The file is validated together with the whole fleet (generator.fleet.validate on
a view of the instances directory that includes it), so a namespace or URL that
another instance already uses is refused; only then is it written, atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace

import yaml

from . import fleet as fleet_mod
from . import fleetdir, yamlout
from .checks import DNS_LABEL
from .errors import Diagnostic, FleetError
from .fleetdir import INSTANCE_FILE, schema_modeline
from .model import ModelEngine, ModelInput
from .schema import Schemas, validate_document

MAX_NAME = 63  # instance.schema.json project.fullName maxLength
MAX_DISPLAY_NAME = 200
NOTE = ("# Created by 'fleet new'. State only what differs from the fleet defaults "
        "(docs/adding-a-project.md).\n")
_SEGMENT = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Request:
    full_name: str
    display_name: str
    packs: int | None = None  # None: the default (1)
    cluster: str | None = None  # None: what the defaults and profiles choose
    packs_approval: str | None = None


@dataclass
class Created:
    path: str  # the instance file written
    text: str
    cluster: str
    namespace: str
    url: str
    packs: int
    quota: dict  # model resources.quota: pods, requestsCpuMillis, requestsMemoryMiB, limits...
    max_packs: int | None  # fleet policy.maxPacks
    warnings: list[Diagnostic] = field(default_factory=list)


def instance_path(paths: fleet_mod.Paths, name: str) -> str:
    return os.path.join(paths.instances, name, INSTANCE_FILE)


def _refuse(where: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(where, 0, 0, "", message, hint=hint, context=("while creating a new instance",))


def _suggest_name(name: str) -> str:
    """The closest name check_name accepts (lowercase, '-' for any other character), or '' if none."""
    segments = [re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", s.lower())).strip("-") for s in name.split(".")]
    candidate = ".".join(s for s in segments if s)
    ok = ("." in candidate and len(candidate) <= MAX_NAME and all(_SEGMENT.fullmatch(s) for s in candidate.split("."))
          and DNS_LABEL.fullmatch(candidate.rsplit(".", 1)[-1]))
    return candidate if ok else ""


def check_name(paths: fleet_mod.Paths, name: str) -> list[Diagnostic]:
    """Why `name` cannot be a new instance's fullName (empty when it can)."""
    where = paths.instances
    if not name:
        return [_refuse(where, "the instance name is empty", "a dotted lowercase name such as technology.cbi")]
    suggestion = _suggest_name(name)
    use = f": '{suggestion}'" if suggestion and suggestion != name else ""
    if name != name.lower() and all(_SEGMENT.fullmatch(s) for s in name.lower().split(".")):
        return [_refuse(where, f"'{name}' is not lowercase", f"instance names are lowercase{use}")]
    if "." not in name:
        return [_refuse(where, f"'{name}' is not a dotted name",
                        hint="the fleet names instances <top-level project>.<project>, e.g. "
                             f"{_suggest_name('technology.' + name) or 'technology.cbi'}")]
    if len(name) > MAX_NAME:
        return [_refuse(where, f"'{name}' is longer than {MAX_NAME} characters")]
    bad = [s for s in name.split(".") if not _SEGMENT.fullmatch(s.lower())]  # beyond the case, if any
    bad = bad or [s for s in name.split(".") if not _SEGMENT.fullmatch(s)]
    if bad:
        lower = "instance names are lowercase; " if name != name.lower() else ""
        return [_refuse(where, f"'{name}' is not a valid instance name (segment '{bad[0]}')",
                        hint=f"{lower}each dot-separated segment uses a-z, 0-9 and '-', and starts and ends with "
                             f"a letter or digit{use}")]
    short = name.rsplit(".", 1)[-1]
    if not DNS_LABEL.fullmatch(short):
        return [_refuse(where, f"the short name '{short}' is not a DNS-1123 label",
                        hint="it names the namespace and the objects: a-z, 0-9, '-', at most 63 characters")]
    if os.path.lexists(os.path.join(paths.instances, name)):
        return [_refuse(os.path.join(paths.instances, name), f"instance '{name}' already exists",
                        hint=f"edit {instance_path(paths, name)} instead, or choose another name")]
    return []


def check_request(paths: fleet_mod.Paths, req: Request, fleet: dict) -> list[Diagnostic]:
    diags = check_name(paths, req.full_name)
    where = paths.instances if diags else instance_path(paths, req.full_name)
    if not req.display_name.strip():
        diags.append(_refuse(where, "the display name is empty", 'e.g. --display-name "Eclipse CBI"'))
    elif _CONTROL.search(req.display_name):
        diags.append(_refuse(where, "the display name must be one line without control characters"))
    elif len(req.display_name) > MAX_DISPLAY_NAME:
        diags.append(_refuse(where, f"the display name is longer than {MAX_DISPLAY_NAME} characters"))
    if req.packs is not None and req.packs < 1:
        diags.append(_refuse(where, f"--packs {req.packs}: an instance needs at least 1 resource pack",
                             hint="one pack = two parallel builds = 2 vCPU / 8 GiB"))
    clusters = [c.get("name") for c in fleet.get("clusters", []) if isinstance(c, dict)]
    if req.cluster is not None and req.cluster not in clusters:
        diags.append(_refuse(where, f"unknown cluster '{req.cluster}'",
                             hint=f"clusters in fleet.yaml: {', '.join(clusters)}"))
    if req.packs_approval is not None and not req.packs_approval.strip():
        diags.append(_refuse(where, "--packs-approval is empty", "a ticket URL or id"))
    return diags


def default_cluster(fleet: dict, name: str) -> str | None:
    """The cluster an instance gets without stating one: fleet defaults, then matching profiles in order."""
    cluster = fleet.get("defaults", {}).get("cluster")
    by_name = {p.get("name"): p for p in fleet.get("profiles", [])}
    for profile in fleetdir.matching_profiles(fleet, name):
        cluster = by_name[profile].get("set", {}).get("deployment", {}).get("cluster", cluster)
    return cluster


def content(paths: fleet_mod.Paths, req: Request, fleet: dict) -> tuple[dict, str]:
    """The instance data and the file text."""
    project: dict = {"fullName": req.full_name, "displayName": req.display_name}
    if req.packs is not None and req.packs != 1:
        project["resourcePacks"] = req.packs
    if req.packs_approval:
        project["packsApproval"] = req.packs_approval.strip()
    data: dict = {"project": project}
    if req.cluster is not None and req.cluster != default_cluster(fleet, req.full_name):
        data["deployment"] = {"cluster": req.cluster}
    lines = [schema_modeline(paths.schemas, "instance.schema.json", os.path.join(paths.instances, req.full_name)),
             NOTE.rstrip("\n")]
    for section, values in data.items():
        lines.append(f"{section}:")
        lines.extend(f"  {key}: {_scalar(value)}" for key, value in values.items())
    return data, "\n".join(lines) + "\n"


def _scalar(value) -> str:
    """Plain when it reads back as the same string (displayName: Eclipse CBI, as the fleet writes it)."""
    if isinstance(value, str) and value == value.strip() and value and value[0] not in "\"'&*!|>%@`{[":
        try:
            if yaml.safe_load(f"k: {value}\n") == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    return yamlout.dump({"k": value}, sort_keys=False)[len("k: "):].rstrip("\n")


def create(paths: fleet_mod.Paths, req: Request, jobs: int = 1) -> Created:
    """Check, validate with the whole fleet, then write instances/<name>/instance.yaml; nothing on failure."""
    fleet_doc = fleetdir.load_fleet(paths.instances)
    bad = [d for d in validate_document(fleet_doc, Schemas(paths.schemas).fleet, "while validating the fleet settings")
           if d.is_error]
    if bad:
        raise FleetError(bad)  # the defaults and profiles below need a sound fleet file
    diags = check_request(paths, req, fleet_doc.data)
    if diags:
        raise FleetError(diags)
    data, text = content(paths, req, fleet_doc.data)
    warnings = _validate_with_fleet(paths, req.full_name, text, jobs)
    model = ModelEngine(paths.templates).evaluate(
        fleet_doc.data, [ModelInput(req.full_name, data, fleetdir.matching_profiles(fleet_doc.data, req.full_name))],
        objects=False)[req.full_name]["model"]
    path = _write(paths, req.full_name, text)
    dep = model["deployment"]
    return Created(path, text, dep["cluster"], dep["namespace"], dep["url"], model["project"]["resourcePacks"],
                   model["resources"]["quota"], fleet_doc.data.get("policy", {}).get("maxPacks"), warnings)


def _validate_with_fleet(paths: fleet_mod.Paths, name: str, text: str, jobs: int) -> list[Diagnostic]:
    """fleet.validate over the instances directory as it would be with the new file.

    The view is a temporary copy of the real directory (hard links to its files
    where the file system allows) plus the new instance, so that nothing appears
    in the real directory before the file is known to be good. Links are copied
    as links, which the validation refuses as it would in the real directory.
    Diagnostics name the real paths.
    """
    view = tempfile.mkdtemp(prefix="fleet-new-")
    try:
        shutil.copytree(os.path.abspath(paths.instances), view, symlinks=True, copy_function=_link_or_copy,
                        dirs_exist_ok=True)
        os.mkdir(os.path.join(view, name))
        with open(os.path.join(view, name, INSTANCE_FILE), "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            warnings = fleet_mod.validate(replace(paths, instances=view), jobs=jobs, introduced={name})
        except FleetError as exc:
            diags = [_relocate(d, view, paths.instances) for d in exc.diagnostics]
            ours = instance_path(paths, name)
            if any(d.is_error and d.file == ours for d in diags):
                # The other side of a clash (the instance already using the namespace) is named in ours.
                diags = [d for d in diags if d.file == ours]
            else:
                diags.append(Diagnostic(paths.instances, 0, 0, "", "the fleet already has errors in other files; "
                                        "fix them first: a new instance is validated with the whole fleet",
                                        context=(f"while creating instance '{name}'",)))
            raise FleetError(diags) from None
        return [_relocate(d, view, paths.instances) for d in warnings]
    finally:
        shutil.rmtree(view, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:  # another file system, or links not supported
        shutil.copy2(src, dst, follow_symlinks=False)


def _relocate(d: Diagnostic, view: str, instances: str) -> Diagnostic:
    prefix = os.path.join(view, "")
    if d.file == view:
        return replace(d, file=instances)
    if d.file.startswith(prefix):
        return replace(d, file=os.path.join(instances, d.file[len(prefix):]))
    return d


def _write(paths: fleet_mod.Paths, name: str, text: str) -> str:
    """Stage the directory under a hidden name beside the others (ignored by every fleet command) and rename
    it into place: the instance appears whole or not at all."""
    target_dir = os.path.join(paths.instances, name)
    stage = os.path.join(paths.instances, f".{name}.new-{os.getpid()}")
    try:
        os.mkdir(stage)
        with open(os.path.join(stage, INSTANCE_FILE), "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.lexists(target_dir):
            raise FleetError(check_name(paths, name) or [_refuse(target_dir, f"instance '{name}' already exists")])
        try:
            os.rename(stage, target_dir)  # refuses a non-empty target directory
        except OSError as exc:
            raise FleetError([_refuse(target_dir, f"cannot create {target_dir}: {exc.strerror or exc}")]) from None
        _fsync_dir(paths.instances)
    except OSError as exc:
        raise FleetError([_refuse(target_dir, f"cannot write {target_dir}: {exc.strerror or exc}")]) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return instance_path(paths, name)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not support it; the rename is done either way
    finally:
        os.close(fd)


def over_policy(created: Created) -> bool:
    return created.max_packs is not None and created.packs > created.max_packs


__all__ = ["Created", "Request", "check_name", "check_request", "content", "create", "default_cluster",
           "over_policy"]
