"""The model replays configuration-as-code's decisions; each case names the source it follows."""

from __future__ import annotations

import pytest

from generator import jcasc
from generator.jcasc.model import JENKINS, world

BASE = {"configuration-as-code": None, "kubernetes": None, "ldap": None, "matrix-auth": None}


def findings(doc, core="2.555.2", plugins=BASE, **kw):
    return jcasc.check(doc, jcasc.select(core, plugins), **kw)


def errors(doc, **kw):
    return [(".".join(map(str, f.path)), f.message, f.hint) for f in findings(doc, **kw) if f.severity == "error"]


def test_crumb_issuer_attribute_removed_in_2_543():
    # core DefaultCrumbIssuer: the data-bound constructor lost excludeClientIPFromCrumb in 2.543
    doc = {"jenkins": {"crumbIssuer": {"standard": {"excludeClientIPFromCrumb": True}}}}
    assert errors(doc, core="2.541.3") == []
    [(path, message, hint)] = errors(doc, core="2.555.2")
    assert path == "jenkins.crumbIssuer.standard.excludeClientIPFromCrumb"
    assert message == "'excludeClientIPFromCrumb' is not a known attribute of DefaultCrumbIssuer (Jenkins core)"
    assert hint.startswith("'excludeClientIPFromCrumb' exists in DefaultCrumbIssuer of Jenkins 2.541.3 but not "
                           "of 2.555.2")
    assert errors({"jenkins": {"crumbIssuer": "standard"}}, core="2.555.2") == []
    assert errors({"jenkins": {"crumbIssuer": "standard"}}, core="2.541.3") == []


def test_secret_volume_has_no_sub_path_config_map_volume_has():
    # kubernetes plugin SecretVolume / ConfigMapVolume data-bound constructors and setters
    def doc(volume):
        return {"jenkins": {"clouds": [{"kubernetes": {"templates": [{"name": "basic", "volumes": [volume]}]}}]}}
    [(path, message, _)] = errors(doc({"secretVolume": {"secretName": "s", "mountPath": "/m", "subPath": "k"}}))
    assert path == "jenkins.clouds.0.kubernetes.templates.0.volumes.0.secretVolume.subPath"
    assert message == "'subPath' is not a known attribute of SecretVolume (plugin kubernetes)"
    assert errors(doc({"configMapVolume": {"configMapName": "c", "mountPath": "/m", "subPath": "k"}})) == []


def test_a_symbol_from_a_plugin_not_installed_names_the_plugin():
    doc = {"jenkins": {"nodes": [{"permanent": {"name": "vm", "remoteFS": "/r",
                                                "launcher": {"ssh": {"host": "h", "credentialsId": "c"}}}}]}}
    [(path, message, hint)] = errors(doc)
    assert path == "jenkins.nodes.0.permanent.launcher.ssh"
    assert message == "'ssh' is not a known ComputerLauncher implementation"
    assert hint == ("'ssh' comes from the plugin ssh-slaves, which this controller does not install: "
                    "add it to jenkins.plugins")
    assert errors(doc, plugins={**BASE, "ssh-slaves": None}) == []


def test_symbols_follow_describable_attribute_get_symbols():
    # @Symbol first, then the class name without the extension point's name: LDAPSecurityRealm -> ldap,
    # ProjectMatrixAuthorizationStrategy (an anonymous @Extension descriptor without @Symbol) -> projectMatrix
    doc = {"jenkins": {"securityRealm": {"ldap": {"configurations": [{"server": "ldaps://x"}]}},
                       "authorizationStrategy": {"projectMatrix": {"entries": [
                           {"group": {"name": "admins", "permissions": ["Overall/Administer"]}}]}}}}
    assert errors(doc) == []
    doc["jenkins"]["securityRealm"] = {"LDAP": {"configurations": [{"server": "ldaps://x"}]}}
    assert errors(doc) == []  # HeteroDescribableConfigurator compares with equalsIgnoreCase


def test_enum_values_are_case_sensitive():
    # EnumConfigurator: Enum.valueOf
    [(path, message, hint)] = errors({"jenkins": {"mode": "exclusive"}})
    assert (path, message) == ("jenkins.mode", "'exclusive' is not a value of Mode")
    assert hint == "did you mean 'EXCLUSIVE'? the names are case-sensitive (Enum.valueOf)"


def test_scalar_types():
    assert errors({"jenkins": {"numExecutors": "2", "quietPeriod": 5, "disableRememberMe": "true"}}) == []
    assert [e[1] for e in errors({"jenkins": {"numExecutors": "two"}})] == ["expects a whole number, not 'two'"]
    assert errors({"jenkins": {"numExecutors": "${EXECUTORS}"}}) == []  # resolved on the controller
    assert [e[1] for e in errors({"jenkins": {"systemMessage": {"a": 1}}})] == [
        "expects a single text value, not a mapping"]


def test_deprecated_and_restricted_attributes_are_rejected_unless_the_policy_says_warn():
    # ConfigurationContext: deprecation, restriction and unknown default to reject; SelfConfigurator
    # (the configuration-as-code root) can relax them
    doc = {"jenkins": {"agentProtocols": ["JNLP4-connect"], "rawBuildsDir": "/b"}}
    messages = sorted(e[1] for e in errors(doc))
    assert messages == ["'agentProtocols' of Jenkins (Jenkins core) is deprecated",
                        "'rawBuildsDir' of Jenkins (Jenkins core) is restricted (NoExternalUse)"]
    relaxed = {"configuration-as-code": {"deprecated": "warn", "restricted": "warn"}, **doc}
    assert errors(relaxed) == []
    assert sorted(f.severity for f in findings(relaxed)) == ["warning", "warning"]


def test_unknown_root_elements_and_x_aliases():
    assert [e[1] for e in errors({"jenkinz": {}})] == ["'jenkinz' is not a known root element"]
    assert errors({"x-anchors": {"a": 1}, "jenkins": {}}) == []


def test_an_installed_plugin_without_a_model_turns_open_unknowns_into_warnings():
    doc = {"unclassified": {"someOtherPlugin": {"a": 1}}}
    assert [e[1] for e in errors(doc)] == ["'someOtherPlugin' is not a known element of 'unclassified'"]
    found = findings(doc, plugins={**BASE, "not-modelled": None})
    assert [(f.severity, f.message) for f in found] == [
        ("warning", "'someOtherPlugin' is not a known element of 'unclassified'; not checked")]
    # attributes of a known class are never open-ended
    assert errors({"jenkins": {"numExecutorz": 1}}, plugins={**BASE, "not-modelled": None})


def _synthetic_world():
    """A tiny world written like the extracted files: one extension point with one implementation."""
    from generator.jcasc.check import Checker
    from generator.jcasc.model import World
    core = world("2.555.2", ())
    comp = {"component": "demo", "version": "1", "types": {
        "demo.Thing": {"kind": "class", "flags": ["abstract", "public"],
                       "interfaces": ["hudson.model.Describable<demo.Thing>"]},
        "demo.Impl": {"kind": "class", "flags": ["public"], "super": "demo.Thing",
                      "constructor": [["name", "java.lang.String", ["nonnull"]],
                                      ["tags", "java.util.List<java.lang.String>", ["nonnull"]],
                                      ["size", "int", []]],
                      "setters": [["Size", "int", ["deprecated"]], ["Note", "java.lang.String", ["databound"]]],
                      "getters": [["getSize", "int"], ["getNote", "java.lang.String"]]},
        "demo.Impl$DescriptorImpl": {"kind": "class", "flags": ["public", "static"], "extension": True,
                                     "super": "hudson.model.Descriptor<demo.Thing>"},
        "demo.Holder$DescriptorImpl": {"kind": "class", "flags": ["public", "static"], "extension": True,
                                       "super": "jenkins.model.GlobalConfiguration", "symbols": ["holder"]},
        "demo.Holder": {"kind": "class", "flags": ["public"], "super": "jenkins.model.GlobalConfiguration",
                        "extension": True, "symbols": ["holder"],
                        "setters": [["Thing", "demo.Thing", []]], "getters": [["getThing", "demo.Thing"]]},
    }}
    w = World([{"component": "core", "version": "2.555.2", "types": core.types}, comp])
    return w, lambda doc, **kw: [(".".join(map(str, f.path)), f.message) for f in Checker(w, **kw).run(doc)]


def test_required_constructor_parameters_and_constructor_before_setters():
    # DataBoundConfigurator.tryConstructor: a javax/jakarta @Nonnull parameter without a value fails,
    # except a List or Set (an empty one is passed); the constructor consumes its keys before the
    # setters run, so a deprecated setter of the same name is not reached
    _w, run = _synthetic_world()
    assert run({"unclassified": {"holder": {"thing": {"impl": {"name": "a", "size": 2, "note": "n"}}}}}) == []
    assert run({"unclassified": {"holder": {"thing": {"impl": {"size": 2}}}}}) == [
        ("unclassified.holder.thing.impl", "'name' is required to configure Impl (plugin demo)")]
    assert run({"unclassified": {"holder": {"thing": {"impl": {}}}}}, partial=True) == []
    assert run({"unclassified": {"holder": {"thing": "impl"}}}) == [
        ("unclassified.holder.thing", "'name' is required to configure Impl (plugin demo)")]


def test_hetero_needs_a_single_key_mapping():
    _w, run = _synthetic_world()
    assert run({"unclassified": {"holder": {"thing": {"impl": {"name": "a"}, "other": {}}}}}) == [
        ("unclassified.holder.thing", "expects one Thing as a single-key mapping, found 2 keys: impl, other")]
    assert run({"unclassified": {"holder": {"thing": {"thingy": {}}}}}) == [
        ("unclassified.holder.thing.thingy", "'thingy' is not a known Thing implementation")]


def test_jenkins_root_attributes_are_introspected_from_core():
    w = world("2.555.2", ())
    names = set(w.roots()["jenkins"].attrs)
    for expected in ("numexecutors", "securityrealm", "authorizationstrategy", "clouds", "nodes", "crumbissuer",
                     "remotingsecurity", "labelatoms", "nodemonitors", "proxy", "updatecenter"):
        assert expected in names
    assert "installstate" not in names  # JenkinsConfigurator.exclusions
    assert set(w.roots()) >= {"jenkins", "unclassified", "security", "tool", "appearance", "configuration-as-code"} \
        - {"configuration-as-code"}


@pytest.mark.parametrize("core", ["2.541.3", "2.555.2", "2.568.2"])
def test_every_core_version_is_modelled(core):
    assert core in jcasc.core_versions()
    assert world(core, ()).roots()["jenkins"].target == JENKINS


def test_root_names_compare_ignoring_case_but_one_root_is_read_once():
    # ConfigurationAsCode.invokeWith: each root configurator takes the first key equal to its name
    # ignoring case; a second such key is left over and rejected as an unknown root
    assert errors({"Jenkins": {"numExecutors": 0}}) == []
    assert [e[1] for e in errors({"jenkins": {}, "JENKINS": {}})] == [(
        "'JENKINS' and 'jenkins' name the same root element: configuration-as-code reads the first and rejects "
        "the other")]
    # an override is merged key by key: 'Jenkins' would stand beside the generated 'jenkins'
    assert [e[1] for e in errors({"Jenkins": {}}, partial=True)] == [(
        "'Jenkins' is merged beside the generated 'jenkins' (keys are compared exactly), and configuration-as-code "
        "reads only one of the two")]
