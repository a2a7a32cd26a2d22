"""Semantic checks that JSON Schema cannot express: cross-references and cross-instance rules."""

from __future__ import annotations

import re
from collections import defaultdict

from . import jcasc
from .errors import WARNING, Diagnostic
from .fleetdir import SCHEMA_LINE, FleetSources, InstanceSource, matching_profiles
from .quantity import cpu_millis, memory_mib

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _plugin_id(spec: str) -> str:
    return spec.split(":", 1)[0]


def check_fleet(sources: FleetSources) -> list[Diagnostic]:
    doc = sources.fleet
    fleet = doc.data
    diags: list[Diagnostic] = []
    clusters = [c["name"] for c in fleet["clusters"]]
    seen: set[str] = set()
    for i, name in enumerate(clusters):
        if name in seen:
            diags.append(doc.diagnostic(("clusters", i, "name"), f"cluster '{name}' is defined twice"))
        seen.add(name)
    if fleet["defaults"]["cluster"] not in clusters:
        diags.append(doc.diagnostic(("defaults", "cluster"), f"unknown cluster '{fleet['defaults']['cluster']}'",
                                    hint=f"clusters defined in this file: {', '.join(clusters)}"))
    versions = fleet["controllers"]["versions"]
    if fleet["controllers"]["latest"] not in versions:
        diags.append(doc.diagnostic(("controllers", "latest"),
                                    f"version '{fleet['controllers']['latest']}' is not in controllers.versions",
                                    hint=f"known versions: {', '.join(sorted(versions))}"))
    modelled = jcasc.core_versions()
    for version, entry in versions.items():
        diags.extend(_duplicate_plugins(doc, ("controllers", "versions", version, "plugins"), entry.get("plugins", [])))
        if version not in modelled:
            diags.append(doc.diagnostic(
                ("controllers", "versions", version), f"the JCasC model has no Jenkins {version}",
                key=True, hint=f"read it from the source: add its tag to schemas/jcasc-model/sources.json and run "
                               f"'make jcasc-model' (docs/jcasc-model.md); modelled: {', '.join(modelled)}"))
    diags.extend(_ldap_password(doc, fleet["defaults"].get("ldap", {})))
    names: set[str] = set()
    for i, profile in enumerate(fleet.get("profiles", [])):
        if profile["name"] in names:
            diags.append(doc.diagnostic(("profiles", i, "name"), f"profile '{profile['name']}' is defined twice"))
        names.add(profile["name"])
        settings = profile["set"]
        cluster = settings.get("deployment", {}).get("cluster")
        if cluster is not None and cluster not in clusters:
            diags.append(doc.diagnostic(("profiles", i, "set", "deployment", "cluster"), f"unknown cluster '{cluster}'",
                                        hint=f"clusters: {', '.join(clusters)}"))
        version = settings.get("jenkins", {}).get("version")
        if version not in (None, "latest") and version not in versions:
            diags.append(doc.diagnostic(("profiles", i, "set", "jenkins", "version"),
                                        f"unknown Jenkins version '{version}'",
                                        hint=f"known versions: latest, {', '.join(sorted(versions))}"))
        diags.extend(_duplicate_plugins(doc, ("profiles", i, "set", "jenkins", "plugins"),
                                        settings.get("jenkins", {}).get("plugins", [])))
    return diags


# The controller container's own variables (templates/k8s/controller.libsonnet); the LDAP
# password's variable may not replace one of them.
CONTROLLER_ENV = ("CASC_JENKINS_CONFIG", "JENKINS_HOME", "JENKINS_OPTS", "JAVA_OPTS")


def _ldap_password(doc, ldap) -> list[Diagnostic]:
    if not isinstance(ldap, dict):
        return []
    diags = []
    path = ("defaults", "ldap")
    if "managerDN" not in ldap:
        for key in ("managerPasswordEnv", "managerPasswordSecret"):
            if key in ldap:
                diags.append(doc.diagnostic(path + (key,), f"ldap.{key} is ignored: ldap.managerDN is not set",
                                            hint="the password is managerDN's: set managerDN, or remove "
                                                 f"{key} to bind anonymously", key=True, severity=WARNING))
    env = ldap.get("managerPasswordEnv")
    if env in CONTROLLER_ENV:
        diags.append(doc.diagnostic(path + ("managerPasswordEnv",),
                                    f"'{env}' is a variable the controller container already sets",
                                    hint="choose another name, such as LDAP_MANAGER_PASSWORD"))
    return diags


def _duplicate_plugins(doc, path, plugins, ctx=()) -> list[Diagnostic]:
    diags, first = [], {}
    for i, spec in enumerate(plugins):
        pid = _plugin_id(spec)
        if pid in first:
            diags.append(doc.diagnostic(path + (i,), f"plugin '{pid}' is listed twice (first at index {first[pid]})",
                                        hint="list each plugin once", context=ctx))
        else:
            first[pid] = i
    return diags


def check_instance(src: InstanceSource, sources: FleetSources) -> list[Diagnostic]:
    """Every semantic rule for one instance file.

    The file may also have schema errors: each rule looks only at values of
    the expected type and skips the rest (the schema error already says why).
    """
    diags: list[Diagnostic] = []
    for rule in _INSTANCE_RULES:
        try:
            diags.extend(rule(src, sources.fleet.data, (f"while checking instance '{src.name}'",)))
        except (TypeError, KeyError, AttributeError, ValueError):
            continue  # a shape the schema rejects; reported there
    return diags


def _section(data, *path) -> dict | list:
    for key in path:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    return data


def _rule_schema_line(src, fleet, ctx):
    doc = src.doc
    if not (doc.lines and doc.lines[0].startswith(SCHEMA_LINE)):
        yield doc.diagnostic((), "the first line should name the schema",
                             hint="add '# yaml-language-server: $schema=../../schemas/instance.schema.json' "
                                  "so editors validate and complete this file",
                             severity=WARNING, context=ctx)


def _rule_names(src, fleet, ctx):
    doc, project = src.doc, _section(src.doc.data, "project")
    full = project.get("fullName")
    if isinstance(full, str) and full != src.name:
        yield doc.diagnostic(("project", "fullName"), f"'{full}' does not match the directory name '{src.name}'",
                             hint=f"rename the directory or set fullName: {src.name}", context=ctx)
    if isinstance(full, str) and "shortName" not in project:
        short = full.rsplit(".", 1)[-1]
        if not DNS_LABEL.fullmatch(short):
            yield doc.diagnostic(("project", "fullName"),
                                 f"the short name '{short}' derived from fullName is not a DNS-1123 label",
                                 hint="set project.shortName to a lowercase name of at most 63 characters",
                                 context=ctx)


def _rule_cluster(src, fleet, ctx):
    clusters = [c["name"] for c in fleet["clusters"]]
    cluster = _section(src.doc.data, "deployment").get("cluster")
    if isinstance(cluster, str) and cluster not in clusters:
        yield src.doc.diagnostic(("deployment", "cluster"), f"unknown cluster '{cluster}'",
                                 hint=f"clusters in fleet.yaml: {', '.join(clusters)}", context=ctx)


def _resolved_version(src, fleet) -> str:
    version = _section(src.doc.data, "jenkins").get("version", "latest")
    return fleet["controllers"]["latest"] if version == "latest" else version


def _rule_version(src, fleet, ctx):
    versions = fleet["controllers"]["versions"]
    version = _section(src.doc.data, "jenkins").get("version", "latest")
    if isinstance(version, str) and version != "latest" and version not in versions:
        yield src.doc.diagnostic(("jenkins", "version"), f"unknown Jenkins version '{version}'",
                                 hint=f"use 'latest' or one of: {', '.join(sorted(versions))} "
                                      "(controllers.versions in fleet.yaml)", context=ctx)


def _rule_plugins(src, fleet, ctx):
    plugins = _section(src.doc.data, "jenkins").get("plugins", [])
    if not isinstance(plugins, list):
        return
    plugins = [p if isinstance(p, str) else "" for p in plugins]
    yield from (d for d in _duplicate_plugins(src.doc, ("jenkins", "plugins"), plugins, ctx))
    resolved = _resolved_version(src, fleet)
    base = {_plugin_id(p) for p in fleet["controllers"]["versions"].get(resolved, {}).get("plugins", [])}
    for i, spec in enumerate(plugins):
        if spec and _plugin_id(spec) in base and ":" not in spec:
            yield src.doc.diagnostic(("jenkins", "plugins", i),
                                     f"plugin '{spec}' is already a base plugin of Jenkins {resolved}",
                                     hint="remove it from this list", severity=WARNING, context=ctx)


def _rule_agents(src, fleet, ctx):
    doc = src.doc
    jenkins, agents = _section(doc.data, "jenkins"), _section(doc.data, "agents")
    static = agents.get("static", [])
    count = jenkins.get("staticAgentCount")
    if isinstance(count, int) and isinstance(static, list) and static and count < len(static):
        yield doc.diagnostic(("jenkins", "staticAgentCount"),
                             f"{count} is less than the {len(static)} agents listed in agents.static",
                             hint="remove staticAgentCount: it defaults to the number of static agents",
                             context=ctx)
    yield from _duplicate_names(doc, ("agents", "static"), static, "static agent", ctx)
    templates = agents.get("podTemplates", [])
    yield from _duplicate_names(doc, ("agents", "podTemplates"), templates, "pod template", ctx)
    for i, template in enumerate(templates):
        resources = _section(template, "resources")
        for res, parse in (("cpu", cpu_millis), ("memory", memory_mib)):
            pair = _section(resources, res)
            try:
                request, limit = parse(pair["request"]), parse(pair["limit"])
            except (KeyError, ValueError, TypeError):
                continue
            if request > limit:
                yield doc.diagnostic(("agents", "podTemplates", i, "resources", res, "request"),
                                     f"request {pair['request']} is larger than the limit {pair['limit']}",
                                     hint="a container cannot request more than its limit", context=ctx)




def _rule_override(src, fleet, ctx):
    """The hand-written JCasC merged over ours: a mapping of JCasC root elements, each a mapping."""
    doc = src.override
    if doc is None:
        return
    ctx = ("while checking the hand-written JCasC override",) + ctx
    if not isinstance(doc.data, dict):
        yield doc.diagnostic((), "a JCasC override must be a mapping of JCasC root elements",
                             hint="for example 'jenkins:' or 'unclassified:'", context=ctx)
        return
    for key, value in doc.data.items():
        if isinstance(value, dict) or value is None:
            continue
        yield doc.diagnostic((key,), f"'{key}' must be a mapping, not {type(value).__name__}",
                             hint="it would replace the whole generated section; write the keys to change instead",
                             context=ctx)


def check_override_jcasc(src, fleet: dict, version: str, installed: dict[str, str] | None) -> list[Diagnostic]:
    """The hand-written JCasC alone, against the model of what the controller installs.

    Before the merge, attributes the generated part supplies are not required here; the merged
    result is checked again when it is generated (produce.check_jcasc). `installed` is the pinned
    closure, or None without a catalog (then the requested plugins, their dependencies unknown).
    """
    doc = src.override
    if not isinstance(doc.data, dict) or any(not isinstance(v, dict) and v is not None for v in doc.data.values()):
        return []  # its shape is reported by _rule_override
    if version not in jcasc.core_versions():
        return []  # fleet.yaml's version without a model is reported once, there
    if installed is not None:
        plugins = dict(installed)
    else:
        plugins = {p: None for p in requested_plugins(src.name, src.doc.data, fleet, version)}
    selection = jcasc.select(version, plugins, closure_known=installed is not None)
    findings = jcasc.check(doc.data, selection, partial=True)
    return jcasc.diagnostics(findings, "", None, doc, jcasc.context(src.name, version))


def requested_plugins(name: str, data: dict, fleet: dict, version: str) -> list[str]:
    """Plugin ids an instance requests: its version's base plugins, matching profiles', its own,
    and prometheus when monitored (their dependencies come from the catalog, where there is one)."""
    specs = list(fleet["controllers"]["versions"].get(version, {}).get("plugins", []))
    profiles = set(matching_profiles(fleet, name))
    for profile in fleet.get("profiles", []):
        if profile["name"] in profiles:
            specs.extend(profile.get("set", {}).get("jenkins", {}).get("plugins", []))
    specs.extend(p for p in _section(data, "jenkins").get("plugins", []) if isinstance(p, str))
    if fleet.get("monitoring", {}).get("enabled"):
        specs.append("prometheus")
    return sorted({_plugin_id(p) for p in specs})


def _rule_packs_policy(src, fleet, ctx):
    """What the audit's packs-over-policy rule fails (fleet check, fleet audit), said by validate too.
    Packs are the instance file's alone (neither profiles nor fleet defaults set them)."""
    project = _section(src.doc.data, "project")
    packs, limit = project.get("resourcePacks", 1), fleet.get("policy", {}).get("maxPacks")
    if not isinstance(packs, int) or isinstance(packs, bool) or not isinstance(limit, int) or packs <= limit \
            or project.get("packsApproval"):
        return
    yield src.doc.diagnostic(
        ("project", "resourcePacks"), f"{packs} resource packs, above the fleet maximum of {limit} "
        "(policy.maxPacks), and no project.packsApproval: fleet check and fleet audit fail on it",
        hint="add project.packsApproval with the reference of the approval (e.g. a ticket URL), or lower "
             "resourcePacks", severity=WARNING, context=ctx)


_INSTANCE_RULES = [_rule_schema_line, _rule_names, _rule_cluster, _rule_version, _rule_plugins, _rule_agents,
                   _rule_override, _rule_packs_policy]


def _duplicate_names(doc, path, items, what, ctx) -> list[Diagnostic]:
    diags, first = [], {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            diags.append(doc.diagnostic(path + (i, "name"), f"{what} '{name}' is defined twice",
                                        hint=f"first defined at index {first[name]}", context=ctx))
        else:
            first[name] = i
    return diags


def _locate(src: InstanceSource, *paths) -> tuple:
    for path in paths:
        if src.doc.has(path):
            return path
    return ("project", "fullName")


# What an output index records of each instance's deployment: enough for the fleet-wide rules.
DEPLOYMENT_KEYS = ("cluster", "namespace", "url")


def check_models(models: dict[str, dict], sources: FleetSources,
                 cached: dict[str, dict] | None = None, introduced: set[str] | None = None) -> list[Diagnostic]:
    """Rules over resolved models: uniqueness across the fleet and fit within the LimitRange.

    `cached`: instances not modelled again (same inputs as a model that passed), as their index
    entries ({cluster, namespace, url}); they take part in the fleet-wide rules only.
    `introduced`: the instances a change adds or edits, when its base is known: a clash between
    them and instances that were there is theirs alone.
    """
    diags: list[Diagnostic] = []
    by_ns: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_url: dict[str, list[str]] = defaultdict(list)
    deployments = {name: model["deployment"] for name, model in models.items()}
    deployments.update((name, entry) for name, entry in (cached or {}).items() if name not in models)
    for name, dep in sorted(deployments.items()):
        by_ns[(dep["cluster"], dep["namespace"])].append(name)
        by_url[dep["url"]].append(name)
    for (cluster, ns), names in by_ns.items():
        if len(names) > 1:
            diags += _clash(sources, names, introduced, f"namespace '{ns}' on cluster '{cluster}'",
                            (("deployment", "namespace"), ("project", "shortName")),
                            "set project.shortName or deployment.namespace of {name} to a unique name")
    for url, names in by_url.items():
        if len(names) > 1:
            diags += _clash(sources, names, introduced, f"URL {url}",
                            (("deployment", "prefix"), ("deployment", "host"), ("project", "shortName")),
                            "set deployment.prefix or deployment.host of {name} "
                            "so that each controller has its own URL")
    for name, model in sorted(models.items()):
        diags.extend(_limit_range_fit(name, model, sources.instances[name]))
        diags.extend(_unnamed_secrets(name, model, sources.instances[name]))
    return diags


def _clash(sources: FleetSources, names: list[str], introduced: set[str] | None, what: str,
           where: tuple[tuple[str, ...], ...], fix: str) -> list[Diagnostic]:
    """Instances that share what must be unique. The instances a change introduced are at fault when
    the base is known; otherwise each is told which came first (git: committed earlier, or the
    other is not committed yet), so that the fix lands on the newcomer."""
    new = [n for n in names if introduced is not None and n in introduced]
    if new and len(new) < len(names):
        held = ", ".join(n for n in names if n not in introduced)
        blamed = {n: f"{held} had it before this change: {fix.format(name=n)}" for n in new}
    else:
        order = _first_seen(sources, names)
        blamed = {n: _came_first(n, names, order) or fix.replace(" of {name}", "") for n in names}
    out = []
    for name, hint in blamed.items():
        src = sources.instances[name]
        others = ", ".join(n for n in names if n != name)
        out.append(src.doc.diagnostic(_locate(src, *where), f"{what} is also used by {others}", hint=hint,
                                      context=(f"while checking instance '{name}'",)))
    return out


def _first_seen(sources: FleetSources, names: list[str]) -> dict[str, int | None]:
    """When git first saw each instance's file (commit time; None: not committed); {} without git."""
    from . import vcs  # git only on this error path; vcs imports the fleet module
    return vcs.first_commit_times(sources.directory, names)


def _came_first(name: str, names: list[str], order: dict[str, int | None]) -> str:
    if not order or len(order) != len(names):
        return ""
    committed = sorted((t, n) for n, t in order.items() if t is not None)
    if not committed:
        return ""  # none committed: git cannot tell
    first_time, first = committed[0]
    if sum(1 for t, _ in committed if t == first_time) > 1:
        return ""  # committed together
    later = [n for n in names if n != first]
    why = {n: "not committed yet" if order[n] is None else "committed later" for n in later}
    if name == first:
        return (f"{name} came first; {', '.join(f'{n} ({why[n]})' for n in later)} came after it: "
                f"change {' and '.join(later)}, not this instance")
    return f"{first} came first ({name} is {why[name]}): change this instance, not {first}"


def _unnamed_secrets(name: str, model: dict, src: InstanceSource) -> list[Diagnostic]:
    """An enabled build tool whose Secret nobody named (the model lists them: agents.missingSecrets).

    We cannot create the Secret (its value never passes through this tool), and marking it optional
    would not help: the kubelet creates a missing subPath as a directory (kubernetes
    pkg/kubelet/kubelet_pods.go, makeMounts), so ~/.m2/settings.xml would be an empty directory.
    Mounted and missing, it keeps every agent pod in ContainerCreating until the connect timeout.
    So the reference must be written down by someone who created the Secret.
    """
    diags = []
    namespace = model["deployment"]["namespace"]
    for missing in model["agents"].get("missingSecrets", []):
        tool, ref, file = missing["tool"], missing["ref"], missing["file"]
        key = file.rsplit("/", 1)[-1]
        what = tool if src.doc.has(("buildTools", tool, "enabled")) else f"buildTools.{tool} (from a profile)"
        diags.append(src.doc.diagnostic(
            _locate(src, ("buildTools", tool, "enabled"), ("buildTools", tool), ("buildTools",)),
            f"{what} is enabled but no Secret is named for ~/{file}",
            hint=(f"agent pods mount that file and never start while the Secret is missing: create it "
                  f"(oc -n {namespace} create secret generic {missing['suggested']} --from-file={key}=./{key}) "
                  f"and name it: buildTools.{tool}.{ref}: {{name: {missing['suggested']}, key: {key}}}"),
            context=(f"while checking instance '{name}'",)))
    return diags


def _limit_range_fit(name: str, model: dict, src: InstanceSource) -> list[Diagnostic]:
    """Agent containers the namespace LimitRange would reject (the cluster refuses such pods)."""
    diags = []
    ctx = (f"while checking instance '{name}'",)
    limits = model["resources"]["limitRange"]["container"]
    own = {t.get("name"): i for i, t in enumerate(_section(src.doc.data, "agents").get("podTemplates", []))
           if isinstance(t, dict)}
    for template in model["agents"]["podTemplates"]:
        index = own.get(template["name"])
        for kind, key, unit in (("cpu", "cpuMillis", "m"), ("memory", "memoryMiB", "Mi")):
            explicit = index is not None and src.doc.has(("agents", "podTemplates", index, "resources", kind))
            for side in ("request", "limit"):
                value = template["resources"][kind][side]
                high, low = limits["max"][key], limits["min"][key]
                if low <= value <= high:
                    continue
                what = f"pod template '{template['name']}' {kind} {side} {value}{unit}"
                bound = (f"exceeds the LimitRange container maximum of {high}{unit}" if value > high
                         else f"is below the LimitRange container minimum of {low}{unit}")
                if explicit:
                    path = ("agents", "podTemplates", index, "resources", kind, side)
                    hint = "lower it or add resource packs" if value > high else "raise it"
                else:
                    # Pack-derived: the size comes from resourcePacks / maxConcurrency.
                    path = _locate(src, ("jenkins", "maxConcurrency"), ("project", "resourcePacks"))
                    # Too small means too many builds for the packs: more builds would make it worse.
                    fix = ("raise maxConcurrency or resourcePacks" if value > high
                           else "lower maxConcurrency or add resource packs")
                    hint = ("each agent gets resourcePacks x 2 vCPU / maxConcurrency plus the jnlp sidecar; "
                            f"{fix}, or give the template explicit resources")
                diags.append(src.doc.diagnostic(path, f"{what} {bound}", hint=hint, context=ctx))
    return diags


__all__ = ["check_fleet", "check_instance", "check_models", "matching_profiles"]
