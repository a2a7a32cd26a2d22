"""Kubernetes quantities: generator/quantity.py against resource.Quantity's grammar and examples, and
the Jsonnet model's schema-form helpers against it (hypothesis)."""

from __future__ import annotations

import json
import math
import os
import re
from fractions import Fraction

import pytest
from fleettest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import jsonnet
from generator.quantity import cpu_millis, memory_mib, parse_quantity, same_quantity

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
SETTINGS = settings(max_examples=max(300, FUZZ), deadline=None)

# Parsed values from TestQuantityParse, k8s.io/apimachinery pkg/api/resource/quantity_test.go at
# v0.36.3 (commit 40bf4b2b62f8): decQuantity(m, e, ...) is m x 10^e; maxAllowed is 2^63-1.
UPSTREAM = [
    ("0", 0), ("0n", 0), ("0Ki", 0), ("1", 1), ("8Ki", 8 * 2**10), ("7Mi", 7 * 2**20), ("3Ei", 3 * 2**60),
    ("5n", Fraction(5, 10**9)), ("4u", Fraction(4, 10**6)), ("3m", Fraction(3, 1000)), ("50k", 50_000),
    ("7M", 7 * 10**6), ("6G", 6 * 10**9), ("2P", 2 * 10**15), ("1E", 10**18), ("1E-3", Fraction(1, 1000)),
    ("1e3", 1000), ("100.035k", 100_035), ("0.0005k", Fraction(1, 2)), ("0.5e-2", Fraction(5, 1000)),
    ("1.3E+6", 1_300_000), ("6.987654321G", 6_987_654_321), ("1.01E", 101 * 10**16),
    # finer than a nano: rounded away from zero to the next nano
    ("3.001n", Fraction(4, 10**9)), ("1.1E-9", Fraction(2, 10**9)), ("0.0000000001", Fraction(1, 10**9)),
    ("0.9n", Fraction(1, 10**9)), ("0.00000012345", Fraction(124, 10**9)),
    # binarySI capped at 2^63-1
    ("9Ei", 2**63 - 1), ("9223372036854775807Ki", 2**63 - 1),
    ("100.035Ki", Fraction(10243584, 100)), ("0.5Mi", 2**19), ("0.000000000001Ki", Fraction(2, 10**9)),
    (".001", Fraction(1, 1000)), ("1.", 1), ("1.G", 10**9),
]
# The same test's invalid strings (ParseQuantity refuses them), and a few of ours.
INVALID = ["1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-",
           "", "2 cores", "8GB", "m", "1.2.3", "-", "1e1.5", "1K"]


@pytest.mark.parametrize("text,value", UPSTREAM)
def test_upstream_examples(text, value):
    assert parse_quantity(text) == value
    assert parse_quantity("-" + text) == -Fraction(value)


@pytest.mark.parametrize("text", INVALID)
def test_upstream_refusals(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_document_values():
    """What a manifest or a cluster's JSON holds: Quantity.UnmarshalJSON trims spaces and takes numbers
    (TestJSONWhitespace, same file)."""
    assert parse_quantity(" 1") == parse_quantity("1 ") == parse_quantity(1) == 1
    assert parse_quantity(0.5) == Fraction(1, 2)
    for bad in (True, None, [1]):
        with pytest.raises(TypeError):
            parse_quantity(bad)
    with pytest.raises(ValueError):
        parse_quantity(float("nan"))


def test_integer_views_round_up():
    assert cpu_millis("2") == cpu_millis("2000m") == cpu_millis(2) == 2000
    assert cpu_millis("100u") == 1  # Quantity.MilliValue: ceil(q * 1000)
    assert memory_mib("8Gi") == memory_mib("8192Mi") == 8192
    assert memory_mib("1G") == 954
    assert same_quantity("2", "2000m") and same_quantity("1Gi", "1024Mi") and same_quantity(2, "2")
    assert not same_quantity("1G", "1Gi") and same_quantity("x", "x") and not same_quantity("x", "y")


# --- the grammar, generated --------------------------------------------------------------------

DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
           "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
           "P": Fraction(10**15), "E": Fraction(10**18)}
BINARY = {s: Fraction(2 ** (10 * i)) for i, s in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"], 1)}

digits = st.text("0123456789", min_size=1, max_size=12)
numbers = st.one_of(digits, st.tuples(digits, digits).map(".".join), digits.map(lambda d: d + "."),
                    digits.map(lambda d: "." + d))
suffixes = st.one_of(st.sampled_from(sorted(DECIMAL) + sorted(BINARY)),
                     st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]),
                               st.integers(0, 30)).map(lambda t: f"{t[0]}{t[1]}{t[2]}"))


def _expected(sign: str, number: str, suffix: str) -> Fraction:
    whole, _, decimals = number.partition(".")
    value = Fraction(int(whole or "0") * 10 ** len(decimals) + int(decimals or "0"), 10 ** len(decimals))
    if suffix in DECIMAL:  # "E" is exa, "E3" an exponent
        value *= DECIMAL[suffix]
    elif suffix in BINARY:
        value *= BINARY[suffix]
    else:
        value *= Fraction(10) ** int(suffix[1:])
    nanos = value * 10**9
    value = Fraction(math.ceil(nanos), 10**9)  # rounded up to a nano (positive here)
    if suffix in BINARY:
        value = min(value, Fraction(2**63 - 1))
    return -value if sign == "-" else value


@given(st.sampled_from(["", "+", "-"]), numbers, suffixes)
@SETTINGS
def test_every_quantity_of_the_grammar(sign, number, suffix):
    text = sign + number + suffix
    value = _expected(sign, number, suffix)
    assert parse_quantity(text) == value
    assert cpu_millis(text) == math.ceil(value * 1000)
    assert memory_mib(text) == math.ceil(value / 2**20)


# --- the Jsonnet model's helpers, on the schema's own patterns ---------------------------------

def _pattern(kind: str) -> str:
    with open(os.path.join(ROOT, "schemas", "instance.schema.json")) as fh:
        schema = json.load(fh)
    template = schema["properties"]["agents"]["properties"]["podTemplates"]["items"]
    return template["properties"]["resources"]["properties"][kind]["properties"]["request"]["pattern"]


def _jsonnet(kind: str, values: list[str]) -> list[int]:
    helper = {"cpu": "schemaCpuMillis", "memory": "schemaMemoryMiB"}[kind]
    out = jsonnet.evaluate_snippet(
        "agreement", f"function(qs) local u = import 'util.libsonnet'; [u.{helper}(q) for q in qs]",
        jpathdir=[os.path.join(ROOT, "templates", "model")], tla_codes={"qs": json.dumps(values)})
    return json.loads(out)


def test_schema_forms_that_are_no_json_numbers():
    """'010' and '00.5' fit the schema's CPU pattern; the model once read them with std.parseJson and failed."""
    cpu = ["010", "00.5", "0.05", "999.999", "2", "1500m"]
    assert all(re.fullmatch(_pattern("cpu"), q) for q in cpu)
    assert _jsonnet("cpu", cpu) == [cpu_millis(q) for q in cpu] == [10000, 500, 50, 999999, 2000, 1500]


@given(st.lists(st.from_regex(_pattern("cpu"), fullmatch=True), min_size=1, max_size=40),
       st.lists(st.from_regex(_pattern("memory"), fullmatch=True), min_size=1, max_size=40))
@settings(max_examples=max(30, FUZZ // 10), deadline=None)
def test_jsonnet_reads_every_schema_form_as_python_does(cpus, memories):
    # The schema lets memory go up to 99999999Ti, which the API server caps at 8Ei (2^63-1 bytes): above
    # that the model computes with what the file says, and nobody has such a node.
    memories = [q for q in memories if memory_mib(q) < 2**43] or ["1Mi"]  # 2^43 MiB: the cap
    assert _jsonnet("cpu", cpus) == [cpu_millis(q) for q in cpus]
    assert _jsonnet("memory", memories) == [memory_mib(q) for q in memories]
