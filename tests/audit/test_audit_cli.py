"""`fleet audit` end to end: exit codes, every format parsed back, --output, --build, the sample fleet."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from html.parser import HTMLParser

import pytest
from audittest import FLEETS, audit_doc, check_expected, fleet
from fleettest import ROOT, fleet_in_process, fleet_subprocess

from generator import audit_formats


@pytest.mark.parametrize("case,code", [("basic", 0), ("rules", 1), ("overflow", 1)])
def test_exit_codes(case, code):
    run = fleet(case, "audit", "-j", "1")
    assert run.code == code, run.stderr
    assert "Fleet quota audit" in run.stdout


def test_basic_expected_json_and_markdown():
    doc = audit_doc("basic")
    check_expected(FLEETS / "basic" / "expected.json", audit_formats.render_json(doc))
    check_expected(FLEETS / "basic" / "expected.md", audit_formats.render_markdown(doc))


def test_json_format_is_versioned_and_complete():
    doc = audit_doc("basic")
    assert doc["formatVersion"] == 1
    cbi = next(i for i in doc["instances"] if i["name"] == "technology.cbi")
    for key in ("name", "cluster", "namespace", "packs", "maxConcurrency", "staticAgents", "quota", "controller",
                "agent", "containerCap", "podTemplates"):
        assert key in cbi
    assert cbi["quota"] == {"pods": 11, "requestsCpuMillis": 13900, "requestsMemoryMiB": 50432,
                            "limitsCpuMillis": 26800, "limitsMemoryMiB": 50432}
    assert cbi["controller"] == {"cpuRequestMillis": 1900, "cpuLimitMillis": 3800, "memoryRequestMiB": 4352,
                                 "memoryLimitMiB": 4352}
    for c in doc["clusters"]:
        assert set(c) >= {"name", "capacity", "totals", "utilisation", "headroom", "onePackInstancesFit"}
    assert set(doc["summary"]) == {"instances", "clusters", "errors", "warnings", "infos", "exitCode"}
    rules = audit_doc("rules")
    for f in rules["findings"]:
        assert set(f) == {"rule", "severity", "instance", "cluster", "message"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


@pytest.mark.parametrize("case", ["basic", "rules", "overflow"])
def test_every_format_parses_back(case, tmp_path):
    doc = audit_doc(case)
    names = [i["name"] for i in doc["instances"]]
    outputs = {}
    for fmt in audit_formats.FORMATS:
        out = tmp_path / f"audit.{fmt}"
        run = fleet(case, "audit", "-j", "1", "--format", fmt, "--output", out)
        assert run.code == doc["summary"]["exitCode"], run.stderr
        assert run.stdout == ""
        assert f"wrote {out} ({fmt})" in run.stderr
        outputs[fmt] = out.read_text(encoding="utf-8")
    assert json.loads(outputs["json"]) == doc
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    assert [r["name"] for r in rows] == names
    for row, inst in zip(rows, doc["instances"], strict=True):
        assert int(row["quota_requests_cpu_millis"]) == inst["quota"]["requestsCpuMillis"]
        assert int(row["packs"]) == inst["packs"]
        own = sorted({f["rule"] for f in doc["findings"] if f["instance"] == inst["name"]})
        assert row["findings"] == ";".join(own)
    md = outputs["markdown"]
    assert md.startswith("## Fleet quota audit\n")
    assert "| instance | cluster | namespace |" in md and all(f"| {n} |" in md for n in names)
    parser = _Tags()
    parser.feed(outputs["html"])
    assert parser.tags.count("table") >= 2 and "svg" in parser.tags
    assert parser.tags.count("svg") == len(doc["clusters"])
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)  # self-contained, nothing fetched
    assert not [v for k, v in parser.attrs if k in ("src", "href")]
    assert all(n in outputs["html"] for n in names)
    assert all(n in outputs["table"] for n in names)


def test_html_escapes_text():
    doc = audit_doc("basic")
    doc["instances"][0]["name"] = "<script>alert(1)</script>"
    page = audit_formats.render_html(doc)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_output_is_atomic_and_replaces(tmp_path):
    out = tmp_path / "audit.json"
    out.write_text("old")
    run = fleet("basic", "audit", "-j", "1", "-f", "json", "-o", out)
    assert run.code == 0
    assert json.loads(out.read_text())["formatVersion"] == 1
    assert sorted(os.listdir(tmp_path)) == ["audit.json"]  # no temporary file left behind
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)
    run = fleet("basic", "audit", "-j", "1", "-o", tmp_path / "missing" / "audit.txt")
    assert run.code == 1 and "the directory for --output does not exist" in run.stderr


def test_audit_of_a_build_directory(tmp_path):
    case = tmp_path / "basic"
    shutil.copytree(FLEETS / "basic", case)
    run = fleet(case, "audit", "--build", "build", cwd=case)
    assert run.code == 1 and "no fleet.json: this is not a generated build directory" in run.stderr
    assert fleet(case, "generate", "-j", "1", "--out", "build", cwd=case).code == 0
    built = json.loads(fleet(case, "audit", "--build", "build", "-f", "json", cwd=case).stdout)
    fresh = json.loads(fleet(case, "audit", "-j", "1", "-f", "json", cwd=case).stdout)
    assert built["source"] == {"kind": "build", "path": "build"}
    assert {k: v for k, v in built.items() if k != "source"} == {k: v for k, v in fresh.items() if k != "source"}
    # --build audits the files as they are: a hand edit shows, a stale tree is not silently regenerated
    quota = case / "build" / "technology.cbi" / "k8s" / "resourcequota.yaml"
    quota.write_text(quota.read_text().replace("requests.cpu: 13900m", "requests.cpu: '14'"))
    edited = json.loads(fleet(case, "audit", "--build", "build", "-f", "json", cwd=case).stdout)
    assert next(i for i in edited["instances"] if i["name"] == "technology.cbi")["quota"]["requestsCpuMillis"] == 14000
    os.remove(case / "build" / "tools.jgit" / "jenkins" / "jenkins.yaml")
    run = fleet(case, "audit", "--build", "build", cwd=case)
    assert run.code == 1
    assert "build/tools.jgit/jenkins/jenkins.yaml: error: file missing" in run.stderr
    assert "while auditing instance 'tools.jgit'" in run.stderr


def test_sample_fleet_audit_passes():
    """The sample fleet (instances/) audits clean: make test runs this."""
    run = fleet_in_process(["--instances", "instances", "audit", "-j", "1", "--format", "json"], ROOT)
    assert run.code == 0, run.stdout + run.stderr
    doc = json.loads(run.stdout)
    assert doc["summary"]["errors"] == 0 and doc["summary"]["instances"] == len(doc["instances"]) >= 13
    rules = {(f["rule"], f["instance"]) for f in doc["findings"]}
    assert ("packs-approved", "ee4j.jersey") in rules
    assert ("quota-fit", "modeling.xtext") in rules  # the 6 GiB template: only 2 of 4 builds fit


def test_entry_point_in_a_fresh_interpreter(tmp_path):
    out = tmp_path / "rules.md"
    run = fleet_subprocess(["--instances", "instances", "audit", "-j", "1", "-f", "markdown", "-o", out],
                           FLEETS / "rules")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "`packs-over-policy` packs.over" in out.read_text()


def test_help_lists_examples():
    run = fleet("basic", "audit", "--help")
    assert run.code == 0
    for text in ("--base main", "--live okd-c1=okd-c1.json", "--format json", "Exit codes"):
        assert text in run.stdout
    run = fleet("basic", "--help")
    assert "audit" in run.stdout and "explain" in run.stdout


def test_bad_format_is_a_usage_error():
    assert fleet("basic", "audit", "--format", "xml").code == 2


@pytest.mark.parametrize("doc_file", ["README.md", "docs/audit.md"])
def test_documented_sample_tables_are_current(doc_file):
    """The sample fleet's tables quoted in the docs are what `fleet audit --format markdown` prints today."""
    run = fleet_in_process(["--instances", "instances", "audit", "-j", "1", "--format", "markdown"], ROOT)
    current = set(run.stdout.splitlines())
    names = [i["name"] for i in json.loads(fleet_in_process(
        ["--instances", "instances", "audit", "-j", "1", "--format", "json"], ROOT).stdout)["instances"]]
    with open(os.path.join(ROOT, doc_file), encoding="utf-8") as fh:
        quoted = [line for line in fh.read().splitlines()
                  if line.startswith(("| okd-", "| cluster |", "| instance |")) or
                  any(line.startswith(f"| {n} |") for n in names)]
    assert len(quoted) >= len(names) + 4
    stale = [line for line in quoted if line not in current]
    assert not stale, f"{doc_file} quotes an outdated audit table; paste the current one:\n" + "\n".join(stale)
