"""No regular expression of ours takes more than linear time on what a pull request or a server sends.

Instance files, hand-written JCasC and controllers' answers reach these patterns (the redaction of
every echoed source line, the JCasC checker, the drift report). Three of them backtracked
quadratically on long input: a 20,000-character line without a colon took 4.7 s to redact, so one
long line in a pull request could hold `fleet check` for hours. The first test tries every compiled
pattern of the package on long runs of the pieces that make patterns backtrack; the others hold
the rewritten patterns to the meaning of the old ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import generator
from generator import errors, targets, value_diff

jcasc_check = importlib.import_module("generator.jcasc.check")  # the package's `check` is a function

LENGTH = 20_000
# Runs of these, ended by a character no pattern expects, are where backtracking shows.
PIECES = ["a", "1", "a1", "-", ".", "1.", "1e", "a:", "a-", "${", "^${", " (", "(", "\\", '"', "'", " ", "\t",
          "a b", "a=", "/", "@", "x.y", "0x", "v1.", "-1", "#", "{", "}", "[", ",", "password", "ghp_"]


def _patterns():
    found = {}
    for info in pkgutil.walk_packages(generator.__path__, "generator."):
        if info.name == "generator.__main__":  # runs the CLI
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            values = value if isinstance(value, tuple) else (value,)
            for item in values:
                for part in (item if isinstance(item, tuple) else (item,)):
                    if isinstance(part, re.Pattern):
                        found[f"{info.name}.{name}"] = found.get(f"{info.name}.{name}", ()) + (part,)
    return found


PATTERNS = _patterns()


def test_the_package_has_patterns_to_try():
    assert {"generator.errors._KEY_VALUE", "generator.jcasc.check._NUMBER"} <= set(PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_pattern_is_linear_on_long_runs(name):
    slowest = (0.0, "")
    for pattern in PATTERNS[name]:
        for piece in PIECES:
            text = piece * (LENGTH // len(piece)) + "\x00"
            start = time.perf_counter()
            pattern.search(text)
            pattern.fullmatch(text)
            list(pattern.finditer(text[:LENGTH // 4]))
            took = time.perf_counter() - start
            slowest = max(slowest, (took, piece))
    # linear: a few milliseconds; the quadratic ones took seconds (on a loaded 2-core machine too)
    assert slowest[0] < 0.5, f"{name} took {slowest[0]:.2f} s on a run of {slowest[1]!r}"


# --- the rewritten patterns mean what they meant -----------------------------------------------------

_OLD_KEY_VALUE = re.compile(r"""(?P<key>[A-Za-z0-9_.-]+)["']?[ \t]*:[ \t]+"""
                            r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s{\[,}\]#'"][^,}\]#]*?)"""
                            r"""(?=[ \t]*(?:[,}\]]|\s#|$))""")
_OLD_NUMBER = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_OLD_VARIABLE = re.compile(r"(?<!\^)\$\{[^}]*\}")
_OLD_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)([^/?#\s'\"]*)@")

yamlish = st.lists(st.sampled_from(["password", "token", "key", "a", "_", ".", "-", ":", ": ", '"', "'", "\\", " ",
                                    "\t", "#", " #", ",", "{", "}", "[", "]", "x", "1", "secretId"]),
                   max_size=30).map("".join)


@given(yamlish)
def test_key_value_finds_what_it_found(line):
    old = [(m.span(), m.group("key"), m.group("value")) for m in _OLD_KEY_VALUE.finditer(line)]
    new = [(m.span(), m.group("key"), m.group("value")) for m in errors._KEY_VALUE.finditer(line)]
    assert new == old


@given(st.text(st.sampled_from("0123456789.+-eEx "), max_size=20))
def test_number_accepts_what_it_accepted(text):
    assert bool(jcasc_check._NUMBER.fullmatch(text)) == bool(_OLD_NUMBER.fullmatch(text))


@given(st.lists(st.sampled_from(["${", "^${", "}", "$", "{", "^", "a"]), max_size=12).map("".join))
def test_placeholder_is_found_where_it_was(text):
    assert value_diff._is_placeholder(text) == (_OLD_VARIABLE.search(text) is not None)


@given(st.lists(st.sampled_from(["http", "s", "x", "+", ".", "-", "1", "://", ":", "/", "@", "user", ":pw", " ", "?",
                                 "#", "'", "H"]), max_size=16).map("".join))
@example("+http://http@")  # a scheme starts at the first letter of its run, not at the run
@example("1.x-https://user:pw@host")
@example("a://b@c://d@")
@settings(max_examples=300)
def test_userinfo_is_hidden_where_it_was(text):
    old = _OLD_USERINFO.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + "@", text)
    assert targets.redact_userinfo(text) == old
