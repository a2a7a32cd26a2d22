"""Helpers shared by the test suites: running the CLI, reading and comparing output trees.

Imported as `fleettest` (tests/conftest.py puts this directory on sys.path).
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_INSTANCES = os.path.join(ROOT, "instances")
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/instance.schema.json\n"

# `make update-golden` sets this: golden and error-fixture tests rewrite their expected files.
UPDATE = os.environ.get("FLEET_UPDATE_GOLDEN") == "1"


@dataclass
class Run:
    """What one `fleet` run printed (the push and deploy suites say out/err/all)."""
    code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout

    @property
    def err(self) -> str:
        return self.stderr

    @property
    def all(self) -> str:
        return self.stdout + self.stderr


def fleet_in_process(args: list[str], cwd: str | os.PathLike, environ: dict[str, str] | None = None) -> Run:
    """`fleet ARGS` through click's test runner, in `cwd` (fast: no interpreter start-up).

    With `environ`, the run sees exactly that environment (the rest of os.environ is hidden from it and
    restored afterwards), as a subprocess given env= would.
    """
    from click.testing import CliRunner

    from generator.cli import cli

    env = None
    if environ is not None:
        env = {k: None for k in os.environ if k not in environ}
        env.update(environ)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, color=False, env=env)
    finally:
        os.chdir(old)
    return Run(result.exit_code, result.stdout, result.stderr)


def fleet_subprocess(args: list[str], cwd: str | os.PathLike, timeout: float = 120) -> Run:
    """`python -m generator ARGS` in a fresh interpreter, as a user runs it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("FLEET_INSTANCES", None)
    env["NO_COLOR"] = "1"
    proc = subprocess.run([sys.executable, "-m", "generator", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


# --- trees ----------------------------------------------------------------------------------

# The sample fleet's catalog pins ldap and matrix-auth at releases with real, active security
# advisories (instances/catalogs/SOURCES.md): every run warns about those, and only those.
SAMPLE_ADVISORIES = ("SECURITY-3654", "SECURITY-3676")


def other_warnings(stderr: str) -> list[str]:
    """The warning lines of a run on the sample fleet, less its known plugin advisories."""
    return [line for line in stderr.splitlines() if ": warning: " in line
            and not any(f"active security warning {a}:" in line for a in SAMPLE_ADVISORIES)]


def yaml12_dumper():
    """libyaml's safe dumper (PyYAML's own emitter mangles U+0085) that also quotes the strings YAML 1.2
    reads as something else (`1e3`, `0o17`): instance files refuse those plain forms (sources.py)."""
    import yaml

    from generator import yamlout

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
        pass

    def represent_str(dumper, value):
        style = '"' if yamlout.core12(value) != value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return Dumper


def read_tree(root: str | os.PathLike) -> dict[str, bytes]:
    """Every file below `root`, by '/'-separated relative path."""
    root = os.fspath(root)
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return out


def tree_diff(actual: dict[str, bytes], expected: dict[str, bytes], *, shown: int = 3,
              label: str = "expected") -> str:
    """A readable report of how two trees differ: missing/extra files and the first unified diffs."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(p for p in set(actual) & set(expected) if actual[p] != expected[p])
    if not (missing or extra or changed):
        return ""
    parts = [f"{len(changed)} changed, {len(missing)} missing, {len(extra)} unexpected file(s)"]
    parts += [f"  missing:    {p}" for p in missing[:20]]
    parts += [f"  unexpected: {p}" for p in extra[:20]]
    parts += [f"  changed:    {p}" for p in changed[:20]]
    for path in changed[:shown]:
        old = expected[path].decode("utf-8", "replace").splitlines(keepends=True)
        new = actual[path].decode("utf-8", "replace").splitlines(keepends=True)
        parts.append("".join(difflib.unified_diff(old, new, f"{label}/{path}", f"generated/{path}", n=2)))
    if len(changed) > shown:
        parts.append(f"... and {len(changed) - shown} more changed file(s)")
    parts.append("If the change is intended: make update-golden, then review the diff.")
    return "\n".join(parts)


def replace_tree(target: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Make `target` contain exactly `files` (the update mode of the golden tests)."""
    target = os.fspath(target)
    shutil.rmtree(target, ignore_errors=True)
    for rel, data in files.items():
        path = os.path.join(target, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def write(path: str | os.PathLike, text: str | bytes) -> None:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def index_listing(files: dict[str, bytes]) -> bytes:
    """A fleet.json listing `files` ('<instance>/<rel>' -> bytes) with their sha256, as generate writes it."""
    import hashlib
    import json

    instances: dict = {}
    for rel, data in files.items():
        if rel != "fleet.json":
            name, _, inner = rel.partition("/")
            instances.setdefault(name, {"files": {}})["files"][inner] = hashlib.sha256(data).hexdigest()
    return json.dumps({"generator": "jenkins-fleet (tests)", "instances": instances}, sort_keys=True).encode()


def age_tree(root: str | os.PathLike) -> None:
    """Make any change to the tree from now on later than its fleet.json, even with a coarse
    file-system clock: wait (one clock tick at most) until a new file's time is past the index's.

    (The index's own times are left alone: changing them changes its identity, and the tree
    would no longer be the one fleet generate recorded.)
    """
    import time

    root = os.fspath(root)
    index_ns = os.stat(os.path.join(root, "fleet.json")).st_mtime_ns
    probe = os.path.join(os.path.dirname(root), f".clock-probe-{os.getpid()}")
    deadline = time.monotonic() + 5
    try:
        while time.monotonic() < deadline:
            with open(probe, "w"):
                pass
            if os.stat(probe).st_mtime_ns > index_ns:
                return
            time.sleep(0.001)
    finally:
        os.unlink(probe)
    raise AssertionError("the file-system clock did not move past the index in 5 s")


def copy_sample_fleet(dest: str | os.PathLike, advisories: bool = True) -> str:
    """A private copy of the sample fleet's instances/ directory; returns its path.

    advisories=False drops the security warnings from the copied plugin catalogs, for tests
    that compare a whole output and are about something else than the sample's advisories."""
    target = os.path.join(os.fspath(dest), "instances")
    shutil.copytree(SAMPLE_INSTANCES, target)
    if not advisories:
        # fleet.yaml's acknowledgements name the advisories dropped below: they would warn instead
        fleet_yaml = os.path.join(target, "fleet.yaml")
        with open(fleet_yaml, encoding="utf-8") as fh:
            text = fh.read()
        head, found, tail = text.partition("\nacknowledgedAdvisories:\n")
        if found:
            rest = tail.splitlines(keepends=True)
            while rest and rest[0].startswith((" ", "-")):
                rest.pop(0)
            write(fleet_yaml, head + "\n" + "".join(rest))
        for name in os.listdir(os.path.join(target, "catalogs")):
            path = os.path.join(target, "catalogs", name)
            if name.endswith(".json"):
                with open(path, encoding="utf-8") as fh:
                    catalog = json.load(fh)
                catalog["warnings"] = []
                write(path, json.dumps(catalog, indent=1, sort_keys=True) + "\n")
    return target


def git(repo, *args: str) -> str:
    """Run git in `repo` with a fixed identity and no user or system configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="Test",
               GIT_AUTHOR_EMAIL="test@example.org", GIT_COMMITTER_NAME="Test", GIT_COMMITTER_EMAIL="test@example.org")
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
