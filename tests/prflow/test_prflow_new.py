"""`fleet new`: the file it writes, and every refusal leaving the instances directory untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from fleettest import ROOT, copy_sample_fleet, other_warnings
from prflowtest import fleet, tree

NOTE = ("# Created by 'fleet new'. State only what differs from the fleet defaults "
        "(docs/adding-a-project.md).\n")


@pytest.fixture
def fleet_dir(tmp_path) -> Path:
    """A private copy of the sample fleet (no git needed): tmp_path/instances."""
    copy_sample_fleet(tmp_path)
    return tmp_path


def new(where: Path, *args):
    return fleet(where, "new", *args, "-j", "1")


def modeline(where: Path, name: str) -> str:
    """The first line `fleet new` writes: the schema in use, relative to the new file (this copy of the
    fleet is outside the repository: ../../schemas would lead nowhere)."""
    schema = Path(ROOT) / "schemas" / "instance.schema.json"
    return "# yaml-language-server: $schema=" + os.path.relpath(schema, where / "instances" / name) + "\n"


def test_minimal_instance_states_only_what_the_fleet_expects(fleet_dir):
    run = new(fleet_dir, "science.dawn", "--display-name", "Eclipse DAWN")
    assert run.code == 0, run.stderr
    path = fleet_dir / "instances" / "science.dawn" / "instance.yaml"
    assert path.read_text() == (modeline(fleet_dir, "science.dawn") + NOTE
                                + "project:\n  fullName: science.dawn\n  displayName: Eclipse DAWN\n")
    assert (path.parent / modeline(fleet_dir, "science.dawn").split("=", 1)[1].strip()).is_file()
    assert run.stdout.splitlines()[:2] == [
        "created instances/science.dawn/instance.yaml",
        ("  https://ci.example.org/dawn on cluster okd-c1, namespace dawn; 1 pack: quota 3 pods, "
        "2.65 CPU and 10.5 GiB requested"),
    ]
    assert "next steps:" in run.stdout and "make check" in run.stdout and "docs/adding-a-project.md" in run.stdout
    assert "never edit or commit build/" in run.stdout
    validated = fleet(fleet_dir, "validate", "science.dawn", "--no-cache")
    assert validated.code == 0 and not other_warnings(validated.stderr), validated.stderr


def test_packs_and_cluster_are_written_only_when_they_differ_from_the_defaults(fleet_dir):
    run = new(fleet_dir, "tools.big", "--display-name", "Big: \"tools\" #1", "--packs", "3", "--cluster", "okd-c2")
    assert run.code == 0, run.stderr
    text = (fleet_dir / "instances" / "tools.big" / "instance.yaml").read_text()
    assert text == (modeline(fleet_dir, "tools.big") + NOTE
                    + "project:\n  fullName: tools.big\n  displayName: \"Big: \\\"tools\\\" #1\"\n"
                    "  resourcePacks: 3\ndeployment:\n  cluster: okd-c2\n")
    assert yaml.safe_load(text)["project"]["displayName"] == 'Big: "tools" #1'
    assert "on cluster okd-c2, namespace big; 3 packs" in run.stdout
    # The ee4j profile already puts its instances on okd-c2: stating it again is noise.
    run = new(fleet_dir, "ee4j.mail", "--display-name", "Jakarta Mail", "--cluster", "okd-c2", "--packs", "1")
    assert run.code == 0, run.stderr
    text = (fleet_dir / "instances" / "ee4j.mail" / "instance.yaml").read_text()
    assert "deployment" not in text and "resourcePacks" not in text
    assert "https://ci.ee4j.example.org/mail on cluster okd-c2" in run.stdout
    # ... but leaving the profile's cluster has to be said.
    run = new(fleet_dir, "ee4j.small", "--display-name", "Jakarta Small", "--cluster", "okd-c1")
    assert run.code == 0, run.stderr
    assert (fleet_dir / "instances" / "ee4j.small" / "instance.yaml").read_text().endswith(
        "deployment:\n  cluster: okd-c1\n")


def test_packs_above_the_policy(fleet_dir):
    run = new(fleet_dir, "rt.huge", "--display-name", "Huge", "--packs", "10")
    assert run.code == 0, run.stderr
    assert "10 packs is above the fleet maximum of 8: add project.packsApproval" in run.stdout
    run = new(fleet_dir, "rt.approved", "--display-name", "Approved", "--packs", "10",
              "--packs-approval", "https://helpdesk.example.org/tickets/42")
    assert run.code == 0, run.stderr
    assert "above the fleet maximum" not in run.stdout
    data = yaml.safe_load((fleet_dir / "instances" / "rt.approved" / "instance.yaml").read_text())
    assert data["project"] == {"fullName": "rt.approved", "displayName": "Approved", "resourcePacks": 10,
                               "packsApproval": "https://helpdesk.example.org/tickets/42"}


REFUSALS = [
    (["science.january", "--display-name", "January again"],
     "instances/science.january: error: instance 'science.january' already exists",
     "hint: edit instances/science.january/instance.yaml instead, or choose another name"),
    (["Technology.Dash", "--display-name", "Dash"],
     "instances: error: 'Technology.Dash' is not lowercase", "'technology.dash'"),
    (["dash", "--display-name", "Dash"],
     "instances: error: 'dash' is not a dotted name", "e.g. technology.dash"),
    (["technology.-dash", "--display-name", "Dash"],
     "instances: error: 'technology.-dash' is not a valid instance name (segment '-dash')", "starts and ends"),
    (["technology.da_sh", "--display-name", "Dash"],
     "instances: error: 'technology.da_sh' is not a valid instance name (segment 'da_sh')", "a-z, 0-9 and '-'"),
    (["technology." + "d" * 60, "--display-name", "Dash"],
     "is longer than 63 characters", ""),
    (["technology.dash", "--display-name", "Dash", "--cluster", "okd-c9"],
     "instances/technology.dash/instance.yaml: error: unknown cluster 'okd-c9'",
     "clusters in fleet.yaml: okd-c1, okd-c2"),
    (["technology.dash", "--display-name", "Dash", "--packs", "0"],
     "error: --packs 0: an instance needs at least 1 resource pack", "2 vCPU / 8 GiB"),
    (["technology.dash", "--display-name", "  "], "error: the display name is empty", ""),
    (["technology.dash", "--display-name", "two\nlines"], "error: the display name must be one line", ""),
    # Validated with the whole fleet: technology.cbi already has namespace cbi and the URL /cbi on okd-c1.
    (["modeling.cbi", "--display-name", "Another CBI"],
     ("instances/modeling.cbi/instance.yaml:4:13: error: project.fullName: namespace 'cbi' on cluster 'okd-c1' "
     "is also used by technology.cbi"),
     ("technology.cbi had it before this change: set project.shortName or deployment.namespace of modeling.cbi to a "
     "unique name")),
]


@pytest.mark.parametrize("args, message, hint", REFUSALS, ids=[
    "existing", "uppercase", "not-dotted", "bad-segment", "underscore", "too-long", "unknown-cluster", "zero-packs",
    "empty-display-name", "multi-line-display-name", "namespace-collision"])
def test_refusals_write_nothing(fleet_dir, args, message, hint):
    before = tree(fleet_dir / "instances")
    run = new(fleet_dir, *args)
    assert run.code == 1, run.stdout + run.stderr
    assert message in run.stderr
    assert hint in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert tree(fleet_dir / "instances") == before  # no file, no directory, no staging leftover


@pytest.mark.parametrize("name", ["Technology.Foo_bar", "Technology.Dash", "technology.da_sh", "technology.-dash",
                                  "Tech.Foo Bar", "dash", "Foo_Bar", "technology.foo bar", "a.b.C_d", "ee4j._"])
def test_a_suggested_name_is_one_new_accepts(fleet_dir, name):
    """The hint's name (the last quoted one) passes every name check; no suggestion rather than a bad one."""
    import re

    from generator import fleet as fleet_mod
    from generator import scaffold

    paths = fleet_mod.Paths(instances=str(fleet_dir / "instances"))
    (refusal,) = scaffold.check_name(paths, name)
    if "e.g. " in refusal.hint:
        suggestion = refusal.hint.rsplit("e.g. ", 1)[1]
    else:
        quoted = re.findall(r"'([^']+)'$", refusal.hint)
        suggestion = quoted[0] if quoted else None
    if name == "ee4j._":
        assert suggestion is None, refusal.hint
        return
    assert suggestion, refusal.hint
    assert scaffold.check_name(paths, suggestion) == [], (name, suggestion)


def test_the_suggested_name_is_created(fleet_dir):
    run = new(fleet_dir, "Technology.Foo_bar", "--display-name", "Foo")
    assert run.code == 1
    assert run.stderr.splitlines()[:2] == [
        "instances: error: 'Technology.Foo_bar' is not a valid instance name (segment 'Foo_bar')",
        ("  hint: instance names are lowercase; each dot-separated segment uses a-z, 0-9 and '-', and starts and "
        "ends with a letter or digit: 'technology.foo-bar'")]
    assert new(fleet_dir, "technology.foo-bar", "--display-name", "Foo").code == 0


def test_collision_names_only_the_new_file(fleet_dir):
    run = new(fleet_dir, "modeling.cbi", "--display-name", "Another CBI")
    assert run.code == 1
    assert "instances/technology.cbi/instance.yaml" not in run.stderr  # the mirror error would only confuse
    assert "URL https://ci.example.org/cbi is also used by technology.cbi" in run.stderr


def test_errors_elsewhere_in_the_fleet_are_named(fleet_dir):
    broken = fleet_dir / "instances" / "tools.cdt" / "instance.yaml"
    broken.write_text(broken.read_text().replace("resourcePacks: 3", "resourcePacks: many"))
    before = tree(fleet_dir / "instances")
    run = new(fleet_dir, "technology.dash", "--display-name", "Dash")
    assert run.code == 1
    assert "instances/tools.cdt/instance.yaml:" in run.stderr
    assert "the fleet already has errors in other files; fix them first" in run.stderr
    assert tree(fleet_dir / "instances") == before


def test_usage_errors(fleet_dir):
    run = fleet(fleet_dir, "new", "technology.dash")
    assert run.code == 2 and "--display-name" in run.stderr
    assert not (fleet_dir / "instances" / "technology.dash").exists()
