"""Deploy N instances over two clusters (API-server doubles) with `fleet deploy` and the real kubectl.

    .venv/bin/python benchmarks/deploy_doubles.py [--instances 200] [--jobs 8] [--wave-size 50]

A synthetic fleet (benchmarks/synthetic.py: ee4j.* on okd-c2, the rest on okd-c1) is generated,
two doubles serve the clusters from a child process (their threads do not share our GIL), and
the real CLI deploys: first everything changes (dry run, apply, rollout of each StatefulSet,
ready 0.2 s after its apply), then nothing does (one `kubectl get` per cluster). Wall times and
kubectl calls are printed; the no-op target is 5 s for 200 instances.
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
KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable))
SERVE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from kube_double import KubeDouble, KubeServer, make_certificate, write_kubeconfig
cert = make_certificate(sys.argv[2])
servers = {c: KubeServer(KubeDouble(token=c + "-token"), certificate=cert).start() for c in ("okd-c1", "okd-c2")}
write_kubeconfig(sys.argv[3], {c: (s.url, c + "-token") for c, s in servers.items()}, cert[0])
print("ready", flush=True)
sys.stdin.read()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--wave-size", type=int, default=50)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import synthetic

    work = tempfile.mkdtemp(prefix="fleet-deploy-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "KUBE"))}
    env.update(PYTHONPATH=ROOT, NO_COLOR="1", KUBECONFIG=os.path.join(work, "kubeconfig"),
               KUBECACHEDIR=os.path.join(work, "kubecache"), FLEET_KUBECTL=KUBECTL)
    server = None
    try:
        synthetic.make(os.path.join(work, "instances"), args.instances)
        subprocess.run([sys.executable, "-m", "generator", "generate", "--jobs", "2"], cwd=work, env=env, check=True,
                       capture_output=True)
        server = subprocess.Popen([sys.executable, "-c", SERVE, os.path.join(ROOT, "tests"), work, env["KUBECONFIG"]],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "ready"
        for label, extra in (("all changed", []), ("nothing changed", [])):
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "generator", "-q", "deploy", "--jobs", str(args.jobs),
                                   "--wave-size", str(args.wave_size), "--report", "report.json", *extra],
                                  cwd=work, env=env, capture_output=True, text=True, check=False)
            seconds = time.monotonic() - started
            if proc.returncode != 0:
                sys.exit(f"{label}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
            with open(os.path.join(work, "report.json")) as fh:
                report = json.load(fh)
            calls = sum(i["kubectlCalls"] for i in report["instances"])
            counts = ", ".join(f"{n} {r}" for r, n in report["counts"].items() if n)
            print(f"{label:16s} {args.instances} instances, 2 clusters: {seconds:6.2f} s wall  "
                  f"({counts}; {report['waves']} waves; {calls} kubectl calls for the instances, "
                  f"+1 get per cluster)")
    finally:
        if server:
            server.stdin.close()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
