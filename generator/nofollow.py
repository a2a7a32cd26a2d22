"""Opening what a pull request can plant: never through a symbolic link.

A pull request can add a link anywhere in the repository (`instances/x/instance.yaml ->
/proc/self/environ`), and every error quotes the line it points at, so a followed link
would print any file of the machine that checks the pull request. Directories are opened
with O_DIRECTORY|O_NOFOLLOW and what is inside them relative to that descriptor, so a link,
even one swapped in while we read, fails with ELOOP instead of being followed.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import Diagnostic

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# O_NONBLOCK: a FIFO opens at once (and is then refused) instead of hanging the run.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


def open_dir(path: str, dir_fd: int | None = None) -> int:
    """A descriptor of the directory `path` (relative to dir_fd); OSError ELOOP if it is a link."""
    try:
        return os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    except NotADirectoryError:
        # Linux checks O_DIRECTORY before O_NOFOLLOW: a link to anything answers ENOTDIR
        if stat.S_ISLNK(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path) from None
        raise


def open_file(path: str, dir_fd: int | None = None) -> int:
    """A descriptor of the regular file `path`; OSError for a link (ELOOP), a directory or anything else."""
    fd = os.open(path, FILE_FLAGS, dir_fd=dir_fd)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise OSError(errno.EINVAL, "not a regular file", path)
    return fd


def read_file(path: str, dir_fd: int | None = None, limit: int = -1) -> bytes:
    """The bytes of a regular file (at most `limit`), never through a link."""
    fd = open_file(path, dir_fd)
    try:
        chunks, size = [], 0
        while limit < 0 or size < limit:
            chunk = os.read(fd, 1 << 20 if limit < 0 else min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def is_link_error(exc: OSError) -> bool:
    """The error O_NOFOLLOW gives for a symbolic link (ELOOP on Linux, EMLINK on the BSDs)."""
    return exc.errno in (errno.ELOOP, errno.EMLINK)


LINK_MESSAGE = "is a symbolic link, and links are never followed here"
LINK_HINT = ("replace the link with the file or directory itself: a link in a pull request "
             "could point at any file of the machine that checks it")


def link_diagnostic(path: str, context: tuple[str, ...] = ()) -> Diagnostic:
    """An error naming the link; what it points at is neither read nor shown."""
    return Diagnostic(path, 0, 0, "", LINK_MESSAGE, hint=LINK_HINT, context=context)


def walk(root: str) -> tuple[list[str], list[str]]:
    """('/'-separated) regular files and links below root, sorted; links are not entered.

    Raises OSError when root itself is missing or a link.
    """
    files: list[str] = []
    links: list[str] = []

    def visit(fd: int, prefix: str) -> None:
        with os.scandir(fd) as entries:
            found = sorted((e.name, e.is_symlink(), e.is_dir(follow_symlinks=False)) for e in entries)
        for name, is_link, is_dir in found:
            rel = prefix + name
            if is_link:
                links.append(rel)
            elif is_dir:
                sub = open_dir(name, dir_fd=fd)
                try:
                    visit(sub, rel + "/")
                finally:
                    os.close(sub)
            else:
                files.append(rel)

    top = open_dir(root)
    try:
        visit(top, "")
    finally:
        os.close(top)
    return files, links


def links_below(*roots: str) -> list[Diagnostic]:
    """An error for every link in these repository directories (templates/, schemas/): a pull
    request can change them too, and their files are read by Jinja, Jsonnet and the validators,
    which would follow a link."""
    diags = []
    context = ("templates and schemas are read from the repository, which pull requests can change",)
    for root in roots:
        try:
            _, links = walk(root)
        except OSError as exc:
            if is_link_error(exc):
                diags.append(link_diagnostic(root, context))
            continue  # missing: the step that reads it says so
        diags.extend(link_diagnostic(os.path.join(root, rel), context) for rel in links)
    return diags
