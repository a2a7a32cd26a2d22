"""Settled sources (fleet.Settled): an instance whose files and sources context are as the last
`fleet generate` recorded them, with nothing found then, is neither parsed nor checked again, and
whatever changes brings it back: its files, fleet.yaml, a catalog, its output, a message about it."""

from __future__ import annotations

import os

import pytest
from fleettest import copy_sample_fleet, read_tree, write

from generator import cache, fleet, fleetdir, regenerate
from generator.errors import FleetError


@pytest.fixture
def parsed(monkeypatch):
    """The names of the instances whose instance.yaml was parsed, in order."""
    seen: list[str] = []
    real = fleetdir._parse_instance_file
    monkeypatch.setattr(fleetdir, "_parse_instance_file",
                        lambda directory, text: seen.append(os.path.basename(directory)) or real(directory, text))
    return seen


def generated_sample(tmp_path):
    paths = fleet.Paths(instances=copy_sample_fleet(tmp_path))
    out = str(tmp_path / "build")
    regenerate.regenerate(paths, out)
    return paths, out, read_tree(out)


def append(paths, name, text):
    path = os.path.join(paths.instances, name, "instance.yaml")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def test_an_unchanged_fleet_parses_no_instance_and_a_change_parses_only_it(tmp_path, parsed):
    paths, out, tree = generated_sample(tmp_path)
    parsed.clear()
    again = regenerate.regenerate(paths, out)
    assert parsed == [] and again.generated.cached == again.generated.names
    assert read_tree(out) == tree
    append(paths, "technology.cbi", "storage:\n  size: 77Gi\n")
    changed = regenerate.regenerate(paths, out)
    assert parsed == ["technology.cbi"]
    assert changed.changed == ["technology.cbi/k8s/statefulset.yaml", "technology.cbi/model.json"]
    parsed.clear()
    regenerate.regenerate(paths, out)
    assert parsed == []  # recorded again, with its new fingerprint


@pytest.mark.parametrize("change", ["fleet.yaml", "catalog", "no-cache"])
def test_what_every_check_reads_brings_every_instance_back(tmp_path, parsed, change):
    paths, out, _ = generated_sample(tmp_path)
    parsed.clear()
    if change == "fleet.yaml":
        path = os.path.join(paths.instances, "fleet.yaml")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        write(path, text + "\n# a comment changes no data, but messages point into the file as written\n")
    elif change == "catalog":
        path = os.path.join(paths.instances, "catalogs", "2.555.2.json")
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        write(path, text + "\n")
    regenerate.regenerate(paths, out, use_cache=change != "no-cache")
    assert sorted(parsed) == sorted(fleetdir.instance_names(paths.instances))


def test_the_date_is_part_of_the_context(tmp_path):
    """Acknowledged advisories expire: a record of yesterday settles nothing today."""
    paths = fleet.Paths(instances=copy_sample_fleet(tmp_path))
    sources, _ = fleetdir.read_all(paths.instances)
    one, other = (cache.sources_context("c", sources.fleet, {}, day, paths.instances)
                  for day in ("2026-12-05", "2026-12-06"))
    assert one != other


def test_a_settled_instance_whose_output_was_damaged_is_checked_and_rendered_again(tmp_path, parsed):
    paths, out, tree = generated_sample(tmp_path)
    os.unlink(os.path.join(out, "tools.cdt", "k8s", "statefulset.yaml"))
    parsed.clear()
    done = regenerate.regenerate(paths, out)
    assert "tools.cdt" in parsed and "tools.cdt" not in done.generated.cached
    assert read_tree(out) == tree


@pytest.mark.parametrize("by_metadata", [False, True], ids=["read", "not-read"])
def test_a_new_instance_clashing_with_a_settled_one_is_told_where_both_are(tmp_path, parsed, monkeypatch, by_metadata):
    """not-read: the settled instance's files were not even read (their metadata as recorded), and
    are read, through its directory's descriptor, for the message."""
    if by_metadata:
        monkeypatch.setattr(fleetdir, "RACY_NS", -10**12)
    paths, out, _ = generated_sample(tmp_path)
    if by_metadata:
        regenerate.regenerate(paths, out)  # recorded with the metadata now
    source = os.path.join(paths.instances, "technology.cbi", "instance.yaml")
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    os.makedirs(os.path.join(paths.instances, "technology.cbi2"))
    write(os.path.join(paths.instances, "technology.cbi2", "instance.yaml"),
          text.replace("fullName: technology.cbi", "fullName: technology.cbi2")
          .replace("deployment:\n", "deployment:\n  namespace: cbi\n"))
    parsed.clear()
    with pytest.raises(FleetError) as caught:
        regenerate.regenerate(paths, out)
    messages = [d.format() for d in caught.value.diagnostics]
    assert any("technology.cbi2/instance.yaml:" in m and "is also used by technology.cbi" in m for m in messages), \
        messages
    assert "technology.cbi" in parsed  # the settled instance, parsed for the message about it
    assert any("technology.cbi/instance.yaml:4:" in m and "is also used by technology.cbi2" in m for m in messages), \
        messages


def test_an_instance_with_a_warning_is_checked_every_time(tmp_path, parsed):
    paths, out, _ = generated_sample(tmp_path)
    path = os.path.join(paths.instances, "tools.cdt", "instance.yaml")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines(keepends=True)
    write(path, "".join(lines[1:]))  # without the schema modeline: a warning
    for _ in range(2):
        parsed.clear()
        done = regenerate.regenerate(paths, out)
        assert parsed == ["tools.cdt"]
        assert any("should name the schema" in w.message for w in done.generated.warnings)


def test_a_settled_instance_that_no_longer_parses_is_reported_with_everything_else(tmp_path, monkeypatch):
    """Under another context (here a new fleet.yaml; in life a new version of the tool and its parser)
    settled instances are parsed like the rest: one that fails is one error among all of them."""
    from generator.errors import Diagnostic
    paths, out, _ = generated_sample(tmp_path)
    path = os.path.join(paths.instances, "fleet.yaml")
    with open(path, encoding="utf-8") as fh:
        write(path, fh.read() + "\n# another context\n")
    append(paths, "technology.cbi", "project: [\n")  # broken YAML, and not settled: its bytes changed
    real = fleetdir._parse_instance_file

    def stricter(directory, text):
        if os.path.basename(directory) == "tools.cdt":
            raise FleetError([Diagnostic(os.path.join(directory, "instance.yaml"), 1, 1, "", "refused now")])
        return real(directory, text)
    monkeypatch.setattr(fleetdir, "_parse_instance_file", stricter)
    with pytest.raises(FleetError) as caught:
        regenerate.regenerate(paths, out)
    files = {os.path.relpath(d.file, paths.instances) for d in caught.value.diagnostics if d.is_error}
    assert files == {"tools.cdt/instance.yaml", "technology.cbi/instance.yaml"}


def _tick(path: str) -> None:
    """Wait until a change to `path` gets a later change time than the last one (coarse file-system clocks)."""
    import time
    before = os.stat(path).st_ctime_ns
    # not beside it: its directory's times are part of what is compared
    probe = os.path.join(os.path.dirname(os.path.dirname(path)), ".clock-probe")
    for _ in range(500):
        write(probe, "x")
        later = os.stat(probe).st_ctime_ns > before
        os.unlink(probe)
        if later:
            return
        time.sleep(0.002)


@pytest.fixture
def read(monkeypatch):
    """The instance directories whose files were read, in order (fleet.yaml and catalogs aside)."""
    seen: list[str] = []
    real = fleetdir.read_text

    def spy(path, *args, **kwargs):
        if os.path.basename(path) in fleetdir.INSTANCE_FILES:
            seen.append(os.path.basename(os.path.dirname(path)))
        return real(path, *args, **kwargs)
    monkeypatch.setattr(fleetdir, "read_text", spy)
    return seen


def test_files_unchanged_since_they_were_fingerprinted_are_not_read_again(tmp_path, monkeypatch, read):
    monkeypatch.setattr(fleetdir, "RACY_NS", -10**12)  # the sample was written just now: record it all the same
    paths, out, _ = generated_sample(tmp_path)
    regenerate.regenerate(paths, out)  # the record now says what the files' metadata was
    recorded = fleet.settled_of(fleet.output.read_cache(out)).fingerprints
    assert recorded and all("@" in p for p in recorded.values())
    read.clear()
    again = regenerate.regenerate(paths, out)
    assert read == [] and again.generated.cached == again.generated.names
    path = os.path.join(paths.instances, "technology.cbi", "instance.yaml")
    _tick(path)
    append(paths, "technology.cbi", "storage:\n  size: 77Gi\n")
    changed = regenerate.regenerate(paths, out)
    assert read == ["technology.cbi"]
    assert changed.changed == ["technology.cbi/k8s/statefulset.yaml", "technology.cbi/model.json"]


def test_a_file_rewritten_with_its_old_size_and_times_is_read_again(tmp_path, monkeypatch, read):
    """What `touch -r` or an archive restores (size and modification time) is not enough to look
    unchanged: the change time, which no one can set, differs."""
    monkeypatch.setattr(fleetdir, "RACY_NS", -10**12)
    paths, out, _ = generated_sample(tmp_path)
    regenerate.regenerate(paths, out)
    path = os.path.join(paths.instances, "technology.cbi", "instance.yaml")
    info = os.stat(path)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert "resourcePacks: 5" in text
    _tick(path)
    with open(path, "r+", encoding="utf-8") as fh:  # in place: the same inode
        fh.write(text.replace("resourcePacks: 5", "resourcePacks: 4", 1))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    now = os.stat(path)
    assert (now.st_ino, now.st_size, now.st_mtime_ns) == (info.st_ino, info.st_size, info.st_mtime_ns)
    read.clear()
    changed = regenerate.regenerate(paths, out)
    assert read == ["technology.cbi"] and "technology.cbi/k8s/resourcequota.yaml" in changed.changed


def test_files_changed_just_before_the_read_are_not_recorded_by_their_metadata(tmp_path):
    """A write in the same clock tick as the read could leave the times as they were: git's racy files."""
    _, out, _ = generated_sample(tmp_path)  # written just now
    recorded = fleet.settled_of(fleet.output.read_cache(out)).fingerprints
    assert recorded and not any("@" in p for p in recorded.values())
