"""Golden output trees: `fleet generate` must reproduce them byte for byte.

- sample-fleet/             the expected build/ of the real sample fleet (instances/ at the repo root)
- <case>/instances/         a small fleet pinning one feature, <case>/expected/ its expected build/

FLEET_UPDATE_GOLDEN=1 (make update-golden) rewrites the expected trees instead of comparing;
review the resulting diff before committing it. Each extra case also asserts the feature it
pins on the parsed output, so a careless update cannot silently bless a regression.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml
from fleettest import (
    SAMPLE_INSTANCES,
    UPDATE,
    fleet_in_process,
    other_warnings,
    read_tree,
    replace_tree,
    tree_diff,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_EXPECTED = os.path.join(HERE, "sample-fleet")
CASES = sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d, "instances")))


def generate(instances: str, out) -> dict[str, bytes]:
    run = fleet_in_process(["--instances", instances, "generate", "--jobs", "1", "--out", out], os.path.dirname(out))
    assert run.code == 0, run.stderr
    assert not other_warnings(run.stderr), run.stderr
    return read_tree(out)


def check_golden(actual: dict[str, bytes], expected_dir: str) -> None:
    if UPDATE:
        replace_tree(expected_dir, actual)
        return
    assert os.path.isdir(expected_dir), f"no golden tree at {expected_dir}: run make update-golden"
    report = tree_diff(actual, read_tree(expected_dir),
                       label=os.path.relpath(expected_dir, HERE))
    if report:
        pytest.fail("generated output differs from the golden tree\n" + report, pytrace=False)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Generate the sample fleet and every case once; the tests below share the trees."""
    result = {"sample-fleet": generate(SAMPLE_INSTANCES, tmp_path_factory.mktemp("sample") / "build")}
    for case in CASES:
        result[case] = generate(os.path.join(HERE, case, "instances"), tmp_path_factory.mktemp(case) / "build")
    return result


def test_sample_fleet(outputs):
    actual = outputs["sample-fleet"]
    names = sorted(d for d in os.listdir(SAMPLE_INSTANCES)
                   if os.path.isdir(os.path.join(SAMPLE_INSTANCES, d)) and d != "catalogs")
    # every instance of the sample fleet, and the index, are in the golden tree
    assert set(names) <= {p.split("/", 1)[0] for p in actual}
    assert sorted(json.loads(actual["fleet.json"])["instances"]) == names
    check_golden(actual, SAMPLE_EXPECTED)


@pytest.mark.parametrize("case", CASES)
def test_case(case, outputs):
    check_golden(outputs[case], os.path.join(HERE, case, "expected"))


def test_sample_index_lists_every_file_with_its_hash(outputs):
    import hashlib

    tree = outputs["sample-fleet"]
    index = json.loads(tree["fleet.json"])
    listed = {f"{name}/{rel}": digest for name, entry in index["instances"].items()
              for rel, digest in entry["files"].items()}
    assert set(listed) == {p for p in tree if p.split("/", 1)[0] in index["instances"]}
    for path, digest in listed.items():
        assert hashlib.sha256(tree[path]).hexdigest() == digest, path


def test_sample_quota_matches_the_reference(outputs):
    # technology.cbi: 5 packs, 3 static agents (the reference's worked example and the real Jiro figure)
    quota = yaml.safe_load(outputs["sample-fleet"]["technology.cbi/k8s/resourcequota.yaml"])
    assert quota["spec"]["hard"] == {"pods": "11", "requests.cpu": "13900m", "requests.memory": "50432Mi",
                                     "limits.cpu": "26800m", "limits.memory": "50432Mi"}


# --- what each extra case pins ---------------------------------------------------------------

def _yaml(tree, path):
    return yaml.safe_load(tree[path])


def _model(tree, name):
    return json.loads(tree[f"{name}/model.json"])


def test_profiles_layering(outputs):
    tree = outputs["profiles"]
    big = _model(tree, "science.bigdata")
    assert big["profiles"] == ["science", "science-large"]
    assert big["deployment"]["cluster"] == "big" and big["deployment"]["host"] == "ci.science.example.org"
    assert big["jenkins"]["agentConnectionTimeout"] == 600  # the later profile wins
    assert big["jenkins"]["theme"] == "light"  # from the first profile, untouched by the second
    assert big["jenkins"]["timezone"] == "Europe/Berlin"  # the instance file
    plugins = tree["science.bigdata/image/plugins.txt"].decode().split()
    # catalog + both profiles + instance; a plugin listed again by a later layer keeps one entry
    assert {"configuration-as-code", "copyartifact", "gradle"} <= set(plugins)
    assert len([p for p in plugins if p.split(":")[0] == "jacoco"]) == 1
    gpu = [t for t in big["agents"]["podTemplates"] if t["name"] == "gpu"]
    assert len(gpu) == 1 and gpu[0]["image"] == "docker.io/example/gpu-agent:2" and gpu[0]["labels"] == ["gpu", "cuda"]
    leads = [e for e in big["jenkins"]["permissions"] if e["name"] == "science-leads"]
    assert leads == [{"kind": "group", "name": "science-leads", "permissions": ["Job/Build", "Job/Configure"]}]

    small = _model(tree, "science.small")
    assert small["profiles"] == ["science"]
    assert small["jenkins"]["theme"] == "dark" and small["jenkins"]["agentConnectionTimeout"] == 300
    assert [t["image"] for t in small["agents"]["podTemplates"] if t["name"] == "gpu"] == ["docker.io/example/gpu-agent:1"]

    plain = _model(tree, "tools.plain")
    assert plain["profiles"] == [] and plain["deployment"]["cluster"] == "main"
    assert [t["name"] for t in plain["agents"]["podTemplates"]] == ["basic"]


def test_jcasc_override_merge(outputs):
    tree = outputs["jcasc-override"]
    jcasc = _yaml(tree, "modeling.merge/jenkins/jenkins.yaml")
    # maps merge key by key: generated keys survive next to the override's
    assert jcasc["unclassified"]["location"]["adminAddress"] == "modeling-admins@example.org"
    assert jcasc["unclassified"]["location"]["url"] == "https://ci.example.org/merge/"
    assert jcasc["unclassified"]["buildDiscarders"] == {"configuredBuildDiscarders": ["jobBuildDiscarder"]}
    assert jcasc["jenkins"]["quietPeriod"] == 10
    assert "clouds" in jcasc["jenkins"] and "securityRealm" in jcasc["jenkins"]
    # scalars and lists replace: the generated static node is gone, only the override's remains
    assert jcasc["jenkins"]["systemMessage"] == "From the override: ${NOT_EXPANDED_HERE}"
    assert [n["permanent"]["name"] for n in jcasc["jenkins"]["nodes"]] == ["promotion-vm"]
    # the ConfigMap carries exactly the merged file
    cm = _yaml(tree, "modeling.merge/k8s/configmap-jenkins-config.yaml")
    assert cm["data"]["jenkins.yaml"].encode() == tree["modeling.merge/jenkins/jenkins.yaml"]
    assert tree["modeling.merge/jenkins/jenkins.yaml"].startswith(
        b"# Generated by jenkins-fleet from modeling.merge/instance.yaml and modeling.merge/jenkins.yaml.")


def test_naming_overrides(outputs):
    tree = outputs["naming"]
    alpha, beta, gamma = (_model(tree, f"technology.{n}")["deployment"] for n in ("alpha", "beta", "gamma"))
    assert (alpha["namespace"], alpha["prefix"], alpha["url"]) == ("alpha-ci", "/alpha-ci", "https://ci.example.org/alpha-ci")
    assert (beta["namespace"], beta["prefix"], beta["url"]) == ("beta-jenkins", "", "https://beta.example.org")
    assert (gamma["namespace"], gamma["prefix"], gamma["url"]) == ("gamma", "/projects/gamma",
                                                                   "https://ci.example.org/projects/gamma")
    for name, dep in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        for file in ("namespace", "resourcequota", "statefulset", "route", "rolebinding"):
            obj = _yaml(tree, f"technology.{name}/k8s/{file}.yaml")
            ns = obj["metadata"]["name"] if file == "namespace" else obj["metadata"]["namespace"]
            assert ns == dep["namespace"], (name, file)
    route = _yaml(tree, "technology.beta/k8s/route.yaml")
    assert route["spec"]["host"] == "beta.example.org" and "path" not in route["spec"]
    assert _yaml(tree, "technology.gamma/k8s/route.yaml")["spec"]["path"] == "/projects/gamma"
    env = {e["name"]: e["value"] for e in _yaml(tree, "technology.beta/k8s/statefulset.yaml")
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JENKINS_OPTS"] == "--httpPort=8080"
    assert _yaml(tree, "technology.beta/jenkins/jenkins.yaml")["unclassified"]["location"]["url"] == "https://beta.example.org/"


def test_path_prefix_none(outputs):
    tree = outputs["path-prefix-none"]
    dep = _model(tree, "rt.root")["deployment"]
    assert (dep["prefix"], dep["url"], dep["namespace"]) == ("", "https://ci.example.org", "root")
    sts = _yaml(tree, "rt.root/k8s/statefulset.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert sts["startupProbe"]["httpGet"]["path"] == "/login"
    cloud = _yaml(tree, "rt.root/jenkins/jenkins.yaml")["jenkins"]["clouds"][0]["kubernetes"]
    assert cloud["jenkinsUrl"] == "http://jenkins-ui.root.svc.cluster.local"
