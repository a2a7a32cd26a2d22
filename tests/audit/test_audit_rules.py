"""Every audit rule has a purpose-built instance that triggers it and one that does not."""

from __future__ import annotations

import json
import shutil

import pytest
from audittest import FLEETS, audit_doc, check_expected, fleet

from generator import audit as audit_mod
from generator import audit_formats

# rule -> (fixture case, extra args, who triggers it, who must not (a control))
# "who" is an instance name, or "cluster:NAME" for cluster rules.
TRIGGERS = {
    "packs-over-policy": ("rules", (), "packs.over", "packs.approved"),
    "packs-approved": ("rules", (), "packs.approved", "ok.plain"),
    "container-cap-mismatch": ("rules", (), "cap.mismatch", "ok.plain"),
    "template-outside-limitrange": ("rules", (), "limitrange.burst", "ok.plain"),
    "quota-fit": ("rules", (), "fit.error", "ok.plain"),
    "agent-below-minimum": ("rules", (), "agent.small", "agent.ok"),
    "cluster-over-capacity": ("overflow", (), "cluster:tight", "cluster:roomy"),
    "cluster-near-capacity": ("overflow", (), "cluster:near", "cluster:roomy"),
    "cluster-limits-overcommit": ("overflow", (), "cluster:tight", "cluster:roomy"),
    "live-namespace-missing": ("basic", ("--live", "main=live-main.json"), "tools.jgit", "technology.cbi"),
    "live-object-missing": ("basic", ("--live", "main=live-main.json"), "modeling.emf", "technology.cbi"),
    "live-value-drift": ("basic", ("--live", "main=live-main.json"), "science.january", "technology.cbi"),
    "live-namespace-unknown": ("basic", ("--live", "main=live-main.json"), "cluster:main", "cluster:big"),
    # shared-namespace and unknown-cluster need a hand-assembled build: see the tests below
}


def _who(f: dict) -> str:
    return f["instance"] or f"cluster:{f['cluster']}"


@pytest.fixture(scope="module")
def docs():
    cache = {}

    def get(case, args):
        if (case, args) not in cache:
            cache[(case, args)] = audit_doc(case, *args)
        return cache[(case, args)]
    return get


@pytest.mark.parametrize("rule", sorted(TRIGGERS))
def test_rule_triggers_on_its_fixture_and_not_on_the_control(rule, docs):
    case, args, trigger, control = TRIGGERS[rule]
    doc = docs(case, args)
    hits = {_who(f) for f in doc["findings"] if f["rule"] == rule}
    assert trigger in hits, f"{rule} did not fire for {trigger}: {doc['findings']}"
    assert control not in hits
    for f in doc["findings"]:
        if f["rule"] == rule and _who(f) == trigger and rule != "quota-fit":
            assert f["severity"] == audit_mod.RULES[rule].severity


def test_every_rule_is_tested():
    covered = set(TRIGGERS) | {"shared-namespace", "unknown-cluster", "plugin-security-warning", "plugin-deprecated"}
    assert covered == set(audit_mod.RULES)


def test_plugin_advisories_are_one_finding_each_naming_the_instances(docs):
    """The catalog's active warning and deprecation (fleets/plugins: the synthetic update site)."""
    doc = docs("plugins", ())
    got = [(f["rule"], f["severity"], f["instance"], f["cluster"], f["message"]) for f in doc["findings"]]
    assert got == [
        ("plugin-deprecated", "warning", None, None,
         ("deprecated-thing 0.9 is deprecated (https://example.org/deprecated-thing-notice); installed on "
         "1 instance: with.advisories")),
        ("plugin-security-warning", "warning", None, None,
         ("vulnerable 1.4: SECURITY-9001 Stored XSS vulnerability (https://example.org/advisory/SECURITY-9001); "
         "installed on 2 instances: also.vulnerable, with.advisories")),
    ]
    text = fleet("plugins", "audit", "-j", "1").stdout
    assert "warning plugin-security-warning fleet: vulnerable 1.4: SECURITY-9001" in text


def test_rules_fleet_findings_are_exactly_the_purpose_built_ones(docs):
    doc = docs("rules", ())
    got = sorted((f["rule"], f["severity"], f["instance"]) for f in doc["findings"])
    assert got == [
        ("agent-below-minimum", "error", "agent.small"),
        ("container-cap-mismatch", "error", "cap.mismatch"),
        ("packs-approved", "info", "packs.approved"),
        ("packs-over-policy", "error", "packs.over"),
        ("quota-fit", "error", "fit.error"),
        ("quota-fit", "warning", "fit.warning"),
        ("template-outside-limitrange", "error", "limitrange.burst"),
        ("template-outside-limitrange", "error", "limitrange.burst"),
    ]
    assert doc["summary"] == {"instances": 9, "clusters": 1, "errors": 6, "warnings": 1, "infos": 1, "exitCode": 1}


def test_rule_messages_carry_the_numbers(docs):
    by = {(f["rule"], f["instance"]): f["message"] for f in docs("rules", ())["findings"]}
    assert "'1' allows 1 agents but the quota allows 3 pods = controller + 2 agents" in by[
        ("container-cap-mismatch", "cap.mismatch")]
    assert "(requests.cpu 7350m > 5350m); at most 2 builds run at once" in by[("quota-fit", "fit.error")]
    assert "pod template 'big-mem' (1000m/6144Mi + jnlp sidecar 200m/512Mi each)" in by[("quota-fit", "fit.warning")]
    assert "requests.memory 28672Mi > 20480Mi" in by[("quota-fit", "fit.warning")]
    assert "CPU 250m < 500m, memory 1024Mi < 2048Mi" in by[("agent-below-minimum", "agent.small")]
    assert "6 resource packs, above the fleet maximum of 4" in by[("packs-over-policy", "packs.over")]


def test_limitrange_rule_reports_container_and_pod(docs):
    messages = [f["message"] for f in docs("rules", ())["findings"] if f["rule"] == "template-outside-limitrange"]
    assert any("container 'jnlp' cpu limit 2500m is above the LimitRange Container maximum 2000m" in m
               for m in messages)
    assert any("cpu limit 2800m is above the LimitRange Pod maximum 2300m" in m for m in messages)


def test_rules_fleet_expected_json_and_markdown(docs):
    doc = docs("rules", ())
    check_expected(FLEETS / "rules" / "expected.json", audit_formats.render_json(doc))
    check_expected(FLEETS / "rules" / "expected.md", audit_formats.render_markdown(doc))


def test_overflow_expected_json(docs):
    check_expected(FLEETS / "overflow" / "expected.json", audit_formats.render_json(docs("overflow", ())))


def test_shared_namespace_is_refused_by_generation(tmp_path):
    run = fleet("shared", "audit", "-j", "1")
    assert run.code == 1
    assert "namespace 'common' on cluster 'c1' is also used by beta.shared" in run.stderr


def test_shared_namespace_in_an_assembled_build(tmp_path):
    """Generated one at a time (as `fleet generate NAME` does), the build holds two claims on one namespace."""
    case = tmp_path / "shared"
    shutil.copytree(FLEETS / "shared", case)
    for name in ("alpha.shared", "beta.shared", "gamma.shared"):
        run = fleet(case, "generate", "-j", "1", "--out", "build", name, cwd=case)
        assert run.code == 0, run.stderr
    run = fleet(case, "audit", "--build", "build", "--format", "json", cwd=case)
    assert run.code == 1, run.stderr
    doc = json.loads(run.stdout)
    shared = [(f["instance"], f["cluster"]) for f in doc["findings"] if f["rule"] == "shared-namespace"]
    assert shared == [("alpha.shared", "c1"), ("beta.shared", "c1")]  # gamma is on c2: allowed
    assert doc["source"] == {"kind": "build", "path": "build"}


def test_unknown_cluster_in_a_stale_build(tmp_path):
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    assert fleet(case, "generate", "-j", "1", "--out", "build", cwd=case).code == 0
    model = case / "build" / "big.data" / "model.json"
    data = json.loads(model.read_text())
    data["deployment"]["cluster"] = "decommissioned"
    model.write_text(json.dumps(data))
    run = fleet(case, "audit", "--build", "build", "--format", "json", cwd=case)
    assert run.code == 1
    doc = json.loads(run.stdout)
    unknown = [f for f in doc["findings"] if f["rule"] == "unknown-cluster"]
    assert [(f["cluster"], f["severity"]) for f in unknown] == [("decommissioned", "error")]
    row = next(c for c in doc["clusters"] if c["name"] == "decommissioned")
    assert row["capacity"] == {"cpuMillis": None, "memoryMiB": None, "pods": None}
    assert row["onePackInstancesFit"] is None
    assert not any(f["rule"] == "unknown-cluster" for f in audit_doc("basic")["findings"])  # the control
