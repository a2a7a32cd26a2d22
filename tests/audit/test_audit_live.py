"""`fleet audit --live`: drift against recorded-style `kubectl get resourcequota,limitrange -A -o json`."""

from __future__ import annotations

import json
import shutil

from audittest import FLEETS, audit_doc, check_expected, fleet

from generator import audit_formats

LIVE = ("--live", "main=live-main.json")


def test_live_section_matches_expected():
    doc = audit_doc("basic", *LIVE)
    check_expected(FLEETS / "basic" / "expected-live.json", json.dumps(doc["live"], indent=2) + "\n")


def test_live_statuses_missing_extra_and_changed():
    live = audit_doc("basic", *LIVE)["live"]
    status = {i["name"]: i["status"] for i in live["instances"]}
    assert status == {"technology.cbi": "in-sync", "science.january": "drift", "modeling.emf": "drift",
                      "tools.jgit": "missing"}
    assert "big.data" not in status  # on cluster big, for which no file was given
    assert live["notChecked"] == ["big"]
    assert [(u["namespace"], u["objects"]) for u in live["unknownNamespaces"]] == [
        ("retired", ["ResourceQuota/jenkins-instance-quota"])]
    assert live["ignoredNamespaces"] == 1  # openshift-monitoring: not fleet-managed
    january = next(i for i in live["instances"] if i["name"] == "science.january")
    assert january["differences"] == [
        {"object": "ResourceQuota/jenkins-instance-quota", "field": "spec.hard.requests.cpu",
         "expected": "2650m", "actual": "3"},
        {"object": "ResourceQuota/jenkins-instance-quota", "field": "spec.hard.requests.storage",
         "expected": None, "actual": "100Gi"},
        {"object": "LimitRange/jenkins-instance-limit-range", "field": "Pod.max.memory",
         "expected": "8704Mi", "actual": "8Gi"},
    ]


def test_canonical_quantities_are_not_drift():
    """technology.cbi's live LimitRange says "8" and "16Gi" where the generated one says 8000m and 16384Mi."""
    live = json.loads((FLEETS / "basic" / "live-main.json").read_text())
    lr = next(o for o in live["items"] if o["kind"] == "LimitRange" and o["metadata"]["namespace"] == "cbi")
    assert lr["spec"]["limits"][1]["max"] == {"cpu": "8", "memory": "16Gi"}
    doc = audit_doc("basic", *LIVE)
    assert not [f for f in doc["findings"] if f["instance"] == "technology.cbi"]


def test_live_findings_and_exit_code():
    run = fleet("basic", "audit", "-j", "1", "--format", "json", *LIVE)
    assert run.code == 1
    findings = json.loads(run.stdout)["findings"]
    found = sorted((f["rule"], f["severity"], f["instance"] or f["cluster"]) for f in findings)
    assert found == [
        ("live-namespace-missing", "error", "tools.jgit"),
        ("live-namespace-unknown", "warning", "main"),
        ("live-object-missing", "error", "modeling.emf"),
        ("live-value-drift", "error", "science.january"),
    ]
    assert fleet("basic", "audit", "-j", "1").code == 0  # the same fleet without --live


def test_in_sync_cluster_exits_0(tmp_path):
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    live = json.loads((case / "live-main.json").read_text())
    live["items"] = [o for o in live["items"] if o["metadata"]["namespace"] == "cbi"]
    (case / "cbi-only.json").write_text(json.dumps(live))
    run = fleet(case, "audit", "-j", "1", "--format", "json", "--live", "main=cbi-only.json", "technology.cbi",
                cwd=case)
    assert run.code == 0, run.stdout
    doc = json.loads(run.stdout)
    assert [(i["name"], i["status"]) for i in doc["live"]["instances"]] == [("technology.cbi", "in-sync")]


def test_cluster_is_inferred_from_namespaces():
    live = audit_doc("basic", "--live", "live-main.json")["live"]
    assert live["clusters"] == [{"name": "main", "file": "live-main.json", "matchedBy": "namespaces"}]
    live = audit_doc("basic", *LIVE)["live"]
    assert live["clusters"][0]["matchedBy"] == "argument"


def test_ambiguous_file_needs_a_cluster_name(tmp_path):
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    (case / "empty.json").write_text('{"apiVersion": "v1", "items": [], "kind": "List"}')
    run = fleet(case, "audit", "--live", "empty.json", cwd=case)
    assert run.code == 1
    assert "cannot tell which cluster this file describes" in run.stderr
    assert "--live CLUSTER=empty.json (clusters: big, main)" in run.stderr


def test_bad_live_files(tmp_path):
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    (case / "broken.json").write_text('{"items": [\n  {"kind": "ResourceQuota",}\n]}')
    run = fleet(case, "audit", "--live", "main=broken.json", cwd=case)
    assert run.code == 1
    assert "broken.json:2:" in run.stderr and "not JSON" in run.stderr and "kubectl get resourcequota" in run.stderr
    (case / "notalist.json").write_text('["x"]')
    run = fleet(case, "audit", "--live", "main=notalist.json", cwd=case)
    assert run.code == 1 and "expected a Kubernetes List" in run.stderr
    run = fleet(case, "audit", "--live", "main=nowhere.json", cwd=case)
    assert run.code == 1 and "nowhere.json: error: file not found" in run.stderr
    run = fleet(case, "audit", "--live", "main=live-main.json", "--live", "main=live-main.json", cwd=case)
    assert run.code == 1 and "a second live file for cluster 'main'" in run.stderr


def test_live_in_every_format():
    doc = audit_doc("basic", *LIVE)
    md = audit_formats.render_markdown(doc)
    assert "### Live drift" in md and "| science.january | main | january | drift |" in md
    rows = audit_formats.render_csv(doc).splitlines()
    assert rows[0].endswith(",live_status")
    assert any(r.startswith("tools.jgit,") and r.endswith(",missing") for r in rows)
    assert "<h2>Live drift</h2>" in audit_formats.render_html(doc)
    assert "Live drift" in audit_formats.render_table(doc)


def test_single_cluster_fleet_needs_no_cluster_name(tmp_path):
    case = tmp_path / "rules"
    shutil.copytree(FLEETS / "rules", case)
    (case / "empty.json").write_text('{"apiVersion": "v1", "items": [], "kind": "List"}')
    run = fleet(case, "audit", "-j", "1", "--format", "json", "--live", "empty.json", "ok.plain", cwd=case)
    assert run.code == 1
    doc = json.loads(run.stdout)
    assert doc["live"]["clusters"] == [{"name": "c1", "file": "empty.json", "matchedBy": "the only cluster"}]
    assert [(f["rule"], f["instance"]) for f in doc["findings"]] == [("live-namespace-missing", "ok.plain")]
