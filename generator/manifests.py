"""Offline validation of generated objects: Kubernetes schemas (kubernetes-validate,
strict), the OpenShift Route CRD and the Prometheus Operator ServiceMonitor CRD.
(The JCasC is checked against a model of the plugins: generator/jcasc/.)"""

from __future__ import annotations

import importlib.util
import json
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
    """kubernetes-validate's strict schemas, compiled once per (Kubernetes version, kind) with jsonschema-rs.

    kubernetes_validate.validate() re-reads and recompiles its schemas on every call (9 ms for a
    StatefulSet). Its schema files are read here directly (as its utils.schema_contents does):
    importing it brings the Python jsonschema package (50 ms a run), and the 1 MB of shared
    definitions is registered once rather than handed to each validator (35 ms -> 16 ms for the
    nine kinds of an instance, measured with time.perf_counter around their compilation).
    """
    directory = _schema_dir(version)
    # FileNotFoundError: a kind it has no schema for (validate_object says so)
    with open(os.path.join(directory, f"{kind.lower()}-{_api_file(api_version)}.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    return jsonschema_rs.Draft202012Validator(schema, registry=_k8s_definitions(directory))


@cache
def _k8s_definitions(directory: str):
    # 1 MB of JSON shared by every kind, referenced from each as _definitions.json#/definitions/...
    with open(os.path.join(directory, DEFINITIONS), encoding="utf-8") as fh:
        return jsonschema_rs.Registry([(DEFINITIONS, json.load(fh))])


DEFINITIONS = "_definitions.json"


@cache
def _schema_dir(version: str) -> str:
    """kubernetes-validate's strict schemas for the newest release of a Kubernetes minor version."""
    found = _schema_dirs().get(version)
    if found is None:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return max(found, key=lambda item: item[0])[1]


@cache
def _schema_dirs() -> dict[str, list[tuple[tuple[int, ...], str]]]:
    """minor version -> [(release as numbers, its kubernetes-json-schema/v<release>-local-strict)]: the
    directories kubernetes-validate's utils.all_versions lists, found without importing it."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("kubernetes-validate is not installed")
    found: dict[str, list] = {}
    for location in spec.submodule_search_locations:
        root = os.path.join(location, "kubernetes-json-schema")
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            match = _SCHEMA_DIR.fullmatch(name)
            if match:
                release = tuple(int(x) for x in match.group(1).split("."))
                found.setdefault(".".join(map(str, release[:2])), []).append((release, os.path.join(root, name)))
    return found


_SCHEMA_DIR = re.compile(r"v(\d+\.\d+(?:\.\d+)*)-local-strict")


@cache
def _supported() -> frozenset[str]:
    """The Kubernetes minor versions kubernetes-validate has strict schemas for; every `fleet validate`
    asks this, and most runs render nothing (tests/unit/test_manifests.py holds it to what
    kubernetes-validate answers)."""
    return frozenset(_schema_dirs())


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
