"""A full disk and a read-only file system, for real: `fleet generate` says what happened (exit 4,
not "internal error ... please report it") and the output is the previous tree, whole.

The file system is a small tmpfs mounted in a private mount namespace (`unshare -rm`, which
needs no privilege where user namespaces are enabled); elsewhere the tests are skipped, and
tests/unit/test_output.py still covers the same paths with an injected ENOSPC.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from fleettest import ROOT, copy_sample_fleet

# Runs inside the namespace: mounts, generates, fills the disk or makes it read-only, generates
# again with one instance changed, and reports what it saw as JSON.
INSIDE = r"""
import hashlib, json, os, subprocess, sys
mount, instances, mode = sys.argv[1:4]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount], check=True)

def fleet():
    p = subprocess.run([sys.executable, "-m", "generator", "--instances", instances, "generate", "--jobs", "1",
                        "--out", "build"], cwd=mount, capture_output=True, text=True)
    return p.returncode, p.stderr

def digest():
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(os.path.join(mount, "build"))):
        for name in sorted(filenames):
            with open(os.path.join(dirpath, name), "rb") as fh:
                h.update(name.encode() + fh.read())
    return h.hexdigest()

first = fleet()
before = digest()
path = os.path.join(instances, "technology.cbi", "instance.yaml")
with open(path) as fh:
    text = fh.read()
with open(path, "w") as fh:
    fh.write(text.replace("resourcePacks: 5", "resourcePacks: 6"))
if mode == "read-only":
    subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
else:  # fill what is left
    fd = os.open(os.path.join(mount, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    os.close(fd)
second = fleet()
print(json.dumps({"first": first, "second": second, "intact": digest() == before,
                  "siblings": sorted(os.listdir(mount))}))
"""


def _namespaces_work() -> bool:
    if not shutil.which("unshare"):
        return False
    where = tempfile.mkdtemp(prefix="fleet-mount-probe-")
    try:
        return subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", where],
                              capture_output=True, check=False).returncode == 0
    finally:
        os.rmdir(where)


pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="no unprivileged mount namespace here")


def run_inside(tmp_path, mode: str) -> dict:
    instances = copy_sample_fleet(tmp_path)
    mount = tmp_path / "disk"
    mount.mkdir()
    env = {**os.environ, "PYTHONPATH": ROOT, "NO_COLOR": "1"}
    proc = subprocess.run(["unshare", "-rm", sys.executable, "-c", INSIDE, str(mount), instances, mode],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("mode, reason", [("full", "no space left on the device"),
                                          ("read-only", "read-only file system")])
def test_the_machine_refusing_a_write_is_reported_and_the_output_kept(tmp_path, mode, reason):
    seen = run_inside(tmp_path, mode)
    assert seen["first"][0] == 0, seen["first"][1]
    code, stderr = seen["second"]
    assert code == 4, stderr
    assert re.fullmatch(rf"error: cannot write build: {reason} \(writing \S+\); build is as it was before this "
                        r"run\n", stderr), stderr
    assert "please report" not in stderr and "internal error" not in stderr
    assert seen["intact"]
    assert [n for n in seen["siblings"] if n.startswith(".build.") and n not in (".build.lock",
                                                                                 ".build.cache.json")] == []
