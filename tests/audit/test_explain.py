"""`fleet explain NAME`: provenance of every value and the arithmetic of every quota figure."""

from __future__ import annotations

import json
import math
import os
import re
from fractions import Fraction

import pytest
from audittest import FLEETS, check_expected, fleet
from fleettest import ROOT, SAMPLE_INSTANCES
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import explain as explain_mod
from generator import jsonnet
from generator.fleet import Paths
from generator.fleetdir import instance_names


def explained(case: str, name: str) -> dict:
    run = fleet(case, "explain", name, "--format", "json")
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


def line_of(path, text: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_cbi_like_arithmetic():
    doc = explained("basic", "technology.cbi")
    steps = {s["name"]: s for s in doc["quota"]["steps"]}
    assert steps["requests.cpu"]["arithmetic"] == \
        "requests.cpu 13900m = controller 1900m + 10 x jnlp 200m + 5 packs x 2000m"
    assert steps["requests.cpu"]["value"] == 13900 and steps["requests.cpu"]["unit"] == "m"
    assert steps["controller cpu.request"]["arithmetic"] == \
        "controller cpu.request 1900m = min(4000m, 250m + 150m x max(0, 10 - 2 + 3))"
    assert steps["controller cpu.limit"]["arithmetic"] == "controller cpu.limit 3800m = max(2000m, 2 x 1900m)"
    assert steps["requests.memory"]["arithmetic"] == \
        "requests.memory 50432Mi = controller 4352Mi + 10 x jnlp 512Mi + 5 packs x 8192Mi"
    assert steps["limits.cpu"]["arithmetic"] == "limits.cpu 26800m = controller 3800m + 10 x (jnlp 300m + agent 2000m)"
    assert steps["pods"]["arithmetic"] == "pods 11 = 1 controller + 10 agents"
    assert steps["LimitRange Pod max cpu"]["arithmetic"] == \
        "LimitRange Pod max cpu 8300m = max(controller 3800m, min(8000m, 5 x 2000m) + jnlp 300m)"


def test_cbi_text_matches_expected():
    run = fleet("basic", "explain", "technology.cbi")
    assert run.code == 0, run.stderr
    check_expected(FLEETS / "basic" / "expected-explain-technology.cbi.txt", run.stdout)


def test_profile_constant_changes_the_arithmetic_and_is_traced():
    """big.data matches profile 'large', which sets jnlp.cpuMillis 250 and the cluster."""
    fleet_file = FLEETS / "basic" / "instances" / "fleet.yaml"
    doc = explained("basic", "big.data")
    assert doc["profiles"] == [{"name": "large", "file": "instances/fleet.yaml",
                                "line": line_of(fleet_file, "- name: large"), "match": ["big.*"]}]
    steps = {s["name"]: s["arithmetic"] for s in doc["quota"]["steps"]}
    assert steps["requests.cpu"] == "requests.cpu 8350m = controller 850m + 6 x jnlp 250m + 3 packs x 2000m"
    assert steps["jnlp cpu.limit"] == "jnlp cpu.limit 375m = 250m x 1.5"
    constants = {c["path"]: c for c in doc["quota"]["constants"]}
    jnlp = constants["resourceModel.jnlp.cpuMillis"]
    assert jnlp["value"] == 250
    assert jnlp["source"]["kind"] == "profile" and jnlp["source"]["profile"] == "large"
    assert jnlp["source"]["line"] == line_of(fleet_file, "jnlp: {cpuMillis: 250}")
    assert jnlp["source"]["text"] == f"profile large (instances/fleet.yaml:{jnlp['source']['line']})"
    assert constants["resourceModel.jnlp.memoryMiB"]["source"]["kind"] == "built-in"
    values = {v["path"]: v for v in doc["values"]}
    cluster = values["deployment.cluster"]
    assert cluster["value"] == "big"
    assert (cluster["source"]["kind"], cluster["source"]["line"]) == (
        "profile", line_of(fleet_file, "deployment: {cluster: big}"))


def test_sources_of_every_kind():
    fleet_file = FLEETS / "basic" / "instances" / "fleet.yaml"
    jgit_file = FLEETS / "basic" / "instances" / "tools.jgit" / "instance.yaml"
    values = {v["path"]: v for v in explained("basic", "tools.jgit")["values"]}
    assert values["jenkins.theme"]["value"] == "light"
    assert values["jenkins.theme"]["source"] == {
        "kind": "instance", "file": "instances/tools.jgit/instance.yaml", "line": line_of(jgit_file, "theme: light"),
        "key": "jenkins.theme", "text": f"instance file (instances/tools.jgit/instance.yaml:"
                                        f"{line_of(jgit_file, 'theme: light')})"}
    assert values["jenkins.maxConcurrency"]["source"]["line"] == line_of(jgit_file, "maxConcurrency: 3")
    assert values["jenkins.timezone"]["source"]["kind"] == "fleet"
    assert values["jenkins.timezone"]["source"]["line"] == line_of(fleet_file, "timezone: Europe/Paris")
    assert values["jenkins.timezone"]["source"]["key"] == "defaults.timezone"
    assert values["storage.size"]["source"] == {"kind": "built-in", "note": "50Gi", "text": "built-in default: 50Gi"}
    assert values["jenkins.version"]["value"] == "2.555.2"
    assert values["jenkins.version"]["source"]["kind"] == "derived"
    assert values["jenkins.version"]["source"]["line"] == line_of(fleet_file, 'latest: "2.555.2"')
    assert values["project.shortName"]["source"]["kind"] == "derived"
    plugins = {v["value"]: v["source"] for v in values.values() if v["path"].startswith("jenkins.plugins[")}
    assert plugins["kubernetes"]["kind"] == "fleet" and plugins["kubernetes"]["key"].startswith("controllers.versions")
    january = {v["path"]: v for v in explained("basic", "science.january")["values"]}
    assert january["jenkins.theme"]["source"]["kind"] == "built-in"  # no theme in this fleet.yaml
    cbi = explained("basic", "technology.cbi")
    inputs = {v["path"]: v["source"]["text"] for v in cbi["quota"]["inputs"]}
    assert inputs["C (max concurrency)"] == "derived: 2 x resourcePacks = 2 x 5"
    assert inputs["P (resource packs)"].startswith("instance file (instances/technology.cbi/instance.yaml:")


def test_instance_level_resource_model(tmp_path):
    import shutil
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    inst = case / "instances" / "technology.cbi" / "instance.yaml"
    inst.write_text(inst.read_text() + "resourceModel:\n  packCpuMillis: 1500\n")
    run = fleet(case, "explain", "technology.cbi", "--format", "json", cwd=case)
    assert run.code == 0, run.stderr
    doc = json.loads(run.stdout)
    steps = {s["name"]: s["arithmetic"] for s in doc["quota"]["steps"]}
    assert steps["requests.cpu"] == "requests.cpu 11400m = controller 1900m + 10 x jnlp 200m + 5 packs x 1500m"
    const = {c["path"]: c["source"] for c in doc["quota"]["constants"]}["resourceModel.packCpuMillis"]
    assert (const["kind"], const["line"]) == ("instance", len(inst.read_text().splitlines()))


def shown_arithmetic(step) -> Fraction:
    """The right-hand side of a quota step as the words say it ("min(4000m, 250m + 150m x max(0, 10 - 2 + 3))"),
    computed independently of the templates: units and words dropped, "x" multiplies, truncated toward zero."""
    rhs = step.arithmetic
    if rhs.startswith("limitRange."):
        return None  # a constant: checked against resourceModel below
    expr = rhs.replace(" x ", " * ")
    expr = re.sub(r"(\d+(?:\.\d+)?)(?:m|Mi)?\b", r"Fraction('\1')", expr)
    expr = re.sub(r"\b(?!min\b|max\b|Fraction\b)[A-Za-z][A-Za-z.]*\b(?!')", "", expr)
    value = eval(expr, {"__builtins__": {}}, {"min": min, "max": max, "Fraction": Fraction})
    return math.trunc(value)


def check_steps(steps, constants: dict) -> None:
    assert [s.name for s in steps][:3] == ["controller cpu.request", "controller cpu.limit", "controller memory"]
    assert len(steps) == 24
    for step in steps:
        expected = shown_arithmetic(step)
        if expected is None:
            expected = constants[step.formula.split(".", 1)[1]]
        assert step.value == expected, step.text


@pytest.mark.parametrize("name", instance_names(SAMPLE_INSTANCES))
def test_sample_fleet_arithmetic_says_what_the_templates_compute(name):
    """Each figure's arithmetic, in words, gives the figure: the words beside quota.libsonnet's code say what it
    does."""
    exp = explain_mod.explain(Paths(instances=SAMPLE_INSTANCES), name)
    check_steps(exp.steps, exp.model["resourceModel"]["limitRange"])
    assert exp.model["resources"]["quota"]["pods"] == next(s.value for s in exp.steps if s.name == "pods")
    assert all(v.source.kind for v in exp.values)


@given(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 130), st.integers(0, 40),
                          st.sampled_from([1, 1.25, 1.5, 2, 3]), st.integers(50, 9000), st.integers(256, 20000)),
                min_size=1, max_size=10))
@settings(max_examples=15, deadline=None)
def test_quota_steps_say_what_they_compute(cases):
    """Random packs, concurrency, static agents and constants (burst, pack CPU, pack memory): one
    Jsonnet evaluation of quota.libsonnet for the lot."""
    code = """function(cases) local q = import 'quota.libsonnet'; local u = import 'util.libsonnet';
      [local k = u.merge(q.defaults, { packCpuMillis: c[4], packMemoryMiB: c[5], controller: { cpuBurst: c[3] },
                                       jnlp: { cpuBurst: c[3] } });
       { steps: q.compute(k, c[0], c[1], c[2]).steps, limitRange: k.limitRange } for c in cases]"""
    out = json.loads(jsonnet.evaluate_snippet("steps", code, jpathdir=[os.path.join(ROOT, "templates", "model")],
                                              tla_codes={"cases": json.dumps(cases)}))
    for result in out:
        check_steps([explain_mod.QuotaStep(**s) for s in result["steps"]], result["limitRange"])


def test_explain_errors():
    run = fleet("basic", "explain", "technology.cbx")
    assert run.code == 1 and "did you mean technology.cbi" in run.stderr
    run = fleet("basic", "explain", "t*")
    assert run.code == 1 and "'t*' names 2 instances" in run.stderr
    run = fleet("basic", "explain")
    assert run.code == 2


def test_explain_output_file(tmp_path):
    out = tmp_path / "cbi.txt"
    run = fleet("basic", "explain", "technology.cbi", "-o", out)
    assert run.code == 0 and run.stdout == ""
    assert "requests.cpu 13900m = controller 1900m + 10 x jnlp 200m + 5 packs x 2000m" in out.read_text()


def test_explain_help_has_examples():
    run = fleet("basic", "explain", "--help")
    assert run.code == 0 and "fleet explain technology.cbi" in run.stdout


def test_monitoring_values_are_traced_to_fleet_yaml():
    """The fleet's monitoring block is a fleet-level source, not a built-in default."""
    exp = explain_mod.explain(Paths(instances=SAMPLE_INSTANCES), "technology.cbi")
    sources = {v.path: v.source for v in exp.values}
    for path in ("monitoring.enabled", "monitoring.scrape"):
        assert sources[path].kind == "fleet", (path, sources[path])
        assert sources[path].file.endswith("fleet.yaml")


def test_the_built_in_defaults_are_the_models(tmp_path):
    """A default changed in the Jsonnet model is what explain shows: Python holds no copy of it."""
    import shutil
    templates = tmp_path / "templates"
    shutil.copytree(os.path.join(ROOT, "templates"), templates)
    model = templates / "model" / "instance.libsonnet"
    text = model.read_text()
    assert "field: 'theme', key: 'theme', builtIn: 'dark'" in text and "local buildsPerPack = 2;" in text
    model.write_text(text.replace("builtIn: 'dark'", "builtIn: 'light'")
                     .replace("local buildsPerPack = 2;", "local buildsPerPack = 3;"))
    exp = explain_mod.explain(Paths(instances=str(FLEETS / "basic" / "instances"), templates=str(templates)),
                              "science.january")
    values = {v.path: v for v in exp.values}
    assert values["jenkins.theme"].value == "light"
    assert values["jenkins.theme"].source.describe() == "built-in default: light"
    assert values["jenkins.maxConcurrency"].value == 3
    assert values["jenkins.maxConcurrency"].source.describe() == "derived: 3 x resourcePacks = 3 x 1"
