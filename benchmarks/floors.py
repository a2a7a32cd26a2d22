"""The floors under a full regeneration (issue 17): what the parts cost alone, in the same run.

    .venv/bin/python benchmarks/floors.py                          # 1,000 instances, 3 rounds
    .venv/bin/python benchmarks/floors.py --workdir /dev/shm/floors --instances 1000 --repeats 3

On one synthetic fleet (benchmarks/synthetic.py, seed 42) each round times, one after the other:
the full `fleet generate --no-cache --jobs 2` into an empty --out, and each floor alone:
(a) `cp -r` of the tree it wrote, on the same disk; (b) `fleet --help` (and, inside it,
`python -c 'import generator.cli'`); (c) reading the instance files (`fleetdir.read_all`, the
YAML parser with positions); (d) the Jsonnet step (`ModelEngine.evaluate`, the chunks the CLI
makes, one process); (e) the Jinja step (every `Renderer.render` of `Producer.files`, one
process); (f) validation of the sources (`check_sources` without its YAML read: schemas, rules,
plugin closures), and `fleet validate --no-cache` as the command. (c)-(f) run in a fresh
process each round, timed inside it, so the interpreter is counted once, in (b). The median of
the rounds is reported, and the full run as a ratio to each floor and to their sum.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import phases  # noqa: E402 - a script: after the sys.path set-up above
import synthetic  # noqa: E402
from run import FLEET, filesystem  # noqa: E402

# (key, label, counted in the sum of floors)
ROWS = [
    ("copy", "(a) `cp -r` of the output tree, same disk", True),
    ("help", "(b) interpreter and imports: `fleet --help`", True),
    ("import", "    of which `python -c 'import generator.cli'`", False),
    ("yaml", "(c) reading the instance YAML (`fleetdir.read_all`)", True),
    ("jsonnet", "(d) Jsonnet alone (`ModelEngine.evaluate`, 1 process)", True),
    ("jinja", "(e) Jinja alone (`Renderer.render`, 1 process)", True),
    ("checks", "(f) validation alone (schemas, rules, plugin closures)", True),
    ("validate", "    `fleet validate --no-cache` (b, c, f and a Jsonnet view)", False),
]


def timed(cmd: list[str], timeout: float) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and the children it waited for, stdout) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> list[float]:
    """[wall s, CPU s] since `start`: CPU time does not grow when other jobs take the cores."""
    return [now - then for now, then in zip(_clocks(), start, strict=True)]


def probe(fleet_dir: str, jobs: int) -> dict[str, list[float]]:
    """(c)-(f) in this process, after the imports: [wall s, CPU s] per step, as the CLI runs them."""
    from generator import fleet, fleetdir
    from generator.model import CHECKS
    from generator.produce import Producer
    from generator.render import Renderer

    spent: dict[tuple[str, int], float] = {}

    def reporter(clock: int):
        def report(label: str, seconds: float) -> None:
            spent[label, clock] = spent.get((label, clock), 0.0) + seconds
        return report
    for owner, name in ((fleetdir, "read_all"), (Renderer, "render")):
        phases._timed(owner, name, reporter(0))
        phases._timed(owner, name, reporter(1), clock=time.process_time)
    paths = fleet.Paths(instances=fleet_dir)
    start = _clocks()
    checked = fleet.check_sources(paths)
    sources = _since(start)
    if any(d.is_error for d in checked.diagnostics):
        raise SystemExit(f"the synthetic fleet does not validate: {checked.diagnostics[0]}")
    data = checked.sources.fleet.data
    engine = fleet.Worker(paths).engine
    producer = Producer(Renderer(paths.templates), fleet.kubernetes_version(data), paths.schemas)
    jsonnet, produce = [0.0, 0.0], [0.0, 0.0]
    # The chunks the full run makes, each evaluated, then rendered and dropped, as a worker does.
    # gojsonnet's collector runs on a second thread: its CPU time exceeds its wall time.
    for chunk in fleet._chunks(checked.inputs, jobs):
        start = _clocks()
        evaluated = engine.evaluate(data, chunk)
        jsonnet = [a + b for a, b in zip(jsonnet, _since(start), strict=True)]
        start = _clocks()
        for inp in chunk:
            result, src = evaluated[inp.name], checked.sources.instances[inp.name]
            producer.files(inp.name, result["model"], result["objects"], src.override)
        produce = [a + b for a, b in zip(produce, _since(start), strict=True)]
    # What `fleet validate` evaluates instead: the checks view of the model, no objects.
    start = _clocks()
    for chunk in fleet._chunks(checked.inputs, jobs):
        engine.evaluate(data, chunk, objects=False, view=CHECKS)
    checks_view = _since(start)
    read = [spent["generator.fleetdir.read_all", clock] for clock in (0, 1)]
    checks = [total - part for total, part in zip(sources, read, strict=True)]
    return {"yaml": read, "checks": checks, "jsonnet": jsonnet, "checks_view": checks_view,
            "jinja": [spent["Renderer.render", clock] for clock in (0, 1)], "produce": produce}


def count_files(root: str) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def one_round(fleet_dir: str, work: str, jobs: int, limit: float) -> tuple[dict[str, list[float]], int]:
    """Every measure once ([wall s, CPU s] each), into a fresh empty --out; the trees are removed afterwards."""
    out = os.path.join(work, "build")
    copy = os.path.join(work, "build-copy")
    base = FLEET + ["--instances", fleet_dir]
    got: dict[str, list[float]] = {}
    got["full"] = timed(base + ["generate", "--out", out, "--no-cache", "-j", str(jobs)], limit)[:2]
    files = count_files(out)
    got["copy"] = timed(["cp", "-r", out, copy], limit)[:2]
    shutil.rmtree(copy)
    shutil.rmtree(out)
    got["help"] = timed(FLEET + ["--help"], limit)[:2]
    got["import"] = timed([sys.executable, "-c", "import generator.cli"], limit)[:2]
    got["validate"] = timed(base + ["validate", "--no-cache", "-j", str(jobs)], limit)[:2]
    got.update(json.loads(timed([sys.executable, __file__, "--probe", fleet_dir, "--jobs", str(jobs)], limit)[2]))
    return got, files


def table(rounds: list[dict[str, list[float]]], jobs: int) -> list[str]:
    """A Markdown table: the median of the rounds, wall and CPU, the full run against each floor."""
    wall = {key: statistics.median(r[key][0] for r in rounds) for key in rounds[0]}
    cpu = {key: statistics.median(r[key][1] for r in rounds) for key in rounds[0]}
    spread = {key: (min(r[key][0] for r in rounds), max(r[key][0] for r in rounds)) for key in rounds[0]}
    full = wall["full"]
    summed = [key for key, _, counted in ROWS if counted]
    total, total_cpu = sum(wall[k] for k in summed), sum(cpu[k] for k in summed)
    lines = ["| measure | wall s | (min-max) | CPU s | share of the floors | full run / this |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for key, label, counted in ROWS:
        share = f"{wall[key] / total:.0%}" if counted else ""
        lines.append(f"| {label} | {wall[key]:.2f} | {spread[key][0]:.2f}-{spread[key][1]:.2f} | {cpu[key]:.2f} "
                     f"| {share} | {full / wall[key]:.1f}x |")
    lines.append(f"| sum of the floors (a)-(f) | {total:.2f} | | {total_cpu:.2f} | 100% | **{full / total:.2f}x** |")
    lines.append(f"| **full `fleet generate --no-cache --jobs {jobs}`, empty --out** | **{full:.2f}** "
                 f"| {spread['full'][0]:.2f}-{spread['full'][1]:.2f} | {cpu['full']:.2f} | | |")
    split = total - (wall["jsonnet"] + wall["jinja"]) * (1 - 1 / jobs)
    lines.append("")
    lines.append(f"CPU: the full run {cpu['full']:.2f} s against the floors' {total_cpu:.2f} s, "
                 f"{cpu['full'] / total_cpu:.2f}x.")
    lines.append(f"Wall, with (d) and (e) shared by {jobs} workers as the full run shares them: floors {split:.2f} s, "
                 f"full run / that {full / split:.2f}x.")
    lines.append(f"Producing the files in one process (`Producer.files`: Jinja, YAML out, object checks): "
                 f"{wall['produce']:.2f} s wall, {cpu['produce']:.2f} s CPU, of which Jinja {wall['jinja']:.2f} s.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000, help="synthetic instances (1 to 20000)")
    parser.add_argument("--workdir", default=None, help="where the fleet and the trees go (default: the temp dir)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (the median is reported)")
    parser.add_argument("--jobs", type=int, default=2, help="workers of the full run and of validate")
    parser.add_argument("--probe", metavar="FLEET_DIR", help=argparse.SUPPRESS)  # one round's (c)-(f)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.jobs)))
        return
    if not 1 <= args.instances <= 20000 or not 1 <= args.repeats <= 9:
        parser.error("--instances must be 1-20000 and --repeats 1-9")
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="fleet-floors-", dir=args.workdir)
    limit = 60 + args.instances * 0.15  # seconds for any one command: 210 s at 1,000
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; work directory: {work} ({filesystem(work)})")
    try:
        fleet_dir = os.path.join(work, "fleet")
        synthetic.make(fleet_dir, args.instances)
        rounds, files = [], 0
        for _ in range(args.repeats):
            got, files = one_round(fleet_dir, work, args.jobs, limit)
            rounds.append(got)
        walls = ", ".join(format(r["full"][0], ".2f") for r in rounds)
        print(f"\n{args.instances} instances, {files} files in the output tree, median of {args.repeats} rounds; "
              f"full run per round: {walls} s\n")
        print("\n".join(table(rounds, args.jobs)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
