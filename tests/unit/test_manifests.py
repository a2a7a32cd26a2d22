"""generator/manifests.py: what it knows of kubernetes-validate without importing it."""

from __future__ import annotations

import subprocess
import sys

from kubernetes_validate import utils as kv

from generator import manifests


def test_supported_versions_are_what_kubernetes_validate_lists():
    expected = {kv.major_minor(v) for v in kv.all_versions()}
    assert set(manifests.supported_versions()) == expected
    assert manifests.supported_versions() == sorted(expected, key=lambda v: tuple(map(int, v.split("."))))


def test_asking_for_the_supported_versions_does_not_import_kubernetes_validate():
    code = ("import sys; from generator import manifests; manifests.supported_versions(); "
            "print('kubernetes_validate' in sys.modules, 'jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_schemas_read_directly_judge_as_kubernetes_validate_does():
    import copy

    import kubernetes_validate
    good = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "jenkins"},
            "spec": {"selector": {"matchLabels": {"app": "j"}}, "serviceName": "j",
                     "template": {"metadata": {"labels": {"app": "j"}},
                                  "spec": {"containers": [{"name": "j", "image": "jenkins:lts",
                                                           "ports": [{"containerPort": 8080}]}]}}}}
    typo = copy.deepcopy(good)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["replicas"] = "one"
    for version in ("1.25", "1.30", manifests.supported_versions()[-1]):
        for obj, valid in ((good, True), (typo, False), (wrong_type, False)):
            try:
                kubernetes_validate.validate(obj, version, strict=True)
                theirs = True
            except kubernetes_validate.ValidationError:
                theirs = False
            ours = manifests.validate_object(obj, "x.yaml", version, "schemas")
            assert theirs is valid and (not ours) is valid, (version, obj, ours)
    route_less = manifests.validate_object({"apiVersion": "v1", "kind": "Nonexistent"}, "x.yaml", "1.30", "schemas")
    assert route_less  # a kind kubernetes-validate has no schema for is an error, not a pass
