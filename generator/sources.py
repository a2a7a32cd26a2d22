"""Read YAML files keeping the line and column of every key and value.

Stricter than yaml.safe_load on purpose: duplicate keys, anchors/aliases (the
door to "billion laughs"), non-string keys, custom tags and oversized files are
errors with a position, not surprises further down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Diagnostic, FleetError

try:  # the C parser is several times faster; positions are identical
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

MAX_BYTES = 1024 * 1024

Path = tuple  # a key path: ("jenkins", "plugins", 3)

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


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


def _pos(node: yaml.Node) -> tuple[int, int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1, _span(node))


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc
        self.errors: list[Diagnostic] = []
        self.seen: set[int] = set()
        self.constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, path: Path, message: str, hint: str = "") -> None:
        line, column, span = _pos(node)
        source = self.doc.lines[line - 1] if 0 < line <= len(self.doc.lines) else None
        self.errors.append(Diagnostic(self.doc.path, line, column, format_path(path), message,
                                      hint=hint, source_line=source, span=span))

    def build(self, node: yaml.Node, path: Path) -> Any:
        if id(node) in self.seen:
            # The composer hands out the same node object for every alias of an anchor.
            self.error(node, path, "anchors and aliases are not allowed",
                       hint="write the value out in full; aliases hide what a value is "
                            "and allow exponential 'billion laughs' documents")
            return None
        self.seen.add(id(node))
        self.doc.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
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
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag == _TIMESTAMP:
            return node.value  # keep dates as written: our schemas want strings
        if node.tag not in _SCALAR_TAGS:
            self.error(node, path, f"YAML tag '{node.tag}' is not allowed",
                       hint="only plain strings, numbers, booleans and null are accepted")
            return None
        value = self.constructor.construct_object(node)
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            self.error(node, path, f"{node.value!r} is not a finite number")
            return None
        return value


def parse_text(text: str, path: str) -> Document:
    """Parse YAML text into a Document; raise FleetError with every problem found."""
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
        context = (f"while {exc.context}" + (
            f" (started on line {exc.context_mark.line + 1})" if exc.context_mark else ""),) \
            if exc.context else ()
        raise FleetError([Diagnostic(path, line, column, "", f"YAML syntax error: {problem}",
                                     hint=_syntax_hint(problem), context=context,
                                     source_line=source)]) from None
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry no problem_mark
        raise FleetError([Diagnostic(path, 1, 1, "", f"YAML error: {exc}")]) from None
    if node is None:
        raise FleetError([Diagnostic(path, 1, 1, "", "file is empty", hint="expected a YAML mapping")])
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    if builder.errors:
        raise FleetError(builder.errors)
    return doc


def _syntax_hint(problem: str) -> str:
    if "\\t" in problem or "tab" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "a value containing ': ' must be quoted, e.g. displayName: \"A: B\""
    if "found character '%'" in problem or "found character '@'" in problem or "'`'" in problem:
        return "quote values that start with a special character"
    return "check indentation and quoting around this position"


def load(path: str | os.PathLike) -> Document:
    """Read and parse one YAML file."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FleetError([Diagnostic(path, 0, 0, "", "file not found")]) from None
    except OSError as exc:
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot read file: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise FleetError([Diagnostic(path, 1, 1, "", f"file is larger than {MAX_BYTES // 1024} KiB",
                                     hint="instance files are short; is this the right file?")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FleetError([Diagnostic(path, line, column, "", "file is not valid UTF-8",
                                     hint="save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_text(text, path)
