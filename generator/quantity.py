"""Kubernetes resource quantities ("2", "1500m", "8Gi", "1e3"), read as the API server reads them.

One parser for every Python module (the audit, its live drift, the checks, the Jiro importer).
The grammar is resource.Quantity's, k8s.io/apimachinery pkg/api/resource/quantity.go and
suffix.go at v0.36.3 (commit 40bf4b2b62f8):

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <signedNumber>    ::= <number> | <sign><number>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

The grammar comment lists <decimalSI> without n and u, which the parser accepts (suffix.go,
fastLookup.interpret), and writes the exponent as a <signedNumber>, which the parser reads with
strconv.ParseInt: an integer. ParseQuantity also rounds a non-zero value finer than 1n away from
zero to the next nano ("0.9n" is 1n) and caps a binarySI quantity at 2^63-1; both are kept here.
Quantity.UnmarshalJSON trims surrounding spaces before parsing and accepts a JSON number.

The integer views round up, as Quantity.MilliValue does (ceil(q * 1000)): a CPU of "100u" counts
as 1 millicore, a memory of "1G" (953.67 MiB) as 954 MiB.

The Jsonnet model reads the few forms the instance schema allows for pod template resources with
its own helpers (templates/model/util.libsonnet schemaCpuMillis, schemaMemoryMiB); a test checks
that they agree with this parser on every form the schema's patterns accept.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_QUANTITY = re.compile(r"(?P<num>[+-]?(\d+(\.\d*)?|\.\d+))"
                       r"((?P<exponent>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")
_SUFFIX = {
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_NANO = 10**9
_BINARY_MAX = Fraction(2**63 - 1)
MIB = 2**20


def parse_quantity(q) -> Fraction:
    """A quantity (a string, or a number as JSON and YAML give it) as an exact number of base units
    (cores, bytes, pods). ValueError when it is not a quantity, TypeError when it is not text or a number."""
    if isinstance(q, bool):
        raise TypeError(f"not a quantity: {q!r}")
    if isinstance(q, int):
        return Fraction(q)
    if isinstance(q, float):
        if not math.isfinite(q):
            raise ValueError(f"not a quantity: {q!r}")
        return _to_nano(Fraction(str(q)))
    if not isinstance(q, str):
        raise TypeError(f"not a quantity: {q!r}")
    m = _QUANTITY.fullmatch(q.strip())
    if not m:
        raise ValueError(f"not a quantity: {q!r}")
    number, suffix = Fraction(m["num"]), m["suffix"] or ""
    if m["exponent"]:
        return _to_nano(number * Fraction(10) ** int(m["exponent"][1:]))
    value = _to_nano(number * _SUFFIX[suffix])
    if suffix.endswith("i") and abs(value) > _BINARY_MAX:
        return _BINARY_MAX if value > 0 else -_BINARY_MAX
    return value


def _to_nano(value: Fraction) -> Fraction:
    """Rounded away from zero to a whole number of nano-units, as ParseQuantity does."""
    scaled = value * _NANO
    if scaled.denominator == 1:
        return value
    return Fraction(math.ceil(scaled) if scaled > 0 else math.floor(scaled), _NANO)


def cpu_millis(q) -> int:
    """CPU in millicores, rounded up (Quantity.MilliValue)."""
    return math.ceil(parse_quantity(q) * 1000)


def memory_mib(q) -> int:
    """Memory in MiB, rounded up (a decimal "1G" is 953.7Mi and counts as 954)."""
    return math.ceil(parse_quantity(q) / MIB)


def same_quantity(a, b) -> bool:
    """Whether two quantities are the same amount ("2" and "2000m", "1Gi" and "1024Mi", 2 and "2"); two
    values that are not both quantities are the same when they read the same."""
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (ValueError, TypeError):
        return str(a) == str(b)
