"""Import an existing Jiro fleet (eclipse-cbi/jiro) into instance definitions.

Per Jiro instance (JIRO_CHECKOUT/instances/<name>/):
  config.jsonnet             -> <into>/<fullName>/instance.yaml
  jenkins/configuration.yml  -> <into>/<fullName>/jenkins.yaml (our JCasC override; same merge rules)
and, when <into> has no fleet.yaml yet, fleet settings that reproduce Jiro's defaults.

How config.jsonnet is evaluated: it is an object of `+:` overrides meant to be
merged over Jiro's templates/config.libsonnet. That file cannot be evaluated
outside Jiro's own workspace (it imports the sibling repositories jiro-masters
and jiro-agents), and evaluating the override object alone (`{} + config`)
breaks on the many instances that refer to defaults (`super.permissions`,
`currentCloud.templates["ubuntu-2404"]`, `$.project.unixGroupName`). So we
evaluate `STAND_IN + config`, where STAND_IN (below) is a small re-statement of
Jiro's defaults, late-bound on `$` like the original. A second object,
`STAND_IN + <the inputs we map>`, is what Jiro would have produced had the
instance changed nothing else; every difference between the two that no
mapping rule consumed is reported as "not imported". That makes the report
complete by construction instead of depending on a list of known keys.

Imports inside config.jsonnet resolve from the Jiro checkout and may not leave
it; `templates/config.libsonnet` resolves to the stand-in.

Values are written only where they differ from what the fleet settings give
the instance anyway; those defaults come from resolving a minimal stub of each
instance with our own model (templates/model), so profiles are honoured.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import yaml

from . import checks, fleetdir, jcasc, jiro_jcasc, yamlout
from . import fleet as fleetmod
from . import jsonnet as _jsonnet
from .catalog import CATALOG_DIR
from .catalog import load_all as load_catalogs
from .errors import Diagnostic, FleetError, sort_diagnostics
from .fleetdir import (
    FLEET_FILE,
    INSTANCE_FILE,
    OVERRIDE_FILE,
    FleetSources,
    schema_modeline,
)
from .jiro_defaults import (
    CONSUMED,
    CROSS_CHECK,
    EVAL_SNIPPET,
    FALLBACK_AGENT_TAG,
    FALLBACK_BASE_PLUGINS,
    FALLBACK_LATEST,
    FLEET_NOT_IMPORTED,
    JIRO_ADMIN_EMAIL,
    JIRO_ADMIN_GROUP,
    JIRO_CLUSTER,
    JIRO_COMMITTER_PERMISSIONS,
    JIRO_CONNECTION_TIMEOUT,
    JIRO_HOME_CLAIM_TEMPLATE,
    JIRO_HOST,
    JIRO_IMAGE_REPOSITORY,
    JIRO_LDAP,
    JIRO_READ_GROUP,
    JIRO_READ_PERMISSIONS,
    JIRO_REPOSITORY,
    JIRO_RESOURCE_MODEL,
    JIRO_STORAGE_SIZE,
    JIRO_THEMES,
    JIRO_TIMEZONE,
    JIRO_TOOL_DEFAULTS,
    JIRO_TOOL_SECRETS,
    KNOWN_FILES,
    REASONS,
    STAND_IN,
    STAND_IN_NAME,
    STANDARD_WRAPPER,
    TEMPLATE_REASON,
    THEME_PLUGINS,
)
from .model import ModelEngine, ModelInput
from .output import dump_yaml, write_file
from .plugins import UNKNOWN as UNKNOWN_PLUGIN
from .plugins import parse_spec
from .quantity import same_quantity
from .schema import FLEET_SCHEMA, INSTANCE_SCHEMA, Schemas, validate_document
from .sources import format_path, load
from .version_number import version_key

# A new fleet's image repository until the user names theirs: the .invalid top-level domain
# (RFC 2606) never resolves, so nothing can be pushed there by mistake.
PLACEHOLDER_IMAGE_REPOSITORY = "registry.invalid/jenkins-fleet"

DOCS = "docs/importing-from-jiro.md"

# --- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NotImported:
    path: str  # Jiro path, e.g. maven.files["settings.xml"].servers["ossrh-s01"]
    reason: str

    def text(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class InstanceReport:
    jiro_name: str  # directory under JIRO_CHECKOUT/instances
    name: str = ""  # fullName, the directory written under --into
    status: str = "failed"  # imported | failed | exists
    files: list[str] = field(default_factory=list)
    not_imported: list[NotImported] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Jiro's plugin requests that the catalog of the instance's Jenkins version does not have
    missing_plugins: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "jiroName": self.jiro_name, "name": self.name, "status": self.status, "files": self.files,
            "notImported": [dataclasses.asdict(n) for n in self.not_imported], "notes": self.notes,
            "missingFromCatalog": self.missing_plugins,
            "diagnostics": [_diag_json(d) for d in self.diagnostics],
        }


@dataclass
class ImportResult:
    checkout: str
    into: str
    fleet_written: bool
    instances: list[InstanceReport]
    fleet_notes: list[str]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status == "imported" and not any(d.is_error for d in r.diagnostics) for r in self.instances)

    def as_json(self) -> dict:
        counts = Counter(r.status for r in self.instances)
        return {
            "checkout": self.checkout, "into": self.into, "fleetSettingsWritten": self.fleet_written,
            "fleetNotImported": FLEET_NOT_IMPORTED, "fleetNotes": self.fleet_notes,
            "instances": [r.as_json() for r in self.instances],
            "summary": {"imported": counts["imported"], "failed": counts["failed"], "exists": counts["exists"],
                        "seconds": round(self.seconds, 3)},
        }


def _diag_json(d: Diagnostic) -> dict:
    return {"file": d.file, "line": d.line, "column": d.column, "key": d.key, "severity": d.severity,
            "message": d.message, "hint": d.hint}


# --- what Jiro generated (target/config.json, committed in the Jiro repository) ----------------

@dataclass
class JiroFacts:
    """Checkout-wide facts that config.jsonnet does not carry: what 'latest' meant, base plugins, images."""

    latest: str
    latest_known: bool
    plugins: dict[str, list[str]]  # Jenkins version -> Jiro's base plugins
    images: dict[str, str]  # Jenkins version -> controller base image
    agent_tags: dict[str, str]  # Jenkins version -> agent image tag
    instance_tags: dict[str, str]  # Jiro instance name -> agent image tag Jiro used
    resolved: dict[str, dict[tuple, Any]]  # Jiro instance name -> the CROSS_CHECK values Jiro resolved
    image_repository: str
    # Jiro instance name -> the names of its StatefulSet, home claim template and Route, from the
    # committed k8s objects (target/k8s/statefulset.json, route.json)
    names: dict[str, dict[str, str]] = field(default_factory=dict)

    def agent_tag(self, version: str) -> str:
        return self.agent_tags.get(version) or self.agent_tags.get(self.latest) or FALLBACK_AGENT_TAG

    def base_plugins(self, version: str) -> list[str]:
        return self.plugins.get(version) or self.plugins.get(self.latest) or FALLBACK_BASE_PLUGINS

    def image(self, version: str) -> str:
        return self.images.get(version) or f"{JIRO_REPOSITORY}/jiro-master:{version}"


def read_facts(instances_dir: str, names: list[str]) -> JiroFacts:
    latest_votes: Counter = Counter()
    plugins: dict[str, list[str]] = {}
    images: dict[str, str] = {}
    tags: dict[str, Counter] = {}
    instance_tags: dict[str, str] = {}
    resolved: dict[str, dict] = {}
    repositories: Counter = Counter()
    state_names = {name: _committed_names(os.path.join(instances_dir, name, "target", "k8s")) for name in names}
    for name in names:
        try:
            with open(os.path.join(instances_dir, name, "target", "config.json"), encoding="utf-8") as fh:
                target = json.load(fh)
            master = target["jiroMaster"]
            version = str(master["version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no committed output for this instance: nothing to learn from it
        if target.get("jenkins", {}).get("version") == "latest":
            latest_votes[version] += 1
        if isinstance(master.get("plugins"), list):
            plugins.setdefault(version, [str(p) for p in master["plugins"]])
        docker = master.get("docker") or {}
        if {"registry", "repository", "image", "tag"} <= set(docker):
            images.setdefault(version, "{registry}/{repository}/{image}:{tag}".format(**docker))
        basic = target.get("clouds", {}).get("kubernetes", {}).get("templates", {}).get("basic", {})
        tag = basic.get("docker", {}).get("tag")
        if isinstance(tag, str):
            tags.setdefault(version, Counter())[tag] += 1
            instance_tags[name] = tag
        resolved[name] = {p: _get(target, p) for p in CROSS_CHECK if _get(target, p) is not None}
        ctl = target.get("docker", {}).get("master", {})
        if "registry" in ctl and "repository" in ctl:
            repositories[f"{ctl['registry']}/{ctl['repository']}"] += 1
    if latest_votes:
        top = max(latest_votes.values())
        latest = max((v for v, n in latest_votes.items() if n == top), key=version_key)
    else:
        latest = FALLBACK_LATEST
    return JiroFacts(
        latest=latest, latest_known=bool(latest_votes), plugins=plugins, images=images,
        agent_tags={v: c.most_common(1)[0][0] for v, c in tags.items()}, instance_tags=instance_tags,
        resolved=resolved,
        image_repository=repositories.most_common(1)[0][0] if repositories else JIRO_IMAGE_REPOSITORY,
        names={name: found for name, found in state_names.items() if found})


def _committed_names(k8s_dir: str) -> dict[str, str]:
    """The names Jiro applied to the cluster for one instance, as far as its committed objects say."""
    found: dict[str, str] = {}
    for file, pick in (("statefulset.json", _statefulset_names), ("route.json", _route_name)):
        try:
            with open(os.path.join(k8s_dir, file), encoding="utf-8") as fh:
                found.update(pick(json.load(fh)))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            continue  # not committed, or not the shape Jiro writes: the naming rules apply
    return {k: v for k, v in found.items() if isinstance(v, str)}


def _statefulset_names(obj: dict) -> dict[str, str]:
    claims = obj["spec"]["volumeClaimTemplates"]
    out = {"statefulSetName": obj["metadata"]["name"]}
    if len(claims) == 1:
        out["claimTemplateName"] = claims[0]["metadata"]["name"]
    return out


def _route_name(obj: dict) -> dict[str, str]:
    return {"routeName": obj["metadata"]["name"]}


# --- evaluating config.jsonnet ---------------------------------------------------------------

# Jiro helpers the stand-in uses when the checkout has them, and what replaces them otherwise.
JIRO_HELPERS = {
    "plugins.libsonnet": "{ additionalPlugins(projectFullName):: [] }",
    "permissions_extra.libsonnet": "{ additionalPermissions(projectFullName):: [] }",
}
HELPER_PREFIX = "jiro-import:"


def missing_helpers(checkout: str) -> list[str]:
    return [name for name in JIRO_HELPERS if not os.path.isfile(os.path.join(checkout, "templates", name))]


class _Refused(Exception):
    """An import the Jiro checkout cannot or may not give."""


class _Imports:
    """Jsonnet imports: the stand-in by name, everything else from inside the Jiro checkout only."""

    def __init__(self, checkout: str | None):
        self.root = os.path.realpath(checkout) if checkout else None
        self.config_lib = os.path.join(self.root, "templates", "config.libsonnet") if self.root else None

    def __call__(self, base: str, rel: str):
        try:
            return self._find(base, rel)
        except _Refused as exc:
            # Not raised into the binding: go-jsonnet's C bridge copies a callback's exception text
            # unreliably (now and then a UnicodeDecodeError with stray bytes, seen in our tests), so
            # a refused import is a file whose evaluation fails with our message.
            return f"<refused import {rel}>", f"error {json.dumps(str(exc))}".encode()

    def _find(self, base: str, rel: str):
        if rel == STAND_IN_NAME:
            return STAND_IN_NAME, STAND_IN.encode()
        if rel.startswith(HELPER_PREFIX):
            name = rel[len(HELPER_PREFIX):]
            path = os.path.join(self.root, "templates", name) if self.root else ""
            if not os.path.isfile(path):
                return rel, JIRO_HELPERS[name].encode()
            rel, base = path, ""
        if self.root is None:
            raise _Refused(f"import '{rel}' is not available here")
        path = os.path.realpath(os.path.join(base, rel))
        if path == self.config_lib:
            return path, STAND_IN.encode()  # Jiro's defaults: the stand-in
        if os.path.commonpath([path, self.root]) != self.root:
            raise _Refused(f"import '{rel}' leaves the Jiro checkout")
        try:
            with open(path, "rb") as fh:
                return path, fh.read()
        except OSError as exc:
            raise _Refused(f"cannot import '{rel}': {exc.strerror}") from None


def _stand_in_params(agent_tag: str) -> dict[str, str]:
    params = {
        "constants": JIRO_RESOURCE_MODEL, "committerPermissions": JIRO_COMMITTER_PERMISSIONS,
        "readGroup": JIRO_READ_GROUP, "readPermissions": JIRO_READ_PERMISSIONS, "adminGroup": JIRO_ADMIN_GROUP,
        "host": JIRO_HOST, "cluster": JIRO_CLUSTER, "timezone": JIRO_TIMEZONE,
        "connectionTimeout": JIRO_CONNECTION_TIMEOUT, "agentTag": agent_tag,
    }
    return {"jiro": json.dumps(params)}


def evaluate(checkout: str, instance_dir: str, agent_tag: str) -> tuple[dict, dict]:
    """(merged, base) for one instance; RuntimeError with Jsonnet's message on failure."""
    out = _jsonnet.evaluate_snippet(
        os.path.join(instance_dir, "<import-jiro>.jsonnet"), EVAL_SNIPPET % {"stand_in": STAND_IN_NAME},
        ext_codes=_stand_in_params(agent_tag), import_callback=_Imports(checkout), max_trace=6)
    result = json.loads(out)
    return result["merged"], result["base"]


# --- small helpers ------------------------------------------------------------------------------

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # else ["key"], as Jsonnet writes it


def jiro_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def differences(merged: Any, base: Any, path: tuple = ()) -> list[tuple]:
    """Paths where `merged` differs from `base`: added or removed keys, or different values."""
    if isinstance(merged, dict) and isinstance(base, dict):
        out: list[tuple] = []
        for key in merged:
            out += [path + (key,)] if key not in base else differences(merged[key], base[key], path + (key,))
        out += [path + (key,) for key in base if key not in merged]
        return out
    return [] if merged == base else [path]


def _under(path: tuple, prefixes) -> bool:
    return any(path[:len(p)] == p for p in prefixes)


def _reason(path: tuple) -> str:
    for prefix, reason in REASONS:
        if path[:len(prefix)] == prefix:
            return reason
    return "no equivalent in the instance schema"


def _get(data: Any, path: tuple, default=None):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _leaf_diff(wanted: dict, have: dict) -> dict:
    """The leaves of `wanted` whose value differs from `have` (nested dicts kept as nested)."""
    out = {}
    for key, value in wanted.items():
        if isinstance(value, dict):
            sub = _leaf_diff(value, have.get(key, {}) if isinstance(have.get(key), dict) else {})
            if sub:
                out[key] = sub
        elif have.get(key) != value:
            out[key] = value
    return out


class _Fits:
    """Does a value fit one part of the instance schema? (Keeps the regexes in one place: the schema.)"""

    def __init__(self, schema: dict):
        self.schema = schema
        self._cache: dict[str, Any] = {}

    def __call__(self, pointer: str, value: Any) -> bool:
        if pointer not in self._cache:
            node: Any = self.schema
            for part in pointer.strip("/").split("/"):
                node = node[part]
            if "$ref" in node:
                node = self.schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
            self._cache[pointer] = jsonschema_rs.Draft202012Validator(node)
        return self._cache[pointer].is_valid(value)

    def hint(self, pointer: str) -> str:
        node: Any = self.schema
        for part in pointer.strip("/").split("/"):
            node = node[part]
        return node.get("x-hint", "")


P_PROJECT = "properties/project/properties/"
P_JENKINS = "properties/jenkins/properties/"
P_DEPLOY = "properties/deployment/properties/"
P_STORAGE = "properties/storage/properties/"
P_TEMPLATE = "properties/agents/properties/podTemplates/items/properties/"
P_PERMISSION = "$defs/permission"
P_PLUGIN = "$defs/pluginId"
P_PRINCIPAL = P_JENKINS + "permissions/items/properties/group"
P_PROMETHEUS = "$defs/prometheusPlugin/properties/"
P_SECURITY = "properties/security/properties/"  # in the fleet schema


# --- mapping one instance ------------------------------------------------------------------------

STATE_NAMES = {"statefulSetName": "StatefulSet", "claimTemplateName": "home volume's claim template",
               "routeName": "Route"}
LOST_STATE = ("; the controller will not find its Jiro home volume under our names: move the data as "
              f"{DOCS} says (Moving the home volume)")

@dataclass
class Evaluated:
    report: InstanceReport
    directory: str  # the Jiro instance directory
    merged: dict
    base: dict
    version: str = "latest"  # the Jenkins version to write ('latest': none)
    names: dict[str, str] = field(default_factory=dict)  # JiroFacts.names of this instance
    jcasc: jiro_jcasc.JiroJcasc | None = None  # what Jiro's generated JCasC set beyond config.jsonnet


class Mapper:
    """Turns one evaluated Jiro instance into our instance definition (a dict in the file's key order)."""

    def __init__(self, ev: Evaluated, defaults: dict, fits: _Fits):
        self.ev = ev
        self.jiro = ev.merged  # the instance's Jiro config.jsonnet, merged over Jiro's defaults
        self.jiro_base = ev.base  # Jiro's defaults alone: what the instance did not choose
        self.ours = defaults  # the model our fleet gives the instance without an instance setting
        self.fits = fits
        self.report = ev.report
        self.skip = lambda path, reason: self.report.not_imported.append(NotImported(jiro_path(path), reason))

    def build(self) -> dict:
        doc = {"project": self.project(), "jenkins": self.jenkins(), "deployment": self.deployment(),
               "storage": self.storage(), "agents": self.agents(), "buildTools": self.build_tools(),
               "monitoring": self.monitoring(), "resourceModel": self.resource_model()}
        self.security()
        self.leftovers()
        return {k: v for k, v in doc.items() if v or k == "project"}

    # project ---------------------------------------------------------------------------------
    def project(self) -> dict:
        p = self.jiro["project"]
        out = {"fullName": p["fullName"], "displayName": p["displayName"]}
        if p.get("shortName") != p["fullName"].rsplit(".", 1)[-1]:
            out["shortName"] = p["shortName"]
        if p.get("resourcePacks", 1) != 1:
            out["resourcePacks"] = p["resourcePacks"]
        if p.get("unixGroupName", p["fullName"]) != p["fullName"]:
            out["unixGroupName"] = p["unixGroupName"]
        return out

    # jenkins ---------------------------------------------------------------------------------
    def jenkins(self) -> dict:
        j, dj = self.jiro.get("jenkins", {}), self.ours["jenkins"]
        out: dict = {}
        if self.ev.version != "latest":
            out["version"] = self.ev.version
        for key in ("maxConcurrency", "staticAgentCount", "agentConnectionTimeout", "timezone"):
            if key in j and j[key] != dj[key]:
                if self.fits(P_JENKINS + key, j[key]):
                    out[key] = j[key]
                else:
                    self.skip(("jenkins", key), f"{j[key]!r} does not fit the instance schema "
                                                f"({self.fits.hint(P_JENKINS + key) or 'see its range'})")
        theme = j.get("theme", "quicksilver")
        if theme not in JIRO_THEMES:
            self.skip(("jenkins", "theme"), f"unknown Jiro theme {theme!r}; the fleet's theme applies")
        elif JIRO_THEMES[theme] != dj["theme"]:
            out["theme"] = JIRO_THEMES[theme]
        plugins = self.plugins(j.get("plugins", []), dj["plugins"])
        if plugins:
            out["plugins"] = plugins
        permissions = self.permissions(j.get("permissions", []), dj["permissions"])
        if permissions:
            out["permissions"] = permissions
        return out

    def plugins(self, jiro: list, fleet_plugins: list) -> list:
        provided = {p.split(":", 1)[0] for p in fleet_plugins}
        out, already = [], []
        for spec in jiro:
            if not isinstance(spec, str) or not self.fits(P_PLUGIN, spec):
                self.skip(("jenkins", "plugins"), f"{spec!r} is not a plugin id")
            elif spec.split(":", 1)[0] in provided:
                already.append(spec)
            elif spec not in out:
                out.append(spec)
        if already:
            self.report.notes.append(f"plugins already provided by the fleet (base set or profiles), not repeated: "
                                     f"{', '.join(already)}")
        return out

    def permissions(self, jiro: list, fleet_entries: list) -> list:
        granted: dict[tuple, list] = {}
        for i, entry in enumerate(jiro):
            principal = _principal(entry)
            if principal is None:
                self.skip(("jenkins", "permissions", i), "not a group or user permission entry")
                continue
            kind, name, perms = principal
            granted.setdefault((kind, name), [])
            granted[(kind, name)] += [p for p in perms if p not in granted[(kind, name)]]
        fleet = {(e["kind"], e["name"]): e["permissions"] for e in fleet_entries}
        out = []
        for (kind, name), perms in granted.items():
            extra = [p for p in perms if p not in fleet.get((kind, name), [])]
            unknown = [p for p in extra if not isinstance(p, str) or not self.fits(P_PERMISSION, p)]
            extra = [p for p in extra if p not in unknown]
            if unknown:
                self.skip(("jenkins", "permissions"), f"{kind} {name}: {', '.join(map(str, unknown))} "
                                                      "(not in the permission list of the instance schema)")
            if extra and not self.fits(P_PRINCIPAL, name):
                self.skip(("jenkins", "permissions"), f"{kind} name {name!r} does not fit the instance schema")
            elif extra:
                out.append({kind: name, "permissions": extra})
        for (kind, name), perms in fleet.items():
            more = [p for p in perms if p not in granted.get((kind, name), [])]
            if more:
                self.skip(("jenkins", "permissions"), f"the fleet grants {kind} {name} {', '.join(more)}, "
                                                      "which Jiro did not; fleet grants cannot be removed per instance")
        return out

    # deployment --------------------------------------------------------------------------------
    def deployment(self) -> dict:
        dep, dd = self.jiro.get("deployment", {}), self.ours["deployment"]
        out: dict = {}
        wanted = {
            "host": dep.get("host", JIRO_HOST),
            "prefix": _prefix(dep.get("prefix", "/" + self.jiro["project"]["shortName"])),
            "cluster": dep.get("cluster", JIRO_CLUSTER),
            "namespace": _get(self.jiro, ("kubernetes", "master", "namespace"), self.jiro["project"]["shortName"]),
        }
        if "seLinuxLevel" in self.jiro:
            wanted["seLinuxLevel"] = self.jiro["seLinuxLevel"]
        short = self.jiro["project"]["shortName"]
        wanted["statefulSetName"] = self.state_name(
            "statefulSetName", _get(self.jiro, ("kubernetes", "master", "stsName"), short))
        wanted["routeName"] = self.state_name("routeName", short)
        for key, value in wanted.items():
            if value == dd.get(key):
                continue
            if self.fits(P_DEPLOY + key, value):
                out[key] = value
            else:
                source = {"namespace": ("kubernetes", "master", "namespace"),
                          "statefulSetName": ("kubernetes", "master", "stsName"),
                          "routeName": ("project", "shortName"),
                          "seLinuxLevel": ("seLinuxLevel",)}.get(key, ("deployment", key))
                self.skip(source, f"{value!r} does not fit the instance schema ({self.fits.hint(P_DEPLOY + key)})"
                          + (LOST_STATE if key in ("statefulSetName", "routeName") else ""))
        return out

    def state_name(self, key: str, rule: str) -> str:
        """A name that holds state: what Jiro's committed objects say, else Jiro's naming rule."""
        committed = self.ev.names.get(key)
        if committed is None:
            return rule
        if committed != rule:
            self.report.notes.append(f"Jiro's committed objects name the {STATE_NAMES[key]} {committed!r}, not "
                                     f"{rule!r} as its templates would: {committed!r} is kept")
        return committed

    # storage ------------------------------------------------------------------------------------
    def storage(self) -> dict:
        st, ds = self.jiro.get("storage", {}), self.ours["storage"]
        if not isinstance(st, dict):
            self.skip(("storage",), "not a mapping")
            return {}
        out: dict = {}
        for key in st:
            if key not in ("storageClassName", "quota"):
                self.skip(("storage", key), "only storageClassName and quota are imported")
        cls = st.get("storageClassName", "")
        if cls != ds["storageClassName"]:
            if cls == "":
                self.skip(("storage", "storageClassName"),
                          f"Jiro used the cluster's default storage class; the fleet default "
                          f"{ds['storageClassName']!r} applies")
            elif self.fits(P_STORAGE + "storageClassName", cls):
                out["storageClassName"] = cls
            else:
                self.skip(("storage", "storageClassName"), f"{cls!r} does not fit the instance schema")
        claim = self.state_name("claimTemplateName", JIRO_HOME_CLAIM_TEMPLATE)
        if claim != ds["claimTemplateName"]:
            if self.fits(P_STORAGE + "claimTemplateName", claim):
                out["claimTemplateName"] = claim
            else:
                self.skip(("storage",), f"the claim template {claim!r} does not fit the instance schema "
                                        f"({self.fits.hint(P_STORAGE + 'claimTemplateName')}){LOST_STATE}")
        size = st.get("quota", JIRO_STORAGE_SIZE)
        if not same_quantity(size, ds["size"]):
            if self.fits(P_STORAGE + "size", size):
                out["size"] = size
            else:
                self.skip(("storage", "quota"), f"{size!r} does not fit the instance schema "
                                                f"({self.fits.hint(P_STORAGE + 'size')})")
        return out

    # agents ---------------------------------------------------------------------------------------
    def agents(self) -> dict:
        path = ("clouds", "kubernetes", "templates")
        jiro = _get(self.jiro, path, {})
        base = _get(self.jiro_base, path, {})
        default_res = _get(self.jiro, ("kubernetes", "agents", "defaultResources"), {})
        fleet_templates = {t["name"]: t for t in self.ours["agents"]["podTemplates"]}
        agent_res = self.ours["resources"]["agent"]
        out = []
        for name, t in sorted(jiro.items()):
            origin = base.get(name) or _origin(t, base)
            for diff in differences(_template_rest(t), _template_rest(origin)):
                self.skip(path + (name,) + diff, TEMPLATE_REASON)
            ours = self.template(name, t, default_res)
            if ours is None:
                continue
            have = fleet_templates.get(name)
            if have is not None and not ours.get("resources") and have["resources"] == agent_res and all(
                    have.get(k) == ours.get(k, "EXCLUSIVE" if k == "mode" else None)
                    for k in ("labels", "image", "mode")):
                continue  # the fleet already gives the instance this very template
            out.append(ours)
        for name in sorted(set(base) - set(jiro)):
            if name in fleet_templates:
                self.skip(path + (name,), "removed in Jiro, but the fleet still provides this pod template")
        for name in sorted(set(fleet_templates) - set(jiro)):
            self.report.notes.append(f"the fleet adds pod template '{name}', which Jiro did not have")
        return {"podTemplates": out} if out else {}

    def template(self, name: str, t: dict, default_res: dict) -> dict | None:
        where = ("clouds", "kubernetes", "templates", name)
        docker = t.get("docker", {})
        image = "{registry}/{repository}/{image}:{tag}".format(**docker) \
            if {"registry", "repository", "image", "tag"} <= set(docker) else None
        labels = t.get("labels", [name])
        problems = [(key, value) for key, value, ptr in (("name", name, "name"), ("image", image, "image"),
                                                          ("labels", labels, "labels"))
                    if not self.fits(P_TEMPLATE + ptr, value)]
        if problems:
            self.skip(where, "cannot be expressed: " + ", ".join(f"{k} {v!r} does not fit the instance schema"
                                                                 for k, v in problems))
            return None
        ours: dict = {"name": name, "labels": list(labels), "image": image}
        if t.get("mode", "EXCLUSIVE") != "EXCLUSIVE":
            ours["mode"] = t["mode"]
        resources: dict = {}
        res = _get(t, ("kubernetes", "resources"), {})
        for kind in ("cpu", "memory"):
            for side in ("request", "limit"):
                value = _get(res, (kind, side))
                default = _get(default_res, (kind, side))
                if value is None or (default is not None and same_quantity(value, default)):
                    continue
                ptr = f"{P_TEMPLATE}resources/properties/{kind}/properties/{side}"
                if self.fits(ptr, value):
                    resources.setdefault(kind, {})[side] = value
                else:
                    self.skip(where + ("kubernetes", "resources", kind, side),
                              f"{value!r} does not fit the instance schema ({self.fits.hint(ptr)})")
        if resources:
            ours["resources"] = resources
        return ours

    # build tools ------------------------------------------------------------------------------------
    def build_tools(self) -> dict:
        out: dict = {}
        for tool, jiro_default in JIRO_TOOL_DEFAULTS.items():
            enabled = _get(self.jiro, (tool, "generate"), jiro_default)
            if not isinstance(enabled, bool):
                self.skip((tool, "generate"), "not true or false")
                continue
            have = self.ours["buildTools"].get(tool, {})
            entry: dict = {}
            if enabled != have.get("enabled", False):
                entry["enabled"] = enabled
            if enabled:
                for key, ref in JIRO_TOOL_SECRETS[tool].items():
                    if have.get(key) != ref:
                        entry[key] = dict(ref)
            if entry:
                out[tool] = entry
        return out

    # what Jiro's generated JCasC set: Prometheus plugin, security ------------------------------------------
    def monitoring(self) -> dict:
        jcasc = self.ev.jcasc
        if jcasc is None or jcasc.prometheus is None:
            return {}
        url = _get(self.jiro, ("deployment", "url"), self.ours["deployment"]["url"])
        out, skipped = jiro_jcasc.monitoring_settings(jcasc.prometheus, self.ours["monitoring"], url)
        self.report.not_imported += [NotImported(s.path, s.reason) for s in skipped]
        return out

    def security(self) -> None:
        """Report only: the security settings are fleet-wide (fleet.yaml), never written per instance."""
        jcasc = self.ev.jcasc
        if jcasc is None or jcasc.security is None:
            return
        skipped, notes = jiro_jcasc.security_differences(jcasc.security, self.ours.get("security", {}))
        self.report.not_imported += [NotImported(s.path, s.reason) for s in skipped]
        self.report.notes += notes

    # resource constants --------------------------------------------------------------------------------
    def resource_model(self) -> dict:
        diff = _leaf_diff(JIRO_RESOURCE_MODEL, self.ours["resourceModel"])
        if diff:
            self.report.notes.append("the fleet's resource constants differ from Jiro's; Jiro's are kept for this "
                                     "instance (resourceModel)")
        return diff

    # everything else ------------------------------------------------------------------------------------
    def leftovers(self) -> None:
        for path in differences(self.jiro, self.jiro_base):
            if not _under(path, CONSUMED):
                self.skip(path, _reason(path))


def _principal(entry) -> tuple[str, str, list] | None:
    if not isinstance(entry, dict):
        return None
    for kind in ("group", "user"):
        inner = entry.get(kind)
        if (isinstance(inner, dict) and isinstance(inner.get("name"), str)
                and isinstance(inner.get("permissions"), list)):
            return kind, inner["name"], inner["permissions"]
    # Jiro's older form names no kind: e-mail addresses and matrix-auth's 'anonymous' are users.
    if isinstance(entry.get("principal"), str) and isinstance(entry.get("grantedPermissions"), list):
        name = entry["principal"]
        return ("user" if "@" in name or name == "anonymous" else "group"), name, entry["grantedPermissions"]
    return None


def _prefix(prefix: str) -> str:
    prefix = prefix.rstrip("/") if isinstance(prefix, str) else prefix
    return prefix


def _template_rest(t: dict) -> dict:
    """A Jiro pod template minus what we map (name, labels, mode, image, resources)."""
    rest = {k: v for k, v in t.items() if k not in ("name", "labels", "mode")}
    if isinstance(rest.get("docker"), dict):
        rest["docker"] = {k: v for k, v in rest["docker"].items()
                          if k not in ("registry", "repository", "image", "tag")}
    if isinstance(rest.get("kubernetes"), dict):
        rest["kubernetes"] = {k: v for k, v in rest["kubernetes"].items() if k != "resources"}
    return rest


def _origin(t: dict, base: dict) -> dict:
    """The default template a new one was most likely derived from (same agent image), else basic."""
    image = _get(t, ("docker", "image"))
    for candidate in base.values():
        if _get(candidate, ("docker", "image")) == image:
            return candidate
    return base.get("basic", {})


# --- fleet settings --------------------------------------------------------------------------------

def new_fleet(facts: JiroFacts, clusters: list[str], versions: list[str], stand_in_templates: list[dict],
              image_repository: str) -> dict:
    """Fleet settings that reproduce Jiro's defaults."""
    versions = sorted(set(versions) | {facts.latest}, key=version_key)
    return {
        "name": "jiro",
        "clusters": [{"name": c, "description": "imported from Jiro; set the real capacity",
                      "capacity": {"cpu": "1000", "memory": "4Ti"}} for c in sorted(set(clusters) | {JIRO_CLUSTER})],
        "defaults": {
            "cluster": JIRO_CLUSTER,
            "host": JIRO_HOST,
            "pathPrefix": "shortName",
            "timezone": JIRO_TIMEZONE,
            "theme": JIRO_THEMES["quicksilver"],
            "agentConnectionTimeout": JIRO_CONNECTION_TIMEOUT,
            "storageSize": JIRO_STORAGE_SIZE,
            "adminGroup": JIRO_ADMIN_GROUP,
            "adminEmail": JIRO_ADMIN_EMAIL,
            "readGroup": JIRO_READ_GROUP,
            "readPermissions": list(JIRO_READ_PERMISSIONS),
            "committerPermissions": list(JIRO_COMMITTER_PERMISSIONS),
            "agentImage": f"{JIRO_REPOSITORY}/jiro-agent-basic-ubuntu:{facts.agent_tag(facts.latest)}",
            "imageRepository": image_repository,
            "ldap": dict(JIRO_LDAP),
        },
        "resourceModel": json.loads(json.dumps(JIRO_RESOURCE_MODEL)),
        "controllers": {
            "latest": facts.latest,
            "versions": {v: {"image": facts.image(v),
                             "plugins": [p for p in facts.base_plugins(v) if p not in THEME_PLUGINS]
                                        + list(THEME_PLUGINS)}
                         for v in versions},
        },
        "profiles": [{
            "name": "jiro-defaults",
            "description": "What every Jiro instance had: its default pod templates and Maven settings",
            "match": ["*"],
            "set": {
                "agents": {"podTemplates": stand_in_templates},
                "buildTools": {"maven": {"enabled": True, **json.loads(json.dumps(JIRO_TOOL_SECRETS["maven"]))}},
            },
        }],
    }


def fleet_text(data: dict, facts: JiroFacts, modeline: str) -> str:
    notes = [
        "# Fleet settings written by `fleet import-jiro`: Jiro's defaults "
        "(eclipse-cbi/jiro templates/config.libsonnet).",
        "# Review before use:",
        "#  - clusters[].capacity is a placeholder (Jiro does not know it): set the real figures.",
        "#  - no defaults.storageClassName: Jiro used the cluster's default storage class.",
        f"#  - controllers.latest is what Jiro's 'latest' meant in the committed output ({facts.latest})"
        if facts.latest_known else
        f"#  - controllers.latest ({facts.latest}) is a guess: the checkout has no committed target/config.json.",
        f"#  - every controller version also gets the {' and '.join(THEME_PLUGINS)} plugins, for the imported "
        "themes.",
        *(["#  - security: what Jiro's generated JCasC had (builds run as the triggering user, no legacy API",
           "#    tokens, SSH server off, approved git host keys); the plugins they need are added to every controller."]
          if "security" in data else []),
        *(["#  - monitoring: the Prometheus plugin settings Jiro's JCasC had. Jiro generated no scrape objects:",
           "#    `scrape: annotations` only marks the jenkins-ui Services; use serviceMonitor with the Prometheus",
           "#    Operator, and load build/monitoring/*.rules.yaml into your Prometheus."]
          if "monitoring" in data else []),
        f"# See {DOCS}.",
    ]
    return modeline + "\n" + "\n".join(notes) + "\n" + dump_yaml(data, sort_keys=False)


# --- writing ---------------------------------------------------------------------------------------

def instance_text(report: InstanceReport, jiro_rel: str, doc: dict, modeline: str) -> str:
    lines = [f"# Imported from Jiro ({jiro_rel}) by `fleet import-jiro`; see {DOCS}."]
    if report.not_imported:
        lines.append("# not imported:")
        lines += [f"#   - {_one_line(n.text())}" for n in report.not_imported]
    else:
        lines.append("# not imported: nothing")
    return modeline + "\n" + "\n".join(lines) + "\n" + dump_yaml(doc, sort_keys=False)


def override_text(jiro_rel: str, raw: bytes) -> bytes:
    head = (f"# Imported from Jiro ({jiro_rel}/jenkins/configuration.yml): merged over the generated JCasC\n"
            "# (maps merge key by key, lists replace), as Jiro did.\n").encode()
    return head + raw + (b"" if raw.endswith(b"\n") or not raw else b"\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _wrapper_problem(instance_dir: str) -> str | None:
    path = os.path.join(instance_dir, "jiro.jsonnet")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    code = re.sub(r"(//|#)[^\n]*", "", text)
    compact = re.sub(r"\s+", "", code).replace("'", '"').replace(",}", "}")
    if compact == STANDARD_WRAPPER:
        return None
    patched = sorted(set(re.findall(r'"([^"\n]+\.(?:json|yml|yaml))"\s*\+?:', code)) - {"config.json"})
    what = f"patches {', '.join(patched)}" if patched else "differs from Jiro's standard wrapper"
    if "JAVA_OPTS" in code:
        what += " (JAVA_OPTS)"
    return f"custom wrapper {what}; such patches of Jiro's generated files are not imported"


def _other_files(instance_dir: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(instance_dir):
        rel_dir = os.path.relpath(dirpath, instance_dir)
        if rel_dir == "target" or rel_dir.startswith("target" + os.sep):
            dirnames[:] = []
            continue
        dirnames.sort()
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name)).replace(os.sep, "/")
            if rel not in KNOWN_FILES:
                out.append(rel)
    return out


# --- the command ------------------------------------------------------------------------------------

def import_jiro(checkout: str, into: str, names=(), force: bool = False,
                paths: fleetmod.Paths | None = None, image_repository: str | None = None) -> ImportResult:
    """Import Jiro instances from `checkout` into the fleet directory `into`.

    image_repository: where a new fleet pushes its controller images (defaults.imageRepository);
    never Jiro's own, whose images the running controllers use.

    Raises FleetError for problems that stop the whole import (no instances/ in the
    checkout, an unknown NAME, an invalid existing fleet.yaml); per-instance problems
    are in the returned reports.
    """
    started = time.monotonic()
    paths = paths or fleetmod.Paths(instances=into)
    schemas = Schemas(paths.schemas)
    fits = _Fits(schemas.raw(INSTANCE_SCHEMA))
    fleet_fits = _Fits(schemas.raw(FLEET_SCHEMA))
    jiro_instances = os.path.join(checkout, "instances")
    if not os.path.isdir(jiro_instances):
        raise FleetError([Diagnostic(checkout, 0, 0, "", "not a Jiro checkout: it has no instances/ directory",
                                     hint="pass the root of a clone of eclipse-cbi/jiro")])
    selected = fleetdir.select(jiro_instances, tuple(names))
    if not selected:
        raise FleetError([Diagnostic(jiro_instances, 0, 0, "", "no Jiro instances in this directory")])
    facts = read_facts(jiro_instances, fleetdir.instance_names(jiro_instances))
    if image_repository is not None and image_repository.rstrip("/") == facts.image_repository:
        raise FleetError([Diagnostic("", 0, 0, "", f"--image-repository {image_repository} is where Jiro pushes the "
                                     "images its controllers run", hint="use a repository of your own: images "
                                     "built from this fleet must never replace Jiro's")])
    fleet_path = os.path.join(into, FLEET_FILE)
    existing = _existing_fleet(fleet_path, schemas) if os.path.exists(fleet_path) else None
    catalogs = _catalogs(into, fleet_path) if existing is not None else {}

    # 1. evaluate every selected instance
    evaluated: list[Evaluated] = []
    reports: list[InstanceReport] = []
    seen: dict[str, str] = {}
    for jiro_name in selected:
        report = InstanceReport(jiro_name)
        reports.append(report)
        ev = _evaluate_one(checkout, jiro_instances, jiro_name, report, facts, fits)
        if ev is None:
            continue
        name = ev.merged["project"]["fullName"]
        report.name = name
        if name in seen:
            report.diagnostics.append(_diag(ev, f"fullName '{name}' is also the fullName of Jiro instance "
                                                f"'{seen[name]}'", "rename one of them in Jiro first"))
            continue
        seen[name] = jiro_name
        _read_jcasc(ev, fits, fleet_fits)
        target_dir = os.path.join(into, name)
        if os.path.exists(os.path.join(target_dir, INSTANCE_FILE)) and not force:
            report.status = "exists"
            report.diagnostics.append(Diagnostic(target_dir, 0, 0, "", "instance directory already exists",
                                                 hint="pass --force to overwrite its instance.yaml and jenkins.yaml"))
            continue
        evaluated.append(ev)

    # 2. fleet settings: the existing ones, or Jiro's defaults
    if existing is None:
        pinned = [_get(ev.merged, ("jenkins", "version"), "latest") for ev in evaluated]
        clusters = [_get(ev.merged, ("deployment", "cluster"), JIRO_CLUSTER) for ev in evaluated]
        fleet = new_fleet(facts, [c for c in clusters if fits(P_DEPLOY + "cluster", c)],
                          [v for v in pinned if v != "latest" and fits(P_JENKINS + "version", v)],
                          _stand_in_templates(facts), image_repository or PLACEHOLDER_IMAGE_REPOSITORY)
        fleet.update(_fleet_jcasc_settings(evaluated))
        fleet_notes = [] if facts.latest_known else [
            f"Jiro's 'latest' Jenkins version is unknown (no committed target/config.json); assumed {facts.latest}"]
        if image_repository is None:
            fleet_notes.append(f"defaults.imageRepository is a placeholder ({PLACEHOLDER_IMAGE_REPOSITORY}): set the "
                               f"repository your controller images are pushed to (not Jiro's "
                               f"{facts.image_repository}, whose images the running controllers use), or pass "
                               "--image-repository")
    else:
        fleet = existing
        fleet_notes = []
        if str(fleet["defaults"].get("imageRepository", "")).rstrip("/") == facts.image_repository:
            fleet_notes.append(f"defaults.imageRepository is Jiro's {facts.image_repository}: pushing the imported "
                               "controllers' images there puts them beside the images Jiro's controllers run; "
                               "use a repository of your own")
    fleet_notes += [f"the checkout has no templates/{name}: what Jiro adds there per project is not imported"
                    for name in missing_helpers(checkout)]
    usable = [ev for ev in evaluated if _fits_fleet(ev, fleet, facts, existing is not None, fits)]

    # 3. the defaults our fleet gives each instance, from our own model
    defaults = _fleet_defaults(paths, fleet, usable)

    # 4. map, stage, validate, move into place
    staged: dict[str, dict[str, bytes]] = {}
    for ev in usable:
        doc = Mapper(ev, defaults[ev.report.name], fits).build()
        _report_missing_plugins(ev.report, doc, fleet, catalogs)
        rel = os.path.relpath(ev.directory, checkout).replace(os.sep, "/")
        modeline = schema_modeline(paths.schemas, "instance.schema.json", os.path.join(into, ev.report.name))
        files = {INSTANCE_FILE: instance_text(ev.report, rel, doc, modeline).encode()}
        override = os.path.join(ev.directory, "jenkins", "configuration.yml")
        if os.path.exists(override):
            with open(override, "rb") as fh:
                raw = fh.read()
            if _override_plugins(ev, doc, fleet, facts, raw):
                files[INSTANCE_FILE] = instance_text(ev.report, rel, doc, modeline).encode()
                _report_missing_plugins(ev.report, doc, fleet, catalogs)
            files[OVERRIDE_FILE] = override_text(rel, raw)
        staged[ev.report.name] = files
    fleet_bytes = fleet_text(fleet, facts, schema_modeline(paths.schemas, "fleet.schema.json", into)).encode() \
        if existing is None else None
    written = _stage_and_write(into, fleet_bytes, staged, {ev.report.name: ev.report for ev in usable}, force, paths)
    for r in reports:
        r.diagnostics = sort_diagnostics(r.diagnostics)
    return ImportResult(checkout, into, written, reports, fleet_notes, time.monotonic() - started)


def _read_jcasc(ev: Evaluated, fits: _Fits, fleet_fits: _Fits) -> None:
    """Jiro's generated JCasC: its security and Prometheus settings, or why they are unknown."""
    ev.jcasc, problem = jiro_jcasc.read(
        ev.directory, lambda key, value: fleet_fits(P_SECURITY + key, value),
        lambda key, value: fits(P_PROMETHEUS + key, value))
    if problem:
        ev.report.not_imported.append(NotImported(jiro_jcasc.GENERATED, problem))
    else:
        ev.report.not_imported += [NotImported(s.path, s.reason) for s in ev.jcasc.skipped]


def _fleet_jcasc_settings(evaluated: list[Evaluated]) -> dict:
    """For a new fleet: the security and Prometheus settings most imported instances had, fleet-wide.

    Jiro generated no scrape objects, so the controllers are marked for Prometheus with
    annotations only (no ServiceMonitor, whose CRD the cluster may not have).
    """
    out: dict = {}
    security = jiro_jcasc.most_common([ev.jcasc.security for ev in evaluated
                                       if ev.jcasc is not None and ev.jcasc.security])
    if security:
        out["security"] = security
    prometheus = jiro_jcasc.most_common([ev.jcasc.prometheus for ev in evaluated
                                         if ev.jcasc is not None and ev.jcasc.prometheus is not None])
    if prometheus is not None:
        out["monitoring"] = {"enabled": True, "scrape": "annotations", "prometheus": prometheus}
    return out


def _diag(ev: Evaluated, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(os.path.join(ev.directory, "config.jsonnet"), 0, 0, "", message, hint=hint)


def _catalogs(into: str, fleet_path: str) -> dict:
    catalogs, diags = load_catalogs(into, load(fleet_path))
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    return catalogs


def _override_plugins(ev: Evaluated, doc: dict, fleet: dict, facts: JiroFacts, raw: bytes) -> bool:
    """Plugins of Jiro's controller image that the hand-written JCasC configures, added to the
    instance's requests when our fleet does not install them (its base set is not Jiro's).

    The JCasC model says which plugin provides each key (docs/jcasc-model.md); without them the
    controller would refuse the file at start. True when the instance's plugin list grew.
    """
    version = fleetmod.jenkins_version(fleet, ev.report.name, doc)
    if version not in jcasc.core_versions():
        return False
    try:
        data = yamlout.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return False  # the override is validated (and reported) with the rest
    if not isinstance(data, dict):
        return False
    requested = checks.requested_plugins(ev.report.name, doc, fleet, version)
    jiro_image = set(facts.base_plugins(ev.version if ev.version != "latest" else facts.latest))
    added = []
    for plugin, paths in jcasc.needed_plugins(data, version, dict.fromkeys(requested)).items():
        if plugin in jiro_image:
            doc.setdefault("jenkins", {}).setdefault("plugins", []).append(plugin)
            added.append(f"{plugin} (for {', '.join(format_path(p) for p in paths)})")
    if added:
        ev.report.notes.append("plugins Jiro's image installed and the hand-written JCasC configures, added to "
                               f"jenkins.plugins: {', '.join(added)}")
    return bool(added)


def _report_missing_plugins(report: InstanceReport, doc: dict, fleet: dict, catalogs: dict) -> None:
    """Jiro's plugin requests stay in the instance file; those the catalog lacks are reported."""
    version = fleetmod.jenkins_version(fleet, report.name, doc)
    found = catalogs.get(version)
    if found is None:
        return
    report.missing_plugins = sorted({parse_spec(spec)[0] for spec in doc.get("jenkins", {}).get("plugins", [])
                                     if not found.versions(parse_spec(spec)[0])})
    if report.missing_plugins:
        report.notes.append(f"plugins the catalog for Jenkins {version} does not have (kept; `fleet validate` "
                            f"fails until they are added with `fleet plugins refresh`): "
                            f"{', '.join(report.missing_plugins)}")


def _existing_fleet(path: str, schemas: Schemas) -> dict:
    doc = load(path)
    diags = validate_document(doc, schemas.fleet, "while validating the fleet settings")
    if not diags:
        diags = checks.check_fleet(FleetSources(os.path.dirname(path), doc, {}))
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    return doc.data


def _evaluate_one(checkout, jiro_instances, jiro_name, report, facts, fits) -> Evaluated | None:
    directory = os.path.join(jiro_instances, jiro_name)
    config = os.path.join(directory, "config.jsonnet")
    if not os.path.exists(config):
        report.diagnostics.append(Diagnostic(directory, 0, 0, "", "no config.jsonnet",
                                             hint="instances defined only in jiro.jsonnet are not supported"))
        return None
    tag = facts.instance_tags.get(jiro_name) or facts.agent_tag(facts.latest)
    try:
        merged, base = evaluate(checkout, directory, tag)
    except RuntimeError as exc:
        report.diagnostics.append(Diagnostic(config, 0, 0, "", f"Jsonnet evaluation failed: {str(exc).strip()}",
                                             hint="the instance must evaluate in Jiro; imports resolve from the "
                                                  "checkout"))
        return None
    ev = Evaluated(report, directory, merged, base, names=facts.names.get(jiro_name, {}))
    project = merged.get("project")
    # Without these the instance would not be the same controller: fail it rather than guess.
    bad = [key for key in ("fullName", "displayName", "shortName", "resourcePacks", "unixGroupName")
           if not isinstance(project, dict) or not fits(P_PROJECT + key, project.get(key))]
    if bad:
        for key in bad:
            value = project.get(key) if isinstance(project, dict) else None
            report.diagnostics.append(_diag(ev, f"project.{key} {value!r} cannot be imported",
                                            fits.hint(P_PROJECT + key) or "it does not fit the instance schema"))
        return None
    if project["fullName"] != jiro_name:
        report.notes.append(f"Jiro directory '{jiro_name}' holds project '{project['fullName']}'; "
                            "written under its fullName")
    for path, value in facts.resolved.get(jiro_name, {}).items():
        mine = _get(merged, path)
        if mine != value:
            detail = ""
            if isinstance(value, list) and isinstance(mine, list):
                only = [json.dumps(v, sort_keys=True) if not isinstance(v, str) else v for v in value if v not in mine]
                detail = f" (Jiro's output also has: {', '.join(only)})" if only else ""
            report.notes.append(f"{jiro_path(path)} differs from Jiro's committed output (target/config.json){detail}; "
                                "the output may be stale, or Jiro used helpers this checkout lacks")
    problem = _wrapper_problem(directory)
    if problem:
        report.not_imported.append(NotImported("jiro.jsonnet", problem))
    for rel in _other_files(directory):
        report.not_imported.append(NotImported(rel, "file not imported"))
    return ev


def _fits_fleet(ev: Evaluated, fleet: dict, facts: JiroFacts, existing: bool, fits: _Fits) -> bool:
    """Pick the Jenkins version to write; refuse a cluster or version the fleet does not know."""
    clusters = [c["name"] for c in fleet["clusters"]]
    versions = fleet["controllers"]["versions"]
    where = os.path.relpath(os.path.join(ev.directory, "config.jsonnet"))
    cluster = _get(ev.merged, ("deployment", "cluster"), JIRO_CLUSTER)
    requested = _get(ev.merged, ("jenkins", "version"), "latest")
    for key, value in (("deployment.cluster", cluster), ("jenkins.version", requested)):
        pointer = (P_DEPLOY if key.startswith("deployment") else P_JENKINS) + key.split(".")[1]
        if not fits(pointer, value):
            ev.report.diagnostics.append(_diag(ev, f"{key} {value!r} cannot be imported",
                                               fits.hint(pointer) or "it does not fit the instance schema"))
            return False
    if cluster not in clusters:
        ev.report.diagnostics.append(_diag(ev, f"cluster '{cluster}' is not defined in the fleet settings",
                                           f"add it to clusters in fleet.yaml, then import again ({where})"))
        return False
    if requested != "latest":
        if requested not in versions:
            ev.report.diagnostics.append(_diag(ev, f"Jenkins version '{requested}' is not in the fleet's controller "
                                                   "catalog", f"add it to controllers.versions in fleet.yaml "
                                                              f"(known: {', '.join(sorted(versions))})"))
            return False
        ev.version = requested
        return True
    latest = fleet["controllers"]["latest"]
    if not existing or not facts.latest_known or facts.latest == latest:
        if existing and not facts.latest_known:
            ev.report.notes.append(f"Jiro's 'latest' is unknown here; the fleet's latest ({latest}) applies")
        return True
    if facts.latest in versions:
        ev.version = facts.latest
        ev.report.notes.append(f"Jiro's 'latest' was {facts.latest} but the fleet's is {latest}: "
                               f"pinned to {facts.latest} so that nothing changes by accident")
        return True
    ev.report.diagnostics.append(_diag(ev, f"Jiro's 'latest' Jenkins ({facts.latest}) is not in the fleet's "
                                           "controller catalog", "add it to controllers.versions in fleet.yaml"))
    return False


def _stub(ev: Evaluated) -> dict:
    """The least of an instance that our model needs to say what the fleet would give it."""
    p = ev.merged["project"]
    project = {"fullName": p["fullName"], "displayName": p["displayName"], "resourcePacks": p["resourcePacks"]}
    if p["shortName"] != p["fullName"].rsplit(".", 1)[-1]:
        project["shortName"] = p["shortName"]
    if isinstance(p.get("unixGroupName"), str) and p["unixGroupName"]:
        project["unixGroupName"] = p["unixGroupName"]
    data: dict = {"project": project}
    if ev.version != "latest":
        data["jenkins"] = {"version": ev.version}
    return data


def _fleet_defaults(paths: fleetmod.Paths, fleet: dict, evaluated: list[Evaluated]) -> dict[str, dict]:
    inputs = [ModelInput(ev.report.name, _stub(ev), fleetdir.matching_profiles(fleet, ev.report.name))
              for ev in evaluated]
    return _models(paths, fleet, inputs)


def _models(paths: fleetmod.Paths, fleet: dict, inputs: list[ModelInput]) -> dict[str, dict]:
    if not inputs:
        return {}
    result = ModelEngine(paths.templates).evaluate(fleet, inputs, objects=False)  # models only
    return {name: value["model"] for name, value in result.items()}


def _stand_in_templates(facts: JiroFacts) -> list[dict]:
    """Jiro's default pod templates, in our form (resources follow the packs)."""
    code = f"local d = import '{STAND_IN_NAME}'; (d + {{ project+: {{ fullName: 'x.x', displayName: 'x' }} }})"
    out = _jsonnet.evaluate_snippet("<jiro-templates>", code + ".clouds.kubernetes.templates",
                                    ext_codes=_stand_in_params(facts.agent_tag(facts.latest)),
                                    import_callback=_Imports(None))
    templates = json.loads(out)
    result = []
    for name, t in templates.items():
        d = t["docker"]
        entry = {"name": name, "labels": t["labels"],
                 "image": f"{d['registry']}/{d['repository']}/{d['image']}:{d['tag']}"}
        if t["mode"] != "EXCLUSIVE":
            entry["mode"] = t["mode"]
        result.append(entry)
    return result


def _stage_and_write(into: str, fleet_bytes: bytes | None, staged: dict[str, dict[str, bytes]],
                     reports: dict[str, InstanceReport], force: bool, paths: fleetmod.Paths) -> bool:
    """Validate everything in a scratch fleet directory first; move only what passed into `into`.

    Returns whether the new fleet settings were written.
    """
    if not staged:
        return False
    os.makedirs(into, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".import-jiro-", dir=into)
    fleet_file = os.path.join(into, FLEET_FILE)
    try:
        if fleet_bytes is None:
            shutil.copyfile(fleet_file, os.path.join(scratch, FLEET_FILE))
        else:
            with open(os.path.join(scratch, FLEET_FILE), "wb") as fh:
                fh.write(fleet_bytes)
        if os.path.isdir(os.path.join(into, CATALOG_DIR)):
            shutil.copytree(os.path.join(into, CATALOG_DIR), os.path.join(scratch, CATALOG_DIR))
        for name, files in staged.items():
            os.makedirs(os.path.join(scratch, name))
            for rel, data in files.items():
                with open(os.path.join(scratch, name, rel), "wb") as fh:
                    fh.write(data)
        by_instance = _validate_scratch(scratch, into, sorted(staged), paths,
                                        {name: set(r.missing_plugins) for name, r in reports.items()})
        # Our own fleet settings must validate, and the templates must evaluate (a bug otherwise):
        # then nothing is written.
        stray = [d for key, diags in by_instance.items() if key not in staged for d in diags if d.is_error]
        if stray:
            raise FleetError(stray)
        valid = [name for name in sorted(staged) if not any(d.is_error for d in by_instance.get(name, []))]
        written = fleet_bytes is not None and bool(valid)
        if written:
            write_file(fleet_file, fleet_bytes)
        for name in sorted(staged):
            reports[name].diagnostics.extend(by_instance.get(name, []))
        for name in valid:  # never move an invalid file into the fleet
            target = os.path.join(into, name)
            os.makedirs(target, exist_ok=True)
            for rel, data in sorted(staged[name].items()):
                write_file(os.path.join(target, rel), data)
            stale = os.path.join(target, OVERRIDE_FILE)
            if force and OVERRIDE_FILE not in staged[name] and os.path.exists(stale):
                os.unlink(stale)  # --force: the directory reflects this import
            reports[name].files = [os.path.join(target, rel) for rel in sorted(staged[name])]
            reports[name].status = "imported"
        return written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _validate_scratch(scratch: str, into: str, names: list[str], paths: fleetmod.Paths,
                      missing: dict[str, set[str]]) -> dict[str, list]:
    """check_sources over the scratch fleet, diagnostics by instance name (or 'fleet.yaml'), at their final paths.

    `missing`: per instance, the plugin ids its report already lists as missing from the catalog;
    their "unknown plugin" errors do not stop the import.

    check_sources stops at files it cannot read; those instances are set aside and the
    rest validated again, so that one unreadable file does not hide the others' problems.
    """
    found: dict[str, list[Diagnostic]] = {}
    check = fleetmod.Paths(instances=scratch, templates=paths.templates, schemas=paths.schemas)
    while names:
        try:
            checked = fleetmod.check_sources(check, names)
            diags, done = checked.diagnostics, True
            # What `fleet validate` adds: the rules over resolved models (LimitRange fit, unique
            # namespaces and URLs), here among the imported instances.
            diags += checks.check_models(_models(paths, checked.sources.fleet.data, checked.inputs),
                                         checked.sources)
        except FleetError as exc:
            diags, done = exc.diagnostics, False
        for d in diags:
            d = _relocate(d, scratch, into)
            key = os.path.relpath(d.file, into).split(os.sep, 1)[0] if d.file else FLEET_FILE
            if any(d.message == f"{UNKNOWN_PLUGIN} '{pid}'" for pid in missing.get(key, ())):
                continue
            found.setdefault(key, []).append(d)
        failed = {n for n in names if n in found}
        if done or not failed or FLEET_FILE in found:
            break
        names = [n for n in names if n not in failed]
    return found


def _relocate(d: Diagnostic, scratch: str, into: str) -> Diagnostic:
    if d.file and os.path.commonpath([os.path.abspath(d.file), os.path.abspath(scratch)]) == os.path.abspath(scratch):
        return dataclasses.replace(d, file=os.path.join(into, os.path.relpath(d.file, scratch)))
    return d


def write_report(result: ImportResult, path: str) -> None:
    write_file(path, (json.dumps(result.as_json(), indent=2, sort_keys=False) + "\n").encode())


__all__ = ["FLEET_NOT_IMPORTED", "ImportResult", "InstanceReport", "NotImported", "import_jiro", "write_report"]
