"""Bad input, fuzzed: mutations of the sample fleet's files must be refused cleanly.

Starting from the valid sample fleet (instances/ copied to a scratch directory, build/ generated
once), each example applies one mutation to fleet.yaml, an instance.yaml, a hand-written
jenkins.yaml or the directory layout: wrong types, missing and unknown keys, YAML syntax errors,
duplicate keys, tabs, alias bombs, huge and non-finite numbers, zero and negative packs, control
and other unicode characters, invalid UTF-8, YAML-special strings (': ', '#', '{', quotes, line
breaks, '!!python/object'), names with '/', '..', spaces or uppercase as directory names and as
fullName/shortName, missing files.  Then `fleet generate` (or validate) runs in-process through
click's CliRunner and must:

- exit 1, with no traceback and no "internal error";
- report an error at `file:line:col` in the mutated file (or, where there is no position, the
  documented message: file not found, cannot read file, instances directory not found, is a
  symbolic link, instance directories are not nested);
- leave build/ byte-for-byte unchanged (digest of the whole tree) with no .build.tmp-*/.build.old-*.

Which mutations must be refused is decided by the oracle in badinput.py, not by the generator;
a mutation the oracle cannot prove invalid is discarded.  FLEET_FUZZ_EXAMPLES=N runs N examples
(`make fuzz-long`); the default keeps this file near one minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field

import pytest
import yaml
from badinput import (
    JCASC_ROOTS,
    MAX_BYTES,
    constrained,
    leftovers,
    schema_at,
    spans,
    tree_digest,
    type_ok,
    verdict,
    walk,
)
from fleettest import copy_sample_fleet, fleet_in_process, fleet_subprocess
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
if FUZZ:
    pytestmark = pytest.mark.timeout(0)
# deterministic (derandomize): every kind of mistake below still comes up (see the event statistics with
# --hypothesis-show-statistics); make fuzz-long runs 20,000
DEFAULT_EXAMPLES = 100

# Position-less messages documented for problems that have no line (README, docs): the file path
# itself is the position.
POSITIONLESS = ("file not found", "cannot read file", "instances directory not found",
                "is a symbolic link, and links are never followed here",
                "instance directories are not nested, so this instance is not read")


# --- the sample fleet ----------------------------------------------------------------------------

@dataclass
class Sample:
    root: str
    files: dict[str, bytes]  # relative path below root -> bytes, every file of instances/
    digest: str  # of build/

    def __repr__(self) -> str:
        return f"Sample({self.root!r})"

    @property
    def build(self) -> str:
        return os.path.join(self.root, "build")

    def targets(self) -> list[tuple[str, str]]:
        """(kind, relative path) of every file a mutation may change."""
        out = []
        for rel in sorted(self.files):
            if rel == "instances/fleet.yaml":
                out.append(("fleet", rel))
            elif rel.endswith("/instance.yaml"):
                out.append(("instance", rel))
            elif rel.endswith("/jenkins.yaml"):
                out.append(("override", rel))
        return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Sample:
    root = str(tmp_path_factory.mktemp("fuzz"))
    copy_sample_fleet(root)
    run = fleet_in_process(["generate", "--jobs", "1"], root)
    assert run.code == 0, run.stderr
    files = {}
    for dirpath, _, filenames in os.walk(os.path.join(root, "instances")):
        for f in filenames:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                files[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return Sample(root, files, tree_digest(os.path.join(root, "build")))


# --- a case: what to change and what must be reported -----------------------------------------------

@dataclass
class Case:
    label: str
    writes: dict[str, bytes | None] = field(default_factory=dict)  # None: delete the file
    renames: list[tuple[str, str]] = field(default_factory=list)  # directories, relative to root
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> link target
    dirs: list[str] = field(default_factory=list)  # replace these files by empty directories
    expect_file: str = ""  # where a positioned error must be reported
    positionless: tuple[str, str] = ("", "")  # (path, message) when there is no position
    why: str = ""


def dump(original: bytes, data) -> bytes:
    """YAML for `data`, keeping the leading comment lines of the original (the schema line)."""
    head = b"".join(line for line in original.splitlines(keepends=True)[:2] if line.startswith(b"#"))
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 20, default_flow_style=False)
    return head + body.encode("utf-8")


def directory_of(rel: str) -> str:
    return rel.split("/")[1]


def judged(case: Case, kind: str, rel: str, raw: bytes, directory: str | None = None) -> Case:
    """Fill in the expectation from the oracle; discard the example when it may be valid."""
    v = verdict(kind, raw, directory if directory is not None else (directory_of(rel) if kind == "instance" else None))
    assume(v.reject)
    case.writes[rel] = raw
    case.expect_file = case.expect_file or rel
    case.why = v.why
    return case


def parsed(raw: bytes):
    return yaml.safe_load(raw.decode("utf-8"))


# --- mutation operators ------------------------------------------------------------------------

WRONG_VALUES = ["text", "", 42, -1, 1.5, True, False, None, [], ["a", 1], {}, {"key": "value"}]


@st.composite
def wrong_type(draw, kind, rel, raw):
    data = parsed(raw)
    candidates = [p for p, _ in walk(data) if (s := schema_at(kind, p)) and ("type" in s or "enum" in s)]
    assume(candidates)
    path = draw(st.sampled_from(candidates))
    schema = schema_at(kind, path)
    value = draw(st.sampled_from([v for v in WRONG_VALUES if not type_ok(schema, v)]))
    return judged(Case("wrong type"), kind, rel, dump(raw, _set(data, path, value)))


@st.composite
def missing_key(draw, kind, rel, raw):
    data = parsed(raw)
    candidates = [(p, k) for p, v in walk(data) if isinstance(v, dict) and (s := schema_at(kind, p))
                  for k in s.get("required", []) if k in v]
    assume(candidates)
    path, key = draw(st.sampled_from(candidates))
    parent = _get(data, path)
    del parent[key]
    return judged(Case("missing key"), kind, rel, dump(raw, data))


KEY_NAMES = st.one_of(
    st.sampled_from(["resourcePack", "maxConcurency", "fullname", "Jenkins", "project ", " project", "__proto__",
                     "$ref", "<<x", "plugin", "versions2", "1.0", "latest", "v2", "ü", "🚀", "a b", "A"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
)


@st.composite
def unknown_key(draw, kind, rel, raw):
    data = parsed(raw)
    key = draw(KEY_NAMES)
    if kind == "override":
        assume(isinstance(data, dict) and key not in JCASC_ROOTS and key not in data)
        data[key] = draw(st.sampled_from([{}, {"x": 1}, "value", None]))
        return judged(Case("unknown key"), kind, rel, dump(raw, data))
    candidates = []
    for p, v in walk(data):
        s = schema_at(kind, p) if isinstance(v, dict) else None
        if s is None or key in v:
            continue
        if (s.get("additionalProperties") is False and key not in (s.get("properties") or {})) or "propertyNames" in s:
            candidates.append(p)
    assume(candidates)
    path = draw(st.sampled_from(candidates))
    _get(data, path)[key] = draw(st.sampled_from([1, "x", {"image": "x"}, None]))
    return judged(Case("unknown key"), kind, rel, dump(raw, data))


@st.composite
def bad_number(draw, kind, rel, raw):
    """Out of range, zero, negative, fractional, huge, non-finite: written as text."""
    text = raw.decode("utf-8")
    data = parsed(raw)
    where = spans(text)
    numeric = [p for p, v in walk(data) if (s := schema_at(kind, p)) and s.get("type") in ("integer", "number")
               and p in where and where[p].is_scalar]
    assume(numeric)
    packs = ("project", "resourcePacks")
    path = packs if packs in numeric and draw(st.booleans()) else draw(st.sampled_from(numeric))
    schema = schema_at(kind, path)
    choices = [".inf", "-.inf", ".nan", "1e400", "-1e400", "0.5", "-0", "0", "-1",
               "9" * draw(st.integers(19, 6000)), "-" + "9" * draw(st.integers(19, 400)),
               "0x" + "f" * draw(st.integers(16, 2000)), "1_000_000_000_000_000_000_000"]
    if "minimum" in schema:
        choices.append(str(schema["minimum"] - draw(st.integers(1, 10 ** 6))))
    if "maximum" in schema:
        choices.append(str(schema["maximum"] + draw(st.integers(1, 10 ** 6))))
    value = draw(st.sampled_from(choices))
    event(f"bad number: {path[-1]}")
    return judged(Case("bad number"), kind, rel, _splice(text, where[path], value).encode())


SPECIALS = [": ", ":", "#", " #", "{", "}", "[", "]", "'", '"', "\n", "\n  ", "\r\n", ", ", "- ", "? ", "|", ">",
            "%", "@", "`", "&a ", "*a", "!", "!!python/object:os.system ", "!!python/object/apply:os.system [id] ",
            "!!python/name:os.system ", "${LDAP_MANAGER_PASSWORD}", "\\", "\\n", " ", "\t", "é", "É", "🚀", "\u200b",
            "\u202e", "\u00a0", "\u2028", "\u0085", "\ufeff", "ｃ", "e\u0301", "..", "/", "../", "A", "--- ", "..."]


@st.composite
def special_string(draw, kind, rel, raw):
    """A YAML-special or unicode string inside a value, raw or quoted."""
    text = raw.decode("utf-8")
    data = parsed(raw)
    where = spans(text)
    candidates = [p for p, v in walk(data) if p in where and where[p].is_scalar and where[p].single_line and p
                  and (kind == "override" or constrained(schema_at(kind, p)) or draw(st.booleans()))]
    assume(candidates)
    path = draw(st.sampled_from(candidates))
    span = where[path]
    special = draw(st.sampled_from(SPECIALS) | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                                       max_size=4))
    if draw(st.booleans()) and isinstance(_get(data, path), str):
        value = _get(data, path)
        at = draw(st.integers(0, len(value)))
        new = json.dumps(value[:at] + special + value[at:], ensure_ascii=False)  # a quoted string: no syntax
        label = "special string (quoted)"
    else:
        old = text[span.start:span.end]
        at = draw(st.integers(0, len(old)))
        new = old[:at] + special + old[at:]
        label = "special string (raw)"
    event(label)
    return judged(Case(label), kind, rel, _splice(text, span, new).encode("utf-8", "surrogatepass"))


@st.composite
def duplicate_key(draw, kind, rel, raw):
    text = raw.decode("utf-8")
    where = spans(text)
    candidates = [p for p, s in where.items() if p and isinstance(p[-1], str) and s.key_start >= 0
                  and s.single_line and s.line == text.count("\n", 0, s.key_start)]
    assume(candidates)
    path = draw(st.sampled_from(candidates))
    span = where[path]
    value = text[span.start:span.end]
    key = json.dumps(path[-1], ensure_ascii=False) if draw(st.booleans()) else path[-1]
    insert = f", {key}: {value}" if span.flow_parent else "\n" + " " * span.key_column + f"{key}: {value}"
    return judged(Case("duplicate key"), kind, rel, (text[:span.end] + insert + text[span.end:]).encode())


@st.composite
def tab(draw, kind, rel, raw):
    lines = raw.decode("utf-8").split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    i = draw(st.sampled_from(candidates))
    line = lines[i]
    indent = len(line) - len(line.lstrip(" "))
    how = draw(st.sampled_from(["replace", "insert", "one"]))
    if how == "replace" and indent:
        lines[i] = "\t" + line[indent:]
    elif how == "one" and indent:
        at = draw(st.integers(0, indent - 1))
        lines[i] = line[:at] + "\t" + line[at + 1:]
    else:
        lines[i] = line[:indent] + "\t" + line[indent:]
    return judged(Case("tab"), kind, rel, "\n".join(lines).encode())


@st.composite
def alias(draw, kind, rel, raw):
    text = raw.decode("utf-8")
    if not text.endswith("\n"):
        text += "\n"
    how = draw(st.sampled_from(["bomb", "reuse", "merge"]))
    if how == "bomb":
        width, depth = draw(st.integers(2, 10)), draw(st.integers(1, 12))
        lines = [f"lol0: &a0 [{', '.join(['lol'] * width)}]"]
        lines += [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
        event("alias bomb")
        return judged(Case("alias bomb"), kind, rel, (text + "\n".join(lines) + "\n").encode())
    where = spans(text)
    scalars = sorted((s.start, p) for p, s in where.items() if p and s.is_scalar and s.single_line)
    assume(len(scalars) >= 2)
    i = draw(st.integers(0, len(scalars) - 2))
    j = draw(st.integers(i + 1, len(scalars) - 1))
    first, second = where[scalars[i][1]], where[scalars[j][1]]
    if how == "merge":
        mappings = [p for p, s in where.items() if not s.is_scalar and s.start > first.end and p
                    and isinstance(_get(parsed(raw), p), dict) and not s.flow_parent and not s.single_line]
        assume(mappings)
        target = where[draw(st.sampled_from(mappings))]
        # `<<: *a` as the first key of a later block mapping
        line_start = text.rfind("\n", 0, target.start) + 1
        indent = " " * (target.start - line_start)
        new = (text[:first.start] + "&a " + text[first.start:target.start] + "<<: *a\n" + indent
               + text[target.start:])
        return judged(Case("merge key"), kind, rel, new.encode())
    new = text[:first.start] + "&a " + text[first.start:second.start] + "*a" + text[second.end:]
    return judged(Case("alias reuse"), kind, rel, new.encode())


CONTROL = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + list(range(0x7F, 0x85)) + \
    list(range(0x86, 0xA0)) + [0xFFFE, 0xFFFF]


@st.composite
def control_character(draw, kind, rel, raw):
    text = raw.decode("utf-8")
    at = draw(st.integers(0, len(text)))
    char = chr(draw(st.sampled_from(CONTROL)))
    return judged(Case("control character"), kind, rel, (text[:at] + char + text[at:]).encode())


@st.composite
def bad_bytes(draw, kind, rel, raw):
    at = draw(st.integers(0, len(raw)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"]))
    return judged(Case("invalid UTF-8"), kind, rel, raw[:at] + junk + raw[at:])


@st.composite
def whole_file(draw, kind, rel, raw):
    choice = draw(st.sampled_from(["empty", "comment", "separator", "list", "flow-list", "scalar", "null",
                                   "number", "garbage", "truncated", "twice", "two documents", "too large",
                                   "empty mapping", "bom-only"]))
    new = {
        "empty": b"", "comment": b"# nothing here\n", "separator": b"---\n", "list": b"- a\n- b\n",
        "flow-list": b"[]\n", "scalar": b"hello\n", "null": b"~\n", "number": b"1\n", "empty mapping": b"{}\n",
        "bom-only": "\ufeff".encode(),
        "garbage": draw(st.binary(min_size=1, max_size=200)),
        "truncated": raw[:draw(st.integers(0, max(0, len(raw) - 1)))],
        "twice": raw + b"\n" + raw,
        "two documents": raw + b"\n---\n" + raw,
        "too large": raw + b"\n" + b"# padding\n" * (MAX_BYTES // 10 + 1),
    }[choice]
    event(f"whole file: {choice}")
    return judged(Case(f"whole file: {choice}"), kind, rel, new)


NAME_EDITS = ["upper", "space", "dotdot", "slash", "unicode", "dash", "trailing", "long", "empty-segment",
              "underscore", "colon"]


def bad_name(edit: str, name: str) -> str:
    head, _, tail = name.partition(".")
    return {
        "upper": name.upper(), "space": f"{head} {tail}", "dotdot": f"{head}..{tail}",
        "slash": f"zz-{head}/{tail}", "unicode": name.replace("e", "é", 1) if "e" in name else name + "é",
        "dash": f"-{name}", "trailing": f"{name}-", "long": f"{head}.{'x' * 64}", "empty-segment": f"{name}.",
        "underscore": name.replace(".", "_"), "colon": name.replace(".", ":"),
    }[edit]


@st.composite
def names(draw, sample: Sample):
    """Bad names as directory names and as fullName/shortName."""
    rel = draw(st.sampled_from([r for k, r in sample.targets() if k == "instance"]))
    raw = sample.files[rel]
    old_dir = directory_of(rel)
    edit = draw(st.sampled_from(NAME_EDITS))
    new = bad_name(edit, old_dir)
    mode = draw(st.sampled_from(["fullName", "directory", "both", "shortName"]))
    data = parsed(raw)
    event(f"name: {edit} as {mode}")
    case = Case(f"name {mode}")
    if mode == "shortName":
        data["project"]["shortName"] = new.rsplit("/", 1)[-1]
        return judged(case, "instance", rel, dump(raw, data))
    if mode in ("fullName", "both"):
        data["project"]["fullName"] = new
    body = dump(raw, data) if mode != "directory" else raw
    if mode == "fullName":
        return judged(case, "instance", rel, body)
    new_rel = f"instances/{new}/instance.yaml"
    case.renames.append((f"instances/{old_dir}", f"instances/{new}"))
    case.writes[new_rel] = body
    if "/" in new:  # a nested directory: its parent has no instance.yaml, and the error says where it goes
        case.positionless = (new_rel, POSITIONLESS[4])
        return case
    v = verdict("instance", body, new)
    assume(v.reject)
    case.expect_file, case.why = new_rel, v.why
    return case


@st.composite
def missing_file(draw, sample: Sample):
    rel = draw(st.sampled_from([r for k, r in sample.targets() if k != "override"]))
    how = draw(st.sampled_from(["delete", "directory", "dangling symlink", "symlink loop", "no instances"]))
    event(f"missing: {how}")
    case = Case(f"missing: {how}")
    if how == "delete":
        case.writes[rel] = None
        case.positionless = (rel, "file not found")
    elif how == "directory":
        case.dirs.append(rel)
        case.positionless = (rel, "cannot read file")
    elif how == "dangling symlink":
        case.symlinks[rel] = "nowhere.yaml"
        case.positionless = (rel, POSITIONLESS[3])
    elif how == "symlink loop":
        case.symlinks[rel] = os.path.basename(rel)
        case.positionless = (rel, POSITIONLESS[3])
    else:
        case.renames.append(("instances", "instances.moved"))
        case.positionless = ("instances", "instances directory not found")
    return case


# Hypothesis draws the last entry of a list more often than the others: the richest operator goes there.
TEXT_OPERATORS = [duplicate_key, tab, alias, control_character, bad_bytes, whole_file]
DATA_OPERATORS = [wrong_type, missing_key, unknown_key, bad_number]


@st.composite
def cases(draw, sample: Sample) -> Case:
    family = draw(st.sampled_from(["file"] * 8 + ["names", "missing"]))
    if family == "names":
        return draw(names(sample))
    if family == "missing":
        return draw(missing_file(sample))
    kind, rel = draw(st.sampled_from(sample.targets()))
    operators = TEXT_OPERATORS + ([unknown_key] if kind == "override" else DATA_OPERATORS) + [special_string]
    operator = draw(st.sampled_from(operators))
    case = draw(operator(kind, rel, sample.files[rel]))
    event(f"{case.label} in {kind}")
    return case


# --- helpers -------------------------------------------------------------------------------------

def _get(data, path):
    for part in path:
        data = data[part]
    return data


def _set(data, path, value):
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _splice(text: str, span, new: str) -> str:
    return text[:span.start] + new + text[span.end:]


def apply(root: str, case: Case, original: dict[str, bytes]):
    """Make the change; return a function that undoes it."""
    undo = []
    for old, new in case.renames:
        os.renames(os.path.join(root, old), os.path.join(root, new))
        undo.append(lambda old=old, new=new: os.renames(os.path.join(root, new), os.path.join(root, old)))
    for rel, data in case.writes.items():
        path = os.path.join(root, rel)
        if data is None:
            os.remove(path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
    for rel in case.dirs:
        os.remove(os.path.join(root, rel))
        os.mkdir(os.path.join(root, rel))
    for rel, target in case.symlinks.items():
        os.remove(os.path.join(root, rel))
        os.symlink(target, os.path.join(root, rel))

    def restore():
        for rel in case.dirs:
            os.rmdir(os.path.join(root, rel))
        for rel in case.symlinks:
            os.remove(os.path.join(root, rel))
        for step in reversed(undo):
            step()
        for rel in list(case.writes) + case.dirs + list(case.symlinks):
            if rel in original:
                with open(os.path.join(root, rel), "wb") as fh:
                    fh.write(original[rel])
        for old, new in case.renames:  # nested names leave empty parents behind
            top = os.path.join(root, new.split("/")[0], new.split("/")[1]) if "/" in new else None
            if top and os.path.isdir(top) and top != os.path.join(root, old) and not os.listdir(top):
                os.rmdir(top)
    return restore


def check_outcome(sample: Sample, case: Case, code: int, stdout: str, stderr: str) -> None:
    output = stdout + stderr
    context = f"case {case.label} ({case.why})\nexit {code}\nstderr:\n{stderr[-3000:]}"
    assert code == 1, context
    assert "Traceback" not in output, context
    assert "internal error" not in output, context
    if case.positionless[0]:
        path, message = case.positionless
        assert re.search(rf"^{re.escape(path)}: error: {re.escape(message)}", stderr, re.MULTILINE), context
        return
    heads = re.findall(rf"^{re.escape(case.expect_file)}:(\d+):(\d+): error: ", stderr, re.MULTILINE)
    assert heads, f"no positioned error in {case.expect_file}\n{context}"
    text = case.writes.get(case.expect_file) or b""
    lines = len(text.decode("utf-8", "replace").splitlines()) or 1
    for line, col in heads:
        assert 1 <= int(line) <= lines + 1 and int(col) >= 1, f"position {line}:{col} outside the file\n{context}"


def assert_build_intact(sample: Sample, case: Case) -> None:
    problems = []
    if tree_digest(sample.build) != sample.digest:
        problems.append("build/ changed")
    if leftovers(sample.root):
        problems.append(f"leftovers {leftovers(sample.root)}")
    if problems:
        # put the pristine tree back so that the next examples start from it, then fail
        shutil.rmtree(sample.build)
        for name in leftovers(sample.root):
            shutil.rmtree(os.path.join(sample.root, name), ignore_errors=True)
        assert fleet_in_process(["generate", "--jobs", "1", "--no-cache"], sample.root).code == 0
        raise AssertionError(f"{', '.join(problems)} after case {case.label} ({case.why})")


# --- the tests -----------------------------------------------------------------------------------

# --check renders every valid instance (it bypasses the cache): 1 in 11, to keep the examples many.
COMMANDS = [["generate", "--jobs", "1"]] * 6 + [["--debug", "generate", "--jobs", "1"]] * 2 + \
    [["validate", "--jobs", "1"]] * 2 + [["generate", "--check", "--jobs", "1"]]


def refused_with_a_position_and_build_untouched(sample, data) -> None:
    case = data.draw(cases(sample), label="case")
    command = data.draw(st.sampled_from(COMMANDS), label="command")
    restore = apply(sample.root, case, sample.files)
    try:
        started = time.monotonic()
        run = fleet_in_process(command, sample.root)
        elapsed = time.monotonic() - started
    finally:
        restore()
    check_outcome(sample, case, run.code, run.stdout, run.stderr)
    assert elapsed < 10, f"{case.label} took {elapsed:.1f}s"
    assert_build_intact(sample, case)


# Two halves under different names: derandomize seeds each from its own name, so they draw different
# examples, and pytest-xdist runs them side by side.
FUZZ_SETTINGS = settings(max_examples=(FUZZ or DEFAULT_EXAMPLES) // 2, deadline=None, derandomize=not FUZZ,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                HealthCheck.data_too_large], database=None)


@given(data=st.data())
@FUZZ_SETTINGS
def test_bad_input_is_refused_with_a_position_and_build_untouched(sample, data):
    refused_with_a_position_and_build_untouched(sample, data)


@given(data=st.data())
@FUZZ_SETTINGS
def test_bad_input_is_refused_with_a_position_and_build_untouched_second_half(sample, data):
    refused_with_a_position_and_build_untouched(sample, data)


# A few real processes: the exit code and stderr as a user sees them.
SUBPROCESS_CASES = [
    ("syntax error", "instances/technology.cbi/instance.yaml",
     lambda t: t.replace("displayName: Eclipse CBI", "displayName: Eclipse: CBI"), 5),
    ("duplicate key", "instances/technology.cbi/instance.yaml",
     lambda t: t.replace("  resourcePacks: 5\n", "  resourcePacks: 5\n  resourcePacks: 6\n"), 7),
    ("alias bomb", "instances/rt.jetty/instance.yaml",
     lambda t: t + "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
     + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
     None),
    ("control character", "instances/fleet.yaml", lambda t: t.replace("example-fleet", "example\x1b[2J-fleet"), 3),
    ("zero packs", "instances/ee4j.jersey/instance.yaml",
     lambda t: re.sub(r"resourcePacks: \d+", "resourcePacks: 0", t), None),
    ("tab", "instances/tools.cdt/instance.yaml", lambda t: t.replace("\n  ", "\n\t", 1), None),
    ("python tag", "instances/fleet.yaml",
     lambda t: t.replace("name: example-fleet", "name: !!python/object/apply:os.system [echo pwned]"), 3),
]


@pytest.fixture
def scratch(sample, tmp_path):
    shutil.copytree(sample.root, tmp_path, dirs_exist_ok=True)
    return tmp_path


@pytest.mark.parametrize("label,rel,edit,line", SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_a_real_process_exits_1_with_the_position(scratch, label, rel, edit, line):
    path = scratch / rel
    before = path.read_text(encoding="utf-8")
    after = edit(before)
    assert after != before
    path.write_text(after, encoding="utf-8")
    digest = tree_digest(str(scratch / "build"))
    run = fleet_subprocess(["generate", "--jobs", "2"], scratch)
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    heads = re.findall(rf"^{re.escape(rel)}:(\d+):(\d+): error: ", run.stderr, re.MULTILINE)
    assert heads, run.stderr
    if line is not None:
        assert int(heads[0][0]) == line, run.stderr
    assert "\x1b" not in run.stderr, "a control character from the file reached the terminal"
    assert tree_digest(str(scratch / "build")) == digest
    assert leftovers(str(scratch)) == []
    assert "pwned" not in run.stdout


def test_a_real_process_reports_a_missing_instances_directory(tmp_path):
    run = fleet_subprocess(["generate", "--jobs", "1"], tmp_path)
    assert run.code == 1
    assert re.search(r"^instances: error: instances directory not found$", run.stderr, re.MULTILINE), run.stderr
    assert "Traceback" not in run.stderr
    assert not os.path.exists(tmp_path / "build")


def test_no_control_character_from_an_input_reaches_the_terminal(scratch):
    cbi = scratch / "instances" / "technology.cbi" / "instance.yaml"
    cbi.write_text(cbi.read_text().replace("fullName: technology.cbi", 'fullName: "technology.cbi\\e]0;pwned\\a"'))
    os.rename(scratch / "instances" / "rt.jetty", scratch / "instances" / "rt.jetty\x1b[2J")
    run = fleet_in_process(["validate"], scratch)
    assert run.code == 1, run.stderr
    assert "fullName" in run.stderr and "rt.jetty" in run.stderr
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", run.stderr), repr(run.stderr[:400])


def test_an_instance_in_a_dot_directory_is_not_silently_ignored(scratch):
    os.rename(scratch / "instances" / "science.january", scratch / "instances" / "..science.january")
    run = fleet_in_process(["validate"], scratch)
    assert run.code == 1, run.stderr
    assert "..science.january" in run.stderr
