"""Where each controller is and how to log in: the build index, the targets file,
the credentials file. Every user mistake becomes a positioned Diagnostic."""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import json
import os
import re
import socket
import stat
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from . import built, output, sources, yamlout
from .errors import WARNING, Diagnostic, FleetError, fail_if_errors, plural
from .jenkins_client import Credentials
from .names import matches

ENV_USER, ENV_TOKEN, ENV_RELOAD_TOKEN = "FLEET_JENKINS_USER", "FLEET_JENKINS_TOKEN", "FLEET_JENKINS_RELOAD_TOKEN"
JCASC = os.path.join("jenkins", "jenkins.yaml")
MODEL = "model.json"

# --- the build ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildEntry:
    name: str
    cluster: str
    url: str
    jcasc_path: str
    jcasc: str = field(repr=False)
    model: dict = field(repr=False)


def read_build(build_dir: str, names=()) -> list[BuildEntry]:
    """The selected instances of a `fleet generate` output; FleetError when it is missing or altered."""
    index, selected, diags = built.select_instances(build_dir, names)
    entries = []
    for name in selected:
        info = index["instances"][name]
        texts = {}
        for rel in (JCASC, MODEL):
            path = os.path.join(build_dir, name, rel)
            # an index without a sum for the file (an older fleet.json) leaves it unchecked
            data = built.read_checked(path, info.get("files", {}).get(rel.replace(os.sep, "/")) or None, diags)
            if data is None:
                continue
            texts[rel] = data.decode("utf-8")
        if len(texts) == 2:
            model = json.loads(texts[MODEL])
            entries.append(BuildEntry(name, info.get("cluster", model["deployment"]["cluster"]),
                                      model["deployment"]["url"], os.path.join(build_dir, name, JCASC),
                                      texts[JCASC], model))
    if diags:
        raise FleetError(diags)
    return entries


def stale_warnings(entries: list[BuildEntry], build_dir: str, instances_dir: str, names=()) -> list[Diagnostic]:
    """Instance files edited after the build was written, and selected instances the build does not
    have (a hint; `fleet generate --check` is the proof)."""
    try:
        built = os.stat(os.path.join(build_dir, output.INDEX)).st_mtime
    except OSError:
        return []
    out = _unbuilt(entries, build_dir, instances_dir, names)
    candidates = [os.path.join(instances_dir, "fleet.yaml")]
    candidates += [os.path.join(instances_dir, e.name, f) for e in entries for f in ("instance.yaml", "jenkins.yaml")]
    for path in candidates:
        try:
            if os.stat(path).st_mtime > built + 1:
                out.append(Diagnostic(path, 0, 0, "", f"edited after {build_dir}/ was generated: the push would "
                                      "send the old configuration", hint="run 'fleet generate' first",
                                      severity=WARNING))
        except OSError:
            continue
    return out


def _unbuilt(entries: list[BuildEntry], build_dir: str, instances_dir: str, names) -> list[Diagnostic]:
    """Instances under instances/ (a directory with an instance.yaml) that the selection would take
    but that build/ does not hold: added after the last `fleet generate`, so not pushed."""
    index = output.read_index(build_dir) or {}
    built = set(index.get("instances") or {})
    out = []
    try:
        children = sorted(os.scandir(instances_dir), key=lambda e: e.name)
    except OSError:
        return []
    for child in children:
        if child.name.startswith(".") or child.name in built or not child.is_dir(follow_symlinks=False):
            continue
        if names and not matches(child.name, names):
            continue
        path = os.path.join(instances_dir, child.name, "instance.yaml")
        if os.path.isfile(path) and not os.path.islink(path):
            out.append(Diagnostic(path, 0, 0, "", f"not in {build_dir}/: this instance was added after the last "
                                  "'fleet generate' and is left out", hint="run 'fleet generate' first",
                                  severity=WARNING))
    return out


# --- targets: where each controller is --------------------------------------------------------

_TARGET_KEYS = {"url", "mode"}
_PLACEHOLDERS = ("name", "shortName", "namespace", "prefix", "host", "cluster")


@dataclass
class Targets:
    clusters: dict[str, dict] = field(default_factory=dict)
    instances: dict[str, dict] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)

    def override(self, entry: BuildEntry) -> dict:
        merged = dict(self.clusters.get(entry.cluster, {}))
        merged.update(self.instances.get(entry.name, {}))
        return merged


def load_targets(path: str, known_instances: set[str] | None = None) -> Targets:
    """The targets file: per cluster or per instance, `url` (with {placeholders}) and `mode` (apply|reload).
    A URL may carry user:token@ (refused, but it is in the file): no message shows it, masked in the line."""
    try:
        targets = _load_targets(path, known_instances)
    except FleetError as exc:
        raise FleetError([_without_userinfo(d) for d in exc.diagnostics]) from None
    targets.warnings = [_without_userinfo(d) for d in targets.warnings]
    return targets


# up to the last @: a stray one too. Tried once per run of scheme characters, from its start (its
# leading digits, '+', '.' and '-' kept in the first group), each part taken whole: tried from every
# position of a long word, the search took quadratic time.
_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([0-9+.-]*+[a-z][a-z0-9+.-]*+://)([^/?#\s'\"]*)@")


def redact_userinfo(text: str) -> str:
    """https://user:token@host -> https://**********@host, wherever a URL sits in the text: the same length,
    so that a caret under the line still points at its column."""
    return _USERINFO.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + "@", text)


def _without_userinfo(d: Diagnostic) -> Diagnostic:
    """The diagnostic with every URL's user info masked, in its source line too."""
    line = d.source_line
    return dataclasses.replace(d, source_line=None if line is None else redact_userinfo(line),
                               message=redact_userinfo(d.message), key=redact_userinfo(d.key),
                               hint=redact_userinfo(d.hint), context=tuple(redact_userinfo(c) for c in d.context))


def _load_targets(path: str, known_instances: set[str] | None) -> Targets:
    doc = sources.load(path)
    diags: list[Diagnostic] = []
    if not isinstance(doc.data, dict):
        raise FleetError([doc.diagnostic((), "expected a mapping with 'clusters' and/or 'instances'")])
    sections: dict[str, dict[str, dict]] = {"clusters": {}, "instances": {}}
    for section, items in doc.data.items():
        if section not in sections:
            diags.append(doc.diagnostic((section,), f"unknown key '{section}'", key=True,
                                        hint="expected 'clusters' and/or 'instances'"))
            continue
        if not isinstance(items, dict):
            diags.append(doc.diagnostic((section,), "expected a mapping of names to settings"))
            continue
        for name, settings in items.items():
            where = (section, name)
            if not isinstance(settings, dict):
                diags.append(doc.diagnostic(where, "expected a mapping with 'url' and/or 'mode'"))
                continue
            for key, value in settings.items():
                if key not in _TARGET_KEYS:
                    diags.append(doc.diagnostic(where + (key,), f"unknown key '{key}'", key=True,
                                                hint="expected 'url' and/or 'mode'"))
                elif key == "mode" and value not in ("apply", "reload"):
                    diags.append(doc.diagnostic(where + (key,), f"mode must be 'apply' or 'reload', not {value!r}"))
                elif key == "url":
                    problem = _template_problem(value)
                    if problem:
                        diags.append(doc.diagnostic(where + (key,), problem))
            if section == "instances" and known_instances is not None and name not in known_instances:
                diags.append(doc.diagnostic(where, f"no generated instance '{name}'", key=True, severity=WARNING,
                                            hint="a typo, or an instance removed from the fleet?"))
            sections[section][name] = dict(settings)
    return Targets(sections["clusters"], sections["instances"], fail_if_errors(diags))


def _template_problem(value) -> str:
    if not isinstance(value, str) or not value:
        return "url must be a non-empty string"
    for name in re.findall(r"\{([^}]*)\}", value):
        if name not in _PLACEHOLDERS:
            return f"unknown placeholder {{{name}}} (known: {', '.join('{' + p + '}' for p in _PLACEHOLDERS)})"
    return ""


def expand_url(template: str, entry: BuildEntry) -> str:
    dep = entry.model.get("deployment", {})
    values = {"name": entry.name, "shortName": entry.model.get("project", {}).get("shortName", ""),
              "namespace": dep.get("namespace", ""), "prefix": dep.get("prefix", ""), "host": dep.get("host", ""),
              "cluster": entry.cluster}
    return re.sub(r"\{([^}]*)\}", lambda m: str(values[m.group(1)]), template)


def url_problem(url: str, insecure: bool) -> str:
    """Why this controller URL is refused, or ''."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not carry credentials (use FLEET_JENKINS_USER/FLEET_JENKINS_TOKEN or --credentials)"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    if parts.scheme == "http" and not insecure and not _is_local(host):
        return ("plain http would send the API token unencrypted; use https "
                "(http is accepted for local controllers, or with --insecure)")
    return ""


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment: what may be shown."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _is_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host != "localhost" and not host.endswith(".localhost"):
        return False
    # A name is as local as the addresses it resolves to: RFC 6761 asks resolvers to answer
    # loopback for *.localhost, but /etc/hosts or a DNS server may say otherwise.
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(info[4][0].partition("%")[0]).is_loopback for info in found)


# --- credentials ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Secret:
    user: str
    token: str = field(repr=False)
    reload_token: str | None = field(default=None, repr=False)
    source: str = ""  # where it came from, for messages: "environment", "<file> [instance:x]"


@dataclass(frozen=True)
class CredentialStore:
    default: Secret | None = None
    clusters: dict[str, Secret] = field(default_factory=dict)
    instances: dict[str, Secret] = field(default_factory=dict)
    source: str = ""  # the credentials file, "" for the environment

    def for_entry(self, entry: BuildEntry) -> Secret | None:
        return self.instances.get(entry.name) or self.clusters.get(entry.cluster) or self.default


def credentials_from_env(env) -> Secret | None:
    user, token = env.get(ENV_USER), env.get(ENV_TOKEN)
    if user and token:
        return Secret(user, token, env.get(ENV_RELOAD_TOKEN) or None, "environment")
    return None


def _repository_root(path: str) -> str | None:
    path = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def load_credentials(path: str, env, protected_dirs: list[str]) -> CredentialStore:
    """A credentials file: refused unless mode 0600 and outside the repositories in `protected_dirs`.

    INI sections [default], [cluster:NAME], [instance:NAME], or YAML keys default, clusters.NAME,
    instances.NAME; each with user, token and optionally reload-token.  The environment
    (FLEET_JENKINS_USER/TOKEN) is the fallback for controllers the file does not cover.
    """
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot read credentials file: {exc.strerror}")]) from None
    if not stat.S_ISREG(st.st_mode):
        raise FleetError([Diagnostic(path, 0, 0, "", "credentials file is not a regular file")])
    if st.st_mode & 0o077:
        raise FleetError([Diagnostic(path, 0, 0, "", f"credentials file has mode {stat.S_IMODE(st.st_mode):04o}: "
                                     "others can read it, refused", hint=f"chmod 600 {path}")])
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise FleetError([Diagnostic(path, 0, 0, "", "credentials file belongs to another user, refused")])
    for d in protected_dirs:
        root = _repository_root(d)
        if root and (real == root or real.startswith(root + os.sep)):
            raise FleetError([Diagnostic(path, 0, 0, "", f"credentials file is inside the repository {root}: "
                                         "it could be committed, refused",
                                         hint="keep it outside, e.g. ~/.config/jenkins-fleet/credentials.ini")])
    with open(real, encoding="utf-8") as fh:
        text = fh.read()
    sections = _yaml_sections(text, path) if _looks_yaml(path, text) else _ini_sections(text, path)
    store: dict[str, dict] = {"default": {}, "cluster": {}, "instance": {}}
    diags = []
    for (kind, name), values in sections.items():
        label = f"{path} [{kind}{':' + name if name else ''}]"
        unknown = set(values) - {"user", "token", "reload-token"}
        if unknown:
            # Not named: in a credentials file a mistyped line may put a token where a key belongs.
            diags.append(Diagnostic(path, 0, 0, f"{kind}{':' + name if name else ''}",
                                    f"{plural(len(unknown), 'unknown key')} (not shown: "
                                    "they may hold a token)", hint="expected user, token, reload-token"))
            continue
        if not values.get("user") or not values.get("token"):
            diags.append(Diagnostic(path, 0, 0, f"{kind}{':' + name if name else ''}",
                                    "needs both 'user' and 'token'"))
            continue
        secret = Secret(str(values["user"]), str(values["token"]), values.get("reload-token"), label)
        if kind == "default":
            store["default"][""] = secret
        else:
            store[kind][name] = secret
    if diags:
        raise FleetError(diags)
    return CredentialStore(store["default"].get("") or credentials_from_env(env), store["cluster"], store["instance"],
                           path)


def _looks_yaml(path: str, text: str) -> bool:
    if path.endswith((".yaml", ".yml")):
        return True
    if path.endswith((".ini", ".cfg", ".conf")):
        return False
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("#", ";"))), "")
    return not first.startswith("[")


def _ini_sections(text: str, path: str) -> dict[tuple[str, str], dict]:
    parser = configparser.ConfigParser(interpolation=None, default_section="\x00none")
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        # the message quotes file lines, which may hold a token: say only where
        line = getattr(exc, "lineno", 0) or 0
        raise FleetError([Diagnostic(path, line, 1 if line else 0, "",
                                     f"not a valid INI file ({type(exc).__name__})")]) from None
    out = {}
    for section in parser.sections():
        kind, _, name = section.partition(":")
        if (kind, bool(name)) not in (("default", False), ("cluster", True), ("instance", True)):
            raise FleetError([Diagnostic(path, 0, 0, "", "a section is not [default], [cluster:NAME] or "
                                         "[instance:NAME] (its name is not shown: it may hold a token)",
                                         hint="use [default], [cluster:NAME] or [instance:NAME]")])
        out[(kind, name)] = dict(parser.items(section))
    return out


def _yaml_sections(text: str, path: str) -> dict[tuple[str, str], dict]:
    try:
        data = yamlout.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise FleetError([Diagnostic(path, line, 1 if line else 0, "", "not a valid YAML file")]) from None
    if not isinstance(data, dict):
        raise FleetError([Diagnostic(path, 0, 0, "", "expected a mapping: default, clusters, instances")])
    out = {}
    for key, value in data.items():
        if key == "default" and isinstance(value, dict):
            out[("default", "")] = value
        elif key in ("clusters", "instances") and isinstance(value, dict):
            for name, values in value.items():
                if not isinstance(values, dict):
                    raise FleetError([Diagnostic(path, 0, 0, f"{key}.{name}", "expected user and token")])
                out[(key[:-1], str(name))] = values
        else:
            raise FleetError([Diagnostic(path, 0, 0, "", "an unexpected top-level key (not shown: it may "
                                         "hold a token)", hint="expected default, clusters, instances")])
    return out


# --- what to push where -----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    entry: BuildEntry
    url: str
    credentials: Credentials | None
    mode: str = "apply"  # apply | reload
    reload_token: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.entry.name


def resolve_targets(entries: list[BuildEntry], *, targets: Targets | None, store: CredentialStore,
                    url: str | None = None, reload: bool = False, insecure: bool = False) -> list[Target]:
    """URL, credentials and mode per controller; FleetError listing every controller that cannot be pushed."""
    out, diags, uncovered = [], [], []
    for entry in entries:
        override = targets.override(entry) if targets else {}
        where = url or (expand_url(override["url"], entry) if "url" in override else entry.url)
        problem = url_problem(where, insecure)
        if problem:
            diags.append(Diagnostic(entry.jcasc_path, 0, 0, entry.name,
                                    f"controller URL {safe_url(where)}: {problem}"))
            continue
        secret = store.for_entry(entry)
        if secret is None:
            uncovered.append(entry.name)
            continue
        mode = "reload" if reload else override.get("mode", "apply")
        out.append(Target(entry, where, Credentials(secret.user, secret.token), mode, secret.reload_token))
    if uncovered:  # one error for all of them: the fix is the same
        shown = ", ".join(uncovered[:5]) + (f" and {len(uncovered) - 5} more" if len(uncovered) > 5 else "")
        source = store.source or "<environment>"
        what = "the controller" if len(uncovered) == 1 else f"{len(uncovered)} controllers"
        if store.source:
            hint = (f"add a [default] section, or [cluster:NAME] / [instance:NAME] sections, to {store.source}; "
                    f"or set {ENV_USER} and {ENV_TOKEN}")
        else:
            hint = f"set {ENV_USER} and {ENV_TOKEN}, or use --credentials FILE"
        diags.append(Diagnostic(source, 0, 0, "", f"no credentials for {what}: {shown}", hint=hint))
    if diags:
        raise FleetError(diags)
    return out
