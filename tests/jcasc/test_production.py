"""The JCasC Jiro ran in production passes the model for the core and plugins of its time.

Eight real controllers (tests/fixtures/jiro-instances/instances/*/target/jenkins/
configuration.yml), each checked against the model of the Jenkins version its image ran
(jiroMaster.version) and the plugins the image and the instance installed. A model that
rejected any of them would be wrong; a model that accepted anything would be useless, so
each file is also changed in ways the real plugins reject.
"""

from __future__ import annotations

import copy
import json
import os

import fleettest
import pytest
import yaml

from generator import jcasc

JIRO_FIXTURES = os.path.join(fleettest.ROOT, "tests", "fixtures", "jiro-instances", "instances")
NAMES = sorted(n for n in os.listdir(JIRO_FIXTURES) if os.path.isdir(os.path.join(JIRO_FIXTURES, n)))


# The images installed the dependencies of what Jiro asked for too; the sections these files
# configure need three of them, each installed for a reason read in the source:
DEPENDENCIES = {
    "git-client": "git 5.10.1 depends on it (pom.xml, compile scope)",
    "workflow-api": "kubernetes 4423.vb_59f230b_ce53 depends on it (pom.xml, compile scope)",
    "sshd": "split from core in 2.281 (core/src/main/resources/jenkins/split-plugins.txt), so installed "
            "beside plugins built for an older core, such as ghprb",
}


def production(name):
    target = os.path.join(JIRO_FIXTURES, name, "target")
    with open(os.path.join(target, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    with open(os.path.join(target, "jenkins", "configuration.yml"), encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    plugins = {p: None for p in config["jiroMaster"]["plugins"] + config["jenkins"]["plugins"] + list(DEPENDENCIES)}
    return doc, jcasc.select(config["jiroMaster"]["version"], plugins)


def test_eight_controllers():
    assert len(NAMES) == 8


@pytest.mark.parametrize("name", NAMES)
def test_production_jcasc_passes(name):
    doc, selection = production(name)
    found = jcasc.check(doc, selection)
    assert [f for f in found if f.severity == "error"] == []
    # what was not checked is said: only names an installed plugin without a model could provide
    for f in found:
        assert f.message.endswith("; not checked"), f


@pytest.mark.parametrize("name", NAMES)
def test_production_jcasc_sections_are_modelled(name):
    """Every section of these files is checked, none waved through as 'not checked'."""
    doc, selection = production(name)
    assert [f.message for f in jcasc.check(doc, selection)] == []


MUTATIONS = [
    # (path to a mapping, key renamed to, expected message fragment)
    (("jenkins",), "numExecutor", "'numExecutor' is not a known attribute of Jenkins (Jenkins core)"),
    (("unclassified", "location"), "URL", None),  # case-insensitive: `URL` is `url`, accepted
    (("unclassified", "mailer"), "smtpHosts", "'smtpHosts' is not a known attribute of Mailer.DescriptorImpl"),
    (("security", "sSHD"), "prt", "'prt' is not a known attribute of SSHD (plugin sshd)"),
    (("tool", "jdk"), "installation", "'installation' is not a known attribute of JDK.DescriptorImpl"),
]


@pytest.mark.parametrize("path,new_key,message", MUTATIONS)
def test_changed_keys_are_rejected(path, new_key, message):
    doc, selection = production("technology.cbi")
    doc = copy.deepcopy(doc)
    node = doc
    for part in path:
        node = node[part]
    old_key = {"jenkins": "numExecutors", "location": "url", "mailer": "smtpHost", "sSHD": "port",
               "jdk": "installations"}[path[-1]]
    node[new_key] = node.pop(old_key)
    errors = [f.message for f in jcasc.check(doc, selection) if f.severity == "error"]
    if message is None:
        assert errors == []
    else:
        assert any(m.startswith(message) for m in errors), errors


def test_wrong_symbol_and_wrong_type_in_production_files():
    doc, selection = production("technology.cbi")
    doc = copy.deepcopy(doc)
    doc["jenkins"]["markupFormatter"] = "rawHTML"  # case-insensitive symbols: accepted
    doc["jenkins"]["securityRealm"] = {"ldapp": doc["jenkins"]["securityRealm"]["ldap"]}
    doc["jenkins"]["clouds"][0]["kubernetes"]["containerCapStr"] = {"value": 10}
    doc["jenkins"]["clouds"][0]["kubernetes"]["templates"][0]["nodeUsageMode"] = "normal"
    errors = sorted((".".join(map(str, f.path)), f.message) for f in jcasc.check(doc, selection)
                    if f.severity == "error")
    assert errors == [
        ("jenkins.clouds.0.kubernetes.containerCapStr", "expects a single text value, not a mapping"),
        ("jenkins.clouds.0.kubernetes.templates.0.nodeUsageMode", "'normal' is not a value of Mode"),
    ]
    # 28 of the installed plugins have no model: one of them could provide a SecurityRealm 'ldapp'
    warnings = [(".".join(map(str, f.path)), f.message) for f in jcasc.check(doc, selection)
                if f.severity == "warning"]
    assert warnings == [("jenkins.securityRealm.ldapp",
                         "'ldapp' is not a known SecurityRealm implementation; not checked")]
