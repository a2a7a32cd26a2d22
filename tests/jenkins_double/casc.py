"""What the configuration-as-code plugin does with YAML: check, apply, export.

A model, not a re-implementation: what /check accepts is the JCasC model read from the
plugins' source (generator/jcasc), for the double's Jenkins version and installed
plugins; lists are replaced wholesale, maps deep-merge, removed keys stay (JCasC is not
stateful), secrets are exported encrypted.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import re
from dataclasses import dataclass

import yaml

from generator import jcasc

# managerPasswordSecret, password, privateKey, token... but not secretName (a Kubernetes secret's name)
SECRET_KEY = re.compile(r"(password|passphrase|privatekey|token|^secret$|Secret$)", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ESCAPED_OR_VARIABLE = re.compile(r"(\^)\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def defaults(root_url: str) -> dict:
    """The configuration of a fresh controller as /export shows it (keys we never manage included)."""
    return {
        "jenkins": {
            "agentProtocols": ["JNLP4-connect", "Ping"],
            "disableRememberMe": False,
            "disabledAdministrativeMonitors": [],
            "labelAtoms": [{"name": "built-in"}],
            "markupFormatter": "plainText",
            "mode": "NORMAL",
            "myViewsTabBar": "standard",
            "numExecutors": 2,
            "primaryView": {"all": {"name": "all"}},
            "projectNamingStrategy": "standard",
            "quietPeriod": 5,
            "remotingSecurity": {"enabled": True},
            "scmCheckoutRetryCount": 0,
            "slaveAgentPort": 50000,
            "updateCenter": {"sites": [{"id": "default", "url": "https://updates.jenkins.io/update-center.json"}]},
            "views": [{"all": {"name": "all"}}],
            "viewsTabBar": "standard",
        },
        "security": {"apiToken": {"creationOfLegacyTokenEnabled": False, "tokenGenerationOnCreationEnabled": False,
                                  "usageStatisticsEnabled": True}},
        "tool": {"git": {"installations": [{"home": "git", "name": "Default"}]}},
        "unclassified": {"location": {"adminAddress": "address not configured yet <nobody@nowhere>",
                                      "url": root_url}},
    }


@dataclass(frozen=True)
class Issue:
    line: int
    message: str


class CheckFailed(Exception):
    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__(issues[0].message if issues else "invalid configuration")


# libyaml where PyYAML has it: the doubles of 200 controllers share one process, and parsing was
# most of their CPU (BENCHMARKS.md, Push). Refused documents are parsed again by the pure-Python
# parser, whose messages the tests were written against.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _positions(text: str) -> dict[tuple, int]:
    """Line (1-based) of every mapping key, by key path."""
    out: dict[tuple, int] = {}
    try:
        node = yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return out

    def walk(n, path):
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                p = path + (k.value,)
                out[p] = k.start_mark.line + 1
                walk(v, p)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    if node is not None:
        walk(node, ())
    return out


def parse(text: str) -> dict:
    """YAML -> mapping, or CheckFailed with the parser's position in the message (as snakeyaml reports it)."""
    if not text.strip():
        raise CheckFailed([Issue(-1, "Request body cannot be empty.")])
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        data = None  # the pure-Python parser again, for its message and position
    else:
        text = None
    try:
        if text is not None:
            data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" in 'request', line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise CheckFailed([Issue(-1, f"{exc.problem or 'invalid YAML'}{where}")]) from None
    except yaml.YAMLError as exc:
        raise CheckFailed([Issue(-1, f"invalid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise CheckFailed([Issue(-1, "The configuration must be a YAML mapping")])
    return data


def check(text: str, plugins: dict[str, str | None], core: str = "2.555.2") -> list[Issue]:
    """What /check answers: warnings for a configuration the plugin accepts, CheckFailed otherwise.

    The decisions come from the JCasC model (generator/jcasc: core and plugin source at the
    versions the fleet pins), so the double is exactly as strict as the model; the messages are
    phrased as configuration-as-code 2117.vc05a_0b_e6b_f4e phrases them (see plugin_message),
    and, as the plugin does, an error stops the check: one message, line -1 (doCheck).
    """
    data = parse(text)
    # the double's other plugins (caffeine-api, snakeyaml-api...) are libraries with no configurator:
    # a name none of the modelled plugins knows is unknown here, as on a controller with only these
    selection = dataclasses.replace(jcasc.select(core, plugins), unmodelled=())
    findings = jcasc.check(data, selection)
    unknown_roots = [f.path[0] for f in findings if f.kind == "unknown-root" and f.severity == "error"]
    if unknown_roots:  # ConfigurationAsCode.invokeWith: every unknown root in one message
        raise CheckFailed([Issue(-1, "No configurator found for the following root "
                                     f"{'elements' if len(unknown_roots) > 1 else 'element'}: "
                                     f"{', '.join(map(str, unknown_roots))}. This may indicate that the required "
                                     "plugin is not installed or failed to load. Verify that the plugin is "
                                     "installed and check the Jenkins startup logs for plugin loading errors.")])
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise CheckFailed([Issue(-1, plugin_message(errors[0]))])
    positions = _positions(text)
    # warnings the plugin would log (deprecated under 'warn', obsolete names); 'not checked' is ours
    return [Issue(positions.get(f.path, -1), plugin_message(f)) for f in findings
            if not f.message.endswith("; not checked")]


def roots(plugins: dict[str, str | None], core: str) -> list[str]:
    """The root elements the controller knows (what its /configuration-as-code/schema lists)."""
    from generator.jcasc.model import world
    selection = jcasc.select(core, plugins)
    return sorted(world(selection.core, selection.plugins).roots())


def plugin_message(f: jcasc.Finding) -> str:
    """A finding in the words of configuration-as-code (the exception or warning it raises)."""
    # the name the finding is about: the key, or the implementation name a scalar gave
    name = f.message.split("'")[1] if f.message.startswith("'") else str(f.path[-1]) if f.path else ""
    if f.kind == "unknown-attribute":  # BaseConfigurator.handleUnknown
        return (f"Invalid configuration elements for type: class {f.subject} : {name}.\n"
                f"Available attributes : {', '.join(f.known)}")
    if f.kind == "unknown-symbol":  # HeteroDescribableConfigurator.lookupDescriptor
        return f"No {f.subject} implementation found for {name}"
    if f.kind == "deprecated":  # BaseConfigurator.configure
        return f"'{f.known[0]}' is deprecated"
    if f.kind == "restricted":
        return f"'{f.known[0]}' is restricted: {f.known[1]}"
    if f.kind == "required":  # DataBoundConfigurator.tryConstructor
        return f"{f.known[0]} is required to configure class {f.subject}"
    if f.kind == "value":  # a conversion error, wrapped by BaseConfigurator.configure
        return f"Failed to set attribute '{name}'"
    return f.message


def _get(data, path):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def resolve(value, env: dict[str, str]):
    """${VAR} and ${VAR:-default} as JCasC resolves them at apply time; unknown variables become empty;
    `^${` is the escape of a literal `${` (SecretSourceResolver: StringSubstitutor with escape char '^')."""
    if isinstance(value, dict):
        return {k: resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    if isinstance(value, str):
        def one(m):
            if m.group(1):  # escaped: the literal, without its '^'
                return m.group(0)[1:]
            return env.get(m.group(2), m.group(3) or "")
        return ESCAPED_OR_VARIABLE.sub(one, value)
    return value


def merge(live: dict, incoming: dict) -> dict:
    """Apply `incoming` over `live`: maps deep-merge, lists and scalars are replaced, absent keys stay."""
    out = copy.deepcopy(live)
    for key, value in incoming.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _encrypted(value: str) -> str:
    return "{AQAAABAAAAAQ" + hashlib.sha256(value.encode()).hexdigest()[:32] + "=}"


def _decorate(value, path: tuple):
    """What export adds or changes: plugin defaults inside our objects, encrypted secrets."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if SECRET_KEY.search(k) and isinstance(v, str) and v:
                out[k] = _encrypted(v)
            else:
                out[k] = _decorate(v, path + (k,))
        if path and path[-1] == "kubernetes" and "jenkinsTunnel" in out:
            out.setdefault("connectTimeout", 5)
            out.setdefault("readTimeout", 15)
        return out
    if isinstance(value, list):
        items = [_decorate(v, path) for v in value]
        if path and path[-1] == "templates":
            for item in items:
                if isinstance(item, dict) and "name" in item:
                    item.setdefault("id", hashlib.sha1(item["name"].encode()).hexdigest()[:32])
                    item.setdefault("idleMinutes", 0)
        return items
    if isinstance(value, str):  # PrimitiveConfigurator via SecretSourceResolver.encode: a literal ${ as ^${
        return value.replace("${", "^${")
    return value


def export(live: dict) -> str:
    data = _decorate(live, ())
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 16)
