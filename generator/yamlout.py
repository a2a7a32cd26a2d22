"""Canonical block YAML for JSON-like data, several times faster than yaml.dump.

PyYAML spends most of its time in its Python representer (a node graph and an
implicit-tag lookup per scalar); a fleet writes ~16 files per instance, so that
dominated regeneration. This emitter handles the shapes we write (dicts, lists,
str, int, bool, None) and defers every scalar it is not sure about to PyYAML,
so the output always parses back to the same data (tests/unit/test_yamlout.py
checks that property on random data). `load` is the one fast safe loader for
everything else we read that need not report positions.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

import yaml

try:
    _Dumper = yaml.CSafeDumper
    SafeLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Dumper = yaml.SafeDumper
    SafeLoader = yaml.SafeLoader


def safe_load(text):
    """yaml.safe_load with libyaml's parser: the Route CRD takes 2.5 ms instead of 30."""
    return yaml.load(text, Loader=SafeLoader)

# The core schema of YAML 1.2.2, section 10.3.2 (https://yaml.org/spec/1.2.2/#1032-tag-resolution):
# how YAML 1.2 readers (editors) type a plain scalar, where YAML 1.1 readers (libyaml, PyYAML,
# SnakeYAML) differ for `yes`, `010`, `1:30`, `1_000`, `1e3`, `0o17`.
_CORE12_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_CORE12_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_CORE12_INT = ((re.compile(r"[-+]?[0-9]+"), 10, 0), (re.compile(r"0o[0-7]+"), 8, 2),
               (re.compile(r"0x[0-9a-fA-F]+"), 16, 2))
_CORE12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
NUMBER_START = frozenset("0123456789+-.")


def core12(text: str):
    """The value YAML 1.2's core schema gives the plain scalar `text` (.inf and .nan stay text:
    nothing here accepts them)."""
    if text in _CORE12_NULL:
        return None
    if text in _CORE12_BOOL:
        return _CORE12_BOOL[text]
    if text[:1] not in NUMBER_START:
        return text
    for pattern, base, skip in _CORE12_INT:
        if pattern.fullmatch(text):
            return int(text[skip:], base)
    if _CORE12_FLOAT.fullmatch(text):
        return float(text)
    return text


_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@+=-]*")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_BLOCK_SAFE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]*")
_RESOLVER = yaml.resolver.Resolver()


@lru_cache(maxsize=65536)
def _plain_ok(text: str) -> bool:
    # A plain scalar must not read back as a bool, number, null or timestamp, in YAML 1.1 or 1.2.
    return bool(_PLAIN.fullmatch(text)) and \
        _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str" and \
        core12(text) == text


def _quoted(text: str) -> str:
    if _PRINTABLE_ASCII.fullmatch(text):
        return json.dumps(text)  # a JSON string is a YAML double-quoted scalar
    out = yaml.dump(text, Dumper=_Dumper, default_style='"', allow_unicode=True, width=1 << 30)
    return out.rstrip("\n").removesuffix("\n...")


def _scalar(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value if _plain_ok(value) else _quoted(value)
    out = yaml.dump(value, Dumper=_Dumper, width=1 << 30)  # floats and the unexpected
    return out.rstrip("\n").removesuffix("\n...")


def _block(text: str, indent: str) -> str | None:
    """A literal block for multi-line text, or None when a quoted scalar is needed."""
    if not _BLOCK_SAFE.fullmatch(text) or text.startswith((" ", "\n")) or "\r" in text:
        return None
    body = text.removesuffix("\n")
    if body.endswith("\n"):
        return None  # trailing blank lines need the keep indicator; let PyYAML decide
    lines = body.split("\n")
    if any(line != line.rstrip(" \t") for line in lines):
        return None
    head = "|" if text.endswith("\n") else "|-"
    return head + "".join("\n" + (indent + line if line else "") for line in lines)


def _emit(value, indent: str, out: list[str], sort_keys: bool) -> None:
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        for key, item in items:
            k = _scalar(key) if isinstance(key, str) else _scalar(str(key))
            _value(k + ":", item, indent, out, sort_keys)
    elif isinstance(value, list):
        for item in value:
            _value("-", item, indent, out, sort_keys)


def _value(head: str, item, indent: str, out: list[str], sort_keys: bool) -> None:
    if isinstance(item, dict) and item:
        if head == "-":
            # "- key: value" with the rest of the mapping aligned under the first key
            sub: list[str] = []
            _emit(item, indent + "  ", sub, sort_keys)
            first = sub[0][len(indent) + 2:]
            out.append(f"{indent}- {first}")
            out.extend(sub[1:])
        else:
            out.append(f"{indent}{head}")
            _emit(item, indent + "  ", out, sort_keys)
    elif isinstance(item, list) and item:
        if head == "-":
            sub = []
            _emit(item, indent + "  ", sub, sort_keys)
            out.append(f"{indent}- {sub[0][len(indent) + 2:]}")
            out.extend(sub[1:])
        else:
            out.append(f"{indent}{head}")
            _emit(item, indent, out, sort_keys)  # block sequences in mappings are not indented
    elif isinstance(item, dict):
        out.append(f"{indent}{head} {{}}")
    elif isinstance(item, list):
        out.append(f"{indent}{head} []")
    elif isinstance(item, str) and "\n" in item:
        block = _block(item, indent + "  ")
        out.append(f"{indent}{head} {block if block is not None else _quoted(item)}")
    else:
        out.append(f"{indent}{head} {_scalar(item)}")


def dump(data, *, sort_keys: bool) -> str:
    """Block-style YAML for a mapping or a list; ends with a newline."""
    if not isinstance(data, (dict, list)):
        return _scalar(data) + "\n"
    if not data:
        return "{}\n" if isinstance(data, dict) else "[]\n"
    out: list[str] = []
    _emit(data, "", out, sort_keys)
    return "\n".join(out) + "\n"
