"""`fleet validate` and `fleet generate` end to end: a real interpreter on a copy of the sample fleet."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys

import pytest
from fleettest import (
    ROOT,
    copy_sample_fleet,
    fleet_in_process,
    fleet_subprocess,
    other_warnings,
    read_tree,
    tree_diff,
    write,
)

from generator.output import OutputLock

GOLDEN = os.path.join(ROOT, "tests", "golden", "sample-fleet")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample fleet and its build/, generated once by a real `fleet generate`."""
    root = tmp_path_factory.mktemp("sample")
    copy_sample_fleet(root)
    run = fleet_subprocess(["generate", "--jobs", "1"], root)
    assert run.code == 0, run.stderr
    assert re.search(r"^generated 13 instances .*build/", run.stderr, re.MULTILINE), run.stderr
    return root


@pytest.fixture
def work(built, tmp_path):
    """A private copy of the sample fleet and its build/ for one test.

    A copy of build/ is not a tree fleet generate wrote here: it is replaced whole by the next run,
    and reused (cache, instances carried over) only from the run after it on (see `recorded`).
    """
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.fixture
def recorded(work):
    """`work`, with a build/ that fleet generate wrote in place (so its cache and carry-over apply)."""
    assert fleet_in_process(["generate", "--jobs", "1"], work).code == 0
    return work


def edit(path, old: str, new: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert old in text
    write(path, text.replace(old, new))


def instance_files(tree: dict[str, bytes], name: str) -> dict[str, bytes]:
    return {p: d for p, d in tree.items() if p.startswith(name + "/")}


def assert_index_matches_tree(build) -> None:
    tree = read_tree(build)
    index = json.loads(tree["fleet.json"])
    listed = {f"{n}/{rel}" for n, e in index["instances"].items() for rel in e["files"]}
    # every file of an instance directory is listed, and nothing listed is missing
    # (fleet-wide outputs such as monitoring/ live outside the instance directories)
    assert listed == {p for p in tree if p.split("/", 1)[0] in index["instances"]}


def test_validate_the_sample_fleet(tmp_path):
    copy_sample_fleet(tmp_path)
    run = fleet_subprocess(["validate"], tmp_path)
    assert run.code == 0, run.stderr
    assert not other_warnings(run.stderr), run.stderr  # the catalog's known advisories only
    assert re.fullmatch(r"13 instances valid \(\d+\.\d+s\)\n", run.stderr.splitlines(keepends=True)[-1]), run.stderr
    assert not os.path.exists(tmp_path / "build")


def test_generate_writes_the_golden_tree(built):
    report = tree_diff(read_tree(built / "build"), read_tree(GOLDEN),
                       label="tests/golden/sample-fleet")
    assert not report, report
    assert_index_matches_tree(built / "build")


def test_check_is_clean_right_after_generate(work):
    run = fleet_subprocess(["generate", "--check", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert "build/ is up to date (13 instances)" in run.stderr


def test_check_names_the_files_an_edit_changes(work):
    before = read_tree(work / "build")
    edit(work / "instances" / "technology.cbi" / "instance.yaml", "resourcePacks: 5", "resourcePacks: 6")
    run = fleet_subprocess(["generate", "--check", "--jobs", "1"], work)
    assert run.code == 1, run.stderr
    lines = run.stdout.splitlines()
    assert "changed  build/technology.cbi/k8s/resourcequota.yaml" in lines
    assert "changed  build/fleet.json" in lines
    assert all(re.match(r"^(changed|added|removed) +build/(technology\.cbi/|fleet\.json$)", x) for x in lines), lines
    assert run.stderr == ("7 generated files would change: build/ is not up to date; run 'fleet generate' to update "
                          "it (build/ is never committed: it is generated where it is used, e.g. before "
                          "'fleet push')\n")
    assert read_tree(work / "build") == before  # --check writes nothing


def test_generate_one_instance_keeps_the_others_byte_identical(recorded):
    work = recorded
    before = read_tree(work / "build")
    edit(work / "instances" / "technology.cbi" / "instance.yaml", "resourcePacks: 5", "resourcePacks: 6")
    edit(work / "instances" / "tools.cdt" / "instance.yaml", "resourcePacks: 3", "resourcePacks: 4")
    run = fleet_subprocess(["generate", "technology.cbi", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert "generated 1 instance " in run.stderr
    after = read_tree(work / "build")
    for name in {p.split("/")[0] for p in before} - {"technology.cbi", "fleet.json"}:
        assert instance_files(after, name) == instance_files(before, name), name  # tools.cdt too: not selected
    # P=6, S=3, C=12: 2200m + 12 x 200m + 6 x 2000m
    assert b"requests.cpu: 16600m" in after["technology.cbi/k8s/resourcequota.yaml"]
    old_index, new_index = json.loads(before["fleet.json"]), json.loads(after["fleet.json"])
    assert new_index["instances"]["technology.cbi"] != old_index["instances"]["technology.cbi"]
    del new_index["instances"]["technology.cbi"], old_index["instances"]["technology.cbi"]
    assert new_index == old_index
    assert_index_matches_tree(work / "build")
    # the later full run picks up tools.cdt, and --check then agrees with the tree
    assert fleet_subprocess(["generate", "--jobs", "1"], work).code == 0
    assert fleet_subprocess(["generate", "--check", "--jobs", "1"], work).code == 0


def test_generate_by_pattern(recorded):
    work = recorded
    run = fleet_subprocess(["generate", "ee4j.*", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert "generated 3 instances " in run.stderr


def test_removing_an_instance_removes_its_output(work):
    shutil.rmtree(work / "instances" / "science.january")
    check = fleet_subprocess(["generate", "--check", "--jobs", "1"], work)
    assert check.code == 1
    assert "removed  build/science.january/model.json" in check.stdout.splitlines()
    run = fleet_subprocess(["generate", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert not os.path.exists(work / "build" / "science.january")
    assert "science.january" not in json.loads((work / "build" / "fleet.json").read_text())["instances"]
    assert_index_matches_tree(work / "build")


def test_an_invalid_instance_leaves_the_previous_build_intact(work):
    before = read_tree(work / "build")
    edit(work / "instances" / "rt.jetty" / "instance.yaml", "resourcePacks: 6", "resourcePacks: six")
    run = fleet_subprocess(["generate", "--jobs", "2"], work)
    assert run.code == 1
    assert "Traceback" not in run.stderr
    assert "instances/rt.jetty/instance.yaml:" in run.stderr
    assert "expected a whole number, found the string 'six'" in run.stderr
    assert read_tree(work / "build") == before
    # No half-written tree is left beside build/ (the lock and the cache state are expected there).
    assert sorted(n for n in os.listdir(work) if n.startswith(".build.")
                  and not n.endswith((".lock", ".cache.json"))) == []


def test_generate_repairs_a_damaged_build(work):
    """A hand-edited or deleted output file is put back by the next `fleet generate`, cache or not."""
    before = read_tree(work / "build")
    with open(work / "build" / "technology.cbi" / "k8s" / "route.yaml", "ab") as fh:
        fh.write(b"# edited by hand\n")
    os.remove(work / "build" / "rt.jetty" / "k8s" / "route.yaml")
    run = fleet_subprocess(["generate", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert read_tree(work / "build") == before
    assert fleet_subprocess(["generate", "--check", "--jobs", "1"], work).code == 0


def test_instances_elsewhere(work, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run = fleet_subprocess(["--instances", work / "instances", "generate", "--out", "out", "--jobs", "1"], elsewhere)
    assert run.code == 0, run.stderr
    assert read_tree(elsewhere / "out") == read_tree(work / "build")


def test_fleet_instances_environment_variable(work, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("FLEET_INSTANCES", str(work / "instances"))
    run = fleet_in_process(["validate"], elsewhere)
    assert run.code == 0, run.stderr
    assert "13 instances valid" in run.stderr


def test_missing_instances_directory(tmp_path):
    run = fleet_subprocess(["validate"], tmp_path)
    assert run.code == 1
    assert "instances directory not found" in run.stderr and "--instances DIR" in run.stderr


def test_unknown_instance_name(work):
    run = fleet_subprocess(["generate", "technology.cbj", "--jobs", "1"], work)
    assert run.code == 1
    assert "no instance named 'technology.cbj'" in run.stderr
    assert "did you mean technology.cbi" in run.stderr


@pytest.mark.parametrize("args", [["generate", "--jobs", "0"], ["generate", "--bogus"], ["nonsense"],
                                  ["--instances"], ["validate", "--out", "x"]])
def test_usage_errors_exit_2(args, tmp_path):
    run = fleet_subprocess(args, tmp_path)
    assert run.code == 2, (run.code, run.stderr)
    assert run.stderr.splitlines()[-1].startswith("Error: ") and "Traceback" not in run.stderr


def _commands():
    from generator.cli import commands
    return sorted(commands())


def test_help_of_the_program(tmp_path):
    run = fleet_subprocess(["--help"], tmp_path)
    assert run.code == 0
    for text in ("--instances", "--debug", "--quiet", "--version", "Exit codes"):
        assert text in run.stdout
    for name in _commands():
        assert re.search(rf"^  {re.escape(name)}\b", run.stdout, re.MULTILINE), name


@pytest.mark.parametrize("command", _commands())
def test_help_of_every_command(command, tmp_path):
    from generator.cli import commands

    run = fleet_in_process([command, "--help"], tmp_path)
    assert run.code == 0, run.stderr
    assert f"Usage: cli {command}" in run.stdout or f"Usage: fleet {command}" in run.stdout
    for param in commands()[command].params:
        if getattr(param, "hidden", False):
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in run.stdout, f"{command} --help does not mention {opt}"


def test_generate_help_mentions_its_options(tmp_path):
    run = fleet_subprocess(["generate", "--help"], tmp_path)
    assert run.code == 0
    for text in ("--out", "--jobs", "--check", "NAME", "fleet.json"):
        assert text in run.stdout


def test_a_second_generate_on_the_same_output_refuses(work):
    before = read_tree(work / "build")
    edit(work / "instances" / "technology.cbi" / "instance.yaml", "resourcePacks: 5", "resourcePacks: 6")
    with OutputLock(work / "build"):
        run = fleet_subprocess(["generate", "--jobs", "1"], work)
    assert run.code == 4, run.stderr
    assert "Traceback" not in run.stderr
    assert re.search(r"^error: .*build is being written by fleet generate \(pid \d+\); wait for it to finish",
                     run.stderr, re.MULTILINE), run.stderr
    assert read_tree(work / "build") == before
    # once the lock is free the same command succeeds
    assert fleet_subprocess(["generate", "--jobs", "1"], work).code == 0


def test_validate_in_worker_processes_reports_what_one_process_reports(tmp_path):
    """Enough instances for worker processes (started while the sources are read), two of them
    sharing a namespace: the same findings, in the same order, with -j 1 and -j 2."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import synthetic
    finally:
        sys.path.pop(0)
    instances = tmp_path / "instances"
    names = synthetic.make(str(instances), 60)
    with open(instances / names[7] / "instance.yaml", "a", encoding="utf-8") as fh:
        fh.write(f"deployment:\n  namespace: {names[8].rsplit('.', 1)[1]}\n")
    one = fleet_subprocess(["validate", "--no-cache", "-j", "1"], tmp_path)
    two = fleet_subprocess(["validate", "--no-cache", "-j", "2"], tmp_path)
    assert one.code == two.code == 1, one.stderr
    assert f"is also used by {names[8]}" in one.stderr
    assert one.stderr == two.stderr


def test_out_into_a_directory_generate_did_not_write_is_refused(work):
    """proj2/ holds a fleet.json, important.txt and src/: nothing is moved, now or at a second run."""
    for rel, text in (("fleet.json", "{}\n"), ("important.txt", "keep\n"), ("src/main.c", "int main;\n")):
        write(work / "proj2" / rel, text)
    before = read_tree(work / "proj2")
    for _ in range(2):
        run = fleet_in_process(["generate", "--jobs", "1", "--out", "proj2"], work)
        assert (run.code, run.stderr) == (1, (
            "proj2: error: refusing to replace this directory: fleet generate did not write it (its fleet.json "
            "is not an index that fleet generate writes)\n"
            "  hint: choose another --out, or move what it holds elsewhere first: fleet generate replaces the "
            "whole directory\n"
            "1 error in 1 file\n"))
    assert read_tree(work / "proj2") == before
    assert not os.path.exists(work / ".proj2.spare")


def test_one_instance_into_a_copied_build_generates_them_all(work):
    """Nothing is carried over from a tree fleet generate did not write here (a clone's, a copy)."""
    run = fleet_in_process(["generate", "technology.cbi", "--jobs", "1"], work)
    assert run.code == 0, run.stderr
    assert run.stderr.startswith("build/ has no record of being written by fleet generate here: generating "
                                 "every instance\ngenerated 13 instances into build/ (13 rendered, 0 unchanged;")
    again = fleet_in_process(["generate", "technology.cbi", "--jobs", "1"], work)
    assert again.stderr.startswith("generated 1 instance into build/ (0 rendered, 1 unchanged; 0 files changed)")


def test_a_full_disk_exits_4_with_what_happened(recorded, monkeypatch):
    import errno

    from generator import output

    def full(path, data, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(output, "_write_new_file", full)
    edit(recorded / "instances" / "technology.cbi" / "instance.yaml", "resourcePacks: 5", "resourcePacks: 6")
    before = read_tree(recorded / "build")
    run = fleet_in_process(["generate", "--jobs", "1"], recorded)
    assert run.code == 4
    assert re.fullmatch(r"error: cannot write build: no space left on the device \(writing \.build\.spare/"
                        r"\S+\); build is as it was before this run\n", run.stderr), run.stderr
    assert read_tree(recorded / "build") == before
