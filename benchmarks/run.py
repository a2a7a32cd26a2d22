"""Benchmarks for fleet-scale generation (issue: regenerate thousands of instances in seconds).

Each scenario runs the real CLI in a fresh process and reports wall time, time per
instance, CPU time (process + workers) and peak RSS. A naive baseline runs in the
same invocation (one Jsonnet evaluation and one fresh Jinja
environment per instance, one process), so the gain is a ratio measured on the
same noisy machine at the same moment.

    .venv/bin/python benchmarks/run.py            # 1,000 instances (make bench)
    .venv/bin/python benchmarks/run.py --large    # also 10,000 instances (minutes)
    .venv/bin/python benchmarks/run.py --workdir /dev/shm   # on tmpfs: the tool, not the disk
    .venv/bin/python benchmarks/run.py --small-changes      # only the quick scenarios (write path)
    .venv/bin/python benchmarks/run.py --jiro ../jiro       # also Jiro's real instances, imported (issue 17)
    .venv/bin/python benchmarks/floors.py   # the floors (issue 17): each part of a full regeneration alone, 3 rounds

Every run prints, beside the figures, the naive baseline, one round of the floors
(benchmarks/floors.py) on the same fleet, each scenario as a ratio to its floor, and the
targets of issue 17. Our modules are byte-compiled first, as an installed tool's are: where
PYTHONDONTWRITEBYTECODE is set, every run would otherwise compile them (about 0.1 s).

Writing 17 small files per instance makes the file system part of every figure: the run
first times plain file creation where it works, so a slow disk shows as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import synthetic  # noqa: E402 - a script: after the sys.path set-up above

FLEET = [sys.executable, "-m", "generator"]


# Issue 17's targets, in seconds, by scenario (rows without one are shown for what they say).
TARGETS = {
    (1000, "validate (cold, no cache)"): 1.0,
    (1000, "full regeneration, empty --out"): 5.0,
    (1000, "one instance changed"): 0.5,
    (10000, "full regeneration, empty --out"): 60.0,
    (10000, "one instance changed"): 1.0,
    (10000, "nothing changed"): 1.0,
    ("jiro", "Jiro's instances, full generate --no-cache"): 1.0,  # 207 in the checkout
}
# Which floor (benchmarks/floors.py) bounds each scenario from below: what it cannot do without.
FLOOR_OF = {
    "validate (cold, no cache)": "sources",
    "full regeneration, empty --out": "split",
    "full regeneration, over the last tree": "split",
    "  and again (the spare in use)": "split",
    "validate (cache warm)": "help",
    "nothing changed": "help",
    "one instance changed": "help",
    "Jiro's instances, full generate --no-cache": "jiro",
}


def compile_bytecode() -> None:
    """Our modules compiled once, as pip does for an installed package."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(ROOT, "generator")], check=True,
                   stdout=subprocess.DEVNULL)


def run(args: list[str]) -> tuple[float, float, int]:
    """(wall s, cpu s incl. worker processes, peak RSS MiB) of one CLI run."""
    # stderr into a file, not a pipe: a run with many warnings would fill a pipe nobody reads yet
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(FLEET + args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fleet {' '.join(args)} failed:\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def naive_baseline(instances_dir: str, count: int) -> float:
    """Seconds per instance the straightforward way (no batching, no reuse)."""
    code = f"""
import sys, time, json
sys.path.insert(0, {ROOT!r})
from generator import fleet, fleetdir
from generator import jsonnet as _jsonnet
from generator.model import ModelEngine, ModelInput, with_plugins
from generator.render import Renderer
from generator.produce import Producer
from generator.schema import Schemas
paths = fleet.Paths(instances={instances_dir!r})
checked = fleet.check_sources(paths)
inputs = checked.inputs[:{count}]
start = time.perf_counter()
for inp in inputs:
    out = json.loads(_jsonnet.evaluate_file(paths.templates + "/fleet.jsonnet", jpathdir=[paths.templates],
        tla_codes={{"fleet": json.dumps(checked.sources.fleet.data),
                    "instances": json.dumps([{{"name": inp.name, "data": inp.data,
                                               "profiles": list(inp.profiles)}}])}}))
    producer = Producer(Renderer(paths.templates), "1.30", paths.schemas)
    producer.files(inp.name, with_plugins(out[inp.name]["model"], inp.plugins), out[inp.name]["objects"], None)
print((time.perf_counter() - start) / len(inputs))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def binding_comparison(instances_dir: str, count: int) -> dict[str, float]:
    """ms per instance of one batched model+objects evaluation, per Jsonnet binding."""
    code = f"""
import sys, time, json, importlib
sys.path.insert(0, {ROOT!r})
from generator import fleet
paths = fleet.Paths(instances={instances_dir!r})
checked = fleet.check_sources(paths)
inputs = checked.inputs[:{count}]
codes = {{"fleet": json.dumps(checked.sources.fleet.data),
          "instances": json.dumps([{{"name": i.name, "data": i.data, "profiles": list(i.profiles)}} for i in inputs])}}
for name in ("_jsonnet", "_gojsonnet"):
    try:
        binding = importlib.import_module(name)
    except ImportError:  # the C++ binding is not a dependency: only a developer's venv may have it
        continue
    start = time.perf_counter()
    binding.evaluate_file(paths.templates + "/fleet.jsonnet", jpathdir=[paths.templates], tla_codes=codes)
    print(name, (time.perf_counter() - start) / len(inputs) * 1000)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()}


def _edit(path: str, old: str, new: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert old in text, (path, old)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text.replace(old, new, 1))


def _median_of(repeats: int, n: int, once) -> tuple[float, float, int, int, float]:
    """(median wall, its CPU, its peak RSS, n, fastest wall) of `repeats` runs: one sample is noise here."""
    samples = sorted((once(i) for i in range(repeats)), key=lambda s: s[0])
    wall, cpu, rss = samples[len(samples) // 2]
    return wall, cpu, rss, n, samples[0][0]


def scenario_rows(n: int, work: str, jobs: int, repeats: int, small_only: bool = False) -> list[tuple]:
    """(name, wall, cpu, peak MiB, count, fastest wall or None) per scenario."""
    fleet_dir = os.path.join(work, f"fleet{n}")
    out_dir = os.path.join(work, f"build{n}")
    names = synthetic.make(fleet_dir, n)
    base = ["--instances", fleet_dir]
    gen = base + ["generate", "--out", out_dir, "-j", str(jobs)]
    rows = []
    if small_only:  # the tree and its spare exist; only the quick scenarios are timed
        run(gen)
        run(gen + ["--no-cache"])
        return rows + _small_change_rows(n, fleet_dir, names, gen, repeats)
    rows.append(("validate (cold, no cache)", *run(base + ["validate", "--no-cache", "-j", str(jobs)]), n, None))
    rows.append(("full regeneration, empty --out", *run(gen + ["--no-cache"]), n, None))
    if n <= 1000:  # how the workers scale: the same with one process
        one = base + ["generate", "--out", os.path.join(work, f"build{n}-j1"), "-j", "1", "--no-cache"]
        rows.append(("  the same with --jobs 1", *run(one), n, None))
    # What an admin does after a template change: every instance rendered again, over the
    # previous tree (a fleet-wide setting stands in for the template: every JCasC changes).
    fleet_yaml = os.path.join(fleet_dir, "fleet.yaml")
    _edit(fleet_yaml, "adminEmail: jenkins-admins@example.org", "adminEmail: jenkins-admins-2@example.org")
    rows.append(("full regeneration, over the last tree", *run(gen), n, None))
    # The steady state: the tree before the last one is kept beside the output and brought up to date.
    _edit(fleet_yaml, "adminEmail: jenkins-admins-2@example.org", "adminEmail: jenkins-admins-3@example.org")
    rows.append(("  and again (the spare in use)", *run(gen), n, None))
    rows.append(("validate (cache warm)",
                 *_median_of(repeats, n, lambda i: run(base + ["validate", "--cache-from", out_dir, "-j", str(jobs)]))))
    return rows + _small_change_rows(n, fleet_dir, names, gen, repeats)


def _small_change_rows(n: int, fleet_dir: str, names: list[str], gen: list[str], repeats: int) -> list[tuple]:
    rows = [("nothing changed", *_median_of(repeats, n, lambda i: run(gen)))]
    target = os.path.join(fleet_dir, names[n // 2], "instance.yaml")
    with open(target, "a", encoding="utf-8") as fh:
        fh.write("storage:\n  size: 75Gi\n")

    def one_changed(i: int):
        _edit(target, f"size: {75 + i}Gi", f"size: {76 + i}Gi")
        return run(gen)
    run(gen)  # the first change; the repeats below each change it again
    rows.append(("one instance changed", *_median_of(repeats, n, one_changed)))
    return rows


def jiro_rows(checkout: str, work: str, jobs: int, repeats: int) -> list[tuple]:
    """Jiro's own instances (a checkout of eclipse-cbi/jiro), imported, then generated from scratch."""
    fleet_dir, out = os.path.join(work, "jiro-fleet"), os.path.join(work, "jiro-build")
    start = time.perf_counter()
    proc = subprocess.run(FLEET + ["import-jiro", checkout, "--into", fleet_dir, "--image-repository",
                                   "quay.io/example"], cwd=ROOT, capture_output=True, text=True, check=False)
    imported = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not os.path.isdir(fleet_dir):
        raise SystemExit(f"fleet import-jiro {checkout} failed:\n{proc.stderr[-2000:]}")
    count = sum(1 for e in os.scandir(fleet_dir) if e.is_dir() and e.name != "catalogs")

    def once(i: int):
        shutil.rmtree(out, ignore_errors=True)
        return run(["--instances", fleet_dir, "generate", "--out", out, "--no-cache", "-j", str(jobs)])
    return [(f"import-jiro of {count} instances (once)", imported, 0.0, 0, count, None),
            ("Jiro's instances, full generate --no-cache", *_median_of(repeats, count, once))]


def jiro_floor(work: str, jobs: int) -> tuple[float, str]:
    """What a full generation of the imported Jiro fleet cannot do without, in seconds: the
    interpreter and imports, reading and checking the sources, then the Jsonnet step and producing
    the files (benchmarks/floors.py's probe, one process, CPU time) shared by `jobs` workers."""
    import floors  # a script beside this one
    fleet_dir = os.path.join(work, "jiro-fleet")
    interpreter = floors.timed(FLEET + ["--help"], 60)[0]
    got = json.loads(floors.timed([sys.executable, floors.__file__, "--probe", fleet_dir, "--jobs", str(jobs)], 600)[2])
    shared = (got["jsonnet"][1] + got["produce"][1]) / jobs
    floor = interpreter + got["yaml"][0] + got["checks"][0] + shared
    return floor, (f"floor of Jiro's instances: {floor:.2f} s = interpreter and imports {interpreter:.2f} + reading "
                   f"{got['yaml'][0]:.2f} + checks {got['checks'][0]:.2f} + (Jsonnet {got['jsonnet'][1]:.2f} "
                   f"+ producing the files {got['produce'][1]:.2f} s of CPU) / {jobs} workers")


def print_rows(title: str, rows: list[tuple], size, floors: dict | None = None) -> None:
    print(f"\n{title}")
    print(f"{'scenario':54} {'wall s':>8} {'ms/inst':>8} {'cpu s':>8} {'peak MiB':>9} {'target':>7} "
          f"{'x floor':>8}")
    for name, wall, cpu, rss, count, fastest in rows:
        best = f"  [{fastest:.2f}]" if fastest is not None else ""
        target = TARGETS.get((size, name))
        mark = "" if target is None else f"{target:g}{' ok' if wall <= target else ' NO'}"
        floor = floors.get(FLOOR_OF.get(name)) if floors else None
        ratio = f"{wall / floor:.2f}x" if floor else ""
        print(f"{name:54} {wall:8.2f} {wall / count * 1000:8.2f} {cpu:8.2f} {rss:9d} {mark:>7} {ratio:>8}{best}")


def floor_figures(n: int, work: str, jobs: int) -> tuple[dict[str, float], list[str]]:
    """One round of benchmarks/floors.py on a fresh synthetic fleet of n: wall s per floor, and its table."""
    import floors  # a script beside this one
    fleet_dir = os.path.join(work, f"floors{n}")
    synthetic.make(fleet_dir, n)
    got, files = floors.one_round(fleet_dir, work, jobs, 60 + n * 0.15)
    wall = {key: value[0] for key, value in got.items()}
    wall["split"] = (sum(wall[k] for k, _, counted in floors.ROWS if counted)
                     - (wall["jsonnet"] + wall["jinja"]) * (1 - 1 / jobs))
    # validate: the work it cannot do without (interpreter, reading, checks, the Jsonnet checks view's
    # CPU) spread over the cores; the run overlaps the reading with the workers' Jsonnet.
    wall["sources"] = (wall["help"] + wall["yaml"] + wall["checks"] + got["checks_view"][1]) / jobs
    lines = [f"floors (benchmarks/floors.py, one round, {files} files):"] + floors.table([got], jobs)
    return wall, lines


def filesystem(path: str) -> str:
    """The mount point and type holding `path` (from /proc/mounts)."""
    best = ("?", "?")
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                _, mount, fstype, *_ = line.split()
                if (path + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[0]):
                    best = (mount, fstype)
    except OSError:
        pass
    return f"{best[1]} at {best[0]}"


def file_creation_us(work: str, count: int = 3000) -> float:
    """Microseconds to create (and later remove) one small file in `work`: the disk's share."""
    root = tempfile.mkdtemp(dir=work, prefix="files-")
    start = time.perf_counter()
    for i in range(count):
        if i % 17 == 0:
            sub = os.path.join(root, str(i))
            os.mkdir(sub)
        fd = os.open(os.path.join(sub, str(i)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, b"x" * 2000)
        os.close(fd)
    elapsed = time.perf_counter() - start
    shutil.rmtree(root)
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also run 10,000 instances")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--baseline-sample", type=int, default=100, help="instances timed for the naive baseline")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each quick scenario (median reported)")
    parser.add_argument("--workdir", default=None, help="where the fleets and outputs go (default: the temp dir)")
    parser.add_argument("--small-changes", action="store_true",
                        help="only 'nothing changed' and 'one instance changed' (no baseline): before/after a change "
                             "to the write path")
    parser.add_argument("--jiro", metavar="CHECKOUT", default=os.environ.get("FLEET_BENCH_JIRO"),
                        help="a checkout of eclipse-cbi/jiro: also import its instances and time their generation "
                             "(default: $FLEET_BENCH_JIRO)")
    args = parser.parse_args()
    compile_bytecode()
    sizes = [1000] + ([10000] if args.large else [])
    work = tempfile.mkdtemp(prefix="fleet-bench-", dir=args.workdir)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; jobs: {args.jobs}")
    print(f"work directory: {work} ({filesystem(work)}); creating a small file there: "
          f"{file_creation_us(work):.0f} us")
    print(f"load average: {os.getloadavg()[0]:.2f}; 'x floor': the scenario against what it cannot do without "
          "(floors below: cold validate (b)+(c)+(f) and the Jsonnet checks view's CPU over the cores, "
          "full runs the floors' sum with Jsonnet and "
          "Jinja shared by the workers, small changes (b) the interpreter and imports)")
    try:
        for n in sizes:
            rows = scenario_rows(n, work, args.jobs, args.repeats, args.small_changes)
            floors, lines = floor_figures(n, work, args.jobs) if not args.small_changes else (None, [])
            print_rows(f"{n} instances (quick scenarios: median of {args.repeats} runs, fastest in brackets)",
                       rows, n, floors)
            if lines:
                print("\n" + "\n".join(lines))
            if n == sizes[0] and not args.small_changes:
                full = rows[1]  # into an empty directory: the baseline writes everything too
                naive = naive_baseline(os.path.join(work, f"fleet{n}"), args.baseline_sample)
                print(f"\nnaive baseline (per instance, {args.baseline_sample} instances, 1 process): "
                      f"{naive * 1000:.1f} ms -> {naive * n:.1f} s for {n}")
                print(f"full regeneration vs naive: {naive * n / full[1]:.1f}x faster")
                bindings = binding_comparison(os.path.join(work, f"fleet{n}"), 200)
                print("Jsonnet bindings, one evaluation of 200 instances: "
                      + ", ".join(f"{k} {v:.1f} ms/instance" for k, v in sorted(bindings.items())))
        if args.jiro and not args.small_changes:
            rows = jiro_rows(args.jiro, work, args.jobs, args.repeats)
            floor, line = jiro_floor(work, args.jobs)
            print_rows(f"Jiro's instances, imported from {args.jiro} (median of {args.repeats} runs, fastest "
                       "in brackets)", rows, "jiro", {"jiro": floor})
            print(line)
        elif not args.small_changes:
            print("\nJiro's instances: not timed (pass --jiro CHECKOUT or set FLEET_BENCH_JIRO to a checkout of "
                  "eclipse-cbi/jiro)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
