"""generator/output.py: the output tree is replaced whole, under a lock, or not at all."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fleettest import age_tree, index_listing, read_tree, write

from generator import output
from generator.errors import FleetError, OutputBusyError
from generator.output import INDEX, FileChange, OutputLock, compare, recover, write_tree

OLD = {INDEX: b'{"instances": {}}\n', "a/k8s/ns.yaml": b"old a\n", "b/model.json": b"{}\n",
       "b/image/Dockerfile": b"FROM x\n"}
NEW = {INDEX: b'{"instances": {"a": {}}}\n', "a/k8s/ns.yaml": b"new a\n", "c/model.json": b"{}\n"}


def leftovers(parent) -> list[str]:
    """Hidden siblings other than the lock, the spare (the previous tree, kept on purpose) and the state."""
    return sorted(n for n in os.listdir(parent)
                  if n.startswith(".") and not n.endswith((".lock", ".spare", ".cache.json")))


def tree(**files) -> dict[str, bytes]:
    """files with their index, keyed as 'a/k8s/ns.yaml' from a__k8s__ns_yaml=..."""
    out = {k.replace("__", "/").replace("_yaml", ".yaml"): v.encode() for k, v in files.items()}
    out[INDEX] = index_listing(out)
    return out


def make(out, files=OLD):
    with OutputLock(out):
        write_tree(str(out), dict(files))


def test_first_write_creates_exactly_the_files(tmp_path):
    make(tmp_path / "build")
    assert read_tree(tmp_path / "build") == OLD
    assert leftovers(tmp_path) == []


def test_rewrite_replaces_the_tree_and_removes_stale_files(tmp_path):
    make(tmp_path / "build")
    make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "build") == NEW  # b/ is gone entirely, not just its files
    assert not os.path.exists(tmp_path / "build" / "b")
    assert leftovers(tmp_path) == []


def test_carry_over_keeps_named_files_of_the_previous_tree(tmp_path):
    make(tmp_path / "build")
    with OutputLock(tmp_path / "build"):
        write_tree(str(tmp_path / "build"), {INDEX: b"{}\n", "a/k8s/ns.yaml": b"a2\n"},
                   output.grouped({"b/model.json": output.sha256(b"{}\n"),
                                   "b/image/Dockerfile": output.sha256(b"FROM x\n")}))
    assert read_tree(tmp_path / "build") == {INDEX: b"{}\n", "a/k8s/ns.yaml": b"a2\n",
                                             "b/model.json": b"{}\n", "b/image/Dockerfile": b"FROM x\n"}


def test_a_failure_while_writing_leaves_the_previous_tree_intact(tmp_path):
    make(tmp_path / "build")
    before = read_tree(tmp_path / "build")
    # 'x' as a file and as a directory: the write fails half-way through the new tree
    broken = {INDEX: b"{}\n", "w/file": b"1\n", "x": b"file\n", "x/y": b"under a file\n"}
    with pytest.raises(OSError), OutputLock(tmp_path / "build"):
        write_tree(str(tmp_path / "build"), broken)
    assert read_tree(tmp_path / "build") == before
    assert leftovers(tmp_path) == []


def test_a_failure_during_the_swap_leaves_the_previous_tree_intact(tmp_path, monkeypatch):
    make(tmp_path / "build")
    before = read_tree(tmp_path / "build")

    def boom(tmp, out_dir):
        raise OSError("simulated failure")

    monkeypatch.setattr(output, "_swap", boom)
    with pytest.raises(OSError, match="simulated"):
        make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "build") == before
    assert leftovers(tmp_path) == []


def test_fallback_swap_without_renameat2(tmp_path, monkeypatch):
    monkeypatch.setattr(output, "_EXCHANGE", None)
    make(tmp_path / "build")
    make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "build") == NEW
    assert leftovers(tmp_path) == []


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path):
    precious = tmp_path / "build"
    write(precious / "notes.txt", "mine\n")
    with pytest.raises(FleetError) as info:
        make(precious, NEW)
    assert "has no fleet.json" in info.value.diagnostics[0].message
    assert read_tree(precious) == {"notes.txt": b"mine\n"}


def test_an_empty_directory_may_be_used(tmp_path):
    (tmp_path / "build").mkdir()
    make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "build") == NEW


def test_refuses_a_file_as_output(tmp_path):
    write(tmp_path / "build", "a file\n")
    with pytest.raises(FleetError) as info:
        make(tmp_path / "build", NEW)
    assert "not a directory" in info.value.diagnostics[0].message
    assert (tmp_path / "build").read_text() == "a file\n"


def test_recover_after_a_kill_between_the_fallback_renames(tmp_path):
    """Without renameat2: build -> .build.old-PID, .build.spare -> build, .build.old-PID -> .build.spare;
    killed after the first, build/ is missing and the complete new tree is still the spare."""
    make(tmp_path / "build")
    before = read_tree(tmp_path / "build")
    os.rename(tmp_path / "build", tmp_path / ".build.old-4242")
    for rel, data in NEW.items():
        write(tmp_path / ".build.spare" / rel, data)
    assert not os.path.exists(tmp_path / "build")
    with OutputLock(tmp_path / "build"):
        recover(str(tmp_path / "build"))
    assert read_tree(tmp_path / "build") == before
    assert read_tree(tmp_path / ".build.spare") == NEW  # whole, with its index: kept for the next run
    assert leftovers(tmp_path) == []


def test_recover_removes_leftovers_and_keeps_the_current_tree(tmp_path):
    make(tmp_path / "build")
    write(tmp_path / ".build.tmp-17" / "half" / "written", "x")
    write(tmp_path / ".build.old-18" / INDEX, "{}")
    with OutputLock(tmp_path / "build"):
        recover(str(tmp_path / "build"))
    assert read_tree(tmp_path / "build") == OLD
    assert leftovers(tmp_path) == []


def test_the_next_write_recovers_by_itself(tmp_path):
    """Also from the leftovers of versions that built a fresh .build.tmp-PID tree."""
    make(tmp_path / "build")
    os.rename(tmp_path / "build", tmp_path / ".build.old-4242")
    write(tmp_path / ".build.tmp-4242" / "partial", "x")
    make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "build") == NEW
    assert leftovers(tmp_path) == []


def test_the_lock_refuses_a_second_writer(tmp_path):
    out = tmp_path / "build"
    with OutputLock(out) as first:
        with pytest.raises(OutputBusyError) as info, OutputLock(out):
            pass
        assert f"(pid {os.getpid()})" in str(info.value)
        assert str(out) in str(info.value)
        assert os.path.basename(first.path) == ".build.lock"
    with OutputLock(out):  # released on exit
        pass


def _hold_nameless(lock_path, seconds):
    """Another process's view of the lock in the instant between taking it and naming itself."""
    import fcntl
    import threading
    fh = open(lock_path, "a+")  # noqa: SIM115 - closed by the timer
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a second open file: flock conflicts even in-process

    def release():
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
    timer = threading.Timer(seconds, release)
    timer.start()
    return timer


def test_a_lock_caught_between_holders_is_taken_once_free(tmp_path):
    out = tmp_path / "build"
    lock_path = tmp_path / ".build.lock"
    timer = _hold_nameless(lock_path, 0.1)
    with OutputLock(out):  # waited the nameless window out instead of reporting a nameless holder
        assert f"(pid {os.getpid()})" in lock_path.read_text()
    timer.join()


def test_a_holder_that_never_names_itself_is_reported_plainly(tmp_path):
    out = tmp_path / "build"
    timer = _hold_nameless(tmp_path / ".build.lock", 2.0)
    try:
        with pytest.raises(OutputBusyError, match="being written by another process; wait"), OutputLock(out):
            pass
    finally:
        timer.join()


def test_locks_on_different_outputs_do_not_conflict(tmp_path):
    with OutputLock(tmp_path / "build"), OutputLock(tmp_path / "build2"):
        pass


def test_compare_lists_added_changed_and_removed(tmp_path):
    make(tmp_path / "build")
    changes = compare(str(tmp_path / "build"), NEW)
    assert set(changes) == {FileChange("changed", INDEX), FileChange("changed", "a/k8s/ns.yaml"),
                            FileChange("added", "c/model.json"), FileChange("removed", "b/image/Dockerfile"),
                            FileChange("removed", "b/model.json")}
    assert len(changes) == 5
    # scoped to instance 'a' (and the index): b's files are not someone else's business
    scoped = compare(str(tmp_path / "build"), NEW, scope={"a", INDEX})
    assert [c for c in scoped if c.status == "removed"] == []
    assert compare(str(tmp_path / "build"), OLD) == []
    assert compare(str(tmp_path / "nothing"), {"x": b""}) == [FileChange("added", "x")]


# --- the spare: the previous tree, brought up to date in place ---------------------------------

def test_the_previous_tree_is_kept_as_the_spare(tmp_path):
    first, second = tree(a__k8s__ns_yaml="1\n", b__x_yaml="b\n"), tree(a__k8s__ns_yaml="2\n")
    make(tmp_path / "build", first)
    make(tmp_path / "build", second)
    assert read_tree(tmp_path / "build") == second
    assert read_tree(tmp_path / ".build.spare") == first


def test_an_unchanged_part_is_neither_rebuilt_nor_copied(tmp_path):
    trees = [tree(a__k8s__ns_yaml="1\n", b__k8s__ns_yaml=f"{i}\n") for i in range(3)]
    make(tmp_path / "build", trees[0])
    # held open: a removed inode's number cannot be handed to a new file meanwhile
    held = [os.open(tmp_path / "build" / "a" / p, os.O_RDONLY) for p in ("k8s", "k8s/ns.yaml")]
    try:
        a_dir, a_file = (os.fstat(fd).st_ino for fd in held)
        make(tmp_path / "build", trees[1])  # no spare yet: a tree from scratch, the first one is the spare now
        make(tmp_path / "build", trees[2])  # the first tree brought up to date: only b/ changed
        assert read_tree(tmp_path / "build") == trees[2]
        assert os.stat(tmp_path / "build" / "a" / "k8s").st_ino == a_dir
        assert os.stat(tmp_path / "build" / "a" / "k8s" / "ns.yaml").st_ino == a_file
    finally:
        for fd in held:
            os.close(fd)


def test_a_file_carried_over_that_the_spare_lacks_is_linked_from_the_output(tmp_path):
    make(tmp_path / "build", tree(a__x_yaml="old\n"))
    make(tmp_path / "build", tree(a__x_yaml="now\n"))
    current = os.stat(tmp_path / "build" / "a" / "x.yaml").st_ino
    after = {"a/x.yaml": b"now\n", "c/x.yaml": b"c\n"}
    with OutputLock(tmp_path / "build"):
        write_tree(str(tmp_path / "build"), {INDEX: index_listing(after), "c/x.yaml": b"c\n"},
                   output.grouped({"a/x.yaml": output.sha256(b"now\n")}))
    assert read_tree(tmp_path / "build") == {INDEX: index_listing(after), **after}
    assert os.stat(tmp_path / "build" / "a" / "x.yaml").st_ino == current  # a link, not a copy


@pytest.mark.parametrize("tamper", ["add-file", "add-dir", "remove-file", "edit-in-place", "replace-file"])
def test_a_tree_changed_by_hand_while_it_was_the_output_is_not_trusted_as_the_spare(tmp_path, tamper):
    """Whatever happened to build/ by hand, the next trees hold exactly what was written."""
    trees = [tree(a__k8s__ns_yaml="a\n", b__k8s__ns_yaml=f"{i}\n") for i in range(3)]
    make(tmp_path / "build", trees[0])
    ns = tmp_path / "build" / "a" / "k8s" / "ns.yaml"
    age_tree(tmp_path / "build")
    if tamper == "add-file":
        write(tmp_path / "build" / "a" / "k8s" / "notes.txt", "mine\n")
    elif tamper == "add-dir":
        write(tmp_path / "build" / "scratch" / "notes.txt", "mine\n")
    elif tamper == "remove-file":
        ns.unlink()
    elif tamper == "edit-in-place":  # the same inode as in the spare later: must not come back
        with open(ns, "a") as fh:
            fh.write("edited\n")
    elif tamper == "replace-file":
        ns.unlink()
        write(ns, "a\n")  # same bytes, new inode: harmless either way
    make(tmp_path / "build", trees[1])  # the tampered tree becomes the spare
    make(tmp_path / "build", trees[2])  # and is brought up to date, or rebuilt
    assert read_tree(tmp_path / "build") == trees[2]
    make(tmp_path / "build", trees[0])
    assert read_tree(tmp_path / "build") == trees[0]


def test_a_spare_left_half_updated_is_removed_and_rebuilt(tmp_path):
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    make(tmp_path / "build", tree(a__x_yaml="2\n"))
    spare = tmp_path / ".build.spare"
    (spare / INDEX).unlink()  # what a kill in the middle of bringing it up to date leaves
    write(spare / "a" / "half.yaml", "x\n")
    with OutputLock(tmp_path / "build"):
        recover(str(tmp_path / "build"))
    assert not spare.exists()
    make(tmp_path / "build", tree(a__x_yaml="3\n"))
    assert read_tree(tmp_path / "build") == tree(a__x_yaml="3\n")


def test_a_failure_while_updating_the_spare_leaves_the_output_and_removes_the_spare(tmp_path):
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    make(tmp_path / "build", tree(a__x_yaml="2\n"))
    before = read_tree(tmp_path / "build")
    broken = {INDEX: b"{}\n", "x": b"file\n", "x/y": b"under a file\n"}
    with pytest.raises(OSError), OutputLock(tmp_path / "build"):
        write_tree(str(tmp_path / "build"), broken)
    assert read_tree(tmp_path / "build") == before
    assert not (tmp_path / ".build.spare").exists()


def test_a_symlink_as_the_spare_is_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    make(elsewhere, tree(a__x_yaml="precious\n"))
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    os.symlink(elsewhere, tmp_path / ".build.spare")
    make(tmp_path / "build", tree(a__x_yaml="2\n"))
    assert read_tree(tmp_path / "build") == tree(a__x_yaml="2\n")
    assert read_tree(elsewhere) == tree(a__x_yaml="precious\n")


def test_a_spare_index_naming_paths_outside_the_tree_is_not_trusted(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    make(tmp_path / "build", tree(a__x_yaml="2\n"))
    spare = tmp_path / ".build.spare"
    index = json.loads((spare / INDEX).read_text())
    index["instances"][".."] = {"files": {"victim.txt": "0" * 64}}  # '../victim.txt', not in the next tree
    (spare / INDEX).write_text(json.dumps(index))
    os.utime(spare / INDEX, ns=(os.stat(spare).st_mtime_ns + 10**9,) * 2)  # newer than every directory
    make(tmp_path / "build", tree(a__x_yaml="3\n"))
    assert victim.read_text() == "keep me\n"
    assert read_tree(tmp_path / "build") == tree(a__x_yaml="3\n")


def test_paths_outside_the_output_are_refused(tmp_path):
    make(tmp_path / "build")
    for bad in ({"../x": b"x\n"}, {"/abs": b"x\n"}, {"a/./b": b"x\n"}):
        with pytest.raises(FleetError, match="refusing to write outside the output"), OutputLock(tmp_path / "build"):
            write_tree(str(tmp_path / "build"), {INDEX: b"{}\n", **bad})
    with pytest.raises(FleetError), OutputLock(tmp_path / "build"):
        write_tree(str(tmp_path / "build"), {INDEX: b"{}\n"}, output.grouped({"../../etc/passwd": "0" * 64}))
    assert read_tree(tmp_path / "build") == OLD


# --- what may be trusted: only trees this tool wrote here ---------------------------------------

def test_a_linked_lock_is_refused_and_its_target_left_alone(tmp_path):
    """A pull request can commit .build.lock as a link; opening the lock truncates it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, tmp_path / ".build.lock")
    with pytest.raises(FleetError) as info, OutputLock(tmp_path / "build"):
        pass
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.message) == (str(tmp_path / ".build.lock"),
                                         "the output lock is a symbolic link, and links are never followed here")
    assert victim.read_text() == "precious\n"


def test_a_hard_linked_lock_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.link(victim, tmp_path / ".build.lock")
    with pytest.raises(FleetError, match="not a file of its own"), OutputLock(tmp_path / "build"):
        pass
    assert victim.read_text() == "precious\n"


def planted(tmp_path, name: str, files: dict[str, bytes]) -> None:
    """A tree that came with a clone or a pull request: whole, consistent with its own index."""
    for rel, data in files.items():
        write(tmp_path / name / rel, data)


def test_a_committed_spare_is_not_trusted(tmp_path):
    """The issue's attack: a planted .build.spare with a correct index and a malicious file."""
    good = tree(a__k8s__sts_yaml="image: ours\n", a__k8s__ns_yaml="ns\n")
    evil = {**good, "a/k8s/sts.yaml": b"image: evil\n"}
    evil[INDEX] = good[INDEX]  # claims the good content: only a trusted spare's index is believed
    planted(tmp_path, ".build.spare", evil)
    os.utime(tmp_path / ".build.spare" / INDEX)  # newer than everything: passes the mtime test
    make(tmp_path / "build", good)
    assert read_tree(tmp_path / "build") == good
    make(tmp_path / "build", tree(a__k8s__sts_yaml="image: ours\n", a__k8s__ns_yaml="ns 2\n"))
    assert b"evil" not in read_tree(tmp_path / "build")["a/k8s/sts.yaml"]


def test_a_state_file_from_elsewhere_is_not_trusted(tmp_path):
    """A build/ and its .build.cache.json committed together, or copied: neither is reused."""
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    make(tmp_path / "build", tree(a__x_yaml="2\n"))  # a spare exists now
    assert output.read_cache(str(tmp_path / "build")) is not None
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("build", ".build.spare", ".build.cache.json"):
        src = tmp_path / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, clone / name)
    assert output.read_cache(str(clone / "build")) is None  # other inodes: not the trees recorded
    assert output._spare_contents(str(clone / ".build.spare"), []) is None
    state = json.loads((tmp_path / ".build.cache.json").read_text())
    state["state"]["keys"] = {"a": "forged"}
    (tmp_path / ".build.cache.json").write_text(json.dumps(state))
    assert output.read_cache(str(tmp_path / "build")) is None  # the signature no longer matches


def test_the_record_survives_a_restart_but_not_a_new_key(tmp_path, monkeypatch):
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    assert output.read_cache(str(tmp_path / "build")) is not None
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "another-machine"))
    assert output.read_cache(str(tmp_path / "build")) is None
    make(tmp_path / "build", tree(a__x_yaml="2\n"))  # replaced all the same: it holds only what it lists
    assert read_tree(tmp_path / "build") == tree(a__x_yaml="2\n")


def test_a_directory_holding_some_fleet_json_is_never_replaced(tmp_path):
    """The issue's case: --out proj2, where proj2/ holds fleet.json, important.txt and src/."""
    proj = tmp_path / "proj2"
    mine = {INDEX: b'{"name": "my project"}\n', "important.txt": b"keep\n", "src/main.c": b"int main;\n"}
    planted(tmp_path, "proj2", mine)
    for _ in range(2):
        with pytest.raises(FleetError) as info:
            make(proj, NEW)
        assert read_tree(proj) == mine
        assert sorted(os.listdir(tmp_path)) == [".proj2.lock", "proj2"]
    (diag,) = info.value.diagnostics
    assert diag.message == ("refusing to replace this directory: fleet generate did not write it "
                            "(its fleet.json is not an index that fleet generate writes)")
    assert diag.hint == ("choose another --out, or move what it holds elsewhere first: "
                         "fleet generate replaces the whole directory")


def test_a_tree_with_files_its_index_does_not_list_is_never_replaced(tmp_path):
    ours = tree(a__x_yaml="1\n")
    planted(tmp_path, "out", {**ours, "notes.txt": b"mine\n", "src/a.c": b"x\n"})
    with pytest.raises(FleetError) as info:
        make(tmp_path / "out", NEW)
    assert info.value.diagnostics[0].message.endswith(
        "(it holds 2 files that its fleet.json does not list: notes.txt, src/a.c)")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine\n"


def test_an_unrecorded_generated_tree_is_replaced_but_not_reused(tmp_path):
    """build/ of an earlier version, or copied from elsewhere: only listed files, so ours to replace;
    not trusted as the spare afterwards."""
    old = tree(a__x_yaml="1\n", b__x_yaml="b\n")
    planted(tmp_path, "build", {**old, "a/x.yaml": b"edited by hand\n"})  # edits are still ours to replace
    make(tmp_path / "build", tree(a__x_yaml="2\n", b__x_yaml="b\n"))
    assert read_tree(tmp_path / "build") == tree(a__x_yaml="2\n", b__x_yaml="b\n")
    state = json.loads((tmp_path / ".build.cache.json").read_text())["state"]
    assert len(state["trees"]) == 1  # the new tree only
    assert output._spare_contents(str(tmp_path / ".build.spare"), state["trees"]) is None


def test_a_linked_output_directory_is_refused(tmp_path):
    make(tmp_path / "real", OLD)
    os.symlink(tmp_path / "real", tmp_path / "build")
    with pytest.raises(FleetError, match=r"\(it is a symbolic link; pass the directory itself\)"):
        make(tmp_path / "build", NEW)
    assert read_tree(tmp_path / "real") == OLD


def test_a_planted_old_tree_is_not_restored_as_the_output(tmp_path):
    """.build.old-N is what a fallback swap killed half-way leaves; one that came with a clone
    (a tree we never wrote, with unlisted files) is removed, not renamed to build/."""
    planted(tmp_path, ".build.old-7", {**tree(a__x_yaml="evil\n"), "extra": b"x\n"})
    with OutputLock(tmp_path / "build"):
        recover(str(tmp_path / "build"))
    assert sorted(os.listdir(tmp_path)) == [".build.lock"]


# --- when the machine refuses a write -------------------------------------------------------------

def test_a_full_disk_is_reported_as_such_and_the_output_stays(tmp_path, monkeypatch):
    import errno
    make(tmp_path / "build", tree(a__x_yaml="1\n"))
    before = read_tree(tmp_path / "build")

    def full(path, data, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(output, "_write_new_file", full)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(output.OutputWriteError) as info:
        make("build", tree(a__x_yaml="2\n"))
    assert str(info.value) == ("cannot write build: no space left on the device (writing .build.spare/a/x.yaml); "
                               "build is as it was before this run")
    assert read_tree(tmp_path / "build") == before
    assert not (tmp_path / ".build.spare").exists()


def test_any_other_write_error_is_still_a_bug(tmp_path, monkeypatch):
    import errno
    monkeypatch.setattr(output, "_write_new_file", lambda path, data, **kw: (_ for _ in ()).throw(
        OSError(errno.EBADF, "Bad file descriptor")))
    with pytest.raises(OSError) as info:
        make(tmp_path / "build", OLD)
    assert not isinstance(info.value, output.OutputWriteError)


# --- on disk before the swap ------------------------------------------------------------------------

def test_a_small_change_fsyncs_its_files_and_directories_before_the_swap(tmp_path, monkeypatch):
    make(tmp_path / "build", tree(a__x_yaml="1\n", b__x_yaml="b\n"))
    make(tmp_path / "build", tree(a__x_yaml="2\n", b__x_yaml="b\n"))
    synced, order = [], []
    real_fsync, real_swap = os.fsync, output._swap
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    monkeypatch.setattr(output, "_swap", lambda a, b: (order.append(len(synced)), real_swap(a, b)))
    monkeypatch.setattr(output, "_sync_file_system", lambda path: pytest.fail("a small change syncs file by file"))
    make(tmp_path / "build", tree(a__x_yaml="3\n", b__x_yaml="b\n"))
    spare = str(tmp_path / ".build.spare")
    assert synced[:order[0]] == [f"{spare}/a/x.yaml", f"{spare}/{INDEX}", f"{spare}/a", spare]
    assert synced[order[0]:] == [str(tmp_path)]  # the swap itself, after it


def test_a_large_change_syncs_the_file_system_once(tmp_path, monkeypatch):
    many = {f"i{i}__x_yaml": f"{i}\n" for i in range(output.SYNC_EACH_MAX)}
    calls = []
    monkeypatch.setattr(output, "_sync_file_system", lambda path: calls.append(path))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    make(tmp_path / "build", tree(**many))
    assert calls == [str(tmp_path / ".build.spare"), "fsync"]  # the tree, then the swap's directory
