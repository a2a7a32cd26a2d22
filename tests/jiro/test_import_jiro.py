"""`fleet import-jiro`: eight real Jiro instances import, validate, and reproduce Jiro's resources exactly.

The input is tests/fixtures/jiro-instances, a small Jiro checkout (see its SOURCES.md).
The imported tree is compared with tests/jiro/expected/ (FLEET_UPDATE_GOLDEN=1 rewrites it),
and what our generator makes from it with what Jiro generated (target/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import fleettest
import pytest
import yaml

from generator import fleet, jsonnet
from generator.errors import FleetError
from generator.jiro_import import JIRO_RESOURCE_MODEL, import_jiro
from generator.quantity import cpu_millis, memory_mib

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.join(fleettest.ROOT, "tests", "fixtures", "jiro-instances")
EXPECTED = os.path.join(HERE, "expected")
FIXTURES = sorted(os.listdir(os.path.join(CHECKOUT, "instances")))

# What each fixture cannot carry over, by Jiro path (the reasons are checked in the golden files).
# Jiro's generated Prometheus settings that ours fix otherwise (technology.cbi sets them in its
# hand-written JCasC, which is kept):
PROMETHEUS_FIXED = ["target/jenkins/configuration.yml:unclassified.prometheusConfiguration.collectDiskUsage",
                    "target/jenkins/configuration.yml:unclassified.prometheusConfiguration.fetchTestResults"]
NOT_IMPORTED = {
    "eclipse.platform": ["jiro.jsonnet", *PROMETHEUS_FIXED],
    "ee4j.glassfish": PROMETHEUS_FIXED,
    "iot.4diac": PROMETHEUS_FIXED,
    "locationtech.geotrellis": PROMETHEUS_FIXED,
    "modeling.emf": PROMETHEUS_FIXED,
    "modeling.xtext": [*PROMETHEUS_FIXED, 'clouds.kubernetes.templates["centos-8-6gb"].env.JENKINS_REMOTING_JAVA_OPTS',
                       'maven.files["settings.xml"].servers["ossrh-s01"]'],
    "technology.cbi": [],
    "technology.jgit": [*PROMETHEUS_FIXED, "gerrit"],
}
NO_GENERATED_JCASC = "target/jenkins/configuration.yml"  # synthetic instances have no committed output


# --- helpers ------------------------------------------------------------------------------------

def copy_checkout(dest) -> str:
    target = os.path.join(os.fspath(dest), "jiro")
    shutil.copytree(CHECKOUT, target)
    return target


def add_instance(checkout: str, name: str, config: str, files: dict[str, str] | None = None) -> None:
    fleettest.write(os.path.join(checkout, "instances", name, "config.jsonnet"), config)
    fleettest.write(os.path.join(checkout, "instances", name, "jiro.jsonnet"),
                    "local jiro = import '../../templates/jiro.libsonnet';\n\n"
                    'jiro+ {\n  "config.json"+: import "config.jsonnet",\n}\n')
    for rel, text in (files or {}).items():
        fleettest.write(os.path.join(checkout, "instances", name, rel), text)


def load_json(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return json.load(fh)


def read_yaml(*parts):
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def quantities(value, kind: str = ""):
    """Kubernetes quantities as integers (millicores, MiB) so that '1' equals '1000m' and '1Gi' '1024Mi'."""
    if isinstance(value, dict):
        return {k: quantities(v, "cpu" if "cpu" in k else "memory" if "memory" in k else "pods" if k == "pods"
                              else kind) for k, v in value.items()}
    if isinstance(value, list):
        return [quantities(v, kind) for v in value]
    if kind == "cpu":
        return cpu_millis(str(value))
    if kind == "memory":
        return memory_mib(str(value))
    if kind == "pods":
        return int(value)
    return value


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The eight fixtures imported into a new fleet directory, and what our generator makes of it."""
    base = tmp_path_factory.mktemp("jiro")
    into = os.path.join(base, "instances")
    result = import_jiro(CHECKOUT, into)
    generated = fleet.generate(fleet.Paths(instances=into), jobs=1)
    return into, result, generated


def generated_yaml(generated, name: str, rel: str):
    return yaml.safe_load(generated.files[f"{name}/{rel}"])


# --- the eight fixtures ------------------------------------------------------------------------------

def test_all_fixtures_import(imported):
    _, result, _ = imported
    assert [(r.jiro_name, r.status) for r in result.instances] == [(n, "imported") for n in FIXTURES]
    assert result.ok and result.fleet_written
    assert all(not r.diagnostics for r in result.instances)


def modelines_resolved(into: str, files: dict[str, bytes], schemas: str = os.path.join(fleettest.ROOT, "schemas"),
                       ) -> dict[str, bytes]:
    """`files` with each $schema modeline checked to lead to the schema in use from where the file is, and
    written as in the repository's layout (instances/ beside schemas/), so that the tree compares anywhere."""
    out = {}
    for rel, data in files.items():
        first, nl, rest = data.partition(b"\n")
        if first.startswith(b"# yaml-language-server: $schema="):
            target = first.decode().split("=", 1)[1]
            where = os.path.dirname(os.path.join(into, rel))
            schema = os.path.basename(target)
            assert os.path.normpath(os.path.join(where, target)) == os.path.join(schemas, schema), (rel, target)
            depth = "../" * (rel.count("/") + 1)
            first = f"# yaml-language-server: $schema={depth}schemas/{schema}".encode()
        out[rel] = first + nl + rest
    return out


def test_imported_tree_matches_expected(imported):
    into, _, _ = imported
    actual = modelines_resolved(into, fleettest.read_tree(into))
    if fleettest.UPDATE:
        fleettest.replace_tree(EXPECTED, actual)
    diff = fleettest.tree_diff(actual, fleettest.read_tree(EXPECTED))
    assert not diff, diff


def test_report_lists_what_was_not_mapped(imported):
    into, result, _ = imported
    for r in result.instances:
        assert [n.path for n in r.not_imported] == NOT_IMPORTED[r.name], r.name
        with open(os.path.join(into, r.name, "instance.yaml"), encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        assert lines[0].startswith("# yaml-language-server: $schema=")  # where it leads: test_schema_modelines_...
        block = [line for line in lines if line.startswith("#")]
        if NOT_IMPORTED[r.name]:
            assert "# not imported:" in block
            for path in NOT_IMPORTED[r.name]:
                assert any(line.startswith(f"#   - {path}: ") for line in block), (r.name, path)
        else:
            assert "# not imported: nothing" in block


def test_report_json(imported, tmp_path):
    from generator.jiro_import import write_report
    _, result, _ = imported
    write_report(result, tmp_path / "report.json")
    report = load_json(tmp_path / "report.json")
    assert report["summary"]["imported"] == 8 and report["summary"]["failed"] == 0
    by_name = {i["name"]: i for i in report["instances"]}
    assert [n["path"] for n in by_name["technology.jgit"]["notImported"]] == [*PROMETHEUS_FIXED, "gerrit"]
    assert report["fleetNotImported"], "the fleet-wide list is part of the report"


def test_imported_fleet_validates_without_warnings(imported):
    into, _, _ = imported
    checked = fleet.check_sources(fleet.Paths(instances=into))
    assert [d.format() for d in checked.diagnostics] == []
    assert sorted(i.name for i in checked.inputs) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_resource_quota_equals_jiro(imported, name):
    _, _, generated = imported
    jiro = load_json(CHECKOUT, "instances", name, "target", "k8s", "resource-quotas.json")
    ours = generated_yaml(generated, name, "k8s/resourcequota.yaml")
    assert quantities(ours["spec"]["hard"]) == quantities(jiro["spec"]["hard"])
    assert ours["metadata"]["name"] == jiro["metadata"]["name"]


@pytest.mark.parametrize("name", FIXTURES)
def test_limit_range_equals_jiro(imported, name):
    _, _, generated = imported
    jiro = load_json(CHECKOUT, "instances", name, "target", "k8s", "limit-range.json")
    ours = generated_yaml(generated, name, "k8s/limitrange.yaml")
    def by_type(limits):
        return {entry["type"]: quantities(entry) for entry in limits}
    assert by_type(ours["spec"]["limits"]) == by_type(jiro["spec"]["limits"])


@pytest.mark.parametrize("name", FIXTURES)
def test_controller_equals_jiro(imported, name):
    """Jiro sets a CPU request and limit and a memory limit: each one must match (ours adds a memory request)."""
    _, _, generated = imported
    jiro = load_json(CHECKOUT, "instances", name, "target", "k8s", "statefulset.json")
    ours = generated_yaml(generated, name, "k8s/statefulset.yaml")
    jc, oc = jiro["spec"]["template"]["spec"]["containers"][0], ours["spec"]["template"]["spec"]["containers"][0]
    expected, actual = quantities(jc["resources"]), quantities(oc["resources"])
    compared = [(side, res) for side in expected for res in expected[side]]
    assert len(compared) == 3
    for side, res in compared:
        assert actual[side][res] == expected[side][res], (side, res)
    assert actual["requests"]["memory"] == expected["limits"]["memory"]
    # Our own image, built FROM Jiro's controller base image, never Jiro's production image name
    # (a push of ours would replace what Jiro's controllers run; issue 19, item 3).
    assert jc["image"] == f"docker.io/eclipsecbijenkins/{name}:{jc['image'].rsplit(':', 1)[1]}"
    version = jc["image"].rsplit(":", 1)[1]
    assert re.fullmatch(rf"registry\.invalid/jenkins-fleet/{re.escape(name)}:{re.escape(version)}-[0-9a-f]{{12}}",
                        oc["image"]), oc["image"]
    assert generated.files[f"{name}/image/IMAGE"].decode() == oc["image"] + "\n"
    dockerfile = generated.files[f"{name}/image/Dockerfile"].decode()
    assert f"\nFROM docker.io/eclipsecbi/jiro-master:{version}\n" in dockerfile
    # the level moves to the pod, where it labels the volumes too, and the namespace agrees with it
    level = jc["securityContext"]["seLinuxOptions"]["level"]
    assert ours["spec"]["template"]["spec"]["securityContext"]["seLinuxOptions"] == {"level": level}
    namespace = generated_yaml(generated, name, "k8s/namespace.yaml")
    assert namespace["metadata"]["annotations"]["openshift.io/sa.scc.mcs"] == level
    jv, ov = jiro["spec"]["volumeClaimTemplates"][0]["spec"], ours["spec"]["volumeClaimTemplates"][0]["spec"]
    assert quantities(ov["resources"]["requests"]["storage"], "memory") == \
        quantities(jv["resources"]["requests"]["storage"], "memory")
    assert ov.get("storageClassName") == jv.get("storageClassName")


@pytest.mark.parametrize("name", FIXTURES)
def test_default_agent_resources_equal_jiro(imported, name):
    _, _, generated = imported
    jiro = quantities(load_json(CHECKOUT, "instances", name, "target", "config.json")
                      ["kubernetes"]["agents"]["defaultResources"])
    model = json.loads(generated.files[f"{name}/model.json"])
    assert model["resources"]["agent"] == jiro
    basic = _jcasc_templates(generated, name)["basic"]["containers"][0]
    assert {"cpu": {"request": cpu_millis(basic["resourceRequestCpu"]), "limit": cpu_millis(basic["resourceLimitCpu"])},
            "memory": {"request": memory_mib(basic["resourceRequestMemory"]),
                       "limit": memory_mib(basic["resourceLimitMemory"])}} == jiro


@pytest.mark.parametrize("name", FIXTURES)
def test_every_jiro_pod_template_is_reproduced(imported, name):
    """Same names, labels, image, mode and resources as Jiro's pod templates (custom ones included)."""
    _, _, generated = imported
    jiro = load_json(CHECKOUT, "instances", name, "target", "config.json")["clouds"]["kubernetes"]["templates"]
    ours = _jcasc_templates(generated, name)
    assert sorted(ours) == sorted(jiro)
    for template, t in jiro.items():
        o = ours[template]
        container = o["containers"][0]
        assert o["label"] == " ".join(t["labels"]), template
        assert o["nodeUsageMode"] == t["mode"], template
        d = t["docker"]
        assert container["image"] == f"{d['registry']}/{d['repository']}/{d['image']}:{d['tag']}", template
        assert quantities(t["kubernetes"]["resources"]) == {
            "cpu": {"request": cpu_millis(container["resourceRequestCpu"]),
                    "limit": cpu_millis(container["resourceLimitCpu"])},
            "memory": {"request": memory_mib(container["resourceRequestMemory"]),
                       "limit": memory_mib(container["resourceLimitMemory"])}}, template


@pytest.mark.parametrize("name", FIXTURES)
def test_url_namespace_and_cloud_cap_equal_jiro(imported, name):
    _, _, generated = imported
    route = load_json(CHECKOUT, "instances", name, "target", "k8s", "route.json")
    ours = generated_yaml(generated, name, "k8s/route.yaml")
    assert (ours["spec"]["host"], ours["spec"]["path"]) == (route["spec"]["host"], route["spec"]["path"])
    namespace = load_json(CHECKOUT, "instances", name, "target", "k8s", "namespace.json")["metadata"]["name"]
    assert generated_yaml(generated, name, "k8s/namespace.yaml")["metadata"]["name"] == namespace
    config = load_json(CHECKOUT, "instances", name, "target", "config.json")
    cloud = generated_yaml(generated, name, "jenkins/jenkins.yaml")["jenkins"]["clouds"][0]["kubernetes"]
    assert cloud["containerCapStr"] == str(config["jenkins"]["maxConcurrency"])


@pytest.mark.parametrize("name", FIXTURES)
def test_names_that_hold_state_equal_jiro(imported, name):
    """Applied in Jiro's namespace, our StatefulSet's pod mounts the claim that holds Jiro's home, and
    our Route is Jiro's, updated in place rather than a second one for the same host and path."""
    _, _, generated = imported
    jiro = load_json(CHECKOUT, "instances", name, "target", "k8s", "statefulset.json")
    ours = generated_yaml(generated, name, "k8s/statefulset.yaml")

    def claim(sts):
        return f"{sts['spec']['volumeClaimTemplates'][0]['metadata']['name']}-{sts['metadata']['name']}-0"

    assert ours["metadata"]["name"] == jiro["metadata"]["name"]
    assert claim(ours) == claim(jiro) == f"jenkins-home-cephfs-{jiro['metadata']['name']}-0"
    home = ours["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert [m["name"] for m in ours["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            if m["mountPath"] == "/var/jenkins_home"] == [home]
    route = load_json(CHECKOUT, "instances", name, "target", "k8s", "route.json")
    assert generated_yaml(generated, name, "k8s/route.yaml")["metadata"]["name"] == route["metadata"]["name"]


def test_state_names_from_committed_objects_or_jiro_rules(tmp_path):
    """Jiro's committed objects win over its naming rules (with a note); without them the rules apply;
    a name our schema cannot hold is reported with what it means for the data."""
    checkout = copy_checkout(tmp_path)
    k8s = os.path.join(checkout, "instances", "technology.cbi", "target", "k8s")
    sts = load_json(k8s, "statefulset.json")
    sts["metadata"]["name"] = "cbi-controller"
    fleettest.write(os.path.join(k8s, "statefulset.json"), json.dumps(sts))
    shutil.rmtree(os.path.join(checkout, "instances", "technology.jgit", "target", "k8s"))
    add_instance(checkout, "technology.long", "{ project+: { fullName: 'technology.long', displayName: 'Long' },"
                                              " kubernetes+: { master+: { stsName: '%s' } } }" % ("s" * 53))
    into = os.path.join(tmp_path, "instances")
    result = import_jiro(checkout, into, names=["technology.cbi", "technology.jgit", "technology.long"])
    reports = {r.jiro_name: r for r in result.instances}
    cbi = read_yaml(into, "technology.cbi", "instance.yaml")
    assert (cbi["deployment"]["statefulSetName"], cbi["deployment"]["routeName"]) == ("cbi-controller", "cbi")
    assert cbi["storage"]["claimTemplateName"] == "jenkins-home-cephfs"
    assert ("Jiro's committed objects name the StatefulSet 'cbi-controller', not 'cbi' as its templates would: "
            "'cbi-controller' is kept") in reports["technology.cbi"].notes
    jgit = read_yaml(into, "technology.jgit", "instance.yaml")
    assert (jgit["deployment"]["statefulSetName"], jgit["deployment"]["routeName"],
            jgit["storage"]["claimTemplateName"]) == ("jgit", "jgit", "jenkins-home-cephfs")
    long = read_yaml(into, "technology.long", "instance.yaml")
    assert "statefulSetName" not in long["deployment"]
    (lost,) = [n for n in reports["technology.long"].not_imported if n.path == "kubernetes.master.stsName"]
    assert "will not find its Jiro home volume under our names" in lost.reason


def _jcasc_templates(generated, name) -> dict:
    jcasc = generated_yaml(generated, name, "jenkins/jenkins.yaml")
    return {t["name"]: t for t in jcasc["jenkins"]["clouds"][0]["kubernetes"]["templates"]}


def test_jcasc_override_is_kept(imported):
    into, _, generated = imported
    with open(os.path.join(CHECKOUT, "instances", "modeling.emf", "jenkins", "configuration.yml"), "rb") as fh:
        original = fh.read()
    with open(os.path.join(into, "modeling.emf", "jenkins.yaml"), "rb") as fh:
        assert fh.read().endswith(original.rstrip(b"\n") + b"\n")
    jcasc = generated_yaml(generated, "modeling.emf", "jenkins/jenkins.yaml")
    assert jcasc["jenkins"]["nodes"][0]["permanent"]["name"] == "promotion-vm"


def test_stand_in_agrees_with_what_jiro_generated():
    """The importer's stand-in for Jiro's defaults gives what Jiro resolved for every fixture."""
    from generator.jiro_import import evaluate
    for name in FIXTURES:
        target = load_json(CHECKOUT, "instances", name, "target", "config.json")
        tag = target["clouds"]["kubernetes"]["templates"]["basic"]["docker"]["tag"]
        merged, _ = evaluate(CHECKOUT, os.path.join(CHECKOUT, "instances", name), tag)
        for key in ("project", "deployment", "storage", "seLinuxLevel"):
            assert merged.get(key) == target.get(key), (name, key)
        for key in ("version", "maxConcurrency", "staticAgentCount", "agentConnectionTimeout", "timezone", "theme",
                    "plugins", "permissions", "pluginsForceUpgrade"):
            assert merged["jenkins"][key] == target["jenkins"][key], (name, key)
        assert merged["kubernetes"]["agents"]["defaultResources"] == target["kubernetes"]["agents"]["defaultResources"]
        assert merged["kubernetes"]["master"]["namespace"] == target["kubernetes"]["master"]["namespace"]
        for template, t in target["clouds"]["kubernetes"]["templates"].items():
            m = merged["clouds"]["kubernetes"]["templates"][template]
            assert (m["labels"], m["mode"], m["docker"], m["kubernetes"]["resources"]) == \
                (t["labels"], t["mode"], t["docker"], t["kubernetes"]["resources"]), (name, template)


def test_jiro_constants_are_the_model_defaults():
    """Jiro's resource constants (quota-model) are exactly our model's defaults."""
    quota = os.path.join(fleettest.ROOT, "templates", "model", "quota.libsonnet")
    defaults = json.loads(jsonnet.evaluate_snippet("defaults", f"(import '{quota}').defaults"))
    assert defaults == JIRO_RESOURCE_MODEL


# --- the command line ------------------------------------------------------------------------------

def test_cli_imports_reports_and_refuses_to_overwrite(tmp_path):
    checkout = copy_checkout(tmp_path)
    into = tmp_path / "fleet"
    run = fleettest.fleet_in_process(["--instances", into, "import-jiro", checkout, "--report", "report.json"],
                                     cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "imported technology.jgit" in run.stderr
    assert "not imported: gerrit: Gerrit sites" in run.stderr
    assert "8 imported, 0 failed, 0 already present" in run.stderr
    assert load_json(tmp_path, "report.json")["summary"]["imported"] == 8
    assert fleettest.fleet_in_process(["--instances", into, "validate"], cwd=tmp_path).code == 0

    again = fleettest.fleet_in_process(["import-jiro", checkout, "--into", into, "technology.cbi"], cwd=tmp_path)
    assert again.code == 1
    assert "instance directory already exists" in again.stderr and "--force" in again.stderr

    # --force rewrites the files, and drops a jenkins.yaml the Jiro instance no longer has
    (into / "technology.cbi" / "instance.yaml").write_text("edited by hand\n")
    os.unlink(os.path.join(checkout, "instances", "technology.cbi", "jenkins", "configuration.yml"))
    forced = fleettest.fleet_in_process(["import-jiro", checkout, "--into", into, "--force", "technology.*"],
                                        cwd=tmp_path)
    assert forced.code == 0, forced.stderr
    assert (into / "technology.cbi" / "instance.yaml").read_text().startswith("# yaml-language-server")
    assert not (into / "technology.cbi" / "jenkins.yaml").exists()
    assert "1 imported" not in forced.stderr and "2 imported" in forced.stderr


def test_schema_modelines_lead_to_the_schemas_wherever_the_fleet_is(tmp_path):
    """Outside the repository `../../schemas/...` led nowhere: each modeline is relative to the file."""
    outside = tmp_path / "elsewhere" / "fleet"
    import_jiro(CHECKOUT, os.fspath(outside), ["technology.jgit"])
    first = (outside / "technology.jgit" / "instance.yaml").read_text().splitlines()[0]
    target = first.split("$schema=", 1)[1]
    assert os.path.samefile(outside / "technology.jgit" / target,
                            os.path.join(fleettest.ROOT, "schemas", "instance.schema.json"))
    assert os.path.samefile(outside / (outside / "fleet.yaml").read_text().splitlines()[0].split("$schema=", 1)[1],
                            os.path.join(fleettest.ROOT, "schemas", "fleet.schema.json"))
    # in a repository's layout (instances/ beside schemas/) the lines are the usual relative ones
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(fleettest.ROOT, "schemas"), repo / "schemas")
    paths = fleet.Paths(instances=os.fspath(repo / "instances"), schemas=os.fspath(repo / "schemas"))
    import_jiro(CHECKOUT, paths.instances, ["technology.jgit"], paths=paths)
    assert (repo / "instances" / "technology.jgit" / "instance.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../../schemas/instance.schema.json\n")
    assert (repo / "instances" / "fleet.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../schemas/fleet.schema.json\n")


def test_cli_help_has_an_example():
    run = fleettest.fleet_in_process(["import-jiro", "--help"], cwd=fleettest.ROOT)
    assert run.code == 0
    assert "fleet import-jiro ../jiro --into fleet" in run.stdout
    assert "JIRO_CHECKOUT" in run.stdout


def test_cli_rejects_a_directory_that_is_not_a_jiro_checkout(tmp_path):
    run = fleettest.fleet_in_process(["import-jiro", tmp_path, "--into", tmp_path / "out"], cwd=tmp_path)
    assert run.code == 1
    assert "not a Jiro checkout" in run.stderr
    unknown = fleettest.fleet_in_process(["import-jiro", CHECKOUT, "--into", tmp_path / "out", "technology.cbj"],
                                         cwd=tmp_path)
    assert unknown.code == 1 and "did you mean technology.cbi" in unknown.stderr


# --- Jsonnet: imports, the permissions library, unmappable values ------------------------------------

PERMISSIONS_CONFIG = """\
local permissionsTemplates = import '../../templates/permissions.libsonnet';
{
  project+: { fullName: "technology.perms", displayName: "Permissions test" },
  jenkins+: {
    permissions+: permissionsTemplates.user("bot@example.org", ["Job/Build", "Job/Read"])
      + permissionsTemplates.group("technology.perms.releng", permissionsTemplates.committerPermissionsList),
  },
}
"""


def test_permissions_library_from_the_checkout(tmp_path):
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.perms", PERMISSIONS_CONFIG)
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.perms"])
    (report,) = result.instances
    assert report.status == "imported", [d.format() for d in report.diagnostics]
    data = yaml.safe_load((tmp_path / "out" / "technology.perms" / "instance.yaml").read_text())
    assert data["jenkins"]["permissions"] == [
        {"user": "coordinator@example.org", "permissions": ["Job/Build", "Job/Read"]},  # permissions_extra
        {"user": "bot@example.org", "permissions": ["Job/Build", "Job/Read"]},
        {"group": "technology.perms.releng", "permissions": [
            "Agent/Build", "Credentials/View", "Job/Build", "Job/Cancel", "Job/Configure", "Job/Create", "Job/Delete",
            "Job/Move", "Job/Read", "Job/Workspace", "Overall/Read", "Run/Delete", "Run/Replay", "Run/Update",
            "SCM/Tag", "View/Configure", "View/Create", "View/Delete", "View/Read"]},
    ]
    assert [n.path for n in report.not_imported] == [NO_GENERATED_JCASC]


def test_jiro_defaults_library_and_super(tmp_path):
    """Instances that start from templates/config.libsonnet and rewrite super.permissions (tm4e style)."""
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.tm4e", """\
local default = import '../../templates/config.libsonnet';
default + {
  project+: { fullName: "technology.tm4e", displayName: "Eclipse TM4E" },
  jenkins+: {
    permissions: [
      if std.objectHas(p, 'group') && p.group.name == $.project.fullName
      then { group: { name: p.group.name, permissions: p.group.permissions + ["Agent/Configure"] } }
      else p
      for p in super.permissions
    ],
  },
}
""")
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.tm4e"])
    assert result.ok, [d.format() for r in result.instances for d in r.diagnostics]
    data = yaml.safe_load((tmp_path / "out" / "technology.tm4e" / "instance.yaml").read_text())
    assert data["jenkins"]["permissions"] == [{"group": "technology.tm4e", "permissions": ["Agent/Configure"]}]


def test_imports_may_not_leave_the_checkout(tmp_path):
    checkout = copy_checkout(tmp_path)
    fleettest.write(tmp_path / "outside.libsonnet", "{}")
    add_instance(checkout, "technology.escape", """\
local outside = import '../../../outside.libsonnet';
outside + { project+: { fullName: "technology.escape", displayName: "Escape" } }
""")
    add_instance(checkout, "technology.broken", "{ project+: { fullName: ")
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.escape", "technology.broken"])
    assert [r.status for r in result.instances] == ["failed", "failed"]
    broken, escape = result.instances
    assert "Jsonnet evaluation failed" in broken.diagnostics[0].message
    assert "leaves the Jiro checkout" in escape.diagnostics[0].message
    assert not (tmp_path / "out" / "technology.escape").exists()
    assert not result.ok


def test_unmappable_values_are_listed_and_the_rest_imported(tmp_path):
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.odd", """\
{
  project+: { fullName: "technology.odd", displayName: "Odd", resourcePacks: 2 },
  jenkins+: { theme: "solarized", pluginsForceUpgrade: false, maxConcurrency: 3, plugins+: ["bad plugin!", "git"] },
  kubernetes+: { master+: { namespace: "odd-ns", resources: { cpu: { request: "100m" } } } },
  deployment+: { host: "ci.example.org", prefix: "/ci/odd" },
  storage: { storageClassName: "fast", quota: "2Pi", reclaim: "keep" },
  gradle+: { generate: true },
  maven+: { generate: false },
  clouds+: { kubernetes+: { local c = self, templates+: {
    "Big_Template": c.templates["ubuntu-2404"] { labels: ["big"] },
    "ubuntu-big": c.templates["ubuntu-2404"] { labels: ["big"], maxHeap: "1g",
                                               kubernetes+: { resources+: { cpu: { request: "3", limit: "4" } } } },
  } } },
}
""", {"jenkins/configuration.yml": "unclassified:\n  timestamper:\n    allPipelines: true\n",
      "README.md": "notes\n"})
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.odd"])
    (report,) = result.instances
    assert report.status == "imported", [d.format() for d in report.diagnostics]
    paths = [n.path for n in report.not_imported]
    assert paths == [
        "README.md",
        NO_GENERATED_JCASC,
        "jenkins.theme",
        "jenkins.plugins",
        "storage.reclaim",
        "storage.quota",
        "clouds.kubernetes.templates.Big_Template",
        'clouds.kubernetes.templates["ubuntu-big"].maxHeap',
        "jenkins.pluginsForceUpgrade",
        "kubernetes.master.resources",
    ]
    data = yaml.safe_load((tmp_path / "out" / "technology.odd" / "instance.yaml").read_text())
    assert data["jenkins"] == {"maxConcurrency": 3}
    assert data["deployment"] == {"host": "ci.example.org", "prefix": "/ci/odd", "namespace": "odd-ns",
                                  "statefulSetName": "odd", "routeName": "odd"}
    assert data["storage"] == {"storageClassName": "fast", "claimTemplateName": "jenkins-home-cephfs"}
    # an enabled tool names the Secret Jiro mounted (nothing else would)
    assert data["buildTools"] == {"maven": {"enabled": False}, "gradle": {
        "enabled": True, "propertiesSecret": {"name": "gradle-secret-dir", "key": "gradle.properties"}}}
    assert data["agents"]["podTemplates"] == [{
        "name": "ubuntu-big", "labels": ["big"],
        "image": "docker.io/eclipsecbi/jiro-agent-ubuntu-2404:remoting-3352.v17a_fb_4b_2773f",
        "resources": {"cpu": {"request": "3", "limit": "4"}}}]
    assert (tmp_path / "out" / "technology.odd" / "jenkins.yaml").exists()


def test_an_instance_that_cannot_validate_is_not_written(tmp_path):
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.long", '{ project+: { fullName: "technology.long", displayName: "%s" } }'
                 % ("x" * 300))
    add_instance(checkout, "technology.badyaml", '{ project+: { fullName: "technology.badyaml", displayName: "B" } }',
                 {"jenkins/configuration.yml": "jenkins:\n  a: &x 1\n  b: *x\n"})
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.long", "technology.badyaml", "iot.4diac"])
    fine, badyaml, long = result.instances
    assert fine.status == "imported"  # the unreadable file of another instance does not stop it
    assert long.status == "failed" and "project.displayName" in long.diagnostics[0].message
    assert badyaml.status == "failed"
    assert any("anchors and aliases" in d.message for d in badyaml.diagnostics)
    assert badyaml.diagnostics[0].file == os.path.join(os.fspath(tmp_path / "out"), "technology.badyaml",
                                                       "jenkins.yaml")
    assert not (tmp_path / "out" / "technology.badyaml").exists()
    assert not (tmp_path / "out" / "technology.long").exists()


def test_a_new_fleet_never_pushes_to_jiros_image_repository(tmp_path):
    """Issue 19, item 3: a placeholder that cannot be pushed to, the repository given, never Jiro's."""
    result = import_jiro(CHECKOUT, os.fspath(tmp_path / "a"), ["iot.4diac"])
    assert read_yaml(tmp_path / "a", "fleet.yaml")["defaults"]["imageRepository"] == "registry.invalid/jenkins-fleet"
    assert any(n.startswith("defaults.imageRepository is a placeholder (registry.invalid/jenkins-fleet)")
               and "docker.io/eclipsecbijenkins" in n for n in result.fleet_notes), result.fleet_notes
    import_jiro(CHECKOUT, os.fspath(tmp_path / "b"), ["iot.4diac"], image_repository="quay.io/ours")
    assert read_yaml(tmp_path / "b", "fleet.yaml")["defaults"]["imageRepository"] == "quay.io/ours"
    with pytest.raises(FleetError) as err:
        import_jiro(CHECKOUT, os.fspath(tmp_path / "c"), ["iot.4diac"], image_repository="docker.io/eclipsecbijenkins")
    assert "is where Jiro pushes the images its controllers run" in err.value.diagnostics[0].message
    assert not os.path.exists(tmp_path / "c")


# --- importing into an existing fleet -----------------------------------------------------------------

def test_existing_fleet_refuses_unknown_cluster_and_version_and_pins_latest(tmp_path):
    """The sample fleet: other defaults, latest 2.555.2, a profile for ee4j.* on another cluster."""
    into = fleettest.copy_sample_fleet(tmp_path)
    for name in os.listdir(into):
        if name not in ("fleet.yaml", "catalogs"):
            shutil.rmtree(os.path.join(into, name))
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.elsewhere",
                 '{ project+: { fullName: "technology.elsewhere", displayName: "E" }, '
                 'deployment+: { cluster: "okd-c9" } }')
    add_instance(checkout, "technology.future",
                 '{ project+: { fullName: "technology.future", displayName: "F" }, jenkins+: { version: "2.999.1" } }')
    with open(os.path.join(into, "fleet.yaml"), "rb") as fh:
        fleet_before = fh.read()
    result = import_jiro(checkout, into)
    status = {r.name: r.status for r in result.instances}
    assert status.pop("technology.elsewhere") == "failed"
    assert status.pop("technology.future") == "failed"
    assert set(status.values()) == {"imported"}
    by_name = {r.name: r for r in result.instances}
    assert "cluster 'okd-c9' is not defined" in by_name["technology.elsewhere"].diagnostics[0].message
    assert "'2.999.1' is not in the fleet's controller catalog" in by_name["technology.future"].diagnostics[0].message
    with open(os.path.join(into, "fleet.yaml"), "rb") as fh:
        assert fh.read() == fleet_before

    glassfish = read_yaml(into, "ee4j.glassfish", "instance.yaml")
    # Jiro's 'latest' (2.541.3) is pinned; the ee4j profile's cluster and host are overridden back to Jiro's
    assert glassfish["jenkins"]["version"] == "2.541.3"
    assert glassfish["deployment"]["cluster"] == "okd-c1" and glassfish["deployment"]["host"] == "ci.eclipse.org"
    assert "copyartifact" not in glassfish["jenkins"]["plugins"]  # the ee4j profile provides it
    cbi = read_yaml(into, "technology.cbi", "instance.yaml")
    assert cbi["jenkins"]["version"] == "2.555.2"
    # Jiro's plugin requests are kept; those the sample catalog lacks are reported, and only they
    # stop `fleet validate` (issue 16)
    assert "slack" in cbi["jenkins"]["plugins"] and "minio" in cbi["jenkins"]["plugins"]
    assert "minio" in by_name["technology.cbi"].missing_plugins
    assert "slack" not in by_name["technology.cbi"].missing_plugins  # the catalog has it
    with pytest.raises(FleetError) as err:
        fleet.validate(fleet.Paths(instances=into), ["technology.cbi"])
    assert {d.message for d in err.value.errors} == {f"unknown plugin '{p}'"
                                                    for p in by_name["technology.cbi"].missing_plugins}

    # The quotas, without the catalogs (the sample catalog does not cover Jiro's plugins)
    with open(os.path.join(into, "fleet.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    fleettest.write(os.path.join(into, "fleet.yaml"), re.sub(r"\n +catalog: [^\n]*", "", text))
    generated = fleet.generate(fleet.Paths(instances=into), jobs=1)
    for name in FIXTURES:
        jiro = load_json(CHECKOUT, "instances", name, "target", "k8s", "resource-quotas.json")
        ours = yaml.safe_load(generated.files[f"{name}/k8s/resourcequota.yaml"])
        assert quantities(ours["spec"]["hard"]) == quantities(jiro["spec"]["hard"]), name


# --- a fleet of Jiro's size ---------------------------------------------------------------------------

# Jiro has about 200; 50 exercise the same paths (every fixture several times, name collisions across
# copies) in a quarter of the time. FLEET_JIRO_INSTANCES=200 for the real size (about 7 s here).
JIRO_COPIES = int(os.environ.get("FLEET_JIRO_INSTANCES", "50"))


@pytest.mark.slow
def test_importing_a_fleet_of_many_instances(tmp_path):
    checkout = os.path.join(tmp_path, "jiro")
    shutil.copytree(os.path.join(CHECKOUT, "templates"), os.path.join(checkout, "templates"))
    for i in range(JIRO_COPIES):
        source = FIXTURES[i % len(FIXTURES)]
        name = f"{source}{i:03d}"
        shutil.copytree(os.path.join(CHECKOUT, "instances", source), os.path.join(checkout, "instances", name))
        config = os.path.join(checkout, "instances", name, "config.jsonnet")
        with open(config, encoding="utf-8") as fh:
            text = fh.read().replace(f'fullName: "{source}"', f'fullName: "{name}"')
        fleettest.write(config, text)
    started = time.monotonic()
    result = import_jiro(checkout, os.fspath(tmp_path / "out"))
    elapsed = time.monotonic() - started
    print(f"\nimported {len(result.instances)} Jiro instances in {elapsed:.2f}s")
    assert result.ok and len(result.instances) == JIRO_COPIES
    assert elapsed < 60


def test_missing_jiro_helpers_are_reported_and_cross_checked(tmp_path):
    """Without templates/plugins.libsonnet, ee4j.glassfish lacks jacoco: the committed output shows it."""
    checkout = copy_checkout(tmp_path)
    os.unlink(os.path.join(checkout, "templates", "plugins.libsonnet"))
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["ee4j.glassfish"], image_repository="quay.io/ours")
    assert result.fleet_notes == [("the checkout has no templates/plugins.libsonnet: what Jiro adds there per "
                                  "project is not imported")]
    (report,) = result.instances
    assert any(n.startswith("jenkins.plugins differs from Jiro's committed output") and "jacoco" in n
               for n in report.notes), report.notes


def test_nothing_is_written_when_nothing_imports(tmp_path):
    checkout = os.path.join(tmp_path, "jiro")
    add_instance(checkout, "technology.old", '{ project+: { fullName: "technology.old", displayName: "Old" }, '
                                             'jenkins+: { version: "2.164.1-beta" } }')
    result = import_jiro(checkout, os.fspath(tmp_path / "out"))
    (report,) = result.instances
    assert report.status == "failed"
    assert report.diagnostics[0].message == "jenkins.version '2.164.1-beta' cannot be imported"
    assert not result.fleet_written and not (tmp_path / "out").exists()
    shutil.rmtree(os.path.join(checkout, "instances", "technology.old"))
    with pytest.raises(FleetError, match="no Jiro instances"):
        import_jiro(checkout, os.fspath(tmp_path / "out"))


def test_written_files_follow_the_umask(tmp_path):
    mask = os.umask(0o027)
    try:
        import_jiro(CHECKOUT, os.fspath(tmp_path / "out"), ["iot.4diac"])
    finally:
        os.umask(mask)
    for rel in ("fleet.yaml", "iot.4diac/instance.yaml", "iot.4diac/jenkins.yaml"):
        assert os.stat(tmp_path / "out" / rel).st_mode & 0o777 == 0o640, rel
    assert [f for f in os.listdir(tmp_path / "out") if f.startswith(".")] == []  # no scratch or temp files left


def test_a_pod_template_beyond_the_limit_range_is_refused(tmp_path):
    """`fleet validate` checks resolved models too; so does the import, before writing."""
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.huge", """\
{
  project+: { fullName: "technology.huge", displayName: "Huge" },
  clouds+: { kubernetes+: { local c = self, templates+: {
    huge: c.templates.basic {
      labels: ["huge"], kubernetes+: { resources+: { memory: { request: "20Gi", limit: "20Gi" } } },
    },
  } } },
}
""")
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.huge", "iot.4diac"])
    huge = {r.name: r for r in result.instances}["technology.huge"]
    assert huge.status == "failed"
    assert any("exceeds the LimitRange container maximum of 8192Mi" in d.message for d in huge.diagnostics)
    assert huge.diagnostics[0].file.endswith(os.path.join("technology.huge", "instance.yaml"))
    assert not (tmp_path / "out" / "technology.huge").exists()
    assert (tmp_path / "out" / "iot.4diac" / "instance.yaml").exists()


def test_older_permission_form_and_grants_the_fleet_adds(tmp_path):
    """Jiro's older `principal` entries; an instance that replaced Jiro's default grants entirely."""
    checkout = copy_checkout(tmp_path)
    add_instance(checkout, "technology.legacy", """\
{
  project+: { fullName: "technology.legacy", displayName: "Legacy" },
  jenkins+: { permissions: [
    { principal: "admins", grantedPermissions: ["Overall/Administer"] },
    { principal: "anonymous", grantedPermissions: ["Overall/Read"] },
    { principal: "someone@example.org", grantedPermissions: ["Job/Build"] },
  ] },
}
""")
    result = import_jiro(checkout, os.fspath(tmp_path / "out"), ["technology.legacy"])
    (report,) = result.instances
    assert report.status == "imported"
    data = read_yaml(tmp_path, "out", "technology.legacy", "instance.yaml")
    assert data["jenkins"]["permissions"] == [{"user": "anonymous", "permissions": ["Overall/Read"]},
                                              {"user": "someone@example.org", "permissions": ["Job/Build"]}]
    reasons = [n.reason for n in report.not_imported if n.path == "jenkins.permissions"]
    assert len(reasons) == 2
    assert reasons[0].startswith("the fleet grants group common Job/ExtendedRead, Job/Read, Overall/Read, which Jiro")
    assert reasons[1].startswith("the fleet grants group technology.legacy Agent/Build, Credentials/View")
