"""Audit totals equal the sums of the generated ResourceQuota objects, read independently here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from audittest import FLEETS, audit_doc, fleet
from fleettest import ROOT, fleet_in_process

KEYS = {"pods": "pods", "requests.cpu": "requestsCpuMillis", "requests.memory": "requestsMemoryMiB",
        "limits.cpu": "limitsCpuMillis", "limits.memory": "limitsMemoryMiB"}


def _own_value(key: str, text: str) -> int:
    # Deliberately naive and independent of generator.audit: the generated forms are "<n>m", "<n>Mi" and "<n>".
    m = re.fullmatch(r"(\d+)(m|Mi)?", str(text))
    assert m, f"unexpected quantity {text!r} for {key}"
    return int(m.group(1))


def sums_from_build(build: Path) -> tuple[dict, dict]:
    """Per cluster and per instance, the ResourceQuota figures of a generated tree."""
    index = json.loads((build / "fleet.json").read_text())
    per_cluster: dict[str, dict[str, int]] = {}
    per_instance: dict[str, dict[str, int]] = {}
    for name, entry in index["instances"].items():
        quota = yaml.safe_load((build / name / "k8s" / "resourcequota.yaml").read_text())
        assert quota["kind"] == "ResourceQuota"
        own = {KEYS[k]: _own_value(k, v) for k, v in quota["spec"]["hard"].items()}
        per_instance[name] = own
        total = per_cluster.setdefault(entry["cluster"], dict.fromkeys(KEYS.values(), 0))
        for k, v in own.items():
            total[k] += v
    return per_cluster, per_instance


@pytest.mark.parametrize("case", ["basic", "overflow", "rules", "sample"])
def test_totals_are_the_sums_of_the_generated_quotas(case, tmp_path):
    where = Path(ROOT) if case == "sample" else FLEETS / case
    build = tmp_path / "build"
    run = fleet_in_process(["--instances", "instances", "generate", "-j", "1", "--out", build], where)
    assert run.code == 0, run.stderr
    per_cluster, per_instance = sums_from_build(build)
    for source in ((), ("--build", str(build))):
        run = fleet_in_process(["--instances", "instances", "audit", "-j", "1", "--format", "json", *source], where)
        assert run.code in (0, 1), run.stderr
        doc = json.loads(run.stdout)
        assert {i["name"]: i["quota"] for i in doc["instances"]} == per_instance
        assert {c["name"]: c["totals"] for c in doc["clusters"] if c["instances"]} == per_cluster
        fleet_total = {k: sum(c[k] for c in per_cluster.values()) for k in KEYS.values()}
        assert doc["totals"] == fleet_total


def test_utilisation_headroom_and_one_pack_fit():
    doc = audit_doc("overflow")
    roomy = next(c for c in doc["clusters"] if c["name"] == "roomy")
    assert roomy["capacity"] == {"cpuMillis": 100000, "memoryMiB": 1048576, "pods": 1000}
    assert roomy["headroom"] == {"pods": 997, "cpuMillis": 97350, "memoryMiB": 1037824}
    # a 1-pack instance requests 2650m / 10752Mi / 3 pods: CPU binds, 97350 // 2650 = 36
    assert roomy["onePackQuota"]["requestsCpuMillis"] == 2650
    assert roomy["onePackInstancesFit"] == 36
    assert roomy["utilisation"]["requestsCpuPercent"] == 2.6
    near = next(c for c in doc["clusters"] if c["name"] == "near")
    assert near["capacity"]["pods"] is None and near["utilisation"]["podsPercent"] is None
    assert near["onePackInstancesFit"] == 0  # 900m of CPU left
    tight = next(c for c in doc["clusters"] if c["name"] == "tight")
    assert tight["headroom"]["cpuMillis"] == -700 and tight["onePackInstancesFit"] == 0


def test_one_pack_probe_equals_a_real_one_pack_instance():
    doc = audit_doc("basic")
    january = next(i for i in doc["instances"] if i["name"] == "science.january")
    assert all(c["onePackQuota"] == january["quota"] for c in doc["clusters"])


def test_names_limit_rows_not_totals():
    whole = audit_doc("basic")
    some = audit_doc("basic", "tech*")
    assert [i["name"] for i in some["instances"]] == ["technology.cbi"]
    assert [c["name"] for c in some["clusters"]] == ["main"]
    assert some["clusters"][0]["totals"] == next(c for c in whole["clusters"] if c["name"] == "main")["totals"]
    assert some["totals"] == whole["totals"]


def test_unknown_name_is_an_input_error():
    run = fleet("basic", "audit", "technology.cbx")
    assert run.code == 1
    assert "no instance named 'technology.cbx'" in run.stderr and "technology.cbi" in run.stderr


