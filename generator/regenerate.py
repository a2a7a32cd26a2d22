"""The output directory's life, in one place: what `fleet generate --out DIR` does to DIR.

    regenerate  lock -> recover -> read what the last run recorded -> refuse a directory this tool
                did not write -> generate (cached instances are not rendered) -> merge the index
                with the kept instances -> carry their files over -> write the tree (or only the
                record of inputs keys when nothing changed)
    compare     the same generation, compared with DIR and nothing written (`--check`)
    freshness   whether DIR is what `fleet generate` wrote here from the current sources (deploy)

Callers (the CLI, `fleet check`, `fleet deploy`) pass callbacks for what they show; nothing here
prints. The guarantees of the write itself (atomic swap, spare reuse, trusted trees only) are
generator/output.py's; SECURITY.md says what may be trusted to whom.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from . import fleet, fleetdir, monitoring, output
from .errors import Diagnostic
from .names import select_names

# A progress display for N instances: a context manager giving the function to call with each
# number of instances done (the CLI's progress bar).
ProgressFactory = Callable[[int], AbstractContextManager]
Announce = Callable[[str], None]
Warn = Callable[[list[Diagnostic]], None]


@dataclass
class Regenerated:
    generated: fleet.Generated
    changed: list[str]  # files whose content changed, relative to the output (the index aside)
    written: bool  # a new tree was swapped in (else only the inputs keys were recorded)
    widened: bool  # NAMEs were dropped: the directory held a tree this tool did not record here


@dataclass
class Compared:
    generated: fleet.Generated
    changes: list[output.FileChange]  # what writing would add, change or remove


def regenerate(paths: fleet.Paths, out_dir: str, names=(), *, jobs: int = 1, use_cache: bool = True,
               progress: ProgressFactory | None = None, announce: Announce | None = None,
               warn: Warn | None = None) -> Regenerated:
    """Bring `out_dir` up to date with the selected instances (all without NAMEs); the others it
    holds stay as they are. Raises FleetError (bad input, a directory this tool did not write),
    OutputBusyError (another run holds it), OutputWriteError (the machine refused a write)."""
    names = tuple(names)
    total = len(fleetdir.select(paths.instances, names))  # a mistyped NAME fails before the lock
    # The lock first: the cache and the files carried over must be those of the tree we replace.
    with output.OutputLock(out_dir):
        output.recover(out_dir)  # finish or undo what a killed run left behind
        previous = output.read_cache(out_dir)  # read once: the cache, the kept keys, the old index
        widened = False
        if previous is None:
            output.refuse_foreign(out_dir)  # before the work, not after it
            if names and output.read_index(out_dir) is not None:
                # Nothing is carried over from a tree this tool did not write here (a clone's, an
                # older version's): the other instances are generated too.
                if announce:
                    announce(f"{out_dir}/ has no record of being written by fleet generate here: "
                             "generating every instance")
                names, widened = (), True
                total = len(fleetdir.select(paths.instances, names))
        old_index = previous.index if previous else output.read_index(out_dir)
        with _bar(progress, total) as advance:
            gen = fleet.generate(paths, names, jobs=jobs, progress=advance,
                                 cache=previous if use_cache else None,
                                 previous=old_index if previous else None, whole_models=False, pack_files=True)
        if warn:
            warn(gen.warnings)
        keep = _kept(old_index, gen, names, paths.instances)
        keys = {**_kept_keys(previous, keep), **gen.keys}
        if gen.fleet_key is not None:
            keys[fleet.FLEET_FILES_KEY] = gen.fleet_key
        index = merged_index(gen.index, old_index, keep + gen.cached)
        changed = _changed_files(old_index, index)
        # Anything rendered is written: an instance or rules file edited by hand is rendered again
        # (the cache saw its time) and must be put back even though the index does not change.
        written = bool(changed or not os.path.isdir(out_dir) or old_index != index
                       or gen.keys.keys() - set(gen.cached) or (gen.fleet_key is not None and not gen.fleet_cached))
        recorded = _recorded_sources(previous, gen, keep, keys)
        if written:
            files = dict(gen.files)
            files[output.INDEX] = fleet.index_bytes(index)
            output.write_tree(out_dir, files, _carried(old_index, gen, keep), keys, recorded,
                              current_index=previous.index if previous else None)
        elif previous is None or previous.keys != keys or previous.sources != (recorded or {}):
            output.write_cache(out_dir, keys, recorded)
        # else: the state already says all of it (at 10,000 instances, rewriting it cost 40 ms)
    return Regenerated(gen, changed, written, widened)


def compare(paths: fleet.Paths, out_dir: str, names=(), *, jobs: int = 1, progress: ProgressFactory | None = None,
            warn: Warn | None = None) -> Compared:
    """What regenerate would change in `out_dir`, file by file; nothing is written, nothing is taken
    from the cache (every selected instance is rendered and compared byte for byte)."""
    names = tuple(names)
    total = len(fleetdir.select(paths.instances, names))
    old_index = output.read_index(out_dir)
    with _bar(progress, total) as advance:
        gen = fleet.generate(paths, names, jobs=jobs, progress=advance, previous=old_index, whole_models=False)
    if warn:
        warn(gen.warnings)
    keep = _kept(old_index, gen, names, paths.instances)
    files = dict(gen.files)
    files[output.INDEX] = fleet.index_bytes(merged_index(gen.index, old_index, keep))
    scope = (set(gen.names) | {output.INDEX} | set(monitoring.FLEET_DIRS)) if names else None
    return Compared(gen, output.compare(out_dir, files, scope=scope))


@dataclass
class Freshness:
    """How `out_dir` stands against the current sources (the selected instances)."""

    recorded: bool  # fleet generate wrote it here (else nothing of it can be tied to the sources)
    built: dict  # its index's instances
    missing: list[str]  # selected, defined, not in it
    removed: list[str]  # selected, in it, no longer defined
    stale: list[str]  # in it, but their inputs changed since (only when recorded)
    unchanged: list[str]  # in it, inputs as recorded (only when recorded)


def freshness(paths: fleet.Paths, out_dir: str, checked: fleet.Checked, names=()) -> Freshness:
    """Compare the inputs keys `fleet generate` recorded beside `out_dir` with those of `checked`
    (fleet.check_sources of the whole fleet)."""
    state = output.read_cache(out_dir)
    built = (output.read_index(out_dir) or {}).get("instances", {})
    current = {i.name for i in checked.inputs}
    selected = set(select_names(current | set(built), names, where=paths.instances))
    missing = sorted(selected - set(built))
    removed = sorted((selected & set(built)) - current)
    if state is None:
        return Freshness(False, built, missing, removed, [], [])
    keys = fleet.input_keys(paths, checked)
    ours = sorted(n for n in selected & set(built) & current)
    stale = [n for n in ours if state.keys.get(n) != keys[n]]
    return Freshness(True, built, missing, removed, stale, [n for n in ours if n not in stale])


# --- what a run keeps of the tree it replaces ------------------------------------------------------

def _bar(progress: ProgressFactory | None, total: int) -> AbstractContextManager:
    return progress(total) if progress else nullcontext(None)


def _kept(old_index, gen: fleet.Generated, names, instances_dir: str) -> list[str]:
    """Instances of the current output that a run with NAMEs keeps (not selected, still defined)."""
    return list(fleet.kept_entries(old_index, names, gen.names, instances_dir)) if old_index else []


def _carried(old_index, gen: fleet.Generated, keep: list[str]) -> output.Grouped:
    """The files carried over from the current output (kept or unchanged instances) and their
    sha256, by instance: the index's own dicts, not copied (190,000 entries at 10,000 instances)."""
    if not old_index:
        return {}
    entries = old_index.get("instances", {})
    carried = {n: entries[n]["files"] for n in keep + gen.cached}
    if gen.fleet_cached:
        for top, files in output.grouped_files({"fleet": gen.index["fleet"]}).items():
            carried[top] = {**carried.get(top, {}), **files}
    return carried


def _recorded_sources(previous: output.CacheState | None, gen: fleet.Generated, keep: list[str],
                      keys: dict[str, str]) -> dict | None:
    """The sources record for the new state (fleet.Settled): the instances of this run whose checks
    found nothing, and those kept unselected as the last run recorded them if the context is the same."""
    if not gen.sources.get("context"):
        return None
    prints = dict(gen.sources["fingerprints"])
    if previous and previous.sources.get("context") == gen.sources["context"]:
        old = previous.sources.get("fingerprints", {})
        prints.update((n, old[n]) for n in keep if n in old)
    return {"context": gen.sources["context"], "fingerprints": {n: p for n, p in prints.items() if n in keys}}


def _kept_keys(previous: output.CacheState | None, keep: list[str]) -> dict[str, str]:
    """Inputs keys of instances carried over unselected: still valid for their unchanged files."""
    return {n: previous.keys[n] for n in keep if previous and n in previous.keys}


def _changed_files(old_index, new_index) -> list[str]:
    """Files whose hash differs between two indexes (added, changed or removed). Instances whose
    file lists are equal are passed over whole: at 10,000 instances, comparing 190,000 paths one
    by one took 0.2-0.4 s of a run that changed one instance."""
    old, new = (old_index or {}).get("instances", {}), (new_index or {}).get("instances", {})
    changed = []
    for name in old.keys() | new.keys():
        before, after = (old.get(name) or {}).get("files", {}), (new.get(name) or {}).get("files", {})
        if before is not after and before != after:  # a carried entry is the old index's own
            changed.extend(f"{name}/{rel}" for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel))
    before, after = ((index or {}).get("fleet", {}).get("files", {}) for index in (old_index, new_index))
    changed.extend(rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel))
    return sorted(changed)


def merged_index(new: dict, old: dict | None, keep: list[str]) -> dict:
    """The index of the new tree: the instances generated now and those kept from the old one."""
    instances = dict((old or {}).get("instances", {}))
    keep = set(keep)
    instances = {k: v for k, v in instances.items() if k in keep}
    instances.update(new["instances"])
    merged = {"generator": new["generator"], "instances": dict(sorted(instances.items()))}
    if "fleet" in new:  # rendered now or carried over whole: the new entry is complete
        merged["fleet"] = new["fleet"]
    return merged
