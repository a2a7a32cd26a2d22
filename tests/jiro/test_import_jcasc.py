"""`fleet import-jiro` and the settings Jiro wrote into every controller's JCasC (not config.jsonnet):
the `security` root and the Prometheus plugin's settings. Each one reaches our JCasC or is reported.

Jiro's generated JCasC is the committed target/jenkins/configuration.yml (the fixtures keep those two
parts of it, see tests/fixtures/jiro-instances/SOURCES.md).
"""

from __future__ import annotations

import os
import re
import shutil

import fleettest
import pytest
import yaml
from test_import_jiro import CHECKOUT, FIXTURES, add_instance, copy_checkout, read_yaml

from generator import fleet, jiro_jcasc
from generator.jiro_import import import_jiro

GENERATED = "target/jenkins/configuration.yml"
PROMETHEUS = f"{GENERATED}:unclassified.prometheusConfiguration"


def jiro_generated(name: str) -> dict:
    return read_yaml(CHECKOUT, "instances", name, GENERATED)


def ours(generated, name: str) -> dict:
    return yaml.safe_load(generated.files[f"{name}/jenkins/jenkins.yaml"])


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    into = os.fspath(tmp_path_factory.mktemp("jiro-jcasc") / "instances")
    result = import_jiro(CHECKOUT, into)
    return into, {r.name: r for r in result.instances}, fleet.generate(fleet.Paths(instances=into), jobs=1)


def existing_fleet(tmp_path, extra: str = "", monitoring: bool = True) -> str:
    """The sample fleet's settings (monitoring on, default namespace, no security), no instances,
    no plugin catalogs (Jiro's instances request plugins the sample catalogs do not have)."""
    into = fleettest.copy_sample_fleet(tmp_path)
    for name in os.listdir(into):
        if name != "fleet.yaml":
            shutil.rmtree(os.path.join(into, name))
    path = os.path.join(into, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = re.sub(r"\n +catalog: catalogs/[^\n]*", "", text)
    if not monitoring:
        text = text.replace("monitoring:\n  enabled: true", "monitoring:\n  enabled: false")
    fleettest.write(path, text + extra)
    return into


# --- into a new fleet: the eight real instances ---------------------------------------------------

def test_jiros_security_root_reaches_every_controller_unchanged(imported):
    into, _, generated = imported
    settings = read_yaml(into, "fleet.yaml")["security"]
    assert {k: v for k, v in settings.items() if k != "gitHostKeys"} == {
        "legacyApiTokens": False, "apiTokenUsageStatistics": True, "buildsRunAs": "triggeringUser", "sshdPort": -1}
    assert len(settings["gitHostKeys"]) == 11
    for name in FIXTURES:
        assert ours(generated, name)["security"] == jiro_generated(name)["security"], name
        plugins = generated.files[f"{name}/image/plugins.txt"].decode().split()
        # the plugins behind the section: authorize-project, sshd, git-client (and prometheus)
        assert {"authorize-project", "sshd", "git-client", "prometheus"} <= {p.split(":")[0] for p in plugins}, name


def test_each_prometheus_setting_of_jiro_is_ours_or_reported(imported):
    into, reports, generated = imported
    assert read_yaml(into, "fleet.yaml")["monitoring"] == {
        "enabled": True, "scrape": "annotations",
        "prometheus": {"path": "prometheus", "collectingMetricsPeriodInSeconds": 120, "defaultNamespace": "",
                       "disabledMetrics": [{"regex": "jenkins_builds_last_stage_duration.*"}, {"regex": "jvm_.*"},
                                           {"regex": "vm_memory.*"}, {"regex": "jenkins_builds_discard_active.*"}]}}
    for name in FIXTURES:
        jiro = jiro_generated(name)["unclassified"]["prometheusConfiguration"]
        mine = ours(generated, name)["unclassified"]["prometheusConfiguration"]
        reported = {n.path for n in reports[name].not_imported}
        for key, value in jiro.items():
            if mine.get(key, jiro_jcasc.PROMETHEUS_OURS.get(key)) != value:
                assert f"{PROMETHEUS}.{key}" in reported, (name, key)
        # what is modelled is Jiro's exactly (iot.4diac's own list comes with its hand-written JCasC)
        for key in ("path", "collectingMetricsPeriodInSeconds", "defaultNamespace", "disabledMetricConfig"):
            assert mine[key] == jiro[key], (name, key)
    assert not [n for n in reports["technology.cbi"].not_imported if n.path.startswith(GENERATED)]


def test_the_instances_hand_written_jcasc_is_not_reported_twice(imported):
    """iot.4diac's own jenkins/configuration.yml sets the disabled metrics; technology.cbi all plugin settings."""
    into, reports, _ = imported
    assert "monitoring" not in read_yaml(into, "iot.4diac", "instance.yaml")
    assert [n.path for n in reports["iot.4diac"].not_imported] == [f"{PROMETHEUS}.collectDiskUsage",
                                                                   f"{PROMETHEUS}.fetchTestResults"]


# --- into an existing fleet ------------------------------------------------------------------------------

def test_into_a_fleet_without_security_each_setting_is_reported(tmp_path):
    into = existing_fleet(tmp_path)
    result = import_jiro(CHECKOUT, into, ["technology.jgit"])
    (report,) = result.instances
    assert report.status == "imported"
    security = {n.path.split(":", 1)[1]: n.reason for n in report.not_imported if ":security." in n.path}
    assert list(security) == list(jiro_jcasc.SECURITY_PATHS.values())
    assert security["security.sSHD.port"] == ("Jiro had security.sshdPort -1; fleet.yaml does not set it (security "
                                              "settings are fleet-wide: change them in fleet.yaml or the "
                                              "hand-written jenkins.yaml)")
    assert security["security.gitHostKeyVerificationConfiguration"].startswith(
        "Jiro had security.gitHostKeys [11 entries]; fleet.yaml does not set it")
    text = (tmp_path / "instances" / "technology.jgit" / "instance.yaml").read_text()
    assert f"#   - {GENERATED}:security.queueItemAuthenticator: Jiro had security.buildsRunAs" in text


def test_into_a_monitored_fleet_the_plugin_settings_go_into_the_instance(tmp_path):
    into = existing_fleet(tmp_path)
    import_jiro(CHECKOUT, into, ["technology.jgit"])
    data = read_yaml(into, "technology.jgit", "instance.yaml")
    assert data["monitoring"] == {"prometheus": {
        "collectingMetricsPeriodInSeconds": 120, "defaultNamespace": "",
        "disabledMetrics": [{"regex": "jenkins_builds_last_stage_duration.*"}, {"regex": "jvm_.*"},
                            {"regex": "vm_memory.*"}, {"regex": "jenkins_builds_discard_active.*"}]}}
    generated = fleet.generate(fleet.Paths(instances=into), jobs=1)
    mine = ours(generated, "technology.jgit")["unclassified"]["prometheusConfiguration"]
    jiro = jiro_generated("technology.jgit")["unclassified"]["prometheusConfiguration"]
    for key in ("path", "collectingMetricsPeriodInSeconds", "defaultNamespace", "disabledMetricConfig"):
        assert mine[key] == jiro[key], key


def test_into_a_fleet_that_does_not_monitor_the_endpoint_is_reported(tmp_path):
    into = existing_fleet(tmp_path, monitoring=False)
    (report,) = import_jiro(CHECKOUT, into, ["technology.jgit"]).instances
    (entry,) = [n for n in report.not_imported if n.path == PROMETHEUS]
    assert entry.reason == ("Jiro served metrics at https://ci.eclipse.org/jgit/prometheus/; the fleet does not "
                            "monitor this instance: set monitoring.enabled in fleet.yaml to keep the endpoint")
    assert "monitoring" not in read_yaml(into, "technology.jgit", "instance.yaml")


def test_a_fleet_with_security_settings_reports_only_the_differences(tmp_path):
    host_keys = read_yaml(CHECKOUT, "instances", "technology.jgit", GENERATED)["security"][
        "gitHostKeyVerificationConfiguration"]["sshHostKeyVerificationStrategy"][
        "manuallyProvidedKeyVerificationStrategy"]["approvedHostKeys"].splitlines()
    extra = ("\nsecurity:\n  buildsRunAs: triggeringUser\n  legacyApiTokens: false\n"
             "  apiTokenUsageStatistics: true\n  sshdPort: 2222\n  gitHostKeys:\n"
             + "".join(f"    - {yaml.safe_dump(k, default_style=chr(34)).strip()}\n" for k in host_keys))
    into = existing_fleet(tmp_path, extra)
    (report,) = import_jiro(CHECKOUT, into, ["technology.jgit"]).instances
    assert report.status == "imported", [d.format() for d in report.diagnostics]
    security = [n for n in report.not_imported if ":security." in n.path]
    assert [(n.path, n.reason.split(";")[0]) for n in security] == [
        (f"{GENERATED}:security.sSHD.port", "Jiro had security.sshdPort -1")]
    assert "fleet.yaml gives 2222" in security[0].reason


# --- what has no equivalent ------------------------------------------------------------------------------

ODD_JCASC = """\
security:
  apiToken:
    creationOfLegacyTokenEnabled: true
    tokenGenerationOnCreationEnabled: false
    usageStatisticsEnabled: false
  queueItemAuthenticator:
    authenticators:
      - project:
          disabledStrategies: []
  sSHD:
    port: 70000
  gitHostKeyVerificationConfiguration:
    sshHostKeyVerificationStrategy: "acceptFirstConnectionStrategy"
  scriptApproval:
    approvedSignatures: ["method java.lang.Object toString"]
unclassified:
  prometheusConfiguration:
    path: "/metrics"
    defaultNamespace: "ci"
    appendStatusLabel: true
    jobAttributeName: "jenkins_job"
    someFutureSetting: 1
    disabledMetricConfig:
      entries:
        - jobRegexDisabledMetric:
            regex: "sandbox/.*"
        - namedDisabledMetric:
            metricName: "ci_jenkins_builds_health_score"
"""


def test_settings_without_an_equivalent_are_reported_with_their_reason(tmp_path):
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.odd", '{ project+: { fullName: "technology.odd", displayName: "Odd" } }',
                 {GENERATED: ODD_JCASC})
    (report,) = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.odd"]).instances
    assert report.status == "imported", [d.format() for d in report.diagnostics]
    skipped = {n.path.removeprefix(GENERATED + ":"): n.reason for n in report.not_imported
               if n.path.startswith(GENERATED + ":")}
    assert skipped == {
        "security.apiToken.creationOfLegacyTokenEnabled/tokenGenerationOnCreationEnabled":
            "the two legacy-token switches differ or one is missing; security.legacyApiTokens in fleet.yaml sets both",
        "security.queueItemAuthenticator": ("only one global authenticator with the "
                                            "triggeringUsersAuthorizationStrategy or anonymousAuthorizationStrategy "
                                            "is expressed by fleet.yaml security.buildsRunAs"),
        "security.sSHD.port": "70000 does not fit fleet.yaml security.sshdPort",
        "security.gitHostKeyVerificationConfiguration": ("only manually provided host keys are expressed by "
                                                         "fleet.yaml security.gitHostKeys"),
        "security.scriptApproval": "no equivalent in fleet.yaml security",
        "unclassified.prometheusConfiguration.path": '"/metrics" does not fit monitoring.prometheus.path',
        "unclassified.prometheusConfiguration.appendStatusLabel": ("Jiro had true, ours gives false (not a setting "
                                                                   "of ours)"),
        "unclassified.prometheusConfiguration.someFutureSetting": "not a setting of ours",
        "unclassified.prometheusConfiguration.disabledMetricConfig.entries[0]": (
            "only regexDisabledMetric and namedDisabledMetric entries are expressed by "
            "monitoring.prometheus.disabledMetrics"),
    }
    # the one security setting that maps is the fleet's; the Prometheus settings that map are too
    fleet_yaml = read_yaml(tmp_path, "out", "fleet.yaml")
    assert fleet_yaml["security"] == {"apiTokenUsageStatistics": False}
    assert fleet_yaml["monitoring"]["prometheus"] == {
        "defaultNamespace": "ci", "disabledMetrics": [{"name": "ci_jenkins_builds_health_score"}]}


def test_a_missing_or_unreadable_generated_jcasc_is_reported(tmp_path):
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.none", '{ project+: { fullName: "technology.none", displayName: "N" } }')
    add_instance(checkout, "technology.bad", '{ project+: { fullName: "technology.bad", displayName: "B" } }',
                 {GENERATED: "security: [unclosed\n"})
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.none", "technology.bad"])
    bad, none = result.instances
    assert [(n.path, n.reason.split(":")[0]) for n in none.not_imported] == [(GENERATED, "missing")]
    assert [n.path for n in bad.not_imported] == [GENERATED]
    assert bad.not_imported[0].reason.startswith("unreadable (")
    # nothing to build fleet-wide settings from: the new fleet has neither section
    fleet_yaml = read_yaml(tmp_path, "out", "fleet.yaml")
    assert "security" not in fleet_yaml and "monitoring" not in fleet_yaml


def test_keys_the_hand_written_jcasc_sets_are_imported_with_it(tmp_path):
    checkout = copy_checkout(tmp_path)
    jgit = os.path.join(checkout, "instances", "technology.jgit")
    fleettest.write(os.path.join(jgit, "jenkins", "configuration.yml"),
                    "security:\n  sSHD:\n    port: 2222\n")
    into = existing_fleet(tmp_path)
    (report,) = import_jiro(checkout, into, ["technology.jgit"]).instances
    paths = [n.path for n in report.not_imported]
    assert f"{GENERATED}:security.sSHD.port" not in paths  # it comes with jenkins.yaml
    assert f"{GENERATED}:security.queueItemAuthenticator" in paths
    generated = fleet.generate(fleet.Paths(instances=into), jobs=1)
    assert ours(generated, "technology.jgit")["security"] == {"sSHD": {"port": 2222}}
