"""`fleet audit` as a table: fitted to the width of the terminal or $COLUMNS, never a figure cut.

The whole table when it fits, the same rows in parts (the name repeated) when it does not, one
block per row below that; piped without $COLUMNS, whole tables. Exact text at 80, 100, 120 and
200 columns and unlimited (expected-table-*.txt, rewritten by FLEET_UPDATE_GOLDEN=1), the same
through a real terminal, and for every width from 40 to 220 no line too long and every figure whole.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest
from audittest import FLEETS, audit_doc, check_expected, fleet
from fleettest import ROOT

from generator import audit_formats

WIDTHS = [80, 100, 120, 200]


@pytest.fixture(scope="module")
def rules_doc() -> dict:
    return audit_doc("rules")


def piped(monkeypatch, columns: str | None, *args):
    """`fleet audit` with stdout piped (click's runner), with or without $COLUMNS."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    return fleet("rules", "audit", "-j", "1", *args)


@pytest.mark.parametrize("width", WIDTHS)
def test_piped_output_follows_columns(monkeypatch, width):
    run = piped(monkeypatch, str(width))
    assert run.code == 1, run.stderr  # the rules fleet has error findings
    check_expected(FLEETS / "rules" / f"expected-table-{width}.txt", run.stdout)
    assert max(len(line) for line in run.stdout.splitlines()) <= width


def test_piped_output_without_columns_is_whole_tables(monkeypatch, rules_doc):
    run = piped(monkeypatch, None)
    check_expected(FLEETS / "rules" / "expected-table.txt", run.stdout)
    lines = run.stdout.splitlines()
    header = next(line for line in lines if line.startswith("instance "))
    assert header.split() == ["instance", "cluster", "namespace", "packs", "conc", "static", "ctl", "cpu", "ctl",
                              "mem", "agent", "cpu", "agent", "mem", "pods", "req", "cpu", "req", "mem", "lim",
                              "cpu", "lim", "mem"]
    for inst in rules_doc["instances"]:  # one line per instance: grep finds every figure of it
        (row,) = [line for line in lines if line.startswith(inst["name"] + " ")]
        assert row.split() == audit_formats.instance_cells(inst)
    # a finding is one line, whatever its length
    assert sum(line.startswith(("error ", "warning ", "info ")) for line in lines) == len(rules_doc["findings"])


def test_output_file_is_the_unlimited_table(monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "80")  # a file is not a terminal: $COLUMNS is not for it
    out = tmp_path / "audit.txt"
    assert fleet("rules", "audit", "-j", "1", "-o", out).code == 1
    assert out.read_text() == (FLEETS / "rules" / "expected-table.txt").read_text()


def test_empty_or_bad_columns_mean_unlimited(monkeypatch):
    whole = (FLEETS / "rules" / "expected-table.txt").read_text()
    for value in ("0", "wide"):
        assert piped(monkeypatch, value).stdout == whole, value


def test_a_real_terminal_of_100_columns(tmp_path):
    """Through a pseudo-terminal (no $COLUMNS): the terminal's own width, the same text as piped at 100."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = ROOT
    env["TERM"] = "dumb"
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "generator", "--no-color", "--instances", "instances", "audit",
                             "-j", "1"], cwd=FLEETS / "rules", env=env, stdin=child, stdout=child,
                            stderr=subprocess.DEVNULL)
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        assert ready, "no output from fleet audit within 60 s"
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=60) == 1
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert text == (FLEETS / "rules" / "expected-table-100.txt").read_text()


def _with_base_and_live(doc: dict) -> dict:
    """The rules fleet's report with a --base section and a --live section (shapes of docs/audit.md)."""
    doc = copy.deepcopy(doc)
    before = {"packs": 4, "maxConcurrency": 8, "staticAgents": 0, "pods": 9, "requestsCpuMillis": 10750,
              "requestsMemoryMiB": 39936, "limitsCpuMillis": 20700, "limitsMemoryMiB": 39936}
    after = {**before, "packs": 6, "maxConcurrency": 12, "pods": 13, "requestsCpuMillis": 16150,
             "requestsMemoryMiB": 59392, "limitsCpuMillis": 31100, "limitsMemoryMiB": 59392}
    delta = {k: after[k] - before[k] for k in before}
    totals = doc["clusters"][0]["totals"]
    old = {k: totals[k] - delta[k] for k in totals}
    doc["base"] = {"revision": {"ref": "main", "commit": "0123456789abcdef" * 2 + "01234567", "templates": "revision",
                                "schemas": "revision"},
                   "instances": [{"name": "packs.over", "change": "changed", "cluster": "c1", "before": before,
                                  "after": after, "delta": delta}],
                   "unchanged": len(doc["instances"]) - 1,
                   "clusters": [{"name": doc["clusters"][0]["name"], "before": old, "after": totals,
                                 "delta": {k: delta[k] for k in totals}}],
                   "totals": {"before": old, "after": totals, "delta": {k: delta[k] for k in totals}}}
    doc["live"] = {"clusters": [{"name": "c1", "file": "c1.json", "matchedBy": "argument"}],
                   "instances": [{"name": "ok.plain", "cluster": "c1", "namespace": "plain", "status": "drift",
                                  "differences": [{"object": "ResourceQuota/jenkins-instance-quota",
                                                   "field": "spec.hard.requests.cpu", "expected": "2650m",
                                                   "actual": "3"},
                                                  {"object": "LimitRange/jenkins-instance-limit-range",
                                                   "field": "Container.max.memory", "expected": "4Gi",
                                                   "actual": None}]}],
                   "unknownNamespaces": [], "ignoredNamespaces": 0, "notChecked": []}
    return doc


def _figures(doc: dict) -> list[str]:
    """Every cell the terminal view must show whole."""
    cells = []
    for spec in audit_formats.table_specs(doc):
        for row in spec.rows:
            cells += [c for i, c in enumerate(row) if i not in spec.wrap]
    return cells


@pytest.mark.parametrize("case", ["basic", "rules", "overflow", "rules+base+live"])
def test_every_width_keeps_every_figure_whole(case, rules_doc):
    doc = _with_base_and_live(rules_doc) if case == "rules+base+live" else \
        rules_doc if case == "rules" else audit_doc(case)
    figures = _figures(doc)
    for width in range(40, 221, 5):
        text = audit_formats.render_table(doc, width)
        assert "…" not in text
        tokens = set(text.split())
        missing = [f for f in figures if not set(f.split()) <= tokens]
        assert not missing, f"at {width} columns, not shown whole: {missing[:5]}"
        for line in text.splitlines():  # only a word longer than the line (a URL) may overflow it
            assert len(line) <= width or " " not in line.strip(), f"{width}: {line!r}"


def test_layouts_by_width(rules_doc):
    """Whole tables when they fit, parts with the name repeated, a block per row when narrow."""
    spec = next(s for s in audit_formats.table_specs(rules_doc) if s.title.startswith("Instances"))
    full = spec.width(list(range(len(spec.headers))))
    assert audit_formats.split_columns(spec, full) == [list(range(len(spec.headers)))]
    assert audit_formats.split_columns(spec, None) == [list(range(len(spec.headers)))]
    parts = audit_formats.split_columns(spec, 100)
    assert len(parts) == 2 and all(p[0] == 0 and spec.width(p) <= 100 for p in parts)
    assert sorted(c for p in parts for c in p[1:]) == list(range(1, len(spec.headers)))
    for p in parts:  # related columns stay together: a request beside its limit, cpu beside memory
        for group in spec.groups:
            assert set(group) <= set(p) or not set(group) & set(p)
    assert audit_formats.split_columns(spec, 40) is None
    block = audit_formats.render_table(rules_doc, 40)
    assert "packs.over\n  cluster    c1\n  namespace  over\n  packs      6\n" in block


def test_live_differences_wrap_as_text(rules_doc):
    text = audit_formats.render_table(_with_base_and_live(rules_doc), 80)
    live = text[text.index("Live drift"):]
    assert "ResourceQuota/jenkins-instance-quota spec.hard.requests.cpu: 2650m ≠ 3" in " ".join(live.split())
    assert max(len(line) for line in live.splitlines()) <= 80


def test_the_json_document_is_unchanged_by_the_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    narrow = fleet("rules", "audit", "-j", "1", "-f", "json").stdout
    monkeypatch.delenv("COLUMNS")
    assert json.loads(narrow) == json.loads(fleet("rules", "audit", "-j", "1", "-f", "json").stdout)
