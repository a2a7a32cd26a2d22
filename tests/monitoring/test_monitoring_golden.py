"""Golden trees for the monitoring output: the scrape objects, the JCasC part, the rules file.

tests/monitoring/golden/<case>/instances is a small fleet; <case>/expected holds, per
instance, the generated files monitoring touches (servicemonitor.yaml when there is one,
service-jenkins-ui.yaml, kustomization.yaml, plugins.txt) and `jenkins/prometheus.yaml`,
the `unclassified.prometheusConfiguration` part of its jenkins.yaml; at the top,
the monitoring/*.rules.yaml files (when written) and `fleet-index.json`, the fleet-level
entry of fleet.json. FLEET_UPDATE_GOLDEN=1 rewrites the expected trees (review the diff).
Each case also asserts what it pins on the parsed output.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import yaml
from fleettest import UPDATE, read_tree, replace_tree, tree_diff
from monitoringtest import GOLDEN

from generator.output import dump_json, dump_yaml

KEPT = ("k8s/servicemonitor.yaml", "k8s/service-jenkins-ui.yaml", "k8s/kustomization.yaml", "image/plugins.txt")
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d, "instances")))


def monitoring_view(tree: dict[str, bytes]) -> dict[str, bytes]:
    index = json.loads(tree["fleet.json"])
    view = {"fleet-index.json": dump_json(index.get("fleet")).encode()}
    for path, data in tree.items():
        name, _, rel = path.partition("/")
        if path.startswith("monitoring/") or (name in index["instances"] and rel in KEPT):
            view[path] = data
        if name in index["instances"] and rel == "jenkins/jenkins.yaml":
            part = (yaml.safe_load(data).get("unclassified") or {}).get("prometheusConfiguration")
            view[f"{name}/jenkins/prometheus.yaml"] = (
                dump_yaml({"prometheusConfiguration": part}, sort_keys=False) if part is not None
                else "# no prometheusConfiguration: monitoring is off\n").encode()
    return view


@pytest.mark.parametrize("case", CASES)
def test_golden(case, golden_outputs):
    actual = monitoring_view(golden_outputs[case])
    expected_dir = os.path.join(GOLDEN, case, "expected")
    if UPDATE:
        replace_tree(expected_dir, actual)
        return
    assert os.path.isdir(expected_dir), f"no golden tree at {expected_dir}: run make update-golden"
    report = tree_diff(actual, read_tree(expected_dir), label=f"monitoring/golden/{case}/expected")
    if report:
        pytest.fail("generated monitoring output differs from the golden tree\n" + report, pytrace=False)


# --- what each case pins ------------------------------------------------------------------------

def _yaml(tree, path):
    return yaml.safe_load(tree[path])


def _prometheus(tree, name):
    return (_yaml(tree, f"{name}/jenkins/jenkins.yaml").get("unclassified") or {}).get("prometheusConfiguration")


def test_service_monitor_case(golden_outputs):
    tree = golden_outputs["servicemonitor"]
    sm = _yaml(tree, "tools.plain/k8s/servicemonitor.yaml")
    assert (sm["apiVersion"], sm["kind"], sm["metadata"]["namespace"]) == ("monitoring.coreos.com/v1",
                                                                          "ServiceMonitor", "plain")
    # the fleet's extra labels reach the ServiceMonitor (Prometheus' serviceMonitorSelector)
    assert {"release": "kube-prometheus", "team": "releng"}.items() <= sm["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"] == [{"port": "http", "scheme": "http", "path": "/plain/prometheus/",
                                        "interval": "30s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["plain"]}
    # the selector matches the jenkins-ui Service and only it (jenkins-discovery has the same app labels)
    ui = _yaml(tree, "tools.plain/k8s/service-jenkins-ui.yaml")["metadata"]["labels"]
    discovery = _yaml(tree, "tools.plain/k8s/service-jenkins-discovery.yaml")["metadata"]["labels"]
    selector = sm["spec"]["selector"]["matchLabels"]
    assert selector.items() <= ui.items() and not selector.items() <= discovery.items()
    assert "annotations" not in _yaml(tree, "tools.plain/k8s/service-jenkins-ui.yaml")["metadata"]
    assert _yaml(tree, "tools.plain/k8s/kustomization.yaml")["resources"][-1] == "servicemonitor.yaml"
    plain = _prometheus(tree, "tools.plain")
    assert plain["path"] == "prometheus" and plain["collectingMetricsPeriodInSeconds"] == 30
    assert plain["defaultNamespace"] == "default" and plain["perBuildMetrics"] is False
    disabled = plain["disabledMetricConfig"]["entries"]
    assert {"regexDisabledMetric": {"regex": "default_jenkins_builds_last_.*"}} in disabled
    # instance overrides: path (and so the scrape path), period; its disabled list replaces the fleet's
    tuned = _prometheus(tree, "tools.tuned")
    assert tuned["path"] == "metrics/prometheus" and tuned["collectingMetricsPeriodInSeconds"] == 15
    assert tuned["disabledMetricConfig"]["entries"] == [
        {"regexDisabledMetric": {"regex": "default_jenkins_builds_.*"}},
        {"namedDisabledMetric": {"metricName": "default_jenkins_nodes_online"}}]
    assert _yaml(tree, "tools.tuned/k8s/servicemonitor.yaml")["spec"]["endpoints"][0]["path"] == \
        "/tuned/metrics/prometheus/"
    # served at the host's root: the metrics too
    assert _yaml(tree, "tools.root/k8s/servicemonitor.yaml")["spec"]["endpoints"][0]["path"] == "/prometheus/"
    # the profile turns monitoring off: no ServiceMonitor, no plugin configuration, no marker label
    assert "sandbox.off/k8s/servicemonitor.yaml" not in tree
    assert _prometheus(tree, "sandbox.off") is None
    assert "servicemonitor.yaml" not in _yaml(tree, "sandbox.off/k8s/kustomization.yaml")["resources"]
    ui_service = _yaml(tree, "sandbox.off/k8s/service-jenkins-ui.yaml")
    assert "jenkins-fleet.io/metrics" not in ui_service["metadata"]["labels"]
    # the catalog's pin of the plugin wins over the one monitoring adds
    assert "prometheus:819.v50953a_c560dd" in tree["tools.plain/image/plugins.txt"].decode().split()
    # the ConfigMap carries the same JCasC
    cm = _yaml(tree, "tools.tuned/k8s/configmap-jenkins-config.yaml")
    assert cm["data"]["jenkins.yaml"].encode() == tree["tools.tuned/jenkins/jenkins.yaml"]


def test_annotations_case(golden_outputs):
    tree = golden_outputs["annotations"]
    assert not [p for p in tree if p.endswith("servicemonitor.yaml")]
    meta = _yaml(tree, "rt.annotated/k8s/service-jenkins-ui.yaml")["metadata"]
    assert meta["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/scheme": "http",
                                   "prometheus.io/port": "8080", "prometheus.io/path": "/annotated/prometheus/"}
    # the catalog of 2.541.3 lacks the plugin: monitoring adds it; an instance pin is kept as is
    assert "prometheus" in tree["rt.annotated/image/plugins.txt"].decode().split()
    optin = tree["rt.optin/image/plugins.txt"].decode().split()
    assert "prometheus:2.0.0" in optin and "prometheus" not in optin
    # default thresholds
    rules = {r["alert"]: r for r in _yaml(tree, "monitoring/jenkins-fleet.rules.yaml")["groups"][0]["rules"]}
    assert rules["JenkinsControllerDown"]["for"] == "5m" and rules["JenkinsQuotaBottleneck"]["for"] == "15m"


def test_disabled_case(golden_outputs):
    tree = golden_outputs["disabled"]
    index = json.loads(tree["fleet.json"])
    assert "fleet" not in index and not [p for p in tree if p.startswith("monitoring/")]
    assert _prometheus(tree, "iot.off") is None and "iot.off/k8s/servicemonitor.yaml" not in tree
    assert json.loads(tree["iot.off/model.json"])["monitoring"] == {"enabled": False}
    assert "prometheus" not in tree["iot.off/image/plugins.txt"].decode().split()
    # an instance may opt in alone: built-in defaults (ServiceMonitor, 60 s, the per-job metrics off)
    assert _prometheus(tree, "iot.self")["collectingMetricsPeriodInSeconds"] == 60
    assert _yaml(tree, "iot.self/k8s/servicemonitor.yaml")["spec"]["endpoints"][0]["interval"] == "60s"


def test_rules_file_is_indexed_with_its_hash(golden_outputs):
    tree = golden_outputs["servicemonitor"]
    index = json.loads(tree["fleet.json"])
    files = index["fleet"]["files"]
    assert list(files) == ["monitoring/controllers-main.rules.yaml", "monitoring/jenkins-fleet.rules.yaml"]
    for rel, digest in files.items():
        assert digest == hashlib.sha256(tree[rel]).hexdigest()
    # every generated file is listed: per instance, or fleet-level
    listed = {f"{n}/{rel}" for n, e in index["instances"].items() for rel in e["files"]} | set(files)
    assert listed == set(tree) - {"fleet.json"}
