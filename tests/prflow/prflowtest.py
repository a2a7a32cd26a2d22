"""Helpers for the pull-request flow tests: throwaway git repositories and the CLI run in them.

Imported as `prflowtest` (pytest puts this directory on sys.path for its test modules).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fleettest import ROOT, Run, git

FLEET_PARTS = ("instances", "templates", "schemas")


def make_repo(where: Path) -> Path:
    """A git repository on main holding a copy of the sample fleet with its templates and schemas."""
    where.mkdir()
    for part in FLEET_PARTS:
        shutil.copytree(Path(ROOT) / part, where / part)
    git(where, "init", "-q", "-b", "main")
    git(where, "add", "-A")
    git(where, "commit", "-q", "-m", "the fleet")
    return where


def fleet(repo: Path, *args, env: dict | None = None) -> Run:
    """`fleet --instances instances ARGS` in `repo`, in process (click's runner), stdout and stderr apart."""
    from click.testing import CliRunner

    from generator.cli import cli
    old = os.getcwd()
    os.chdir(repo)
    try:
        result = CliRunner().invoke(cli, ["--no-color", "--instances", "instances", *map(str, args)], env=env,
                                    catch_exceptions=False)
    finally:
        os.chdir(old)
    return Run(result.exit_code, result.stdout, result.stderr)


def set_key(path: Path, key: str, value: str) -> None:
    """Replace the value of `  key:` (an indented line) in a YAML file, or add it under `project:`."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"  {key}:"):
            lines[i] = f"  {key}: {value}"
            break
    else:
        lines.insert(lines.index("project:") + 1, f"  {key}: {value}")
    path.write_text("\n".join(lines) + "\n")


def tree(root: Path) -> dict[str, bytes]:
    """Every file and directory below root (hidden ones too), for 'nothing was written' checks."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = b""
        for f in filenames:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root)] = fh.read()
    return out
