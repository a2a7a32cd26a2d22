"""`fleet check`: steps, exit codes and the summary in the ways a pull request can go wrong."""

from __future__ import annotations

import re
import subprocess

from fleettest import ROOT
from prflowtest import fleet, git, set_key


def check(repo, *args, env=None):
    return fleet(repo, "check", "-j", "1", *args, env=env)


def test_broken_instance_fails_validation_and_says_where(fleet_repo, tmp_path):
    inst = fleet_repo / "instances" / "tools.cdt" / "instance.yaml"
    inst.write_text(inst.read_text().replace("resourcePacks: 3", "resourcePacks: many"))
    summary = tmp_path / "out" / "summary.md"  # the directory does not exist yet
    run = check(fleet_repo, "--base", "main", "--summary-md", summary)
    assert run.code == 1
    # no warning: the sample catalog's ldap and matrix-auth advisories are acknowledged in fleet.yaml
    assert re.search(r"^validation\s+failed\s+1 error in 1 file$", run.stdout, re.MULTILINE)
    for step in ("generation", "audit", "diff"):
        assert re.search(rf"^{step}\s+skipped\s+validation failed$", run.stdout, re.MULTILINE), step
    assert "instances/tools.cdt/instance.yaml:5:" in run.stderr  # the diagnostics, on stderr as usual
    md = summary.read_text()
    assert "## ❌ Fleet check failed (validation)" in md
    assert "| validation | ❌ failed | 1 error in 1 file |" in md
    assert "| generation | ⏭️ skipped | validation failed |" in md
    errors = md.split("### Errors", 1)[1]
    assert "instances/tools.cdt/instance.yaml:5:" in errors and "project.resourcePacks" in errors
    assert "### Findings" not in md  # the audit did not run


def test_without_base_there_is_no_diff(fleet_repo, tmp_path):
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--summary-md", summary)
    assert run.code == 0, run.stderr
    assert [line.split()[0] for line in run.stdout.splitlines()[:3]] == ["validation", "generation", "audit"]
    assert not re.search(r"^diff ", run.stdout, re.MULTILINE)
    md = summary.read_text()
    assert "### Changes since" not in md and "### Quota delta" not in md
    assert "- ⚠️ **warning** `quota-fit` modeling.xtext:" in md  # the sample fleet's known finding


def test_base_alone_is_the_merge_base_with_main(fleet_repo, tmp_path):
    git(fleet_repo, "checkout", "-q", "-b", "feature")
    set_key(fleet_repo / "instances" / "tools.cdt" / "instance.yaml", "resourcePacks", "4")
    git(fleet_repo, "commit", "-q", "-am", "more packs for cdt")
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--base", "--summary-md", summary)  # '--base' without a value, then another option
    assert run.code == 0, run.stderr
    assert re.search(r"^diff\s+passed\s+since merge-base\(HEAD, main\) \([0-9a-f]{12}\): 0 added, 1 changed",
                     run.stdout, re.MULTILINE)
    md = summary.read_text()
    assert "| tools.cdt | changed | okd-c1 | cdt | 3 → 4 | 6 → 8 | +2 |" in md
    assert re.search(r"^- `tools\.cdt` \(changed\): .*~ `ResourceQuota/jenkins-instance-quota` \(5 fields\)", md,
                     re.MULTILINE)


def test_unresolvable_base_fails(fleet_repo, tmp_path):
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--base", "no-such-branch", "--summary-md", summary)
    assert run.code == 1
    assert re.search(r"^diff\s+failed\s+cannot resolve the base revision: unknown git revision 'no-such-branch'",
                     run.stdout, re.MULTILINE)
    assert "fleet check failed (diff)" in run.stdout
    assert "## ❌ Fleet check failed (diff)" in summary.read_text()


def test_a_base_that_does_not_render_is_a_warning(fleet_repo, tmp_path):
    """The pull request that repairs a broken main branch must be able to pass."""
    inst = fleet_repo / "instances" / "tools.cdt" / "instance.yaml"
    good = inst.read_text()
    inst.write_text(good.replace("resourcePacks: 3", "resourcePacks: many"))
    git(fleet_repo, "commit", "-q", "-am", "broken")
    inst.write_text(good)
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--base", "main", "--summary-md", summary)
    assert run.code == 0, run.stderr + run.stdout
    assert re.search(r"^diff\s+warning\s+the fleet at main \([0-9a-f]{12}\) does not render \(1 error in 1 file\b",
                     run.stdout, re.MULTILINE)
    assert "main:instances/tools.cdt/instance.yaml:5:" in run.stderr
    md = summary.read_text()
    assert "## ✅ Fleet check passed with warnings" in md
    assert "main:instances/tools.cdt/instance.yaml:5:" in md.split("### Base revision", 1)[1]


def test_git_missing_is_an_environment_error(fleet_repo, tmp_path):
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--base", "main", "--summary-md", summary, env={"PATH": str(tmp_path / "nothing-here")})
    assert run.code == 4
    assert "git is not installed" in run.stderr
    assert summary.read_text().startswith("<!-- fleet-check -->\n## ❌ Fleet check could not run\n")


def test_make_check_runs_fleet_check_against_main():
    def dry(*args):
        proc = subprocess.run(["make", "-n", "-C", ROOT, "check", *args], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return [line for line in proc.stdout.splitlines() if "fleet check" in line]
    assert dry() == [".venv/bin/fleet check --base --summary-md check-summary.md"]
    assert dry("BASE=origin/main") == [".venv/bin/fleet check --base origin/main --summary-md check-summary.md"]
    help_text = subprocess.run(["make", "-s", "-C", ROOT, "help"], capture_output=True, text=True, check=True).stdout
    assert "make check" in help_text


def test_help_documents_the_exit_codes(fleet_repo):
    run = fleet(fleet_repo, "check", "--help")
    assert run.code == 0
    text = " ".join(run.stdout.split())
    for code in ("0 every step passed", "1 a step failed", "2 usage error", "4 internal or environment error"):
        assert code in text, code


def test_the_comment_fits_github_limits():
    from types import SimpleNamespace

    from generator import prcheck
    from generator import rendered_diff as diff_mod
    from generator.value_diff import Change
    big = [Change("changed", f"data.k{i}", "x" * 400, "y" * 400) for i in range(1000)]
    rendered = diff_mod.FleetDiff([diff_mod.InstanceDiff("a.b", "changed", "c1", "b", None, [
        diff_mod.ObjectDiff("k8s/configmap.yaml", "ConfigMap/x", "changed", big)])], [],
        {"ref": "main", "commit": "0" * 40})
    report = SimpleNamespace(base={"instances": [], "clusters": []}, snapshot=SimpleNamespace(instances={}),
                             findings=[])
    result = prcheck.CheckReport(rendered=rendered, report=report, revision=rendered.revision)
    result.add("diff", prcheck.PASSED, "since main")
    md = prcheck.render_markdown(result)
    assert len(md) < 65536
    assert "cut to fit a comment: run 'fleet diff' to see it all" in md
    assert "- `a.b` (changed): ~ `ConfigMap/x` (1000 fields)" in md


def test_a_pasted_secret_never_reaches_the_summary_or_the_log(fleet_repo, tmp_path):
    """The summary is a public pull-request comment and CI logs are public: a password, token or
    private key written into an instance file is shown as <redacted>, with the caret still right."""
    inst = fleet_repo / "instances" / "tools.cdt" / "instance.yaml"
    secrets = ["s3cr3t-Value-42", "hunter22", "11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8", "ghp_" + "A1b2C3d4" * 5]
    inst.write_text(inst.read_text().replace("jenkins:\n", (
        "jenkins:\n"
        f"  adminPassword: \"{secrets[0]}\"\n"
        f"  ldap: {{managerPassword: {secrets[1]}, url: ldaps://ldap.example.org}}\n"
        f"  maxConcurrency: {secrets[2]}\n"
        f"  systemMessage: {secrets[3]}\n")))
    summary = tmp_path / "summary.md"
    run = check(fleet_repo, "--summary-md", summary)
    assert run.code == 1
    text = summary.read_text()
    for secret in secrets:
        assert secret not in text and secret not in run.stderr and secret not in run.stdout
    errors = text.split("### Errors", 1)[1]
    assert "  adminPassword: <redacted>\n" in errors
    assert "  ldap: {managerPassword: <redacted>, url: ldaps://ldap.example.org}\n" in errors
    assert ("jenkins.maxConcurrency: expected a whole number, found the string '<redacted>'\n"
            "  9 |   maxConcurrency: <redacted>\n"
            "    |                   ^~~~~~~~~~\n") in errors


def test_packs_over_the_policy_are_named_by_validate_as_check_fails_on_them(fleet_repo, tmp_path):
    set_key(fleet_repo / "instances" / "tools.cdt" / "instance.yaml", "resourcePacks", "9")  # policy.maxPacks: 8
    validated = fleet(fleet_repo, "validate", "-j", "1")
    assert validated.code == 0
    assert ("instances/tools.cdt/instance.yaml:5:18: warning: project.resourcePacks: 9 resource packs, above the "
            "fleet maximum of 8 (policy.maxPacks), and no project.packsApproval: fleet check and fleet audit fail "
            "on it\n  5 |   resourcePacks: 9\n    |                  ^\n  hint: add project.packsApproval with the "
            "reference of the approval (e.g. a ticket URL), or lower resourcePacks\n") in validated.stderr
    checked = check(fleet_repo)
    assert checked.code == 1 and re.search(r"^audit\s+failed", checked.stdout, re.MULTILINE)
    set_key(fleet_repo / "instances" / "tools.cdt" / "instance.yaml", "packsApproval",
            "https://helpdesk.example.org/tickets/7")
    assert "packsApproval" not in fleet(fleet_repo, "validate", "-j", "1").stderr
    assert check(fleet_repo).code == 0
