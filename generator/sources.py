"""Read YAML files keeping the line and column of every key and value.

Stricter than yaml.safe_load on purpose: duplicate keys, anchors/aliases (the
door to "billion laughs"), non-string keys, custom tags and oversized files are
errors with a position, not surprises further down; in instance and fleet files,
so are values that YAML 1.1 and 1.2 read differently (`yes`, `010`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import nofollow, yamlout
from .errors import Diagnostic, FleetError

_Loader = yamlout.SafeLoader  # the C parser where there is one: positions are identical

MAX_BYTES = 1024 * 1024
# Deeper than any real instance or JCasC file; libyaml allows 1000 levels, which exhausts
# Python's recursion limit in the builder below.
MAX_DEPTH = 64
# Integers beyond 64 bits are never meaningful here; they also defeat int->str conversion.
MAX_INT = 2 ** 63

Path = tuple  # a key path: ("jenkins", "plugins", 3)

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

# YAML 1.1 (libyaml, PyYAML, and SnakeYAML in Jenkins) and YAML 1.2 (editors: yaml-language-server
# behind the instance files' $schema modeline) read some plain scalars differently: `yes` is true
# or the text "yes", `010` is 8 or 10, `1:30` is 90 or "1:30", `1e3` is "1e3" or 1000.0. Instance
# and fleet files refuse those forms (strict_scalars): each reader would see another value.
_NUMBER_START = yamlout.NUMBER_START


@dataclass
class Document:
    """One parsed YAML file: its data plus where every part of it was written."""

    path: str
    data: Any
    lines: list[str] = field(repr=False, default_factory=list)
    # path -> (line, column, span) of the value; 1-based
    values: dict[Path, tuple[int, int, int]] = field(repr=False, default_factory=dict)
    # path -> (line, column, span) of the key that introduced the value
    keys: dict[Path, tuple[int, int, int]] = field(repr=False, default_factory=dict)

    def has(self, path: Path) -> bool:
        return tuple(path) in self.values

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int, int]:
        """The closest known position for `path` (walking up to a parent)."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                return table[path]
            if not path:
                return (1, 1, 1)
            path = path[:-1]

    def diagnostic(self, path: Path, message: str, *, key: bool = False, hint: str = "",
                   severity: str = "error", context: tuple[str, ...] = ()) -> Diagnostic:
        line, column, span = self.position(path, key=key)
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return Diagnostic(file=self.path, line=line, column=column, key=format_path(path),
                          message=message, hint=hint, severity=severity, context=context,
                          source_line=source, span=span)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _span(node: yaml.Node) -> int:
    start, end = node.start_mark, node.end_mark
    if isinstance(node, yaml.ScalarNode) and start.line == end.line:
        return max(1, end.column - start.column)
    return 1


def _short_tag(tag: str) -> str:
    short = tag.removeprefix("tag:yaml.org,2002:")
    return tag if short == tag else "!!" + short


def _pos(node: yaml.Node) -> tuple[int, int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1, _span(node))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"the text {json.dumps(value)}"


def _ambiguity_hint(text: str, v11: Any, v12: Any) -> str:
    quote = f"or quote it ({json.dumps(text)}) for the text"
    if isinstance(v11, bool):
        return f"write {str(v11).lower()} for the boolean, {quote}"
    numbers = [v for v in (v11, v12) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == 2:
        return f"write the number as plain decimal digits ({numbers[0]!r} or {numbers[1]!r}), {quote}"
    return f"write {numbers[0]!r} for the number, {quote}"


class _Builder:
    def __init__(self, doc: Document, strict_scalars: bool = False):
        self.doc = doc
        self.strict_scalars = strict_scalars
        self.errors: list[Diagnostic] = []
        self.seen: set[int] = set()
        self.aliases: list[tuple[Path, yaml.Node]] = []  # reported once their position is known
        self.constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, path: Path, message: str, hint: str = "") -> None:
        line, column, span = _pos(node)
        source = self.doc.lines[line - 1] if 0 < line <= len(self.doc.lines) else None
        self.errors.append(Diagnostic(self.doc.path, line, column, format_path(path), message,
                                      hint=hint, source_line=source, span=span))

    def build(self, node: yaml.Node, path: Path) -> Any:
        if id(node) in self.seen:
            # The composer hands out the same node object for every alias of an anchor.
            self.aliases.append((path, node))
            return None
        self.seen.add(id(node))
        self.doc.values[path] = _pos(node)
        if len(path) >= MAX_DEPTH and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self.error(node, path, f"nested more than {MAX_DEPTH} levels deep",
                       hint="instance, fleet and JCasC files are a few levels deep; is this the right file?")
            return None
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in (_MAP, _SEQ):
            # e.g. !!python/object:... {}, !!set or a local !tag on a mapping or list
            self.error(node, path, f"YAML tag '{_short_tag(node.tag)}' is not allowed",
                       hint="only plain mappings, lists, strings, numbers, booleans and null are accepted")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.error(key_node, path, "merge keys ('<<') are not allowed",
                           hint="write the keys out in full")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else key_node.id
                self.error(key_node, path, f"key {shown!r} is not a string",
                           hint="quote the key, e.g. \"1\": ...")
                continue
            key = key_node.value
            child = path + (key,)
            if key in result or child in self.doc.keys:
                first = self.doc.keys.get(child, (0, 0, 0))[0]
                self.error(key_node, child, f"duplicate key '{key}' (first defined on line {first})",
                           hint="YAML keeps only one of them; remove or merge the duplicate")
                continue
            self.doc.keys[child] = _pos(key_node)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        if node.tag == _TIMESTAMP or node.tag == _STR:
            # Dates kept as written (our schemas want strings); a string is its text, which is
            # what the constructor would return, at a third of the cost.
            if self.strict_scalars and not node.style and node.value[:1] in _NUMBER_START:
                self._same_in_yaml12(node, path, node.value)
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self.error(node, path, f"YAML tag '{_short_tag(node.tag)}' is not allowed",
                       hint="only plain strings, numbers, booleans and null are accepted")
            return None
        try:
            value = self.constructor.construct_object(node)
        except (ValueError, KeyError, IndexError):
            # an explicit tag on text that is not of that type (!!int abc, !!bool maybe),
            # or an integer with more digits than Python converts
            digits = node.value.lstrip("+-").replace("_", "")
            if node.tag == "tag:yaml.org,2002:int" and digits.isdigit():
                self.error(node, path, "number out of range", hint="numbers here are below 2^63")
            else:
                shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
                self.error(node, path, f"{shown!r} is not a valid {_short_tag(node.tag)}",
                           hint="remove the tag, or write a value of that type")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value < MAX_INT:
            self.error(node, path, "number out of range", hint="numbers here are below 2^63")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(node, path, f"{node.value!r} is not a finite number")
            return None
        if self.strict_scalars and not node.style and not self._same_in_yaml12(node, path, value):
            return None
        return value

    def _same_in_yaml12(self, node: yaml.ScalarNode, path: Path, v11: Any) -> bool:
        v12 = yamlout.core12(node.value)
        if type(v11) is type(v12) and v11 == v12:
            return True
        self.error(node, path, f"{node.value!r} reads as {_shown(v11)} in YAML 1.1 but as {_shown(v12)} in YAML 1.2",
                   hint=_ambiguity_hint(node.value, v11, v12))
        return False


def parse_text(text: str, path: str, *, strict_scalars: bool = False) -> Document:
    """Parse YAML text into a Document; raise FleetError with every problem found.

    strict_scalars: refuse plain scalars that YAML 1.1 and YAML 1.2 read differently (files
    people write and editors check: instance and fleet files)."""
    doc = Document(path=path, data=None, lines=text.splitlines())
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        source = doc.lines[line - 1] if 0 < line <= len(doc.lines) else None
        problem = exc.problem or "invalid YAML"
        context: tuple[str, ...] = ()
        if exc.context and exc.context.startswith("while "):
            context = (exc.context + (f" (started on line {exc.context_mark.line + 1})"
                                      if exc.context_mark else ""),)
        elif exc.context:  # e.g. "expected a single document in the stream" + "but found another document"
            problem = f"{exc.context}, {problem}"
        at_tab = source is not None and source[column - 1:column] == "\t"  # libyaml does not name the tab
        raise FleetError([Diagnostic(path, line, column, "", f"YAML syntax error: {problem}",
                                     hint=_syntax_hint("tab" if at_tab else problem), context=context,
                                     source_line=source)]) from None
    except yaml.reader.ReaderError as exc:  # a control character; its position is a byte offset
        raise FleetError([_bad_character(doc, text, exc.character)]) from None
    except yaml.YAMLError as exc:
        raise FleetError([Diagnostic(path, 1, 1, "", f"YAML error: {exc}")]) from None
    if node is None:
        raise FleetError([Diagnostic(path, 1, 1, "", "file is empty", hint="expected a YAML mapping")])
    builder = _Builder(doc, strict_scalars)
    doc.data = builder.build(node, ())
    if builder.aliases:
        where = _alias_positions(text)
        for alias_path, node in builder.aliases:
            line, column, span = where.get(alias_path) or _pos(node)
            source = doc.lines[line - 1] if 0 < line <= len(doc.lines) else None
            builder.errors.append(Diagnostic(
                path, line, column, format_path(alias_path), "anchors and aliases are not allowed",
                hint="write the value out in full; aliases hide what a value is "
                     "and allow exponential 'billion laughs' documents",
                source_line=source, span=span))
    if builder.errors:
        raise FleetError(builder.errors)
    return doc


def _alias_positions(text: str) -> dict[Path, tuple[int, int, int]]:
    """Where each alias (*name) was written, by key path.

    The composer resolves aliases to the anchored node and forgets the alias
    itself, so on error the events are read once more to point at the '*name'.
    """
    found: dict[Path, tuple[int, int, int]] = {}
    stack: list[list] = []  # [path or None, is_mapping, pending key | index]
    expect_key = object()
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        path: Path | None = ()
        if stack:
            frame = stack[-1]
            if frame[1] and frame[2] is expect_key:  # a key: remember it, it is not a value
                frame[2] = event.value if isinstance(event, yaml.ScalarEvent) else None
                if isinstance(event, yaml.CollectionStartEvent):
                    stack.append([None, isinstance(event, yaml.MappingStartEvent), expect_key if
                                  isinstance(event, yaml.MappingStartEvent) else 0])
                continue
            if frame[1]:
                path = None if frame[0] is None or frame[2] is None else frame[0] + (frame[2],)
                frame[2] = expect_key
            else:
                path = None if frame[0] is None else frame[0] + (frame[2],)
                frame[2] += 1
        if isinstance(event, yaml.AliasEvent) and path is not None:
            start, end = event.start_mark, event.end_mark
            found.setdefault(path, (start.line + 1, start.column + 1,
                                    max(1, end.column - start.column) if start.line == end.line else 1))
        elif isinstance(event, yaml.CollectionStartEvent):
            mapping = isinstance(event, yaml.MappingStartEvent)
            stack.append([path, mapping, expect_key if mapping else 0])
    return found


def _bad_character(doc: Document, text: str, code: int) -> Diagnostic:
    before = (text[:max(text.find(chr(code)), 0)] + "x").splitlines()  # the same line breaks as doc.lines
    line, column = len(before), len(before[-1])
    source = doc.lines[line - 1] if 0 < line <= len(doc.lines) else None
    if source is not None:  # never echo raw control characters to a terminal
        source = "".join("\ufffd" if (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0 else c
                         for c in source)
    return Diagnostic(doc.path, line, column, "", f"control character U+{code:04X} is not allowed in YAML",
                      hint="remove it; inside double quotes it can be written as an escape such as \\t",
                      source_line=source)


def _syntax_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, e.g. displayName: \"A: B\""
    if "found character '%'" in problem or "found character '@'" in problem or "'`'" in problem:
        return "quote values that start with a special character"
    return "check indentation and quoting around this position"


def read_text(path: str | os.PathLike, max_bytes: int = MAX_BYTES,
              too_large_hint: str = "instance files are short; is this the right file?", *,
              dir_fd: int | None = None) -> str:
    """The UTF-8 text of one input file, at most max_bytes long, never read through a symbolic link.

    With dir_fd, the file is the last component of `path` inside that open directory
    (what fleetdir does, so that no component can be a link); `path` names it in messages.
    """
    path = os.fspath(path)
    try:
        raw = nofollow.read_file(os.path.basename(path) if dir_fd is not None else path, dir_fd,
                                 limit=max_bytes + 1)
    except FileNotFoundError:
        raise FleetError([Diagnostic(path, 0, 0, "", "file not found")]) from None
    except OSError as exc:
        if nofollow.is_link_error(exc):
            raise FleetError([nofollow.link_diagnostic(path)]) from None
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > max_bytes:
        raise FleetError([Diagnostic(path, 1, 1, "", f"file is larger than {max_bytes // 1024} KiB",
                                     hint=too_large_hint)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        end = raw.find(b"\n", exc.start)
        shown = raw[start:end if end >= 0 else len(raw)].decode("utf-8", "replace").rstrip("\r")
        column = len(raw[start:exc.start].decode("utf-8", "replace")) + 1
        raise FleetError([Diagnostic(path, line, column, "", "file is not valid UTF-8",
                                     hint="save the file as UTF-8", source_line=shown)]) from None
    return text.removeprefix("\ufeff")


def load(path: str | os.PathLike, *, dir_fd: int | None = None, strict_scalars: bool = False) -> Document:
    """Read and parse one YAML file, never through a symbolic link."""
    path = os.fspath(path)
    return parse_text(read_text(path, dir_fd=dir_fd), path, strict_scalars=strict_scalars)


def load_json(path: str | os.PathLike, max_bytes: int, too_large_hint: str = "") -> Any:
    """Read one large JSON document (no positions kept: for files we import, not files users edit)."""
    path = os.fspath(path)
    return parse_json(read_text(path, max_bytes, too_large_hint), path)


def parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        source = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else None
        column = exc.colno
        if source is not None and len(source) > 200:  # minified JSON: show the part around the error
            start = max(exc.colno - 60, 0)
            source, column = source[start:start + 120], exc.colno - start
        raise FleetError([Diagnostic(path, exc.lineno, column, "", f"invalid JSON: {exc.msg}",
                                     hint="is this the file that was downloaded, complete?",
                                     source_line=source)]) from None
