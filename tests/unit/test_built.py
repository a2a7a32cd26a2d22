"""Reading build/ back (generator/built.py): what push, status and deploy refuse in a generated tree."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fleettest import copy_sample_fleet, fleet_in_process

from generator import deploy, targets
from generator.errors import FleetError


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    copy_sample_fleet(root)
    assert fleet_in_process(["generate", "technology.cbi", "ee4j.jersey"], root).code == 0
    return root / "build"


@pytest.fixture
def build(generated, tmp_path):
    out = tmp_path / "build"
    shutil.copytree(generated, out)
    return out


def refused(fn, *args) -> list[tuple[str, str]]:
    with pytest.raises(FleetError) as info:
        fn(*args)
    return [(os.path.basename(d.file), d.message) for d in info.value.diagnostics]


def test_an_intact_build_is_read_whole(build):
    instances, index = deploy.read_instances(str(build), ("technology.cbi",))
    assert sorted(index["instances"]) == ["ee4j.jersey", "technology.cbi"]
    assert [i.name for i in instances] == ["technology.cbi"]
    kinds = [o.kind for o in instances[0].objects]
    assert kinds[0] == "Namespace" and kinds[-1] == "StatefulSet"
    assert all(isinstance(o.sha, str) and len(o.sha) == 64 for o in instances[0].objects)


def test_an_edited_file_is_refused_by_deploy_and_push(build):
    sts = build / "technology.cbi" / "k8s" / "statefulset.yaml"
    sts.write_text(sts.read_text() + "# edited by hand\n")
    jcasc = build / "ee4j.jersey" / "jenkins" / "jenkins.yaml"
    jcasc.write_text(jcasc.read_text().replace("jenkins:", "jenkins:  ", 1))
    assert refused(deploy.read_instances, str(build), ()) == [
        ("statefulset.yaml", "changed since generation (sha256 differs from fleet.json)")]
    push_refusals = refused(targets.read_build, str(build), ())
    assert ("jenkins.yaml", "changed since generation (sha256 differs from fleet.json)") in push_refusals


def test_a_missing_file_and_a_missing_sum_are_refused_by_deploy(build):
    (build / "ee4j.jersey" / "k8s" / "configmap-jenkins-config.yaml").unlink()
    index_path = build / "fleet.json"
    index = json.loads(index_path.read_text())
    index["instances"]["technology.cbi"]["files"]["k8s/route.yaml"] = None
    index_path.write_text(json.dumps(index))
    assert sorted(refused(deploy.read_instances, str(build), ())) == [
        ("configmap-jenkins-config.yaml", "generated file is missing"),
        ("route.yaml", "fleet.json records no sha256 for this file")]


def test_a_directory_without_a_generated_fleet(tmp_path):
    assert refused(deploy.read_instances, str(tmp_path), ()) == [
        ("fleet.json", "no generated fleet here (missing or unreadable fleet.json)")]
