"""The fleet as it was at a git revision: instances, templates and schemas of that revision.

Read-only: the tree is exported with `git archive` into a temporary directory;
nothing in the repository (index, worktrees, refs) changes. Used by
`fleet audit --base` and meant for any command that compares a revision with
the working tree.

    rev = resolve_base(root)                   # merge base with main, or resolve_base(root, "v1.2")
    with fleet_at(paths, rev) as (old_paths, origin):
        old = fleet.generate(old_paths)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import fleetdir, nofollow
from .errors import Diagnostic, FleetError
from .fleet import Paths

DEFAULT_BASES = ("main", "origin/main", "master", "origin/master")
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE")


class GitUnavailable(Exception):
    """git is not installed or cannot run: an environment problem, not a user mistake."""


@dataclass(frozen=True)
class Revision:
    ref: str  # what the user asked for (or "merge-base(HEAD, main)")
    commit: str  # full object name

    def to_json(self) -> dict:
        return {"ref": self.ref, "commit": self.commit}


def _git(root: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env["LC_ALL"] = "C"
    try:
        proc = subprocess.run(["git", "-C", root, *args], capture_output=True, env=env, text=True, check=False)
    except FileNotFoundError:
        raise GitUnavailable("git is not installed (or not on PATH); --base needs it") from None
    except OSError as exc:
        raise GitUnavailable(f"cannot run git: {exc}") from None
    if check and proc.returncode != 0:
        raise FleetError([Diagnostic(root, 0, 0, "", f"git {args[0]} failed: {proc.stderr.strip() or 'no message'}")])
    return proc


def repo_root(path: str) -> str:
    """The top of the git work tree that contains `path`."""
    proc = _git(os.path.abspath(path), "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise FleetError([Diagnostic(path, 0, 0, "", "not inside a git repository",
                                     hint="--base compares with a git revision of the fleet repository")])
    return proc.stdout.strip()


def fleet_repo_root(instances: str) -> str:
    """The top of the git work tree holding the fleet directory, which must exist: a command run
    from the wrong directory gets `fleet validate`'s message, not "not inside a git repository"."""
    fleetdir.require(instances)
    return repo_root(instances)


def _commit(root: str, rev: str) -> str | None:
    proc = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def resolve_base(root: str, rev: str | None = None) -> Revision:
    """`rev` as a commit; without it, the merge base of HEAD with main (or origin/main, master, origin/master)."""
    if rev:
        commit = _commit(root, rev)
        if commit is None:
            raise FleetError([Diagnostic(root, 0, 0, "", f"unknown git revision '{rev}'",
                                         hint="a branch, tag or commit, e.g. --base main or --base HEAD~1")])
        return Revision(rev, commit)
    for candidate in DEFAULT_BASES:
        if _commit(root, candidate):
            proc = _git(root, "merge-base", "HEAD", candidate, check=False)
            if proc.returncode == 0 and proc.stdout.strip():
                return Revision(f"merge-base(HEAD, {candidate})", proc.stdout.strip())
    raise FleetError([Diagnostic(root, 0, 0, "", "no main branch to compare with",
                                 hint=f"tried {', '.join(DEFAULT_BASES)}; pass --base REF")])


def first_commit_times(instances: str, names: list[str]) -> dict[str, int | None]:
    """The commit time at which each instance's file (the last time) entered the repository; None
    when it is not committed. {} outside a git repository or without git: no order is known."""
    try:
        root = repo_root(instances)
        out: dict[str, int | None] = {}
        for name in names:
            rel = os.path.relpath(os.path.join(os.path.abspath(instances), name, fleetdir.INSTANCE_FILE), root)
            proc = _git(root, "log", "-1", "--diff-filter=A", "--format=%ct", "--", rel, check=False)
            out[name] = int(proc.stdout.split()[0]) if proc.returncode == 0 and proc.stdout.split() else None
        return out
    except (FleetError, GitUnavailable):
        return {}


def changed_instances(instances: str, commit: str) -> set[str]:
    """The instances whose directory differs in the working tree from `commit` (added, edited or
    not yet tracked)."""
    root = repo_root(instances)
    top = os.path.abspath(instances)
    rel = os.path.relpath(top, root)
    names: set[str] = set()
    for args in (("diff", "--name-only", "--no-renames", commit, "--", rel),
                 ("ls-files", "--others", "--exclude-standard", "--", rel)):
        for line in _git(root, *args).stdout.splitlines():
            parts = os.path.relpath(os.path.join(root, line), top).split(os.sep)
            if len(parts) > 1 and parts[0] != os.pardir:
                names.add(parts[0])
    return names


def exists_at(root: str, commit: str, rel: str) -> bool:
    return _git(root, "cat-file", "-e", f"{commit}:{rel}", check=False).returncode == 0


@contextmanager
def checkout_tree(root: str, rev: str, paths: tuple[str, ...] = (), label: str = "") -> Iterator[str]:
    """A temporary directory holding `paths` (repository-relative; all when empty) as they were at `rev`.

    A symbolic link there is an error naming it as LABEL:path (label: how messages name `rev`).
    """
    tmp = tempfile.mkdtemp(prefix="fleet-rev-")
    try:
        env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
        try:
            proc = subprocess.Popen(["git", "-C", root, "archive", "--format=tar", rev, "--", *paths],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        except (FileNotFoundError, OSError) as exc:
            raise GitUnavailable(f"cannot run git: {exc}") from None
        links: list[str] = []

        def no_links(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
            # A link is reported, never extracted: the working tree's rule (generator/nofollow.py).
            if member.issym() or member.islnk():
                links.append(member.name)
                return None
            return tarfile.data_filter(member, dest)  # no absolute paths, devices or odd modes

        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                tar.extractall(tmp, filter=no_links)
        except tarfile.TarError:
            pass  # git reports the cause below
        stderr = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise FleetError([Diagnostic(root, 0, 0, "", f"git archive {rev} failed: {stderr.strip()}")])
        if links:
            raise FleetError([nofollow.link_diagnostic(f"{label or rev[:12]}:{name}") for name in links])
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _inside(path: str, root: str) -> str | None:
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    return None if rel == ".." or rel.startswith(".." + os.sep) else rel.replace(os.sep, "/")


@contextmanager
def fleet_at(paths: Paths, revision: Revision) -> Iterator[tuple[Paths, dict]]:
    """`paths` as they were at `revision`.

    Templates and schemas come from the revision too when the repository holds
    them (at the same place as now, or as top-level templates/ and schemas/),
    so that a template change shows up; otherwise the current ones are used and
    the returned description says so.
    """
    root = fleet_repo_root(paths.instances)
    instances_rel = _inside(paths.instances, root)
    if instances_rel is None:
        raise FleetError([Diagnostic(paths.instances, 0, 0, "", "the instances directory is outside its repository")])
    if not exists_at(root, revision.commit, instances_rel if instances_rel != "." else ""):
        raise FleetError([Diagnostic(paths.instances, 0, 0, "", f"'{instances_rel}' does not exist at {revision.ref}",
                                     hint="choose a revision that has the fleet")])
    wanted = {"instances": instances_rel}
    for part, current, fallback in (("templates", paths.templates, "templates"), ("schemas", paths.schemas, "schemas")):
        rel = _inside(current, root)
        for candidate in (rel, fallback):
            if candidate and exists_at(root, revision.commit, candidate):
                wanted[part] = candidate
                break
    with checkout_tree(root, revision.commit, tuple(sorted(set(wanted.values()))), _short(revision)) as tmp:
        at = Paths(instances=os.path.join(tmp, wanted["instances"]),
                   templates=os.path.join(tmp, wanted["templates"]) if "templates" in wanted else paths.templates,
                   schemas=os.path.join(tmp, wanted["schemas"]) if "schemas" in wanted else paths.schemas)
        origin = {**revision.to_json(),
                  "templates": "revision" if "templates" in wanted else "current",
                  "schemas": "revision" if "schemas" in wanted else "current"}
        try:
            yield at, origin
        except FleetError as exc:
            raise relocate(exc, tmp, revision) from None


def _short(revision: Revision) -> str:
    """How messages name a revision: as asked for, or the commit's first 12 digits."""
    return revision.ref if len(revision.ref) < 40 else revision.commit[:12]


def relocate(exc: FleetError, tmp: str, revision: Revision) -> FleetError:
    """Diagnostics about files of the exported tree, named as REV:path instead of the temporary path."""
    short = _short(revision)
    prefix = os.path.join(tmp, "")
    out = []
    for d in exc.diagnostics:
        file = d.file
        if file.startswith(prefix):
            file = f"{short}:{file[len(prefix):]}"
        out.append(dataclasses.replace(d, file=file, context=d.context + (f"while modelling the fleet at {short}",)))
    return FleetError(out)
