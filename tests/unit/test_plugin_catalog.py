"""Plugin catalogs (issue 16): reading, refreshing, resolving the pinned closure, and what it generates.

Fixtures: tests/fixtures/catalogs (a synthetic update site in the real format), the catalog
refreshed from it for tests/errors/plugins, and the sample fleet's real catalogs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

import fleettest
import pytest
import yaml

from generator import catalog, fleet, fleetdir, plugin_fleet, sources, version_number
from generator.errors import FleetError
from generator.plugins import Request, resolve

HERE = os.path.dirname(os.path.abspath(__file__))
UC_DIR = os.path.join(fleettest.ROOT, "tests", "fixtures", "catalogs")
UC = os.path.join(UC_DIR, "update-center.actual.json")
VERSIONS = os.path.join(UC_DIR, "plugin-versions.json")
ERRORS_FLEET = os.path.join(fleettest.ROOT, "tests", "errors", "plugins")
SAMPLE_CATALOG = os.path.join(fleettest.SAMPLE_INSTANCES, "catalogs", "2.555.2.json")


def fixture_catalog() -> catalog.Catalog:
    """The whole synthetic update site (plus its older releases) as one catalog."""
    with open(UC, encoding="utf-8") as fh:
        uc = json.load(fh)
    with open(VERSIONS, encoding="utf-8") as fh:
        older = json.load(fh)["plugins"]
    text = catalog.dumps(catalog.trim(uc, set(uc["plugins"]), older))
    found = catalog.read(sources.parse_text(text, "fixture.json"))
    found.reference = "catalogs/fixture.json"
    return found


DOC = sources.parse_text("plugins: []\n", "instance.yaml")


def req(spec: str, origin: str = "instance") -> Request:
    plugin, _, version = spec.partition(":")
    return Request(plugin, version or None, origin, DOC, ("jenkins", "plugins", 0))


def closure(specs, jenkins="2.555.2", cat=None):
    resolution, diags = resolve(cat or fixture_catalog(), [req(s) for s in specs], jenkins, "the fixture catalog")
    return resolution, diags


# --- Jenkins' version order ------------------------------------------------------------------------

@pytest.mark.parametrize("newer, older", [
    # hudson.util.VersionNumber's own tests (jenkinsci/lib-version-number, VersionNumberTest.java)
    ("2.0.*", "2.0"), ("2.1-SNAPSHOT", "2.0.*"), ("2.1", "2.1-SNAPSHOT"), ("2.0.*", "2.0.1"),
    ("2.0.1", "2.0.1-SNAPSHOT"), ("2.0.1-SNAPSHOT", "2.0.0.99"), ("2.0.0.99", "2.0.0"), ("2.0.0", "2.0.ea"),
    ("2.0", "2.0-alpha-1"), ("2.0-alpha-1", "2.0-alpha-1-rc9999.abc123def456"), ("2.0.ea2", "2.0.ea1"),
    ("1.12", "1.12-SNAPSHOT (private-08/24/2008 12:13-hudson)"), ("1.11.*", "1.11.9"),
    ("2.0.3-20170207.105042-1", "2.0.2"), ("2.0.3-20170207.105042-13", "2.0.3-20170207.105042-2"),
    ("3.12.0-44.v1234deadbeef", "3.12.0.0"), ("99.10.vabcd1234abcd", "99.5.vabcd1234abcd"),
    ("100.vdead9876beef", "99.10.vabcd1234abcd"), ("391.ve4a_38c1b_cf4b_", "1.1"),
    # incremental plugin versions: the 1947 line is newer than 1947 and older than 1948
    ("1947.v7d33fe23569c", "1947"), ("1948", "1947.v7d33fe23569c"), ("1947.v7d33fe23569c", "1946.vffffffffffff"),
    ("2117.vc05a_0b_e6b_f4e", "2089.v970a_0b_a_8cc6d"), ("2.555.2", "2.541.3"), ("2.541.3", "2.541"),
])
def test_jenkins_version_order(newer, older):
    assert version_number.compare(newer, older) == 1
    if "*" not in newer:  # Jenkins compares a number with a wildcard as equal, the other way round as newer
        assert version_number.compare(older, newer) == -1


@pytest.mark.parametrize("a, b", [("2.0.0", "2.0"), ("2.0.ea", "2.0.ea0"), ("1.12-SNAPSHOT", "1.12-SNAPSHOT (x)"),
                                  ("2.0.3-20170207.105042-1", "2.0.3-SNAPSHOT")])
def test_jenkins_version_equal(a, b):
    assert version_number.compare(a, b) == 0


# --- the sample fleet's catalogs (real facts, instances/catalogs/SOURCES.md) -------------------------

def test_sample_catalog_pins_the_releases_the_jcasc_model_was_read_at():
    found = catalog.read(sources.load(SAMPLE_CATALOG))
    pinned = {pid: r.version for pid, r in found.plugins.items()}
    assert {pid: pinned[pid] for pid in ("configuration-as-code", "kubernetes", "matrix-auth", "ldap", "prometheus",
                                         "theme-manager", "dark-theme")} == {
        "configuration-as-code": "2117.vc05a_0b_e6b_f4e", "kubernetes": "4423.vb_59f230b_ce53",
        "matrix-auth": "3.2.8", "ldap": "807.v7d7de30930cf", "prometheus": "852.v317db_5d17a_b_0",
        "theme-manager": "346.v06cca_64c6a_37", "dark-theme": "652.vea_da_dfea_e769"}
    assert "ssh-slaves" in pinned  # modeling.emf's JCasC override launches agents over SSH
    with open(os.path.join(os.path.dirname(SAMPLE_CATALOG), "2.541.3.json"), encoding="utf-8") as fh, \
            open(SAMPLE_CATALOG, encoding="utf-8") as other:
        assert fh.read() == other.read()  # no release needs a Jenkins newer than 2.541.3
    # closed: every dependency of every release is in the catalog at a version that satisfies it
    for release in found.plugins.values():
        for dep in release.dependencies:
            if not dep.optional or dep.name in found.plugins:
                assert version_number.compare(found.plugins[dep.name].version, dep.version) >= 0, (release, dep)
    # every entry is documented in SOURCES.md with its repository, tag and commit
    with open(os.path.join(os.path.dirname(SAMPLE_CATALOG), "SOURCES.md"), encoding="utf-8") as fh:
        rows = re.finditer(r"^\| (\S+) \| (\S+) \| jenkinsci/", fh.read(), re.MULTILINE)
        documented = {m.group(1): m.group(2) for m in rows}
    assert documented == pinned


def test_sample_fleet_instances_get_their_whole_closure():
    checked = fleet.check_sources(fleet.Paths(instances=fleettest.SAMPLE_INSTANCES))
    found = catalog.read(sources.load(SAMPLE_CATALOG))
    by_name = {i.name: i.plugins for i in checked.inputs}
    assert len(by_name) == 13 and all(p is not None for p in by_name.values())
    cdt = by_name["tools.cdt"]
    assert cdt["installed"]["warnings-ng"] == "12.10012.v753ff0d0363a_"
    assert cdt["provenance"]["gradle"] == {"requestedBy": ["instance"]}
    assert cdt["provenance"]["prometheus"] == {"requestedBy": ["monitoring", "fleet"]}
    assert by_name["eclipse.platform"]["installed"]["jacoco"] == "3.3.7"  # its pin, the catalog's release
    assert by_name["ee4j.jersey"]["provenance"]["copyartifact"] == {"requestedBy": ["profile ee4j"]}
    for resolved in by_name.values():
        installed = resolved["installed"]
        for pid, version in installed.items():
            for dep in found.release(pid, version).dependencies:
                if not dep.optional:
                    assert dep.name in installed, (pid, dep.name)
                if dep.name in installed:
                    assert version_number.compare(installed[dep.name], dep.version) >= 0


# --- reading a catalog ----------------------------------------------------------------------------

def test_a_real_update_center_file_is_a_catalog_as_it_is():
    found = catalog.read(sources.load(UC))
    assert found.plugins["chain-a"].dependencies == (catalog.Dependency("chain-b", "2.0", False),)
    assert [w.id for w in found.warnings["vulnerable"]] == ["SECURITY-9001"]
    assert "core" not in found.warnings  # core warnings concern Jenkins, not a plugin
    assert found.active_warnings("chain-d", "1.0") == []  # SECURITY-9002 is for 0.x
    assert found.deprecations["deprecated-thing"] == "https://example.org/deprecated-thing-notice"


def test_catalogs_dir_is_not_an_instance(tmp_path):
    into = fleettest.copy_sample_fleet(tmp_path)
    assert "catalogs" not in fleetdir.instance_names(into)
    fleettest.write(os.path.join(into, "catalogs", "instance.yaml"), "project: {fullName: catalogs}\n")
    _, diags = fleetdir.read_all(into)
    assert [d.message for d in diags] == [
        "'catalogs/' is reserved for the fleet's plugin catalogs, so this instance is not part of the fleet"]


# --- fleet plugins refresh -----------------------------------------------------------------------------

def test_refresh_reproduces_the_committed_fixture_catalog_and_is_deterministic(tmp_path):
    into = os.fspath(tmp_path / "instances")
    shutil.copytree(ERRORS_FLEET, into)
    os.unlink(os.path.join(into, "catalogs", "2.555.2.json"))
    first = plugin_fleet.refresh(fleet.Paths(instances=into), UC, "2.555.2", VERSIONS)
    with open(first.path, "rb") as fh:
        written = fh.read()
    with open(os.path.join(ERRORS_FLEET, "catalogs", "2.555.2.json"), "rb") as fh:
        assert written == fh.read()
    again = plugin_fleet.refresh(fleet.Paths(instances=into), UC, "2.555.2", VERSIONS)
    with open(again.path, "rb") as fh:
        assert fh.read() == written
    assert (again.added, again.removed, again.updated) == ([], [], [])
    data = json.loads(written)
    # only what the fleet requests (and what that can pull in), only the fields we use
    assert sorted(data["plugins"]) == ["broken", "chain-a", "chain-b", "chain-c", "chain-d", "deprecated-thing",
                                       "diamond-bottom", "diamond-left", "diamond-right", "diamond-top",
                                       "future-core", "vulnerable"]
    assert {k for entry in data["plugins"].values() for k in entry} == {"dependencies", "name", "requiredCore",
                                                                        "sha256", "version"}
    assert list(data["pluginVersions"]) == ["chain-b"] and list(data["pluginVersions"]["chain-b"]) == ["1.0"]
    assert [w["id"] for w in data["warnings"]] == ["SECURITY-9002", "SECURITY-9001"]
    assert data["deprecations"] == {"deprecated-thing": {"url": "https://example.org/deprecated-thing-notice"}}
    # requests the file cannot serve are reported where they are written
    assert sorted((os.path.relpath(d.file, into), d.message) for d in first.diagnostics) == [
        ("a.unknown/instance.yaml", f"plugin 'chian-b' is not in {UC}"),
        ("b.pin-unknown/instance.yaml", f"chain-a:0.9 is pinned, but {UC} has chain-a 3.0"),
    ]


def test_refresh_accepts_the_jsonp_update_center_json(tmp_path):
    into = os.fspath(tmp_path / "instances")
    shutil.copytree(ERRORS_FLEET, into)
    with open(UC, encoding="utf-8") as fh:
        fleettest.write(tmp_path / "update-center.json", "updateCenter.post(\n" + fh.read() + ");\n")
    result = plugin_fleet.refresh(fleet.Paths(instances=into), str(tmp_path / "update-center.json"))
    assert result.plugins == 12 and result.version == "2.555.2"


def test_refresh_rejects_what_is_not_an_update_center_file(tmp_path):
    into = os.fspath(tmp_path / "instances")
    shutil.copytree(ERRORS_FLEET, into)
    fleettest.write(tmp_path / "bad.json", '{"plugins": [1, 2')
    with pytest.raises(FleetError) as err:
        plugin_fleet.refresh(fleet.Paths(instances=into), str(tmp_path / "bad.json"))
    (diag,) = err.value.diagnostics
    assert diag.message.startswith("invalid JSON: ") and diag.line == 1
    fleettest.write(tmp_path / "other.json", '{"something": 1}')
    with pytest.raises(FleetError) as err:
        plugin_fleet.refresh(fleet.Paths(instances=into), str(tmp_path / "other.json"))
    assert err.value.diagnostics[0].message == "not an update-center file: no 'plugins' object"


def test_outdated_compares_the_catalog_with_a_newer_file(tmp_path):
    with open(UC, encoding="utf-8") as fh:
        uc = json.load(fh)
    uc["plugins"]["chain-d"]["version"] = "1.1"
    uc["plugins"]["diamond-top"].update(version="2.0", requiredCore="2.600.1")
    fleettest.write(tmp_path / "newer.json", json.dumps(uc))
    version, rows, no_catalog = plugin_fleet.outdated(fleet.Paths(instances=fleettest.SAMPLE_INSTANCES),
                                                      str(tmp_path / "newer.json"))
    assert (version, rows, no_catalog) == ("2.555.2", [], [])  # the sample catalog has none of these plugins
    paths = fleet.Paths(instances=os.fspath(tmp_path / "i"))
    shutil.copytree(os.path.join(fleettest.ROOT, "tests", "audit", "fleets", "plugins", "instances"), paths.instances)
    version, rows, _ = plugin_fleet.outdated(paths, str(tmp_path / "newer.json"))
    assert [r.to_json() for r in rows] == [
        {"plugin": "chain-d", "pinned": "1.0", "available": "1.1", "requiredCore": "2.479.3", "fitsJenkins": True,
         "instances": []},
        {"plugin": "diamond-top", "pinned": "1.0", "available": "2.0", "requiredCore": "2.600.1",
         "fitsJenkins": False, "instances": ["also.vulnerable", "ok.plain", "with.advisories"]}]


# --- resolving the closure --------------------------------------------------------------------------

def test_a_diamond_installs_its_bottom_once_at_the_catalog_release():
    resolution, diags = closure(["diamond-top"])
    assert diags == []
    assert resolution.installed == {"diamond-bottom": "2.4", "diamond-left": "1.2", "diamond-right": "1.1",
                                    "diamond-top": "1.0"}
    assert resolution.dependency_of["diamond-bottom"] == ["diamond-left", "diamond-right"]
    assert resolution.as_model()["provenance"]["diamond-top"] == {"requestedBy": ["instance"]}


def test_optional_dependencies_only_when_requested():
    alone, _ = closure(["opt-user"])
    assert set(alone.installed) == {"opt-user", "chain-d"}
    both, diags = closure(["opt-user", "opt-extra"])
    assert diags == [] and set(both.installed) == {"opt-user", "chain-d", "opt-extra", "diamond-bottom"}
    assert both.dependency_of["opt-extra"] == ["opt-user"]


def test_an_optional_dependency_that_is_present_must_be_new_enough():
    cat = fixture_catalog()
    cat.plugins["opt-extra"] = catalog.Release("opt-extra", "1.5", "2.479.3", ())
    _, diags = closure(["opt-user", "opt-extra"], cat=cat)
    assert [d.message for d in diags] == [
        "opt-user 5.0 needs opt-extra >= 2.0, but the fixture catalog has 1.5"]


def test_a_pin_older_than_a_dependent_needs_names_the_dependent():
    _, diags = closure(["chain-a", "chain-b:1.0"])
    assert [d.message for d in diags] == ["chain-b 1.0 is older than chain-a 3.0 needs (a dependency: chain-b >= 2.0)"]
    assert diags[0].hint == "pin chain-b:2.0 or newer, or remove the pin"


def test_the_last_request_of_a_plugin_decides_its_version():
    pinned, _ = closure(["vulnerable", "vulnerable:1.3"])
    assert pinned.installed == {"vulnerable": "1.3"}
    unpinned, _ = closure(["vulnerable:1.3", "vulnerable"])
    assert unpinned.installed == {"vulnerable": "1.4"}


def test_a_pinned_older_release_brings_its_own_dependencies():
    resolution, diags = closure(["future-core:0.8"])
    assert diags == [] and resolution.installed == {"future-core": "0.8"}  # 0.8 runs on 2.555.2, 1.0 does not
    _, diags = closure(["future-core"])
    assert [d.message for d in diags] == [
        "future-core 1.0 requires Jenkins 2.600.1 or newer; this instance runs 2.555.2"]


def test_a_dependency_needing_a_newer_core_is_reported_at_the_request_that_pulls_it():
    cat = fixture_catalog()
    cat.plugins["chain-d"] = catalog.Release("chain-d", "1.0", "2.600.1", ())
    _, diags = closure(["chain-a"], cat=cat)
    assert [d.message for d in diags] == [
        ("chain-d (needed by chain-c, needed by chain-b, needed by chain-a) 1.0 requires Jenkins 2.600.1 or newer; "
         "this instance runs 2.555.2")]


def test_an_incremental_release_satisfies_the_line_it_extends():
    resolution, diags = closure(["needs-incremental"])
    assert diags == [] and resolution.installed["incremental"] == "1947.v7d33fe23569c"


def test_advisories_are_warnings_with_the_id_and_url():
    resolution, diags = closure(["vulnerable", "deprecated-thing"])
    assert sorted((d.severity, d.message, d.hint) for d in diags) == [
        ("warning", "deprecated-thing is deprecated",
         "see https://example.org/deprecated-thing-notice; plan its replacement"),
        ("warning", "vulnerable 1.4 has an active security warning SECURITY-9001: Stored XSS vulnerability",
         ("see https://example.org/advisory/SECURITY-9001; refresh the catalog and use a fixed release, or record "
          "why you run it meanwhile under acknowledgedAdvisories in fleet.yaml"))]
    assert [a["id"] for a in resolution.advisories] == ["deprecated", "SECURITY-9001"]


def test_unknown_ids_get_a_did_you_mean_from_the_catalog():
    _, diags = closure(["chian-b", "nothing-like-it"])
    assert [(d.message, d.hint) for d in diags] == [
        ("unknown plugin 'chian-b'",
         "did you mean 'chain-b'? (catalogs/fixture.json lists the plugins of Jenkins 2.555.2)"),
        ("unknown plugin 'nothing-like-it'",
         ("the fixture catalog has no such plugin; if the update site has it, add it with `fleet plugins refresh "
          "--from update-center.actual.json --jenkins 2.555.2`"))]


# --- what generation makes of the closure ----------------------------------------------------------

@pytest.fixture(scope="module")
def advisories_fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins")
    into = os.fspath(root / "instances")
    shutil.copytree(os.path.join(fleettest.ROOT, "tests", "audit", "fleets", "plugins", "instances"), into)
    with open(os.path.join(into, "fleet.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    fleettest.write(os.path.join(into, "fleet.yaml"),
                    text.replace("  adminGroup: admins\n", "  adminGroup: admins\n  imageRepository: quay.io/t\n"))
    return into


def test_image_files_install_exactly_the_pinned_closure(advisories_fleet):
    gen = fleet.generate(fleet.Paths(instances=advisories_fleet))
    files = {k: v.decode() for k, v in gen.files.items() if k.startswith("with.advisories/")}
    assert files["with.advisories/image/plugins.txt"] == (
        "configuration-as-code:2117.vc05a_0b_e6b_f4e\ndark-theme:652.vea_da_dfea_e769\n"
        "deprecated-thing:0.9\ndiamond-bottom:2.4\ndiamond-left:1.2\ndiamond-right:1.1\ndiamond-top:1.0\n"
        "kubernetes:4423.vb_59f230b_ce53\nldap:807.v7d7de30930cf\nmatrix-auth:3.2.8\n"
        "theme-manager:346.v06cca_64c6a_37\nvulnerable:1.4\n")
    dockerfile = files["with.advisories/image/Dockerfile"]
    assert "jenkins-plugin-cli" not in dockerfile  # nothing is resolved at build time
    assert "\nFROM docker.io/jenkins/jenkins:2.555.2-lts-jdk21\n" in dockerfile
    assert "COPY plugins.txt plugins.sha256 /usr/share/jenkins/\n" in dockerfile
    assert "sha256sum --check --quiet /usr/share/jenkins/plugins.sha256" in dockerfile
    assert "HOME=/var/jenkins_home" in dockerfile
    assert "COPY_REFERENCE_FILE_LOG=/var/jenkins_home/copy_reference_file.log" in dockerfile
    # the update site's base64 sha256, in hex as sha256sum wants it (the fixture's are of "<id>-<version>")
    assert f"{hashlib.sha256(b'vulnerable-1.4').hexdigest()}  vulnerable.jpi\n" in files[
        "with.advisories/image/plugins.sha256"]
    image = files["with.advisories/image/IMAGE"].strip()
    assert re.fullmatch(r"quay\.io/t/with\.advisories:2\.555\.2-[0-9a-f]{12}", image)
    sts = yaml.safe_load(files["with.advisories/k8s/statefulset.yaml"])
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image
    assert {"name": "plugins", "mountPath": "/var/jenkins_home/plugins"} in container["volumeMounts"]
    assert {"name": "plugins", "emptyDir": {}} in sts["spec"]["template"]["spec"]["volumes"]
    model = json.loads(files["with.advisories/model.json"])
    assert model["jenkins"]["image"] == image
    assert model["jenkins"]["installedPlugins"]["diamond-bottom"] == "2.4"
    assert model["jenkins"]["pluginProvenance"]["diamond-left"] == "dependency of diamond-top"
    assert model["jenkins"]["pluginProvenance"]["vulnerable"] == "requested (instance)"
    # the same plugins give the same tag; another plugin set another one
    tags = {json.loads(gen.files[f"{n}/model.json"])["jenkins"]["image"].rsplit(":", 1)[1]
            for n in ("ok.plain", "also.vulnerable", "with.advisories")}
    assert len(tags) == 3


def test_without_a_catalog_the_image_resolves_in_the_official_image(tmp_path):
    """Issue 19, item 1: the base (e.g. eclipsecbi/jiro-master) need not have jenkins-plugin-cli."""
    into = fleettest.copy_sample_fleet(tmp_path)
    with open(os.path.join(into, "fleet.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    text = re.sub(r"\n +catalog: [^\n]*", "", text).replace("docker.io/jenkins/jenkins:2.555.2-lts-jdk21",
                                                             "docker.io/eclipsecbi/jiro-master:2.555.2")
    fleettest.write(os.path.join(into, "fleet.yaml"), text)
    gen = fleet.generate(fleet.Paths(instances=into), ["science.january"])
    dockerfile = gen.files["science.january/image/Dockerfile"].decode()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", dockerfile, re.MULTILINE)
    assert stages == [("docker.io/jenkins/jenkins:lts-jdk21", "plugins"),
                      ("docker.io/eclipsecbi/jiro-master:2.555.2", "")]
    run_in_final = dockerfile.split("FROM docker.io/eclipsecbi/jiro-master:2.555.2", 1)[1]
    assert "jenkins-plugin-cli" not in run_in_final
    assert "COPY --from=plugins /tmp/plugins/ /usr/share/jenkins/ref/plugins/" in run_in_final
    assert "HOME=/var/jenkins_home" in run_in_final  # not the image's /var/jenkins (issue 19, item 2)
    model = json.loads(gen.files["science.january/model.json"])
    assert model["jenkins"]["installedPlugins"] is None
    assert gen.files["science.january/image/plugins.txt"].decode().splitlines()[0] == "configuration-as-code"


# --- push and status: the live plugins against the pinned closure ------------------------------------

def test_live_plugins_are_compared_with_the_pinned_closure():
    from generator import push, status
    from generator.jenkins_client import InstalledPlugin

    def live(name, version, active=True):
        return InstalledPlugin(name, version, active, active)
    installed = [live("git", "5.10.1"), live("git-client", "6.7.0"), live("structs", "361.vabc"),
                 live("ldap", "807.v7d7de30930cf", active=False), live("build-timeout", "1.0")]
    model = {"jenkins": {"plugins": ["git", "ldap"], "installedPlugins": {
        "git": "5.10.1", "git-client": "6.6.1", "structs": "362.va_b_695ef4fdf9", "ldap": "807.v7d7de30930cf",
        "kubernetes": "4423.vb_59f230b_ce53"}}}
    report = push.model_plugins(model, installed)
    assert report.missing == ("kubernetes",) and report.inactive == ("ldap",)
    assert report.outdated == (("structs", "361.vabc", "362.va_b_695ef4fdf9"),)
    assert report.newer == (("git-client", "6.7.0", "6.6.1"),)
    assert report.extra == ("build-timeout",)  # the image does not have it, whoever needs it
    assert report.problems()[-1] == \
        "plugin git-client 6.7.0 is not the pinned 6.6.1 (upgraded after the image was built)"
    assert report.as_dict()["newer"] == [{"plugin": "git-client", "installed": "6.7.0", "pinned": "6.6.1"}]
    shown = status.Status("x", "https://x", "c", 2, plugins=report)
    assert shown.plugin_summary() == "1 missing, 1 inactive, 1 outdated, 1 newer"
    # without a catalog: the requests only, their dependencies not extra
    unpinned = push.model_plugins({"jenkins": {"plugins": ["git"], "installedPlugins": None}}, installed)
    assert unpinned.newer == () and "newer" not in unpinned.as_dict() and "git-client" in unpinned.extra


# --- the command line ------------------------------------------------------------------------------

def test_fleet_plugins_commands(tmp_path):
    shutil.copytree(ERRORS_FLEET, tmp_path / "instances")
    os.unlink(tmp_path / "instances" / "catalogs" / "2.555.2.json")
    run = fleettest.fleet_in_process(["plugins", "refresh", "--from", UC, "--versions", VERSIONS], tmp_path)
    assert run.code == 0, run.stderr
    assert run.stdout == ("wrote instances/catalogs/2.555.2.json: 12 plugins (12 added, 0 removed, 0 updated), "
                          "2 security warnings, 1 deprecations\n")
    assert ("instances/a.unknown/instance.yaml:6:22: warning: jenkins.plugins[1]: plugin 'chian-b' is not in"
            in run.stderr)
    usage = fleettest.fleet_in_process(["--instances", os.path.join(fleettest.ROOT, "tests", "audit", "fleets",
                                                                    "plugins", "instances"),
                                        "plugins", "usage", "diamond-bottom", "vulnerable"], tmp_path)
    assert usage.code == 0, usage.stderr
    assert [line.split() for line in usage.stdout.splitlines()] == [
        ["plugin", "version", "instance", "how"],
        ["diamond-bottom", "2.4", "also.vulnerable", "dependency", "of", "diamond-left,", "diamond-right"],
        ["diamond-bottom", "2.4", "ok.plain", "dependency", "of", "diamond-left,", "diamond-right"],
        ["diamond-bottom", "2.4", "with.advisories", "dependency", "of", "diamond-left,", "diamond-right"],
        ["vulnerable", "1.4", "also.vulnerable", "requested", "(instance)"],
        ["vulnerable", "1.4", "with.advisories", "requested", "(instance)"]]
    unknown = fleettest.fleet_in_process(["--instances", os.path.join(fleettest.ROOT, "tests", "audit", "fleets",
                                                                      "plugins", "instances"),
                                          "plugins", "usage", "diamond-botom"], tmp_path)
    assert unknown.code == 1
    assert ("error: no instance installs plugin 'diamond-botom'\n"
            "  hint: did you mean 'diamond-bottom' or 'diamond-top'?") in unknown.stderr


# --- acknowledged advisories ----------------------------------------------------------------------

def _with_acknowledgements(into: str, text: str) -> list[str]:
    path = os.path.join(into, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        fleettest.write(path, fh.read() + text)
    checked = fleet.check_sources(fleet.Paths(instances=into))
    return [d.message for d in checked.diagnostics if d.severity == "warning"]


def test_an_acknowledged_advisory_is_not_warned_about_until_it_expires(advisories_fleet, tmp_path):
    vulnerable = "vulnerable 1.4 has an active security warning SECURITY-9001: Stored XSS vulnerability"
    baseline = _with_acknowledgements(advisories_fleet, "")
    assert vulnerable in baseline
    into = os.path.join(tmp_path, "instances")
    shutil.copytree(advisories_fleet, into)
    quiet = _with_acknowledgements(into, "acknowledgedAdvisories:\n  - {plugin: vulnerable, id: SECURITY-9001, "
                                         "reason: only read by administrators, expires: '2999-01-01'}\n")
    assert vulnerable not in quiet and len(quiet) == len(baseline) - baseline.count(vulnerable)
    later = os.path.join(tmp_path, "later")
    shutil.copytree(advisories_fleet, later)
    expired = _with_acknowledgements(later, "acknowledgedAdvisories:\n  - {plugin: vulnerable, id: SECURITY-9001, "
                                            "reason: only read by administrators, expires: '2000-01-01'}\n"
                                            "  - {plugin: vulnerable, id: SECURITY-1, reason: a misspelt advisory}\n")
    assert vulnerable in expired
    assert "the acknowledgement of vulnerable SECURITY-9001 expired on 2000-01-01: it is reported again" in expired
    assert "no catalog has the advisory SECURITY-1 for vulnerable" in expired


def test_the_audit_shows_an_acknowledged_advisory_with_its_reason(advisories_fleet):
    from generator import audit
    path = os.path.join(advisories_fleet, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        fleettest.write(path, fh.read() + "acknowledgedAdvisories:\n  - {plugin: vulnerable, id: SECURITY-9001, "
                                          "reason: only read by administrators}\n")
    facts = [audit.InstanceFacts.__new__(audit.InstanceFacts)]
    facts[0].name, facts[0].plugin_advisories = "with.advisories", [
        {"kind": "security", "plugin": "vulnerable", "version": "1.4", "id": "SECURITY-9001", "message": "XSS",
         "url": "https://example.org/a"}]
    [found] = audit.plugin_advisories(facts, [{"plugin": "vulnerable", "id": "SECURITY-9001",
                                               "reason": "only read by administrators"}])
    assert found.message.endswith("installed on 1 instance: with.advisories; acknowledged in fleet.yaml: only read "
                                  "by administrators")
