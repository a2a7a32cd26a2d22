"""`fleet explain NAME`: the resolved model of one instance, where each value came from,
and the arithmetic behind every quota figure.

Provenance is worked out here, in Python, from the same layers the Jsonnet model
merges (built-in defaults < fleet.yaml < matching profiles in order < the
instance file), using the line numbers the YAML loader recorded. What the model
knows is said by the model: its built-in defaults, which fleet.yaml key sets
which value, how derived values are derived, and every quota figure with its
formula and this instance's numbers come from the `explain` view of
templates/fleet.jsonnet (templates/model/instance.libsonnet and quota.libsonnet,
beside the code that computes them). This module only finds lines and displays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import fleet as fleet_mod
from . import fleetdir
from .errors import Diagnostic, FleetError, display_path
from .model import EXPLAIN, ModelEngine
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


@dataclass(frozen=True)
class QuotaStep:
    """One quota figure: its value, the formula in words and the arithmetic with this instance's
    numbers, as templates/model/quota.libsonnet computes them."""

    name: str
    value: int
    unit: str
    formula: str
    arithmetic: str  # the right-hand side: "controller 1900m + 10 x jnlp 200m + 5 packs x 2000m"

    @property
    def text(self) -> str:
        return f"{self.name} {self.value}{self.unit} = {self.arithmetic}"

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "unit": self.unit, "formula": self.formula,
                "arithmetic": self.text}


@dataclass
class Explanation:
    name: str
    instance_file: str
    profiles: list[dict]
    model: dict
    values: list[Value] = field(default_factory=list)
    constants: list[Value] = field(default_factory=list)
    inputs: list[Value] = field(default_factory=list)
    steps: list[QuotaStep] = field(default_factory=list)

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

SETTINGS = ("jenkins", "deployment", "storage", "agents", "buildTools", "resourceModel", "monitoring")


class Layers:
    def __init__(self, fleet_doc: Document, inst_doc: Document, profiles: tuple[str, ...], view: dict):
        self.fleet = fleet_doc
        self.inst = inst_doc
        self.view = view  # the model's explain view (templates/model/instance.libsonnet)
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
        key = self.view["fleetKeys"].get(_dotted(path))  # a setting of fleet.yaml's defaults
        section = self.view["fleetSections"].get(path[0])  # a section with the same shape in fleet.yaml
        if key:
            mapped = tuple(key.split("."))
        elif section:
            mapped = tuple(section.split(".")) + path[1:]
        else:
            return None
        return self._fleet_src(mapped) if self.fleet.has(mapped) else None

    def built_in(self, path: tuple) -> Source:
        return Source("built-in", note=self.view["builtIn"].get(_dotted(path), ""))

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


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


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
        return layers.instance(path) or _derived(layers, model, path) or layers.built_in(path)
    if head == "resources":
        return Source("computed", note="see the quota arithmetic")
    if head in ("labels", "selector"):
        return _derived(layers, model, (head,))
    if path == ("jenkins", "requestedVersion"):
        return layers.layered(("jenkins", "version")) or layers.built_in(path)
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
    return layers.built_in(path)


def _derived(layers: Layers, model: dict, path: tuple) -> Source | None:
    """How the model derives a value no layer sets (its explain view says), with the fleet.yaml line
    it comes from; the plugin catalog is Python's (generator/plugins.py)."""
    if path == ("jenkins", "pluginCatalog"):
        version = model["jenkins"]["version"]
        if layers.fleet.has(("controllers", "versions", version, "catalog")):
            src = layers.fleet_key("controllers", "versions", version, "catalog")
            return Source("derived", src.file, src.line, note=f"controllers.versions['{version}'].catalog")
        return Source("derived", note="no catalog for this Jenkins version: plugins are not pinned")
    how = layers.view["derived"].get(_dotted(path))
    if how is None:
        return None
    if how.get("from") and layers.fleet.has(tuple(how["from"])):
        src = layers.fleet_key(*how["from"])
        return Source("derived", src.file, src.line, note=how["note"])
    return Source("derived", note=how["note"])


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

def _inputs(layers: Layers, model: dict) -> list[Value]:
    P = model["project"]["resourcePacks"]
    C, S = model["jenkins"]["maxConcurrency"], model["jenkins"]["staticAgentCount"]
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
    model = gen.models[name]  # with its image's content tag, which rendering adds
    checked = fleet_mod.check_sources(paths, (name,))
    sources = checked.sources
    view = ModelEngine(paths.templates).evaluate(sources.fleet.data, checked.inputs, objects=False,
                                                 view=EXPLAIN)[name]["explain"]
    src = sources.instances[name]
    layers = Layers(sources.fleet, src.doc, tuple(model["profiles"]), view)
    profiles = []
    for pname, i in layers.profiles:
        p = layers.fleet_key("profiles", i)
        profiles.append({"name": pname, "file": display_path(p.file), "line": p.line,
                         "match": sources.fleet.data["profiles"][i]["match"]})
    exp = Explanation(name, src.doc.path, profiles, model)
    exp.values = _values(layers, model)
    exp.inputs = _inputs(layers, model)
    exp.constants = _constants(layers, model)
    exp.steps = [QuotaStep(**step) for step in view["quota"]]
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
    lines += [f"  {s.text}" for s in exp.steps]
    lines += ["", "Constants (resourceModel)"]
    width = max(len(v.path) for v in exp.constants) if exp.constants else 0
    lines += [f"  {v.path:<{width}}  {_shown(v.value):<6}  {v.source.describe()}" for v in exp.constants]
    lines += ["", "Values"]
    width = max(len(v.path) for v in exp.values) if exp.values else 0
    for v in exp.values:
        lines.append(f"  {v.path:<{width}}  {_shown(v.value)}  <- {v.source.describe()}")
    return "\n".join(lines) + "\n"


def render_json(exp: Explanation) -> str:
    return json.dumps(exp.to_json(), indent=2, ensure_ascii=False) + "\n"
