"""The resource types the double serves: what the API server's discovery says about each.

Built-in kinds as kube-apiserver lists them (the recorded discovery documents of
kubernetes/kubernetes api/discovery/, copied in part to tests/fixtures/kube-api/ and compared in
test_fidelity.py); Route and ServiceMonitor as their CustomResourceDefinitions declare them
(schemas/openshift/routes.route.openshift.io.crd.yaml; prometheus-operator
example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml, v0.93.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    crd: bool = False
    # metadata.generation is kept (and bumped on spec changes) by the registry of these kinds
    generation: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES = (
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",),
             ("create", "delete", "get", "list", "patch", "update", "watch"), subresources=("finalize", "status")),
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), subresources=("status",)),
    Resource("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Service", "services", True, ("svc",), categories=("all",), subresources=("status",)),
    Resource("", "v1", "Pod", "pods", True, ("po",), categories=("all",), subresources=("status",)),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), categories=("all",),
             subresources=("scale", "status"), generation=True),
    Resource("route.openshift.io", "v1", "Route", "routes", True, subresources=("status",), crd=True,
             generation=True),
    Resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True, ("smon",),
             categories=("prometheus-operator",), crd=True, generation=True),
)


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return next((r for r in RESOURCES if (r.group, r.version, r.plural) == (group, version, plural)), None)


def by_kind(api_version: str, kind: str) -> Resource | None:
    return next((r for r in RESOURCES if (r.group_version, r.kind) == (api_version, kind)), None)


def groups(resources=RESOURCES) -> dict[str, list[Resource]]:
    """Resources by API group ("" is the core group), groups in a stable order."""
    out: dict[str, list[Resource]] = {}
    for r in resources:
        out.setdefault(r.group, []).append(r)
    return out


def _aggregated_resource(r: Resource) -> dict:
    entry = {"resource": r.plural, "responseKind": {"group": "", "kind": r.kind, "version": ""},
             "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
             "verbs": list(r.verbs)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {"responseKind": ({"group": "autoscaling", "kind": "Scale", "version": "v1"} if s == "scale"
                              else {"group": "", "kind": r.kind, "version": ""}),
             "subresource": s, "verbs": ["update"] if s == "finalize" else ["get", "patch", "update"]}
            for s in r.subresources]
    return entry


def aggregated(core: bool, resources=RESOURCES) -> dict:
    """The APIGroupDiscoveryList of /api (core) or /apis (every other group), apidiscovery.k8s.io/v2."""
    items = []
    for group, members in groups(resources).items():
        if (group == "") != core:
            continue
        versions: dict[str, list[Resource]] = {}
        for r in members:
            versions.setdefault(r.version, []).append(r)
        items.append({"metadata": {"creationTimestamp": None, **({"name": group} if group else {})},
                      "versions": [{"freshness": "Current", "version": v,
                                    "resources": [_aggregated_resource(r) for r in sorted(rs, key=lambda r: r.plural)]}
                                   for v, rs in versions.items()]})
    return {"apiVersion": "apidiscovery.k8s.io/v2", "kind": "APIGroupDiscoveryList", "metadata": {}, "items": items}


def legacy_resource_list(group_version: str, resources=RESOURCES) -> dict | None:
    """The APIResourceList of /api/v1 or /apis/<group>/<version> (the form before aggregated discovery)."""
    members = [r for r in resources if r.group_version == group_version]
    if not members:
        return None
    out = []
    for r in sorted(members, key=lambda r: r.plural):
        entry = {"kind": r.kind, "name": r.plural, "namespaced": r.namespaced, "singularName": r.singular,
                 "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for s in r.subresources:
            sub = {"kind": "Scale" if s == "scale" else r.kind, "name": f"{r.plural}/{s}",
                   "namespaced": r.namespaced, "singularName": "",
                   "verbs": ["update"] if s == "finalize" else ["get", "patch", "update"]}
            if s == "scale":
                sub.update(group="autoscaling", version="v1")
            out.append(sub)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


def legacy_groups(resources=RESOURCES) -> dict:
    items = []
    for group, members in groups(resources).items():
        if group:
            gv = {"groupVersion": members[0].group_version, "version": members[0].version}
            items.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


# Lists merged by key under server-side apply (x-kubernetes-list-type: map and its keys in the
# Kubernetes OpenAPI: io.k8s.api.core.v1.PodSpec.containers/volumes, Container.env/ports/volumeMounts,
# ServiceSpec.ports). Every other list is atomic: owned, replaced and compared as a whole.
LIST_MAP_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "ports": None,  # container ports: containerPort+protocol; Service ports: port+protocol
}


def list_keys(path: tuple, name: str, items: list) -> tuple[str, ...] | None:
    if name == "ports":
        if path[:1] == ("spec",) and len(path) == 2:  # Service.spec.ports
            return ("port", "protocol")
        if "containers" in path or "initContainers" in path:
            return ("containerPort", "protocol")
        return None
    return LIST_MAP_KEYS.get(name)


# The PATCH parameters kube-apiserver documents for every resource (api/openapi-spec/v3 of
# kubernetes/kubernetes): kubectl reads fieldValidation here to decide that the server validates.
PATCH_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force")


def openapi_root(resources=RESOURCES) -> dict:
    """GET /openapi/v3: one entry per group-version, with the URL of its document."""
    paths = {}
    for r in resources:
        prefix = "api" if not r.group else "apis"
        gv = f"{prefix}/{r.group_version}"
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={abs(hash(gv)) % 10**12:012d}"}
    return {"paths": paths}


def openapi_document(gv_path: str, resources=RESOURCES) -> dict | None:
    """The OpenAPI v3 document of one group-version, reduced to the PATCH operation of each resource."""
    members = [r for r in resources if f"{'api' if not r.group else 'apis'}/{r.group_version}" == gv_path]
    if not members:
        return None
    paths = {}
    for r in members:
        base = f"/{gv_path}/" + ("namespaces/{namespace}/" if r.namespaced else "") + f"{r.plural}/{{name}}"
        paths[base] = {"patch": {
            "operationId": f"patch{r.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
            "parameters": [{"name": n, "in": "query", "schema": {"type": "boolean" if n == "force" else "string"},
                            "uniqueItems": True} for n in PATCH_PARAMETERS]}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.4"}, "paths": paths,
            "components": {"schemas": {}}}
