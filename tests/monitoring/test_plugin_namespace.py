"""monitoring.prometheus.defaultNamespace: the prefix of the Prometheus plugin's own series.

The plugin names its collectors' series <namespace>_jenkins_... (jenkins_... when the namespace is
empty, as Jiro's controllers had) and matches disabled-metric entries against the full name
(prometheus-plugin 852.v317db_5d17a_b_0 BaseMetricCollector, MetricStatusChecker): the default
list of disabled metrics follows the namespace.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from fleettest import fleet_in_process
from monitoringtest import GOLDEN

from generator import fleet


def plugin_settings(tmp_path, prometheus: dict) -> dict:
    instances = os.path.join(tmp_path, "instances")
    shutil.copytree(os.path.join(GOLDEN, "servicemonitor", "instances"), instances)
    path = os.path.join(instances, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["monitoring"]["prometheus"] = prometheus
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)
    gen = fleet.generate(fleet.Paths(instances=instances), ("tools.plain",), jobs=1)
    return yaml.safe_load(gen.files["tools.plain/jenkins/jenkins.yaml"])["unclassified"]["prometheusConfiguration"]


def disabled(settings: dict) -> list:
    return [next(iter(e.values())) for e in settings["disabledMetricConfig"]["entries"]]


@pytest.mark.parametrize("namespace, prefix", [("default", "default_"), ("", ""), ("ci", "ci_")])
def test_the_default_disabled_metrics_follow_the_namespace(tmp_path, namespace, prefix):
    settings = plugin_settings(tmp_path, {"defaultNamespace": namespace})
    assert settings["defaultNamespace"] == namespace
    assert disabled(settings) == [
        {"regex": f"{prefix}jenkins_builds_last_.*"}, {"regex": f"{prefix}jenkins_builds_.*_summary"},
        {"metricName": f"{prefix}jenkins_builds_health_score"},
        {"metricName": f"{prefix}jenkins_builds_discard_active"},
        {"metricName": f"{prefix}jenkins_builds_available_builds_count"}]


def test_a_list_of_ones_own_is_kept_as_written(tmp_path):
    settings = plugin_settings(tmp_path, {"defaultNamespace": "", "disabledMetrics": [{"regex": "jvm_.*"}]})
    assert settings["defaultNamespace"] == "" and disabled(settings) == [{"regex": "jvm_.*"}]


def test_a_namespace_that_is_no_metric_name_prefix_is_refused(tmp_path):
    instances = os.path.join(tmp_path, "instances")
    shutil.copytree(os.path.join(GOLDEN, "servicemonitor", "instances"), instances)
    with open(os.path.join(instances, "tools.plain", "instance.yaml"), "a", encoding="utf-8") as fh:
        fh.write("monitoring:\n  prometheus:\n    defaultNamespace: my-ci\n")
    run = fleet_in_process(["--instances", instances, "validate"], tmp_path)
    assert run.code == 1
    assert "monitoring.prometheus.defaultNamespace" in run.stderr and "a Prometheus name prefix" in run.stderr
