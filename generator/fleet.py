"""The pipeline over a whole fleet: load -> validate -> model -> render -> (write)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from . import __version__, checks, fleetdir, manifests
from .errors import Diagnostic, FleetError, sort_diagnostics
from .fleetdir import FleetSources
from .model import ModelEngine, ModelInput
from .output import dump_json, sha256
from .produce import Producer
from .render import Renderer
from .schema import Schemas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_KUBERNETES_VERSION = "1.30"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Paths:
    instances: str
    templates: str = os.path.join(ROOT, "templates")
    schemas: str = os.path.join(ROOT, "schemas")


@dataclass
class Checked:
    """Sources that passed every pre-model check, ready for the Jsonnet step."""

    sources: FleetSources
    inputs: list[ModelInput]
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class Generated:
    names: list[str]
    models: dict[str, dict]
    files: dict[str, bytes]  # relative path -> bytes, for the selected instances
    index: dict
    warnings: list[Diagnostic]


def check_sources(paths: Paths, names=(), schemas: Schemas | None = None) -> Checked:
    """Load and validate the fleet file and the selected instances; raise with every error."""
    schemas = schemas or Schemas(paths.schemas)
    sources = fleetdir.read(paths.instances, names)
    diags = _schema_diagnostics(sources.fleet, schemas.fleet, "while validating the fleet settings")
    if not diags:
        diags = checks.check_fleet(sources)
        version = sources.fleet.data.get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION)
        supported = manifests.supported_versions()
        if version not in supported and ".".join(version.split(".")[:2]) not in supported:
            diags.append(sources.fleet.diagnostic(("kubernetesVersion",), f"no Kubernetes schemas for version {version}",
                                                  hint=f"supported: {supported[0]} to {supported[-1]}"))
    if any(d.is_error for d in diags):
        raise FleetError(diags)  # instance checks need a sound fleet file
    inputs = []
    for name, src in sorted(sources.instances.items()):
        own = _schema_diagnostics(src.doc, schemas.instance, f"while validating instance '{name}'")
        # Semantic rules run even on schema-invalid files, so one run reports everything.
        own += checks.check_instance(src, sources)
        diags.extend(own)
        if not any(d.is_error for d in own):
            inputs.append(ModelInput(name, src.doc.data, fleetdir.matching_profiles(sources.fleet.data, name)))
    return Checked(sources, inputs, diags)


def _schema_diagnostics(doc, validator, context) -> list[Diagnostic]:
    from .schema import validate_document
    return validate_document(doc, validator, context)


def kubernetes_version(fleet: dict) -> str:
    version = fleet.get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION)
    return ".".join(version.split(".")[:2])


# --- the per-process worker -------------------------------------------------------------------

class Worker:
    """Everything expensive to build (Jsonnet engine, Jinja environment, validators), built once per process."""

    def __init__(self, paths: Paths, kube_version: str):
        self.engine = ModelEngine(paths.templates)
        schemas = Schemas(paths.schemas)
        self.producer = Producer(Renderer(paths.templates), schemas.jcasc, kube_version, paths.schemas)

    def run(self, fleet: dict, inputs: list[ModelInput], overrides: dict[str, object]):
        evaluated = self.engine.evaluate(fleet, inputs)
        models, files, diags = {}, {}, []
        for inp in inputs:
            result = evaluated[inp.name]
            models[inp.name] = result["model"]
            out, d = self.producer.files(inp.name, result["model"], result["objects"], overrides.get(inp.name))
            files.update(out)
            diags.extend(d)
        return models, files, diags


_PROCESS_WORKER: Worker | None = None  # set only inside pool processes, by _init_worker


def _init_worker(paths: Paths, kube_version: str) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = Worker(paths, kube_version)


def _run_chunk(fleet, inputs, overrides):
    return _PROCESS_WORKER.run(fleet, inputs, overrides)


def _chunks(items: list, jobs: int) -> list[list]:
    # Several chunks per worker keep both cores busy to the end; each chunk is one Jsonnet run.
    size = max(1, min(64, -(-len(items) // (jobs * 4))))
    return [items[i:i + size] for i in range(0, len(items), size)]


def generate(paths: Paths, names=(), jobs: int = 1, progress: Progress | None = None) -> Generated:
    """Model and render the selected instances; raise FleetError with every error found."""
    checked = check_sources(paths, names)
    sources = checked.sources
    fleet = sources.fleet.data
    kube = kubernetes_version(fleet)
    overrides = {n: s.override for n, s in sources.instances.items() if s.override is not None}
    models: dict[str, dict] = {}
    files: dict[str, bytes] = {}
    diags = list(checked.diagnostics)
    inputs = checked.inputs
    if inputs:
        if jobs <= 1 or len(inputs) == 1:
            worker = Worker(paths, kube)
            for chunk in _chunks(inputs, 1):
                m, f, d = worker.run(fleet, chunk, {n: overrides[n] for n in (i.name for i in chunk) if n in overrides})
                models.update(m), files.update(f), diags.extend(d)
                if progress:
                    progress(len(chunk))
        else:
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(paths, kube)) as pool:
                futures = [(chunk, pool.submit(_run_chunk, fleet, chunk,
                                               {i.name: overrides[i.name] for i in chunk if i.name in overrides}))
                           for chunk in _chunks(inputs, jobs)]
                for chunk, future in futures:
                    m, f, d = future.result()
                    models.update(m), files.update(f), diags.extend(d)
                    if progress:
                        progress(len(chunk))
    diags.extend(checks.check_models(models, sources))
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    selected = sorted(sources.instances)
    index = build_index(models, files)
    return Generated(selected, models, files, index, sort_diagnostics(diags))


def build_index(models: dict[str, dict], files: dict[str, bytes]) -> dict:
    entries: dict[str, dict] = {}
    for name, model in sorted(models.items()):
        dep = model["deployment"]
        prefix = name + "/"
        entries[name] = {
            "cluster": dep["cluster"],
            "namespace": dep["namespace"],
            "url": dep["url"],
            "jenkinsVersion": model["jenkins"]["version"],
            "files": {rel[len(prefix):]: sha256(data) for rel, data in sorted(files.items()) if rel.startswith(prefix)},
        }
    return {"generator": f"jenkins-fleet {__version__}", "instances": entries}


def merged_index(new: dict, old: dict | None, keep: list[str]) -> dict:
    instances = dict((old or {}).get("instances", {}))
    instances = {k: v for k, v in instances.items() if k in keep}
    instances.update(new["instances"])
    return {"generator": new["generator"], "instances": dict(sorted(instances.items()))}


def index_bytes(index: dict) -> bytes:
    return dump_json(index).encode()
