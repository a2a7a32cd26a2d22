"""`fleet deploy` end to end with the real kubectl against the API-server doubles (and a real cluster
when FLEET_TEST_KUBECONFIG is set, for the tests taking `kube_target`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import fleettest
import pytest

from .conftest import KUBECTL, TOKENS, rows

SELECTION = ("technology.cbi", "ee4j.jersey", "iot.4diac")  # two clusters, canary + one wave of two


def read(path) -> str:
    with open(path) as fh:
        return fh.read()


def report(workdir, name="report.json") -> dict:
    with open(os.path.join(workdir, name)) as fh:
        return json.load(fh)


def by_name(rep: dict) -> dict[str, dict]:
    return {i["name"]: i for i in rep["instances"]}


def edit_instance(workdir, name: str, old: str, new: str) -> None:
    path = os.path.join(workdir, "instances", name, "instance.yaml")
    text = read(path)
    assert old in text, text
    fleettest.write(path, text.replace(old, new, 1))
    run = fleettest.fleet_subprocess(["generate", name], workdir)
    assert run.code == 0, run.stderr


def test_deploys_in_dependency_order_then_nothing_changes(kube_target, deploy, workdir):
    run = deploy(kube_target, *SELECTION, "--canary", "technology.cbi", "--wave-size", "2", "--timeout", "60",
                 "--report", "report.json")
    assert run.code == 0, run.all
    table = rows(run.out)
    assert {n: (r[1], r[2]) for n, r in table.items()} == {
        "technology.cbi": ("1", "applied"), "ee4j.jersey": ("2", "applied"), "iot.4diac": ("2", "applied")}
    assert "canary: technology.cbi\nwave 2: ee4j.jersey, iot.4diac" in run.err
    rep = by_name(report(workdir))
    assert rep["technology.cbi"]["objectsChanged"][0] == "Namespace/cbi"
    assert rep["technology.cbi"]["objectsChanged"][-1] == "StatefulSet/jenkins"
    assert rep["technology.cbi"]["rolloutSeconds"] is not None
    if kube_target.kind == "double":
        d1 = kube_target.double("okd-c1")
        patches = [p.split("?")[0].rsplit("/", 2)[-2:] for m, p in d1.log if m == "PATCH" and "dryRun" not in p
                   and "/cbi" in p]
        assert [kind for kind, _ in patches] == ["namespaces", "resourcequotas", "limitranges", "serviceaccounts",
                                                 "serviceaccounts",
                                                 "roles", "rolebindings", "configmaps", "services", "services",
                                                 "routes", "servicemonitors", "statefulsets"]
        sts = d1.get("StatefulSet", "cbi", "jenkins")
        assert [m["manager"] for m in sts["metadata"]["managedFields"]] == ["jenkins-fleet"]
        sha = json.loads(read(os.path.join(workdir, "build", "fleet.json")))["instances"]["technology.cbi"]["files"]
        assert sts["metadata"]["annotations"]["jenkins-fleet.io/source-sha256"] == sha["k8s/statefulset.yaml"]
        assert d1.get("ConfigMap", "cbi", "jenkins-config")["data"]["jenkins.yaml"].startswith("# Generated")
        for d in (d1, kube_target.double("okd-c2")):
            d.log.clear()
    again = deploy(kube_target, *SELECTION, "--report", "report.json")
    assert again.code == 0, again.all
    assert {n: r[2] for n, r in rows(again.out).items()} == dict.fromkeys(SELECTION, "unchanged")
    assert "3 instances: 3 unchanged; 0 waves" in again.err
    if kube_target.kind == "double":
        # a no-op deploy reads each cluster once (discovery aside) and writes nothing
        for d in (kube_target.double("okd-c1"), kube_target.double("okd-c2")):
            reads = [p for m, p in d.log if not p.startswith(("/api?", "/apis?", "/openapi"))]
            assert len(reads) == 11 and all(m == "GET" for m, p in d.log), d.log


def test_dry_run_changes_nothing(kube_target, deploy, workdir):
    run = deploy(kube_target, "technology.cbi", "--dry-run", "--report", "report.json")
    assert run.code == 0, run.all
    rep = report(workdir)
    assert rep["dryRun"] is True
    assert by_name(rep)["technology.cbi"]["notes"] == ["namespace cbi does not exist yet: only it was checked"]
    assert "dry run: 1 instance: 1 applied" in run.err
    if kube_target.kind == "double":
        d1 = kube_target.double("okd-c1")
        assert d1.names("Namespace") == [] and d1.names("StatefulSet") == []
        assert all("dryRun=All" in p for m, p in d1.log if m == "PATCH")


def test_configmap_only_change_says_how_it_takes_effect(cluster, deploy, workdir):
    assert deploy(cluster, "technology.cbi").code == 0
    edit_instance(workdir, "technology.cbi", "Job/Read, Job/Build]", "Job/Read, Job/Build, Job/Cancel]")
    run = deploy(cluster, "technology.cbi", "--report", "report.json")
    assert run.code == 0, run.all
    rep = report(workdir)
    cbi = by_name(rep)["technology.cbi"]
    assert "ConfigMap/jenkins-config" in cbi["objectsChanged"] and "StatefulSet/jenkins" not in cbi["objectsChanged"]
    assert cbi["jcasc"] == "reload-needed" and rep["jcasc"] == "printed"
    assert rep["reloadNeeded"] == ["technology.cbi"]
    assert "  fleet push --reload technology.cbi" in run.err


def test_conflict_is_reported_per_object_and_changes_nothing(cluster, deploy, workdir):
    assert deploy(cluster, "technology.cbi", "iot.4diac", "--canary", "technology.cbi").code == 0
    d1 = cluster.double("okd-c1")
    d1.update("ConfigMap", "cbi", "jenkins-config", {("data", "jenkins.yaml"): "edited by hand\n"})
    rv = d1.get("ConfigMap", "cbi", "jenkins-config")["metadata"]["resourceVersion"]
    run = deploy(cluster, "technology.cbi", "iot.4diac", "--all", "--canary", "technology.cbi",
                 "--report", "report.json")
    assert run.code == 3, run.all
    cbi = by_name(report(workdir))["technology.cbi"]
    assert cbi["result"] == "failed"
    assert cbi["conflicts"] == [{"object": "ConfigMap/jenkins-config", "field": ".data.jenkins.yaml",
                                 "manager": '"kubectl-edit" using v1'}]
    assert ('technology.cbi: error: dry run: conflict on ConfigMap/jenkins-config: .data.jenkins.yaml (owned by '
            '"kubectl-edit" using v1)') in run.err
    assert by_name(report(workdir))["iot.4diac"]["result"] == "not attempted"
    assert d1.get("ConfigMap", "cbi", "jenkins-config")["metadata"]["resourceVersion"] == rv  # untouched
    forced = deploy(cluster, "technology.cbi", "--all", "--force-conflicts")
    assert forced.code == 0, forced.all
    cm = d1.get("ConfigMap", "cbi", "jenkins-config")
    assert cm["data"]["jenkins.yaml"].startswith("# Generated")
    assert [m["manager"] for m in cm["metadata"]["managedFields"]] == ["jenkins-fleet"]


def test_rollout_that_fails_in_the_canary_stops_the_deployment(cluster, deploy, workdir):
    cluster.double("okd-c1").set_rollout("cbi", "fail")
    run = deploy(cluster, *SELECTION, "--canary", "technology.cbi", "--timeout", "2", "--report", "report.json")
    assert run.code == 3, run.all
    rep = report(workdir)
    cbi = by_name(rep)["technology.cbi"]
    assert cbi["result"] == "failed" and cbi["wave"] == 1
    assert cbi["reason"].startswith("rollout: StatefulSet/jenkins not ready within 2s")
    assert "pod jenkins-0 container jenkins: CrashLoopBackOff" in cbi["reason"]
    assert {n: i["result"] for n, i in by_name(rep).items() if n != "technology.cbi"} == {
        "ee4j.jersey": "not attempted", "iot.4diac": "not attempted"}
    assert rep["stoppedAfterWave"] == 1
    assert cluster.double("okd-c2").names("Namespace") == []  # no later wave touched a cluster


def test_rollout_that_never_gets_ready_times_out(cluster, deploy, workdir):
    cluster.double("okd-c1").set_rollout("cbi", "never")
    run = deploy(cluster, "technology.cbi", "--timeout", "1", "--report", "report.json")
    assert run.code == 3
    reason = by_name(report(workdir))["technology.cbi"]["reason"]
    assert reason.startswith("rollout: StatefulSet/jenkins not ready within 1s (Waiting for 1 pods to be ready...)")


def test_slow_rollout_is_waited_for(cluster, deploy, workdir):
    cluster.double("okd-c1").set_rollout("cbi", "ready", delay=1.2)
    run = deploy(cluster, "technology.cbi", "--timeout", "20", "--report", "report.json")
    assert run.code == 0, run.all
    assert by_name(report(workdir))["technology.cbi"]["rolloutSeconds"] >= 1.0


def test_unreachable_cluster(cluster, deploy, workdir):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = read(cluster.kubeconfig)
    fleettest.write(cluster.kubeconfig, text.replace(cluster.servers["okd-c2"].url, f"https://127.0.0.1:{port}"))
    run = deploy(cluster, *SELECTION, "--report", "report.json")
    assert run.code == 3, run.all
    rep = by_name(report(workdir))
    assert rep["ee4j.jersey"]["result"] == "failed"
    assert rep["ee4j.jersey"]["reason"].startswith("cluster okd-c2 (context okd-c2): unreachable: ")
    assert "was refused - did you specify the right host or port?" in rep["ee4j.jersey"]["reason"]
    assert {rep[n]["result"] for n in ("technology.cbi", "iot.4diac")} == {"not attempted"}
    assert cluster.double("okd-c1").names("Namespace") == []


@pytest.mark.parametrize("state", ["expired", "forbidden"])
def test_rejected_credentials(cluster, deploy, workdir, state):
    cluster.double("okd-c1").auth = state
    run = deploy(cluster, "technology.cbi", "--report", "report.json")
    assert run.code == 3, run.all
    reason = by_name(report(workdir))["technology.cbi"]["reason"]
    if state == "expired":
        assert reason == ("cluster okd-c1 (context okd-c1): unauthorized: the cluster refused the credentials of the "
                          "kubeconfig context (401 Unauthorized: expired or wrong token?)")
    else:
        assert reason == ('apply: forbidden: Namespace/cbi: Error from server (Forbidden): namespaces "cbi" is '
                          'forbidden: User "system:serviceaccount:fleet:deployer" cannot patch resource "namespaces" '
                          'in API group "" at the cluster scope')
    for token in TOKENS.values():
        assert token not in json.dumps(report(workdir))


def test_server_text_is_escaped(cluster, deploy, workdir):
    cluster.double("okd-c1").user = "evil\x1b[31mred\x07"
    cluster.double("okd-c1").auth = "forbidden"
    run = deploy(cluster, "technology.cbi")
    assert run.code == 3
    assert "\x1b" not in run.all and "\x07" not in run.all
    assert "evil\\x1b[31mred\\x07" in run.err


def test_diff_shows_drift_field_by_field(kube_target, deploy, workdir):
    assert deploy(kube_target, "technology.cbi").code == 0
    in_sync = deploy(kube_target, "technology.cbi", "--diff")
    assert in_sync.code == 0, in_sync.all
    assert "1 instance: 0 drifted, 0 could not be compared, 1 in sync" in in_sync.err
    if kube_target.kind != "double":
        return
    d1 = kube_target.double("okd-c1")
    d1.update("StatefulSet", "cbi", "jenkins", {("spec", "replicas"): 0}, manager="kubectl-scale")
    d1.update("ResourceQuota", "cbi", "jenkins-instance-quota", {("spec", "hard", "pods"): "20"})
    run = deploy(kube_target, "technology.cbi", "--diff", "--report", "drift.json")
    assert run.code == 1, run.all
    assert run.out.splitlines() == [
        "~ technology.cbi (okd-c1, namespace cbi): 2 objects drifted",
        "    ~ ResourceQuota/jenkins-instance-quota: differs",
        '        ~ spec.hard.pods: "20" -> "11"',
        "    ~ StatefulSet/jenkins: differs",
        "        ~ spec.replicas: 0 -> 1",
    ]
    rep = report(workdir, "drift.json")
    assert rep["drifted"] == 1 and rep["instances"][0]["objects"][1]["fields"] == [
        {"kind": "changed", "path": "spec.replicas", "old": 0, "new": 1}]


def test_prunes_objects_and_reports_removed_instances(cluster, deploy, workdir):
    assert deploy(cluster, "technology.cbi", "iot.4diac", "--canary", "technology.cbi").code == 0
    d1 = cluster.double("okd-c1")
    labels = d1.get("ConfigMap", "cbi", "jenkins-config")["metadata"]["labels"]
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old-settings", "namespace": "cbi",
                                                                  "labels": labels}, "data": {"a": "b"}}
    import yaml
    assert d1.apply(__import__("kube_double.resources", fromlist=["by_kind"]).by_kind("v1", "ConfigMap"), "cbi",
                    "old-settings", yaml.safe_dump(extra).encode(), "jenkins-fleet", False, False)[0] == 201
    # iot.4diac leaves the fleet
    import shutil
    shutil.rmtree(os.path.join(workdir, "instances", "iot.4diac"))
    assert fleettest.fleet_subprocess(["generate"], workdir).code == 0
    run = deploy(cluster, "--cluster", "okd-c1", "--report", "report.json", "--timeout", "30")
    assert run.code == 0, run.all
    cbi = by_name(report(workdir))["technology.cbi"]
    assert cbi["pruned"] == ["ConfigMap/old-settings"]
    assert d1.get("ConfigMap", "cbi", "old-settings") is None
    full = deploy(cluster, "--report", "report.json", "--timeout", "30")
    assert full.code == 0, full.all
    assert ("removed instance: iot.4diac on okd-c1, namespace 4diac: ConfigMap/jenkins-config, LimitRange/"
            "jenkins-instance-limit-range") in full.err
    assert "(delete with --prune --yes)" in full.err
    assert d1.get("Namespace", None, "4diac") is not None
    pruned = deploy(cluster, "--prune", "--yes", "--report", "report.json", "--timeout", "30")
    assert pruned.code == 0, pruned.all
    assert report(workdir)["removedInstances"][0]["action"] == "deleted"
    assert d1.get("Namespace", None, "4diac") is None and d1.get("StatefulSet", "4diac", "jenkins") is None


def test_refuses_a_stale_build_and_an_unknown_cluster(cluster, deploy, workdir):
    path = os.path.join(workdir, "instances", "technology.cbi", "instance.yaml")
    fleettest.write(path, read(path).replace("staticAgentCount: 3", "staticAgentCount: 1"))
    run = deploy(cluster, "technology.cbi")
    assert run.code == 1
    assert run.err.startswith("instances/technology.cbi/instance.yaml: error: changed since build/ was generated\n"
                              "  hint: run 'fleet generate', then deploy")
    fleettest.write(path, read(path).replace("staticAgentCount: 1", "staticAgentCount: 3"))
    bad = deploy(cluster, "--cluster", "okd-c9")
    assert bad.code == 1
    assert "instances/fleet.yaml: error: clusters: --cluster okd-c9: no such cluster in fleet.yaml" in bad.err
    assert cluster.double("okd-c1").log == []


def test_kubectl_binary_and_context_come_from_fleet_yaml(cluster, deploy, workdir, tmp_path):
    # a wrapper recording its arguments stands for `oc`: deploy.kubectl names it, kubeContext the context
    log = tmp_path / "calls"
    wrapper = tmp_path / "oc"
    wrapper.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\nexec {KUBECTL} \"$@\"\n")
    wrapper.chmod(0o755)
    text = read(cluster.kubeconfig).replace('"okd-c1"', '"admin@c1"')
    fleettest.write(cluster.kubeconfig, text)
    fleet_yaml = os.path.join(workdir, "instances", "fleet.yaml")
    fleettest.write(fleet_yaml, read(fleet_yaml).replace(
        "  - name: okd-c1\n", "  - name: okd-c1\n    kubeContext: admin@c1\n").replace(
        "clusters:\n", f"deploy:\n  kubectl: {wrapper}\nclusters:\n", 1))
    assert fleettest.fleet_subprocess(["generate"], workdir).code == 0
    run = deploy(cluster, "technology.cbi", env={"FLEET_KUBECTL": None})
    assert run.code == 0, run.all
    calls = log.read_text().splitlines()
    assert calls and all(c.startswith("--context=admin@c1 --request-timeout=30s ") for c in calls)
    assert not any("token" in c for c in calls)


def test_ctrl_c_between_waves_stops_and_writes_the_report(cluster, workdir, tmp_path_factory):
    cluster.double("okd-c1").set_rollout("cbi", "ready", delay=2.5)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "KUBE"))}
    env.update(KUBECONFIG=cluster.kubeconfig, KUBECACHEDIR=str(tmp_path_factory.mktemp("kc")),
               FLEET_KUBECTL=KUBECTL, NO_COLOR="1", PYTHONPATH=fleettest.ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "generator", "deploy", *SELECTION, "--canary", "technology.cbi",
                             "--report", "report.json"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    d1 = cluster.double("okd-c1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("statefulsets" in p and "watch=true" in p for _, p in d1.log):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    rep = report(workdir)
    assert rep["interrupted"] is True
    results = {i["name"]: (i["result"], i["reason"]) for i in rep["instances"]}
    assert results == {"technology.cbi": ("failed", "interrupted"),
                       "ee4j.jersey": ("not attempted", "interrupted before it started"),
                       "iot.4diac": ("not attempted", "interrupted before it started")}
    assert cluster.double("okd-c2").names("Namespace") == []
    assert d1.names("Namespace") == [(None, "cbi")]


def test_audit_reads_the_live_quotas_through_kubectl(cluster, deploy, workdir):
    assert deploy(cluster, "technology.cbi").code == 0
    cluster.double("okd-c1").update("ResourceQuota", "cbi", "jenkins-instance-quota", {("spec", "hard", "pods"): "20"})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "KUBE"))}
    env.update(KUBECONFIG=cluster.kubeconfig, FLEET_KUBECTL=KUBECTL, NO_COLOR="1", PYTHONPATH=fleettest.ROOT)
    proc = subprocess.run([sys.executable, "-m", "generator", "audit", "technology.cbi", "--build", "build",
                           "--live-cluster", "okd-c1", "--format", "json"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    live = json.loads(proc.stdout)["live"]
    assert live["instances"] == [{"name": "technology.cbi", "cluster": "okd-c1", "namespace": "cbi", "status": "drift",
                                  "differences": [{"object": "ResourceQuota/jenkins-instance-quota",
                                                   "field": "spec.hard.pods", "expected": "11", "actual": "20"}]}]
    assert live["clusters"] == [{"name": "okd-c1", "file": "kubectl --context=okd-c1", "matchedBy": "argument"}]
    bad = subprocess.run([sys.executable, "-m", "generator", "audit", "--build", "build", "--live-cluster", "okd-c9"],
                         cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and "--live-cluster: no cluster 'okd-c9' in fleet.yaml" in bad.stderr
