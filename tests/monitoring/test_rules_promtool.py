"""The alerting rules evaluated by Prometheus itself: `promtool test rules` on synthetic series.

The series are those the sources say exist (templates/monitoring/rules.jsonnet names them):
`up` disappears with the controller's pod, the Metrics plugin's queue gauge, the kubernetes
plugin's counters exported as gauges. promtool comes with Prometheus (Debian: the `prometheus`
package); without it these tests are skipped and only the parse and schema checks of
test_rules.py run.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")

FLEET_RULES = "monitoring/jenkins-fleet.rules.yaml"
CLUSTER_RULES = "monitoring/controllers-main.rules.yaml"  # the servicemonitor case's only cluster


def promtool_test(tmp_path, tree, tests: list[dict]) -> subprocess.CompletedProcess:
    for rel in (FLEET_RULES, CLUSTER_RULES):
        (tmp_path / os.path.basename(rel)).write_bytes(tree[rel])
    spec = {"rule_files": [os.path.basename(FLEET_RULES), os.path.basename(CLUSTER_RULES)],
            "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return subprocess.run(["promtool", "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)


def rule(tree, rel, alert, project=None) -> dict:
    for group in yaml.safe_load(tree[rel])["groups"]:
        for r in group["rules"]:
            if r["alert"] == alert and (project is None or r["labels"].get("jenkins_fleet_io_project") == project):
                return r
    raise AssertionError(f"no {alert} rule for {project}")


def expanded(annotations: dict, labels: dict, value: str) -> dict:
    out = {}
    for key, text in annotations.items():
        for name, label in labels.items():
            text = text.replace("{{ $labels." + name + " }}", label)
        out[key] = text.replace("{{ $value }}", value)
    return out


def up(project: str, values: str) -> dict:
    return {"series": f'up{{jenkins_fleet_io_project="{project}", namespace="{project.split(".")[-1]}"}}',
            "values": values}


def test_a_controller_without_a_pod_raises_absent_not_down(golden_outputs, tmp_path):
    tree = golden_outputs["servicemonitor"]
    absent = rule(tree, CLUSTER_RULES, "JenkinsControllerAbsent", "tools.plain")
    expected = {"exp_labels": {**absent["labels"], "jenkins_fleet_io_project": "tools.plain"},
                "exp_annotations": absent["annotations"]}
    result = promtool_test(tmp_path, tree, [{
        "interval": "1m",
        # tools.plain's pod is deleted after 10 minutes (its target and `up` go); the others run.
        "input_series": [up("tools.plain", "1x10"), up("tools.root", "1x40"), up("tools.tuned", "1x40")],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "JenkinsControllerAbsent", "exp_alerts": []},
            # 5 minutes of lookback, then `for: 3m` (controllerDownMinutes of the case)
            {"eval_time": "17m", "alertname": "JenkinsControllerAbsent", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "JenkinsControllerAbsent", "exp_alerts": [expected]},
            # the scrape-failure rule cannot see it: there is no `up` left to be 0
            {"eval_time": "20m", "alertname": "JenkinsControllerDown", "exp_alerts": []},
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_failing_scrape_raises_down(golden_outputs, tmp_path):
    tree = golden_outputs["servicemonitor"]
    down = rule(tree, FLEET_RULES, "JenkinsControllerDown")
    labels = {"namespace": "root", "jenkins_fleet_io_project": "tools.root"}
    result = promtool_test(tmp_path, tree, [{
        "interval": "1m",
        "input_series": [up("tools.plain", "1x20"), up("tools.root", "1 1 0x18"), up("tools.tuned", "1x20")],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "JenkinsControllerDown",
             "exp_alerts": [{"exp_labels": {**labels, **down["labels"]},
                             "exp_annotations": expanded(down["annotations"], labels, "0")}]},
            {"eval_time": "5m", "alertname": "JenkinsControllerAbsent", "exp_alerts": []},
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def queue_series(project, buildable, free, capped, failed="0x40"):
    ns = project.split(".")[-1]
    sel = f'jenkins_fleet_io_project="{project}", namespace="{ns}"'
    return [
        {"series": f"jenkins_queue_buildable_value{{{sel}}}", "values": buildable},
        {"series": f"jenkins_executor_free_value{{{sel}}}", "values": free},
        {"series": f"kubernetes_cloud_provision_reached_global_cap{{{sel}}}", "values": capped},
        {"series": f"kubernetes_cloud_pods_creation_failed{{{sel}}}", "values": failed},
    ]


def test_quota_bottleneck_follows_the_clouds_cap_not_idle_executors(golden_outputs, tmp_path):
    tree = golden_outputs["servicemonitor"]
    bottleneck = rule(tree, FLEET_RULES, "JenkinsQuotaBottleneck")
    labels = {"namespace": "plain", "jenkins_fleet_io_project": "tools.plain"}
    result = promtool_test(tmp_path, tree, [{
        "interval": "1m",
        "input_series": (
            # tools.plain: 3 builds wait, the cloud refuses pods at its cap every minute, and a static
            # agent's idle executor keeps jenkins_executor_free_value at 1 (the old rule never fired)
            queue_series("tools.plain", "3x40", "1x40", "0+6x40")
            # tools.root: builds wait for a label nobody provides: no executor free, the cap never hit
            + queue_series("tools.root", "2x40", "0x40", "0x40")
            # tools.tuned: the cap was hit once, long ago; builds wait for other reasons now
            + queue_series("tools.tuned", "1x40", "0x40", "0 6 12 12x38")),
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "JenkinsQuotaBottleneck", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "JenkinsQuotaBottleneck",
             "exp_alerts": [{"exp_labels": {**labels, **bottleneck["labels"]},
                             "exp_annotations": expanded(bottleneck["annotations"], labels, "3")}]},
            {"eval_time": "30m", "alertname": "JenkinsAgentPodsFailing", "exp_alerts": []},
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr


def test_agent_pods_refused_raise_their_own_alert(golden_outputs, tmp_path):
    tree = golden_outputs["servicemonitor"]
    failing = rule(tree, FLEET_RULES, "JenkinsAgentPodsFailing")
    labels = {"namespace": "plain", "jenkins_fleet_io_project": "tools.plain"}
    result = promtool_test(tmp_path, tree, [{
        "interval": "1m",
        # pods are refused (e.g. exceeded quota) every minute; the cap is never reached
        "input_series": queue_series("tools.plain", "2x40", "0x40", "0x40", failed="0+3x40"),
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "JenkinsAgentPodsFailing",
             "exp_alerts": [{"exp_labels": {**labels, **failing["labels"]},
                             "exp_annotations": expanded(failing["annotations"], labels, "2")}]},
            {"eval_time": "30m", "alertname": "JenkinsQuotaBottleneck", "exp_alerts": []},
        ],
    }])
    assert result.returncode == 0, result.stdout + result.stderr
