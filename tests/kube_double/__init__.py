"""A Kubernetes API-server test double for kubectl 1.37 (see docs/deploy.md, "Testing").

    with KubeServer(KubeDouble(token="t")) as server:
        write_kubeconfig(path, {"okd-c1": (server.url, "t")})

Discovery (aggregated v2, or the legacy form), the kinds jenkins-fleet generates (Route and
ServiceMonitor as CRDs), server-side apply with field managers and conflicts, dry runs, deletes,
watches, and a StatefulSet controller whose pods become ready after a delay, never, or crash.
Checked against recorded kube-apiserver answers in test_fidelity.py.
"""

from .apiserver import KubeDouble, status_body
from .server import KubeServer, make_certificate, write_kubeconfig

__all__ = ["KubeDouble", "KubeServer", "make_certificate", "status_body", "write_kubeconfig"]
