"""One merge rule in two places: the model's layers (Jsonnet, templates/model/util.libsonnet) and the
hand-written JCasC over the rendered one (Python, generator/produce.py). Same inputs, same result."""

from __future__ import annotations

import json
import os

from fleettest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import jsonnet
from generator.produce import deep_merge

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))

# Few keys, so that the two sides share many; integers within a double's exact range (Jsonnet's numbers).
keys = st.sampled_from(["a", "b", "c", "jenkins", "x.y"])
scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=5)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)
pairs = st.tuples(st.dictionaries(keys, values, max_size=4), st.dictionaries(keys, values, max_size=4) | values)


@given(st.lists(pairs, min_size=1, max_size=25))
@settings(max_examples=max(40, FUZZ // 10), deadline=None)
def test_jsonnet_and_python_merge_alike(cases):
    out = jsonnet.evaluate_snippet(
        "merge", "function(cases) local u = import 'util.libsonnet'; [u.merge(c[0], c[1]) for c in cases]",
        jpathdir=[os.path.join(ROOT, "templates", "model")], tla_codes={"cases": json.dumps(cases)})
    assert json.loads(out) == [deep_merge(base, override) for base, override in cases]


def test_python_keeps_the_order_jsonnet_would_sort():
    merged = deep_merge({"jenkins": {"z": 1, "a": [1]}, "b": 2}, {"jenkins": {"a": [2], "m": None}, "0": 0})
    assert json.dumps(merged) == '{"jenkins": {"z": 1, "a": [2], "m": null}, "b": 2, "0": 0}'
