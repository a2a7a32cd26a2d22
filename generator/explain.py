"""`fleet explain NAME`: the resolved model of one instance, where each value came from,
and the arithmetic behind every quota figure.

Provenance is worked out here, in Python, from the same layers the Jsonnet model
merges (built-in defaults < fleet.yaml < matching profiles in order < the
instance file), using the line numbers the YAML loader recorded. The model
itself is the one the templates produce; the arithmetic is redone with the
instance's own constants and checked against it, so an explanation that no
longer matches the templates says so instead of misleading.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from . import fleet as fleet_mod
from . import fleetdir
from .errors import Diagnostic, FleetError, display_path
from .sources import Document, format_path

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Source:
    kind: str  # built-in | fleet | profile | instance | derived | computed
    file: str | None = None
    line: int | None = None
    key: str | None = None  # the key path in that file
    profile: str | None = None
    note: str = ""

    def describe(self) -> str:
        where = f"{display_path(self.file)}:{self.line}" if self.file else ""
        if self.kind == "instance":
            return f"instance file ({where})"
        if self.kind == "profile":
            return f"profile {self.profile} ({where})"
        if self.kind == "fleet":
            return f"fleet {self.key} ({where})"
        if self.kind == "derived":
            return f"derived: {self.note}" + (f" ({where})" if where else "")
        if self.kind == "computed":
            return f"computed: {self.note}"
        return "built-in default" + (f": {self.note}" if self.note else "")

    def to_json(self) -> dict:
        out = {"kind": self.kind}
        if self.file:
            out.update(file=display_path(self.file), line=self.line)
        if self.key:
            out["key"] = self.key
        if self.profile:
            out["profile"] = self.profile
        if self.note:
            out["note"] = self.note
        out["text"] = self.describe()
        return out


@dataclass
class Value:
    path: str
    value: object
    source: Source

    def to_json(self) -> dict:
        return {"path": self.path, "value": self.value, "source": self.source.to_json()}


@dataclass
class Step:
    """One quota figure: its value, the formula in words and the arithmetic with this instance's numbers."""

    name: str
    value: int
    unit: str
    formula: str
    text: str
    expected: int | None = None  # what the redone arithmetic gives when it differs from the model

    def to_json(self) -> dict:
        out = {"name": self.name, "value": self.value, "unit": self.unit, "formula": self.formula,
               "arithmetic": self.text}
        if self.expected is not None:
            out["mismatch"] = {"recomputed": self.expected}
        return out


@dataclass
class Explanation:
    name: str
    instance_file: str
    profiles: list[dict]
    model: dict
    values: list[Value] = field(default_factory=list)
    constants: list[Value] = field(default_factory=list)
    inputs: list[Value] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Step]:
        return [s for s in self.steps if s.expected is not None]

    def to_json(self) -> dict:
        return {
            "formatVersion": FORMAT_VERSION,
            "instance": self.name,
            "file": display_path(self.instance_file),
            "profiles": self.profiles,
            "values": [v.to_json() for v in self.values],
            "quota": {
                "inputs": [v.to_json() for v in self.inputs],
                "constants": [v.to_json() for v in self.constants],
                "steps": [s.to_json() for s in self.steps],
            },
            "model": self.model,
        }


# --- the layers -----------------------------------------------------------------------------------

# Model paths whose fleet-wide value is written under another key of fleet.yaml.
FLEET_KEYS = {
    ("jenkins", "timezone"): ("defaults", "timezone"),
    ("jenkins", "theme"): ("defaults", "theme"),
    ("jenkins", "agentConnectionTimeout"): ("defaults", "agentConnectionTimeout"),
    ("jenkins", "adminEmail"): ("defaults", "adminEmail"),
    ("deployment", "host"): ("defaults", "host"),
    ("deployment", "cluster"): ("defaults", "cluster"),
    ("storage", "storageClassName"): ("defaults", "storageClassName"),
    ("storage", "size"): ("defaults", "storageSize"),
}
BUILT_IN = {
    ("jenkins", "requestedVersion"): "latest",
    ("jenkins", "timezone"): "UTC",
    ("jenkins", "theme"): "dark",
    ("jenkins", "agentConnectionTimeout"): "180 seconds",
    ("storage", "storageClassName"): "the cluster's default class",
    ("storage", "size"): "50Gi",
    ("project", "resourcePacks"): "1 pack",
}
SETTINGS = ("jenkins", "deployment", "storage", "agents", "buildTools", "resourceModel", "monitoring")


class Layers:
    def __init__(self, fleet_doc: Document, inst_doc: Document, profiles: tuple[str, ...]):
        self.fleet = fleet_doc
        self.inst = inst_doc
        index = {p["name"]: i for i, p in enumerate(fleet_doc.data.get("profiles", []))}
        self.profiles = [(name, index[name]) for name in profiles]

    def _fleet_src(self, path: tuple, kind="fleet", profile=None) -> Source:
        line = self.fleet.position(path)[0]
        return Source(kind, self.fleet.path, line, format_path(path), profile)

    def instance(self, path: tuple) -> Source | None:
        if self.inst.has(path):
            return Source("instance", self.inst.path, self.inst.position(path)[0], format_path(path))
        return None

    def layered(self, path: tuple) -> Source | None:
        """The highest profile or instance layer that sets `path` (a model path in the settings sections)."""
        found = self.instance(path)
        if found:
            return found
        for name, i in reversed(self.profiles):
            full = ("profiles", i, "set") + path
            if self.fleet.has(full):
                return self._fleet_src(full, "profile", name)
        return None

    def fleet_level(self, path: tuple) -> Source | None:
        mapped = FLEET_KEYS.get(path)
        if mapped is None and path[:1] in (("resourceModel",), ("monitoring",)):
            mapped = path  # same shape in fleet.yaml
        if mapped is None and path[:1] == ("ldap",):
            mapped = ("defaults",) + path
        if mapped is not None and self.fleet.has(mapped):
            return self._fleet_src(mapped)
        return None

    def fleet_key(self, *path) -> Source:
        return self._fleet_src(tuple(path))

    def list_item(self, path: tuple, match) -> Source | None:
        """The highest layer whose list at `path` has an item for which match(item) holds."""
        for doc, base, kind, profile in self._list_layers():
            items = _at(doc.data, base + path)
            if isinstance(items, list):
                for i in range(len(items) - 1, -1, -1):
                    if match(items[i]):
                        full = base + path + (i,)
                        return Source(kind, doc.path, doc.position(full)[0], format_path(full), profile)
        return None

    def _list_layers(self):
        yield self.inst, (), "instance", None
        for name, i in reversed(self.profiles):
            yield self.fleet, ("profiles", i, "set"), "profile", name


def _at(data, path):
    for key in path:
        present = (key in data) if isinstance(data, dict) else (
            isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data))
        if not present:
            return None
        data = data[key]
    return data


def _leaves(data, prefix=()):
    if isinstance(data, dict) and data:
        for key in sorted(data):
            yield from _leaves(data[key], prefix + (key,))
    else:
        yield prefix, data


# --- provenance of the model's values --------------------------------------------------------------

def _source_for(layers: Layers, model: dict, path: tuple) -> Source:
    head = path[0]
    if head == "project":
        found = layers.instance(path)
        if found:
            return found
        notes = {"shortName": "the last segment of fullName", "unixGroupName": "fullName"}
        if path[1] in notes:
            return Source("derived", note=notes[path[1]])
        return Source("built-in", note=BUILT_IN.get(path, ""))
    if head == "resources":
        return Source("computed", note="see the quota arithmetic")
    if head in ("labels", "selector"):
        return Source("derived", note="from fullName, shortName and the fleet name")
    if path == ("jenkins", "requestedVersion"):
        return layers.layered(("jenkins", "version")) or Source("built-in", note="latest")
    if path == ("jenkins", "version"):
        return _derived(layers, model, path)
    found = layers.layered(path) if head in SETTINGS else None
    if found:
        return found
    derived = _derived(layers, model, path)
    if derived:
        return derived
    found = layers.fleet_level(path)
    if found:
        return found
    return Source("built-in", note=BUILT_IN.get(path, ""))


def _derived(layers: Layers, model: dict, path: tuple) -> Source | None:
    j = model["jenkins"]
    P = model["project"]["resourcePacks"]
    if path == ("jenkins", "maxConcurrency"):
        return Source("derived", note=f"2 x resourcePacks = 2 x {P}")
    if path == ("jenkins", "staticAgentCount"):
        return Source("derived", note=f"the number of agents.static ({len(model['agents']['static'])})")
    if path == ("jenkins", "version"):
        if j["requestedVersion"] == "latest":
            src = layers.fleet_key("controllers", "latest")
            return Source("derived", src.file, src.line, note="'latest' is controllers.latest")
        return Source("derived", note="the requested version")
    if path == ("jenkins", "baseImage"):
        src = layers.fleet_key("controllers", "versions", j["version"], "image")
        return Source("derived", src.file, src.line, note=f"the image of controllers.versions['{j['version']}']")
    if path == ("jenkins", "image"):
        if layers.fleet.has(("defaults", "imageRepository")):
            src = layers.fleet_key("defaults", "imageRepository")
            return Source("derived", src.file, src.line, note="defaults.imageRepository/<fullName>:<version>-<hash of "
                                                              "image/Dockerfile and image/plugins.txt>")
        return Source("derived", note="the base image")
    if path == ("jenkins", "imageName"):
        if layers.fleet.has(("defaults", "imageRepository")):
            src = layers.fleet_key("defaults", "imageRepository")
            return Source("derived", src.file, src.line, note="defaults.imageRepository/<fullName>")
        return Source("derived", note="no defaults.imageRepository: the base image runs as it is")
    if path == ("jenkins", "pluginCatalog"):
        if layers.fleet.has(("controllers", "versions", j["version"], "catalog")):
            src = layers.fleet_key("controllers", "versions", j["version"], "catalog")
            return Source("derived", src.file, src.line, note=f"controllers.versions['{j['version']}'].catalog")
        return Source("derived", note="no catalog for this Jenkins version: plugins are not pinned")
    if path == ("jenkins", "systemMessage"):
        return Source("derived", note="'Welcome to the <displayName> Jenkins instance.'")
    if path == ("jenkins", "adminEmail") and not layers.fleet.has(("defaults", "adminEmail")):
        return Source("derived", note="jenkins@<defaults.host>")
    if path == ("deployment", "prefix"):
        rule = layers.fleet.data["defaults"].get("pathPrefix", "shortName")
        src = layers.fleet_key("defaults", "pathPrefix") if layers.fleet.has(("defaults", "pathPrefix")) else None
        return Source("derived", src.file if src else None, src.line if src else None,
                      note=f"defaults.pathPrefix is {rule!r}")
    if path == ("deployment", "namespace"):
        return Source("derived", note="project.shortName")
    if path[:1] == ("deployment",) and path[1] in ("url", "serviceHost", "tunnel"):
        return Source("derived", note="host, prefix and namespace")
    if path[:1] == ("buildTools",):
        return None
    return None


def _plugin_source(layers: Layers, model: dict, spec: str) -> Source:
    pid = spec.split(":", 1)[0]
    found = layers.list_item(("jenkins", "plugins"), lambda p: isinstance(p, str) and p.split(":", 1)[0] == pid)
    if found:
        return found
    version = model["jenkins"]["version"]
    plugins = _at(layers.fleet.data, ("controllers", "versions", version, "plugins")) or []
    for i, p in enumerate(plugins):
        if p.split(":", 1)[0] == pid:
            src = layers.fleet_key("controllers", "versions", version, "plugins", i)
            return Source("fleet", src.file, src.line, src.key)
    return Source("built-in")


def _installed_source(layers: Layers, model: dict, pid: str) -> Source:
    """A plugin of the pinned closure: its request, or the plugins that need it (docs/plugins.md)."""
    how = (model["jenkins"].get("pluginProvenance") or {}).get(pid, "")
    catalog = model["jenkins"].get("pluginCatalog")
    if how.startswith("requested"):
        spec = next((s for s in model["jenkins"]["plugins"] if s.split(":", 1)[0] == pid), pid)
        found = _plugin_source(layers, model, spec)
        if found.kind != "built-in":
            return found
    return Source("derived", note=f"{how}; the release of {catalog}")


def _permission_source(layers: Layers, model: dict, entry: dict) -> Source:
    kind, name = entry["kind"], entry["name"]
    found = layers.list_item(("jenkins", "permissions"), lambda e: isinstance(e, dict) and e.get(kind) == name)
    if found:
        return found
    defaults = layers.fleet.data["defaults"]
    if kind == "group" and name == defaults.get("adminGroup"):
        return layers.fleet_key("defaults", "adminGroup")
    if kind == "group" and name == defaults.get("readGroup"):
        return layers.fleet_key("defaults", "readGroup")
    if kind == "group" and name == model["project"]["unixGroupName"]:
        src = layers.instance(("project", "unixGroupName"))
        return src or Source("derived", note="the project's unixGroupName (committers)")
    return Source("built-in")


def _named_source(layers: Layers, section: str, name: str) -> Source:
    found = layers.list_item(("agents", section), lambda t: isinstance(t, dict) and t.get("name") == name)
    if found:
        return found
    if section == "podTemplates" and name == "basic":
        return Source("built-in", note="the 'basic' template with defaults.agentImage")
    return Source("built-in")


def _values(layers: Layers, model: dict) -> list[Value]:
    out: list[Value] = []
    # resources are the quota arithmetic and resourceModel its constants: both shown on their own
    skip = ("agents", "profiles", "resources", "resourceModel")
    # Shown through jenkins.installedPlugins, one line per plugin with where it comes from.
    plugin_details = ("pluginProvenance", "pluginAdvisories", "pluginChecksums")
    jenkins = {k: v for k, v in model["jenkins"].items() if k not in plugin_details}
    for path, value in _leaves({**{k: v for k, v in model.items() if k not in skip}, "jenkins": jenkins}):
        if path[:2] == ("jenkins", "installedPlugins") and len(path) == 3:
            out.append(Value(format_path(path), value, _installed_source(layers, model, path[2])))
            continue
        if path[:2] == ("jenkins", "plugins"):
            for i, spec in enumerate(value):
                out.append(Value(f"jenkins.plugins[{i}]", spec, _plugin_source(layers, model, spec)))
            continue
        if path[:2] == ("jenkins", "permissions"):
            for i, entry in enumerate(value):
                shown = f"{entry['kind']} {entry['name']}: {', '.join(entry['permissions'])}"
                out.append(Value(f"jenkins.permissions[{i}]", shown, _permission_source(layers, model, entry)))
            continue
        out.append(Value(format_path(path), value, _source_for(layers, model, path)))
    for i, t in enumerate(model["agents"]["podTemplates"]):
        r = t["resources"]
        shown = (f"{t['name']} ({t['mode']}, labels {' '.join(t['labels'])}; cpu {r['cpu']['request']}m/"
                 f"{r['cpu']['limit']}m, memory {r['memory']['request']}Mi/{r['memory']['limit']}Mi)")
        out.append(Value(f"agents.podTemplates[{i}]", shown, _named_source(layers, "podTemplates", t["name"])))
    for i, a in enumerate(model["agents"]["static"]):
        out.append(Value(f"agents.static[{i}]", a["name"], _named_source(layers, "static", a["name"])))
    return out


# --- the quota arithmetic ---------------------------------------------------------------------------

def _trunc(x: float) -> int:
    return math.floor(x) if x >= 0 else math.ceil(x)  # as the Jsonnet model: toward zero


def _steps(model: dict) -> list[Step]:
    k, res = model["resourceModel"], model["resources"]
    P, C, S = model["project"]["resourcePacks"], model["jenkins"]["maxConcurrency"], model["jenkins"]["staticAgentCount"]
    ctl, agent, jnlp, q = k["controller"], k["agent"], k["jnlp"], res["quota"]
    m_ctl, m_agent, m_jnlp = res["controller"], res["agent"], res["jnlp"]
    steps: list[Step] = []

    def step(name, value, unit, formula, text, recomputed):
        steps.append(Step(name, value, unit, formula, f"{name} {value}{unit} = {text}",
                          None if recomputed == value else recomputed))

    cpu_req = m_ctl["cpu"]["request"]
    step("controller cpu.request", cpu_req, "m",
         "min(controller.maxCpuMillis, controller.baseCpuMillis + controller.cpuPerAgentMillis x "
         "max(0, C - controller.agentsBeforeExtraCpu + S))",
         f"min({ctl['maxCpuMillis']}m, {ctl['baseCpuMillis']}m + {ctl['cpuPerAgentMillis']}m x "
         f"max(0, {C} - {ctl['agentsBeforeExtraCpu']} + {S}))",
         min(ctl["maxCpuMillis"], ctl["baseCpuMillis"] + ctl["cpuPerAgentMillis"]
             * max(0, C - ctl["agentsBeforeExtraCpu"] + S)))
    cpu_lim = m_ctl["cpu"]["limit"]
    step("controller cpu.limit", cpu_lim, "m", "max(controller.minCpuLimitMillis, controller.cpuBurst x cpu.request)",
         f"max({ctl['minCpuLimitMillis']}m, {ctl['cpuBurst']} x {cpu_req}m)",
         max(ctl["minCpuLimitMillis"], _trunc(ctl["cpuBurst"] * cpu_req)))
    ctl_mem = m_ctl["memory"]["request"]
    step("controller memory", ctl_mem, "Mi",
         "min(controller.maxMemoryMiB, controller.baseMemoryMiB + controller.memoryPerAgentMiB x (C + S))",
         f"min({ctl['maxMemoryMiB']}Mi, {ctl['baseMemoryMiB']}Mi + {ctl['memoryPerAgentMiB']}Mi x ({C} + {S}))",
         min(ctl["maxMemoryMiB"], ctl["baseMemoryMiB"] + ctl["memoryPerAgentMiB"] * (C + S)))
    jnlp_lim = m_jnlp["cpu"]["limit"]
    step("jnlp cpu.limit", jnlp_lim, "m", "jnlp.cpuMillis x jnlp.cpuBurst",
         f"{jnlp['cpuMillis']}m x {jnlp['cpuBurst']}", _trunc(jnlp["cpuMillis"] * jnlp["cpuBurst"]))
    share = _trunc(k["packCpuMillis"] * P / C)
    step("agent cpu.request", m_agent["cpu"]["request"], "m", "min(agent.maxCpuMillis, packCpuMillis x P / C)",
         f"min({agent['maxCpuMillis']}m, {k['packCpuMillis']}m x {P} packs / {C} agents)",
         min(agent["maxCpuMillis"], share))
    step("agent cpu.limit", m_agent["cpu"]["limit"], "m",
         "min(agent.maxCpuMillis, max(packCpuMillis x P / C + jnlp cpu.limit, agent.minCpuLimitMillis))",
         f"min({agent['maxCpuMillis']}m, max({share}m + jnlp {jnlp_lim}m, {agent['minCpuLimitMillis']}m))",
         min(agent["maxCpuMillis"], max(share + jnlp_lim, agent["minCpuLimitMillis"])))
    step("agent memory", m_agent["memory"]["request"], "Mi", "min(agent.maxMemoryMiB, packMemoryMiB x P / C)",
         f"min({agent['maxMemoryMiB']}Mi, {k['packMemoryMiB']}Mi x {P} packs / {C} agents)",
         min(agent["maxMemoryMiB"], _trunc(k["packMemoryMiB"] * P / C)))
    step("pods", q["pods"], "", "1 + C", f"1 controller + {C} agents", 1 + C)
    step("requests.cpu", q["requestsCpuMillis"], "m",
         "controller cpu.request + C x jnlp.cpuMillis + P x packCpuMillis",
         f"controller {cpu_req}m + {C} x jnlp {jnlp['cpuMillis']}m + {P} packs x {k['packCpuMillis']}m",
         cpu_req + C * jnlp["cpuMillis"] + P * k["packCpuMillis"])
    req_mem = ctl_mem + C * jnlp["memoryMiB"] + P * k["packMemoryMiB"]
    step("requests.memory", q["requestsMemoryMiB"], "Mi",
         "controller memory + C x jnlp.memoryMiB + P x packMemoryMiB",
         f"controller {ctl_mem}Mi + {C} x jnlp {jnlp['memoryMiB']}Mi + {P} packs x {k['packMemoryMiB']}Mi", req_mem)
    agent_lim = m_agent["cpu"]["limit"]
    step("limits.cpu", q["limitsCpuMillis"], "m", "controller cpu.limit + C x (jnlp cpu.limit + agent cpu.limit)",
         f"controller {cpu_lim}m + {C} x (jnlp {jnlp_lim}m + agent {agent_lim}m)",
         cpu_lim + C * (jnlp_lim + agent_lim))
    step("limits.memory", q["limitsMemoryMiB"], "Mi", "requests.memory",
         f"requests.memory {q['requestsMemoryMiB']}Mi", req_mem)
    lr = res["limitRange"]
    pack_cpu = min(agent["maxCpuMillis"], k["packCpuMillis"] * P)
    pack_mem = min(agent["maxMemoryMiB"], k["packMemoryMiB"] * P)
    step("LimitRange Pod max cpu", lr["pod"]["max"]["cpuMillis"], "m",
         "max(controller cpu.limit, min(agent.maxCpuMillis, P x packCpuMillis) + jnlp cpu.limit)",
         f"max(controller {cpu_lim}m, min({agent['maxCpuMillis']}m, {P} x {k['packCpuMillis']}m) + jnlp {jnlp_lim}m)",
         max(cpu_lim, pack_cpu + jnlp_lim))
    step("LimitRange Pod max memory", lr["pod"]["max"]["memoryMiB"], "Mi",
         "max(controller memory, min(agent.maxMemoryMiB, P x packMemoryMiB) + jnlp.memoryMiB)",
         f"max(controller {ctl_mem}Mi, min({agent['maxMemoryMiB']}Mi, {P} x {k['packMemoryMiB']}Mi) + "
         f"jnlp {jnlp['memoryMiB']}Mi)", max(ctl_mem, pack_mem + jnlp["memoryMiB"]))
    step("LimitRange Container max cpu", lr["container"]["max"]["cpuMillis"], "m",
         "max(controller cpu.limit, min(agent.maxCpuMillis, P x packCpuMillis))",
         f"max(controller {cpu_lim}m, min({agent['maxCpuMillis']}m, {P} x {k['packCpuMillis']}m))",
         max(cpu_lim, pack_cpu))
    step("LimitRange Container max memory", lr["container"]["max"]["memoryMiB"], "Mi",
         "max(controller memory, min(agent.maxMemoryMiB, P x packMemoryMiB))",
         f"max(controller {ctl_mem}Mi, min({agent['maxMemoryMiB']}Mi, {P} x {k['packMemoryMiB']}Mi))",
         max(ctl_mem, pack_mem))
    krl = k["limitRange"]
    for name, value, key, unit in (
            ("LimitRange Pod min cpu", lr["pod"]["min"]["cpuMillis"], "podMinCpuMillis", "m"),
            ("LimitRange Pod min memory", lr["pod"]["min"]["memoryMiB"], "podMinMemoryMiB", "Mi"),
            ("LimitRange Container min cpu", lr["container"]["min"]["cpuMillis"], "containerMinCpuMillis", "m"),
            ("LimitRange Container min memory", lr["container"]["min"]["memoryMiB"], "containerMinMemoryMiB", "Mi"),
            ("LimitRange Container default cpu", lr["container"]["default"]["cpuMillis"],
             "containerDefaultCpuMillis", "m"),
            ("LimitRange Container default memory", lr["container"]["default"]["memoryMiB"],
             "containerDefaultMemoryMiB", "Mi"),
            ("LimitRange Container defaultRequest cpu", lr["container"]["defaultRequest"]["cpuMillis"],
             "containerDefaultRequestCpuMillis", "m"),
            ("LimitRange Container defaultRequest memory", lr["container"]["defaultRequest"]["memoryMiB"],
             "containerDefaultRequestMemoryMiB", "Mi")):
        step(name, value, unit, f"limitRange.{key}", f"limitRange.{key}", krl[key])
    return steps


def _inputs(layers: Layers, model: dict) -> list[Value]:
    P, C, S = model["project"]["resourcePacks"], model["jenkins"]["maxConcurrency"], model["jenkins"]["staticAgentCount"]
    return [
        Value("P (resource packs)", P, _source_for(layers, model, ("project", "resourcePacks"))),
        Value("C (max concurrency)", C, _source_for(layers, model, ("jenkins", "maxConcurrency"))),
        Value("S (static agents)", S, _source_for(layers, model, ("jenkins", "staticAgentCount"))),
    ]


def _constants(layers: Layers, model: dict) -> list[Value]:
    return [Value(format_path(path), value, _source_for(layers, model, path))
            for path, value in _leaves({"resourceModel": model["resourceModel"]})]


# --- entry point ----------------------------------------------------------------------------------

def explain(paths: fleet_mod.Paths, name: str) -> Explanation:
    """Model one instance (validating it as `fleet generate` would) and explain every value."""
    chosen = fleetdir.select(paths.instances, (name,))
    if len(chosen) != 1:
        raise FleetError([Diagnostic(paths.instances, 0, 0, "", f"'{name}' names {len(chosen)} instances: "
                                     f"{', '.join(chosen[:5])}{' ...' if len(chosen) > 5 else ''}",
                                     hint="explain takes one exact instance name")])
    name = chosen[0]
    gen = fleet_mod.generate(paths, (name,), jobs=1)
    model = gen.models[name]
    sources = fleetdir.read(paths.instances, (name,))
    src = sources.instances[name]
    layers = Layers(sources.fleet, src.doc, tuple(model["profiles"]))
    profiles = []
    for pname, i in layers.profiles:
        p = layers.fleet_key("profiles", i)
        profiles.append({"name": pname, "file": display_path(p.file), "line": p.line,
                         "match": sources.fleet.data["profiles"][i]["match"]})
    exp = Explanation(name, src.doc.path, profiles, model)
    exp.values = _values(layers, model)
    exp.inputs = _inputs(layers, model)
    exp.constants = _constants(layers, model)
    exp.steps = _steps(model)
    return exp


def _shown(value) -> str:
    if isinstance(value, str):
        return value if value and value.strip() == value and "\n" not in value else json.dumps(value)
    return json.dumps(value)


def render_text(exp: Explanation) -> str:
    lines = [f"{exp.name}  ({display_path(exp.instance_file)})"]
    if exp.profiles:
        lines.append("profiles: " + ", ".join(f"{p['name']} ({p['file']}:{p['line']}, match {' '.join(p['match'])})"
                                              for p in exp.profiles))
    else:
        lines.append("profiles: none match")
    lines += ["", "Quota arithmetic (integer millicores and MiB; fractions are truncated)"]
    lines += [f"  {v.path:<22} = {v.value:<6} {v.source.describe()}" for v in exp.inputs]
    lines.append("")
    for s in exp.steps:
        mark = f"   <- the templates give {s.value}{s.unit}; this formula gives {s.expected}{s.unit}" \
            if s.expected is not None else ""
        lines.append(f"  {s.text}{mark}")
    lines += ["", "Constants (resourceModel)"]
    width = max(len(v.path) for v in exp.constants) if exp.constants else 0
    lines += [f"  {v.path:<{width}}  {_shown(v.value):<6}  {v.source.describe()}" for v in exp.constants]
    lines += ["", "Values"]
    width = max(len(v.path) for v in exp.values) if exp.values else 0
    for v in exp.values:
        lines.append(f"  {v.path:<{width}}  {_shown(v.value)}  <- {v.source.describe()}")
    if exp.mismatches:
        lines += ["", (f"warning: {len(exp.mismatches)} figure(s) do not match the documented formula: "
                       "the templates changed; update generator/explain.py")]
    return "\n".join(lines) + "\n"


def render_json(exp: Explanation) -> str:
    return json.dumps(exp.to_json(), indent=2, ensure_ascii=False) + "\n"
