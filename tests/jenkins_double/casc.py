"""What the configuration-as-code plugin does with YAML: check, apply, export.

A model, not a re-implementation: root elements and the attributes of `jenkins`
are known, a few symbols need their plugin, deprecated attributes warn with
their line, lists are replaced wholesale, maps deep-merge, removed keys stay
(JCasC is not stateful), secrets are exported encrypted.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass

import yaml

CORE_ROOTS = ("jenkins", "unclassified", "tool", "security", "appearance")
PLUGIN_ROOTS = {"credentials": "credentials", "jobs": "job-dsl"}

JENKINS_ATTRIBUTES = sorted([
    "agentProtocols", "authorizationStrategy", "clouds", "crumbIssuer", "disableRememberMe",
    "disabledAdministrativeMonitors", "globalNodeProperties", "labelAtoms", "labelString", "log",
    "markupFormatter", "mode", "myViewsTabBar", "nodeMonitors", "nodeProperties", "nodes", "numExecutors",
    "primaryView", "projectNamingStrategy", "quietPeriod", "remotingSecurity", "scmCheckoutRetryCount",
    "securityRealm", "slaveAgentPort", "systemMessage", "updateCenter", "views", "viewsTabBar",
])
DEPRECATED = {("jenkins", "agentProtocols"): "'agentProtocols' is deprecated"}

# (path of the describable, symbol) -> plugin providing it
SYMBOL_PLUGINS = {
    (("jenkins", "clouds"), "kubernetes"): ("kubernetes", "hudson.slaves.Cloud"),
    (("jenkins", "securityRealm"), "ldap"): ("ldap", "hudson.security.SecurityRealm"),
    (("jenkins", "authorizationStrategy"), "projectMatrix"): ("matrix-auth", "hudson.security.AuthorizationStrategy"),
    (("jenkins", "authorizationStrategy"), "globalMatrix"): ("matrix-auth", "hudson.security.AuthorizationStrategy"),
    (("appearance",), "themeManager"): ("dark-theme", "io.jenkins.plugins.thememanager.ThemeManagerPageDecorator"),
}

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


def _positions(text: str) -> dict[tuple, int]:
    """Line (1-based) of every mapping key, by key path."""
    out: dict[tuple, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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


def check(text: str, plugins: set[str]) -> list[Issue]:
    """Warnings for a valid configuration; CheckFailed with the errors otherwise."""
    data = parse(text)
    roots = set(CORE_ROOTS) | {r for r, p in PLUGIN_ROOTS.items() if p in plugins}
    unknown = sorted(k for k in data if k not in roots)
    if unknown:
        raise CheckFailed([Issue(-1, f"No configurator found for the following root element: {', '.join(unknown)}")])
    errors: list[Issue] = []
    jenkins = data.get("jenkins") or {}
    if not isinstance(jenkins, dict):
        raise CheckFailed([Issue(-1, "jenkins: expected a mapping")])
    bad = [k for k in jenkins if k not in JENKINS_ATTRIBUTES]
    if bad:
        errors.append(Issue(-1, f"Invalid configuration elements for type: class jenkins.model.Jenkins : "
                                f"{','.join(bad)}.\nAvailable attributes : {', '.join(JENKINS_ATTRIBUTES)}"))
    for (path, symbol), (plugin, kind) in sorted(SYMBOL_PLUGINS.items()):
        if plugin in plugins:
            continue
        node = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        items = node if isinstance(node, list) else [node]
        if any(isinstance(item, dict) and symbol in item for item in items):
            errors.append(Issue(-1, f"No {kind} implementation found for {symbol}"))
    if errors:
        raise CheckFailed(errors)
    positions = _positions(text)
    return [Issue(positions.get(path, -1), message) for path, message in sorted(DEPRECATED.items())
            if _get(data, path) is not None]


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
