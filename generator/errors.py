"""Diagnostics: what went wrong, where, and how to fix it.

Every user-facing problem becomes a `Diagnostic` (file, line, column, key path,
message, hint, "while ..." context).  Library code raises `FleetError` carrying
all diagnostics found so far; only the CLI prints them.
"""

from __future__ import annotations

import json
import os
import re
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
        raw = self.source_line.rstrip("\n").expandtabs(1) if self.source_line is not None and self.line else None
        column, span, secrets = self.column, self.span, []
        if raw is not None:
            raw, column, span, secrets = redact_line(raw, column, span)
        head += printable(redact_text(self.message, secrets))
        lines = [head]
        if raw is not None:
            text = printable(raw)
            number = str(self.line)
            lines.append(f"  {number} | {text}")
            pad = " " * len(number)
            caret_at = len(printable(raw[:max(column - 1, 0)]))
            width = max(1, min(span, max(len(text) - caret_at, 1)))
            lines.append(f"  {pad} | {' ' * caret_at}^{'~' * (width - 1)}")
        if self.hint:
            lines.append(f"  hint: {printable(redact_text(self.hint, secrets))}")
        for ctx in self.context:
            lines.append(f"  {printable(ctx)}")
        return "\n".join(lines)


# A secret pasted where a reference belongs is never echoed: diagnostics reach CI logs and the
# pull-request comment (fleet check --summary-md), which anyone may read. Hidden: the value of a
# key named like a credential (not a reference to one: a mapping, a ${VARIABLE}, a *Env/*Id/*Name
# key, a boolean or a number), and anything in a well-known token format, whatever its key.
REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"(?i)password|passwd|passphrase|secret|token|api[-_]?key|private[-_]?key|credential")
_REFERENCE_KEY = re.compile(r"(?i)(env|id|ids|name|file|path|ref|url)$")
_NOT_SECRET = re.compile(r"(?i)true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9._]*|\$\{[^}]*\}")
# The key starts where a run of key characters starts and takes all of it (possessive): tried from
# every position of a run, a long line without a colon cost quadratic time (20,000 characters: 4.7 s).
_KEY_VALUE = re.compile(r"""(?<![A-Za-z0-9_.-])(?P<key>[A-Za-z0-9_.-]++)["']?[ \t]*:[ \t]+"""
                        r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s{\[,}\]#'"][^,}\]#]*?)"""
                        r"""(?=[ \t]*(?:[,}\]]|\s#|$))""")
_TOKEN = re.compile(r"\b(?:11[0-9a-f]{32}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}"
                    r"|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16})\b"
                    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def secret_spans(line: str) -> list[tuple[int, int]]:
    """Where `line` (YAML, block or flow style) holds what looks like a secret: sorted, disjoint."""
    spans = [m.span() for m in _TOKEN.finditer(line)]
    for m in _KEY_VALUE.finditer(line):
        key, value = m.group("key"), m.group("value")
        if _SECRET_KEY.search(key) and not _REFERENCE_KEY.search(key) \
                and not _NOT_SECRET.fullmatch(value.strip("\"'").strip()):
            spans.append(m.span("value"))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact_line(line: str, column: int, span: int) -> tuple[str, int, int, list[str]]:
    """`line` with its secrets replaced, the caret's column and width moved with the text, and the
    secrets found (to take out of the message and hint too)."""
    found = secret_spans(line)
    if not found:
        return line, column, span, []
    out, secrets, shift, at = [], [], 0, column - 1
    new_column, new_span = column, span
    last = 0
    for start, end in found:
        out += [line[last:start], REDACTED]
        secrets.append(line[start:end])
        if start <= at < end:  # the caret was on the secret: it underlines the marker
            new_column, new_span = start + shift + 1, len(REDACTED)
        elif at >= end:
            new_column = column + shift + len(REDACTED) - (end - start)
        shift += len(REDACTED) - (end - start)
        last = end
    out.append(line[last:])
    return "".join(out), new_column, new_span, secrets


def redact_text(text: str, secrets: list[str]) -> str:
    """A message or hint without the secrets of its source line (quoted or not) nor any token."""
    for secret in secrets:
        for variant in {secret, secret.strip("\"'")}:
            if len(variant) >= 4:
                text = text.replace(variant, REDACTED)
    return _TOKEN.sub(REDACTED, text)


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

    def __reduce__(self):
        # Raised in a worker process, it comes back pickled: rebuilt from its diagnostics, not from
        # the message (Exception's default), which left the pool broken instead of reporting them.
        return (FleetError, (self.diagnostics,))

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
