"""Two instances that clash (namespace, URL): the fault lies with the one the change brought.

With a base (`fleet check --base`) only the instances the change adds or edits get the error; without
one (`fleet validate`), each is told which came first by git, so the fix lands on the newcomer.
"""

from __future__ import annotations

import shutil

from prflowtest import fleet, git

NEWCOMER = ("# yaml-language-server: $schema=../../schemas/instance.schema.json\n"
            "project:\n  fullName: modeling.cbi\n  displayName: Another CBI\n")


def add_newcomer(repo) -> None:
    (repo / "instances" / "modeling.cbi").mkdir()
    (repo / "instances" / "modeling.cbi" / "instance.yaml").write_text(NEWCOMER)


def errors_by_file(stderr: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if ": error: " in line:
            hint = next((h for h in lines[i + 1:i + 5] if h.startswith("  hint: ")), "")
            out.setdefault(line.split(":", 1)[0], []).append(line.split(": error: ", 1)[1] + " | " + hint[8:])
    return out


def test_with_a_base_only_the_newcomer_is_blamed(fleet_repo):
    git(fleet_repo, "checkout", "-q", "-b", "feature")
    add_newcomer(fleet_repo)
    run = fleet(fleet_repo, "check", "-j", "1", "--base", "main")
    assert run.code == 1
    assert errors_by_file(run.stderr) == {"instances/modeling.cbi/instance.yaml": [
        ("project.fullName: URL https://ci.example.org/cbi is also used by technology.cbi | technology.cbi had it "
        "before this change: set deployment.prefix or deployment.host of modeling.cbi so that each controller has "
        "its own URL"),
        ("project.fullName: namespace 'cbi' on cluster 'okd-c1' is also used by technology.cbi | technology.cbi had "
        "it before this change: set project.shortName or deployment.namespace of modeling.cbi to a unique name")]}
    # committed on the branch: still the change's, against the base
    git(fleet_repo, "add", "-A")
    git(fleet_repo, "commit", "-q", "-m", "modeling.cbi")
    again = fleet(fleet_repo, "check", "-j", "1", "--base", "main")
    assert errors_by_file(again.stderr) == errors_by_file(run.stderr)


def test_a_change_that_edits_an_existing_instance_into_a_clash_is_blamed(fleet_repo):
    inst = fleet_repo / "instances" / "tools.cdt" / "instance.yaml"
    inst.write_text(inst.read_text().replace("  resourcePacks: 3\n", "  resourcePacks: 3\n  shortName: cbi\n"))
    run = fleet(fleet_repo, "check", "-j", "1", "--base", "main")
    assert set(errors_by_file(run.stderr)) == {"instances/tools.cdt/instance.yaml"}


def test_without_a_base_each_is_told_which_came_first(fleet_repo):
    add_newcomer(fleet_repo)
    run = fleet(fleet_repo, "validate", "-j", "1")
    assert run.code == 1
    found = errors_by_file(run.stderr)
    assert found["instances/technology.cbi/instance.yaml"][1] == (
        "project.fullName: namespace 'cbi' on cluster 'okd-c1' is also used by modeling.cbi | technology.cbi came "
        "first; modeling.cbi (not committed yet) came after it: change modeling.cbi, not this instance")
    assert found["instances/modeling.cbi/instance.yaml"][1] == (
        "project.fullName: namespace 'cbi' on cluster 'okd-c1' is also used by technology.cbi | technology.cbi came "
        "first (modeling.cbi is not committed yet): change this instance, not technology.cbi")


def test_without_git_the_hint_names_no_culprit(fleet_repo):
    add_newcomer(fleet_repo)
    shutil.rmtree(fleet_repo / ".git")
    run = fleet(fleet_repo, "validate", "-j", "1")
    hints = [h.split(" | ")[1] for errs in errors_by_file(run.stderr).values() for h in errs]
    assert set(hints) == {"set project.shortName or deployment.namespace to a unique name",
                          "set deployment.prefix or deployment.host so that each controller has its own URL"}
