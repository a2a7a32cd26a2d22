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
    ROOT,
    SAMPLE_INSTANCES,
    UPDATE,
    fleet_in_process,
    other_warnings,
    read_tree,
    replace_tree,
    tree_diff,
)

from generator.checks import CONTROLLER_ENV

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
    gpu = [t["image"] for t in small["agents"]["podTemplates"] if t["name"] == "gpu"]
    assert gpu == ["docker.io/example/gpu-agent:1"]

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
    # default names of the objects that hold state
    sts = _yaml(tree, "technology.alpha/k8s/statefulset.yaml")
    assert (sts["metadata"]["name"], _claim(sts)) == ("jenkins", "jenkins-home-jenkins-0")
    assert _yaml(tree, "technology.alpha/k8s/route.yaml")["metadata"]["name"] == "jenkins"
    # a moved controller's names: its pod delta-0 mounts the existing claim, its Route is updated
    sts = _yaml(tree, "technology.delta/k8s/statefulset.yaml")
    assert (sts["metadata"]["name"], _claim(sts)) == ("delta", "jenkins-home-cephfs-delta-0")
    mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "jenkins-home-cephfs", "mountPath": "/var/jenkins_home"} in mounts
    assert _yaml(tree, "technology.delta/k8s/route.yaml")["metadata"]["name"] == "delta"
    env = {e["name"]: e["value"] for e in _yaml(tree, "technology.beta/k8s/statefulset.yaml")
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JENKINS_OPTS"] == "--httpPort=8080"
    assert _yaml(tree, "technology.beta/jenkins/jenkins.yaml")["unclassified"]["location"]["url"] == "https://beta.example.org/"


def _claim(sts) -> str:
    """The PersistentVolumeClaim the StatefulSet's pod 0 mounts: <claim template>-<StatefulSet>-0."""
    return f"{sts['spec']['volumeClaimTemplates'][0]['metadata']['name']}-{sts['metadata']['name']}-0"


def test_path_prefix_none(outputs):
    tree = outputs["path-prefix-none"]
    dep = _model(tree, "rt.root")["deployment"]
    assert (dep["prefix"], dep["url"], dep["namespace"]) == ("", "https://ci.example.org", "root")
    sts = _yaml(tree, "rt.root/k8s/statefulset.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert sts["startupProbe"]["httpGet"]["path"] == "/login"
    cloud = _yaml(tree, "rt.root/jenkins/jenkins.yaml")["jenkins"]["clouds"][0]["kubernetes"]
    assert cloud["jenkinsUrl"] == "http://jenkins-ui.root.svc.cluster.local"


# --- the controller pod and its agents ----------------------------------------------------------

def _templates(tree, name) -> dict:
    jcasc = _yaml(tree, f"{name}/jenkins/jenkins.yaml")
    return {t["name"]: t for t in jcasc["jenkins"]["clouds"][0]["kubernetes"]["templates"]}


def test_agents_mount_secret_keys_as_files_in_a_writable_home(outputs):
    """Each Secret key is one file (subPath) through the pod fragment; the home and each tool's
    directory are emptyDirs, so that the random UID can write ~/.m2/repository next to settings.xml."""
    from generator.manifests import validate_object

    tree = outputs["sample-fleet"]
    for name, template in _templates(tree, "technology.cbi").items():
        assert "secretVolume" not in json.dumps(template), name
        assert [v["emptyDirVolume"]["mountPath"] for v in template["volumes"]] == [
            "/home/jenkins", "/home/jenkins/.gradle", "/home/jenkins/.m2"], name
        assert (template["yamlMergeStrategy"], template["inheritYamlMergeStrategy"]) == ("merge", True), name
        pod = yaml.safe_load(template["yaml"])
        assert validate_object(pod, name, "1.30", os.path.join(ROOT, "schemas")) == []
        (jnlp,) = pod["spec"]["containers"]
        assert jnlp["name"] == "jnlp"
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: (secrets[m["name"]], m["subPath"], m["readOnly"]) for m in jnlp["volumeMounts"]}
        assert mounts == {
            "/home/jenkins/.m2/settings.xml": ("m2-secret-dir", "settings.xml", True),
            "/home/jenkins/.m2/settings-security.xml": ("m2-secret-dir", "settings-security.xml", True),
            "/home/jenkins/.gradle/gradle.properties": ("gradle-secret-dir", "gradle.properties", True),
        }, name
    # no build tool: a writable home and no fragment
    plain = _templates(tree, "science.january")["basic"]
    assert [v["emptyDirVolume"]["mountPath"] for v in plain["volumes"]] == ["/home/jenkins"]
    assert not {"yaml", "yamlMergeStrategy", "inheritYamlMergeStrategy"} & set(plain)


def test_agents_run_as_an_account_without_rights(outputs):
    tree = outputs["sample-fleet"]
    for name in ("technology.cbi", "science.january"):
        assert {t["serviceAccount"] for t in _templates(tree, name).values()} == {"jenkins-agent"}
        account = _yaml(tree, f"{name}/k8s/serviceaccount-jenkins-agent.yaml")
        assert (account["metadata"]["name"], account["automountServiceAccountToken"]) == ("jenkins-agent", False)
        binding = _yaml(tree, f"{name}/k8s/rolebinding.yaml")
        assert [s["name"] for s in binding["subjects"]] == ["jenkins"]
        assert "serviceaccount-jenkins-agent.yaml" in _yaml(tree, f"{name}/k8s/kustomization.yaml")["resources"]


def test_static_agents_connect_through_websocket(outputs):
    nodes = _yaml(outputs["sample-fleet"], "modeling.xtext/jenkins/jenkins.yaml")["jenkins"]["nodes"]
    assert [n["permanent"]["launcher"]["inbound"]["webSocket"] for n in nodes] == [True, True]


def test_ldap_bind_password_comes_from_the_fleets_secret(outputs):
    tree = outputs["sample-fleet"]
    sts = _yaml(tree, "technology.cbi/k8s/statefulset.yaml")
    env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "LDAP_MANAGER_PASSWORD"] == [{
        "name": "LDAP_MANAGER_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "jenkins-ldap", "key": "manager-password"}}}]
    ldap = _yaml(tree, "technology.cbi/jenkins/jenkins.yaml")["jenkins"]["securityRealm"]["ldap"]["configurations"][0]
    assert ldap["managerPasswordSecret"] == "${LDAP_MANAGER_PASSWORD}"
    # no managerDN: no password, no variable
    naming = outputs["naming"]
    env = _yaml(naming, "technology.alpha/k8s/statefulset.yaml")["spec"]["template"]["spec"]["containers"][0]["env"]
    # the names checks.py keeps the password's variable away from
    assert [e["name"] for e in env] == list(CONTROLLER_ENV)
    ldap = _yaml(naming, "technology.alpha/jenkins/jenkins.yaml")["jenkins"]["securityRealm"]["ldap"]
    assert "managerPasswordSecret" not in ldap["configurations"][0]


def test_selinux_level_agrees_with_the_namespace(outputs):
    """restricted-v2 admits a pod whose level is the namespace's openshift.io/sa.scc.mcs; unset, both are left
    to OpenShift."""
    tree = outputs["sample-fleet"]
    ns = _yaml(tree, "technology.cbi/k8s/namespace.yaml")
    pod = _yaml(tree, "technology.cbi/k8s/statefulset.yaml")["spec"]["template"]["spec"]
    assert ns["metadata"]["annotations"]["openshift.io/sa.scc.mcs"] == "s0:c27,c9"
    assert pod["securityContext"] == {"seLinuxOptions": {"level": "s0:c27,c9"}}
    assert "securityContext" not in pod["containers"][0]
    ns = _yaml(tree, "science.january/k8s/namespace.yaml")
    pod = _yaml(tree, "science.january/k8s/statefulset.yaml")["spec"]["template"]["spec"]
    assert "openshift.io/sa.scc.mcs" not in ns["metadata"]["annotations"] and "securityContext" not in pod
