"""Where one `fleet` run spends its time: wall time of each pipeline step, printed to stderr.

    .venv/bin/python benchmarks/phases.py --instances DIR generate --out OUT -j 2

Runs the real CLI in this process with timers around the steps (load, checks, cache,
Jsonnet and rendering, index, write), plus the time spent importing, and this process's resident
memory when each step last returned (the parent's: workers are not counted). Use it to see what
to attack before changing anything; `benchmarks/run.py` gives the figures to compare.
"""

from __future__ import annotations

import functools
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

STEPS = [
    ("fleetdir", "read_all"), ("fleet", "check_sources"), ("fleet", "load_catalogs"), ("fleet", "resolve_plugins"),
    ("fleet", "validate_document"), ("checks", "check_instance"), ("checks", "check_override_jcasc"),
    ("checks", "check_fleet"), ("fleet", "Schemas"), ("fleet", "links_below"), ("fleet", "acknowledgement_problems"),
    ("fleet", "input_keys"), ("fleet", "_cache_hits"),
    ("fleet", "_run"), ("monitoring", "rules_files"), ("checks", "check_models"), ("fleet", "index_bytes"),
    ("output", "read_index"), ("output", "write_tree"), ("output", "write_cache"),
]


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


def _timed(module, name: str, report, clock=time.perf_counter) -> None:
    """Replace module.name (a module's function or a class's method) by one that reports its time."""
    fn = getattr(module, name)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            report(f"{module.__name__}.{name}", clock() - start)
    setattr(module, name, wrapper)


def main() -> None:
    started = time.perf_counter()
    import importlib

    from generator.cli import main as fleet_main
    imported = time.perf_counter()
    lines = [f"{'imports':32} {(imported - started) * 1000:7.0f} ms"]
    totals: dict[str, list] = {}  # a step called once per instance (resolve_plugins) is summed

    def report(label: str, seconds: float) -> None:
        if label not in totals:
            totals[label] = [0.0, 0, 0]
            lines.append(label)
        totals[label][0] += seconds
        totals[label][1] += 1
        totals[label][2] = rss_mib()
    for module_name, name in STEPS:
        _timed(importlib.import_module(f"generator.{module_name}"), name, report)
    sys.argv = ["fleet", *sys.argv[1:]]
    try:
        fleet_main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    lines.append(f"{'total (after the interpreter)':32} {(time.perf_counter() - started) * 1000:7.0f} ms")
    shown = [f"{line:32} {totals[line][0] * 1000:7.0f} ms {totals[line][2]:6d} MiB after"
             + (f" ({totals[line][1]} calls)" if totals[line][1] > 1 else "")
             if line in totals else line for line in lines]
    print("\n".join(shown), file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":  # worker processes (spawn) import this file too: run only once
    main()
