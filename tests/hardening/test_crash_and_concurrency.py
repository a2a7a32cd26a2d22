"""Crashes and concurrent runs: the output is the previous tree or the new one, whole, never a mix.

- A real `fleet generate` of a synthetic fleet (benchmarks/synthetic.py) is SIGKILLed after a
  delay spread over its whole run; afterwards build/ is exactly the tree before or the tree
  after (fleet.json lists every file with its sha256), and the next run finishes the job and
  removes the .build.tmp-*/.build.old-* siblings and a half-updated .build.spare.
- The same at fixed points of the write (hooked_fleet.py): before the lock, in the middle of
  writing the new tree, before the swap, right after the atomic exchange, and between the two
  renames of the fallback swap used where renameat2 is missing.
- Two runs at once on one output directory: one refuses with exit 4 and a clear message while
  the other holds the lock; whatever the interleaving, the result is one run's tree.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from badinput import index_consistent, leftovers, tree_digest
from fleettest import ROOT, copy_sample_fleet

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
if FUZZ:
    pytestmark = pytest.mark.timeout(0)
KILLS = max(3, FUZZ // 1000) if FUZZ else 2
SYNTHETIC_INSTANCES = 50  # enough for a run long enough to kill in each phase; fuzz-long kills more often
HOOKED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooked_fleet.py")
BUSY = re.compile(r"^error: \S*(build|out) is being written by fleet generate \(pid \d+\); wait for it to "
                  r"finish and run again$", re.MULTILINE)


def env(hook: str | None = None) -> dict:
    out = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    out["PYTHONPATH"] = ROOT + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out["NO_COLOR"] = "1"
    if hook:
        out["FLEET_TEST_HOOK"] = hook
    return out


def start(args, cwd, hook: str | None = None) -> subprocess.Popen:
    """A real process (its own process group, so that a kill reaches its workers too)."""
    return subprocess.Popen([sys.executable, HOOKED, *map(str, args)], cwd=cwd, env=env(hook),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def run(args, cwd, hook: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = start(args, cwd, hook)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def set_admin_email(instances: str, value: str) -> None:
    """A fleet-wide change: every instance's JCasC changes with it."""
    path = os.path.join(instances, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text, n = re.subn(r"(?m)^  adminEmail: .*$", f"  adminEmail: {value}", text)
    assert n == 1
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def assert_whole(build: str, allowed: dict[str, str]) -> str:
    """build/ is one of the allowed trees (name -> digest), listed by its fleet.json; returns the name."""
    assert os.path.isdir(build), "build/ is gone"
    digest = tree_digest(build)
    assert index_consistent(build) == "", index_consistent(build)
    matches = [name for name, d in allowed.items() if d == digest]
    assert matches, f"build/ is none of {sorted(allowed)}"
    return matches[0]


# --- SIGKILL at random moments, on a synthetic fleet ---------------------------------------------

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import synthetic as make_synthetic
    finally:
        sys.path.pop(0)
    root = str(tmp_path_factory.mktemp("synthetic"))
    make_synthetic.make(os.path.join(root, "instances"), SYNTHETIC_INSTANCES)
    set_admin_email(os.path.join(root, "instances"), "admins-0@example.org")
    started = time.monotonic()
    first = run(["generate", "--jobs", "2"], root)
    assert first.returncode == 0, first.stderr
    return root, time.monotonic() - started


def test_sigkill_at_random_moments_leaves_a_whole_tree(synthetic):
    root, duration = synthetic
    build = os.path.join(root, "build")
    rng = random.Random(int(os.environ.get("FLEET_KILL_SEED", "8")))
    # stratified over start-up, loading and rendering, plus one in the last fifth, where the tree is
    # written and swapped (and a little past the end)
    delays = [duration * 0.8 * (i + rng.random()) / (KILLS - 1) for i in range(KILLS - 1)]
    delays.append(duration * rng.uniform(0.8, 1.05))
    seen = []
    for i, delay in enumerate(delays, start=1):
        old = tree_digest(build)
        set_admin_email(os.path.join(root, "instances"), f"admins-{i}@example.org")
        proc = start(["generate", "--jobs", "2"], root)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it finished first
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        # renameat2 swaps atomically: build/ always exists and is listed whole by its fleet.json
        assert os.path.isdir(build), f"kill {i} after {delay:.2f}s: build/ is gone"
        after_kill = tree_digest(build)
        assert index_consistent(build) == "", f"kill {i} after {delay:.2f}s: {index_consistent(build)}"
        # the next run completes the job: the new tree, whole
        again = run(["generate", "--jobs", "2"], root)
        assert again.returncode == 0, again.stderr
        new = tree_digest(build)
        state = {old: "old", new: "new"}.get(after_kill)
        assert state is not None, f"kill {i} after {delay:.2f}s left a tree that is neither the old nor the new one"
        assert index_consistent(build) == ""
        assert leftovers(root) == [], f"kill {i}: {leftovers(root)}"  # every run cleans up under the lock
        seen.append(f"{delay:.2f}s:{state}{'' if proc.returncode else '(finished)'}")
    final = run(["generate", "--jobs", "2"], root)  # nothing to do, but it must not leave litter either way
    assert final.returncode == 0
    print(f"SIGKILL after {', '.join(seen)} (run takes {duration:.2f}s)")


# --- SIGKILL at fixed points of the write ----------------------------------------------------------

@pytest.fixture(scope="module")
def sample_trees(tmp_path_factory):
    """The sample fleet generated with admin e-mail A (state-a/, with whatever generate keeps beside
    build/) and with B (ref-b/): the digests of both trees."""
    root = tmp_path_factory.mktemp("sample-trees")
    state = root / "state-a"
    copy_sample_fleet(state)
    set_admin_email(str(state / "instances"), "admins-b@example.org")
    done = run(["generate", "--jobs", "1", "--out", str(root / "ref-b")], state)
    assert done.returncode == 0, done.stderr
    set_admin_email(str(state / "instances"), "admins-a@example.org")
    done = run(["generate", "--jobs", "1"], state)
    assert done.returncode == 0, done.stderr
    return root, {"a": tree_digest(str(state / "build")), "b": tree_digest(str(root / "ref-b"))}


@pytest.fixture
def at_a(sample_trees, tmp_path):
    """A scratch copy of state-a (build/ holds the A tree) with instances/ set to B."""
    root, digests = sample_trees
    shutil.copytree(root / "state-a", tmp_path, dirs_exist_ok=True)
    set_admin_email(str(tmp_path / "instances"), "admins-b@example.org")
    return tmp_path, digests


POINTS = {  # hook -> (state of build/ after the kill, leftovers after the kill)
    "kill-before-lock": ("a", False),
    "kill-mid-write:1": ("a", True),
    "kill-mid-write:120": ("a", True),
    "kill-before-swap": ("a", False),  # the B tree complete as the spare: the next run swaps it in
    "kill-after-exchange": ("b", False),  # the A tree is the spare, whole
}


@pytest.mark.parametrize("hook", sorted(POINTS))
def test_sigkill_during_the_write_keeps_one_whole_tree(at_a, hook):
    root, digests = at_a
    build = str(root / "build")
    killed = run(["generate", "--jobs", "1"], root, hook=hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    state, litter = POINTS[hook]
    assert assert_whole(build, {"a": digests["a"], "b": digests["b"]}) == state
    assert bool(leftovers(str(root))) == litter, leftovers(str(root))
    if state == "a":  # the next run writes the B tree and removes what the killed one left
        again = run(["generate", "--jobs", "1"], root)
        assert again.returncode == 0, again.stderr
        assert tree_digest(build) == digests["b"]
        assert leftovers(str(root)) == []


def test_sigkill_between_the_fallback_renames_keeps_the_old_tree(at_a):
    """Without renameat2 the swap is three renames; killed after the first, build/ is briefly missing."""
    root, digests = at_a
    killed = run(["generate", "--jobs", "1"], root, hook="kill-between-renames")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not os.path.exists(root / "build")
    (old,) = [n for n in leftovers(str(root)) if ".old-" in n]
    assert tree_digest(str(root / old)) == digests["a"]  # the last good output, intact
    again = run(["generate", "--jobs", "1"], root)
    assert again.returncode == 0, again.stderr
    assert tree_digest(str(root / "build")) == digests["b"]
    assert leftovers(str(root)) == []


def test_partial_run_after_a_crash_between_renames_keeps_the_other_instances(at_a):
    root, _ = at_a
    killed = run(["generate", "--jobs", "1"], root, hook="kill-between-renames")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with open(root / "instances" / "technology.cbi" / "instance.yaml", "a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    again = run(["generate", "technology.cbi", "--jobs", "1"], root)  # the other instances are not selected
    assert again.returncode == 0, again.stderr
    assert index_consistent(str(root / "build")) == ""
    names = sorted(n for n in os.listdir(root / "build") if os.path.isdir(root / "build" / n) and n != "monitoring")
    assert len(names) == 13, f"only {names} left"


def test_a_run_with_nothing_to_do_still_cleans_up(at_a):
    root, digests = at_a
    killed = run(["generate", "--jobs", "1"], root, hook="kill-mid-write:120")
    assert killed.returncode == -signal.SIGKILL
    assert tree_digest(str(root / "build")) == digests["a"] and leftovers(str(root)) == [".build.spare"]
    set_admin_email(str(root / "instances"), "admins-a@example.org")  # back to what build/ holds
    again = run(["generate", "--jobs", "1"], root)
    assert again.returncode == 0, again.stderr
    assert tree_digest(str(root / "build")) == digests["a"]
    assert leftovers(str(root)) == []


# --- two runs at once ----------------------------------------------------------------------------

def _wait(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_second_run_is_refused_while_the_first_holds_the_lock(at_a):
    root, digests = at_a
    build = str(root / "build")
    gate = str(root / "gate")
    first = start(["generate", "--jobs", "1"], root, hook=f"hold-lock:{gate}")
    _wait(gate + ".ready", first)
    second = run(["generate", "--jobs", "1"], root)
    assert second.returncode == 4, second.stderr
    assert BUSY.search(second.stderr), second.stderr
    assert "Traceback" not in second.stderr
    check = run(["generate", "--check", "--jobs", "1"], root)  # --check needs no lock
    assert check.returncode == 1 and "changed  build/" in check.stdout
    assert tree_digest(build) == digests["a"]
    open(gate, "w").close()
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert tree_digest(build) == digests["b"]
    assert leftovers(str(root)) == []


def test_two_runs_at_once_end_with_one_whole_tree(sample_trees, tmp_path):
    """Real races: different inputs, the same --out, started together; the survivor's tree, whole."""
    root, digests = sample_trees
    for variant in ("a", "b"):
        shutil.copytree(root / "state-a" / "instances", tmp_path / variant)
        set_admin_email(str(tmp_path / variant), f"admins-{variant}@example.org")
    outcomes = []
    for _ in range(3):
        # --no-cache: only the lock is raced here; the cache under the lock has its own test below
        procs = {v: start(["--instances", v, "generate", "--jobs", "1", "--out", "out", "--no-cache"], tmp_path)
                 for v in "ab"}
        results = {v: p.communicate(timeout=120) + (p.returncode,) for v, p in procs.items()}
        for _, err, code in results.values():
            assert code in (0, 4), err
            if code == 4:
                assert BUSY.search(err), err
        state = assert_whole(str(tmp_path / "out"), digests)
        outcomes.append(f"{state}:{results['a'][2]}/{results['b'][2]}")
        assert leftovers(str(tmp_path), "out") == []
    print("rounds (tree: exit a/exit b):", ", ".join(outcomes))


def test_a_run_that_waited_for_another_does_not_mix_their_trees(at_a):
    root, digests = at_a
    shutil.copytree(root / "instances", root / "instances-b")
    set_admin_email(str(root / "instances"), "admins-a@example.org")  # what build/ holds: all cached
    gate = str(root / "gate")
    slow = start(["generate", "--jobs", "1"], root, hook=f"pause-before-lock:{gate}")
    _wait(gate + ".ready", slow)
    fast = run(["--instances", "instances-b", "generate", "--jobs", "1"], root)
    assert fast.returncode == 0, fast.stderr
    assert tree_digest(str(root / "build")) == digests["b"]
    open(gate, "w").close()
    _, err = slow.communicate(timeout=60)
    assert slow.returncode in (0, 4), err
    assert_whole(str(root / "build"), digests)
