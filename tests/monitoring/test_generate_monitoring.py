"""The fleet-level rules files through `fleet generate`: index, --check, subsets, the cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import yaml
from fleettest import copy_sample_fleet, fleet_in_process, read_tree

RULES = "monitoring/jenkins-fleet.rules.yaml"


def run(instances, cwd, *args):
    return fleet_in_process(["--instances", instances, *args], cwd)


def edit_fleet(instances, old, new):
    path = os.path.join(instances, "fleet.yaml")
    with open(path) as fh:
        text = fh.read()
    assert old in text
    with open(path, "w") as fh:
        fh.write(text.replace(old, new))


def test_rules_follow_the_fleet_settings_through_subsets_check_and_cache(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    out = tmp_path / "build"
    first = run(instances, tmp_path, "generate", "--out", out, "-j", "1")
    assert first.code == 0, first.stderr
    tree = read_tree(out)
    index = json.loads(tree["fleet.json"])
    assert index["fleet"]["files"][RULES] == hashlib.sha256(tree[RULES]).hexdigest()

    # an unchanged fleet: cached instances, the rules file kept, nothing to do for --check
    again = run(instances, tmp_path, "generate", "--out", out, "-j", "1")
    assert "0 rendered, 13 unchanged; 0 files changed" in again.stderr
    assert read_tree(out) == tree
    assert run(instances, tmp_path, "generate", "--check", "--out", out).code == 0

    # a threshold changes: --check sees it, also when only one instance is named
    edit_fleet(instances, "queueWaitMinutes: 15", "queueWaitMinutes: 25")
    for names in ((), ("technology.cbi",)):
        check = run(instances, tmp_path, "generate", *names, "--check", "--out", out)
        assert check.code == 1
        assert f"changed  {out / RULES}" in check.stdout.splitlines()
        assert f"changed  {out / 'fleet.json'}" in check.stdout.splitlines()
        assert "technology.cbi/" not in check.stdout  # the instances are not affected
    # generating one instance rewrites the rules (they depend on fleet.yaml only) and keeps the others
    subset = run(instances, tmp_path, "generate", "technology.cbi", "--out", out, "-j", "1")
    assert subset.code == 0, subset.stderr
    assert "1 files changed" in subset.stderr  # the rules file (fleet.json is not counted)
    after = read_tree(out)
    assert "for: 25m" in after[RULES].decode()
    assert {p for p in after if not p.startswith("monitoring/")} == {p for p in tree if not p.startswith("monitoring/")}
    assert json.loads(after["fleet.json"])["fleet"]["files"][RULES] == hashlib.sha256(after[RULES]).hexdigest()
    assert run(instances, tmp_path, "generate", "technology.cbi", "--check", "--out", out).code == 0
    # (the other instances' inputs keys still predate the fleet.yaml edit: a full run settles them)
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    assert read_tree(out)[RULES] == after[RULES]
    assert run(instances, tmp_path, "generate", "--check", "--out", out).code == 0

    # monitoring off: the rules file, the ServiceMonitors and the index entry go
    edit_fleet(instances, "monitoring:\n  enabled: true", "monitoring:\n  enabled: false")
    check = run(instances, tmp_path, "generate", "science.january", "--check", "--out", out)
    assert f"removed  {out / RULES}" in check.stdout.splitlines()
    off = run(instances, tmp_path, "generate", "--out", out, "-j", "1")
    assert off.code == 0, off.stderr
    final = read_tree(out)
    assert not [p for p in final if p.startswith("monitoring/") or p.endswith("servicemonitor.yaml")]
    assert "fleet" not in json.loads(final["fleet.json"])
    assert not os.path.exists(out / "monitoring")


def test_absent_rules_follow_the_instances_of_the_output(tmp_path):
    instances = copy_sample_fleet(tmp_path)
    out = tmp_path / "build"
    okd_c1 = "monitoring/controllers-okd-c1.rules.yaml"

    def absent_for(tree) -> list[str]:
        return [r["labels"]["jenkins_fleet_io_project"] for r in yaml.safe_load(tree[okd_c1])["groups"][0]["rules"]]

    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    tree = read_tree(out)
    full = absent_for(tree)
    assert {"technology.cbi", "tools.cdt", "science.january"} <= set(full)

    # one instance named: the others stay in the output, so in the rules
    assert run(instances, tmp_path, "generate", "technology.cbi", "--out", out, "-j", "1").code == 0
    assert read_tree(out) == tree

    # an instance opts out in its own file: its rule goes, also when it is generated alone
    path = os.path.join(instances, "tools.cdt", "instance.yaml")
    with open(path, "a") as fh:
        fh.write("monitoring:\n  enabled: false\n")
    check = run(instances, tmp_path, "generate", "tools.cdt", "--check", "--out", out)
    assert f"changed  {out / okd_c1}" in check.stdout.splitlines()
    assert run(instances, tmp_path, "generate", "tools.cdt", "--out", out, "-j", "1").code == 0
    after = read_tree(out)
    assert absent_for(after) == [n for n in full if n != "tools.cdt"]
    assert json.loads(after["fleet.json"])["instances"]["tools.cdt"]["monitored"] is False

    # an instance removed: its rule goes with its files
    shutil.rmtree(os.path.join(instances, "science.january"))
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    assert absent_for(read_tree(out)) == [n for n in full if n not in ("tools.cdt", "science.january")]
    assert run(instances, tmp_path, "generate", "--check", "--out", out).code == 0


def test_rules_are_carried_over_when_nothing_of_theirs_changed(tmp_path, monkeypatch):
    """The rules are rendered again only when their inputs key changes (cache.fleet_files_key):
    fleet.yaml, the monitored instances of the output; a rules file changed by hand is rewritten."""
    from generator import monitoring
    rendered = []
    real_rules = monitoring.rules
    monkeypatch.setattr(monitoring, "rules", lambda *a, **k: rendered.append(1) or real_rules(*a, **k))
    instances = copy_sample_fleet(tmp_path)
    out = tmp_path / "build"
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    tree = read_tree(out)
    assert len(rendered) == 1

    # another instance's resources change: the rules do not depend on them
    path = os.path.join(instances, "technology.cbi", "instance.yaml")
    with open(path, "a") as fh:
        fh.write("storage:\n  size: 77Gi\n")
    changed = run(instances, tmp_path, "generate", "--out", out, "-j", "1")
    assert changed.code == 0, changed.stderr
    assert len(rendered) == 1
    after = read_tree(out)
    assert {p: after[p] for p in after if p.startswith("monitoring/")} == \
        {p: tree[p] for p in tree if p.startswith("monitoring/")}
    assert json.loads(after["fleet.json"])["fleet"] == json.loads(tree["fleet.json"])["fleet"]

    # a rules file edited by hand: rendered again, and the edit undone
    with open(out / RULES, "ab") as fh:
        fh.write(b"# edited\n")
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    assert len(rendered) == 2
    assert read_tree(out)[RULES] == tree[RULES]

    # what they depend on changes: the fleet settings, then whether an instance is monitored
    edit_fleet(instances, "queueWaitMinutes: 15", "queueWaitMinutes: 20")
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    assert len(rendered) == 3
    assert "for: 20m" in read_tree(out)[RULES].decode()
    with open(os.path.join(instances, "tools.cdt", "instance.yaml"), "a") as fh:
        fh.write("monitoring:\n  enabled: false\n")
    assert run(instances, tmp_path, "generate", "--out", out, "-j", "1").code == 0
    assert len(rendered) == 4
    assert "tools.cdt" not in read_tree(out)["monitoring/controllers-okd-c1.rules.yaml"].decode()
    assert run(instances, tmp_path, "generate", "--check", "--out", out).code == 0
