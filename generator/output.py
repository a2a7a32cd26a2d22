"""Canonical serialisation and the atomic output tree.

The new tree is written beside the old one and swapped in whole (kapitan
style), under a lock, so a crash or an error leaves the previous output
intact and two runs never mix their files.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

from . import yamlout
from .errors import Diagnostic, FleetError, OutputBusyError

INDEX = "fleet.json"


def dump_yaml(data, *, sort_keys: bool) -> str:
    """Canonical block YAML; multi-line strings as literal blocks for readable diffs."""
    return yamlout.dump(data, sort_keys=sort_keys)


def dump_json(data) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the lock -----------------------------------------------------------------------------

class OutputLock:
    """An exclusive flock beside the output directory; released on exit or process death."""

    def __init__(self, out_dir: str):
        parent, name = os.path.split(os.path.abspath(out_dir))
        self.path = os.path.join(parent, f".{name}.lock")
        self._fh = None

    def __enter__(self) -> Self:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fh = open(self.path, "a+")
        # The holder names itself just after taking the lock and clears the name just before
        # letting go; a caller that lands in either window looks again instead of reporting
        # a nameless holder, and may find the lock free by then.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                self._fh.seek(0)
                holder = self._fh.read().strip()
                if holder or time.monotonic() >= deadline:
                    self._fh.close()
                    self._fh = None
                    raise OutputBusyError(f"{out_dir_of(self.path)} is being written by "
                                          f"{holder or 'another process'}; "
                                          "wait for it to finish and run again") from None
                time.sleep(0.02)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"fleet generate (pid {os.getpid()})\n")
        self._fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self._fh:
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


def out_dir_of(lock_path: str) -> str:
    parent, name = os.path.split(lock_path)
    return os.path.join(parent, name[1:-len(".lock")])


# --- the incremental cache ---------------------------------------------------------------------
# Kept beside the output, not in fleet.json: the keys depend on library versions, and
# fleet.json must be the same bytes on every machine.

def cache_path(out_dir: str) -> str:
    parent, name = os.path.split(os.path.abspath(out_dir))
    return os.path.join(parent, f".{name}.cache.json")


@dataclass(frozen=True)
class CacheState:
    """What the last `fleet generate` left in an output directory, read once per run."""

    out_dir: str
    index: dict  # its fleet.json
    keys: dict[str, str]  # the inputs key of each instance it rendered or kept
    written_ns: int  # fleet.json's mtime: files newer than it were changed by hand


def read_cache(out_dir: str) -> CacheState | None:
    """The cache state if it belongs to the current output tree (same fleet.json), else None."""
    try:
        with open(cache_path(out_dir), encoding="utf-8") as fh:
            state = json.load(fh)
        index_path = os.path.join(out_dir, INDEX)
        with open(index_path, "rb") as fh:
            index_bytes = fh.read()
        written_ns = os.stat(index_path).st_mtime_ns
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("index") != sha256(index_bytes):
        return None
    return CacheState(out_dir, json.loads(index_bytes), state.get("keys", {}), written_ns)


def write_cache(out_dir: str, keys: dict[str, str]) -> None:
    """Record the inputs keys of the tree just written (call with the lock held)."""
    with open(os.path.join(out_dir, INDEX), "rb") as fh:
        digest = sha256(fh.read())
    state = {"index": digest, "keys": dict(sorted(keys.items()))}
    write_file(cache_path(out_dir), json.dumps(state, separators=(",", ":")).encode())  # read by us only


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
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def files_intact(out_dir: str, name: str, files: dict[str, str], written_ns: int) -> bool:
    """Every file of an instance present and not modified after the index was written."""
    prefix = f"{out_dir}/{name}/"  # not os.path.join: 17,000 calls per 1,000 instances
    for rel in files:
        try:
            if os.stat(prefix + rel).st_mtime_ns > written_ns:
                return False
        except OSError:
            return False
    return True


# --- reading the current tree ---------------------------------------------------------------

def read_index(out_dir: str) -> dict | None:
    try:
        with open(os.path.join(out_dir, INDEX), encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return None


def walk_files(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            yield os.path.relpath(os.path.join(dirpath, f), root)


@dataclass(frozen=True)
class Change:
    status: str  # added | changed | removed
    path: str


def compare(out_dir: str, files: dict[str, bytes], scope: set[str] | None = None) -> list[Change]:
    """What writing `files` would change; `scope` limits removals to those instance directories."""
    changes = []
    existing = set(walk_files(out_dir)) if os.path.isdir(out_dir) else set()
    for rel, data in sorted(files.items()):
        target = os.path.join(out_dir, rel)
        if rel not in existing:
            changes.append(Change("added", rel))
        else:
            with open(target, "rb") as fh:
                if fh.read() != data:
                    changes.append(Change("changed", rel))
    for rel in sorted(existing - set(files)):
        top = rel.split(os.sep, 1)[0]
        if scope is None or top in scope:
            changes.append(Change("removed", rel))
    return changes


# --- writing ------------------------------------------------------------------------------

def _renameat2_exchange() -> callable | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the C library the interpreter is linked with
    except OSError:
        return None
    fn = getattr(libc, "renameat2", None)
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
    if not os.path.exists(out_dir) and old:
        os.rename(old[-1], out_dir)  # killed between the renames of the fallback swap
        old = old[:-1]
    for leftover in old + _siblings(out_dir, "tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    spare = spare_path(out_dir)
    if os.path.lexists(spare) and (os.path.islink(spare) or not os.path.isfile(os.path.join(spare, INDEX))):
        _remove(spare)  # killed while it was being brought up to date: nobody knows what it holds


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def indexed_files(index: dict | None) -> dict[str, str]:
    """Every file an index lists, relative to the tree, with its sha256 (the index itself aside)."""
    files = {f"{name}/{rel}": digest for name, entry in (index or {}).get("instances", {}).items()
             for rel, digest in entry.get("files", {}).items()}
    files.update((index or {}).get("fleet", {}).get("files", {}))  # fleet-level: monitoring/...
    return files


def _looks_generated(out_dir: str) -> bool:
    return not os.path.exists(out_dir) or os.path.exists(os.path.join(out_dir, INDEX)) or not os.listdir(out_dir)


# The previous tree is kept beside the output as the spare and brought up to date in place, so a
# small change costs a few files instead of a whole new tree of directories and links (and the
# removal of the old one). It stays invisible until the swap, as a fresh tree did.

def _spare_contents(spare: str) -> tuple[dict[str, str], int] | None:
    """(files -> sha256, index mtime) of a spare that holds exactly what its index lists, else None.

    Trusted only when no directory changed after its index was written: an added, removed or
    renamed entry anywhere (say a file dropped into build/ while it was the output) shows in a
    directory's mtime. Files edited in place are caught one by one, also by mtime, when kept.
    """
    if os.path.islink(spare):
        return None  # we never make one: whatever it points to is not ours to rewrite
    try:
        index_path = os.path.join(spare, INDEX)
        with open(index_path, "rb") as fh:
            index = json.loads(fh.read())
        written_ns = os.stat(index_path).st_mtime_ns
        files = indexed_files(index)
        if not _all_inside(files):
            return None  # an index we did not write: never unlink what it names
        for d in {"", *_parents(files)}:
            if os.stat(os.path.join(spare, d)).st_mtime_ns > written_ns:
                return None
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    return files, written_ns


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


def write_tree(out_dir: str, files: dict[str, bytes], carry_over: dict[str, str] | None = None) -> None:
    """Replace `out_dir` with exactly `files` plus the `carry_over` files of the current tree.

    `carry_over` maps paths of the current tree to their sha256 (as its index lists them).
    Must be called with OutputLock held.
    """
    carry_over = carry_over or {}
    out_dir = os.path.abspath(out_dir)
    if not (_all_inside(files) and _all_inside(carry_over)):
        outside = sorted(rel for rel in (*files, *carry_over) if not _inside(rel))
        raise FleetError([Diagnostic(out_dir, 0, 0, "", f"refusing to write outside the output: {outside[0]!r}",
                                     hint=f"{INDEX} was edited by hand? delete the output and generate again")])
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FleetError([Diagnostic(out_dir, 0, 0, "", "output path exists and is not a directory")])
    if not _looks_generated(out_dir):
        raise FleetError([Diagnostic(out_dir, 0, 0, "", f"refusing to replace this directory: it has no {INDEX}, "
                                     "so fleet generate did not write it",
                                     hint="choose another --out, or empty the directory first")])
    recover(out_dir)
    spare = spare_path(out_dir)
    base = _spare_contents(spare)
    if base is None:
        if os.path.lexists(spare):
            _remove(spare)
        os.makedirs(spare)
        base = ({}, 0)
    else:
        os.unlink(os.path.join(spare, INDEX))  # from here on the spare is untrusted until rewritten
    try:
        _bring_up_to_date(spare, *base, out_dir, files, carry_over)
        _swap(spare, out_dir)
    except BaseException:
        shutil.rmtree(spare, ignore_errors=True)
        raise


def _bring_up_to_date(spare: str, have: dict[str, str], written_ns: int, out_dir: str,
                      files: dict[str, bytes], carry_over: dict[str, str]) -> None:
    want = dict(carry_over)
    want.update((rel, sha256(data)) for rel, data in files.items() if rel != INDEX)
    root = spare + "/"
    keep = {rel for rel, digest in want.items() if have.get(rel) == digest
            and os.stat(root + rel).st_mtime_ns <= written_ns}
    # Plain os calls throughout: on slow file systems every syscall per file shows in the total.
    for rel in sorted(have.keys() - keep):
        os.unlink(os.path.join(spare, rel))
    want_dirs, have_dirs = _parents(want), _parents(have)
    for d in sorted(have_dirs - want_dirs, reverse=True):  # children before their parents
        os.rmdir(os.path.join(spare, d))
    for d in sorted(want_dirs - have_dirs):  # parents first
        os.mkdir(os.path.join(spare, d))
    for rel in sorted(carry_over.keys() - keep - files.keys()):  # a path in both: the new bytes win
        src, dst = os.path.join(out_dir, rel), os.path.join(spare, rel)
        try:
            os.link(src, dst)  # files are never rewritten in place, so sharing inodes is safe
        except OSError:
            shutil.copy2(src, dst)
    for rel in sorted(files.keys() - keep - {INDEX}):
        _write_new_file(os.path.join(spare, rel), files[rel])
    # The index last: no file or directory of the tree is newer than it unless changed afterwards.
    _write_new_file(os.path.join(spare, INDEX), files[INDEX])


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write_new_file(path: str, data: bytes) -> None:
    # Plain os calls: buffered open() adds fstat, ioctl and lseek per file, which shows on slow disks.
    fd = os.open(path, _NEW_FILE, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
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
