"""Kubernetes quantities as integers: CPU in millicores, memory in MiB."""

from __future__ import annotations

import re

_CPU = re.compile(r"^(?P<n>[0-9]+(\.[0-9]+)?)(?P<m>m?)$")
_MEM = re.compile(r"^(?P<n>[0-9]+)(?P<u>Mi|Gi|Ti)$")
_MEM_FACTOR = {"Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def cpu_millis(q: str | float) -> int:
    if isinstance(q, (int, float)):
        return round(q * 1000)
    m = _CPU.fullmatch(q)
    if not m:
        raise ValueError(f"not a CPU quantity: {q!r}")
    return int(m["n"]) if m["m"] else round(float(m["n"]) * 1000)


def memory_mib(q: str) -> int:
    m = _MEM.fullmatch(q)
    if not m:
        raise ValueError(f"not a memory quantity: {q!r}")
    return int(m["n"]) * _MEM_FACTOR[m["u"]]
