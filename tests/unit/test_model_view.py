"""`fleet validate` models only what the cross-instance rules read (templates/fleet.jsonnet,
view 'checks'): the same fields as the full model, and the same findings."""

from __future__ import annotations

import os
import shutil

import pytest
from fleettest import ROOT, SAMPLE_INSTANCES

from generator import checks, fleet
from generator.model import CHECKS, ModelEngine

ERRORS = os.path.join(ROOT, "tests", "errors")


def error_case(case: str, root) -> str:
    """An error fixture laid out as tests/errors/test_errors.py does: its fleet plus the case."""
    instances = os.path.join(root, "instances")
    if os.path.isdir(os.path.join(ERRORS, case)):
        shutil.copytree(os.path.join(ERRORS, case), instances)
    else:
        os.makedirs(os.path.join(instances, case))
        shutil.copy(os.path.join(ERRORS, case + ".yaml"), os.path.join(instances, case, "instance.yaml"))
    shutil.copy(os.path.join(ERRORS, "_base", "fleet.yaml"), os.path.join(instances, "fleet.yaml"))
    return instances


def both_views(instances: str):
    paths = fleet.Paths(instances=instances)
    checked = fleet.check_sources(paths)
    engine = ModelEngine(paths.templates)
    data = checked.sources.fleet.data
    full = {n: r["model"] for n, r in engine.evaluate(data, checked.inputs, objects=False).items()}
    view = {n: r["model"] for n, r in engine.evaluate(data, checked.inputs, view=CHECKS).items()}
    return checked, full, view


def test_the_checks_view_is_the_full_model_cut_down():
    _, full, view = both_views(SAMPLE_INSTANCES)
    assert view.keys() == full.keys()
    for name, model in full.items():
        assert view[name] == {"deployment": model["deployment"],
                              "resources": {"limitRange": model["resources"]["limitRange"]},
                              "agents": {"podTemplates": model["agents"]["podTemplates"],
                                         "missingSecrets": model["agents"]["missingSecrets"]}}, name


@pytest.mark.parametrize("case", ["namespace-collision", "url-collision", "pod-template-over-limitrange",
                                  "build-tool-secret-missing"])
def test_the_rules_find_the_same_with_either_view(case, tmp_path):
    checked, full, view = both_views(error_case(case, tmp_path))
    expected = checks.check_models(full, checked.sources)
    assert expected, "the case must trigger the rule"
    assert checks.check_models(view, checked.sources) == expected
