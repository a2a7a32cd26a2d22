"""The fleet directory: its layout, the fleet settings and every instance's files.

Everything here comes from pull requests, so nothing is reached through a symbolic link:
the directory, each instance directory and each file is opened with O_NOFOLLOW relative
to its parent's descriptor (generator/nofollow.py), and a link anywhere is an error that
names the link. Whatever else lies in the directory is reported with where it belongs.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import nofollow
from .errors import WARNING, Diagnostic, FleetError
from .names import matches, select_names
from .sources import Document, load, parse_text, read_text

FLEET_FILE = "fleet.yaml"
INSTANCE_FILE = "instance.yaml"
OVERRIDE_FILE = "jenkins.yaml"
SCHEMA_LINE = "# yaml-language-server: $schema="


def schema_modeline(schemas: str, schema: str, directory: str) -> str:
    """The first line of a file written into `directory`: the editors' modeline naming `schema` of
    the `schemas` directory in use, relative to the file (../../schemas/... in the repository's
    instances/<name>/, and a path that leads to the schemas wherever the fleet directory is)."""
    rel = os.path.relpath(os.path.join(os.path.abspath(schemas), schema), os.path.abspath(directory))
    return SCHEMA_LINE + rel.replace(os.sep, "/")
# The layout, in one place: what the fleet directory holds besides one directory per instance,
# and what an instance directory holds. Anything else is reported (hidden entries aside: editor
# and version-control files). Extend these when a new kind of file joins the fleet.
FLEET_FILES = {FLEET_FILE: "the fleet settings"}
# never instances: the plugin catalogs (generator/catalog.py) live in catalogs/
RESERVED_DIRS = {"catalogs": "plugin catalogs, referenced from fleet.yaml"}
INSTANCE_FILES = {INSTANCE_FILE: "the instance definition", OVERRIDE_FILE: "the hand-written JCasC override"}
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class InstanceSource:
    name: str  # directory name = fullName
    directory: str
    doc: Document
    override: Document | None  # hand-written JCasC merged over the generated one
    fingerprint: str = ""  # sha256 of the files' text (fingerprint()): what a settled record names

    @property
    def files(self) -> list[str]:
        return [self.doc.path] + ([self.override.path] if self.override else [])


class SettledInstanceSource(InstanceSource):
    """An instance whose files were not parsed: their fingerprint is one whose checks found
    nothing, under the same fleet settings, catalogs and code (fleet.Settled). Parsed on first
    use (a message that must point into it), from the text that was read, or read then when the
    files' metadata showed them unchanged since they were fingerprinted (`texts` None)."""

    def __init__(self, name: str, directory: str, texts: dict[str, str] | None, fingerprint: str):
        self.name, self.directory, self.fingerprint = name, directory, fingerprint
        self._texts, self._parsed = texts, None

    def texts(self) -> dict[str, str]:
        """Raises FleetError when a file can no longer be read (or the directory is now a link)."""
        if self._texts is None:
            fd = _open_instance(self.directory, self.directory)  # as read_all reads: never through a link
            try:
                names = [n for n in (INSTANCE_FILE, OVERRIDE_FILE) if n == INSTANCE_FILE or n in _entries(fd)]
                self._texts = {n: read_text(os.path.join(self.directory, n), dir_fd=fd) for n in names}
            finally:
                os.close(fd)
        return self._texts

    def _documents(self) -> tuple[Document, Document | None]:
        if self._parsed is None:
            texts = self.texts()
            self._parsed = (_parse_instance_file(self.directory, texts[INSTANCE_FILE]),
                            _parse_override(self.directory, texts[OVERRIDE_FILE])
                            if OVERRIDE_FILE in texts else None)
        return self._parsed

    @property
    def doc(self) -> Document:
        return self._documents()[0]

    @property
    def override(self) -> Document | None:
        return self._documents()[1]


def fingerprint(texts: dict[str, str]) -> str:
    """sha256 of an instance's files by name (instance.yaml, jenkins.yaml when present)."""
    h = hashlib.sha256()
    for name in sorted(texts):
        data = texts[name].encode()
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


# A settled instance's record may add, after '@', what the file system said of its directory
# and files when they were read (inode, size, times, as git's index does): the same answer now
# means the same files, and they are not read again (10,000 instance directories: 0.25 s read,
# 0.05 s looked at). Not recorded for anything changed in the last seconds before the read: a
# write in the same clock tick as the read could leave the times as they were (git's "racy" files).
RACY_NS = 2_000_000_000


def _metadata(inst_dir: str, files: list[str], since_ns: int) -> str:
    """The digest of the instance directory's and its files' metadata, or "" when any of them
    changed after `since_ns` (or is not a plain directory or file)."""
    parts = [inst_dir]
    for path, want in ((inst_dir, stat.S_IFDIR), *((f"{inst_dir}/{f}", stat.S_IFREG) for f in files)):
        try:
            info = os.lstat(path)
        except OSError:
            return ""
        if stat.S_IFMT(info.st_mode) != want or info.st_ctime_ns >= since_ns or info.st_mtime_ns >= since_ns:
            return ""
        parts += (info.st_mode, info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    # "+": with an override, so that a record says which files it covers
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + ("+" if OVERRIDE_FILE in files else "")


def _unchanged(inst_dir: str, recorded: str) -> bool:
    """Whether an instance's directory and files answer as when `recorded` (a settled record) was made."""
    meta = recorded.partition("@")[2]
    if not meta:
        return False
    files = [INSTANCE_FILE, OVERRIDE_FILE] if meta.endswith("+") else [INSTANCE_FILE]
    return _metadata(inst_dir, files, 1 << 62) == meta


def _parse_instance_file(inst_dir: str, text: str) -> Document:
    return parse_text(text, os.path.join(inst_dir, INSTANCE_FILE), strict_scalars=True)


def _parse_override(inst_dir: str, text: str) -> Document:
    return parse_text(text, os.path.join(inst_dir, OVERRIDE_FILE))


@dataclass
class FleetSources:
    directory: str
    fleet: Document
    instances: dict[str, InstanceSource]
    # Jenkins version -> its plugin catalog (generator/catalog.py), loaded once the fleet file is valid
    catalogs: dict = field(default_factory=dict)


# --- the directory --------------------------------------------------------------------------

@contextmanager
def _opened(directory: str) -> Iterator[int]:
    """The fleet directory's descriptor; the same errors for every command that reads it."""
    try:
        fd = nofollow.open_dir(directory.rstrip("/") or "/")
    except FileNotFoundError:
        raise FleetError([Diagnostic(directory, 0, 0, "", "instances directory not found",
                                     hint="run from the fleet repository or pass --instances DIR")]) from None
    except OSError as exc:
        if nofollow.is_link_error(exc):
            raise FleetError([nofollow.link_diagnostic(directory)]) from None
        raise FleetError([Diagnostic(directory, 0, 0, "", f"cannot read the instances directory: {exc.strerror}",
                                     hint="pass the fleet's instances directory with --instances DIR")]) from None
    try:
        yield fd
    finally:
        os.close(fd)


def require(directory: str) -> None:
    """Raise FleetError as `fleet validate` would when `directory` is not a readable fleet directory."""
    with _opened(directory):
        pass


def _entries(fd: int) -> dict[str, str]:
    """name -> 'dir', 'file', 'link' or 'other', from the directory listing alone (no stat per entry)."""
    out = {}
    with os.scandir(fd) as it:
        for e in it:
            out[e.name] = ("link" if e.is_symlink() else "dir" if e.is_dir(follow_symlinks=False)
                           else "file" if e.is_file(follow_symlinks=False) else "other")
    return out


def _instance_dirs(entries: dict[str, str]) -> list[str]:
    return sorted(n for n, kind in entries.items()
                  if kind == "dir" and not n.startswith(".") and n not in RESERVED_DIRS)


def instance_names(directory: str) -> list[str]:
    with _opened(directory) as fd:
        return _instance_dirs(_entries(fd))


def select(directory: str, names: list[str] | tuple[str, ...]) -> list[str]:
    """Resolve NAME arguments (exact names or shell patterns such as 'ee4j.*')."""
    return _select(directory, instance_names(directory), names)


def _select(directory: str, available: list[str], names) -> list[str]:
    return select_names(available, names, where=directory,
                        hint="instance names are the directory names in the instances directory")


# --- reading --------------------------------------------------------------------------------

def load_fleet(directory: str) -> Document:
    """fleet.yaml alone (for commands that read no instance)."""
    with _opened(directory) as fd:
        return _load_fleet(directory, fd, _entries(fd))


def _load_fleet(directory: str, fd: int, entries: dict[str, str]) -> Document:
    path = os.path.join(directory, FLEET_FILE)
    if FLEET_FILE not in entries:
        near = _variants(FLEET_FILE, entries)
        hint = (f"{_both(directory, near)} beside it: rename it to {FLEET_FILE}" if near
                else "is this the fleet's instances directory? "
                     "it needs the fleet settings (README.md, 'Fleet settings')")
        raise FleetError([Diagnostic(path, 0, 0, "", "file not found", hint=hint)])
    return load(path, dir_fd=fd, strict_scalars=True)


def read_all(directory: str, names: list[str] | tuple[str, ...] = (),
             settled: Mapping[str, str] | None = None) -> tuple[FleetSources | None, list[Diagnostic]]:
    """Load fleet.yaml and the selected instances, keeping going past unreadable files.

    Returns the sources that loaded (None when fleet.yaml did not) and a
    diagnostic for every file that did not, and for every entry that is not part
    of the layout, so one broken file never hides the problems of the others.
    settled: name -> the fingerprint recorded for an instance that needs no parsing if its files
    are the same (fleet.Settled); such an instance is then a SettledInstanceSource.
    """
    with _opened(directory) as root:
        entries = _entries(root)
        diags: list[Diagnostic] = [] if names else _layout(directory, root, entries)
        fleet_doc = None
        try:
            fleet_doc = _load_fleet(directory, root, entries)
        except FleetError as exc:
            diags.extend(exc.diagnostics)
        instances: dict[str, InstanceSource] = {}
        since = time.time_ns() - RACY_NS
        for name in _select(directory, _instance_dirs(entries), names):
            recorded = settled.get(name) if settled else None
            if recorded and _unchanged(f"{directory}/{name}", recorded):
                instances[name] = SettledInstanceSource(name, os.path.join(directory, name), None, recorded)
                continue
            src, found = _read_instance(directory, root, name, recorded, since)
            diags.extend(found)
            if src is not None:
                instances[name] = src
    return (FleetSources(directory, fleet_doc, instances) if fleet_doc is not None else None), diags


def _open_instance(inst_dir: str, path: str, dir_fd: int | None = None) -> int:
    """The instance directory's descriptor, never through a link; FleetError naming `inst_dir`."""
    try:
        return nofollow.open_dir(path, dir_fd=dir_fd)
    except OSError as exc:
        if nofollow.is_link_error(exc):
            raise FleetError([nofollow.link_diagnostic(inst_dir)]) from None
        raise FleetError([Diagnostic(inst_dir, 0, 0, "", f"cannot read the instance directory: {exc.strerror}")]) \
            from None


def _read_instance(directory: str, root: int, name: str, recorded: str | None = None,
                   since: int = 0) -> tuple[InstanceSource | None, list[Diagnostic]]:
    inst_dir = os.path.join(directory, name)
    try:
        fd = _open_instance(inst_dir, name, root)
    except FleetError as exc:  # swapped for a link or removed since the listing
        return None, exc.diagnostics
    try:
        entries = _entries(fd)
        diags = _instance_layout(inst_dir, fd, entries)
        if INSTANCE_FILE not in entries:
            return None, diags + _missing_instance_file(inst_dir, fd, entries)
        files = [INSTANCE_FILE, OVERRIDE_FILE] if OVERRIDE_FILE in entries else [INSTANCE_FILE]
        # Before the read: a change during it shows as a later time next run.
        meta = _metadata(f"{directory}/{name}", files, since) if since else ""
        texts: dict[str, str] = {}
        for file in files:
            try:
                texts[file] = read_text(os.path.join(inst_dir, file), dir_fd=fd)
            except FleetError as exc:
                diags.extend(exc.diagnostics)
    finally:
        os.close(fd)
    if len(texts) < len(files):
        return None, diags  # an instance with an unreadable file is not modelled
    printed = fingerprint(texts)
    if meta:
        printed += "@" + meta
    if recorded is not None and not diags and recorded.partition("@")[0] == printed.partition("@")[0]:
        return SettledInstanceSource(name, inst_dir, texts, printed), diags
    src, found = _parsed(name, inst_dir, texts, printed)
    return src, diags + found


def _parsed(name: str, inst_dir: str, texts: dict[str, str], printed: str) -> tuple[InstanceSource | None,
                                                                                  list[Diagnostic]]:
    diags: list[Diagnostic] = []
    doc = override = None
    try:
        doc = _parse_instance_file(inst_dir, texts[INSTANCE_FILE])
    except FleetError as exc:
        diags.extend(exc.diagnostics)
    if OVERRIDE_FILE in texts:
        try:
            override = _parse_override(inst_dir, texts[OVERRIDE_FILE])
        except FleetError as exc:
            diags.extend(exc.diagnostics)
            doc = None  # an instance whose override is unreadable is not modelled
    return (InstanceSource(name, inst_dir, doc, override, printed) if doc is not None else None), diags


def unsettle(sources: FleetSources) -> list[Diagnostic]:
    """Parse every SettledInstanceSource of `sources` now (their record does not hold: another
    context), as read_all would have: an instance that no longer parses is dropped and reported,
    with every other problem, instead of failing on first use."""
    diags: list[Diagnostic] = []
    for name, src in list(sources.instances.items()):
        if isinstance(src, SettledInstanceSource):
            try:
                texts = src.texts()
            except FleetError as exc:
                diags.extend(exc.diagnostics)
                del sources.instances[name]
                continue
            parsed, found = _parsed(name, src.directory, texts, src.fingerprint)
            diags.extend(found)
            if parsed is None:
                del sources.instances[name]
            else:
                sources.instances[name] = parsed
    return diags


def read(directory: str, names: list[str] | tuple[str, ...] = ()) -> FleetSources:
    """Load fleet.yaml and the selected instances; raise with every unreadable file at once."""
    sources, diags = read_all(directory, names)
    if any(d.is_error for d in diags) or sources is None:
        raise FleetError(diags)
    return sources


# --- the layout ------------------------------------------------------------------------------

def _variants(name: str, entries: dict[str, str]) -> list[str]:
    """Other spellings of a layout file's name present in `entries` (instance.yml, Instance.yaml)."""
    stem = name.rsplit(".", 1)[0].lower()
    return sorted(e for e, kind in entries.items() if e != name and kind == "file"
                  and e.lower() in {stem + s for s in YAML_SUFFIXES})


def _both(directory: str, names: list[str]) -> str:
    return " and ".join(os.path.join(directory, n) for n in names) + (" are" if len(names) > 1 else " is")


def _has_instance_file(fd: int, name: str) -> bool:
    """Whether directory `name` (not a link) holds an instance.yaml (not a link either)."""
    try:
        sub = nofollow.open_dir(name, dir_fd=fd)
    except OSError:
        return False
    try:
        os.stat(INSTANCE_FILE, dir_fd=sub, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        os.close(sub)


def _stray(path: str, what: str, hint: str) -> Diagnostic:
    return Diagnostic(path, 0, 0, "", f"{what} is not part of the fleet layout and is not read",
                      hint=hint, severity=WARNING)


def _layout(directory: str, root: int, entries: dict[str, str]) -> list[Diagnostic]:
    """What the fleet directory holds besides fleet.yaml, instance and reserved directories."""
    layout_hint = (f"the instances directory holds {FLEET_FILE}, one directory per instance "
                   f"(instances/<fullName>/{INSTANCE_FILE}) and {', '.join(d + '/' for d in RESERVED_DIRS)}; "
                   "move this elsewhere")
    diags = []
    for name, kind in sorted(entries.items()):
        path = os.path.join(directory, name)
        if name.startswith("."):
            if kind == "dir" and _has_instance_file(root, name):  # skipped silently otherwise
                diags.append(Diagnostic(os.path.join(path, INSTANCE_FILE), 0, 0, "",
                                        f"the directory name '{name}' starts with '.', so this instance "
                                        "is not part of the fleet",
                                        hint="name the directory after the instance's fullName"))
        elif kind == "link":
            if name != FLEET_FILE:  # reported by its load
                diags.append(nofollow.link_diagnostic(path))
        elif kind == "dir" and name in RESERVED_DIRS and _has_instance_file(root, name):
            diags.append(Diagnostic(os.path.join(path, INSTANCE_FILE), 0, 0, "",
                                    f"'{name}/' is reserved for the fleet's {RESERVED_DIRS[name].split(',')[0]}, "
                                    "so this instance is not part of the fleet",
                                    hint="give the instance a dotted fullName such as 'technology.cbi' and name "
                                         "its directory so"))
        elif kind == "dir" or name in FLEET_FILES:
            continue  # an instance (read and checked as one), a reserved directory, fleet.yaml
        elif kind == "file" and name.lower().endswith(YAML_SUFFIXES):
            stem = name.rsplit(".", 1)[0]
            if name.lower() in {FLEET_FILE.rsplit(".", 1)[0] + s for s in YAML_SUFFIXES}:
                if FLEET_FILE not in entries:
                    continue  # the missing fleet.yaml's error names it
                diags.append(Diagnostic(path, 0, 0, "", f"this file is not read: the fleet settings are {FLEET_FILE}",
                                        hint=f"merge it into {FLEET_FILE} and remove it"))
            else:
                target = os.path.join(directory, stem, INSTANCE_FILE)
                diags.append(Diagnostic(path, 0, 0, "", "this file is not read: instance files are "
                                        f"{os.path.join(directory, '<fullName>', INSTANCE_FILE)}",
                                        hint=f"move it: mkdir {os.path.join(directory, stem)} && mv {path} {target}"))
        else:
            diags.append(_stray(path, "this file" if kind == "file" else "this entry", layout_hint))
    return diags


def _instance_layout(inst_dir: str, fd: int, entries: dict[str, str]) -> list[Diagnostic]:
    """Entries of an instance directory besides instance.yaml and jenkins.yaml."""
    hint = (f"an instance directory holds {INSTANCE_FILE} and, optionally, {OVERRIDE_FILE}; "
            "move other files out of the instances directory")
    diags = []
    for name, kind in sorted(entries.items()):
        path = os.path.join(inst_dir, name)
        if name in INSTANCE_FILES or name.startswith("."):
            continue  # read (a link among them is refused by load), or hidden
        if kind == "link":
            diags.append(nofollow.link_diagnostic(path))
            continue
        meant = next((known for known in INSTANCE_FILES if name in _variants(known, entries)), None)
        if meant == INSTANCE_FILE and INSTANCE_FILE not in entries:
            continue  # the missing instance.yaml's error names it
        if meant:
            diags.append(Diagnostic(path, 0, 0, "", f"this file is not read: {INSTANCE_FILES[meant]} is {meant}",
                                    hint=f"rename it to {meant}" if meant not in entries
                                    else f"merge it into {meant} and remove it"))
        elif kind == "dir" and _has_instance_file(fd, name):
            if INSTANCE_FILE in entries:  # otherwise the nested instance is reported with the missing file
                diags.append(_nested(inst_dir, name))
        else:
            diags.append(_stray(path, "this directory" if kind == "dir" else "this file", hint))
    return diags


def _nested(inst_dir: str, name: str) -> Diagnostic:
    parent, outer = os.path.split(inst_dir)
    flat = os.path.join(parent, f"{outer}.{name}")
    return Diagnostic(os.path.join(inst_dir, name, INSTANCE_FILE), 0, 0, "",
                      "instance directories are not nested, so this instance is not read",
                      hint=f"a fullName's dots separate its parts: move it to {flat}/ "
                           f"(mv {os.path.join(inst_dir, name)} {flat})")


def _missing_instance_file(inst_dir: str, fd: int, entries: dict[str, str]) -> list[Diagnostic]:
    nested = [n for n, kind in sorted(entries.items()) if kind == "dir" and _has_instance_file(fd, n)]
    if nested:
        return [_nested(inst_dir, n) for n in nested]
    near = _variants(INSTANCE_FILE, entries)
    hint = (f"{_both(inst_dir, near)} beside it: rename it to {INSTANCE_FILE}" if near else
            f"each directory in the instances directory is one instance: add {INSTANCE_FILE} "
            "(fleet new FULLNAME writes one) or remove the directory")
    return [Diagnostic(os.path.join(inst_dir, INSTANCE_FILE), 0, 0, "", "file not found", hint=hint)]


def matching_profiles(fleet: dict, full_name: str) -> tuple[str, ...]:
    return tuple(p["name"] for p in fleet.get("profiles", [])
                 if matches(full_name, p["match"]))
