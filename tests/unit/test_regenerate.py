"""The output directory's one owner (generator/regenerate.py): write, compare, freshness.

The guarantees of the write itself are tests/unit/test_output.py's and the hardening tests'; the
command line around it is tests/e2e/test_cli_generate.py's. These pin what the owner decides."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import yaml
from fleettest import age_tree, copy_sample_fleet, read_tree, write

from generator import fleet, regenerate
from generator.output import FileChange


def sample(tmp_path) -> fleet.Paths:
    return fleet.Paths(instances=copy_sample_fleet(tmp_path))


def test_a_second_run_renders_and_writes_nothing(tmp_path):
    paths, out = sample(tmp_path), str(tmp_path / "build")
    first = regenerate.regenerate(paths, out)
    assert first.written and not first.widened and first.generated.cached == []
    assert len(first.changed) == len(read_tree(out)) - 1  # every file, the index aside
    tree = read_tree(out)
    second = regenerate.regenerate(paths, out)
    assert (second.written, second.changed) == (False, [])
    assert second.generated.cached == second.generated.names == sorted(fleet.fleetdir.instance_names(paths.instances))
    assert read_tree(out) == tree


def test_progress_and_warnings_go_to_the_callers_callbacks(tmp_path):
    paths, out = sample(tmp_path), str(tmp_path / "build")
    seen, warned = [], []

    @contextmanager
    def bar(total):
        seen.append(("total", total))
        yield lambda n: seen.append(n)
    done = regenerate.regenerate(paths, out, ("technology.*",), progress=bar, warn=warned.append)
    assert seen[0] == ("total", 2) and sum(n for n in seen[1:]) == 2
    assert warned == [done.generated.warnings]


def test_a_tree_it_did_not_record_is_regenerated_whole(tmp_path):
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out)
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy)  # same files, but not a tree fleet generate wrote there
    said = []
    done = regenerate.regenerate(paths, copy, ("technology.cbi",), announce=said.append)
    assert done.widened and len(done.generated.names) == 13 and done.generated.cached == []
    assert said == [f"{copy}/ has no record of being written by fleet generate here: generating every instance"]
    assert read_tree(copy) == read_tree(out)


def test_compare_names_what_writing_would_change_and_writes_nothing(tmp_path):
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out)
    assert regenerate.compare(paths, out).changes == []
    age_tree(out)
    write(os.path.join(out, "technology.cbi", "model.json"), "{}\n")
    os.unlink(os.path.join(out, "iot.4diac", "image", "IMAGE"))
    tree = read_tree(out)
    assert regenerate.compare(paths, out).changes == [FileChange("added", "iot.4diac/image/IMAGE"),
                                                      FileChange("changed", "technology.cbi/model.json")]
    # with NAMEs, only those instances (and the fleet-wide files) are compared
    assert regenerate.compare(paths, out, ("technology.cbi",)).changes == [
        FileChange("changed", "technology.cbi/model.json")]
    assert read_tree(out) == tree
    done = regenerate.regenerate(paths, out)  # the damaged instances are rendered again, the rest kept
    assert sorted(set(done.generated.names) - set(done.generated.cached)) == ["iot.4diac", "technology.cbi"]
    assert regenerate.compare(paths, out).changes == []


def test_freshness_against_the_current_sources(tmp_path):
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out, ("technology.*", "tools.cdt"))
    inst = os.path.join(paths.instances, "technology.cbi", "instance.yaml")
    with open(inst) as fh:
        text = fh.read()
    write(inst, text.replace("displayName: ", "displayName: Renamed ", 1))
    shutil.rmtree(os.path.join(paths.instances, "tools.cdt"))
    checked = fleet.check_sources(paths)
    tree = regenerate.freshness(paths, out, checked)
    assert tree.recorded and tree.stale == ["technology.cbi"] and tree.unchanged == ["technology.jgit"]
    assert tree.removed == ["tools.cdt"] and "modeling.emf" in tree.missing
    copy = str(tmp_path / "copy")
    shutil.copytree(out, copy)
    assert not regenerate.freshness(paths, copy, checked, ("technology.*",)).recorded


def test_changed_files_are_what_comparing_every_indexed_file_gives():
    from generator import output
    from generator.regenerate import _changed_files
    old = {"instances": {"a": {"files": {"x": "1", "y": "2"}}, "b": {"files": {"x": "1"}},
                         "gone": {"files": {"z": "9"}}},
           "fleet": {"files": {"monitoring/r.yaml": "5"}}}
    new = {"instances": {"a": {"files": {"x": "1", "y": "3", "w": "4"}}, "b": {"files": {"x": "1"}},
                         "new": {"files": {"q": "7"}}}}
    before, after = output.indexed_files(old), output.indexed_files(new)
    expected = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert _changed_files(old, new) == expected == ["a/w", "a/y", "gone/z", "monitoring/r.yaml", "new/q"]
    assert _changed_files(None, new) == sorted(output.indexed_files(new))
    assert _changed_files(new, new) == []


def test_a_large_run_holds_its_files_packed_and_writes_the_same_tree(tmp_path, monkeypatch):
    import pickle

    from generator.output import Packed
    paths = sample(tmp_path)
    plain, packed = str(tmp_path / "plain"), str(tmp_path / "packed")
    regenerate.regenerate(paths, plain)
    monkeypatch.setattr(fleet, "PACK_FROM", 1)  # "large" from one instance rendered
    done = regenerate.regenerate(paths, packed)
    held = [v for rel, v in done.generated.files.items() if not rel.startswith("monitoring/")]
    assert held and all(isinstance(v, Packed) for v in held)
    assert read_tree(packed) == read_tree(plain)
    one = held[0]
    again = pickle.loads(pickle.dumps(one))  # what a worker process sends back
    assert (again.digest, again.raw()) == (one.digest, one.raw())
    with_workers = str(tmp_path / "workers")
    monkeypatch.setattr(fleet, "MIN_PARALLEL", 1)
    regenerate.regenerate(paths, with_workers, jobs=2)
    assert read_tree(with_workers) == read_tree(plain)


def test_a_run_with_little_to_render_starts_no_worker_processes(tmp_path, monkeypatch):
    """Creating the pool is not free even unused (its semaphores start multiprocessing's resource
    tracker, one more interpreter): it is made when a chunk goes to the workers, not before."""
    from concurrent import futures
    made = []

    class Spy(futures.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            made.append(kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(futures, "ProcessPoolExecutor", Spy)
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out, jobs=2)  # 13 instances: fewer than fleet.MIN_PARALLEL
    assert made == []
    monkeypatch.setattr(fleet, "MIN_PARALLEL", 1)
    regenerate.regenerate(paths, out, jobs=2, use_cache=False)
    assert made == [2]


def test_after_a_small_change_the_spare_is_known_by_what_it_does_not_share(tmp_path):
    """The state records which files the output and the spare do not share (output._sharing_record);
    the next small change keeps the shared ones without looking at them again, and the trees
    stay exactly what a fresh run writes."""
    from generator import output
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out)
    names = fleet.fleetdir.instance_names(paths.instances)
    for name in names[:3]:
        path = os.path.join(paths.instances, name, "instance.yaml")
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        data["project"]["displayName"] += " (changed)"
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh)
        assert regenerate.regenerate(paths, out).written
    state = output._read_state(out)
    record = state.sharing
    assert record["output"] == state.trees[0] and record["spare"] == state.trees[1]
    changed = {f.split("/", 1)[0] for f in record["fresh"]} | {f.split("/", 1)[0] for f in record["own"]}
    assert changed == {names[2]}  # only the instance of the last change: everything else is one file in two trees
    shared = [rel for rel in output.indexed_files(output.read_index(out)) if not rel.startswith(names[2] + "/")]
    spare = output.spare_path(out)
    assert all(os.path.samefile(os.path.join(out, rel), os.path.join(spare, rel)) for rel in shared)
    fresh = str(tmp_path / "fresh")
    regenerate.regenerate(paths, fresh, use_cache=False)
    assert read_tree(out) == read_tree(fresh)


def test_a_large_change_records_no_sharing_and_the_next_small_one_does(tmp_path, monkeypatch):
    """Past output.SHARING_MAX unshared files nothing is recorded (nor held while writing); the
    next run looks at every file of the spare, links the copies, and records again."""
    from generator import output
    paths, out = sample(tmp_path), str(tmp_path / "build")
    regenerate.regenerate(paths, out)
    regenerate.regenerate(paths, out, use_cache=False)  # the spare now exists
    fleet_yaml = os.path.join(paths.instances, "fleet.yaml")
    with open(fleet_yaml, encoding="utf-8") as fh:
        text = fh.read()
    write(fleet_yaml, text.replace("timezone: Europe/Paris", "timezone: Europe/Berlin", 1))  # every JCasC changes
    monkeypatch.setattr(output, "SHARING_MAX", 45)  # above one instance's files, twice; below every JCasC's
    assert regenerate.regenerate(paths, out).written
    assert output._read_state(out).sharing == {}
    name = fleet.fleetdir.instance_names(paths.instances)[0]
    path = os.path.join(paths.instances, name, "instance.yaml")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data["project"]["displayName"] += " (changed)"
    write(path, yaml.safe_dump(data))
    assert regenerate.regenerate(paths, out).written
    record = output._read_state(out).sharing
    assert record and {rel.split("/", 1)[0] for rel in [*record["fresh"], *record["own"]]} == {name}
    fresh = str(tmp_path / "fresh")
    regenerate.regenerate(paths, fresh, use_cache=False)
    assert read_tree(out) == read_tree(fresh)


def test_with_workers_the_alerting_rules_are_made_in_one_of_them_and_are_the_same(tmp_path, monkeypatch):
    """The rules' one Jsonnet run over every monitored instance grew the parent's heap by 330 MB at
    10,000 instances: with a pool running, a worker makes them, while the parent checks the models."""
    from generator import monitoring
    paths = sample(tmp_path)
    plain, with_workers = str(tmp_path / "plain"), str(tmp_path / "workers")
    regenerate.regenerate(paths, plain)
    here, original = [], monitoring.rules
    monkeypatch.setattr(monitoring, "rules", lambda *a, **k: here.append(1) or original(*a, **k))
    monkeypatch.setattr(fleet, "MIN_PARALLEL", 1)
    done = regenerate.regenerate(paths, with_workers, jobs=2, use_cache=False)
    assert here == [], "the rules were made in this process"
    assert any(rel.startswith("monitoring/") for rel in done.generated.files)
    assert read_tree(with_workers) == read_tree(plain)

