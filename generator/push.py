"""Push generated JCasC to live controllers, fleet-wide, safely.

Per controller, in order: who am I -> version -> plugins -> check -> diff ->
apply (only when something changed) -> verify.  A failed step ends that
controller's push; nothing is applied after a failed check; one controller's
failure never stops the others.  Library code: returns results, never prints.

Inputs (the build index, the targets file, the credentials file) are read here
too, so that every user mistake becomes a positioned `Diagnostic`.
"""

from __future__ import annotations

import configparser
import fnmatch
import ipaddress
import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from . import __version__, output, sources
from .errors import WARNING, Diagnostic, FleetError, sort_diagnostics
from .jenkins_client import (
    CheckIssue,
    Credentials,
    InstalledPlugin,
    JenkinsClient,
    JenkinsError,
    RetryPolicy,
)

OUTCOMES = ("unchanged", "applied", "failed", "skipped")
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
    index_path = os.path.join(build_dir, output.INDEX)
    index = output.read_index(build_dir)
    if index is None or not isinstance(index.get("instances"), dict):
        raise FleetError([Diagnostic(index_path, 0, 0, "", "no generated fleet here (missing or unreadable "
                                     f"{output.INDEX})", hint="run 'fleet generate' first, or pass --build DIR")])
    known = sorted(index["instances"])
    selected, diags = [], []
    for pattern in names or ("*",):
        hits = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            diags.append(Diagnostic(index_path, 0, 0, "", f"no generated instance matches '{pattern}'",
                                    hint="run 'fleet generate' for it, or check the name"))
        selected.extend(h for h in hits if h not in selected)
    entries = []
    for name in sorted(selected):
        info = index["instances"][name]
        texts = {}
        for rel in (JCASC, MODEL):
            path = os.path.join(build_dir, name, rel)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                diags.append(Diagnostic(path, 0, 0, "", "generated file is missing", hint="run 'fleet generate'"))
                continue
            expected = info.get("files", {}).get(rel.replace(os.sep, "/"))
            if expected and output.sha256(data) != expected:
                diags.append(Diagnostic(path, 0, 0, "", f"changed since generation (sha256 differs from "
                                        f"{output.INDEX})", hint="do not edit build/; run 'fleet generate'"))
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


def stale_warnings(entries: list[BuildEntry], build_dir: str, instances_dir: str) -> list[Diagnostic]:
    """Instance files edited after the build was written (a hint; `fleet generate --check` is the proof)."""
    try:
        built = os.stat(os.path.join(build_dir, output.INDEX)).st_mtime
    except OSError:
        return []
    out = []
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
    """The targets file: per cluster or per instance, `url` (with {placeholders}) and `mode` (apply|reload)."""
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
    if any(d.is_error for d in diags):
        raise FleetError(diags)
    return Targets(sections["clusters"], sections["instances"], sort_diagnostics(diags))


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
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        unknown = sorted(set(values) - {"user", "token", "reload-token"})
        if unknown:
            diags.append(Diagnostic(path, 0, 0, f"{kind}{':' + name if name else ''}",
                                    f"unknown key(s) {', '.join(unknown)}", hint="expected user, token, reload-token"))
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
    return CredentialStore(store["default"].get("") or credentials_from_env(env), store["cluster"], store["instance"])


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
            raise FleetError([Diagnostic(path, 0, 0, section, f"unknown section [{section}]",
                                         hint="use [default], [cluster:NAME] or [instance:NAME]")])
        out[(kind, name)] = dict(parser.items(section))
    return out


def _yaml_sections(text: str, path: str) -> dict[tuple[str, str], dict]:
    try:
        data = yaml.safe_load(text)
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
            raise FleetError([Diagnostic(path, 0, 0, str(key), f"unexpected key '{key}'",
                                         hint="expected default, clusters, instances")])
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
    out, diags = [], []
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
            diags.append(Diagnostic(entry.jcasc_path, 0, 0, entry.name, "no credentials for this controller",
                                    hint=f"set {ENV_USER} and {ENV_TOKEN}, or use --credentials FILE"))
            continue
        mode = "reload" if reload else override.get("mode", "apply")
        out.append(Target(entry, where, Credentials(secret.user, secret.token), mode, secret.reload_token))
    if diags:
        raise FleetError(diags)
    return out


# --- plugins ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PluginReport:
    missing: tuple[str, ...] = ()
    inactive: tuple[str, ...] = ()
    outdated: tuple[tuple[str, str, str], ...] = ()  # (plugin, installed, wanted at least)
    extra: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"plugins missing: {', '.join(self.missing)}")
        if self.inactive:
            out.append(f"plugins inactive: {', '.join(self.inactive)}")
        for name, have, want in self.outdated:
            out.append(f"plugin {name} {have} is older than {want}")
        return out

    def as_dict(self) -> dict:
        return {"missing": list(self.missing), "inactive": list(self.inactive),
                "outdated": [{"plugin": n, "installed": h, "wanted": w} for n, h, w in self.outdated],
                "extra": list(self.extra)}


def version_key(version: str) -> tuple:
    """Jenkins-style version order: numeric parts numerically, a qualifier before the release it
    qualifies (2.0-beta < 2.0 < 2.0.1); good enough for minimum-version pins."""
    parts = [p for p in re.split(r"[.\-_]", version) if p]
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p) for p in parts) + ((0.5, 0, ""),)


def compare_plugins(required: list[str], installed: list[InstalledPlugin]) -> PluginReport:
    """`required` as in model.json jenkins.plugins: "id" or "id:minimum-version"."""
    have = {p.short_name: p for p in installed}
    wanted = {}
    for item in required:
        name, _, pin = item.partition(":")
        wanted[name] = pin
    missing = sorted(n for n in wanted if n not in have)
    inactive = sorted(n for n in wanted if n in have and not (have[n].active and have[n].enabled))
    outdated = sorted((n, have[n].version, pin) for n, pin in wanted.items()
                      if pin and n in have and version_key(have[n].version) < version_key(pin))
    needed, todo = set(), [n for n in wanted if n in have]
    while todo:  # dependencies of what we require are not "extra"
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(d for d, _ in have[name].dependencies if d in have)
    extra = sorted(n for n in have if n not in needed)
    return PluginReport(tuple(missing), tuple(inactive), tuple(outdated), tuple(extra))


# --- the semantic diff of managed keys ----------------------------------------------------------

# Keys holding secrets (managerPasswordSecret, privateKey, token...); not secretName, a Kubernetes object's name.
SECRET_KEY = re.compile(r"(password|passphrase|privatekey|token|^secret$|secret$)", re.IGNORECASE)
ENCRYPTED = re.compile(r"^\{[A-Za-z0-9+/=]{16,}\}$")
REDACTED = "<secret>"


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | changed
    path: str
    old: object = None
    new: object = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Diff:
    changes: tuple[Change, ...]
    not_compared: tuple[str, ...]  # ${VAR} values: Jenkins only shows them resolved or encrypted


def managed_diff(desired: dict, live: dict) -> Diff:
    """What applying `desired` would change in `live`, for the keys `desired` sets (JCasC is not stateful:
    keys we do not set are not ours).  Maps compare by key, lists of named items by name, lists of
    scalars as sets, scalars after normalisation ("10" == 10)."""
    changes: list[Change] = []
    skipped: list[str] = []
    _diff(desired, live if isinstance(live, dict) else {}, "", changes, skipped, secret=False)
    return Diff(tuple(changes), tuple(skipped))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_placeholder(value) -> bool:
    return isinstance(value, str) and "${" in value


def _norm(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return ""
    return str(value)


def _identity(item) -> str | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("name"), str):
        return item["name"]
    if len(item) == 1:
        kind, inner = next(iter(item.items()))
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return kind if inner["name"] == kind else f"{kind} {inner['name']}"
    return None


def _keyed(items: list) -> dict[str, object] | None:
    ids = [_identity(i) for i in items]
    if not items or None in ids or len(set(ids)) != len(ids):
        return None
    return dict(zip(ids, items))


def redact(value, secret: bool = False):
    if isinstance(value, dict):
        return {k: redact(v, secret or bool(SECRET_KEY.search(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    if isinstance(value, str) and (ENCRYPTED.match(value) or (secret and value and not _is_placeholder(value))):
        return REDACTED
    return value


def _diff(want, have, path, out, skipped, secret):
    if isinstance(want, dict):
        if not isinstance(have, dict):
            out.append(Change("changed", path, redact(have, secret), redact(want, secret)))
            return
        for key, value in want.items():
            child_secret = secret or bool(SECRET_KEY.search(key))
            p = _join(path, key)
            if key not in have:
                if _is_placeholder(value):
                    skipped.append(p)
                else:
                    out.append(Change("added", p, None, redact(value, child_secret)))
                continue
            _diff(value, have[key], p, out, skipped, child_secret)
        return
    if isinstance(want, list):
        if not isinstance(have, list):
            out.append(Change("changed", path, redact(have, secret), redact(want, secret)))
            return
        _diff_list(want, have, path, out, skipped, secret)
        return
    if _is_placeholder(want):
        skipped.append(path)
        return
    if isinstance(have, (dict, list)) or _norm(want) != _norm(have):
        out.append(Change("changed", path, redact(have, secret), redact(want, secret)))


def _diff_list(want, have, path, out, skipped, secret):
    want_keyed, have_keyed = _keyed(want), _keyed(have)
    if want_keyed is not None and (have_keyed is not None or not have):
        have_keyed = have_keyed or {}
        for ident, item in want_keyed.items():
            p = f"{path}[{ident}]"
            if ident not in have_keyed:
                out.append(Change("added", p, None, redact(item, secret)))
                continue
            w, h = item, have_keyed[ident]
            if len(w) == 1 and "name" not in w and isinstance(h, dict) and set(h) == set(w):
                w, h = next(iter(w.values())), next(iter(h.values()))  # {group: {name: x}}: compare the inside
            _diff(w, h, p, out, skipped, secret)
        for ident, item in have_keyed.items():
            if ident not in want_keyed:
                out.append(Change("removed", f"{path}[{ident}]", redact(item, secret), None))
        return
    if all(not isinstance(v, (dict, list)) for v in want + have):
        if any(_is_placeholder(v) for v in want):
            skipped.append(path)
            return
        if sorted(map(_norm, want)) != sorted(map(_norm, have)):
            gone = sorted({_norm(v) for v in have} - {_norm(v) for v in want})
            new = sorted({_norm(v) for v in want} - {_norm(v) for v in have})
            out.append(Change("changed", path, redact(gone or have, secret), redact(new or want, secret)))
        return
    unmatched = list(range(len(have)))
    for i, item in enumerate(want):
        match = next((j for j in unmatched if _matches(item, have[j])), None)
        if match is None:
            out.append(Change("added", f"{path}[{i}]", None, redact(item, secret)))
        else:
            unmatched.remove(match)
            _diff(item, have[match], f"{path}[{i}]", [], skipped, secret)  # to record what was not compared
    for j in unmatched:
        out.append(Change("removed", f"{path}[{j}]", redact(have[j], secret), None))


def _matches(want, have) -> bool:
    changes: list[Change] = []
    _diff(want, have, "", changes, [], False)
    return not changes


def format_change(change: Change) -> list[str]:
    """Readable lines for one change: ~ path: old -> new, + path: value, - path: value."""
    def show(value) -> str:
        if isinstance(value, (dict, list)):
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
        return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else _norm(value) or "null"

    if change.kind == "changed":
        return [f"~ {change.path}: {show(change.old)} -> {show(change.new)}"]
    sign, value = ("+", change.new) if change.kind == "added" else ("-", change.old)
    inline = show(value)
    if not isinstance(value, (dict, list)) or len(inline) <= 100:
        return [f"{sign} {change.path}: {inline}"]
    block = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True,
                           width=1 << 16).rstrip("\n").splitlines()
    return [f"{sign} {change.path}:"] + [f"{sign}     {line}" for line in block]


# --- check issues against the generated file ------------------------------------------------------

def check_diagnostics(issues, path: str, text: str) -> list[Diagnostic]:
    """Jenkins' check issues as diagnostics positioned in the generated file (line -1 is located by key)."""
    try:
        doc = sources.parse_text(text, path)
    except FleetError:
        doc = None
    lines = text.splitlines()
    out = []
    for issue in issues:
        line, column, key = issue.line, 1, ""
        if line <= 0:
            m = re.search(r"line (\d+), column (\d+)", issue.message)
            if m:
                line, column = int(m.group(1)), int(m.group(2))
            elif doc is not None:
                found = _locate(issue.message, doc)
                if found:
                    (line, column, _), key = found
        if line <= 0:
            line, column = 0, 0
        source = lines[line - 1] if 0 < line <= len(lines) else None
        out.append(Diagnostic(path, line, column, key, issue.message.splitlines()[0] if issue.message else "",
                              severity="error" if issue.severity == "error" else WARNING,
                              source_line=source, context=("reported by Jenkins' configuration-as-code check",)))
    return out


def _locate(message: str, doc) -> tuple[tuple[int, int, int], str] | None:
    names = []
    m = re.search(r"root elements?: ([\w\-, ]+)", message)
    if m:
        names = [("root", n.strip()) for n in m.group(1).split(",") if n.strip()]
    m = m or re.search(r"Invalid configuration elements for type:? (?:class )?[\w.$]+ : ([\w\-, ]+)", message)
    if m and not names:
        names = [("any", n.strip()) for n in m.group(1).split(",") if n.strip()]
    m2 = re.search(r"implementation found for (\w+)", message)
    if m2:
        names = [("any", m2.group(1))]
    for scope, name in names:
        for key_path, pos in doc.keys.items():
            if key_path and key_path[-1] == name and (scope == "any" or len(key_path) == 1):
                return pos, sources.format_path(key_path)
    return None


# --- one controller ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PushOptions:
    dry_run: bool = False
    jobs: int = 8
    timeout: float = 30.0
    verify_tls: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class Result:
    name: str
    url: str
    cluster: str
    mode: str
    outcome: str = "failed"
    reason: str = ""
    step: str = ""  # the last step reached
    duration: float = 0.0
    user: str = ""
    jenkins_version: str = ""
    expected_version: str = ""
    endpoint: str = ""
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plugins: PluginReport | None = None
    requests: int = 0
    sessions: list[str] = field(default_factory=list)
    request_log: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome != "failed" and not self.interrupted

    def as_dict(self) -> dict:
        return {
            "name": self.name, "url": self.url, "cluster": self.cluster, "mode": self.mode,
            "outcome": self.outcome, "ok": self.ok, "reason": self.reason, "step": self.step,
            "durationSeconds": round(self.duration, 3), "user": self.user,
            "jenkinsVersion": self.jenkins_version, "expectedVersion": self.expected_version,
            "endpoint": self.endpoint, "warnings": list(self.warnings),
            "changes": [c.as_dict() for c in self.changes], "notCompared": list(self.not_compared),
            "checkIssues": [{"line": d.line, "column": d.column, "key": d.key, "message": d.message,
                             "severity": d.severity} for d in self.diagnostics],
            "plugins": self.plugins.as_dict() if self.plugins else None,
            "requests": self.requests,
        }


ClientFactory = Callable[..., JenkinsClient]


class _Stop(Exception):
    """The fleet was interrupted before this controller changed anything."""


def push_one(target: Target, options: PushOptions, *, stop: threading.Event | None = None,
             client_factory: ClientFactory = JenkinsClient) -> Result:
    entry = target.entry
    result = Result(entry.name, target.url, entry.cluster, target.mode,
                    expected_version=str(entry.model.get("jenkins", {}).get("version", "")))
    started = time.monotonic()
    client = client_factory(target.url, target.credentials, timeout=options.timeout, verify=options.verify_tls,
                            retry=options.retry)

    def step(name: str) -> None:
        result.step = name
        if stop is not None and stop.is_set():
            raise _Stop(name)

    try:
        _run(target, options, client, result, step)
    except _Stop as exc:
        result.outcome, result.interrupted = "skipped", True
        result.reason = f"interrupted before {exc.args[0]}"
    except JenkinsError as err:
        result.outcome, result.reason = "failed", f"{result.step}: {err}"
    finally:
        client.close()
        result.duration = time.monotonic() - started
        result.requests = len(client.log)
        result.request_log = list(client.log)
        result.sessions = list(client.sessions)
        if len(client.sessions) > 1:
            result.warnings.append(f"the controller restarted during the push (session "
                                   f"{' -> '.join(client.sessions)})")
        if result.warnings and result.outcome != "failed":
            n = len(result.warnings)
            result.reason += f" ({n} warning{'s' * (n != 1)})"
    return result


def _run(target: Target, options: PushOptions, client: JenkinsClient, result: Result, step) -> None:
    entry = target.entry
    step("whoami")
    identity = client.whoami()
    result.user = identity.user

    step("version")
    result.jenkins_version = identity.version
    if not identity.version:
        result.warnings.append("the controller did not say its version (no X-Jenkins header)")
    elif result.expected_version and identity.version != result.expected_version:
        result.warnings.append(f"runs Jenkins {identity.version}, the instance expects {result.expected_version}")

    step("plugins")
    installed = client.plugins()
    result.plugins = compare_plugins(list(entry.model.get("jenkins", {}).get("plugins", [])), installed)
    result.warnings.extend(result.plugins.problems())

    casc = next((p for p in installed if p.short_name == "configuration-as-code"), None)
    if casc is None or not (casc.active and casc.enabled):
        result.reason = "plugins: the configuration-as-code plugin is not installed and active: nothing to push to"
        return

    step("check")
    # Before 1947.x the plugin reported check errors as a 500 page; later a 500 is a server fault.
    checked = client.check(entry.jcasc, legacy_errors=version_key(casc.version) < version_key("1947"))
    result.diagnostics = check_diagnostics(checked.issues, entry.jcasc_path, entry.jcasc)
    if checked.errors:
        first = next(d for d in result.diagnostics if d.is_error)
        n = len(checked.errors)
        result.reason = (f"check: Jenkins rejected the generated configuration ({n} error{'s' * (n != 1)}; "
                         f"{os.path.basename(first.file)}" + (f":{first.line}" if first.line else "")
                         + f": {first.message})")
        return

    step("diff")
    desired = yaml.safe_load(entry.jcasc) or {}
    diff = managed_diff(desired, _parse_export(client.export(), "diff"))
    result.changes, result.not_compared = list(diff.changes), list(diff.not_compared)
    if not diff.changes:
        result.outcome, result.reason = "unchanged", "up to date"
        return
    if options.dry_run:
        n = len(diff.changes)
        result.outcome, result.reason = "skipped", f"dry run: {n} change{'s' * (n != 1)} not applied"
        return

    step("apply")
    if target.mode == "reload":
        applied = client.reload_with_token(target.reload_token) if target.reload_token else client.reload()
    else:
        applied = client.apply(entry.jcasc)
    result.endpoint = applied.endpoint
    if not applied.ok:
        result.diagnostics += check_diagnostics(applied.issues, entry.jcasc_path, entry.jcasc)
        result.reason = f"apply: /{applied.endpoint} failed: {applied.issues[0].message.splitlines()[0]}"
        return

    result.step = "verify"  # past the apply: an interruption no longer stops us
    after = managed_diff(desired, _parse_export(client.export(), "verify"))
    if after.changes:
        paths = ", ".join(c.path for c in after.changes[:3]) + (", ..." if len(after.changes) > 3 else "")
        hint = (" (was the ConfigMap updated? reload reads the mounted file)" if target.mode == "reload" else "")
        result.reason = (f"verify: {len(after.changes)} managed key(s) still differ after "
                         f"/{applied.endpoint}: {paths}{hint}")
        return
    result.outcome = "applied"
    n = len(diff.changes)
    result.reason = f"{n} change{'s' * (n != 1)} via /{applied.endpoint}"


def _parse_export(text: str, step: str) -> dict:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise JenkinsError("POST /configuration-as-code/export answered YAML that does not parse") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise JenkinsError("POST /configuration-as-code/export did not answer a YAML mapping")
    return data


# --- the fleet --------------------------------------------------------------------------------

@dataclass
class FleetResult:
    results: list[Result]
    duration: float
    interrupted: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        return {o: sum(1 for r in self.results if r.outcome == o) for o in OUTCOMES}

    def report(self) -> dict:
        return {"generator": f"jenkins-fleet {__version__}", "dryRun": self.dry_run, "ok": self.ok,
                "interrupted": self.interrupted, "durationSeconds": round(self.duration, 3),
                "counts": self.counts(), "controllers": [r.as_dict() for r in self.results]}


def push_fleet(targets: list[Target], options: PushOptions, *,
               progress: Callable[[Result], None] | None = None, stop: threading.Event | None = None,
               client_factory: ClientFactory = JenkinsClient) -> FleetResult:
    """Push every target with at most `options.jobs` in flight.  Ctrl-C (KeyboardInterrupt in the
    calling thread) lets running controllers finish (none starts an apply afterwards) and reports."""
    started = time.monotonic()
    stop = stop or threading.Event()
    interrupted = False
    results: list[Result] = []
    collected: dict = {}
    with ThreadPoolExecutor(max_workers=max(1, options.jobs), thread_name_prefix="push") as pool:
        futures = [pool.submit(push_one, t, options, stop=stop, client_factory=client_factory) for t in targets]
        while len(collected) < len(futures):
            try:
                done, _ = wait([f for f in futures if f not in collected], timeout=0.2,
                               return_when=FIRST_COMPLETED)
                for future in done:
                    if future not in collected:
                        collected[future] = future.result()
                        if progress:
                            progress(collected[future])
            except KeyboardInterrupt:
                stop.set()  # running controllers finish their step; none starts an apply
            interrupted = interrupted or stop.is_set()
    results = sorted(collected.values(), key=lambda r: r.name)
    return FleetResult(results, time.monotonic() - started, interrupted, options.dry_run)


__all__ = ["BuildEntry", "Change", "CheckIssue", "CredentialStore", "Diff", "FleetResult", "PluginReport",
           "PushOptions", "Result", "Secret", "Target", "Targets", "check_diagnostics", "compare_plugins",
           "credentials_from_env", "expand_url", "format_change", "load_credentials", "load_targets",
           "managed_diff", "push_fleet", "push_one", "read_build", "resolve_targets", "stale_warnings",
           "url_problem"]
