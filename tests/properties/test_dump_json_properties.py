"""output.dump_json writes what json.dumps(indent=2, sort_keys=True, ensure_ascii=False) writes, to the
byte, whatever the data (it takes orjson where the two agree, the standard library elsewhere)."""

from __future__ import annotations

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.output import dump_json

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))

scalars = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e-05, 1e-4, 1e16, 9.99e15, -0.0, 0.1])
           | st.text(max_size=12))  # lone surrogates included: json.loads makes them from "\ud800"
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=25)


@settings(max_examples=max(300, FUZZ), deadline=None)
@given(documents)
def test_dump_json_is_the_standard_librarys_output(data):
    assert dump_json(data) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
