"""Jenkins' order of version numbers (core and plugins), as Jenkins itself compares them.

Jenkins compares versions with hudson.util.VersionNumber (jenkinsci/lib-version-number,
src/main/java/hudson/util/VersionNumber.java at 844adf69, the library core 2.555.2 uses), a
variant of Maven's ComparableVersion. The rules below restate that algorithm:

- the text is lower-cased and split at '.', '-' and at every change between digits and
  non-digits; a '-' between two numbers opens a nested list (1-1 is not 1.1);
- numbers compare numerically; trailing zeros, empty and release qualifiers are dropped
  (2.0.0 == 2.0);
- qualifiers order snapshot < alpha < beta < milestone < rc < (release) < sp < anything
  else (alphabetically); 'a1', 'b1', 'm1' mean alpha-1, beta-1, milestone-1; ga and final
  are the release, cr and ea are rc;
- a number beats a qualifier and a nested list, a nested list beats a qualifier;
- '*' is newer than anything at its position (2.0.* > 2.0.99).

Incremental plugin versions such as 1947.v7d33fe23569c therefore sort after 1947 and after
1946.vXXXX, before 1948: the ".v<hash>" part is a qualifier that is not a release.
"""

from __future__ import annotations

import functools
import re

_INT, _STR, _LIST, _WILD = 0, 1, 2, 3
_QUALIFIERS = ["snapshot", "alpha", "beta", "milestone", "rc", "", "sp"]
_RELEASE = str(_QUALIFIERS.index(""))
_ALIASES = {"ga": "", "final": "", "cr": "rc", "ea": "rc"}
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}
_SNAPSHOT = re.compile(r"^.*((?:-\d{8}\.\d{6}-\d+)|-SNAPSHOT)( \(.*\))?$")


def _qualifier_rank(text: str) -> str:
    # Compared as strings, like the original: known qualifiers by index, others after them.
    return str(_QUALIFIERS.index(text)) if text in _QUALIFIERS else f"{len(_QUALIFIERS)}-{text}"


def _cmp(a, b) -> int:
    return (a > b) - (a < b)


def _is_null(item) -> bool:
    kind, value = item
    if kind == _INT:
        return value == 0
    if kind == _STR:
        return _qualifier_rank(value) == _RELEASE
    if kind == _LIST:
        return not value
    return False


def _compare_item(item, other) -> int:
    """item is never None; other may be None (the shorter side ran out)."""
    kind, value = item
    if kind == _WILD:
        return 0 if other is not None and other[0] == _WILD else 1
    if kind == _INT:
        if other is None:
            return 0 if value == 0 else 1
        if other[0] == _INT:
            return _cmp(value, other[1])
        return 0 if other[0] == _WILD else 1
    if kind == _STR:
        if other is None:
            return _cmp(_qualifier_rank(value), _RELEASE)
        if other[0] == _STR:
            return _cmp(_qualifier_rank(value), _qualifier_rank(other[1]))
        return -1
    # a nested list
    if other is None:
        return 0 if not value else _compare_item(value[0], None)
    if other[0] == _INT:
        return -1
    if other[0] == _STR:
        return 1
    if other[0] == _WILD:
        return -1
    return _compare_lists(value, other[1])


def _compare_lists(left: list, right: list) -> int:
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else None
        b = right[i] if i < len(right) else None
        result = -_compare_item(b, None) if a is None else _compare_item(a, b)
        if result:
            return result
    return 0


def _normalize(items: list) -> None:
    while items and _is_null(items[-1]):
        items.pop()


def _token(is_digit: bool, text: str):
    return (_INT, int(text)) if is_digit else (_STR, _ALIASES.get(text, text))


def _qualifier(text: str, followed_by_digit: bool):
    if followed_by_digit and len(text) == 1:
        text = _SHORT.get(text, text)
    return (_STR, _ALIASES.get(text, text))


@functools.lru_cache(maxsize=65536)
def _parse(version: str) -> tuple[list, str | None]:
    snapshot = None
    match = _SNAPSHOT.match(version)
    if match:
        snapshot = match.group(1)
        version = version[:match.start(1)] + "-SNAPSHOT"
    version = version.lower()
    root: list = []
    current = root
    stack = [root]
    is_digit = False
    start = 0
    for i, c in enumerate(version):
        if c in ".-":
            current.append((_INT, 0) if i == start else _token(is_digit, version[start:i]))
            start = i + 1
            if c == "-" and is_digit:
                _normalize(current)
                if i + 1 < len(version) and version[i + 1].isdigit():
                    nested: list = []
                    current.append((_LIST, nested))
                    current = nested
                    stack.append(nested)
        elif c == "*":
            current.append((_WILD, None))
            start = i + 1
        elif c.isdigit():
            if not is_digit and i > start:
                current.append(_qualifier(version[start:i], True))
                start = i
            is_digit = True
        elif c.isspace():
            if i > start:
                current.append(_token(True, version[start:i]) if is_digit else _qualifier(version[start:i], True))
                start = i
            is_digit = False
        else:
            if is_digit and i > start:
                current.append(_token(True, version[start:i]))
                start = i
            is_digit = False
    if len(version) > start:
        current.append(_token(is_digit, version[start:]))
    for items in reversed(stack):
        _normalize(items)
    return root, snapshot


@functools.lru_cache(maxsize=1 << 16)  # a fleet compares the same few hundred pairs over and over
def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Jenkins orders the versions a and b."""
    left, left_snap = _parse(a)
    right, right_snap = _parse(b)
    result = _compare_lists(left, right)
    if result:
        return result
    if left_snap is None:
        return 0 if right_snap is None else -1
    if right_snap is None:
        return 1
    if "-SNAPSHOT" in (left_snap, right_snap):
        return 0  # a literal snapshot cannot be ordered against a timestamped one
    return _cmp((left_snap[1:16], int(left_snap[17:])), (right_snap[1:16], int(right_snap[17:])))


def older(a: str, b: str) -> bool:
    return compare(a, b) < 0


sort_key = functools.cmp_to_key(compare)
