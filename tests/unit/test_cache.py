"""generator/cache.py through fleet generate: changing any one input invalidates exactly the
instances it affects, and a run that reuses cached instances writes the same bytes as one that
renders everything."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from fleettest import ROOT, copy_sample_fleet, fleet_in_process, read_tree, tree_diff

from generator import cache, fleet

ALL = {"eclipse.platform", "ee4j.glassfish", "ee4j.jakartaee-tck", "ee4j.jersey", "iot.4diac",
       "locationtech.geotrellis", "modeling.emf", "modeling.xtext", "rt.jetty", "science.january",
       "technology.cbi", "technology.jgit", "tools.cdt"}
EE4J = {n for n in ALL if n.startswith("ee4j.")}


@pytest.fixture
def world(tmp_path):
    """A private copy of the sample fleet, the templates, the schemas and the generator's code."""
    copy_sample_fleet(tmp_path)
    for name in ("templates", "schemas"):
        shutil.copytree(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(cache.CODE_DIR, tmp_path / "code", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def keys(world) -> dict[str, str]:
    paths = fleet.Paths(instances=str(world / "instances"), templates=str(world / "templates"),
                        schemas=str(world / "schemas"))
    return fleet.input_keys(paths, fleet.check_sources(paths))


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert before.keys() == after.keys()
    return {n for n in before if before[n] != after[n]}


def edit(path, old: str, new: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert old in text, (path, old)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace(old, new, 1))


@pytest.fixture(autouse=True)
def code_in_world(world, monkeypatch):
    # The keys read the generator's code from the copy, so that a test may change it.
    real = cache.common_key
    monkeypatch.setattr(cache, "common_key", lambda t, s: real(t, s, code_dir=str(world / "code")))


CHANGES = {
    # input changed -> (file, old text, new text, instances whose key must change)
    "an instance file": ("instances/technology.cbi/instance.yaml", "displayName: Eclipse CBI",
                         "displayName: Eclipse CBI 2", {"technology.cbi"}),
    "a JCasC override": ("instances/modeling.emf/jenkins.yaml", "numExecutors: 2", "numExecutors: 3", {"modeling.emf"}),
    "a fleet setting": ("instances/fleet.yaml", "adminEmail: jenkins-admins@example.org",
                        "adminEmail: admins@example.org", ALL),
    "a profile": ("instances/fleet.yaml", "agentConnectionTimeout: 300", "agentConnectionTimeout: 301", EE4J),
    "a Jinja template": ("templates/jcasc/jenkins.yaml.j2", "\n", "\n{#- a comment #}\n", ALL),
    "a Jsonnet library": ("templates/model/util.libsonnet", "\n", "\n// a comment\n", ALL),
    "a schema": ("schemas/instance.schema.json", "{", "{ ", ALL),
    "the generator's code": ("code/produce.py", "\n", "\n# a comment\n", ALL),
    # a security warning's text: the closures stay, their advisories (model.json) change
    "a plugin catalog": ("instances/catalogs/2.555.2.json", "RCE vulnerability from unvalidated LDAP referrals",
                         "RCE vulnerability", ALL - {"iot.4diac"}),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_changing_one_input_invalidates_exactly_the_instances_it_affects(world, what):
    rel, old, new, expected = CHANGES[what]
    before = keys(world)
    edit(world / rel, old, new)
    assert changed(before, keys(world)) == expected


def test_a_library_upgrade_invalidates_every_instance(world, monkeypatch):
    before = keys(world)
    real = cache._library_versions
    monkeypatch.setattr(cache, "_library_versions", lambda: [v.replace("jinja2==", "jinja2==0+") for v in real()])
    assert changed(before, keys(world)) == ALL


def test_keys_do_not_depend_on_where_the_inputs_are(world, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "deeper"
    shutil.copytree(world, elsewhere)
    assert keys(world) == keys(elsewhere)


def test_whitespace_in_an_instance_file_changes_nothing(world):
    before = keys(world)  # the key is the parsed data, not the bytes: a reformatted file renders the same
    edit(world / "instances/technology.cbi/instance.yaml", "\n", "\n\n")
    assert changed(before, keys(world)) == set()


# --- through the CLI: what is rendered, and the bytes --------------------------------------------

RENDERED = re.compile(r"\((\d+) rendered, (\d+) unchanged; ")


def generate(cwd, *args) -> tuple[int, int]:
    run = fleet_in_process(["generate", "--jobs", "1", *args], cwd)
    assert run.code == 0, run.stderr
    rendered, unchanged = map(int, RENDERED.search(run.stderr).groups())
    return rendered, unchanged


@pytest.mark.parametrize("what", ["an instance file", "a JCasC override", "a profile"])
def test_a_cached_run_renders_only_what_changed_and_writes_what_a_full_run_writes(world, what):
    rel, old, new, expected = CHANGES[what]
    assert generate(world) == (len(ALL), 0)
    assert generate(world) == (0, len(ALL))
    edit(world / rel, old, new)
    assert generate(world) == (len(expected), len(ALL) - len(expected))
    generate(world, "--no-cache", "--out", "full")
    cached, full = read_tree(world / "build"), read_tree(world / "full")
    assert cached == full, tree_diff(cached, full)


def test_library_versions_are_what_importlib_metadata_says():
    from importlib import metadata

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"  # e.g. the C++ jsonnet binding, which only a developer's venv may have
    assert cache._library_versions() == [f"{name}=={version(name)}" for name in cache._LIBRARIES]
    assert "gojsonnet==absent" not in cache._library_versions()
