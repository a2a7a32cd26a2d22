"""NAME arguments: an instance's fullName or a shell pattern such as 'ee4j.*', for every command.

Matching is case-sensitive everywhere (fnmatchcase): instance names are directory names, and
fnmatch.filter would fold case where the platform's paths do (Windows), so `fleet push` and
`fleet generate` could pick different instances for the same pattern.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from .errors import Diagnostic, FleetError

DEFAULT_HINT = "NAME is a fullName or a shell pattern such as 'ee4j.*'"


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether `name` is one of the NAME arguments (a name or a pattern)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def select_names(available: Iterable[str], patterns: Iterable[str], *, where: str = "",
                 missing: str = "no instance named '{}'", hint: str = DEFAULT_HINT) -> list[str]:
    """The names of `available` that the patterns select, sorted; FleetError when a pattern selects none.

    No pattern selects everything. A pattern that selects nothing is an error at `where`:
    `missing` (with the pattern in its `{}`) and, when a name is close to it, "did you mean"
    as the hint, else `hint`. All such patterns are reported at once.
    """
    chosen, diags = pick_names(available, patterns, where=where, missing=missing, hint=hint)
    if diags:
        raise FleetError(diags)
    return chosen


def pick_names(available: Iterable[str], patterns: Iterable[str], *, where: str = "",
               missing: str = "no instance named '{}'", hint: str = DEFAULT_HINT) -> tuple[list[str], list[Diagnostic]]:
    """select_names, with the errors returned beside what was selected (for a caller that reports
    them together with its own)."""
    available = sorted(available)
    patterns = list(patterns)
    if not patterns:
        return available, []
    chosen: set[str] = set()
    diags = []
    for pattern in patterns:
        hits = [name for name in available if fnmatch.fnmatchcase(name, pattern)]
        if not hits:
            import difflib  # the error path only: not imported on every run
            close = difflib.get_close_matches(pattern, available, n=3)
            diags.append(Diagnostic(where, 0, 0, "", missing.format(pattern),
                                    hint=f"did you mean {', '.join(close)}?" if close else hint))
        chosen.update(hits)
    return sorted(chosen), diags
