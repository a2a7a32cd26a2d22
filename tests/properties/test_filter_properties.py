"""The quoting filters round-trip any text (hypothesis)."""

from __future__ import annotations

import os

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.output import dump_yaml
from generator.render import jcasc_scalar, yaml_scalar

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(max_examples=max(300, FUZZ), deadline=None)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
# Bias towards what breaks YAML: indicators, quotes, line breaks, '${', unicode line separators.
nasty = st.lists(st.sampled_from(["${", "^${", "^", "$", "{", "}", ":", ": ", " #", "#", "'", '"', "\\", "\n", "\r",
                                  "\t", " ", "-", "?", "&", "*", "!", "|", ">", "%", "@", "`", "\x85", "\u2028",
                                  "\ufeff", "\x00", "\x1b", "é", "🚀", "yes", "null", "1e3", "..."]),
                 max_size=30).map("".join)
strings = text | nasty


@given(strings)
@SETTINGS
def test_yaml_scalar_round_trips(value):
    rendered = yaml_scalar(value)
    assert "\n" not in rendered
    assert yaml.safe_load(f"a: {rendered}\nb: 1\n") == {"a": value, "b": 1}


@given(strings)
@SETTINGS
def test_jcasc_scalar_round_trips_after_jcasc_unescaping(value):
    loaded = yaml.safe_load(f"a: {jcasc_scalar(value)}\nb: 1\n")
    assert loaded["b"] == 1
    assert "${" not in loaded["a"].replace("^${", "")  # nothing left for JCasC to expand
    assert loaded["a"].replace("^${", "${") == value


@given(st.dictionaries(st.text(min_size=1, max_size=20), strings, max_size=5))
@SETTINGS
def test_generated_yaml_files_round_trip(data):
    """output.dump_yaml writes every generated YAML file; what it writes must read back the same."""
    assert yaml.safe_load(dump_yaml({"data": data}, sort_keys=True)) == {"data": data}
