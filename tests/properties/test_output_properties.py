"""generator/output.py: whatever sequence of trees is written, and whatever is done to build/ by
hand in between, the output holds exactly the last tree written, and the spare exactly the one
before it or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile

from fleettest import age_tree, index_listing, read_tree, write
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import output
from generator.output import INDEX, OutputLock, write_tree

NAMES = ["a", "b", "c"]
RELS = ["k8s/ns.yaml", "k8s/quota.yaml", "image/Dockerfile", "model.json"]
CONTENTS = [b"1\n", b"2\n", b"3\n"]

files_strategy = st.dictionaries(st.builds(lambda n, r: f"{n}/{r}", st.sampled_from(NAMES), st.sampled_from(RELS)),
                                 st.sampled_from(CONTENTS), max_size=8)
tamper_strategy = st.sampled_from([None, "add", "remove", "edit", "add-dir", "remove-dir"])
# one step: the files, which of them come from the current tree, and what a user does afterwards
step_strategy = st.tuples(files_strategy, st.sets(st.sampled_from(NAMES)), tamper_strategy)


def tamper(build: str, kind: str | None, current: dict[str, bytes]) -> None:
    victims = sorted(rel for rel in current if rel != INDEX)
    if kind == "add":
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


@settings(max_examples=60, deadline=None)
@given(st.lists(step_strategy, min_size=1, max_size=6))
def test_the_output_is_always_exactly_the_last_tree_written(steps):
    with tempfile.TemporaryDirectory() as parent:
        build = os.path.join(parent, "build")
        current: dict[str, bytes] = {}
        for files, carried_names, kind in steps:
            # carry over what the current tree has of the chosen instances (unchanged, as generate does)
            carry = {rel: output.sha256(data) for rel, data in current.items()
                     if rel != INDEX and rel.split("/", 1)[0] in carried_names}
            fresh = {rel: data for rel, data in files.items() if rel.split("/", 1)[0] not in carried_names}
            expected = {**{rel: current[rel] for rel in carry}, **fresh}
            expected[INDEX] = index_listing(expected)
            with OutputLock(build):
                write_tree(build, {**fresh, INDEX: expected[INDEX]}, carry)
            assert read_tree(build) == expected
            spare = os.path.join(parent, ".build.spare")
            if os.path.exists(spare) and current:
                assert read_tree(spare) == current  # the previous tree, as written, or nothing
            age_tree(build)
            tamper(build, kind, expected)
            # what generate would carry over next time is what the tree holds now, edits included
            current = read_tree(build)
        assert sorted(n for n in os.listdir(parent) if n.startswith(".")) in (
            [".build.cache.json", ".build.lock"], [".build.cache.json", ".build.lock", ".build.spare"])
