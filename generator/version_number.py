"""Jenkins' own version order, for plugin and core versions.

The order is that of hudson.util.VersionNumber, which Jenkins core uses to compare plugin
versions (PluginWrapper, PluginManager, UpdateSite); core 2.555.2 takes it from the library
org.jenkins-ci:version-number 1.14 (bom/pom.xml), source jenkinsci/lib-version-number at tag
version-number-1.14, src/main/java/hudson/util/VersionNumber.java. Written from that
class's rules, not translated line by line:

- a version is a list of items: integers (any size, compared as numbers), qualifiers (strings), sub-lists (after a
  '-' between digits, "1-1") and the wildcard '*'; '.' and '-' separate items, and a change
  between digits and letters does too ("v7d33" is "v", 7, "d", 33);
- trailing null items are dropped (0, the release qualifiers "", "ga", "final", empty lists),
  so 2.0.0 == 2.0 == 2;
- known qualifiers order snapshot < alpha < beta < milestone < rc (alias cr, ea) < release <
  sp; unknown ones come after all of them, between themselves by text ("v..." > release, so
  1947.v7d33fe23569c is after 1947); "a1", "b1", "m1" mean alpha-1, beta-1, milestone-1;
- an integer is after a qualifier and after a sub-list (1.1 > 1-1 > 1-sp);
- "-SNAPSHOT" and Maven timestamps (-20170207.105042-1) count as the qualifier "snapshot";
  equal versions are then ordered by timestamp and build number;
- the wildcard '*' is after anything (Jenkins compares from the left operand, see the class).

The library's tests (VersionNumberTest at the same tag) give the cases tests/push/
test_version_number.py checks.
"""

from __future__ import annotations

import functools
import re

_SNAPSHOT = re.compile(r"^.*((?:-\d{8}\.\d{6}-\d+)|-SNAPSHOT)( \(.*\))?$", re.DOTALL)
_QUALIFIERS = ("snapshot", "alpha", "beta", "milestone", "rc", "", "sp")
_ALIASES = {"ga": "", "final": "", "cr": "rc", "ea": "rc"}
_RELEASE = str(_QUALIFIERS.index(""))

INT, STR, LIST, WILD = range(4)


def _rank(qualifier: str) -> str:
    """Known qualifiers by their index, unknown ones after all of them, by text (compared as strings)."""
    return str(_QUALIFIERS.index(qualifier)) if qualifier in _QUALIFIERS else f"{len(_QUALIFIERS)}-{qualifier}"


def _qualifier(text: str, followed_by_digit: bool) -> tuple:
    if followed_by_digit and text in ("a", "b", "m"):
        text = {"a": "alpha", "b": "beta", "m": "milestone"}[text]
    return (STR, _ALIASES.get(text, text))


def _integer(digits: str) -> tuple:
    # Kept as text without leading zeros: any length compares (int() refuses beyond 4300 digits).
    return (INT, digits.lstrip("0"))


def _is_null(item) -> bool:
    kind, value = item
    return (kind == INT and not value) or (kind == STR and _rank(value) == _RELEASE) or (kind == LIST and not value)


def _normalise(items: list) -> None:
    while items and _is_null(items[-1]):
        items.pop()


def _compare(left, right) -> int:
    """One item against another (right None: nothing there)."""
    kind, value = left
    if kind == WILD:
        return 0 if right is not None and right[0] == WILD else 1
    if right is None:
        if kind == INT:
            return 1 if value else 0
        if kind == STR:
            return (_rank(value) > _RELEASE) - (_rank(value) < _RELEASE)
        return _compare(value[0], None) if value else 0
    other_kind, other = right
    if kind == INT:
        if other_kind == INT:
            a, b = (len(value), value), (len(other), other)
            return (a > b) - (a < b)
        return 0 if other_kind == WILD else 1
    if kind == STR:
        if other_kind == STR:
            a, b = _rank(value), _rank(other)
            return (a > b) - (a < b)
        return -1
    if other_kind in (INT, WILD):
        return -1
    if other_kind == STR:
        return 1
    return _compare_lists(value, other)


def _compare_lists(left: list, right: list) -> int:
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else None
        b = right[i] if i < len(right) else None
        result = -_compare(b, None) if a is None else _compare(a, b)
        if result:
            return result
    return 0


def _parse(version: str) -> list:
    text = version.lower()
    root: list = []
    current, stack = root, [root]
    digits, start = False, 0

    def item(chunk: str, numeric: bool) -> tuple:
        return _integer(chunk) if numeric else _qualifier(chunk, False)

    for i, c in enumerate(text):
        if c in ".-":
            current.append(_integer("") if i == start else item(text[start:i], digits))
            start = i + 1
            if c == "-" and digits:
                _normalise(current)  # 1.0-1 == 1-1
                if i + 1 < len(text) and text[i + 1].isdecimal():
                    sub: list = []
                    current.append((LIST, sub))
                    current = sub
                    stack.append(sub)
        elif c == "*":
            current.append((WILD, None))
            start = i + 1
        elif c.isdecimal():
            if not digits and i > start:
                current.append(_qualifier(text[start:i], True))
                start = i
            digits = True
        elif c.isspace():
            if i > start:
                current.append(item(text[start:i], True) if digits else _qualifier(text[start:i], True))
                start = i
            digits = False
        else:
            if digits and i > start:
                current.append(item(text[start:i], True))
                start = i
            digits = False
    if len(text) > start:
        current.append(item(text[start:], digits))
    for items in reversed(stack):
        _normalise(items)
    return root


class VersionNumber:
    """A version as Jenkins orders it; compare with <, ==, sorted().

    As in Jenkins, each comparison is that of the left operand: the wildcard '*' is after any
    item, but an integer compares equal to it (2.0.* > 2.0.1, yet not 2.0.1 < 2.0.*); plugin
    versions have no wildcard."""

    __slots__ = ("_items", "_snapshot", "text")

    def __init__(self, text: str):
        self.text = text
        m = _SNAPSHOT.match(text)
        self._snapshot = m.group(1) if m else None
        if m:
            text = text[:m.start(1)] + "-SNAPSHOT"
        self._items = _parse(text)

    def compare(self, other: VersionNumber) -> int:
        result = _compare_lists(self._items, other._items)
        if result:
            return result
        mine, theirs = self._snapshot, other._snapshot
        if mine is None or theirs is None:
            return (mine is not None) - (theirs is not None)
        if "-SNAPSHOT" in (mine, theirs):  # a literal snapshot cannot be ordered against a timestamp
            return 0
        a = (mine[1:16], len(mine[17:].lstrip("0")), mine[17:].lstrip("0"))  # -YYYYMMDD.HHMMSS-BUILD
        b = (theirs[1:16], len(theirs[17:].lstrip("0")), theirs[17:].lstrip("0"))
        return (a > b) - (a < b)

    def __eq__(self, other) -> bool:
        return isinstance(other, VersionNumber) and self.compare(other) == 0

    def __lt__(self, other: VersionNumber) -> bool:
        return self.compare(other) < 0

    def __gt__(self, other: VersionNumber) -> bool:
        return self.compare(other) > 0

    def __le__(self, other: VersionNumber) -> bool:
        return self.compare(other) <= 0

    def __ge__(self, other: VersionNumber) -> bool:
        return self.compare(other) >= 0

    __hash__ = None  # equal versions can be spelt differently (2.0 == 2.0.0)

    def __repr__(self) -> str:
        return f"VersionNumber({self.text!r})"


@functools.lru_cache(maxsize=1 << 14)  # a fleet parses the same few hundred versions over and over
def version_key(version: str) -> VersionNumber:
    """A sort key: version_key("1947.v7d33fe23569c") > version_key("1947")."""
    return VersionNumber(version)


@functools.lru_cache(maxsize=1 << 16)
def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Jenkins orders the versions a and b."""
    return version_key(a).compare(version_key(b))


def older(a: str, b: str) -> bool:
    return compare(a, b) < 0


sort_key = functools.cmp_to_key(compare)
