"""Generated monitoring objects are validated offline like every other manifest."""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from fleettest import ROOT, copy_sample_fleet, fleet_in_process

from generator.manifests import validate_object

SCHEMAS = os.path.join(ROOT, "schemas")


@pytest.fixture(scope="module")
def service_monitor(golden_outputs) -> dict:
    return yaml.safe_load(golden_outputs["servicemonitor"]["tools.plain/k8s/servicemonitor.yaml"])


def test_generated_service_monitor_is_valid(service_monitor):
    assert validate_object(service_monitor, "x/k8s/servicemonitor.yaml", "1.30", SCHEMAS) == []


@pytest.mark.parametrize("change, where", [
    (lambda o: o["spec"]["endpoints"][0].update(scheme="HTTP"), "spec.endpoints.0.scheme"),
    (lambda o: o["spec"]["endpoints"][0].update(interval="one minute"), "spec.endpoints.0.interval"),
    (lambda o: o["spec"]["endpoints"][0].update(portName="http"), "spec.endpoints.0"),  # unknown field
    (lambda o: o["spec"].pop("selector"), "spec"),
    (lambda o: o["spec"].pop("endpoints"), "spec"),
    (lambda o: o["spec"]["selector"].update(matchLabels={"a": 1}), "spec.selector.matchLabels.a"),
    (lambda o: o["spec"]["namespaceSelector"].update(matchNames="cbi"), "spec.namespaceSelector.matchNames"),
    (lambda o: o.pop("spec"), ""),
])
def test_service_monitor_schema_catches_template_bugs(service_monitor, change, where):
    broken = copy.deepcopy(service_monitor)
    change(broken)
    diags = validate_object(broken, "x/k8s/servicemonitor.yaml", "1.30", SCHEMAS)
    assert diags, "the broken object passed"
    assert where in [d.key for d in diags]
    assert "ServiceMonitor CRD schema" in diags[0].context[0]


def test_generated_prometheus_jcasc_passes_the_plugin_model_and_typos_do_not(golden_outputs):
    # the model of prometheus 852.v317db_5d17a_b_0 (PrometheusConfiguration's setters, the
    # disabled-metric entries named after their classes): docs/jcasc-model.md
    from generator import jcasc
    jcasc_doc = yaml.safe_load(golden_outputs["servicemonitor"]["tools.tuned/jenkins/jenkins.yaml"])
    selection = jcasc.select("2.555.2", {"prometheus": "852.v317db_5d17a_b_0"})
    section = {"unclassified": {"prometheusConfiguration": jcasc_doc["unclassified"]["prometheusConfiguration"]}}
    assert jcasc.check(section, selection) == []
    for change, message in (
            (lambda p: p.update(usAuthenticatedEndpoint=True),
             "'usAuthenticatedEndpoint' is not a known attribute of PrometheusConfiguration (plugin prometheus)"),
            (lambda p: p["disabledMetricConfig"]["entries"].append({"regexDisabledMetric": {"pattern": "x"}}),
             "'pattern' is not a known attribute of RegexDisabledMetric (plugin prometheus)"),
            (lambda p: p["disabledMetricConfig"]["entries"].append({"metricNameDisabled": {"metricName": "a"}}),
             "'metricNameDisabled' is not a known Entry implementation"),
            (lambda p: p.update(collectingMetricsPeriodInSeconds="often"), "expects a whole number, not 'often'")):
        broken = copy.deepcopy(section)
        change(broken["unclassified"]["prometheusConfiguration"])
        assert [f.message for f in jcasc.check(broken, selection)] == [message]


def test_sample_fleet_monitoring_is_generated_and_valid(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    run = fleet_in_process(["--instances", instances, "generate", "--out", tmp_path / "build", "-j", "1"], tmp_path)
    assert run.code == 0, run.stderr
    names = sorted(d for d in os.listdir(instances) if os.path.isdir(os.path.join(instances, d)) and d != "catalogs")
    for name in names:
        sm = yaml.safe_load((tmp_path / "build" / name / "k8s" / "servicemonitor.yaml").read_text())
        model = yaml.safe_load((tmp_path / "build" / name / "model.json").read_text())
        assert sm["metadata"]["namespace"] == model["deployment"]["namespace"]
        assert sm["spec"]["endpoints"][0]["path"] == model["deployment"]["prefix"] + "/prometheus/"
        assert "prometheus" in {p.split(":")[0] for p in model["jenkins"]["plugins"]}
        assert model["jenkins"]["installedPlugins"]["prometheus"] == "852.v317db_5d17a_b_0"
    assert (tmp_path / "build" / "monitoring" / "jenkins-fleet.rules.yaml").is_file()
