"""The fast YAML emitter: whatever JSON-like data goes in parses back unchanged."""

import os

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import sources, yamlout

EXAMPLES = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "300"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**53, max_value=2**53),
    st.text(max_size=40),
    st.sampled_from(["yes", "no", "on", "off", "null", "~", "true", "1.5", "0x1f", "2024-01-01", "=", "-",
                     "a: b", "#x", "- x", "{a}", "[a]", "*a", "&a", "!tag", "%x", "@x", "`x", "'q'", '"q"',
                     " lead", "trail ", "multi\nline\n", "multi\nline", "x\n\n", "\tx", "\u2028", "\x85",
                     "é", "😀", "", " ", "\n", "key:", "a #b", "..", "---", "...", "<<",
                     "1e3", "0o17", "1_000", "1:30", "010", "-1.5e-3", "+5", "Yes", "OFF"]),
)
keys = st.one_of(st.text(min_size=0, max_size=20), st.sampled_from(["yes", "null", "1", "a.b/c", "<<", "-"]))
data = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(keys, children, max_size=4)), max_leaves=25)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(st.dictionaries(keys, data, min_size=1, max_size=5), st.lists(data, min_size=1, max_size=5)),
       st.booleans())
def test_round_trip(value, sort_keys):
    text = yamlout.dump(value, sort_keys=sort_keys)
    assert yaml.safe_load(text) == value
    # and the same for a YAML 1.2 reader: what we write is never a form the two read differently
    assert sources.parse_text(text, "written.yaml", strict_scalars=True).data == value


def test_plain_where_safe_and_quoted_where_not():
    text = yamlout.dump({"a": "jenkins", "b": "yes", "c": "1.5", "d": "a: b", "e": "ou=group", "f": "2024-01-01",
                         "g": "1e3", "h": "0o17", "i": "2.555.2"}, sort_keys=True)
    assert text == ('a: jenkins\nb: "yes"\nc: "1.5"\nd: "a: b"\ne: ou=group\nf: "2024-01-01"\ng: "1e3"\n'
                    'h: "0o17"\ni: 2.555.2\n')


def test_multiline_text_is_a_literal_block():
    text = yamlout.dump({"data": {"jenkins.yaml": "jenkins:\n  numExecutors: 0\n"}}, sort_keys=True)
    assert text == "data:\n  jenkins.yaml: |\n    jenkins:\n      numExecutors: 0\n"


def test_nested_lists_and_empty_collections():
    value = {"spec": {"limits": [{"type": "Pod", "max": {"cpu": "8300m"}}], "empty": {}, "none": []}}
    text = yamlout.dump(value, sort_keys=False)
    assert text == ("spec:\n  limits:\n  - type: Pod\n    max:\n      cpu: 8300m\n  empty: {}\n  none: []\n")
    assert yaml.safe_load(text) == value
