"""Canonical serialisation and the atomic output tree.

The new tree is written beside the old one and swapped in whole (kapitan
style), under a lock, so a crash or an error leaves the previous output
intact and two runs never mix their files.

Only trees this tool wrote on this machine are trusted: the state file beside the output
(.NAME.cache.json) records each by its fleet.json's sha256, inode and change time (which
a copy, a checkout or anyone else's file does not share), under an HMAC whose key lives
outside the repository. A `build/`, `.build.spare` or state file that came with a clone
or a pull request is never reused, and a directory this tool did not write is never
replaced. Nothing beside the output (lock, spare, index, state) is opened through a link.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import hashlib
import hmac
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Self

import lz4.block
import orjson

from . import nofollow, yamlout
from .errors import (
    Diagnostic,
    FleetError,
    OutputBusyError,
    OutputWriteError,
    display_path,
    plural,
)

INDEX = "fleet.json"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def dump_yaml(data, *, sort_keys: bool) -> str:
    """Canonical block YAML; multi-line strings as literal blocks for readable diffs."""
    return yamlout.dump(data, sort_keys=sort_keys)


def dump_json(data, *, plain: bool = False) -> str:
    """json.dumps(indent=2, sort_keys=True, ensure_ascii=False) to the byte, 15x faster with orjson
    (model.json and the index are written for every instance: 0.3 ms of 2.8 ms per instance). The
    two differ only on numbers: small or huge floats (1e-05 against 0.00001), NaN, integers beyond
    64 bits; data holding such a number takes the standard library (tests/properties/
    test_dump_json_properties.py). plain: the caller knows the data holds no number at all but
    booleans and small integers (the index: 20 MB at 10,000 instances, whose scan took 0.1 s)."""
    if plain or _orjson_safe(data):
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
        except orjson.JSONEncodeError:
            pass  # a string that is not valid Unicode (a lone surrogate): json.dumps escapes it
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _orjson_safe(data) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            if not all(type(k) is str for k in value):
                return False  # json.dumps turns other keys into strings; orjson refuses them
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is float:
            if not (1e-4 <= abs(value) < 1e16 or value == 0.0):  # where repr() has no exponent
                return False
        elif kind is int:
            if not -(1 << 63) <= value < (1 << 64):
                return False
        elif not (kind is str or kind is bool or value is None):
            return False
    return True


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Packed:
    """A generated file held compressed (LZ4) with its sha256 until it is written: a run that
    renders thousands of instances holds every file until the swap (46 KB an instance, 457 MB at
    10,000; 53% of that compressed). Made by the worker that rendered it. LZ4, not zlib: on our
    files (40,000 of a 10,000-instance tree, 115 MB) zlib level 1 took 1.33 s to compress and
    0.66 s to decompress, LZ4 0.18 s and 0.10 s, for 37% and 53% of the size."""

    __slots__ = ("data", "digest")

    def __init__(self, raw: bytes):
        self.digest = sha256(raw)
        self.data = lz4.block.compress(raw)

    def __getstate__(self):
        return self.digest, self.data

    def __setstate__(self, state) -> None:
        self.digest, self.data = state

    def raw(self) -> bytes:
        return lz4.block.decompress(self.data)


def digest_of(data: bytes | Packed) -> str:
    return data.digest if isinstance(data, Packed) else sha256(data)


def raw_of(data: bytes | Packed) -> bytes:
    return data.raw() if isinstance(data, Packed) else data


# --- the lock -----------------------------------------------------------------------------

class OutputLock:
    """An exclusive flock beside the output directory; released on exit or process death.

    The lock file is opened without following a link and must be a regular file of its own:
    opening it truncates it, and a link planted there would truncate what it points at.
    """

    def __init__(self, out_dir: str):
        parent, name = os.path.split(os.path.abspath(out_dir))
        self.path = os.path.join(parent, f".{name}.lock")
        self._fd: int | None = None

    def _open(self) -> int:
        with _reported(out_dir_of(self.path), self.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _CLOEXEC, 0o666)
            except OSError as exc:
                if not nofollow.is_link_error(exc):
                    raise
                raise FleetError([Diagnostic(self.path, 0, 0, "", "the output lock " + nofollow.LINK_MESSAGE,
                                             hint="remove it; fleet generate creates its lock file itself "
                                                  "(a link there would make it truncate the file it points at)")]) \
                    from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise FleetError([Diagnostic(self.path, 0, 0, "", "the output lock is not a file of its own "
                                         f"({'a hard link' if stat.S_ISREG(info.st_mode) else 'not a regular file'})",
                                         hint="remove it; fleet generate creates its lock file itself")])
        return fd

    def _name(self, text: str) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode(), 0)

    def __enter__(self) -> Self:
        self._fd = self._open()
        # The holder names itself just after taking the lock and clears the name just before
        # letting go; a caller that lands in either window looks again instead of reporting
        # a nameless holder, and may find the lock free by then.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(self._fd, 200, 0).decode("utf-8", "replace").strip()
                if holder or time.monotonic() >= deadline:
                    os.close(self._fd)
                    self._fd = None
                    raise OutputBusyError(f"{out_dir_of(self.path)} is being written by "
                                          f"{holder or 'another process'}; "
                                          "wait for it to finish and run again") from None
                time.sleep(0.02)
        try:
            with _reported(out_dir_of(self.path), self.path):
                self._name(f"fleet generate (pid {os.getpid()})\n")
        except BaseException:
            os.close(self._fd)  # and the lock with it
            self._fd = None
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def out_dir_of(lock_path: str) -> str:
    parent, name = os.path.split(lock_path)
    return os.path.join(parent, name[1:-len(".lock")])


# --- what this tool wrote: the state beside the output ---------------------------------------
# Kept beside the output, not in fleet.json: the cache keys depend on library versions, and
# fleet.json must be the same bytes on every machine.

def cache_path(out_dir: str) -> str:
    parent, name = os.path.split(os.path.abspath(out_dir))
    return os.path.join(parent, f".{name}.cache.json")


def _key() -> bytes | None:
    """This machine's key for the state files (created on first use), or None where there is no
    private place for it: then no tree is trusted, every run renders and writes everything."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    if not os.path.isabs(base):
        return None
    directory = os.path.join(base, "jenkins-fleet")
    path = os.path.join(directory, "tree-key")
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o600)
        try:
            os.write(fd, os.urandom(32))
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # whole or not at all; when two first runs race, the first key wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        return _read_key(path)
    except OSError:
        return None


def _read_key(path: str) -> bytes | None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | _CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None  # not ours alone: someone else could sign a state
        key = os.read(fd, 64)
    finally:
        os.close(fd)
    return key if len(key) == 32 else None


def _mac(key: bytes, body: dict) -> str:
    return hmac.new(key, orjson.dumps(body, option=orjson.OPT_SORT_KEYS), "sha256").hexdigest()


@dataclass(frozen=True)
class _Tree:
    """A tree's fleet.json, read once: its bytes, its identity and its modification time."""

    raw: bytes
    ident: list  # [sha256, inode, ctime_ns]; a list, as it comes back from the state's JSON
    mtime_ns: int


def _read_tree(tree: str) -> _Tree | None:
    """The tree's fleet.json, or None (missing, unreadable, or the tree or the file is a link)."""
    try:
        dir_fd = nofollow.open_dir(tree)
    except OSError:
        return None
    try:
        fd = nofollow.open_file(INDEX, dir_fd)
        try:
            info = os.fstat(fd)
            raw = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    return _Tree(raw, [sha256(raw), info.st_ino, info.st_ctime_ns], info.st_mtime_ns)


@dataclass(frozen=True)
class _State:
    index: str  # sha256 of the output's fleet.json when the keys were recorded
    keys: dict[str, str]
    trees: list[list]  # identities of the trees this tool wrote here: the output and the spare
    sources: dict  # what the run recorded of its sources (fleet.Settled): {context, fingerprints}
    # What the output and the spare do not share (_sharing_record), or {}: see _spare_contents.
    sharing: dict = field(default_factory=dict)


def _read_state(out_dir: str) -> _State | None:
    """The state file if this machine's key signed it, else None."""
    key = _key()
    if key is None:
        return None
    try:
        doc = orjson.loads(nofollow.read_file(cache_path(out_dir)))
        body = doc["state"]
        if not hmac.compare_digest(str(doc["mac"]), _mac(key, body)):
            return None
        sources = body.get("sources") or {}
        if not (isinstance(sources.get("context", ""), str) and isinstance(sources.get("fingerprints", {}), dict)):
            sources = {}
        sharing = body.get("sharing") if isinstance(body.get("sharing"), dict) else {}
        return _State(body["index"], dict(body["keys"]), [list(t) for t in body["trees"]], sources, sharing)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_state(out_dir: str, index_sha: str, keys: dict[str, str], trees: list[list],
                 sources: dict | None = None, sharing: dict | None = None) -> None:
    body = {"version": 2, "index": index_sha, "keys": dict(sorted(keys.items())), "trees": trees}
    if sharing:
        body["sharing"] = sharing
    if sources:
        body["sources"] = {"context": sources["context"], "fingerprints": dict(sorted(sources["fingerprints"].items()))}
    key = _key()
    doc = {"state": body, "mac": _mac(key, body) if key else ""}  # unsigned: never trusted
    write_file(cache_path(out_dir), orjson.dumps(doc))  # read by us only


@dataclass(frozen=True)
class CacheState:
    """What the last `fleet generate` left in an output directory, read once per run."""

    out_dir: str
    index: dict  # its fleet.json
    keys: dict[str, str]  # the inputs key of each instance it rendered or kept
    written_ns: int  # fleet.json's mtime: files newer than it were changed by hand
    sources: dict = field(default_factory=dict)  # {context, fingerprints}: see fleet.Settled


def read_cache(out_dir: str) -> CacheState | None:
    """The cache state if the current output tree is one this tool wrote here, else None."""
    state = _read_state(out_dir)
    tree = _read_tree(out_dir) if state else None
    if tree is None or tree.ident not in state.trees or tree.ident[0] != state.index:
        return None
    try:
        index = orjson.loads(tree.raw)
    except ValueError:
        return None
    return CacheState(out_dir, index, state.keys, tree.mtime_ns, state.sources)


def write_cache(out_dir: str, keys: dict[str, str], sources: dict | None = None) -> None:
    """Record the inputs keys of the current tree when nothing was written (call with the lock held).

    A tree this tool did not record gets no keys: it is written, and recorded, by the next run.
    """
    state = _read_state(out_dir)
    tree = _read_tree(out_dir) if state else None
    if tree is None or tree.ident not in state.trees:
        return
    with _reported(out_dir):
        _write_state(out_dir, tree.ident[0], keys, state.trees, sources, state.sharing)


# --- when the machine says no ---------------------------------------------------------------------

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error (a failing disk?)",
    errno.EFBIG: "file too large for the file system or this process's size limit",
}


@contextmanager
def _reported(out_dir: str, writing: str = "") -> Iterator[None]:
    """Failures of the environment (disk full, read-only) as what they are; any other OSError is a bug.

    `writing`: the file to name when the error does not (a write to an open descriptor).
    """
    try:
        yield
    except OSError as exc:
        reason = _REASONS.get(exc.errno)
        if reason is None:
            raise
        shown = display_path(out_dir)
        name = os.fsdecode(exc.filename) if exc.filename else writing
        where = f" (writing {display_path(name)})" if name else ""
        raise OutputWriteError(f"cannot write {shown}: {reason}{where}; {shown} is as it was before this run") \
            from exc


def write_file(path: str, data: bytes) -> None:
    """Write beside the target and rename over it: readers see the old file or the new one, never half.

    The mode is 0666 less the umask, as for any file (mkstemp's 0600 would stick). Raises OSError.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def files_intact(out_dir: str, name: str, files: dict[str, str], written_ns: int) -> bool:
    """Every file of an instance present (not as a link) and not modified after the index was written."""
    prefix = f"{out_dir}/{name}/"  # not os.path.join: 17,000 calls per 1,000 instances
    lstat = os.lstat
    try:
        for rel in files:
            if lstat(prefix + rel).st_mtime_ns > written_ns:
                return False
    except OSError:
        return False
    return True


# --- reading the current tree ---------------------------------------------------------------

def read_index(out_dir: str) -> dict | None:
    tree = _read_tree(out_dir)
    try:
        return orjson.loads(tree.raw) if tree else None
    except ValueError:
        return None


def walk_files(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            yield os.path.relpath(os.path.join(dirpath, f), root)


@dataclass(frozen=True)
class FileChange:
    status: str  # added | changed | removed
    path: str


def compare(out_dir: str, files: dict[str, bytes], scope: set[str] | None = None) -> list[FileChange]:
    """What writing `files` would change; `scope` limits removals to those instance directories."""
    changes = []
    existing = set(walk_files(out_dir)) if os.path.isdir(out_dir) else set()
    for rel, data in sorted(files.items()):
        if rel not in existing:
            changes.append(FileChange("added", rel))
            continue
        try:
            same = nofollow.read_file(os.path.join(out_dir, rel)) == data
        except OSError:  # a link or anything but a file: not what generate writes
            same = False
        if not same:
            changes.append(FileChange("changed", rel))
    for rel in sorted(existing - set(files)):
        top = rel.split(os.sep, 1)[0]
        if scope is None or top in scope:
            changes.append(FileChange("removed", rel))
    return changes


# --- writing ------------------------------------------------------------------------------

def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)  # the C library the interpreter is linked with
    except OSError:
        return None


def _renameat2_exchange() -> callable | None:
    fn = getattr(_libc(), "renameat2", None)
    if fn is None:
        return None
    AT_FDCWD, RENAME_EXCHANGE = -100, 2

    def exchange(a: str, b: str) -> bool:
        if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
            return True
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            return False
        raise OSError(err, os.strerror(err), a)

    return exchange


_EXCHANGE = _renameat2_exchange()
_SYNCFS = getattr(_libc(), "syncfs", None)


def _siblings(out_dir: str, kind: str) -> list[str]:
    parent, name = os.path.split(os.path.abspath(out_dir))
    return sorted(glob.glob(os.path.join(glob.escape(parent), f".{glob.escape(name)}.{kind}-*")))


def spare_path(out_dir: str) -> str:
    parent, name = os.path.split(os.path.abspath(out_dir))
    return os.path.join(parent, f".{name}.spare")


def recover(out_dir: str) -> None:
    """Finish or undo what a killed run left behind (call with the lock held)."""
    out_dir = os.path.abspath(out_dir)
    old = _siblings(out_dir, "old")
    if not os.path.lexists(out_dir) and old:
        # killed between the renames of the fallback swap: the tree we moved aside, if it is ours
        state, tree = _read_state(out_dir), _read_tree(old[-1])
        if tree is not None and ((state and tree.ident in state.trees) or _unlike_its_index(old[-1], tree) is None):
            os.rename(old[-1], out_dir)
            old = old[:-1]
    for leftover in old + _siblings(out_dir, "tmp"):
        _remove(leftover, ignore_errors=True)
    spare = spare_path(out_dir)
    if os.path.lexists(spare) and (os.path.islink(spare) or not os.path.isfile(os.path.join(spare, INDEX))):
        _remove(spare)  # killed while it was being brought up to date: nobody knows what it holds


def _remove(path: str, ignore_errors: bool = False) -> None:
    """Remove a tree, or a link or file in its place (a link is removed, never followed)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=ignore_errors)
        return
    try:
        os.unlink(path)
    except OSError:
        if not ignore_errors:
            raise


def indexed_files(index: dict | None) -> dict[str, str]:
    """Every file an index lists, relative to the tree, with its sha256 (the index itself aside)."""
    files = {f"{name}/{rel}": digest for name, entry in (index or {}).get("instances", {}).items()
             for rel, digest in entry.get("files", {}).items()}
    files.update((index or {}).get("fleet", {}).get("files", {}))  # fleet-level: monitoring/...
    return files


def _unlike_its_index(tree_dir: str, tree: _Tree) -> str | None:
    """None when every file of the tree is one its fleet.json lists (what this tool writes, here or
    elsewhere, by this version or an earlier one), else what is not.

    Contents are not compared: a generated file edited by hand is still ours to replace. Such a tree
    may be replaced, but nothing of it is trusted (write_tree does not record it).
    """
    try:
        index = json.loads(tree.raw)
        listed = indexed_files(index)
        if not (isinstance(index.get("generator"), str) and index["generator"].startswith("jenkins-fleet")
                and _all_inside(listed)):
            raise ValueError
    except (ValueError, AttributeError, TypeError):
        return f"its {INDEX} is not an index that fleet generate writes"
    files, links = nofollow.walk(tree_dir)
    if links:
        return f"it holds a symbolic link, {links[0]}"
    extra = [rel for rel in files if rel not in listed and rel != INDEX]
    if extra:
        return (f"it holds {plural(len(extra), 'file')} that its {INDEX} does not list: "
                f"{', '.join(extra[:3])}{', ...' if len(extra) > 3 else ''}")
    return None


def _foreign(out_dir: str, tree: _Tree | None, trees: list[list]) -> str | None:
    """Why `out_dir` may not be replaced, or None: it does not exist, is empty, or this tool wrote it."""
    try:
        info = os.lstat(out_dir)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        why = "it is a symbolic link; pass the directory itself"
    elif not stat.S_ISDIR(info.st_mode):
        return "output path exists and is not a directory"
    elif (tree is not None and tree.ident in trees) or not os.listdir(out_dir):
        return None
    else:
        why = _unlike_its_index(out_dir, tree) if tree is not None else f"it has no {INDEX}"
    return why and f"refusing to replace this directory: fleet generate did not write it ({why})"


# The previous tree is kept beside the output as the spare and brought up to date in place, so a
# small change costs a few files instead of a whole new tree of directories and links (and the
# removal of the old one). It stays invisible until the swap, as a fresh tree did.
#
# Most of the spare's files are hard links of the output's (carried over by link, then kept): one
# file in two trees. The state records, for the pair of trees it wrote, which files of either are
# not shared (_sharing_record). A carried file the spare shares is, by that, the file the caller
# carries, as it is: kept without a look (each was an lstat, 190,000 of them or 0.45 s at 10,000
# instances), and the spare's index is not parsed either. A shared file stays shared while no
# directory of the spare changes (checked, by mtime) and the output's file is edited only in place
# (a file replaced there is rendered again, or carried: the spare's copy is then the file as it
# was written, which is what the old lstat check kept too).

# Entries of a sharing record at most (state file size); a larger change records none, and the
# next run checks every file of the spare, as before.
SHARING_MAX = 4096


# A tree's files by top-level directory (an instance, monitoring): {top: {path below it: sha256}}.
# Small changes are worked out per directory: at 10,000 instances, the same work path by path
# (190,000 of them, several times over) took 1 s of a run that changed one instance.
Grouped = dict[str, dict[str, str]]


def _join(top: str, inner: str) -> str:
    return f"{top}/{inner}" if inner else top


def grouped(flat) -> Grouped:
    """{path: sha256} (or paths alone, to None) by top-level directory."""
    out: Grouped = {}
    get = flat.get if isinstance(flat, dict) else (lambda _rel: None)
    for rel in flat:
        top, _, inner = rel.partition("/")
        out.setdefault(top, {})[inner] = get(rel)
    return out


def grouped_files(index: dict | None) -> Grouped:
    """indexed_files by top-level directory; each instance's dict is the index's own (not a copy)."""
    out: Grouped = {name: entry.get("files", {}) for name, entry in (index or {}).get("instances", {}).items()}
    for top, files in grouped((index or {}).get("fleet", {}).get("files", {})).items():
        out[top] = {**out.get(top, {}), **files}
    return out


@dataclass(frozen=True)
class _Spare:
    have: Grouped  # what the spare holds (its index aside)
    written_ns: int  # its index's mtime: a file newer than that was changed afterwards
    # For a recorded pair: the directories where the spare and the output do not share every
    # file, and which they share there (any other directory: all of them). None: not known.
    shared: dict[str, frozenset[str]] | None


def _spare_contents(spare: str, trees: list[list], sharing: dict | None = None, current: _Tree | None = None,
                    current_index: dict | None = None) -> _Spare | None:
    """What the spare holds if it holds exactly what its index lists, else None.

    Trusted only when this tool wrote it here (its index is recorded in the state: a spare that
    came with a clone or a pull request is not) and no directory changed after its index was
    written: an added, removed or renamed entry anywhere (say a file dropped into build/ while it
    was the output) shows in a directory's mtime. Files edited in place are caught one by one,
    also by mtime, when kept (those the output shares, by the run's check of the output).
    """
    tree = _read_tree(spare)  # None for a link: we never make one, whatever it points to is not ours
    if tree is None or tree.ident not in trees:
        return None
    try:
        if (sharing and current is not None and current_index is not None and sharing.get("spare") == tree.ident
                and sharing.get("output") == current.ident):
            have, shared = _recorded_spare(sharing, grouped_files(current_index))
        else:
            have, shared = grouped_files(orjson.loads(tree.raw)), None
        if not _all_inside_grouped(have):
            return None  # an index we did not write: never unlink what it names
        root = spare + "/"  # not os.path.join: 40,000 directories at 10,000 instances
        for d in _tree_dirs(have):
            if os.lstat(root + d).st_mtime_ns > tree.mtime_ns:
                return None
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return None
    return _Spare(have, tree.mtime_ns, shared)


def _recorded_spare(sharing: dict, output: Grouped) -> tuple[Grouped, dict[str, frozenset[str]]]:
    """The spare's files from the output's and the record of what the two do not share."""
    own, fresh = sharing["own"], sharing["fresh"]
    if not (isinstance(own, dict) and isinstance(fresh, list) and all(isinstance(d, str) for d in own.values())
            and _all_inside(own) and _all_inside(fresh)):
        raise ValueError("not a sharing record")
    own_g, fresh_g = grouped(own), grouped(fresh)
    have, shared = dict(output), {}
    for top in own_g.keys() | fresh_g.keys():
        theirs = output.get(top, {})
        shared[top] = frozenset(theirs.keys() - fresh_g.get(top, {}).keys())
        mine = {inner: theirs[inner] for inner in shared[top]}
        mine.update(own_g.get(top, {}))
        if mine:
            have[top] = mine
        else:
            have.pop(top, None)
    return have, shared


def _inside(rel: str) -> bool:
    """A plain relative path that stays below the tree ('a/k8s/x.yaml', not '../x' or '/x')."""
    return isinstance(rel, str) and bool(rel) and "\0" not in rel \
        and all(part not in ("", ".", "..") for part in rel.split("/"))


def _all_inside(paths) -> bool:
    # Paths are <instance>/<file>: checking the few distinct halves is 4x cheaper than each path.
    heads, tails = set(), set()
    for rel in paths:
        head, sep, tail = rel.partition("/")
        heads.add(head)
        if sep:
            tails.add(tail)
    return all(map(_inside, heads)) and all(map(_inside, tails))


def _parents(paths) -> set[str]:
    """Every directory above the paths ("/"-separated, relative), without the root."""
    dirs: set[str] = set()
    for rel in paths:
        end = rel.rfind("/")
        while end > 0:  # string slicing: several times faster than os.path.dirname, per path
            d = rel[:end]
            if d in dirs:
                break
            dirs.add(d)
            end = rel.rfind("/", 0, end)
    return dirs


def _all_inside_grouped(tree: Grouped) -> bool:
    tails: set[str] = set()
    for files in tree.values():
        tails.update(files)
    tails.discard("")  # a file at the top: the top is the whole path
    return all(map(_inside, tree)) and all(map(_inside, tails))


def _dirs_below(top: str, inner: dict[str, str], memo: dict) -> set[str]:
    """The directories of one top-level directory's files, itself included (none for a file at the top)."""
    key = tuple(inner)  # instances share a layout: worked out once per layout
    below = memo.get(key)
    if below is None:
        below = memo[key] = (_parents(inner) | {""}) if any(inner) else set()
    return {_join(top, d) for d in below}


def _tree_dirs(tree: Grouped) -> set[str]:
    """Every directory of a tree, the root ("") included."""
    dirs, memo = {""}, {}
    for top, inner in tree.items():
        dirs |= _dirs_below(top, inner, memo)
    return dirs


def refuse_foreign(out_dir: str) -> None:
    """Raise FleetError unless `out_dir` may be replaced (see write_tree); for a check before the work."""
    state = _read_state(out_dir)
    _refuse(out_dir, _foreign(os.path.abspath(out_dir), _read_tree(out_dir), state.trees if state else []))


def _refuse(out_dir: str, why: str | None) -> None:
    if why:
        raise FleetError([Diagnostic(out_dir, 0, 0, "", why,
                                     hint="choose another --out, or move what it holds elsewhere first: "
                                          "fleet generate replaces the whole directory")])


def write_tree(out_dir: str, files: dict[str, bytes | Packed], carried: Grouped | None = None,
               keys: dict[str, str] | None = None, sources: dict | None = None, *,
               current_index: dict | None = None) -> None:
    """Replace `out_dir` with exactly `files` plus the `carried` files of the current tree.

    `carried` gives paths of the current tree with their sha256 (as its index lists them), by
    top-level directory (grouped_files, or grouped() of {path: sha256}; its dicts are not modified);
    `keys` are the inputs keys to record for the cache, `sources` what the run found of its
    sources (fleet.Settled). `current_index`: the current tree's fleet.json as read under the
    same lock; with it, what the spare shares with the current tree is recorded for the next run,
    and what the last run recorded is used (_spare_contents). Only a directory that does not
    exist, is empty, or was written by this tool is replaced. Must be called with OutputLock held.
    Raises OutputWriteError when the machine refuses a write (disk full, read-only).
    """
    carried = carried or {}
    out_dir = os.path.abspath(out_dir)
    if not (_all_inside(files) and _all_inside_grouped(carried)):
        flat = [*files, *(_join(top, inner) for top, inner_files in carried.items() for inner in inner_files)]
        outside = sorted(rel for rel in flat if not _inside(rel))
        raise FleetError([Diagnostic(out_dir, 0, 0, "", f"refusing to write outside the output: {outside[0]!r}",
                                     hint=f"{INDEX} was edited by hand? delete the output and generate again")])
    with _reported(out_dir):
        recover(out_dir)
        state = _read_state(out_dir)
        trees = state.trees if state else []
        current = _read_tree(out_dir)
        _refuse(out_dir, _foreign(out_dir, current, trees))
        ours = current is not None and current.ident in trees
        if not ours:
            current_index = None  # nothing of a tree we did not record is trusted
        spare = spare_path(out_dir)
        base = _spare_contents(spare, trees, state.sharing if state else {}, current, current_index)
        if base is None:
            if os.path.lexists(spare):
                _remove(spare)
            os.makedirs(spare)
            base = _Spare({}, 0, {})
        else:
            os.unlink(os.path.join(spare, INDEX))  # from here on the spare is untrusted until rewritten
        try:
            done = _bring_up_to_date(spare, base, out_dir, files, carried)
            info = os.lstat(os.path.join(spare, INDEX))
            new = [sha256(files[INDEX]), info.st_ino, info.st_ctime_ns]
            # Both trees recorded before the swap, so that a crash on either side of it leaves a tree
            # we know; the current one only if it was ours already (it becomes the spare).
            known = [current.ident] if ours else []
            sharing = (_sharing_record(new, current.ident, done, carried, current_index)
                       if ours and current_index is not None else None)
            _write_state(out_dir, new[0], keys or {}, [new] + known, sources, sharing)
            _swap(spare, out_dir)
        except BaseException:
            shutil.rmtree(spare, ignore_errors=True)
            raise
    _fsync_dir(os.path.dirname(out_dir))  # the swap itself, on disk


@dataclass
class _Done:
    """What _bring_up_to_date did: per top-level directory it looked into, the files the new tree
    has there and which of them are the current tree's file too (elsewhere: all, and the same).
    Not kept past SHARING_MAX unshared files (`over`): no record is made then, and a large change
    (every instance rendered again) need not hold a set per directory (10,000 of them)."""

    wanted: dict[str, frozenset[str]]
    same: dict[str, set[str]]
    over: bool = False
    unshared: int = 0

    def add(self, top: str, wanted, same: set[str]) -> None:
        if self.over:
            return
        self.unshared += len(wanted) - len(same)
        if self.unshared > SHARING_MAX:
            self.over, self.wanted, self.same = True, {}, {}
            return
        self.wanted[top], self.same[top] = frozenset(wanted), same


def _sharing_record(new: list, current: list, done: _Done, carried: Grouped, current_index: dict) -> dict | None:
    """What the new output and the current one (the next spare) do not share, when it is small:
    {"output": new tree, "spare": current tree, "fresh": the new tree's files that are not the
    current's, "own": the current tree's files that are not the new one's, with their sha256}."""
    if done.over:
        return None
    fresh = sorted(_join(top, inner) for top, wanted in done.wanted.items() for inner in wanted - done.same[top])
    if len(fresh) > SHARING_MAX:
        return None
    old = grouped_files(current_index)
    own = {}
    for top in done.wanted.keys() | (old.keys() - carried.keys()):
        same = done.same.get(top, ())
        own.update((_join(top, inner), digest) for inner, digest in old.get(top, {}).items() if inner not in same)
        if len(fresh) + len(own) > SHARING_MAX:
            return None
    return {"output": new, "spare": current, "fresh": fresh, "own": dict(sorted(own.items()))}


# Above this many files written, linked or removed, one syncfs() of the file system is cheaper
# than an fsync per file and directory (100 small files on the test VM's ext4: 39 ms with an
# fsync each, 31 ms with one syncfs; BENCHMARKS.md).
SYNC_EACH_MAX = 64


def _bring_up_to_date(spare: str, base: _Spare, out_dir: str, files: dict[str, bytes | Packed],
                      carried: Grouped) -> _Done:
    """Make the spare hold exactly the wanted files, and all of it on disk (a power loss after the
    swap must not leave a tree whose files the kernel had not written yet)."""
    new = grouped({rel: digest_of(data) for rel, data in files.items() if rel != INDEX})
    have = base.have
    tops = have.keys() | carried.keys() | new.keys()
    if base.shared is not None:
        # Carried, not rendered again, not named by the record: the spare's directory is the
        # output's, file for file; nothing to do there.
        alike = {top for top in carried.keys() - new.keys() - base.shared.keys()
                 if have.get(top) is carried[top] or have.get(top) == carried[top]}
        looked = sorted(tops - alike)
    else:
        looked = sorted(tops)
    removed, linked, written = [], [], []
    want_dirs, have_dirs, memo = set(), set(), {}
    done = _Done({}, {})
    for top in looked:
        carried_top, new_top, have_top = carried.get(top, {}), new.get(top, {}), have.get(top, {})
        want_top = {**carried_top, **new_top}
        shared = None if base.shared is None else base.shared.get(top, have_top.keys())
        keep, same = _keepable(spare, out_dir, top, have_top, want_top, carried_top, shared, base.written_ns)
        to_link = carried_top.keys() - keep - new_top.keys()
        removed.extend(_join(top, inner) for inner in have_top.keys() - keep)
        linked.extend(_join(top, inner) for inner in to_link)
        written.extend(_join(top, inner) for inner in new_top.keys() - keep)
        done.add(top, want_top, same | to_link)  # a link that fails is taken out below
        want_dirs |= _dirs_below(top, want_top, memo)
        have_dirs |= _dirs_below(top, have_top, memo)
    removed.sort(), linked.sort(), written.sort()
    gone_dirs = sorted(have_dirs - want_dirs, reverse=True)  # children before their parents
    new_dirs = sorted(want_dirs - have_dirs)  # parents first
    each = len(removed) + len(linked) + len(written) + len(gone_dirs) + len(new_dirs) < SYNC_EACH_MAX
    # Plain os calls throughout: on slow file systems every syscall per file shows in the total.
    for rel in removed:
        os.unlink(os.path.join(spare, rel))
    for d in gone_dirs:
        os.rmdir(os.path.join(spare, d))
    for d in new_dirs:
        os.mkdir(os.path.join(spare, d))
    for rel in linked:
        src, dst = os.path.join(out_dir, rel), os.path.join(spare, rel)
        try:
            os.link(src, dst, follow_symlinks=False)  # files are never rewritten in place: sharing is safe
        except OSError as exc:
            if exc.errno in _REASONS:
                raise
            shutil.copy2(src, dst, follow_symlinks=False)
            if not done.over:  # a copy: not the output's file
                top, _, inner = rel.partition("/")
                done.same[top].discard(inner)
    for rel in written:
        _write_new_file(os.path.join(spare, rel), raw_of(files[rel]), sync=each)
    # The index last: no file or directory of the tree is newer than it unless changed afterwards.
    _write_new_file(os.path.join(spare, INDEX), files[INDEX], sync=each)
    if each:
        changed = {""} | {rel.rpartition("/")[0] for rel in (*removed, *linked, *written, *gone_dirs, *new_dirs)}
        for d in sorted(changed & (want_dirs | {""}), reverse=True):  # those that still exist
            _fsync_dir(os.path.join(spare, d))
    else:
        _sync_file_system(spare)
    return done


def _keepable(spare: str, out_dir: str, top: str, have: dict[str, str], want: dict[str, str],
              carried: dict[str, str], shared: frozenset[str] | None, written_ns: int) -> tuple[set[str], set[str]]:
    """The spare's files below `top` that stay as they are, and those of them that are the output's
    file too. A carried file is kept only where it is already the output's file; a copy of the
    same bytes is replaced by a link, so that the trees share it and the next run need not look."""
    keep, same = set(), set()
    for inner, digest in want.items():
        if have.get(inner) != digest:
            continue
        rel = _join(top, inner)
        if shared is not None:
            # A carried file that the spare shares is the file the caller carries, as it is: kept
            # unseen. Any other is looked at (one of an instance rendered again, say, because its
            # file was edited in place: the spare's link to it was edited too).
            if inner in carried:
                if inner in shared:
                    keep.add(inner)
                    same.add(inner)
            elif os.lstat(os.path.join(spare, rel)).st_mtime_ns <= written_ns:
                keep.add(inner)
                if inner in shared:
                    same.add(inner)
            continue
        # Not recorded: every kept file is looked at, and whether it is the output's too learnt
        # from the same lstat (once: the next run has the record).
        info = os.lstat(os.path.join(spare, rel))
        if info.st_mtime_ns > written_ns:
            continue
        if inner not in carried:
            keep.add(inner)
        elif _same_file(info, os.path.join(out_dir, rel)):
            keep.add(inner)
            same.add(inner)
    return keep, same


def _same_file(info: os.stat_result, path: str) -> bool:
    try:
        other = os.lstat(path)
    except OSError:
        return False
    return other.st_ino == info.st_ino and other.st_dev == info.st_dev


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC


def _write_new_file(path: str, data: bytes, sync: bool = False) -> None:
    # Plain os calls: buffered open() adds fstat, ioctl and lseek per file, which shows on slow disks.
    fd = os.open(path, _NEW_FILE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    """A directory's entries on disk; where the file system cannot (EINVAL), as good as it gets."""
    fd = os.open(path, nofollow.DIR_FLAGS)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def _sync_file_system(path: str) -> None:
    """Everything written on the file system holding `path` on disk: one call for a whole tree."""
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(path, nofollow.DIR_FLAGS)
    try:
        if _SYNCFS(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


def _swap(spare: str, out_dir: str) -> None:
    """The spare becomes the output and the output the spare, in one step where the kernel can."""
    if not os.path.exists(out_dir):
        os.rename(spare, out_dir)
        return
    if _EXCHANGE is not None and _EXCHANGE(spare, out_dir):
        return
    parent, name = os.path.split(out_dir)
    old = os.path.join(parent, f".{name}.old-{os.getpid()}")
    os.rename(out_dir, old)
    os.rename(spare, out_dir)
    os.rename(old, spare)
