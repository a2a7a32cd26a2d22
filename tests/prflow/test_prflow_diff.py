"""`fleet diff`: the rendered diff per instance and object, and the structural diff under it."""

from __future__ import annotations

import json

import pytest
from prflowtest import fleet, git, set_key

from generator import rendered_diff as diff_mod
from generator import value_diff


def rendered(repo, *args):
    run = fleet(repo, "diff", "-j", "1", *args)
    assert run.code == 0, run.stderr
    return run.stdout


def test_packs_change(fleet_repo):
    set_key(fleet_repo / "instances" / "technology.cbi" / "instance.yaml", "resourcePacks", "6")
    out = rendered(fleet_repo, "--base", "main")
    main = git(fleet_repo, "rev-parse", "main")[:12]
    assert out.splitlines()[0] == f"Rendered diff: main ({main}) -> working tree"
    # P=6, C=12, S=3: controller 2200m; quota 2200 + 12 x 200 + 6 x 2000 = 16600m (docs/quota-model.md)
    expected = """
~ technology.cbi: changed (okd-c1, namespace cbi)
    ~ jenkins/jenkins.yaml  JCasC
        ~ jenkins.clouds[kubernetes].containerCapStr: "10" -> "12"
        ~ jenkins.clouds[kubernetes].templates[basic].instanceCap: 10 -> 12
"""
    assert expected in out
    assert '''    ~ k8s/configmap-jenkins-config.yaml  ConfigMap/jenkins-config
        ~ data["jenkins.yaml"]: "<same as jenkins/jenkins.yaml, sha256 ''' in out
    assert """    ~ k8s/resourcequota.yaml  ResourceQuota/jenkins-instance-quota
        ~ spec.hard["limits.cpu"]: "26800m" -> "32000m"
        ~ spec.hard["limits.memory"]: "50432Mi" -> "60160Mi"
        ~ spec.hard.pods: "11" -> "13"
        ~ spec.hard["requests.cpu"]: "13900m" -> "16600m"
        ~ spec.hard["requests.memory"]: "50432Mi" -> "60160Mi"
""" in out
    assert '        ~ spec.template.spec.containers[jenkins].resources.requests.cpu: "1900m" -> "2200m"' in out
    assert "        ~ project.resourcePacks: 5 -> 6" in out
    assert out.rstrip().splitlines()[-1].startswith("0 added, 1 changed, 0 removed, 12 unchanged instances; ")
    assert "science.january" not in out  # unchanged instances are not listed

    doc = json.loads(fleet(fleet_repo, "diff", "-j", "1", "--base", "main", "--format", "json").stdout)
    assert doc["formatVersion"] == 1 and doc["base"]["commit"] == git(fleet_repo, "rev-parse", "main")
    assert doc["summary"]["changed"] == 1 and doc["summary"]["unchanged"] == 12
    [cbi] = doc["instances"]
    quota = next(o for o in cbi["objects"] if o["file"] == "k8s/resourcequota.yaml")
    assert quota["object"] == "ResourceQuota/jenkins-instance-quota" and quota["change"] == "changed"
    assert {"kind": "changed", "path": 'spec.hard["requests.cpu"]', "old": "13900m", "new": "16600m"} in quota["fields"]


def test_template_change_reaches_every_instance(fleet_repo):
    """The base renders with its own templates: main reserves 100m per jnlp sidecar, the working tree
    (rendered with the tool's templates, as in tests/audit) 200m."""
    quota = fleet_repo / "templates" / "model" / "quota.libsonnet"
    text = quota.read_text()
    assert "cpuMillis: 200," in text
    quota.write_text(text.replace("cpuMillis: 200,", "cpuMillis: 100,", 1))
    git(fleet_repo, "commit", "-q", "-am", "smaller jnlp reservation")
    git(fleet_repo, "checkout", "-q", "-b", "feature", "HEAD~1")
    out = rendered(fleet_repo, "--base", "main")
    assert out.rstrip().splitlines()[-1].startswith("0 added, 13 changed, 0 removed, 0 unchanged instances")
    # technology.cbi: C = 10 agents, 100m more each
    assert '        ~ spec.hard["requests.cpu"]: "12900m" -> "13900m"' in out
    assert "        ~ resources.jnlp.cpu.request: 100 -> 200" in out


def test_removed_and_added_instances(fleet_repo):
    git(fleet_repo, "rm", "-r", "-q", "instances/science.january")
    out = rendered(fleet_repo, "--base", "main")
    assert "- science.january: removed (okd-c1, namespace january)" in out
    assert "    - k8s/namespace.yaml  Namespace/january" in out
    assert "    - jenkins/jenkins.yaml  JCasC" in out
    assert out.rstrip().splitlines()[-1].startswith("0 added, 0 changed, 1 removed, 12 unchanged instances")


def test_jcasc_plugins_and_names_filter(fleet_repo):
    inst = fleet_repo / "instances" / "science.january" / "instance.yaml"
    inst.write_text(inst.read_text() + "jenkins:\n  plugins: [slack]\n  permissions:\n"
                                       "    - user: bot@example.org\n      permissions: [Job/Build]\n")
    set_key(fleet_repo / "instances" / "tools.cdt" / "instance.yaml", "resourcePacks", "4")
    out = rendered(fleet_repo, "--base", "main", "science.*")
    assert "tools.cdt" not in out
    assert '        ~ lines: +"apache-httpcomponents-client-5-api:5.5-166.v870a_96374f91" +"json-path-api:2.10.0-202.' \
           'va_9cc16c1e476" +"slack:795.v4b_9705b_e6d47" +"token-macro:477.vd4f0dc3cb_cf1"' in out  # plugins.txt lines
    # model.json's plugin maps are keyed by plugin id: token-macro is a plugin, not a secret
    assert '        + jenkins.installedPlugins.token-macro: "477.vd4f0dc3cb_cf1"' in out
    assert '        + jenkins.pluginProvenance.token-macro: "dependency of git, slack"' in out
    assert "        + jenkins.authorizationStrategy.projectMatrix.entries[user bot@example.org]: " in out
    assert out.rstrip().splitlines()[-1].startswith("0 added, 1 changed, 0 removed, 0 unchanged instances")
    missing = fleet(fleet_repo, "diff", "-j", "1", "--base", "main", "nothing.*")
    assert missing.code == 1 and "no instance named 'nothing.*' in either revision" in missing.stderr


def test_default_base_and_errors(fleet_repo):
    git(fleet_repo, "checkout", "-q", "-b", "feature")
    set_key(fleet_repo / "instances" / "rt.jetty" / "instance.yaml", "resourcePacks", "7")
    git(fleet_repo, "commit", "-q", "-am", "more packs for jetty")
    out = rendered(fleet_repo)  # the merge base with main
    assert out.startswith("Rendered diff: merge-base(HEAD, main) (")
    assert "~ rt.jetty: changed (okd-c2, namespace jetty)" in out
    assert rendered(fleet_repo, "--base") == out  # a bare --base, as check and audit accept it
    named = rendered(fleet_repo, "rt.jetty", "--base")
    assert named.splitlines()[0] == out.splitlines()[0] and "~ rt.jetty: changed (okd-c2, namespace jetty)" in named
    bad = fleet(fleet_repo, "diff", "--base", "no-such-ref")
    assert bad.code == 1 and "unknown git revision 'no-such-ref'" in bad.stderr
    (fleet_repo / "instances" / "rt.jetty" / "instance.yaml").write_text("project: [\n")
    broken = fleet(fleet_repo, "diff", "--base", "main")
    assert broken.code == 1 and "instances/rt.jetty/instance.yaml:" in broken.stderr


# --- the structural diff itself -------------------------------------------------------------------

def lines(old, new) -> list[str]:
    return [line for c in value_diff.diff_values(old, new).changes for line in value_diff.format_change(c)]


def test_full_mode_is_symmetric_and_strict():
    assert lines({"a": 1, "b": {"c": "10"}, "gone": True}, {"a": 1, "b": {"c": 10}, "new": [1]}) == [
        '~ b.c: "10" -> 10',
        "+ new: [1]",
        "- gone: true",
    ]
    assert lines({"x": None}, {"x": {}}) == ["~ x: null -> {}"]


def test_named_lists_match_by_name_and_type():
    old = {"containers": [{"name": "jenkins", "image": "a"}, {"name": "sidecar"}],
           "limits": [{"type": "Container", "max": {"cpu": "2"}}, {"type": "Pod", "max": {"cpu": "3"}}]}
    new = {"containers": [{"name": "init"}, {"name": "jenkins", "image": "b"}],
           "limits": [{"type": "Pod", "max": {"cpu": "4"}}, {"type": "Container", "max": {"cpu": "2"}}]}
    assert lines(old, new) == [
        '+ containers[init]: {"name": "init"}',
        '~ containers[jenkins].image: "a" -> "b"',
        '- containers[sidecar]: {"name": "sidecar"}',
        '~ limits[Pod].max.cpu: "3" -> "4"',
    ]


def test_scalar_lists_report_items_and_order():
    assert lines({"p": ["a", "b", "c"]}, {"p": ["a", "c", "d"]}) == ['~ p: -"b" +"d"']
    assert lines({"p": ["a", "b"]}, {"p": ["b", "a"]}) == ['~ p: ["a", "b"] -> ["b", "a"]']
    assert lines({"p": ["a", "a"]}, {"p": ["a"]}) == ['~ p: -"a"']


def test_unnamed_lists_pair_leftovers_by_position():
    old = {"v": [{"secretVolume": {"secretName": "m2", "mountPath": "/a"}}, {"x": 1}]}
    new = {"v": [{"x": 1}, {"secretVolume": {"secretName": "m2", "mountPath": "/b"}}]}
    assert lines(old, new) == ['~ v[1].secretVolume.mountPath: "/a" -> "/b"']


def test_secrets_are_never_shown_and_text_is_diffed_by_line():
    changes = value_diff.diff_values({"ldap": {"managerPassword": "old-secret"}, "msg": "a\nb\n"},
                                   {"ldap": {"managerPassword": "new-secret"}, "msg": "a\nc\n"}).changes
    out = [line for c in changes for line in value_diff.format_change(c, text_blocks=True)]
    assert out == ['~ ldap.managerPassword: "<secret>" -> "<secret>"', "~ msg: text", "    -b", "    +c"]
    assert "secret" not in str([c.old for c in changes if c.path == "ldap.managerPassword"]).replace("<secret>", "")


@pytest.mark.parametrize("key, path", [("plain", "a.plain"), ("requests.cpu", 'a["requests.cpu"]'),
                                       ("app.kubernetes.io/name", 'a["app.kubernetes.io/name"]')])
def test_paths_quote_keys_that_are_not_identifiers(key, path):
    [change] = value_diff.diff_values({"a": {key: 1}}, {"a": {key: 2}}).changes
    assert change.path == path


def test_fleet_diff_of_renderings_in_memory():
    """diff_fleets on file maps: instances by their model.json, the rest as fleet-wide files."""
    def model(cluster, ns):
        return json.dumps({"deployment": {"cluster": cluster, "namespace": ns}}).encode()
    old = {"a.one/model.json": model("c1", "one"),
           "a.one/k8s/namespace.yaml": b"kind: Namespace\nmetadata: {name: one}\n",
           "a.gone/model.json": model("c1", "gone"), "rules/fleet.yaml": b"groups: [{name: g, rules: []}]\n"}
    new = {"a.one/model.json": model("c2", "one"),
           "a.one/k8s/namespace.yaml": b"# moved\nkind: Namespace\nmetadata: {name: one}\n",
           "a.new/model.json": model("c1", "new"), "rules/fleet.yaml": b"groups: [{name: g, rules: [{alert: A}]}]\n"}
    fd = diff_mod.diff_fleets(old, new)
    assert [(i.name, i.change) for i in fd.instances] == [
        ("a.gone", "removed"), ("a.new", "added"), ("a.one", "changed")]
    moved = fd.instances[2]
    assert [o.file for o in moved.objects] == ["model.json"]  # the namespace file differs by a comment only
    assert diff_mod.describe_placement(moved) == "c1, namespace one -> c2, namespace one"
    assert [(o.file, o.change) for o in fd.fleet_files] == [("rules/fleet.yaml", "changed")]
    text = diff_mod.render_text(fd)
    assert "~ fleet-wide files\n    ~ rules/fleet.yaml  rules/fleet.yaml\n        + groups[g].rules[0]: " in text
    assert diff_mod.diff_fleets(old, new, ["a.one"]).fleet_files == []  # NAME limits to instances


def test_render_text_caps_its_length():
    fd = diff_mod.FleetDiff([diff_mod.InstanceDiff("a.b", "changed", "c", "b", None, [diff_mod.ObjectDiff(
        "model.json", "resolved model", "changed",
        [value_diff.Change("changed", f"k{i}", i, i + 1) for i in range(50)])])], [])
    lines = diff_mod.render_text(fd, max_lines=20).splitlines()
    assert len(lines) == 20  # 56 lines: header, blank, instance, object, 50 fields, blank, summary
    assert lines[-2] == "... 37 more lines: run 'fleet diff' to see them all"
    assert lines[-1].startswith("0 added, 1 changed")
