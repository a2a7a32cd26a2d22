"""Push to N controllers (Jenkins doubles) with `fleet push`: wall time, HTTP requests per controller, and the floor.

    .venv/bin/python benchmarks/push_doubles.py [--controllers 200] [--jobs 16] [--before REV] [--repeat 1]

The doubles run in a child process (one threaded server, one prefix per
controller), the push is the real CLI in another: neither steals the other's
GIL.  Every controller gets the generated JCasC of technology.cbi (LDAP realm,
matrix, a Kubernetes cloud), renamed.  Three pushes: the first applies, the
second finds nothing to change, the third is a --dry-run.

The floor: a plain http.client (one keep-alive connection per controller,
--jobs threads) sends the same request sequence as the push, read from the
push's own report, to fresh doubles: what the doubles can serve, so that
"ours" is the push's wall time over the floor's.  --before REV pushes with the
generator package of that git revision too, against that revision's doubles
(fresh ones for each variant), in the same run, for a before/after table (the
floor is the current doubles serving the current sequence); --repeat N runs
everything N times, interleaved, and prints the medians.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from jenkins_double import DoubleServer, JenkinsDouble, default_users, plugins_for
n, plugins = int(sys.argv[2]), json.loads(sys.argv[3])
users = default_users()
doubles = {f"/p{i:04d}": JenkinsDouble(name=f"p{i}", users=users, plugins=plugins_for(plugins),
                                        env={"LDAP_MANAGER_PASSWORD": "x"}) for i in range(n)}
server = DoubleServer(doubles).start()
print(server.port, flush=True)
sys.stdin.read()
"""
USER, TOKEN = "admin", "11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8"  # the double's admin token
SCENARIOS = (("first push (apply)", []), ("second push (unchanged)", []), ("dry run (unchanged)", ["--dry-run"]))


class Doubles:
    """A fresh server with N doubles (nothing applied yet)."""

    def __init__(self, controllers: int, plugins: list[str], root: str = ROOT):
        """`root`: the tree whose tests/jenkins_double (and generator, which it imports) serve."""
        self.proc = subprocess.Popen([sys.executable, "-c", SERVE, os.path.join(root, "tests"), str(controllers),
                                      json.dumps(plugins)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYTHONPATH=root))
        self.port = int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def fleet_pushes(tmp: str, doubles: Doubles, jobs: int, pythonpath: str) -> list[dict]:
    with open(os.path.join(tmp, "targets.yaml"), "w") as fh:
        fh.write(f"clusters:\n  okd-c1: {{url: 'http://127.0.0.1:{doubles.port}{{prefix}}'}}\n")
    env = dict(os.environ, FLEET_JENKINS_USER=USER, FLEET_JENKINS_TOKEN=TOKEN, PYTHONPATH=pythonpath)
    rows = []
    for label, extra in SCENARIOS:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "generator", "-q", "push", "--targets", "targets.yaml",
                               "--jobs", str(jobs), "--report", "report.json", *extra],
                              cwd=tmp, env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        with open(os.path.join(tmp, "report.json")) as fh:
            report = json.load(fh)
        per = sorted(c["requests"] for c in report["controllers"])
        rows.append({"label": label, "exit": proc.returncode, "wall": elapsed, "counts": report["counts"],
                     "requests": (per[0], per[-1]), "fleet": report["durationSeconds"],
                     "slowest": max(c["durationSeconds"] for c in report["controllers"])})
    return rows


# --- the floor: the same requests from a plain client -----------------------------------------

def _sequence(requests: int, apply: bool) -> list[tuple[str, str]]:
    """The push's request sequence for one controller, from its request count: with the crumb (7 and 5
    requests, before the push skipped it for API tokens) or without (6 and 4)."""
    reads = [("GET", "me/api/json"), ("GET", "pluginManager/api/json?depth=2")]
    crumb = [("GET", "crumbIssuer/api/json")] if requests in (5, 7) else []
    seq = reads + crumb + [("POST", "configuration-as-code/check"), ("POST", "configuration-as-code/export")]
    if apply:
        seq += [("POST", "configuration-as-code/configure"), ("POST", "configuration-as-code/export")]
    if len(seq) != requests:
        raise SystemExit(f"the floor knows no sequence of {requests} requests (apply={apply})")
    return seq


def _floor_one(port: int, prefix: str, yaml_body: bytes, seq: list[tuple[str, str]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    auth = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    headers = {"Authorization": auth}
    try:
        for method, path in seq:
            body = yaml_body if path.endswith(("check", "configure")) else None
            extra = {"Content-Type": "application/x-yaml; charset=utf-8"} if body else {}
            conn.request(method, f"{prefix}/{path}", body=body, headers={**headers, **extra})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise SystemExit(f"floor: {method} {prefix}/{path} answered {resp.status}")
            if path.startswith("crumbIssuer"):
                cookie = resp.getheader("Set-Cookie", "").split(";")[0]
                crumb = json.loads(data)
                headers = {**headers, "Cookie": cookie, crumb["crumbRequestField"]: crumb["crumb"]}
    finally:
        conn.close()


def floor(doubles: Doubles, instances: dict, jobs: int, requests: tuple[int, int]) -> list[float]:
    """Seconds for the first push's requests, then the unchanged push's, to every controller."""
    out = []
    for apply, count in ((True, requests[0]), (False, requests[1])):
        seq = _sequence(count, apply)
        started = time.monotonic()
        with ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(_floor_one, doubles.port, urlsplit(mdl["deployment"]["url"]).path,
                                   text.encode(), seq) for text, mdl in instances.values()]
            for f in futures:
                f.result()
        out.append(time.monotonic() - started)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--controllers", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--before", metavar="REV", help="also push with the generator of this git revision")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="push-bench-")
    try:
        subprocess.run([sys.executable, "-m", "generator", "--instances", os.path.join(ROOT, "instances"),
                        "generate", "technology.cbi", "--out", os.path.join(tmp, "seed"), "--jobs", "1"],
                       check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=ROOT))
        seed = os.path.join(tmp, "seed", "technology.cbi")
        with open(os.path.join(seed, "jenkins", "jenkins.yaml")) as fh:
            jcasc = fh.read()
        with open(os.path.join(seed, "model.json")) as fh:
            model = json.load(fh)
        sys.path.insert(0, os.path.join(ROOT, "tests", "push"))
        from push_helpers import write_build
        instances = {}
        for i in range(args.controllers):
            m = json.loads(json.dumps(model))
            m["deployment"].update(prefix=f"/p{i:04d}", url=f"https://ci.example.org/p{i:04d}")
            instances[f"bench.p{i:04d}"] = (jcasc.replace("/cbi", f"/p{i:04d}"), m)
        write_build(os.path.join(tmp, "build"), instances)
        variants = {"after": ROOT}
        if args.before:
            base = os.path.join(tmp, "before")
            os.makedirs(base)
            archive = subprocess.run(["git", "-C", ROOT, "archive", args.before, "generator", "tests/jenkins_double"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
            variants = {"before": base, **variants}
        plugins = model["jenkins"]["plugins"]
        results: dict[str, list[list[dict]]] = {v: [] for v in variants}
        floors: list[list[float]] = []
        for _ in range(args.repeat):
            for name, path in variants.items():
                doubles = Doubles(args.controllers, plugins, path)  # that revision's doubles too
                try:
                    results[name].append(fleet_pushes(tmp, doubles, args.jobs, path))
                finally:
                    doubles.close()
            last = results["after"][-1]
            doubles = Doubles(args.controllers, plugins)
            try:
                floors.append(floor(doubles, instances, args.jobs, (last[0]["requests"][1], last[1]["requests"][1])))
            finally:
                doubles.close()
        print(f"{args.controllers} controllers, --jobs {args.jobs}, {args.repeat} run(s), medians; "
              f"load average {os.getloadavg()[0]:.2f}")
        floor_of = {0: [f[0] for f in floors], 1: [f[1] for f in floors], 2: [f[1] for f in floors]}
        for i, (label, _) in enumerate(SCENARIOS):
            fl = statistics.median(floor_of[i])
            for name in variants:
                rows = [r[i] for r in results[name]]
                wall = statistics.median(r["wall"] for r in rows)
                slowest = statistics.median(r["slowest"] for r in rows)
                inside = statistics.median(r["fleet"] for r in rows)
                lo, hi = rows[-1]["requests"]
                runs = " ".join(f"{r['wall']:.2f}" for r in rows)
                print(f"{label:26} {name:6} exit {','.join(str(r['exit']) for r in rows)}  {wall:6.2f}s wall "
                      f"(runs {runs})  {rows[-1]['counts']}  "
                      f"requests/controller {lo}-{hi}  slowest controller {slowest:.2f}s  pushing {inside:.2f}s  "
                      f"floor {fl:.2f}s -> x{wall / fl:.1f}")
        print("floor (plain http.client, same requests as 'after'): first "
              + " ".join(f"{f[0]:.2f}" for f in floors) + "s, unchanged " + " ".join(f"{f[1]:.2f}" for f in floors)
              + "s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
