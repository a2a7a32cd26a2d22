"""The API-server double against recorded kube-apiserver answers (tests/fixtures/kube-api, see
SOURCES.md there) and against what the real kubectl 1.37 does with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from . import KubeDouble, KubeServer, make_certificate, resources, write_kubeconfig
from . import apply as ssa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "kube-api")
KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable))


def fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, name)) as fh:
        return json.load(fh)


def test_core_resources_are_listed_as_the_recorded_api_v1():
    recorded = {r["name"]: r for r in fixture("api__v1.subset.json")["resources"]}
    ours = {r["name"]: r for r in resources.legacy_resource_list("v1")["resources"]}
    assert set(ours) == set(recorded)
    for name, entry in recorded.items():
        expected = {k: v for k, v in entry.items() if k != "storageVersionHash"}
        assert ours[name] == expected, name


def test_statefulsets_are_discovered_as_the_recorded_aggregated_document():
    recorded = fixture("aggregated_v2.apps.json")["items"][0]
    ours = next(i for i in resources.aggregated(core=False)["items"] if i["metadata"].get("name") == "apps")
    assert ours["metadata"] == recorded["metadata"]
    assert ours["versions"][0]["resources"] == recorded["versions"][0]["resources"]
    assert ours["versions"][0]["freshness"] == "Current"


def test_custom_resources_are_discovered_as_their_crds_declare():
    with open(os.path.join(ROOT, "schemas", "openshift", "routes.route.openshift.io.crd.yaml")) as fh:
        crd = yaml.safe_load(fh)
    route = resources.by_kind("route.openshift.io/v1", "Route")
    assert (route.plural, route.namespaced, route.short_names) == (
        crd["spec"]["names"]["plural"], crd["spec"]["scope"] == "Namespaced", tuple(crd["spec"]["names"].get(
            "shortNames", ())))
    smon = resources.by_kind("monitoring.coreos.com/v1", "ServiceMonitor")
    assert (smon.plural, smon.short_names, smon.categories) == ("servicemonitors", ("smon",), ("prometheus-operator",))


def test_conflict_status_has_the_apiserver_message_and_causes():
    cm = ({"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1"}, (("f", "data"), ("f", "a")))
    other = ({"manager": "helm", "operation": "Apply", "apiVersion": "v1"}, (("f", "spec"), ("f", "replicas")))
    one = ssa.conflict_status([cm])
    assert one["code"] == 409 and one["reason"] == "Conflict"
    assert one["message"] == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'
    assert one["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" '
                                                                                      "using v1", "field": ".data.a"}]
    two = ssa.conflict_status([other, cm])
    assert two["message"] == ('Apply failed with 2 conflicts: conflicts with "helm":\n- .spec.replicas\n'
                              'conflicts with "kubectl-edit" using v1:\n- .data.a')


def test_list_map_items_merge_by_key_and_paths_print_as_fieldpath_does():
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    merged = ssa.merge(live, {"spec": {"containers": [{"name": "b", "image": "2"}]}})
    assert merged["spec"]["containers"] == [{"name": "b", "image": "2"}, {"name": "a", "image": "1"}]
    path = next(p for p in ssa.leaves({"spec": {"containers": [{"name": "b", "image": "2"}]}})
                if p[-1] == ("f", "image"))
    assert ssa.path_string(path) == '.spec.containers[name="b"].image'


# --- the real kubectl against the double ------------------------------------------------------------

@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fidelity")
    cert = make_certificate(str(tmp))
    double = KubeDouble(token="fidelity-token")
    server = KubeServer(double, certificate=cert).start()
    config = write_kubeconfig(str(tmp / "kubeconfig"), {"c": (server.url, "fidelity-token")}, cert[0])
    env = {**os.environ, "KUBECONFIG": config, "KUBECACHEDIR": str(tmp / "cache")}

    def run(*args, stdin: str | None = None):
        return subprocess.run([KUBECTL, "--context=c", *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=60, check=False)
    yield double, run
    server.stop()


NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: t}\n---\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: t}\ndata: {k: %s}\n"


def test_kubectl_discovers_and_applies_with_strict_server_validation(kube):
    double, run = kube
    double.reset()
    done = run("apply", "--server-side", "--field-manager=jenkins-fleet", "-f", "-", "-o", "name", stdin=NS + CM % "v1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["namespace/t", "configmap/c"]
    patches = [p for m, p in double.log if m == "PATCH"]
    assert patches == ["/api/v1/namespaces/t?fieldManager=jenkins-fleet&fieldValidation=Strict&force=false",
                       "/api/v1/namespaces/t/configmaps/c?fieldManager=jenkins-fleet&fieldValidation=Strict&force=false"]
    assert ("GET", "/api?timeout=32s") in double.log and ("GET", "/openapi/v3?timeout=32s") in double.log
    cm = double.get("ConfigMap", "t", "c")
    assert cm["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:k": {}}}
    assert double.get("Namespace", None, "t")["metadata"]["labels"] == {"kubernetes.io/metadata.name": "t"}


def test_kubectl_reports_a_conflict_and_force_takes_the_field(kube):
    double, run = kube
    double.reset()
    ours = run("apply", "--server-side", "--field-manager=jenkins-fleet", "-f", "-", stdin=NS + CM % "v1")
    assert ours.returncode == 0
    other = run("apply", "--server-side", "--field-manager=other", "-f", "-", stdin=CM % "v2")
    assert other.returncode == 1
    assert other.stderr.startswith('error: Apply failed with 1 conflict: conflict with "jenkins-fleet": .data.k\n'
                                   "Please review the fields above--they currently have other managers.")
    dry = run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "--dry-run=server", "-f", "-",
              stdin=CM % "v2")
    assert dry.returncode == 0 and double.get("ConfigMap", "t", "c")["data"] == {"k": "v1"}
    forced = run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", stdin=CM % "v2")
    assert forced.returncode == 0, forced.stderr
    cm = double.get("ConfigMap", "t", "c")
    assert cm["data"] == {"k": "v2"} and [m["manager"] for m in cm["metadata"]["managedFields"]] == ["other"]


STS = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s, namespace: t}
spec:
  selector: {matchLabels: {app: s}}
  serviceName: s
  template:
    metadata: {labels: {app: s}}
    spec: {containers: [{name: c, image: "i:1"}]}
"""


@pytest.mark.parametrize("mode,code,text", [
    ("ready", 0, "partitioned roll out complete: 1 new pods have been updated..."),
    ("never", 1, "error: timed out waiting for the condition"),
])
def test_kubectl_rollout_status_follows_the_statefulset(kube, mode, code, text):
    double, run = kube
    double.reset()
    double.set_rollout("t", mode, delay=0.3)
    assert run("apply", "--server-side", "--field-manager=f", "-f", "-", stdin=NS + STS).returncode == 0
    status = run("rollout", "status", "statefulset/s", "-n", "t", "--timeout=2s")
    assert status.returncode == code, status.stderr
    assert text in status.stdout + status.stderr
    assert any("watch=true" in p and "sendInitialEvents=true" in p for _, p in double.log)
    sts = double.get("StatefulSet", "t", "s")
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}


def test_kubectl_with_legacy_discovery(kube):
    double, run = kube
    double.reset()
    double.discovery = "legacy"
    done = run("get", "statefulsets.apps,configmaps", "-A", "-o", "name", "--cache-dir", "/dev/null/none")
    assert done.returncode == 0, done.stderr
    assert ("GET", "/apis/apps/v1?timeout=32s") in double.log


def test_kubectl_shows_the_apiserver_auth_answers(kube):
    double, run = kube
    double.reset()
    double.auth = "expired"
    done = run("get", "namespaces", "-o", "name")
    assert done.returncode == 1
    # "(Unauthorized)" when discovery was cached, the discovery client's wording otherwise: both for a 401
    assert done.stderr.splitlines()[-1] in ("error: You must be logged in to the server (Unauthorized)",
                                            ("error: You must be logged in to the server (the server has asked for "
                                             "the client to provide credentials)"))
    double.auth = "forbidden"
    done = run("apply", "--server-side", "--field-manager=f", "-f", "-", stdin=NS)
    assert done.returncode == 1
    assert done.stderr == ('Error from server (Forbidden): namespaces "t" is forbidden: User '
                           '"system:serviceaccount:fleet:deployer" cannot patch resource "namespaces" in API group "" '
                           "at the cluster scope\n")
