"""Diagnostics: what went wrong, where, and how to fix it.

Every user-facing problem becomes a `Diagnostic` (file, line, column, key path,
message, hint, "while ..." context).  Library code raises `FleetError` carrying
all diagnostics found so far; only the CLI prints them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    key: str
    message: str
    hint: str = ""
    severity: str = ERROR
    context: tuple[str, ...] = ()
    # The offending source line, for the caret; None when there is no text (e.g. a directory).
    source_line: str | None = None
    # Width of the caret underline (length of the offending token), at least 1.
    span: int = 1

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.key, self.message)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        where = printable(display_path(self.file))
        if self.line:
            where += f":{self.line}:{self.column}"
        head = f"{where}: {self.severity}: "
        if self.key:
            head += f"{printable(self.key)}: "
        head += printable(self.message)
        lines = [head]
        if self.source_line is not None and self.line:
            raw = self.source_line.rstrip("\n").expandtabs(1)
            text = printable(raw)
            number = str(self.line)
            lines.append(f"  {number} | {text}")
            pad = " " * len(number)
            caret_at = len(printable(raw[:max(self.column - 1, 0)]))
            width = max(1, min(self.span, max(len(text) - caret_at, 1)))
            lines.append(f"  {pad} | {' ' * caret_at}^{'~' * (width - 1)}")
        if self.hint:
            lines.append(f"  hint: {printable(self.hint)}")
        for ctx in self.context:
            lines.append(f"  {printable(ctx)}")
        return "\n".join(lines)


def printable(text: str) -> str:
    """Text from outside (inputs, a controller's answers) as it may reach a terminal: control and
    format characters (escape sequences, carriage returns, bidi overrides) shown as escapes.

    The one escaping mechanism of every command's output: diagnostics, push and status results,
    `fleet explain`, `fleet diff`, the pull-request summary (see printable_text, printable_json)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else
                   (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                    else f"\\U{ord(c):08x}")
                   for c in text)


def printable_text(text: str) -> str:
    """printable() line by line: a multi-line report keeps its line breaks, nothing else."""
    return "\n".join(printable(line) for line in text.split("\n"))


def printable_json(text: str) -> str:
    """JSON text whose strings hold no raw control or format character: json.dumps escapes C0
    controls but not DEL, C1 (\\x9b is a terminal's CSI) or bidi overrides. The same value, still JSON."""
    if text.isprintable():
        return text
    # Outside its strings, JSON text is printable ASCII and line breaks: only string content changes.
    return "".join(c if c.isprintable() or c == "\n" else json.dumps(c)[1:-1] for c in text)


def plural(n: int, word: str, *, count: bool = True) -> str:
    """'1 file', '2 files', '0 files'; count=False: the word alone, as the number would have it."""
    words = word if n == 1 else word + "s"
    return f"{n} {words}" if count else words


def display_path(path: str) -> str:
    """Paths relative to the working directory when below it: what a user can click."""
    if not path:
        return "<fleet>"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.sort_key(), d.severity, d.hint, d.context): d for d in diags}
    return sorted(unique.values(), key=lambda d: (d.sort_key(), d.severity))


class FleetError(Exception):
    """A user-facing failure: carries every diagnostic found, never a traceback."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = sort_diagnostics(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


class OutputBusyError(Exception):
    """Another run holds the output lock."""


class OutputWriteError(Exception):
    """The machine refused a write of the output (disk full, read-only file system, no permission):
    the environment, not the input nor a bug. The message says what and where."""


def fail_if_errors(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Raise when any diagnostic is an error; return the (warning) list otherwise."""
    diags = list(diags)
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    return sort_diagnostics(diags)
