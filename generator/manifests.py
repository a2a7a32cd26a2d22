"""Offline validation of generated objects: Kubernetes schemas (kubernetes-validate,
strict), the OpenShift Route CRD and the Prometheus Operator ServiceMonitor CRD.
(The JCasC is checked against a model of the plugins: generator/jcasc/.)"""

from __future__ import annotations

import os
import re
from functools import cache, lru_cache

import jsonschema_rs

from . import yamlout
from .errors import Diagnostic

ROUTE_CRD = os.path.join("openshift", "routes.route.openshift.io.crd.yaml")
SERVICE_MONITOR_CRD = os.path.join("prometheus-operator", "servicemonitors.monitoring.coreos.com.crd.yaml")


def _api_file(api_version: str) -> str:
    # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (kubernetes-validate's naming)
    return re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)


@cache
def _k8s_validator(version: str, kind: str, api_version: str):
    """kubernetes-validate's schemas, compiled once per (Kubernetes version, kind) with jsonschema-rs.

    kubernetes_validate.validate() re-reads and recompiles its schemas on every
    call (9 ms for a StatefulSet); this keeps its data and drops that cost.
    """
    import kubernetes_validate

    kv = _kv()
    if version not in _supported():
        raise ValueError(f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas "
                         f"for Kubernetes {version}")
    wanted = [v for v in kv.all_versions() if kv.major_minor(v) == version][-1]
    schema_dir = f"kubernetes-json-schema/v{wanted}-local-strict"
    schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{_api_file(api_version)}.json", version)
    definitions = _k8s_definitions(schema_dir, version)
    return jsonschema_rs.Draft202012Validator(schema, retriever=lambda uri: definitions)


@cache
def _k8s_definitions(schema_dir: str, version: str) -> dict:
    # 1 MB of JSON shared by every kind: parsed once, not once per kind
    return _kv().schema_contents(f"{schema_dir}/_definitions.json", version)


@cache
def _supported() -> frozenset[str]:
    kv = _kv()
    return frozenset(kv.major_minor(v) for v in kv.all_versions())


def _kv():
    # Imported when a Kubernetes object is first validated: it brings the Python jsonschema
    # package with it (45 ms), which a run that renders nothing does not need.
    from kubernetes_validate import utils
    return utils


def supported_versions() -> list[str]:
    return sorted(_supported(), key=lambda v: tuple(int(x) for x in v.split(".")))


@lru_cache(maxsize=4)
def _route_validator(schemas_dir: str):
    with open(os.path.join(schemas_dir, ROUTE_CRD), encoding="utf-8") as fh:
        crd = yamlout.safe_load(fh)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return jsonschema_rs.Draft202012Validator(_structural(version["schema"]["openAPIV3Schema"]))


@lru_cache(maxsize=4)
def _service_monitor_validator(schemas_dir: str):
    with open(os.path.join(schemas_dir, SERVICE_MONITOR_CRD), encoding="utf-8") as fh:
        crd = yamlout.safe_load(fh)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return jsonschema_rs.Draft202012Validator(_closed(_structural(version["schema"]["openAPIV3Schema"])))


def _closed(node):
    """Strict like kubernetes-validate's -strict schemas: objects with listed properties take no others."""
    if isinstance(node, list):
        return [_closed(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _structural(node):
    """OpenAPI v3 structural schema -> JSON Schema: int-or-string becomes anyOf, empty combinators go."""
    if isinstance(node, list):
        return [_structural(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural(v) for k, v in node.items()
           if not (k in ("anyOf", "allOf", "oneOf") and v is None)}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "type" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def validate_object(obj: dict, file: str, kubernetes_version: str, schemas_dir: str) -> list[Diagnostic]:
    """Diagnostics for one generated object, named by its output file and key path."""
    kind, api = obj.get("kind", "?"), obj.get("apiVersion", "?")
    if kind == "Route" and api == "route.openshift.io/v1":
        validator = _route_validator(schemas_dir)
        origin = "the OpenShift Route CRD schema"
    elif kind == "ServiceMonitor" and api == "monitoring.coreos.com/v1":
        validator = _service_monitor_validator(schemas_dir)
        origin = f"the ServiceMonitor CRD schema in schemas/{SERVICE_MONITOR_CRD}"
    else:
        try:
            validator = _k8s_validator(kubernetes_version, kind, api)
        except FileNotFoundError:
            return [Diagnostic(file, 0, 0, "", f"no Kubernetes {kubernetes_version} schema for {api} {kind}")]
        origin = f"Kubernetes {kubernetes_version} schemas (strict)"
    return _errors(validator, obj, file, f"while validating {kind} '{obj.get('metadata', {}).get('name')}' "
                                         f"against {origin}")


def _errors(validator, data, file: str, context: str) -> list[Diagnostic]:
    if validator.is_valid(data):
        return []
    return [Diagnostic(file, 0, 0, ".".join(str(p) for p in error.instance_path), error.message,
                       hint="generated files come from templates/: this is a template bug, please report it",
                       context=(context,))
            for error in validator.iter_errors(data)]
