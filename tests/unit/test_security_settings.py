"""fleet.yaml `security`: each setting becomes its JCasC under the `security:` root of every controller,
with the plugin that provides it; wrong values and instance-level settings are refused.

The JCasC attribute names are those Jiro's production controllers loaded (the fixtures'
target/jenkins/configuration.yml) and the configurators' source (templates/jcasc/_security_root.yaml.j2).
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from fleettest import ROOT, fleet_in_process, write

from generator import fleet

SMALL_FLEET = os.path.join(ROOT, "tests", "monitoring", "golden", "servicemonitor", "instances")
HOST_KEY = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
GERRIT_KEY = "[git.eclipse.org]:29418 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA8+KrFs55Aw6ATeoTxSIQOLiYBDALPZ4qN02mvB49a2"


def small_fleet(tmp_path, security: dict | None) -> str:
    instances = os.path.join(tmp_path, "instances")
    shutil.copytree(SMALL_FLEET, instances)
    if security is not None:
        with open(os.path.join(instances, "fleet.yaml"), "a", encoding="utf-8") as fh:
            fh.write(yaml.safe_dump({"security": security}, sort_keys=False))
    return instances


def generated(instances: str, name: str = "tools.plain") -> tuple[dict, list[str]]:
    gen = fleet.generate(fleet.Paths(instances=instances), (name,), jobs=1)
    jcasc = yaml.safe_load(gen.files[f"{name}/jenkins/jenkins.yaml"])
    plugins = [p.split(":")[0] for p in gen.files[f"{name}/image/plugins.txt"].decode().split()]
    return jcasc, plugins


@pytest.mark.parametrize("setting, jcasc, plugin", [
    ({"buildsRunAs": "triggeringUser"},
     {"queueItemAuthenticator": {"authenticators": [{"global": {"strategy": "triggeringUsersAuthorizationStrategy"}}]}},
     "authorize-project"),
    ({"buildsRunAs": "anonymous"},
     {"queueItemAuthenticator": {"authenticators": [{"global": {"strategy": "anonymousAuthorizationStrategy"}}]}},
     "authorize-project"),
    ({"legacyApiTokens": False},
     {"apiToken": {"creationOfLegacyTokenEnabled": False, "tokenGenerationOnCreationEnabled": False}}, None),
    ({"apiTokenUsageStatistics": True}, {"apiToken": {"usageStatisticsEnabled": True}}, None),
    ({"sshdPort": -1}, {"sSHD": {"port": -1}}, "sshd"),
    ({"gitHostKeys": [HOST_KEY, GERRIT_KEY]},
     {"gitHostKeyVerificationConfiguration": {"sshHostKeyVerificationStrategy": {
         "manuallyProvidedKeyVerificationStrategy": {"approvedHostKeys": f"{HOST_KEY}\n{GERRIT_KEY}"}}}},
     "git-client"),
])
def test_each_setting_emits_its_jcasc_and_pulls_in_its_plugin(tmp_path, setting, jcasc, plugin):
    data, plugins = generated(small_fleet(tmp_path, setting))
    assert data["security"] == jcasc
    others = {"authorize-project", "sshd", "git-client"} - {plugin}
    assert (plugin is None or plugin in plugins) and not others & set(plugins)


def test_without_settings_there_is_no_security_root_and_no_extra_plugin(tmp_path):
    data, plugins = generated(small_fleet(tmp_path, None))
    assert "security" not in data
    assert not {"authorize-project", "sshd", "git-client"} & set(plugins)


def test_a_catalog_pin_of_a_needed_plugin_wins(tmp_path):
    instances = small_fleet(tmp_path, {"sshdPort": -1})
    path = os.path.join(instances, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    write(path, text.replace("matrix-auth, ", "matrix-auth, \"sshd:3.384.vc89b_5e138cf9\", "))
    gen = fleet.generate(fleet.Paths(instances=instances), ("tools.plain",), jobs=1)
    plugins = gen.files["tools.plain/image/plugins.txt"].decode().split()
    assert "sshd:3.384.vc89b_5e138cf9" in plugins and "sshd" not in plugins


@pytest.mark.parametrize("security, expected", [
    ({"buildsRunAs": "system"}, "security.buildsRunAs: the string 'system' is not one of: triggeringUser, anonymous"),
    ({"sshdPort": 70000}, "security.sshdPort"),
    ({"gitHostKeys": ["github.com ssh-ed25519 AAAA\nevil.example.org ssh-rsa AAAA"]},
     "security.gitHostKeys[0]: the string 'github.com ssh-ed25519 AAAA\\nevil.example.org"),
    ({"gitHostKeys": ["# a comment, not a key"]}, "hint: one known_hosts line"),
    ({"runBuildsAs": "triggeringUser"}, "did you mean 'buildsRunAs'?"),
])
def test_bad_settings_are_positioned_errors(tmp_path, security, expected):
    instances = small_fleet(tmp_path, security)
    run = fleet_in_process(["--instances", instances, "validate"], tmp_path)
    assert run.code == 1, run.stderr
    assert "fleet.yaml:" in run.stderr and expected in run.stderr, run.stderr


def test_an_instance_cannot_set_security(tmp_path):
    instances = small_fleet(tmp_path, {"buildsRunAs": "triggeringUser"})
    with open(os.path.join(instances, "tools.plain", "instance.yaml"), "a", encoding="utf-8") as fh:
        fh.write("security:\n  buildsRunAs: anonymous\n")
    run = fleet_in_process(["--instances", instances, "validate"], tmp_path)
    assert run.code == 1
    assert "tools.plain/instance.yaml:" in run.stderr and "unknown key 'security'" in run.stderr, run.stderr
