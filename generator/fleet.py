"""The pipeline over a whole fleet: load -> validate -> model -> render -> (write)."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import __version__, cache, checks, fleetdir, manifests, monitoring, output
from .cache import common_key, fleet_files_key, sources_context
from .catalog import load_all as load_catalogs
from .errors import Diagnostic, FleetError, fail_if_errors
from .fleetdir import FleetSources
from .model import CHECKS, FULL, ModelEngine, ModelInput
from .nofollow import links_below
from .output import Packed, digest_of, dump_json, sha256
from .plugins import (
    Resolution,
    acknowledged_advisories,
    acknowledgement_problems,
    requests_for,
)
from .plugins import resolve as resolve_closure
from .schema import Schemas, validate_document

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from .produce import Producer

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
    inputs: list[ModelInput]  # the instances checked now (not the settled ones)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    settled: dict[str, str] = field(default_factory=dict)  # not checked again: name -> recorded inputs key
    clean: dict[str, str] = field(default_factory=dict)  # settled, or checked with nothing found: fingerprints
    context: str = ""  # cache.sources_context of this run (with `settled` asked for)


@dataclass(frozen=True)
class Settled:
    """What the last `fleet generate` recorded of its sources (output.CacheState.sources): instances
    whose files, as fingerprinted, passed every check with nothing to report, under the sources
    context then. Under the same context, the same files need no parsing and no checks: their
    inputs key is the one recorded (`keys`)."""

    context: str
    fingerprints: dict[str, str]  # name -> fleetdir.fingerprint of its files
    keys: dict[str, str]  # name -> inputs key (the cache state's)


NOTHING_SETTLED = Settled("", {}, {})  # check everything, and work out the context to record


@dataclass
class Generated:
    names: list[str]
    models: dict[str, dict]  # the instances rendered (not those in `cached`)
    files: dict[str, bytes]  # relative path -> bytes (output.Packed with pack_files), for the selected instances
    index: dict
    warnings: list[Diagnostic]
    cached: list[str] = field(default_factory=list)  # not re-rendered: carry their files over
    keys: dict[str, str] = field(default_factory=dict)  # inputs key per instance, for the cache file
    fleet_key: str | None = None  # inputs key of the fleet-level files (None: monitoring is off)
    fleet_cached: bool = False  # the fleet-level files are the cached output's: carry them over
    sources: dict = field(default_factory=dict)  # {context, fingerprints} to record (Settled)


def check_sources(paths: Paths, names=(), schemas: Schemas | None = None, settled: Settled | None = None,
                  common: str | None = None, on_input: Callable | None = None) -> Checked:
    """Load and validate the fleet file and the selected instances; raise with every error.

    settled: what the last run recorded; an instance it names with the same fingerprint, under the
    same sources context, is neither parsed nor checked (common: cache.common_key, if known).
    on_input(input, override, fleet): called with each of Checked.inputs as soon as it is known."""
    links = links_below(paths.templates, paths.schemas)  # before anything reads them
    if links:
        raise FleetError(links)
    schemas = schemas or Schemas(paths.schemas)
    recorded = settled.fingerprints if settled else {}
    sources, load_diags = fleetdir.read_all(
        paths.instances, names,
        {n: p for n, p in recorded.items() if n in settled.keys} if settled else None)
    if sources is None:
        raise FleetError(load_diags)  # instance checks need the fleet settings
    fleet_diags = validate_document(sources.fleet, schemas.fleet, "while validating the fleet settings")
    if not fleet_diags:
        fleet_diags = checks.check_fleet(sources) + monitoring.check_settings(
            sources.fleet, fleetdir.instance_names(paths.instances))
        version = sources.fleet.data.get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION)
        supported = manifests.supported_versions()
        if version not in supported and ".".join(version.split(".")[:2]) not in supported:
            fleet_diags.append(sources.fleet.diagnostic(
                ("kubernetesVersion",), f"no Kubernetes schemas for version {version}",
                hint=f"supported: {supported[0]} to {supported[-1]}"))
    diags = load_diags + fleet_diags
    if any(d.is_error for d in fleet_diags):
        raise FleetError(diags)  # instance checks need a sound fleet file
    sources.catalogs, catalog_diags = load_catalogs(paths.instances, sources.fleet)
    diags.extend(catalog_diags)
    today = datetime.date.today().isoformat()
    diags.extend(acknowledgement_problems(sources.fleet, sources.catalogs, today))
    acknowledged = acknowledged_advisories(sources.fleet.data, today)
    context = (sources_context(common or common_key(paths.templates, paths.schemas), sources.fleet,
                               sources.catalogs, today, paths.instances) if settled else "")
    if settled and context != settled.context:
        diags.extend(fleetdir.unsettle(sources))  # recorded under another context: checked like the rest
    views: dict[int, dict] = {}  # instances with the same requests share one resolution, and its model view
    inputs, kept, clean = [], {}, {}
    for name, src in sorted(sources.instances.items()):
        if isinstance(src, fleetdir.SettledInstanceSource):  # same files, same context: nothing to check
            kept[name], clean[name] = settled.keys[name], src.fingerprint
            continue
        own = validate_document(src.doc, schemas.instance, f"while validating instance '{name}'")
        # Semantic rules run even on schema-invalid files, so one run reports everything.
        own += checks.check_instance(src, sources)
        resolved = None
        if not any(d.is_error for d in own):
            resolved, plugin_diags = resolve_plugins(src, sources, acknowledged)
            own += plugin_diags
        if src.override is not None and not any(d.is_error for d in own):
            own += checks.check_override_jcasc(src, sources.fleet.data, jenkins_version(
                sources.fleet.data, name, src.doc.data), resolved.installed if resolved is not None else None)
        diags.extend(own)
        if not own:
            clean[name] = src.fingerprint
        if not any(d.is_error for d in own):
            if resolved is not None and id(resolved) not in views:
                views[id(resolved)] = resolved.as_model()
            inputs.append(ModelInput(name, src.doc.data, fleetdir.matching_profiles(sources.fleet.data, name),
                                     views[id(resolved)] if resolved is not None else None))
            if on_input is not None:
                on_input(inputs[-1], src.override, sources.fleet.data)
    return Checked(sources, inputs, diags, kept, clean, context)


def jenkins_version(fleet: dict, name: str, data: dict) -> str:
    """The Jenkins version an instance runs, layered as the model does: profiles in order,
    then the instance file; 'latest' (controllers.latest) by default."""
    by_name = {p["name"]: p for p in fleet.get("profiles", [])}
    requested = "latest"
    for layer in [by_name[n]["set"] for n in fleetdir.matching_profiles(fleet, name)] + [data]:
        requested = layer.get("jenkins", {}).get("version", requested)
    return fleet["controllers"]["latest"] if requested == "latest" else requested


def resolve_plugins(src: fleetdir.InstanceSource, sources: FleetSources,
                    acknowledged: frozenset) -> tuple[Resolution | None, list[Diagnostic]]:
    """The instance's pinned plugin closure, or None when its Jenkins version has no catalog.

    acknowledged: plugins.acknowledged_advisories of the fleet, today."""
    fleet = sources.fleet.data
    profiles = fleetdir.matching_profiles(fleet, src.name)
    version = jenkins_version(fleet, src.name, src.doc.data)
    found = sources.catalogs.get(version)
    if found is None:
        return None, []
    requests = requests_for(sources.fleet, src.doc, version, profiles,
                            (f"while resolving the plugins of instance '{src.name}'",))
    return resolve_closure(found, requests, version, found.label(version), acknowledged)


def kubernetes_version(fleet: dict) -> str:
    version = fleet.get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION)
    return ".".join(version.split(".")[:2])


# --- the per-process worker -------------------------------------------------------------------

class Worker:
    """Everything expensive to build (Jsonnet engine, Jinja environment, validators), built once per process."""

    def __init__(self, paths: Paths):
        self.engine = ModelEngine(paths.templates)
        self._paths = paths
        self._producer: Producer | None = None

    def producer(self, kube_version: str) -> Producer:
        # Built on first render: `fleet validate` models only and needs no Jinja or validators.
        if self._producer is None or self._producer.kubernetes_version != kube_version:
            # Imported here: Jinja and the validators (30 ms) are not needed by a run that renders nothing.
            from .produce import Producer
            from .render import Renderer

            self._producer = Producer(Renderer(self._paths.templates), kube_version, self._paths.schemas)
        return self._producer

    def run(self, kube_version: str, fleet: dict, inputs: list[ModelInput], overrides: dict[str, object],
            render: bool = True, whole: bool = True, pack: bool = False):
        """Models and files; without render, models cut to what the cross-instance rules read, and so
        with render when not `whole` (once the files are produced: model.json holds the whole).
        pack: the files as output.Packed, compressed, with their sha256."""
        evaluated = self.engine.evaluate(fleet, inputs, objects=render, view=FULL if render else CHECKS)
        models, files, diags = {}, {}, []
        for inp in inputs:
            result = evaluated[inp.name]
            models[inp.name] = result["model"]
            if render:
                out, d = self.producer(kube_version).files(inp.name, result["model"], result["objects"],
                                                           overrides.get(inp.name))
                files.update({rel: Packed(data) for rel, data in out.items()} if pack else out)
                diags.extend(d)
                if not whole:
                    models[inp.name] = kept_of(result["model"])
        return models, files, diags


def kept_of(model: dict) -> dict:
    """What a run that writes the files needs of a model besides them: the cross-instance rules
    (checks.check_models) and the index (build_index). At 10,000 instances the whole models held
    until the swap were 33 KB each in memory, two thirds of it the plugin closure."""
    agents = {"podTemplates": model["agents"]["podTemplates"]}
    if "missingSecrets" in model["agents"]:
        agents["missingSecrets"] = model["agents"]["missingSecrets"]
    return {"deployment": model["deployment"], "jenkins": {"version": model["jenkins"]["version"]},
            "monitoring": {"enabled": model["monitoring"]["enabled"]},
            "storage": {"claimTemplateName": model["storage"]["claimTemplateName"]},
            "resources": {"limitRange": model["resources"]["limitRange"]}, "agents": agents}


_PROCESS_WORKER: Worker | None = None  # set only inside pool processes, by _init_worker


def _init_worker(paths: Paths) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = Worker(paths)


def _run_chunk(kube, fleet, inputs, overrides, render, whole, pack):
    return _PROCESS_WORKER.run(kube, fleet, inputs, overrides, render, whole, pack)


def _ready() -> None:
    """A task that only makes the pool start a process (and import everything) now."""


# Below this many instances to model, starting worker processes costs more than it saves.
MIN_PARALLEL = 40
# From this many instances rendered, `generate(pack_files=True)` holds the files compressed
# (output.Packed): 1,000 instances' files take 46 MB, 10,000 instances' 457 MB.
PACK_FROM = 2000


class _Workers:
    """Worker processes for the Jsonnet and rendering step, started on first use.

    A ProcessPoolExecutor is not free even unused: its queues' semaphores start multiprocessing's
    resource tracker, one more interpreter (about 20 ms of CPU), for a run that renders one instance.
    """

    def __init__(self, paths: Paths, jobs: int):
        self.jobs = jobs
        self._paths = paths
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Imported here: 25 ms that a run rendering a few instances in this process does without.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the Go runtime of gojsonnet does not survive fork() (children hang).
            self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=(self._paths,))
        return self._executor

    @property
    def started(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        executor = self.executor()
        for _ in range(self.jobs):
            executor.submit(_ready)

    def stop(self, now: bool) -> None:
        """Wait for the workers to finish; `now`: stop them first (an error or Ctrl-C while they start
        is reported at once rather than after they finish importing)."""
        if self._executor is None:
            return
        if now:
            if hasattr(self._executor, "terminate_workers"):  # public from Python 3.14
                self._executor.terminate_workers()
            else:
                for proc in list((getattr(self._executor, "_processes", None) or {}).values()):
                    proc.terminate()
        self._executor.shutdown(wait=True, cancel_futures=now)


@contextmanager
def _pool(paths: Paths, jobs: int, start_now: bool) -> Iterator[_Workers | None]:
    """Worker processes for the Jsonnet and rendering step, or None to work in this process.

    start_now: the caller expects to model many instances; the workers start (a second or so
    of imports each, on their own cores) while this process reads and checks the sources.
    Otherwise they start on first use, if there is any.
    """
    if jobs <= 1:
        yield None
        return
    workers = _Workers(paths, jobs)
    try:
        if start_now:
            workers.start()
        yield workers
    except BaseException:
        workers.stop(now=True)
        raise
    workers.stop(now=False)


def _chunk_size(count: int, jobs: int) -> int:
    # Several chunks per worker keep both cores busy to the end; each chunk is one Jsonnet run,
    # which parses the templates and evaluates the fleet's context again (7 ms): in this process
    # (jobs 1), chunks are as large as memory allows (13 sample instances in one run, not 4: 40% less Jsonnet).
    if jobs <= 1:
        return max(1, min(64, count))
    return max(1, min(64, -(-count // (jobs * 4))))


def _chunks(items: list, jobs: int) -> list[list]:
    size = _chunk_size(len(items), jobs)
    return [items[i:i + size] for i in range(0, len(items), size)]


class _Stream:
    """Chunks sent to the workers while the sources are still being checked: in a run without a
    cache every instance that passes its checks is modelled, and the workers, started beside the
    reading, would otherwise wait for the last instance's checks (a quarter of a second at 1,000)."""

    def __init__(self, workers: _Workers, expected: int, render: bool, whole: bool = True, pack: bool = False):
        self._executor, self._size = workers.executor(), _chunk_size(expected, workers.jobs)
        self._options = (render, whole, pack)
        self._args: tuple | None = None
        self._pending: list[ModelInput] = []
        self._overrides: dict[str, object] = {}
        self.sent: list[tuple[list[ModelInput], object]] = []  # (chunk, future), in input order

    def add(self, inp: ModelInput, override, fleet: dict) -> None:
        """check_sources' on_input: one instance checked without errors, its override, the fleet settings."""
        if self._args is None:
            self._args = (kubernetes_version(fleet), fleet, *self._options)
        self._pending.append(inp)
        if override is not None:
            self._overrides[inp.name] = override
        if len(self._pending) >= self._size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            kube, fleet, render, whole, pack = self._args
            chunk, overrides = self._pending, self._overrides
            self._pending, self._overrides = [], {}
            self.sent.append((chunk, self._executor.submit(_run_chunk, kube, fleet, chunk, overrides, render,
                                                           whole, pack)))


def _run(paths: Paths, kube: str, fleet: dict, inputs: list[ModelInput], overrides: dict,
         pool: _Workers | None, render: bool, progress: Progress | None, whole: bool = True,
         pack: bool = False, stream: _Stream | None = None):
    """Models and files of `inputs`; with `stream`, those it already sent to the workers (while the
    sources were checked) are not sent again."""
    models: dict[str, dict] = {}
    files: dict[str, bytes] = {}
    diags: list[Diagnostic] = []
    if stream is None:
        if not inputs:
            return models, files, diags
        if pool is None or len(inputs) < MIN_PARALLEL:
            worker = Worker(paths)
            for chunk in _chunks(inputs, 1):
                m, f, d = worker.run(kube, fleet, chunk,
                                     {i.name: overrides[i.name] for i in chunk if i.name in overrides},
                                     render, whole, pack)
                models.update(m), files.update(f), diags.extend(d)
                if progress:
                    progress(len(chunk))
            return models, files, diags
        stream = _Stream(pool, len(inputs), render, whole, pack)
    stream.flush()
    sent = {i.name for chunk, _ in stream.sent for i in chunk}
    for inp in inputs:
        if inp.name not in sent:
            stream.add(inp, overrides.get(inp.name), fleet)
    stream.flush()
    for chunk, future in stream.sent:
        m, f, d = future.result()
        models.update(m), files.update(f), diags.extend(d)
        if progress:
            progress(len(chunk))
    return models, files, diags


def _expect_many(paths: Paths, names, cache: output.CacheState | None) -> int:
    """How many instances will be modelled when they are many (no usable cache, MIN_PARALLEL or
    more selected), else 0."""
    if cache is not None:
        return 0  # most instances are usually unchanged; workers start if they are not
    try:
        count = len(fleetdir.select(paths.instances, tuple(names)))
    except (FleetError, OSError):
        return 0  # check_sources reports it, with everything else
    return count if count >= MIN_PARALLEL else 0


def input_keys(paths: Paths, checked: Checked, common: str | None = None) -> dict[str, str]:
    """The inputs key of every checked instance (what the cache and deploy's staleness compare).

    common: cache.common_key of the paths, when the caller has it already."""
    fleet = checked.sources.fleet.data
    fleet_part = cache.fleet_key(common or cache.common_key(paths.templates, paths.schemas), fleet)
    digests = {found.reference: found.digest for found in checked.sources.catalogs.values()}
    keys = dict(checked.settled)
    for inp in checked.inputs:
        src = checked.sources.instances[inp.name]
        keys[inp.name] = cache.instance_key(fleet_part, fleet, inp.name, inp.profiles, inp.data,
                                            src.override.data if src.override else None,
                                            digests[inp.plugins["catalog"]] if inp.plugins else "")
    return keys


# The fleet-level files' inputs key, among the instances' keys in the cache state: a name no
# instance can have (names are DNS labels).
FLEET_FILES_KEY = "monitoring/"

# What an index entry must hold to stand for its instance: the cross-instance rules read the
# deployment keys, the fleet's alerting rules whether it is monitored and its home volume claim.
INDEX_KEYS = (*checks.DEPLOYMENT_KEYS, "monitored", "homeClaim")


def _cache_hits(cache: output.CacheState | None, keys: dict[str, str]) -> dict[str, dict]:
    """Index entries of instances whose inputs did not change since the cached output was written.

    A hit also needs the instance's files to be as generate left them: all
    present and none modified after the index (written last). A damaged
    output is rendered again rather than carried over. The models themselves
    are not read: the same inputs give the same model, which passed every
    per-instance rule when it was written; the cross-instance rules need only
    the cluster, namespace and URL the entry records.
    """
    if cache is None:
        return {}
    entries = cache.index.get("instances", {})
    hits = {}
    for name, key in keys.items():
        entry = entries.get(name)
        if not entry or cache.keys.get(name) != key or not all(k in entry for k in INDEX_KEYS):
            continue
        if output.files_intact(cache.out_dir, name, entry.get("files", {}), cache.written_ns):
            hits[name] = entry
    return hits


# Characters of fleet, instance and override files from which `validate` renders an instance's JCasC
# to measure it: the generated JCasC is a few times its inputs, and its ConfigMap may hold 1 MiB.
RENDER_IN_VALIDATE = 64 * 1024


def _chars(doc) -> int:
    return sum(map(len, doc.lines)) + len(doc.lines) if doc is not None else 0


def validate(paths: Paths, names=(), jobs: int = 1, cache: output.CacheState | None = None,
             introduced: set[str] | None = None) -> list[Diagnostic]:
    """Every check short of rendering; returns warnings, raises FleetError on errors.
    `introduced`: the instances a change adds or edits, when its base is known (checks.check_models)."""
    expected = _expect_many(paths, names, cache)
    with _pool(paths, jobs, bool(expected)) as pool:
        stream = None
        if cache:
            checked, _, hits = _checked_against(cache, paths, names, common_key(paths.templates, paths.schemas))
        else:
            stream = _Stream(pool, expected, render=False) if pool is not None and expected else None
            checked, hits = check_sources(paths, names, on_input=stream.add if stream else None), {}
        diags = list(checked.diagnostics)
        if any(d.is_error for d in diags):
            raise FleetError(diags)
        fleet = checked.sources.fleet.data
        todo = [i for i in checked.inputs if i.name not in hits]
        models, _, d = _run(paths, kubernetes_version(fleet), fleet, todo, {}, pool, render=False, progress=None,
                            stream=stream)
        diags.extend(d)
        # The ConfigMap's size is known once the JCasC is rendered: render the few instances
        # whose inputs are large enough to come near the limit (produce.configmap_size).
        fleet_chars = _chars(checked.sources.fleet)
        large = [i for i in todo if fleet_chars + _chars(checked.sources.instances[i.name].doc)
                 + _chars(checked.sources.instances[i.name].override) >= RENDER_IN_VALIDATE]
        if large:
            overrides = {i.name: checked.sources.instances[i.name].override for i in large}
            diags.extend(_run(paths, kubernetes_version(fleet), fleet, large, overrides, None, True, None)[2])
    diags.extend(checks.check_models(models, checked.sources, cached=hits, introduced=introduced))
    return fail_if_errors(diags)


def generate(paths: Paths, names=(), jobs: int = 1, progress: Progress | None = None,
             cache: output.CacheState | None = None, previous: dict | None = None,
             whole_models: bool = True, pack_files: bool = False) -> Generated:
    """Model and render the selected instances; raise FleetError with every error found.

    With `cache` (what the previous output recorded), instances whose inputs key
    matches its index are not rendered again: `Generated.cached` names them and
    their files are to be carried over from that output. `previous` is the index
    of the output being replaced: with NAMEs, the instances it holds that are not
    selected stay in the output, and the fleet's alerting rules cover them too.
    Without `whole_models`, `Generated.models` holds only what kept_of keeps (their files hold the rest).
    With `pack_files`, a run that renders PACK_FROM instances or more holds its files as output.Packed
    (for output.write_tree, which takes either).
    """
    expected = _expect_many(paths, names, cache)
    with _pool(paths, jobs, bool(expected)) as pool:
        common = common_key(paths.templates, paths.schemas)
        # Without a cache every instance that passes its checks is rendered: sent to the workers at once.
        pack = pack_files and expected >= PACK_FROM
        stream = _Stream(pool, expected, True, whole_models, pack) if pool is not None and expected else None
        checked, keys, hits = _checked_against(cache, paths, names, common, stream.add if stream else None)
        sources = checked.sources
        fleet = sources.fleet.data
        if progress and hits:
            progress(len(hits))
        todo = [i for i in checked.inputs if i.name not in hits]
        overrides = {i.name: sources.instances[i.name].override for i in todo
                     if sources.instances[i.name].override is not None}
        models, files, diags = _run(paths, kubernetes_version(fleet), fleet, todo, overrides, pool, True, progress,
                                    whole_models, pack if stream else pack_files and len(todo) >= PACK_FROM,
                                    stream=stream)
        diags = list(checked.diagnostics) + diags
        index = build_index(models, files, hits)
        # Fleet-level files (the alerting rules) depend on fleet.yaml and on which instances the
        # output holds: rendered again whenever either changed.
        kept = kept_entries(previous, names, sorted(sources.instances), paths.instances)
        entries = {**kept, **index["instances"]}
        monitored = monitoring.controllers(entries)
        fleet_key = fleet_files_key(common, fleet, monitored) if monitoring.enabled(fleet) else None
        fleet_cached = fleet_key is not None and _fleet_files_hit(cache, fleet_key)
        rules_args, rules = (sources.fleet, monitored, paths.templates, paths.schemas), None
        if not fleet_cached and fleet_key is not None and pool is not None and pool.started:
            # In a worker, beside the cross-instance checks: one Jsonnet run over every monitored
            # instance, whose heap (GOGC) grew this process by 330 MB at 10,000 instances.
            rules = pool.executor().submit(monitoring.rules_files, *rules_args)
        diags.extend(checks.check_models(models, sources, cached=hits))
        if fleet_cached:
            index["fleet"] = cache.index["fleet"]
        else:
            fleet_files, fleet_diags = rules.result() if rules is not None else monitoring.rules_files(*rules_args)
            diags.extend(fleet_diags)
            files.update(fleet_files)
            if fleet_files:
                index["fleet"] = {"files": {rel: sha256(data) for rel, data in sorted(fleet_files.items())}}
    warnings = fail_if_errors(diags)
    return Generated(sorted(sources.instances), models, files, index, warnings, sorted(hits), keys,
                     fleet_key, fleet_cached, {"context": checked.context, "fingerprints": checked.clean})


def _checked_against(cache: output.CacheState | None, paths: Paths, names, common: str,
                     on_input: Callable | None = None) -> tuple[Checked, dict[str, str], dict[str, dict]]:
    """check_sources with what the cached output's run recorded, the inputs keys, and the cache hits.
    on_input: only without a cache (then every input is modelled)."""
    settled = settled_of(cache) or NOTHING_SETTLED
    checked = check_sources(paths, names, settled=settled, common=common, on_input=on_input if cache is None else None)
    keys = input_keys(paths, checked, common)
    hits = _cache_hits(cache, keys)
    unsettled = [n for n in checked.settled if n not in hits]
    if unsettled:  # its output is gone or was edited: it is modelled again, from checked sources
        settled = Settled(settled.context, {n: p for n, p in settled.fingerprints.items() if n not in unsettled},
                          settled.keys)
        checked = check_sources(paths, names, settled=settled, common=common)
        keys = input_keys(paths, checked, common)
        hits = _cache_hits(cache, keys)
    return checked, keys, hits


def settled_of(cache: output.CacheState | None) -> Settled | None:
    """What the cached output's run recorded of its sources, to skip what did not change since."""
    if cache is None or not cache.sources.get("context"):
        return None
    return Settled(cache.sources["context"], dict(cache.sources.get("fingerprints", {})), cache.keys)


def _fleet_files_hit(cache: output.CacheState | None, key: str) -> bool:
    """The cached output's fleet-level files are what `key` renders to, all there and untouched."""
    if cache is None or cache.keys.get(FLEET_FILES_KEY) != key:
        return False
    recorded = (cache.index.get("fleet") or {}).get("files")
    if not isinstance(recorded, dict) or not recorded:
        return False
    by_dir: dict[str, dict[str, str]] = {}
    for rel, digest in recorded.items():
        top, _, inner = rel.partition("/")
        if top not in monitoring.FLEET_DIRS or not inner:
            return False
        by_dir.setdefault(top, {})[inner] = digest
    return all(output.files_intact(cache.out_dir, top, inner, cache.written_ns) for top, inner in by_dir.items())


def kept_entries(previous: dict | None, names, selected: list[str], instances_dir: str) -> dict[str, dict]:
    """Index entries of the instances that a run with NAMEs keeps from the previous output:
    not selected, and still defined in the instances directory."""
    if not names or not previous:
        return {}
    existing = set(fleetdir.instance_names(instances_dir))
    chosen = set(selected)
    return {n: e for n, e in previous.get("instances", {}).items() if n not in chosen and n in existing}


def build_index(models: dict[str, dict], files: dict[str, bytes], cached: dict[str, dict]) -> dict:
    entries: dict[str, dict] = dict(cached)
    by_instance: dict[str, dict[str, str]] = {}
    for rel, data in sorted(files.items()):
        name, _, inner = rel.partition("/")
        by_instance.setdefault(name, {})[inner] = digest_of(data)
    for name, model in sorted(models.items()):
        if name in cached:
            continue
        dep = model["deployment"]
        entries[name] = {
            "cluster": dep["cluster"],
            "namespace": dep["namespace"],
            "url": dep["url"],
            "jenkinsVersion": model["jenkins"]["version"],
            "monitored": model["monitoring"]["enabled"],
            # the StatefulSet's claim template names the claim of its pod 0
            "homeClaim": f"{model['storage']['claimTemplateName']}-{dep['statefulSetName']}-0",
            "files": by_instance.get(name, {}),
        }
    return {"generator": f"jenkins-fleet {__version__}", "instances": dict(sorted(entries.items()))}


def index_bytes(index: dict) -> bytes:
    return dump_json(index, plain=True).encode()  # names, digests, versions and flags: no floats
