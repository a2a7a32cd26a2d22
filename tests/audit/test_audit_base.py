"""`fleet audit --base REF` and generator/vcs.py, against throwaway git repositories."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from audittest import git
from fleettest import fleet_in_process

from generator import audit_formats, vcs
from generator.errors import FleetError


def audit_base(repo: Path, *args, env=None):
    from click.testing import CliRunner

    from generator.cli import cli
    old = os.getcwd()
    os.chdir(repo)
    try:
        result = CliRunner().invoke(cli, ["--no-color", "--instances", "instances", "audit", "-j", "1",
                                          "--format", "json", *args], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result


def set_packs(repo: Path, name: str, packs: int) -> None:
    path = repo / "instances" / name / "instance.yaml"
    text = path.read_text()
    lines = [f"  resourcePacks: {packs}" if line.startswith("  resourcePacks:") else line for line in text.splitlines()]
    assert lines != text.splitlines()
    path.write_text("\n".join(lines) + "\n")


def test_packs_change_shows_as_a_delta(fleet_repo):
    set_packs(fleet_repo, "technology.cbi", 6)  # 5 -> 6 packs, in the working tree only
    result = audit_base(fleet_repo, "--base", "main")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    base = doc["base"]
    assert base["revision"]["ref"] == "main"
    assert base["revision"]["commit"] == git(fleet_repo, "rev-parse", "main")
    assert base["revision"]["templates"] == "revision" and base["revision"]["schemas"] == "revision"
    assert [e["name"] for e in base["instances"]] == ["technology.cbi"]
    cbi = base["instances"][0]
    assert cbi["change"] == "changed"
    assert (cbi["before"]["packs"], cbi["after"]["packs"]) == (5, 6)
    assert (cbi["before"]["maxConcurrency"], cbi["after"]["maxConcurrency"]) == (10, 12)
    # P=6, C=12, S=3: controller min(4000, 250 + 150 x 13) = 2200m; 2200 + 12 x 200 + 6 x 2000 = 16600m
    assert (cbi["before"]["requestsCpuMillis"], cbi["after"]["requestsCpuMillis"]) == (13900, 16600)
    assert cbi["delta"]["requestsCpuMillis"] == 2700
    assert cbi["delta"]["pods"] == 2
    assert base["unchanged"] == 12
    okd = next(c for c in base["clusters"] if c["name"] == "okd-c1")
    per_instance = ("packs", "maxConcurrency", "staticAgents")
    assert okd["delta"] == {k: v for k, v in cbi["delta"].items() if k not in per_instance}
    assert okd["after"] == next(c for c in doc["clusters"] if c["name"] == "okd-c1")["totals"]
    assert base["totals"]["delta"]["requestsCpuMillis"] == 2700
    c2 = next(c for c in base["clusters"] if c["name"] == "okd-c2")
    assert set(c2["delta"].values()) == {0}


def test_base_in_markdown_table_and_csv(fleet_repo):
    set_packs(fleet_repo, "technology.cbi", 6)
    doc = json.loads(audit_base(fleet_repo, "--base", "main").stdout)
    md = audit_formats.render_markdown(doc)
    assert "### Changes since main (" in md
    assert "| technology.cbi | changed | okd-c1 | 5 → 6 | 10 → 12 | +2 | +2.7 |" in md
    rows = audit_formats.render_csv(doc).splitlines()
    assert "base_change" in rows[0]
    cbi = next(r for r in rows if r.startswith("technology.cbi,"))
    assert ",changed,2,2700," in cbi
    assert "technology.cbi" in audit_formats.render_table(doc)


def test_template_change_at_the_base_shows_up(fleet_repo):
    """The base is modelled with its own templates: a jnlp reservation of 100m then, 200m now."""
    quota = fleet_repo / "templates" / "model" / "quota.libsonnet"
    text = quota.read_text()
    assert "cpuMillis: 200," in text
    quota.write_text(text.replace("cpuMillis: 200,", "cpuMillis: 100,", 1))
    git(fleet_repo, "commit", "-q", "-am", "smaller jnlp reservation")
    git(fleet_repo, "checkout", "-q", "-b", "feature", "HEAD~1")  # working tree: the 200m templates again
    doc = json.loads(audit_base(fleet_repo, "--base", "main").stdout)
    # the working tree side uses the tool's templates (200m); main's own templates say 100m
    cbi = next(e for e in doc["base"]["instances"] if e["name"] == "technology.cbi")
    assert cbi["delta"]["requestsCpuMillis"] == 10 * 100  # C = 10 jnlp reservations of +100m
    assert len(doc["base"]["instances"]) == 13


def test_added_and_removed_instances(fleet_repo):
    (fleet_repo / "instances" / "science.january").rename(fleet_repo / "instances" / "science.february")
    inst = fleet_repo / "instances" / "science.february" / "instance.yaml"
    inst.write_text(inst.read_text().replace("science.january", "science.february"))
    doc = json.loads(audit_base(fleet_repo, "--base", "main").stdout)
    changes = {e["name"]: (e["change"], e["delta"]["requestsCpuMillis"]) for e in doc["base"]["instances"]}
    assert changes == {"science.february": ("added", 2650), "science.january": ("removed", -2650)}
    assert doc["base"]["totals"]["delta"]["requestsCpuMillis"] == 0


def test_default_base_is_the_merge_base_with_main(fleet_repo):
    git(fleet_repo, "checkout", "-q", "-b", "feature")
    set_packs(fleet_repo, "tools.cdt", 4)
    git(fleet_repo, "commit", "-q", "-am", "more packs for cdt")
    main = git(fleet_repo, "rev-parse", "main")
    revision = vcs.resolve_base(str(fleet_repo))
    assert revision == vcs.Revision("merge-base(HEAD, main)", main)
    result = audit_base(fleet_repo, "--base")  # '--base' alone
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["base"]["revision"]["commit"] == main
    assert [e["name"] for e in doc["base"]["instances"]] == ["tools.cdt"]


def test_unknown_revision_and_no_repository(fleet_repo, tmp_path):
    result = audit_base(fleet_repo, "--base", "no-such-branch")
    assert result.exit_code == 1
    assert "unknown git revision 'no-such-branch'" in result.stderr
    plain = tmp_path / "plain"
    (plain / "instances").mkdir(parents=True)
    for f in (fleet_repo / "instances").iterdir():
        if f.is_file():
            (plain / "instances" / f.name).write_text(f.read_text())
        elif f.name == "catalogs":  # the plugin catalogs fleet.yaml names
            shutil.copytree(f, plain / "instances" / f.name)
    result = audit_base(plain, "--base", "main")
    assert result.exit_code == 1
    assert "not inside a git repository" in result.stderr


def test_no_main_branch(fleet_repo):
    git(fleet_repo, "branch", "-m", "main", "trunk")
    result = audit_base(fleet_repo, "--base")
    assert result.exit_code == 1
    assert "no main branch to compare with" in result.stderr


def test_git_missing_is_an_environment_error(fleet_repo, tmp_path):
    result = audit_base(fleet_repo, "--base", "main", env={"PATH": str(tmp_path / "nothing-here")})
    assert result.exit_code == 4
    assert "git is not installed" in result.stderr


def test_invalid_fleet_at_the_base_is_named_by_revision(fleet_repo):
    inst = fleet_repo / "instances" / "tools.cdt" / "instance.yaml"
    inst.write_text(inst.read_text().replace("resourcePacks: 3", "resourcePacks: many"))
    git(fleet_repo, "commit", "-q", "-am", "broken")
    git(fleet_repo, "checkout", "-q", "HEAD~1", "--", "instances")
    result = audit_base(fleet_repo, "--base", "main")
    assert result.exit_code == 1
    assert "main:instances/tools.cdt/instance.yaml:" in result.stderr
    assert "while modelling the fleet at main" in result.stderr


def test_checkout_tree_is_read_only_and_cleaned_up(fleet_repo):
    set_packs(fleet_repo, "technology.cbi", 7)
    status = git(fleet_repo, "status", "--porcelain")
    with vcs.checkout_tree(str(fleet_repo), "main", ("instances/technology.cbi",)) as tree:
        text = (Path(tree) / "instances" / "technology.cbi" / "instance.yaml").read_text()
        assert "resourcePacks: 5" in text
        assert not (Path(tree) / "templates").exists()
    assert not Path(tree).exists()
    assert git(fleet_repo, "status", "--porcelain") == status
    assert git(fleet_repo, "worktree", "list").count("\n") == 0


def test_fleet_at_uses_the_revision_paths(fleet_repo):
    from generator.fleet import Paths
    paths = Paths(instances=str(fleet_repo / "instances"))  # the tool's templates live outside this repo
    revision = vcs.resolve_base(str(fleet_repo), "main")
    with vcs.fleet_at(paths, revision) as (old, origin):
        assert old.templates.endswith(os.path.join("", "templates")) and old.templates != paths.templates
        assert Path(old.instances, "fleet.yaml").exists()
        assert origin["templates"] == "revision"
    with pytest.raises(FleetError):
        vcs.resolve_base(str(fleet_repo), "v9")


def test_audit_base_from_a_subdirectory_cwd(fleet_repo):
    set_packs(fleet_repo, "rt.jetty", 7)
    run = fleet_in_process(["--instances", str(fleet_repo / "instances"), "audit", "-j", "1", "--format", "json",
                            "--base", "main"], fleet_repo / "templates")
    assert run.code == 0, run.stderr
    assert [e["name"] for e in json.loads(run.stdout)["base"]["instances"]] == ["rt.jetty"]
