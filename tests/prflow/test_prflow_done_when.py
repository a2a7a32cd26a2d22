"""The issue's "Done when": a project added by pull request, and packs above the policy."""

from __future__ import annotations

import re

from prflowtest import fleet, git, set_key


def test_new_project_shows_as_exactly_one_added_instance_with_namespace_and_quota(fleet_repo, tmp_path):
    created = fleet(fleet_repo, "new", "science.newproj", "--display-name", "Eclipse New Project", "-j", "1")
    assert created.code == 0, created.stderr
    assert "created instances/science.newproj/instance.yaml" in created.stdout
    git(fleet_repo, "add", "-A")
    git(fleet_repo, "commit", "-q", "-m", "Add science.newproj")

    summary = tmp_path / "summary.md"
    run = fleet(fleet_repo, "check", "--base", "HEAD~1", "--summary-md", summary, "-j", "1")
    assert run.code == 0, run.stderr + run.stdout

    # The terminal report: every step passed, one instance added, nothing else.
    assert re.search(r"^validation\s+passed\s+14 instances valid", run.stdout, re.MULTILINE)
    assert re.search(r"^generation\s+passed\s+\d+ files for 14 instances; manifests valid", run.stdout, re.MULTILINE)
    assert re.search(r"^audit\s+passed\s+0 errors", run.stdout, re.MULTILINE)
    assert re.search(r"^diff\s+passed\s+since HEAD~1 \([0-9a-f]{12}\): 1 added, 0 changed, 0 removed, "
                     r"13 unchanged instances", run.stdout, re.MULTILINE)
    assert "+ science.newproj: added (okd-c1, namespace newproj)" in run.stdout
    assert "    + k8s/namespace.yaml  Namespace/newproj" in run.stdout
    assert "    + k8s/resourcequota.yaml  ResourceQuota/jenkins-instance-quota" in run.stdout
    assert run.stdout.rstrip().endswith("fleet check passed")

    md = summary.read_text()
    assert md.startswith("<!-- fleet-check -->\n## ✅ Fleet check passed\n")
    for step in ("validation", "generation", "audit", "diff"):
        assert re.search(rf"^\| {step} \| ✅ passed \| ", md, re.MULTILINE), step
    # Exactly one instance row in the changes table: the new one, its namespace and its quota delta
    # (a default 1-pack instance: 3 pods, 2650m CPU and 10752Mi requested, 6600m CPU limit; docs/audit.md).
    section = md.split("### Changes since HEAD~1 (", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| instance")
            and not line.startswith("| ---")]
    assert len(rows) == 1, rows
    row = re.fullmatch(r"\| science\.newproj \| added \| okd-c1 \| newproj \| - → 1 \| - → 2 \| \+3 \| \+2\.65 \| "
                       r"\+10\.5Gi \| \+6\.6 \| \+10\.5Gi \| (\d+) \|", rows[0])
    assert row, rows[0]
    objects = int(row[1])
    added_files = re.findall(r"^    \+ (\S+)  ", run.stdout, re.MULTILINE)  # one line per new object in the report
    assert objects == len(added_files) and "model.json" in added_files and "jenkins/jenkins.yaml" in added_files
    assert "13 instances unchanged." in section
    assert f"- `science.newproj` (added): {objects} objects added: " in md
    assert "`Namespace/newproj`" in md and "`ResourceQuota/jenkins-instance-quota`" in md
    # The quota delta per cluster: okd-c1 grows by exactly the new instance, okd-c2 does not move.
    quota = md.split("### Quota delta per cluster", 1)[1].split("###", 1)[0]
    assert re.search(r"^\| okd-c1 \| \d+ → \d+ \(\+3\) \| [\d.]+ → [\d.]+ \(\+2\.65\) \| [\d.]+Gi → [\d.]+Gi "
                     r"\(\+10\.5Gi\) \| [\d.]+ → [\d.]+ \(\+6\.6\) \| [\d.]+Gi → [\d.]+Gi \(\+10\.5Gi\) \|$",
                     quota, re.MULTILINE), quota
    assert re.search(r"^\| okd-c2 \| \d+ \| [\d.]+ \| [\d.]+Gi \| [\d.]+ \| [\d.]+Gi \|$", quota, re.MULTILINE), quota
    assert "<summary>Rendered diff, field by field</summary>" in md
    # The check generated into a temporary directory: the repository is as committed.
    assert not (fleet_repo / "build").exists()
    assert git(fleet_repo, "status", "--porcelain") == ""


def test_packs_above_policy_fail_without_an_approval_and_pass_with_one(fleet_repo, tmp_path):
    inst = fleet_repo / "instances" / "technology.cbi" / "instance.yaml"
    set_key(inst, "resourcePacks", "9")  # the sample fleet's policy.maxPacks is 8
    summary = tmp_path / "summary.md"
    run = fleet(fleet_repo, "check", "--base", "main", "--summary-md", summary, "-j", "1")
    assert run.code == 1, run.stderr
    assert re.search(r"^audit\s+failed\s+1 error, ", run.stdout, re.MULTILINE)
    assert ("error packs-over-policy technology.cbi: 9 resource packs, above the fleet maximum of 8, "
            "and no project.packsApproval in the instance file") in run.stdout
    assert run.stdout.rstrip().endswith("fleet check failed (audit)")
    md = summary.read_text()
    assert "## ❌ Fleet check failed (audit)" in md
    assert "| audit | ❌ failed | 1 error, " in md
    assert "- ❌ **error** `packs-over-policy` technology.cbi: 9 resource packs, above the fleet maximum of 8" in md
    assert "| technology.cbi | changed | okd-c1 | cbi | 5 → 9 | 10 → 18 | +8 |" in md

    set_key(inst, "packsApproval", "https://helpdesk.example.org/tickets/1234")
    run = fleet(fleet_repo, "check", "--base", "main", "--summary-md", summary, "-j", "1")
    assert run.code == 0, run.stderr + run.stdout
    assert "packs-over-policy" not in run.stdout
    assert ("info packs-approved technology.cbi: 9 resource packs, above the fleet maximum of 8; approved: "
            "https://helpdesk.example.org/tickets/1234") in run.stdout
    md = summary.read_text()
    assert "## ✅ Fleet check passed" in md
    assert "- ℹ️ **info** `packs-approved` technology.cbi: 9 resource packs" in md
