"""A semantic diff of the JCasC keys we manage against a controller's live export.

Only keys we set are compared; list items are matched by name; ${VARIABLES}
are skipped and secret-looking values are never shown. The walker is the
MANAGED mode of generator/diff.py, which `fleet diff` uses in its FULL mode."""

from __future__ import annotations

from dataclasses import dataclass

from .diff import (
    ENCRYPTED,
    MANAGED,
    REDACTED,
    SECRET_KEY,
    Change,
    diff_values,
    format_change,
    redact,
)

__all__ = ["ENCRYPTED", "REDACTED", "SECRET_KEY", "Change", "Diff", "format_change", "managed_diff", "redact"]


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    not_compared: tuple[str, ...]  # ${VAR} values: Jenkins only shows them resolved or encrypted


def managed_diff(desired: dict, live: dict) -> Diff:
    """What applying `desired` would change in `live`, for the keys `desired` sets (JCasC is not stateful:
    keys we do not set are not ours).  Maps compare by key, lists of named items by name, lists of
    scalars as sets, scalars after normalisation ("10" == 10)."""
    result = diff_values(live if isinstance(live, dict) else {}, desired, MANAGED)
    return Diff(result.changes, result.skipped)
