"""`fleet diff`, `audit --base` and `check --base` find the fleet directory as `fleet validate` does,
and a revision's tree is held to the working tree's rule: no symbolic link is followed."""

from __future__ import annotations

import os

from fleettest import fleet_in_process
from prflowtest import fleet, git, set_key

NOT_FOUND = ("instances: error: instances directory not found\n"
             "  hint: run from the fleet repository or pass --instances DIR\n"
             "1 error in 1 file\n")


def test_diff_from_a_subdirectory_says_what_validate_says(fleet_repo):
    """It said "not inside a git repository" from inside one."""
    sub = fleet_repo / "templates"
    validate = fleet_in_process(["validate"], sub)
    diff = fleet_in_process(["diff", "-j", "1"], sub)
    audit = fleet_in_process(["audit", "--base", "main"], sub)
    assert (validate.code, validate.stderr) == (1, NOT_FOUND)
    assert (diff.code, diff.stderr) == (1, NOT_FOUND)
    assert (audit.code, audit.stderr) == (1, NOT_FOUND)


def test_outside_a_repository_the_message_is_still_about_git(tmp_path, fleet_repo):
    os.rename(fleet_repo / ".git", tmp_path / "moved.git")
    run = fleet(fleet_repo, "diff", "-j", "1")
    assert run.code == 1 and "instances: error: not inside a git repository" in run.stderr


def test_a_link_committed_in_the_base_revision_is_refused_by_name(fleet_repo):
    target = fleet_repo.parent / "outside.yaml"
    target.write_text("credentials: {secret: MARKER-base}\n")
    os.symlink(target, fleet_repo / "instances" / "technology.cbi" / "jenkins.yaml")
    git(fleet_repo, "add", "-A")
    git(fleet_repo, "commit", "-q", "-m", "a link")
    os.unlink(fleet_repo / "instances" / "technology.cbi" / "jenkins.yaml")
    set_key(fleet_repo / "instances" / "rt.jetty" / "instance.yaml", "resourcePacks", "7")
    run = fleet(fleet_repo, "diff", "-j", "1", "--base", "HEAD")
    assert run.code == 1
    assert run.stderr.startswith("HEAD:instances/technology.cbi/jenkins.yaml: error: is a symbolic link, and links "
                                 "are never followed here\n"), run.stderr
    assert "MARKER-base" not in run.stdout + run.stderr
