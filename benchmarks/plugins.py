"""What the pinned plugin closure costs a full `fleet generate` (issue 16: at most 10% for 1,000 instances).

    .venv/bin/python benchmarks/plugins.py [--count 1000] [--pairs 3] [--workdir /dev/shm]

Two synthetic fleets (benchmarks/synthetic.py, same seed): the same instances with the sample
fleet's plugin catalogs, and without them (plugins unpinned: no resolution, no closure in the
model or plugins.txt). Each pair runs one full regeneration (`generate --no-cache` into an
empty --out, a fresh `fleet` process) of each fleet back to back, alternating which goes
first, so that a change of machine load hits both sides; the medians and their ratio are
printed. The resolution step alone is also timed in process (check_sources with and without
catalogs).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import synthetic  # noqa: E402 - a script: after the sys.path set-up above
from run import run  # noqa: E402 - a script: after the sys.path set-up above

from generator import fleet  # noqa: E402 - a script: after the sys.path set-up above


def check_seconds(instances: str) -> float:
    start = time.perf_counter()
    fleet.check_sources(fleet.Paths(instances=instances))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fleet-bench-plugins-", dir=args.workdir)
    try:
        with_catalogs = os.path.join(work, "with", "instances")
        without = os.path.join(work, "without", "instances")
        synthetic.make(with_catalogs, args.count)
        synthetic.make(without, args.count, catalogs=False)
        print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}; date: {time.strftime('%Y-%m-%d %H:%M %Z')}; "
              f"load: {os.getloadavg()[0]:.2f}; {args.count} instances; jobs {args.jobs}; work {work}")
        checks = {"with": [], "without": []}
        for _ in range(args.pairs):
            checks["without"].append(check_seconds(without))
            checks["with"].append(check_seconds(with_catalogs))
        walls = {"with": [], "without": []}
        for i in range(args.pairs):
            order = [("with", with_catalogs), ("without", without)]
            for name, instances in order if i % 2 == 0 else reversed(order):
                out = os.path.join(os.path.dirname(instances), f"build{i}")
                wall, cpu, rss = run(["--instances", instances, "generate", "--no-cache", "--out", out,
                                      "-j", str(args.jobs)])
                walls[name].append(wall)
                print(f"  pair {i + 1}: {name:8} {wall:6.2f} s wall, {cpu:6.2f} s CPU, {rss} MiB")
                shutil.rmtree(out)
        a, b = statistics.median(walls["with"]), statistics.median(walls["without"])
        ca, cb = statistics.median(checks["with"]), statistics.median(checks["without"])
        print(f"full regeneration, median of {args.pairs}: with catalogs {a:.2f} s, without {b:.2f} s: "
              f"{(a / b - 1) * 100:+.1f}%")
        print(f"check_sources in process, median: with catalogs {ca:.2f} s, without {cb:.2f} s: "
              f"resolution {(ca - cb) * 1000:.0f} ms = {(ca - cb) / b * 100:.1f}% of the full regeneration")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
