"""generator/fleetdir.py and nofollow.py: what a pull request can plant in the fleet directory.

A symbolic link anywhere there is refused with an error that names the link and never shows what
it points at; every entry that is not part of the layout is reported with where it belongs.
"""

from __future__ import annotations

import os
import shutil

import pytest
from fleettest import ROOT, copy_sample_fleet, fleet_in_process, read_tree, write

from generator import fleet, fleetdir, nofollow
from generator.errors import FleetError

MARKER = "MARKER-7f3a9c-not-for-your-eyes"
LINK = "error: is a symbolic link, and links are never followed here"
LINK_HINT = ("  hint: replace the link with the file or directory itself: a link in a pull request could point "
             "at any file of the machine that checks it")


@pytest.fixture
def root(tmp_path):
    copy_sample_fleet(tmp_path, advisories=False)
    return tmp_path


@pytest.fixture
def secret(tmp_path_factory):
    """A file outside the fleet, the kind a link would leak: YAML, with a credential in it."""
    path = tmp_path_factory.mktemp("outside") / "secret.yaml"
    path.write_text(f"credentials:\n  system:\n    domainCredentials:\n      - credentials:\n"
                    f"          - string: {{id: leaked, secret: {MARKER}}}\n")
    return path


def assert_refused(run, path: str) -> None:
    assert run.code == 1, run.stderr
    assert f"{path}: {LINK}\n{LINK_HINT}\n" in run.stderr, run.stderr
    assert MARKER not in run.stdout + run.stderr


def test_an_instance_file_linked_to_the_environment_is_refused_and_not_shown(root, monkeypatch):
    """The issue's attack: instance.yaml -> /proc/self/environ printed the token in the error."""
    monkeypatch.setenv("FLEET_JENKINS_TOKEN", MARKER)
    os.mkdir(root / "instances" / "evil.leak")
    os.symlink("/proc/self/environ", root / "instances" / "evil.leak" / "instance.yaml")
    assert_refused(fleet_in_process(["validate"], root), "instances/evil.leak/instance.yaml")
    run = fleet_in_process(["check", "--summary-md", "summary.md"], root)
    assert run.code == 1
    summary = (root / "summary.md").read_text()
    assert "evil.leak/instance.yaml" in summary and MARKER not in summary + run.stdout + run.stderr


def test_an_override_linked_outside_never_reaches_build(root, secret):
    os.symlink(secret, root / "instances" / "technology.cbi" / "jenkins.yaml")
    assert_refused(fleet_in_process(["generate", "--jobs", "1"], root), "instances/technology.cbi/jenkins.yaml")
    assert not (root / "build").exists()
    assert_refused(fleet_in_process(["check"], root), "instances/technology.cbi/jenkins.yaml")


@pytest.mark.parametrize("target", ["/etc/passwd", "relative"])
def test_fleet_yaml_as_a_link_is_refused(root, target):
    if target == "relative":  # a link inside the fleet is refused as well: the rule has no exceptions
        os.rename(root / "instances" / "fleet.yaml", root / "instances" / "real-fleet.yaml")
        target = "real-fleet.yaml"
    else:
        os.unlink(root / "instances" / "fleet.yaml")
    os.symlink(target, root / "instances" / "fleet.yaml")
    run = fleet_in_process(["validate"], root)
    assert_refused(run, "instances/fleet.yaml")
    assert "root:" not in run.stderr


def test_a_linked_instance_directory_is_not_read_as_an_instance(root, secret):
    outside = secret.parent / "x.linked"
    outside.mkdir()
    shutil.copy(root / "instances" / "technology.cbi" / "instance.yaml", outside / "instance.yaml")
    os.symlink(outside, root / "instances" / "x.linked")
    run = fleet_in_process(["validate"], root)
    assert_refused(run, "instances/x.linked")
    assert "x.linked" not in fleetdir.instance_names(str(root / "instances"))
    assert fleet_in_process(["validate", "x.linked"], root).code == 1  # not an instance by name either


def test_any_other_link_in_the_layout_is_refused(root, secret):
    os.symlink(secret, root / "instances" / "notes.yaml")
    os.symlink(secret, root / "instances" / "tools.cdt" / "README")
    run = fleet_in_process(["validate"], root)
    assert_refused(run, "instances/notes.yaml")
    assert_refused(run, "instances/tools.cdt/README")


def test_the_instances_directory_itself_as_a_link_is_refused(root):
    os.rename(root / "instances", root / "real")
    os.symlink("real", root / "instances")
    assert_refused(fleet_in_process(["validate"], root), "instances")


def test_a_directory_swapped_for_a_link_after_the_listing_is_not_followed(root, secret):
    """Between listing the directory and opening an instance, a race swaps it for a link: the
    descriptor-relative O_NOFOLLOW open refuses it instead of reading through it."""
    directory = str(root / "instances")
    fd = os.open(directory, os.O_RDONLY)
    try:
        assert "rt.jetty" in fleetdir._instance_dirs(fleetdir._entries(fd))
        os.rename(root / "instances" / "rt.jetty", root / "elsewhere")
        os.symlink(secret.parent, root / "instances" / "rt.jetty")
        src, diags = fleetdir._read_instance(directory, fd, "rt.jetty")
    finally:
        os.close(fd)
    assert src is None
    assert [d.format() for d in diags] == [f"{os.path.join(directory, 'rt.jetty')}: {LINK}\n{LINK_HINT}"]


def test_a_fifo_is_refused_at_once_instead_of_blocking(root):
    path = root / "instances" / "rt.jetty" / "instance.yaml"
    os.unlink(path)
    os.mkfifo(path)
    run = fleet_in_process(["validate"], root)
    assert run.code == 1
    assert "instances/rt.jetty/instance.yaml: error: cannot read file: not a regular file\n" in run.stderr


@pytest.mark.parametrize("where", ["templates", "schemas"])
def test_links_in_templates_and_schemas_are_refused(root, secret, where):
    """A pull request can change templates/ and schemas/ too; Jinja, Jsonnet and the validators
    would follow a link planted there."""
    for part in ("templates", "schemas"):
        shutil.copytree(os.path.join(ROOT, part), root / part)
    os.symlink(secret, root / where / "planted.json")
    paths = fleet.Paths(instances=str(root / "instances"), templates=str(root / "templates"),
                        schemas=str(root / "schemas"))
    with pytest.raises(FleetError) as info:
        fleet.validate(paths)
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.message) == (str(root / where / "planted.json"), nofollow.LINK_MESSAGE)
    assert diag.context == ("templates and schemas are read from the repository, which pull requests can change",)
    assert MARKER not in str(info.value)


def test_a_file_read_directly_is_shown_as_before(root):
    """Only links are refused: a regular file's bad line is still quoted in the error."""
    write(root / "instances" / "rt.jetty" / "instance.yaml", "project:\n  fullName: rt.jetty\n  bogus: 1\n")
    run = fleet_in_process(["validate"], root)
    assert run.code == 1 and "  3 |   bogus: 1" in run.stderr


# --- the layout ----------------------------------------------------------------------------------

def validate(root) -> tuple[int, str]:
    run = fleet_in_process(["validate"], root)
    return run.code, run.stderr


def test_an_instance_file_beside_the_directories_is_an_error(root):
    shutil.copy(root / "instances" / "technology.cbi" / "instance.yaml", root / "instances" / "technology.foo.yaml")
    code, stderr = validate(root)
    assert code == 1
    assert stderr.startswith(
        "instances/technology.foo.yaml: error: this file is not read: instance files are "
        "instances/<fullName>/instance.yaml\n"
        "  hint: move it: mkdir instances/technology.foo && "
        "mv instances/technology.foo.yaml instances/technology.foo/instance.yaml\n"), stderr


def test_instance_yml_is_named_when_instance_yaml_is_missing(root):
    os.rename(root / "instances" / "iot.4diac" / "instance.yaml", root / "instances" / "iot.4diac" / "instance.yml")
    code, stderr = validate(root)
    assert (code, stderr) == (1, ("instances/iot.4diac/instance.yaml: error: file not found\n"
                                 "  hint: instances/iot.4diac/instance.yml is beside it: rename it to instance.yaml\n"
                                 "1 error in 1 file\n"))


def test_a_nested_instance_directory_gets_the_dotted_name(root):
    os.makedirs(root / "instances" / "technology" / "foo")
    shutil.copy(root / "instances" / "technology.cbi" / "instance.yaml",
                root / "instances" / "technology" / "foo" / "instance.yaml")
    code, stderr = validate(root)
    assert (code, stderr) == (1, ("instances/technology/foo/instance.yaml: error: instance directories are not "
                                 "nested, so this instance is not read\n"
                                 "  hint: a fullName's dots separate its parts: move it to instances/technology.foo/ "
                                 "(mv instances/technology/foo instances/technology.foo)\n"
                                 "1 error in 1 file\n"))


def test_a_misnamed_override_is_an_error_and_other_files_are_warnings(root):
    write(root / "instances" / "tools.cdt" / "jenkins.yml", "jenkins: {quietPeriod: 10}\n")
    write(root / "instances" / "tools.cdt" / "notes.txt", "mine\n")
    write(root / "instances" / "README.md", "# our fleet\n")
    # instances/catalogs/ (the plugin catalogs) is part of the layout, not an instance
    os.mkdir(root / "instances" / ".git-crypt")  # hidden: ignored
    code, stderr = validate(root)
    assert code == 1
    assert stderr == (
        "instances/README.md: warning: this file is not part of the fleet layout and is not read\n"
        "  hint: the instances directory holds fleet.yaml, one directory per instance "
        "(instances/<fullName>/instance.yaml) and catalogs/; move this elsewhere\n"
        "instances/tools.cdt/jenkins.yml: error: this file is not read: the hand-written JCasC override is "
        "jenkins.yaml\n"
        "  hint: rename it to jenkins.yaml\n"
        "instances/tools.cdt/notes.txt: warning: this file is not part of the fleet layout and is not read\n"
        "  hint: an instance directory holds instance.yaml and, optionally, jenkins.yaml; move other files out "
        "of the instances directory\n"
        "1 error, 2 warnings in 3 files\n")
    os.unlink(root / "instances" / "tools.cdt" / "jenkins.yml")
    code, stderr = validate(root)
    assert code == 0 and stderr.endswith("13 instances valid, 2 warnings (" + stderr.rsplit("(", 1)[1])
    generate = fleet_in_process(["generate", "--jobs", "1"], root)
    assert generate.code == 0 and "instances/README.md: warning:" in generate.stderr


def test_fleet_yml_is_named_when_fleet_yaml_is_missing(root):
    os.rename(root / "instances" / "fleet.yaml", root / "instances" / "fleet.yml")
    code, stderr = validate(root)
    assert (code, stderr) == (1, ("instances/fleet.yaml: error: file not found\n"
                                 "  hint: instances/fleet.yml is beside it: rename it to fleet.yaml\n"
                                 "1 error in 1 file\n"))


def test_the_layout_is_listed_in_one_place():
    """What another kind of file needs to join the layout: one entry in these tables."""
    assert fleetdir.FLEET_FILES == {"fleet.yaml": "the fleet settings"}
    assert set(fleetdir.RESERVED_DIRS) == {"catalogs"}
    assert set(fleetdir.INSTANCE_FILES) == {"instance.yaml", "jenkins.yaml"}


def test_a_reserved_directory_is_never_an_instance(root):
    write(root / "instances" / "catalogs" / "instance.yaml", "project: {fullName: catalogs}\n")
    assert "catalogs" not in fleetdir.instance_names(str(root / "instances"))
    code, stderr = validate(root)
    assert code == 1 and stderr.startswith(
        "instances/catalogs/instance.yaml: error: 'catalogs/' is reserved for the fleet's plugin catalogs, so this "
        "instance is not part of the fleet\n"), stderr


def test_fleet_new_still_validates_with_the_whole_fleet(root):
    """`fleet new` validates a copy of the directory (it used a view of links, which are refused now)."""
    before = read_tree(root / "instances")
    run = fleet_in_process(["new", "technology.newbie", "--display-name", "Newbie"], root)
    assert run.code == 0, run.stderr
    assert set(read_tree(root / "instances")) - set(before) == {"technology.newbie/instance.yaml"}
    os.symlink("/etc/passwd", root / "instances" / "evil.yaml")
    run = fleet_in_process(["new", "technology.other", "--display-name", "Other"], root)
    assert run.code == 1 and "instances/evil.yaml: " + LINK in run.stderr
    assert not (root / "instances" / "technology.other").exists()
