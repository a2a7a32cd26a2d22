"""NAME arguments: one selection for every command (generator/names.py)."""

from __future__ import annotations

import json
import os

import pytest
from fleettest import SAMPLE_INSTANCES

from generator import audit, deploy, fleetdir, targets
from generator.errors import FleetError
from generator.names import matches, pick_names, select_names

NAMES = ["ee4j.glassfish", "ee4j.jersey", "technology.cbi", "technology.jgit"]


def test_patterns_select_sorted_unique_names():
    assert select_names(NAMES, ["technology.*", "ee4j.jersey", "*.cbi"]) == [
        "ee4j.jersey", "technology.cbi", "technology.jgit"]
    assert select_names(reversed(NAMES), []) == NAMES  # no pattern: everything


def test_every_pattern_that_selects_nothing_is_reported_at_once():
    with pytest.raises(FleetError) as exc:
        select_names(NAMES, ["technology.cbx", "nothing.*", "ee4j.*"], where="instances")
    assert [(d.file, d.message, d.hint) for d in exc.value.diagnostics] == [
        ("instances", "no instance named 'nothing.*'", "NAME is a fullName or a shell pattern such as 'ee4j.*'"),
        ("instances", "no instance named 'technology.cbx'", "did you mean technology.cbi, technology.jgit?"),
    ]
    chosen, diags = pick_names(NAMES, ["ee4j.*", "x"], missing="no generated instance matches '{}'", hint="h")
    assert chosen == ["ee4j.glassfish", "ee4j.jersey"]
    assert [(d.message, d.hint) for d in diags] == [("no generated instance matches 'x'", "h")]


def test_matching_is_case_sensitive_where_paths_fold_case(monkeypatch):
    """fnmatch.filter folds case where os.path.normcase does (Windows): a command selecting with it
    would take technology.cbi for 'Technology.*' there and not here."""
    import fnmatch

    monkeypatch.setattr(os.path, "normcase", str.lower)
    assert fnmatch.filter(NAMES, "Technology.*")  # what the platform's matching would do
    assert not matches("technology.cbi", ["Technology.*"])
    with pytest.raises(FleetError):
        select_names(NAMES, ["Technology.*"])
    with pytest.raises(FleetError) as exc:
        fleetdir.select(SAMPLE_INSTANCES, ["Technology.*"])
    assert exc.value.diagnostics[0].message == "no instance named 'Technology.*'"


def _build(tmp_path, names) -> str:
    build = tmp_path / "build"
    build.mkdir()
    (build / "fleet.json").write_text(json.dumps({"generator": "jenkins-fleet", "instances": {
        n: {"cluster": "c", "files": {}} for n in names}}))
    return str(build)


def test_every_command_selects_the_same_way(tmp_path):
    """validate/generate (fleetdir), audit --build, push/status (targets), deploy: one rule, one message shape."""
    build = _build(tmp_path, fleetdir.instance_names(SAMPLE_INSTANCES))
    for select in (lambda p: fleetdir.select(SAMPLE_INSTANCES, p),
                   lambda p: [e.name for e in targets.read_build(build, p)],
                   lambda p: [i.name for i in deploy.read_instances(build, p)[0]]):
        with pytest.raises(FleetError) as exc:
            select(["technology.cbx", "Technology.*"])
        assert exc.value.diagnostics[1].hint.startswith("did you mean technology.cbi")
        assert len(exc.value.diagnostics) == 2
    with pytest.raises(FleetError) as exc:
        audit.snapshot(audit.fleet_mod.Paths(instances=SAMPLE_INSTANCES), ("technology.cbx",), build_dir=build)
    assert exc.value.diagnostics[0].message == "no instance named 'technology.cbx' in this build"
    assert exc.value.diagnostics[0].hint.startswith("did you mean technology.cbi")
