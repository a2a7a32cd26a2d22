"""generator/output.py: whatever sequence of trees is written, and whatever is done to build/ by
hand in between, the output holds exactly the last tree written, and the spare exactly the one
before it or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile

from fleettest import age_tree, index_listing, read_tree, write
from hypothesis import example, given, settings
from hypothesis import strategies as st

from generator import output
from generator.output import INDEX, OutputLock, write_tree

NAMES = ["a", "b", "c"]
RELS = ["k8s/ns.yaml", "k8s/quota.yaml", "image/Dockerfile", "model.json"]
CONTENTS = [b"1\n", b"2\n", b"3\n"]

files_strategy = st.dictionaries(st.builds(lambda n, r: f"{n}/{r}", st.sampled_from(NAMES), st.sampled_from(RELS)),
                                 st.sampled_from(CONTENTS), max_size=8)
tamper_strategy = st.sampled_from([None, "add", "remove", "edit", "add-dir", "remove-dir", "edit-spare"])
# one step: the files, which of them come from the current tree, and what a user does afterwards
step_strategy = st.tuples(files_strategy, st.sets(st.sampled_from(NAMES)), tamper_strategy)


def tamper(build: str, kind: str | None, current: dict[str, bytes]) -> None:
    victims = sorted(rel for rel in current if rel != INDEX)
    spare = os.path.join(os.path.dirname(build), ".build.spare")
    if kind == "edit-spare":  # in place, all of it: where a file is the output's too, both change
        for rel in sorted(read_tree(spare)) if os.path.isdir(spare) else []:
            if rel != INDEX:
                with open(os.path.join(spare, rel), "ab") as fh:
                    fh.write(b"edited in the spare\n")
    elif kind == "add":
        write(os.path.join(build, (victims[0].rsplit("/", 1)[0] if victims else "") + "/stray.txt"), "x\n")
    elif kind == "add-dir":
        write(os.path.join(build, "stray", "file"), "x\n")
    elif kind == "remove" and victims:
        os.unlink(os.path.join(build, victims[0]))
    elif kind == "edit" and victims:
        with open(os.path.join(build, victims[-1]), "ab") as fh:
            fh.write(b"edited by hand\n")
    elif kind == "remove-dir" and victims:
        shutil.rmtree(os.path.join(build, victims[0].split("/", 1)[0]))


@settings(max_examples=80, deadline=None)
@given(st.lists(step_strategy, min_size=1, max_size=6), st.booleans())
def test_the_output_is_always_exactly_the_last_tree_written(steps, as_generate):
    run_steps(steps, as_generate)


# A smaller world and longer histories: a file's content going back and forth between the output
# and the spare, edits where both trees hold the same file, so that what the state records of
# their sharing is put to the test (a wrong record keeps a stale file in the spare).
small_files = st.dictionaries(st.builds(lambda n, r: f"{n}/{r}", st.sampled_from(NAMES[:2]),
                                        st.sampled_from(RELS[:2])), st.sampled_from(CONTENTS[:2]), max_size=4)
small_step = st.tuples(small_files, st.sets(st.sampled_from(NAMES[:2])),
                       st.sampled_from([None, None, "edit", "remove", "edit-spare"]), st.booleans())


# The file written twice (two inodes, the same bytes), kept in the spare, then edited there: the
# spare's copy is its own, whether the run before knew it from the record or from the inodes.
_TWICE = [({"a/model.json": b"1\n"}, set(), None, True), ({"a/model.json": b"1\n"}, set(), None, True),
          ({}, {"a"}, "edit-spare", True), ({}, {"a"}, None, True)]
# A file back to what the spare holds (kept there), then carried: the spare's copy is not the output's.
_BACK = [({"a/model.json": b"1\n"}, set(), None, True), ({"a/model.json": b"2\n"}, set(), None, True),
         ({"a/model.json": b"1\n"}, set(), None, True), ({}, {"a"}, None, True)]


@settings(max_examples=150, deadline=None)
@given(st.lists(small_step, min_size=3, max_size=9))
@example(_TWICE)
@example([step if i != 1 else (*step[:3], False) for i, step in enumerate(_TWICE)])
@example(_BACK)
def test_what_the_spare_shares_with_the_output_is_never_trusted_wrongly(steps):
    """Each step as fleet generate writes (with a sharing record) or not (the record then
    learnt from the files themselves)."""
    run_steps([step[:3] for step in steps], as_generate=[step[3] for step in steps])


def run_steps(steps, as_generate: bool | list[bool]) -> None:
    """as_generate: as fleet generate calls it: a carried instance whose files are not all as
    written (edited, removed) is rendered again (the same bytes as before) instead, and the call
    passes the current index (what the trees share is then recorded and used)."""
    with tempfile.TemporaryDirectory() as parent:
        build = os.path.join(parent, "build")
        current: dict[str, bytes] = {}  # what build/ holds, edits included
        last: dict[str, bytes] = {}  # what the last step wrote
        for i, (files, carried_names, kind) in enumerate(steps):
            extra = {}
            cache = output.read_cache(build) if (as_generate[i] if isinstance(as_generate, list) else as_generate) \
                else None
            if cache is not None:
                entries = cache.index.get("instances", {})
                intact = frozenset(n for n in carried_names if n in entries and output.files_intact(
                    build, n, entries[n]["files"], cache.written_ns))
                extra = {"current_index": cache.index}
                again = {rel: data for rel, data in last.items()
                         if rel != INDEX and rel.split("/", 1)[0] in carried_names - intact}
                carried_names = intact
            else:
                again = {}
            # carry over what the current tree has of the chosen instances (unchanged, as generate does)
            carry = {rel: output.sha256(data) for rel, data in current.items()
                     if rel != INDEX and rel.split("/", 1)[0] in carried_names}
            fresh = {**{rel: data for rel, data in files.items() if rel.split("/", 1)[0] not in carried_names
                        and rel.split("/", 1)[0] not in {r.split("/", 1)[0] for r in again}}, **again}
            expected = {**{rel: current[rel] for rel in carry}, **fresh}
            expected[INDEX] = index_listing(expected)
            with OutputLock(build):
                write_tree(build, {**fresh, INDEX: expected[INDEX]}, output.grouped(carry), **extra)
            assert read_tree(build) == expected
            spare = os.path.join(parent, ".build.spare")
            if os.path.exists(spare) and current:
                assert read_tree(spare) == current  # the previous tree, as written, or nothing
            last = expected
            age_tree(build)
            tamper(build, kind, expected)
            # what generate would carry over next time is what the tree holds now, edits included
            current = read_tree(build)
        assert sorted(n for n in os.listdir(parent) if n.startswith(".")) in (
            [".build.cache.json", ".build.lock"], [".build.cache.json", ".build.lock", ".build.spare"])
