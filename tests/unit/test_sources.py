"""generator/sources.py: strict YAML loading that remembers where everything was written."""

from __future__ import annotations

import pytest
from fleettest import write

from generator.errors import FleetError
from generator.sources import MAX_BYTES, format_path, load, parse_text


def errors_of(text: str) -> list:
    with pytest.raises(FleetError) as info:
        parse_text(text, "f.yaml")
    return info.value.diagnostics


def one_error(text: str):
    diags = errors_of(text)
    assert len(diags) == 1, [d.format() for d in diags]
    return diags[0]


# --- positions ---------------------------------------------------------------------------------

DOC = """\
project:
  fullName: technology.cbi
  resourcePacks: 5
jenkins:
  plugins:
    - git
    - "jacoco:3.3.7"
  permissions: [{group: devs, permissions: [Job/Read]}]
"""


def test_values_and_keys_have_line_column_and_span():
    doc = parse_text(DOC, "f.yaml")
    assert doc.data["jenkins"]["plugins"] == ["git", "jacoco:3.3.7"]
    assert doc.values[("project", "fullName")] == (2, 13, len("technology.cbi"))
    assert doc.keys[("project", "fullName")] == (2, 3, len("fullName"))
    assert doc.values[("project", "resourcePacks")] == (3, 18, 1)
    assert doc.values[("jenkins", "plugins", 1)] == (7, 7, len('"jacoco:3.3.7"'))
    flow = DOC.splitlines()[7]
    assert doc.values[("jenkins", "permissions", 0, "group")] == (8, flow.index("devs") + 1, 4)
    assert doc.keys[("jenkins", "permissions", 0, "permissions")] == (8, flow.index("permissions: [Job") + 1, 11)
    assert doc.values[("jenkins", "permissions", 0, "permissions", 0)] == (8, flow.index("Job/") + 1, 8)


def test_position_walks_up_to_the_nearest_known_parent():
    doc = parse_text(DOC, "f.yaml")
    assert doc.position(("project", "displayName")) == doc.values[("project",)]
    assert doc.position(("nowhere", "at", "all")) == doc.values[()]
    assert doc.position(("project", "fullName"), key=True) == doc.keys[("project", "fullName")]
    assert not doc.has(("project", "displayName")) and doc.has(("project", "fullName"))


def test_diagnostic_quotes_the_source_line_under_the_value():
    doc = parse_text(DOC, "f.yaml")
    d = doc.diagnostic(("jenkins", "plugins", 1), "bad plugin", hint="fix it", context=("while testing",))
    assert (d.line, d.column, d.key) == (7, 7, "jenkins.plugins[1]")
    assert d.format().splitlines() == [
        "f.yaml:7:7: error: jenkins.plugins[1]: bad plugin",
        '  7 |     - "jacoco:3.3.7"',
        "    |       ^~~~~~~~~~~~~~",
        "  hint: fix it",
        "  while testing",
    ]


def test_format_path():
    assert format_path(("a", "b", 3, "c")) == "a.b[3].c"
    assert format_path(()) == ""
    assert format_path((0, "x")) == "[0].x"


def test_timestamps_stay_as_written_and_numbers_are_typed():
    doc = parse_text("date: 2024-01-31\nn: 3\nf: 1.5\nb: true\nz: ~\ns: '007'\n", "f.yaml")
    assert doc.data == {"date": "2024-01-31", "n": 3, "f": 1.5, "b": True, "z": None, "s": "007"}


# --- duplicates, aliases, tags -----------------------------------------------------------------

def test_duplicate_key_in_block_mapping_points_at_the_second_key():
    d = one_error("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (d.line, d.column, d.key) == (4, 3, "b.c")
    assert d.message == "duplicate key 'c' (first defined on line 3)"


def test_duplicate_key_in_flow_mapping_and_in_list_items():
    d = one_error("x: {a: 1, a: 2}\n")
    assert (d.line, d.column) == (1, 11)
    assert parse_text("l: [{a: 1}, {a: 2}]\n", "f.yaml").data == {"l": [{"a": 1}, {"a": 2}]}


def test_every_duplicate_is_reported_in_one_go():
    diags = errors_of("a: 1\na: 2\nb: 1\nb: 2\n")
    assert [(d.line, d.key) for d in diags] == [(2, "a"), (4, "b")]


def test_alias_is_reported_where_it_is_used():
    d = one_error("a: &x 1\nb:\n  c: *x\n")
    assert (d.line, d.column, d.span, d.key) == (3, 6, 2, "b.c")
    assert d.message == "anchors and aliases are not allowed"
    assert d.source_line == "  c: *x"


def test_aliases_in_lists_are_each_reported():
    diags = errors_of("base: &b [1, 2]\nl:\n  - *b\n  - 3\n  - *b\n")
    assert [(d.line, d.column, d.key) for d in diags] == [(3, 5, "l[0]"), (5, 5, "l[2]")]


def test_billion_laughs_is_refused_without_expanding():
    lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lol.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    diags = errors_of("\n".join(lol) + "\n")
    assert len(diags) == 8 * 9  # each alias once, never its expansion
    assert all(d.message == "anchors and aliases are not allowed" for d in diags)


def test_merge_keys_are_refused():
    diags = errors_of("base: {a: 1}\nx:\n  <<: {b: 2}\n  c: 3\n")
    assert [(d.line, d.message) for d in diags] == [(3, "merge keys ('<<') are not allowed")]


@pytest.mark.parametrize("text, tag", [
    ("a: !!python/object/apply:os.system ['echo hi']\n", "!!python/object/apply:os.system"),
    ("a: !!python/object:builtins.dict {x: 1}\n", "!!python/object:builtins.dict"),
    ("a: !!python/name:os.system\n", "!!python/name:os.system"),
    ("a: !!set {x, y}\n", "!!set"),
    ("a: !!omap [{x: 1}]\n", "!!omap"),
    ("a: !!binary aGVsbG8=\n", "!!binary"),
    ("a: !local value\n", "!local"),
    ("a: !local {x: 1}\n", "!local"),
])
def test_tags_other_than_plain_scalars_maps_and_lists_are_refused(text, tag):
    d = one_error(text)
    assert d.message == f"YAML tag '{tag}' is not allowed"
    assert (d.line, d.column, d.key) == (1, 4, "a")


def test_standard_tags_are_accepted():
    doc = parse_text("a: !!str 123\nb: !!int '7'\nc: !!map {x: 1}\nd: !!seq [1]\n", "f.yaml")
    assert doc.data == {"a": "123", "b": 7, "c": {"x": 1}, "d": [1]}


@pytest.mark.parametrize("text", ["1: a\n", "true: a\n", "? [a]\n: b\n", "~: a\n"])
def test_keys_must_be_strings(text):
    assert "is not a string" in one_error(text).message


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused(value):
    assert one_error(f"a: {value}\n").message == f"{value!r} is not a finite number"


# --- syntax -------------------------------------------------------------------------------------

def test_syntax_error_has_position_hint_and_one_while():
    d = one_error("project:\n  displayName: A: B\n")
    assert (d.line, d.column) == (2, 17)
    assert d.message == "YAML syntax error: mapping values are not allowed in this context"
    assert "must be quoted" in d.hint


def test_tab_indentation():
    d = one_error("a:\n  b: 1\n\tc: 2\n")
    assert d.line == 3 and d.hint == "indent with spaces, not tabs"
    assert all(not c.startswith("while while") for c in d.context)
    # a tab shows as one column, so the caret stays under it
    assert d.format().splitlines()[2] == "    | ^"


def test_unclosed_quote_names_where_it_started():
    d = one_error('a: "open\nb: 1\n')
    assert d.message.startswith("YAML syntax error")
    assert any("started on line 1" in c for c in d.context)


def test_several_documents_are_refused():
    d = one_error("a: 1\n---\nb: 2\n")
    assert (d.line, d.column) == (2, 1)
    assert d.message == "YAML syntax error: expected a single document in the stream, but found another document"
    assert d.context == ()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_documents(text):
    d = one_error(text)
    assert d.message == "file is empty"


def test_control_character_is_located_and_not_echoed():
    d = one_error('a: 1\nb: "x\x07y"\n')
    assert (d.line, d.column) == (2, 6)
    assert d.message == "control character U+0007 is not allowed in YAML"
    assert "\x07" not in d.format()


# --- files --------------------------------------------------------------------------------------

def test_load_reads_a_file_and_strips_a_bom(tmp_path):
    write(tmp_path / "f.yaml", "\ufeffa: 1\n".encode())
    doc = load(tmp_path / "f.yaml")
    assert doc.data == {"a": 1} and doc.path == str(tmp_path / "f.yaml")
    assert doc.values[("a",)] == (1, 4, 1)


def test_missing_file(tmp_path):
    with pytest.raises(FleetError) as info:
        load(tmp_path / "nope.yaml")
    assert info.value.diagnostics[0].message == "file not found"


def test_non_utf8_is_located_with_a_caret(tmp_path):
    write(tmp_path / "f.yaml", b"a: 1\nname: \"Caf\xe9\"\n")
    with pytest.raises(FleetError) as info:
        load(tmp_path / "f.yaml")
    (d,) = info.value.diagnostics
    assert (d.line, d.column, d.message) == (2, 11, "file is not valid UTF-8")
    assert d.format().splitlines()[1:3] == ['  2 | name: "Caf\ufffd"', "    |           ^"]


def test_size_limit_is_exactly_one_mebibyte(tmp_path):
    head = b"a: 1\n"
    filler = b"#" * (MAX_BYTES - len(head) - 1) + b"\n"
    write(tmp_path / "ok.yaml", head + filler)
    assert len(head + filler) == MAX_BYTES
    assert load(tmp_path / "ok.yaml").data == {"a": 1}
    write(tmp_path / "big.yaml", head + filler + b"\n")
    with pytest.raises(FleetError) as info:
        load(tmp_path / "big.yaml")
    assert info.value.diagnostics[0].message == "file is larger than 1024 KiB"


def test_a_tab_where_a_token_should_start_gets_the_tab_hint():
    d = one_error("jenkins:\n\tquietPeriod: 5\n")
    assert (d.line, d.column) == (2, 1)
    assert d.hint == "indent with spaces, not tabs"


# --- YAML 1.1 against YAML 1.2 ------------------------------------------------------------------------

AMBIGUOUS = [  # plain value, the error (instance and fleet files), what a YAML 1.1 reader makes of it
    ("yes", "'yes' reads as true in YAML 1.1 but as the text \"yes\" in YAML 1.2", True),
    ("Off", "'Off' reads as false in YAML 1.1 but as the text \"Off\" in YAML 1.2", False),
    ("010", "'010' reads as the number 8 in YAML 1.1 but as the number 10 in YAML 1.2", 8),
    ("0b11", "'0b11' reads as the number 3 in YAML 1.1 but as the text \"0b11\" in YAML 1.2", 3),
    ("1_000", "'1_000' reads as the number 1000 in YAML 1.1 but as the text \"1_000\" in YAML 1.2", 1000),
    ("1:30", "'1:30' reads as the number 90 in YAML 1.1 but as the text \"1:30\" in YAML 1.2", 90),
    ("1e3", "'1e3' reads as the text \"1e3\" in YAML 1.1 but as the number 1000.0 in YAML 1.2", "1e3"),
    ("0o17", "'0o17' reads as the text \"0o17\" in YAML 1.1 but as the number 15 in YAML 1.2", "0o17"),
    ("+0x1F", "'+0x1F' reads as the number 31 in YAML 1.1 but as the text \"+0x1F\" in YAML 1.2", 31),
]


@pytest.mark.parametrize("value,message,v11", AMBIGUOUS, ids=[a[0] for a in AMBIGUOUS])
def test_values_yaml_1_1_and_1_2_read_differently_are_refused_in_strict_files(value, message, v11):
    with pytest.raises(FleetError) as info:
        parse_text(f"a:\n  b: {value}\n", "f.yaml", strict_scalars=True)
    (d,) = info.value.diagnostics
    assert (d.line, d.column, d.key, d.message) == (2, 6, "a.b", message)
    assert d.hint.endswith(f'or quote it ("{value}") for the text')
    # quoted, it is the text for every reader; other files (JCasC overrides, read by Jenkins with
    # YAML 1.1 as we do) keep the YAML 1.1 reading
    assert parse_text(f'a: "{value}"\n', "f.yaml", strict_scalars=True).data == {"a": value}
    assert parse_text(f"a: {value}\n", "f.yaml").data == {"a": v11}


@pytest.mark.parametrize("value,typed", [("true", True), ("False", False), ("10", 10), ("-3", -3), ("0", 0),
                                         ("0x1f", 31), ("1.5", 1.5), (".5", 0.5), ("-2.0", -2.0), ("~", None),
                                         ("null", None), ("2.555.2", "2.555.2"), ("1.0.0-rc1", "1.0.0-rc1"),
                                         ("2024-01-01", "2024-01-01"), ("ou=people", "ou=people")])
def test_values_both_read_alike_are_accepted(value, typed):
    assert parse_text(f"a: {value}\n", "f.yaml", strict_scalars=True).data == {"a": typed}
