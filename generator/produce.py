"""Turn one resolved model into the bytes of its output files (render -> validate -> serialise)."""

from __future__ import annotations

import hashlib

import yaml

from . import jcasc as jcasc_model
from . import yamlout
from .catalog import DOWNLOAD_ROOT
from .errors import WARNING, Diagnostic
from .manifests import validate_object
from .output import dump_json, dump_yaml
from .render import Renderer
from .sources import Document

# Order of resources in kustomization.yaml: what must exist first comes first.
# servicemonitor.yaml exists only for instances monitored through a ServiceMonitor.
OBJECT_ORDER = [
    "namespace.yaml", "resourcequota.yaml", "limitrange.yaml", "serviceaccount.yaml",
    "serviceaccount-jenkins-agent.yaml", "role.yaml",
    "rolebinding.yaml", "configmap-jenkins-config.yaml", "service-jenkins-ui.yaml",
    "service-jenkins-discovery.yaml", "route.yaml", "statefulset.yaml", "servicemonitor.yaml",
]
OPTIONAL_OBJECTS = {"servicemonitor.yaml"}
CONTROLLER_CONTAINER = "jenkins"  # templates/k8s/controller.libsonnet
IMAGE_HASH_LENGTH = 12  # hex digits of sha256: a collision needs ~16 million images of one name


def deep_merge(base, override):
    """Maps merge key by key; lists and scalars from the override replace.

    The rule of the model's layers too (templates/model/util.libsonnet `merge`), written twice on
    purpose: this one merges a hand-written JCasC into the rendered one, after Jinja, and must keep
    the order of keys (Jsonnet sorts them), integers beyond 2^53 and YAML's types (Jsonnet has only
    doubles and JSON); the model's merge runs inside the Jsonnet evaluation, which cannot call
    Python with a map (gojsonnet's native callbacks take scalars only). A property test holds the
    two to the same results (tests/properties/test_merge_properties.py)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def installed_plugins(model: dict) -> dict[str, str | None]:
    """{id: version} of what the controller's image installs: the pinned closure when the Jenkins
    version has a catalog, else the requested plugins only (the image resolves the rest)."""
    jenkins = model["jenkins"]
    if jenkins.get("installedPlugins") is not None:
        return dict(jenkins["installedPlugins"])
    out: dict[str, str | None] = {}
    for spec in jenkins.get("plugins", ()):
        pid, _, version = spec.partition(":")
        out[pid] = version or None
    return out


def check_jcasc(name: str, data, model: dict, override: Document | None, out_file: str,
                text: str | None) -> list[Diagnostic]:
    """The merged JCasC against the model of the controller's Jenkins and plugin versions."""
    core = model["jenkins"]["version"]
    selection = jcasc_model.select(core, installed_plugins(model),
                                   closure_known=model["jenkins"].get("installedPlugins") is not None)
    context = jcasc_model.context(name, core)
    findings = jcasc_model.check(data, selection)
    diags = jcasc_model.diagnostics(findings, out_file, text, override, context)
    for pid, wanted, used in selection.substituted:
        diags.append(Diagnostic(out_file, 0, 0, "", f"the JCasC model has plugin {pid} {used}, not {wanted}: "
                                f"its attributes were checked against {used}", severity=WARNING,
                                hint="add the pinned version to schemas/jcasc-model/sources.json and run "
                                     "'make jcasc-model' (docs/jcasc-model.md)", context=context))
    return diags


# Kubernetes refuses a ConfigMap whose data and binaryData values add up to more than this many
# bytes: ValidateConfigMap, `totalSize > core.MaxSecretSize` with MaxSecretSize = 1 * 1024 * 1024
# (kubernetes/kubernetes pkg/apis/core/validation/validation.go and pkg/apis/core/types.go,
# commit 000f26050b9b). Keys and metadata are not counted.
CONFIGMAP_MAX_BYTES = 1024 * 1024


def configmap_size(name: str, cm: dict, override: Document | None) -> list[Diagnostic]:
    size = sum(len(v.encode()) for part in ("data", "binaryData") for v in (cm.get(part) or {}).values())
    if size <= CONFIGMAP_MAX_BYTES:
        return []
    return [Diagnostic(override.path if override is not None else f"{name}/k8s/configmap-jenkins-config.yaml",
                       0, 0, "", f"the JCasC ConfigMap would hold {size:,} bytes of data; Kubernetes refuses "
                       f"more than {CONFIGMAP_MAX_BYTES:,} (1 MiB)",
                       hint=("shorten this hand-written JCasC: it is merged into the generated one, which must fit "
                             "in one ConfigMap" if override is not None else
                             "the generated JCasC is too large; list fewer plugins, permissions or agents"))]


def header(source: str) -> str:
    return f"# Generated by jenkins-fleet from {source}. Do not edit: change the instance file and regenerate.\n"


class Producer:
    def __init__(self, renderer: Renderer, kubernetes_version: str, schemas_dir: str):
        self.renderer = renderer
        self.kubernetes_version = kubernetes_version
        self.schemas_dir = schemas_dir

    def jcasc(self, name: str, model: dict, override: Document | None) -> tuple[str, list[Diagnostic]]:
        out_file = f"{name}/jenkins/jenkins.yaml"
        text = self.renderer.render("jcasc/jenkins.yaml.j2", m=model)
        try:
            data = yamlout.safe_load(text)
        except yaml.YAMLError as exc:  # a template bug: say where, in the rendered text
            return "", [Diagnostic(out_file, 0, 0, "", f"rendered JCasC is not valid YAML: {exc}",
                                   hint="this is a template bug; please report it")]
        source = f"{name}/instance.yaml"
        if override is not None:  # checked by checks._rule_override before modelling
            if isinstance(override.data, dict):
                data = deep_merge(data, override.data)
            source += f" and {name}/jenkins.yaml"
        text = header(source) + dump_yaml(data, sort_keys=False)
        return text, check_jcasc(name, data, model, override, out_file, text)

    def image_files(self, name: str, model: dict) -> dict[str, bytes]:
        """image/: the Dockerfile, plugins.txt (the pinned closure), plugins.sha256 and IMAGE.

        The tag is the Jenkins version and a hash of what the image is built from, so that
        any change to the plugin set (or to the Dockerfile) is a new tag: a pod can never keep
        running an older image under an unchanged name (see docs/plugins.md).
        """
        j = model["jenkins"]
        files = {
            "Dockerfile": self.renderer.render("image/Dockerfile.j2", m=model, download_root=DOWNLOAD_ROOT).encode(),
            "plugins.txt": self.renderer.render("image/plugins.txt.j2", m=model).encode(),
        }
        if j.get("pluginChecksums"):
            files["plugins.sha256"] = self.renderer.render("image/plugins.sha256.j2", m=model).encode()
        if j.get("imageName"):
            h = hashlib.sha256()
            for file, data in sorted(files.items()):
                h.update(file.encode() + b"\0" + data + b"\0")
            j["image"] = f"{j['imageName']}:{j['version']}-{h.hexdigest()[:IMAGE_HASH_LENGTH]}"
        files["IMAGE"] = (j["image"] + "\n").encode()
        return {f"{name}/image/{file}": data for file, data in files.items()}

    def files(self, name: str, model: dict, objects: dict,
              override: Document | None) -> tuple[dict[str, bytes], list[Diagnostic]]:
        image = self.image_files(name, model)  # first: it settles model.jenkins.image
        jcasc, diags = self.jcasc(name, model, override)
        objects = dict(objects)
        cm = objects["configmap-jenkins-config.yaml"]
        objects["configmap-jenkins-config.yaml"] = {**cm, "data": {"jenkins.yaml": jcasc}}
        objects["statefulset.yaml"] = with_image(objects["statefulset.yaml"], model["jenkins"]["image"])
        diags.extend(configmap_size(name, objects["configmap-jenkins-config.yaml"], override))
        out: dict[str, bytes] = {f"{name}/jenkins/jenkins.yaml": jcasc.encode()}
        source = header(f"{name}/instance.yaml")
        present = [f for f in OBJECT_ORDER if f not in OPTIONAL_OBJECTS or f in objects]
        for file in present:
            obj = objects[file]
            rel = f"{name}/k8s/{file}"
            diags.extend(validate_object(obj, rel, self.kubernetes_version, self.schemas_dir))
            out[rel] = (source + dump_yaml(obj, sort_keys=True)).encode()
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": present,
        }
        out[f"{name}/k8s/kustomization.yaml"] = (source + dump_yaml(kustomization, sort_keys=False)).encode()
        out.update(image)
        out[f"{name}/model.json"] = dump_json(model).encode()
        return out, diags


def with_image(statefulset: dict, image: str) -> dict:
    """The StatefulSet with the controller container's image set to our content-tagged image."""
    spec = statefulset["spec"]["template"]["spec"]
    containers = [{**c, "image": image} if c.get("name") == CONTROLLER_CONTAINER else c for c in spec["containers"]]
    return {**statefulset, "spec": {**statefulset["spec"], "template": {
        **statefulset["spec"]["template"], "spec": {**spec, "containers": containers}}}}
