"""The fleet's alerting rules: a Prometheus rules file, with the thresholds of fleet.yaml.

promtool is not available here: the structure is checked against schemas/prometheus-rules.schema.json
(the rulefmt format) and every expression with promql-parser (a PromQL parser).
"""

from __future__ import annotations

import json
import os

import promql_parser
import pytest
import yaml
from fleettest import ROOT, copy_sample_fleet, fleet_in_process, write
from monitoringtest import GOLDEN

from generator import monitoring

SCHEMAS = os.path.join(ROOT, "schemas")
TEMPLATES = os.path.join(ROOT, "templates")


def rules_of(tree) -> dict:
    return yaml.safe_load(tree["monitoring/jenkins-fleet.rules.yaml"])


def by_alert(data) -> dict[str, dict]:
    return {r["alert"]: r for g in data["groups"] for r in g["rules"]}


def test_rules_file_has_the_prometheus_structure(golden_outputs):
    data = rules_of(golden_outputs["servicemonitor"])
    assert list(data) == ["groups"]
    (group,) = data["groups"]
    assert group["name"] == "jenkins-fleet"
    assert [r["alert"] for r in group["rules"]] == ["JenkinsControllerDown", "JenkinsQuotaBottleneck",
                                                    "JenkinsAgentPodsFailing", "JenkinsHomeVolumeFilling",
                                                    "JenkinsHomeVolumeFull"]
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["labels"]["fleet"] == "golden-monitoring"
        assert {"summary", "description"} <= set(rule["annotations"])
        promql_parser.parse(rule["expr"])  # raises ValueError on a syntax error
    assert monitoring.validate_rules(data, "rules.yaml", SCHEMAS) == []


def test_thresholds_come_from_fleet_settings(golden_outputs):
    rules = by_alert(rules_of(golden_outputs["servicemonitor"]))  # fleet: 3, 20, 80, 90
    assert rules["JenkinsControllerDown"]["for"] == "3m"
    assert rules["JenkinsQuotaBottleneck"]["for"] == "20m"
    assert rules["JenkinsHomeVolumeFilling"]["expr"].rstrip().endswith("> 80")
    assert rules["JenkinsHomeVolumeFull"]["expr"].rstrip().endswith("> 90")
    assert "20 minutes" in rules["JenkinsQuotaBottleneck"]["annotations"]["summary"]


def test_expressions_use_the_series_the_monitoring_produces(golden_outputs):
    rules = by_alert(rules_of(golden_outputs["servicemonitor"]))
    assert rules["JenkinsControllerDown"]["expr"].startswith("max by (namespace, jenkins_fleet_io_project) (up{")
    assert rules["JenkinsControllerDown"]["expr"].endswith(") == 0")
    # the ServiceMonitor copies jenkins-fleet.io/project onto every series: the rules key on it
    sm = yaml.safe_load(golden_outputs["servicemonitor"]["tools.plain/k8s/servicemonitor.yaml"])
    assert sm["spec"]["targetLabels"] == ["jenkins-fleet.io/project"]
    for name in ("JenkinsControllerDown", "JenkinsQuotaBottleneck", "JenkinsAgentPodsFailing"):
        assert 'jenkins_fleet_io_project!=""' in rules[name]["expr"]
    # the cloud's own judgement of its cap (kubernetes plugin counters), not idle executors anywhere
    bottleneck = rules["JenkinsQuotaBottleneck"]["expr"]
    assert "jenkins_queue_buildable_value" in bottleneck and "jenkins_executor_free_value" not in bottleneck
    assert 'increase({__name__=~"kubernetes_cloud_provision_reached_(global|pod)_cap"' in bottleneck
    failing = rules["JenkinsAgentPodsFailing"]["expr"]
    assert 'increase({__name__=~"kubernetes_cloud_pods_(creation|launch)_failed"' in failing
    # the home volume is the StatefulSet's claim: volumeClaimTemplate jenkins-home of pod jenkins-0
    sts = yaml.safe_load(golden_outputs["servicemonitor"]["tools.plain/k8s/statefulset.yaml"])
    claim = f"{sts['spec']['volumeClaimTemplates'][0]['metadata']['name']}-{sts['metadata']['name']}-0"
    assert f'persistentvolumeclaim="{claim}"' in rules["JenkinsHomeVolumeFull"]["expr"]


def test_each_monitored_instance_has_an_absent_rule_in_its_clusters_file(golden_outputs):
    tree = golden_outputs["servicemonitor"]
    data = yaml.safe_load(tree["monitoring/controllers-main.rules.yaml"])
    assert monitoring.validate_rules(data, "rules.yaml", SCHEMAS) == []
    (group,) = data["groups"]
    assert group["name"] == "jenkins-fleet-controllers-main"
    # sandbox.off has monitoring off (profile): nothing expects its series
    assert [(r["labels"]["jenkins_fleet_io_project"], r["labels"]["namespace"]) for r in group["rules"]] == [
        ("tools.plain", "plain"), ("tools.root", "root"), ("tools.tuned", "tuned")]
    for r in group["rules"]:
        assert r["alert"] == "JenkinsControllerAbsent"
        assert r["expr"] == f'absent(up{{jenkins_fleet_io_project="{r["labels"]["jenkins_fleet_io_project"]}"}})'
        assert r["for"] == "3m" and r["labels"]["severity"] == "critical"
        promql_parser.parse(r["expr"])


def test_a_clusters_file_holds_only_that_clusters_controllers(tmp_path):
    # the sample fleet: two clusters, the ee4j.* profile moves four instances to okd-c2
    instances = copy_sample_fleet(tmp_path)
    run = fleet_in_process(["--instances", instances, "generate", "--out", tmp_path / "build", "-j", "1"], tmp_path)
    assert run.code == 0, run.stderr
    index = json.loads((tmp_path / "build" / "fleet.json").read_text())
    for cluster in ("okd-c1", "okd-c2"):
        data = yaml.safe_load((tmp_path / "build" / "monitoring" / f"controllers-{cluster}.rules.yaml").read_text())
        names = [r["labels"]["jenkins_fleet_io_project"] for r in data["groups"][0]["rules"]]
        assert names == sorted(n for n, e in index["instances"].items() if e["cluster"] == cluster)
        assert names and all(index["instances"][n]["monitored"] for n in names)
    assert sorted(index["fleet"]["files"]) == ["monitoring/controllers-okd-c1.rules.yaml",
                                               "monitoring/controllers-okd-c2.rules.yaml",
                                               "monitoring/jenkins-fleet.rules.yaml"]


def test_home_volume_alerts_watch_the_claim_each_controller_mounts(tmp_path):
    # technology.cbi keeps Jiro's names (an imported controller): its claim is jenkins-home-cephfs-cbi-0
    instances = copy_sample_fleet(tmp_path)
    path = os.path.join(instances, "technology.cbi", "instance.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = text.replace("deployment:\n", "deployment:\n  statefulSetName: cbi\n", 1)
    write(path, text + "storage:\n  claimTemplateName: jenkins-home-cephfs\n")
    run = fleet_in_process(["--instances", instances, "generate", "--out", tmp_path / "build", "-j", "1"], tmp_path)
    assert run.code == 0, run.stderr
    index = json.loads((tmp_path / "build" / "fleet.json").read_text())
    assert index["instances"]["technology.cbi"]["homeClaim"] == "jenkins-home-cephfs-cbi-0"
    assert index["instances"]["ee4j.jersey"]["homeClaim"] == "jenkins-home-jenkins-0"
    alerts = by_alert(yaml.safe_load((tmp_path / "build" / "monitoring" / "jenkins-fleet.rules.yaml").read_text()))
    for name in ("JenkinsHomeVolumeFilling", "JenkinsHomeVolumeFull"):
        expr = alerts[name]["expr"]
        assert expr.count('persistentvolumeclaim=~"jenkins-home-cephfs-cbi-0|jenkins-home-jenkins-0"') == 2, expr
        promql_parser.parse(expr)


@pytest.mark.parametrize("broken, message", [
    ({"groups": [{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "up"}]}]}, "oneOf"),
    ({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "5 minutes"}]}]}, "5 minutes"),
    ({"groups": [{"name": "g", "rules": [{"record": "a:b", "expr": "up", "for": "5m"}]}]}, "oneOf"),
    ({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "labels": {"bad-name": "x"}}]}]}, "bad-name"),
    ({"groups": [{"name": "g", "rules": [{"alert": "A"}]}]}, "expr"),
    ({"groups": [{"rules": []}]}, "name"),
    ({"groups": [{"name": "g", "rules": []}, {"name": "g", "rules": []}]}, "more than once"),
    ({"groups": [{"name": "g", "rules": [], "evaluation": "1m"}]}, "evaluation"),
])
def test_the_rules_schema_refuses_what_prometheus_refuses(broken, message):
    diags = monitoring.validate_rules(broken, "rules.yaml", SCHEMAS)
    assert diags, broken
    assert any(message in d.message or message in d.key for d in diags), [d.message for d in diags]


def test_the_rules_schema_accepts_recording_rules():
    ok = {"groups": [{"name": "g", "interval": "1m", "rules": [
        {"record": "jenkins:queue:sum", "expr": "sum(jenkins_queue_size_value)", "labels": {"team": "x"}},
        {"alert": "A", "expr": "up == 0", "for": "1h30m", "keep_firing_for": "5m"}]}]}
    assert monitoring.validate_rules(ok, "rules.yaml", SCHEMAS) == []


def test_critical_threshold_must_be_above_the_warning_one(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    path = os.path.join(instances, "fleet.yaml")
    with open(path) as fh:
        text = fh.read()
    write(path, text.replace("homeVolumeCriticalPercent: 95", "homeVolumeCriticalPercent: 80"))
    run = fleet_in_process(["--instances", instances, "validate"], tmp_path)
    assert run.code == 1
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "homeVolumeCriticalPercent" in ln)
    assert f"fleet.yaml:{line}:" in run.stderr
    assert "homeVolumeCriticalPercent (80) must be above homeVolumeUsedPercent (85)" in run.stderr


def test_an_instance_named_like_the_monitoring_directory_is_refused(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    write(os.path.join(instances, "monitoring", "instance.yaml"),
          "# yaml-language-server: $schema=../../schemas/instance.schema.json\n"
          "project: {fullName: monitoring, displayName: Clash}\n")
    run = fleet_in_process(["--instances", instances, "generate", "--out", tmp_path / "build"], tmp_path)
    assert run.code == 1 and "an instance is named 'monitoring'" in run.stderr
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("setting, expected", [
    ({"scrape": "podMonitor"}, "is not one of: serviceMonitor, annotations"),
    ({"scrapeInterval": "1 minute"}, "not in the expected format"),
    ({"alerts": {"queueWaitMinute": 10}}, "did you mean 'queueWaitMinutes'?"),
    ({"prometheus": {"path": "/prometheus"}}, "without a leading slash"),
    ({"prometheus": {"disabledMetrics": [{"regex": "a", "name": "b"}]}}, "either {regex: ...}"),
])
def test_bad_monitoring_settings_are_positioned_errors(tmp_path, setting, expected):
    instances = copy_sample_fleet(tmp_path)
    path = os.path.join(instances, "fleet.yaml")
    with open(path) as fh:
        fleet = yaml.safe_load(fh)
    fleet["monitoring"].update(setting)
    write(path, yaml.safe_dump(fleet, sort_keys=False))
    run = fleet_in_process(["--instances", instances, "validate"], tmp_path)
    assert run.code == 1, run.stderr
    assert expected in run.stderr
    assert "fleet.yaml:" in run.stderr and "monitoring." in run.stderr


def test_instance_monitoring_block_is_schema_checked(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    path = os.path.join(instances, "tools.cdt", "instance.yaml")
    with open(path) as fh:
        text = fh.read()
    write(path, text + "monitoring:\n  enabeld: false\n")
    run = fleet_in_process(["--instances", instances, "validate", "tools.cdt"], tmp_path)
    assert run.code == 1
    assert "monitoring.enabeld: unknown key 'enabeld'" in run.stderr and "did you mean 'enabled'?" in run.stderr


def test_rules_template_failure_is_a_diagnostic(tmp_path):
    bad = tmp_path / "templates" / "monitoring"
    bad.mkdir(parents=True)
    (bad / "rules.jsonnet").write_text("function(fleet, controllers) { groups: error 'boom' }\n")
    with pytest.raises(monitoring.FleetError) as err:
        monitoring.rules({"monitoring": {"enabled": True}}, str(tmp_path / "templates"))
    assert "boom" in err.value.diagnostics[0].message


def test_rules_data_round_trips_through_json(golden_outputs):
    data = rules_of(golden_outputs["annotations"])
    assert json.loads(json.dumps(data)) == data
    assert os.path.isfile(os.path.join(GOLDEN, "annotations", "expected", "monitoring", "jenkins-fleet.rules.yaml"))
