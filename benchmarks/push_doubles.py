"""Push to N controllers (Jenkins doubles) with `fleet push`: wall time and HTTP requests per controller.

    .venv/bin/python benchmarks/push_doubles.py [--controllers 200] [--jobs 16]

The doubles run in a child process (one threaded server, one prefix per
controller), the push is the real CLI in another: neither steals the other's
GIL.  Every controller gets the generated JCasC of technology.cbi (LDAP realm,
matrix, a Kubernetes cloud), renamed.  Three pushes: the first applies, the
second finds nothing to change, the third is a --dry-run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--controllers", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=16)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="push-bench-")
    try:
        subprocess.run([sys.executable, "-m", "generator", "--instances", os.path.join(ROOT, "instances"),
                        "generate", "technology.cbi", "--out", os.path.join(tmp, "seed"), "--jobs", "1"],
                       check=True, capture_output=True)
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
        server = subprocess.Popen([sys.executable, "-c", SERVE, os.path.join(ROOT, "tests"), str(args.controllers),
                                   json.dumps(model["jenkins"]["plugins"])], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        port = int(server.stdout.readline())
        with open(os.path.join(tmp, "targets.yaml"), "w") as fh:
            fh.write(f"clusters:\n  okd-c1: {{url: 'http://127.0.0.1:{port}{{prefix}}'}}\n")
        env = dict(os.environ, FLEET_JENKINS_USER="admin", FLEET_JENKINS_TOKEN="11a0c2e5f6d7b8a9c0d1e2f3a4b5c6d7e8")
        try:
            for label, extra in (("first push (apply)", []), ("second push (unchanged)", []),
                                 ("dry run (unchanged)", ["--dry-run"])):
                started = time.monotonic()
                proc = subprocess.run([sys.executable, "-m", "generator", "-q", "push", "--targets", "targets.yaml",
                                       "--jobs", str(args.jobs), "--report", "report.json", *extra],
                                      cwd=tmp, env=env, capture_output=True, text=True, check=False)
                elapsed = time.monotonic() - started
                with open(os.path.join(tmp, "report.json")) as fh:
                    report = json.load(fh)
                per = sorted(c["requests"] for c in report["controllers"])
                slowest = max(c["durationSeconds"] for c in report["controllers"])
                print(f"{label:26} exit {proc.returncode}  {elapsed:6.2f}s wall  {report['counts']}  "
                      f"requests/controller min {per[0]} max {per[-1]}  slowest controller {slowest:.2f}s")
        finally:
            server.stdin.close()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
