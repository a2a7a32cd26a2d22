"""Error fixtures: a bad input and the exact diagnostics `fleet validate` prints for it.

Each case is either
  <case>.yaml      an instance file, installed as instances/<case>/instance.yaml, or
  <case>/          an instances directory (instance folders, optionally its own fleet.yaml),
in a fleet whose fleet.yaml is _base/fleet.yaml unless the case brings one. `<case>.expected`
is the whole stderr of `fleet validate` run from the case's root, so every path in it is
relative (instances/<name>/instance.yaml) and the fixture is machine independent.

FLEET_UPDATE_GOLDEN=1 rewrites the .expected files from the current output (review the diff).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from fleettest import UPDATE, fleet_in_process, fleet_subprocess, write

from generator.sources import MAX_BYTES

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_FLEET = os.path.join(HERE, "_base", "fleet.yaml")

FILE_CASES = sorted(f[:-len(".yaml")] for f in os.listdir(HERE) if f.endswith(".yaml"))
DIR_CASES = sorted(d for d in os.listdir(HERE)
                   if os.path.isdir(os.path.join(HERE, d)) and not d.startswith(("_", ".")))
CASES = FILE_CASES + DIR_CASES

HEADER = re.compile(r"^(?P<file>\S+?)(?::(?P<line>\d+):(?P<col>\d+))?: (?P<sev>error|warning): ")
SUMMARY = re.compile(r"^\d+ errors?(, \d+ warnings?)? in \d+ files?$")


def build_case(case: str, root) -> str:
    """Lay the case out as <root>/instances/...; return <root>."""
    instances = os.path.join(root, "instances")
    os.makedirs(instances)
    shutil.copy(BASE_FLEET, os.path.join(instances, "fleet.yaml"))
    source = os.path.join(HERE, case)
    if os.path.isdir(source):
        shutil.copytree(source, instances, dirs_exist_ok=True)
    else:
        with open(source + ".yaml", "rb") as fh:
            data = fh.read()
        if case == "too-large":  # generated here rather than committing a 1 MiB file
            line = b"# padding to exceed the size limit\n"
            data += line * ((MAX_BYTES - len(data)) // len(line) + 1)
            assert len(data) > MAX_BYTES
        write(os.path.join(instances, case, "instance.yaml"), data)
    return str(root)


def blocks(stderr: str) -> list[dict]:
    """Split stderr into diagnostics: header fields plus the caret lines, if any."""
    out: list[dict] = []
    for text in stderr.splitlines():
        m = HEADER.match(text)
        if m:
            out.append({**m.groupdict(), "lines": []})
        elif out and text.startswith("  "):
            out[-1]["lines"].append(text)
    return out


def underlined(block: dict) -> str | None:
    """The text the caret line underlines in the quoted source line."""
    source = next((t for t in block["lines"] if re.match(r"^  \d+ \| ", t)), None)
    if source is None:
        return None
    caret = block["lines"][block["lines"].index(source) + 1]
    prefix = source.index("| ") + 2
    assert caret.index("| ") + 2 == prefix, "caret line not aligned with the source line"
    marks = caret[prefix:]
    start = len(marks) - len(marks.lstrip(" "))
    assert marks[start] == "^", caret
    width = len(marks.strip())
    return source[prefix + start: prefix + start + width]


def assert_well_formed(stderr: str) -> list[dict]:
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    found = blocks(stderr)
    assert found, f"no diagnostic in:\n{stderr}"
    assert SUMMARY.match(stderr.splitlines()[-1]), stderr.splitlines()[-1]
    keys = [(b["file"], int(b["line"] or 0), int(b["col"] or 0)) for b in found]
    assert keys == sorted(keys), "diagnostics are not sorted by file:line:col"
    for b in found:
        assert not os.path.isabs(b["file"]), b["file"]
        if b["line"]:
            source = next((t for t in b["lines"] if re.match(r"^  \d+ \| ", t)), None)
            if source is not None:
                assert source.startswith(f"  {b['line']} | ")
                caret = b["lines"][b["lines"].index(source) + 1]
                assert caret.index("^") - caret.index("| ") - 2 == int(b["col"]) - 1, \
                    f"caret not at column {b['col']}:\n{source}\n{caret}"
    return found


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, object]:
    """`fleet validate` once per case (the cases share the results)."""
    results = {}
    for case in CASES:
        root = build_case(case, tmp_path_factory.mktemp(case))
        results[case] = fleet_in_process(["validate"], root)
    return results


@pytest.mark.parametrize("case", CASES)
def test_error_fixture(case, outputs):
    run = outputs[case]
    assert run.code == 1, f"exit code {run.code}\nstderr:\n{run.stderr}"
    assert_well_formed(run.stderr)
    expected_file = os.path.join(HERE, f"{case}.expected")
    if UPDATE:
        write(expected_file, run.stderr)
        return
    assert os.path.exists(expected_file), f"missing {expected_file}: run make update-golden"
    with open(expected_file, encoding="utf-8") as fh:
        expected = fh.read()
    assert run.stderr == expected, (
        f"stderr of `fleet validate` differs from {case}.expected\n"
        f"--- expected\n{expected}\n--- actual\n{run.stderr}")


def test_every_expected_file_has_a_case():
    stale = sorted(f for f in os.listdir(HERE) if f.endswith(".expected") and f[:-len(".expected")] not in CASES)
    assert not stale, f"expected files without a case: {stale}"


# What the caret underlines, per case: the offending value (or key), never a neighbour.
UNDERLINED = {
    "alias": "*name",
    "build-tool-secret-missing": "true",
    "control-character": "\ufffd",
    "duplicate-key": "theme",  # the second theme key
    "duplicate-plugin": '"gradle:2.8"',
    "enum-theme": "drak",
    "fullname-mismatch": "technology.cbi",
    "minimum-max-concurrency": "-1",
    "minimum-packs": "0",
    "pattern-dns-label": "CBI_tools",
    "pattern-plugin-id": '"pipeline stage view"',
    "request-over-limit": '"2"',
    "tab-indentation": "\t",
    "unknown-cluster": "okd-c3",
    "unknown-key": "resourcePack",
    "unknown-version": '"2.400.1"',
    "too-many-builds": "25",
    "wrong-type": '"4"',
    "yaml-syntax": ":",
}


@pytest.mark.parametrize("case", sorted(UNDERLINED))
def test_caret_points_at_the_value(case, outputs):
    errors = [b for b in blocks(outputs[case].stderr) if b["sev"] == "error"]
    assert len(errors) == 1, outputs[case].stderr
    got = underlined(errors[0])
    want = UNDERLINED[case]
    if want == "\t":  # tabs are shown as one space so that the caret column stays right
        want = " "
    assert got == want, f"caret underlines {got!r}, expected {want!r}\n{outputs[case].stderr}"


def test_pod_template_over_limitrange_points_at_the_limit(outputs):
    (error,) = [b for b in blocks(outputs["pod-template-over-limitrange"].stderr) if b["sev"] == "error"]
    assert underlined(error) == "16Gi"
    assert "memory limit 16384Mi exceeds the LimitRange container maximum of 8192Mi" in \
        outputs["pod-template-over-limitrange"].stderr


def test_all_errors_of_all_instances_in_one_run(outputs):
    stderr = outputs["many-errors"].stderr
    found = [b for b in assert_well_formed(stderr) if b["sev"] == "error"]
    files = [b["file"] for b in found]
    assert sorted(set(files)) == ["instances/a.first/instance.yaml", "instances/b.second/instance.yaml",
                                  "instances/c.third/instance.yaml"]
    for text in ("unknown key 'colour'", "unknown cluster 'nowhere'", "less than the minimum of 1",
                 "is not one of: dark, light", "plugin 'slack' is listed twice", "unknown Jenkins version '1.0'"):
        assert text in stderr, text
    assert stderr.splitlines()[-1] == f"{len(found)} errors in 3 files"


def test_collisions_name_both_instances(outputs):
    ns = outputs["namespace-collision"].stderr
    assert "namespace 'tools' on cluster 'main' is also used by technology.tools" in ns
    assert "namespace 'tools' on cluster 'main' is also used by modeling.tools" in ns
    url = outputs["url-collision"].stderr
    assert "URL https://ci.example.org/web is also used by beta.site" in url
    assert "URL https://ci.example.org/web is also used by alpha.web" in url


def test_fleet_errors_come_before_instance_checks(outputs):
    for case in ("fleet-unknown-cluster", "fleet-latest-missing"):
        found = blocks(outputs[case].stderr)
        assert {b["file"] for b in found} == {"instances/fleet.yaml"}, outputs[case].stderr


@pytest.mark.parametrize("case", ["yaml-syntax", "unknown-key", "namespace-collision", "jcasc-override-root"])
def test_generate_reports_the_same_and_writes_nothing(case, outputs, tmp_path):
    root = build_case(case, tmp_path)
    run = fleet_in_process(["generate", "--jobs", "1", "--out", "build"], root)
    assert run.code == 1
    assert run.stderr == outputs[case].stderr
    assert not os.path.exists(os.path.join(root, "build"))


def test_a_real_process_prints_the_same(outputs, tmp_path):
    root = build_case("many-errors", tmp_path)
    run = fleet_subprocess(["validate"], root)
    assert run.code == 1
    assert run.stderr == outputs["many-errors"].stderr


def test_a_syntax_error_does_not_hide_other_instances_errors(tmp_path):
    """One unparsable file must not hide the schema errors of the others ("all errors in one run")."""
    root = build_case("many-errors", tmp_path)
    write(os.path.join(root, "instances", "0.broken", "instance.yaml"),
          "project:\n  fullName: 0.broken\n  displayName: Broken: yes\n")
    run = fleet_in_process(["validate"], root)
    assert run.code == 1
    files = {b["file"] for b in blocks(run.stderr)}
    assert "instances/0.broken/instance.yaml" in files
    assert {"instances/a.first/instance.yaml", "instances/b.second/instance.yaml",
            "instances/c.third/instance.yaml"} <= files, run.stderr


def test_a_fleet_error_raised_in_a_worker_process_comes_back_whole():
    """Worker processes send exceptions back pickled: a FleetError must arrive with its diagnostics
    (Exception's default rebuilt it from its message, and the pool broke instead)."""
    import pickle

    from generator.errors import Diagnostic, FleetError
    diags = [Diagnostic("b/instance.yaml", 3, 5, "project.x", "second", hint="fix it"),
             Diagnostic("a/instance.yaml", 1, 1, "", "first", context=("while checking a",))]
    again = pickle.loads(pickle.dumps(FleetError(diags)))
    assert isinstance(again, FleetError)
    assert again.diagnostics == FleetError(diags).diagnostics and str(again) == str(FleetError(diags))
