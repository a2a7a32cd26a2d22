"""Any string the schemas accept reaches the generated files unchanged and changes nothing else.

tests/properties already checks that display names, system messages, static agent descriptions,
labels and permission names come out exactly.  This file adds the strings it does not draw
(unixGroupName, packsApproval, adminEmail, remoteFS, and the fleet-level adminGroup, readGroup,
LDAP settings and descriptions) and a stronger property over every generated file:

    generate(strings) == generate(placeholders) with each placeholder replaced by its string

compared as parsed YAML/JSON (JCasC values after undoing JCasC's '^${' escape), with list order
ignored (permission entries are sorted by name).  An input that injected YAML, added or changed a
key, or turned into a ${VARIABLE} for JCasC would break that equality.  Every Kubernetes object's
labels and annotations must also be valid for the API server.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest
import yaml
from fleettest import SCHEMA_LINE, write, yaml12_dumper
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from generator import fleet
from generator.errors import FleetError

FUZZ = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "0"))
if FUZZ:
    pytestmark = pytest.mark.timeout(0)
EXAMPLES = max(30, FUZZ // 20) if FUZZ else 30

_DUMPER = yaml12_dumper()  # libyaml: PyYAML's own emitter mangles U+0085; quotes what YAML 1.2 reads otherwise
NAME = "tech.subject"
AGENT_IMAGE = "docker.io/jenkins/inbound-agent:3355.v388858a_47b_33-1-jdk21"

# Characters some regex engine counts as white space (the schemas' \s must not depend on which).
_SPACES = set("\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
              + "".join(chr(c) for c in range(0x2000, 0x200B)))
# What breaks YAML, JCasC or a shell: indicators, quotes, line breaks, '${', unicode line separators.
_NASTY = ["${", "^${", "${LDAP_MANAGER_PASSWORD}", "^", "$", "{", "}", ":", ": ", " #", "#", "'", '"', "\\", "\n",
          "\r", "\r\n", "\t", " ", "-", "- ", "? ", "&a", "*a", "!!python/object:os.system", "|", ">", "%", "@",
          "`", "\x85", "\u2028", "\ufeff", "\x00", "\x1b[31m", "é", "🚀", "yes", "null", "~", "1e3", "0x10",
          "...", "---", "\n---\n", "key: value", "\n  injected: true", "}}", "{{ m }}", "{% raw %}", "<script>",
          "\"}, {\"x\": 1}, {\"", "%}", "'''"]

any_text = st.text(st.characters(blacklist_categories=("Cs",)))
nasty = st.lists(st.sampled_from(_NASTY) | any_text.filter(lambda s: len(s) < 4), max_size=12).map("".join)


def free(min_size=0, max_size=200):
    return (nasty | any_text).filter(lambda s: min_size <= len(s) <= max_size)


def _no(chars):
    return st.characters(blacklist_categories=("Cs",), blacklist_characters=chars)


def _nasty_without(chars):
    return st.lists(st.sampled_from([n for n in _NASTY if not set(n) & set(chars)]) | st.text(_no(chars), max_size=3),
                    max_size=12).map("".join)


# ^[^\s${}][^${}]*$ (group and user names, unixGroupName)
principal = st.tuples(_no("${}").filter(lambda c: c not in _SPACES and not c.isspace()),
                      _nasty_without("${}")).map("".join).filter(lambda s: len(s) <= 256)
# ^[^@\s]+@[^@\s]+$
_mail_part = st.text(_no("@").filter(lambda c: c not in _SPACES and not c.isspace()), min_size=1, max_size=20)
email = st.tuples(_mail_part, _mail_part).map("@".join)
# ^/[^\s${}]*$
remote_fs = st.text(_no("${}").filter(lambda c: c not in _SPACES and not c.isspace()), max_size=40).map("/".__add__)

INSTANCE_FIELDS = {
    ("project", "displayName"): free(1, 200),
    ("project", "unixGroupName"): principal,
    ("project", "packsApproval"): free(1, 512),
    ("jenkins", "systemMessage"): free(0, 4096),
    ("jenkins", "adminEmail"): email,
    ("jenkins", "permissions", 0, "group"): principal,
    ("jenkins", "permissions", 1, "user"): principal,
    ("agents", "static", 0, "description"): free(0, 1024),
    ("agents", "static", 0, "remoteFS"): remote_fs,
}
FLEET_FIELDS = {
    ("defaults", "adminGroup"): free(1, 200),
    ("defaults", "readGroup"): free(1, 200),
    ("defaults", "ldap", "rootDN"): free(),
    ("defaults", "ldap", "userSearch"): free(),
    ("defaults", "ldap", "groupSearchBase"): free(),
    ("defaults", "ldap", "managerDN"): free(),
    ("clusters", 0, "description"): free(),
    ("profiles", 0, "description"): free(),
}
OPTIONAL = {("jenkins", "systemMessage")}  # without it the display name goes into the default message
GROUPS = [("defaults", "adminGroup"), ("defaults", "readGroup"), ("project", "unixGroupName"),
          ("jenkins", "permissions", 0, "group")]


def placeholder(path) -> str:
    word = "".join(str(p) for p in path).replace("_", "")
    if path[-1] == "adminEmail":
        return "QQmailQQ@QQdomainQQ"
    if path[-1] == "remoteFS":
        return "/QQremotefsQQ"
    return f"QQ{word}QQ"


def fleet_doc(values: dict) -> dict:
    doc = {
        "name": "roundtrip",
        "kubernetesVersion": "1.30",
        "clusters": [{"name": "main", "description": "", "capacity": {"cpu": "1000", "memory": "4000Gi"}}],
        "defaults": {"cluster": "main", "host": "ci.example.org", "adminGroup": "", "readGroup": "",
                     "agentImage": AGENT_IMAGE,
                     "ldap": {"server": "ldaps://ldap.example.org", "rootDN": "", "userSearch": "",
                              "groupSearchBase": "", "managerDN": "", "managerPasswordEnv": "LDAP_MANAGER_PASSWORD"}},
        "controllers": {"latest": "2.555.2", "versions": {"2.555.2": {
            "image": "docker.io/jenkins/jenkins:2.555.2-lts-jdk21",
            "plugins": ["configuration-as-code", "kubernetes", "ldap", "matrix-auth", "git"]}}},
        "profiles": [{"name": "tech", "description": "", "match": ["tech.*"],
                      "set": {"jenkins": {"plugins": ["git"]}}}],
    }
    for path in FLEET_FIELDS:
        _put(doc, path, values[path])
    return doc


def instance_doc(values: dict) -> dict:
    doc = {"project": {"fullName": NAME, "resourcePacks": 2},
           "jenkins": {"permissions": [{"group": "", "permissions": ["Job/Build"]},
                                       {"user": "", "permissions": ["Job/Read"]}]},
           "agents": {"static": [{"name": "static-one", "labels": ["static"], "executors": 1}]}}
    for path in INSTANCE_FIELDS:
        if path in values:
            _put(doc, path, values[path])
    return doc


def _put(doc, path, value):
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def _dump(data) -> str:
    text = yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=1 << 20)
    assert yaml.safe_load(text) == data  # the harness writes what it means
    return text


def generate(values: dict) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as root:
        instances = os.path.join(root, "instances")
        write(os.path.join(instances, "fleet.yaml"), _dump(fleet_doc(values)))
        write(os.path.join(instances, NAME, "instance.yaml"), SCHEMA_LINE + _dump(instance_doc(values)))
        try:
            gen = fleet.generate(fleet.Paths(instances=instances), jobs=1)
        except FleetError as exc:
            raise AssertionError("strings the schemas accept were rejected:\n"
                                 + "\n".join(d.format() for d in exc.diagnostics)) from None
        return {rel: data for rel, data in gen.files.items()}


# --- comparison ----------------------------------------------------------------------------------

def unescape_jcasc(text: str) -> str:
    """What JCasC makes of a value: '^${' is its escape for a literal '${'."""
    return text.replace("^${", "${")


def canonical(value, *, jcasc: bool, whole_files: dict[str, str]):
    """Lists sorted, JCasC values unescaped, embedded copies of a generated file named, not compared."""
    if isinstance(value, dict):
        return {k: canonical(v, jcasc=jcasc, whole_files=whole_files) for k, v in value.items()}
    if isinstance(value, list):
        items = [canonical(v, jcasc=jcasc, whole_files=whole_files) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if isinstance(value, str):
        for name, text in whole_files.items():
            if value == text:
                return f"<copy of {name}>"
        return unescape_jcasc(value) if jcasc else value
    return value


def substitute(value, pairs: list[tuple[str, str]]):
    if isinstance(value, dict):
        return {k: substitute(v, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, pairs) for v in value]
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
    return value


def parse(rel: str, data: bytes):
    if rel.endswith((".yaml", ".yml")):
        return yaml.safe_load(data)
    if rel.endswith(".json"):
        return json.loads(data)
    return data.decode("utf-8")


LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def metadata_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(LABEL_NAME.match(name)) and (not prefix or (len(prefix) <= 253 and bool(DNS_SUBDOMAIN.match(prefix))))


def check_kubernetes_metadata(rel: str, obj) -> None:
    if not isinstance(obj, dict):
        return
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key, value in (meta.get("labels") or {}).items():
            assert metadata_key_ok(key), f"{rel}: label key {key!r}"
            assert isinstance(value, str) and (value == "" or LABEL_NAME.match(value)), f"{rel}: label {key}={value!r}"
        annotations = meta.get("annotations") or {}
        for key, value in annotations.items():
            assert metadata_key_ok(key), f"{rel}: annotation key {key!r}"
            assert isinstance(value, str), f"{rel}: annotation {key} is not a string"
        assert sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items()) <= 256 * 1024
    for value in obj.values():  # pod templates and the like carry metadata too
        if isinstance(value, dict):
            check_kubernetes_metadata(rel, value)


@pytest.fixture(scope="module")
def reference():
    """The tree generated with placeholders, per choice of optional fields."""
    cache: dict[frozenset, dict[str, bytes]] = {}

    def get(present: frozenset) -> dict[str, bytes]:
        if present not in cache:
            paths = [p for p in {**INSTANCE_FIELDS, **FLEET_FIELDS} if p in present]
            cache[present] = generate({p: placeholder(p) for p in paths})
        return cache[present]
    return get


@st.composite
def field_values(draw):
    values = {}
    for path, strategy in {**INSTANCE_FIELDS, **FLEET_FIELDS}.items():
        if path in OPTIONAL and draw(st.booleans()):
            continue
        values[path] = draw(strategy)
    return values


ATTACK = {p: f"${{LDAP_MANAGER_PASSWORD}}\n  injected: {i}\n#" for i, p in enumerate(FLEET_FIELDS)} | {
    ("project", "displayName"): 'A: "b" #c\n---\n- d\n${LDAP_MANAGER_PASSWORD}',
    ("project", "unixGroupName"): "g'roup: x\n- y",
    ("project", "packsApproval"): "!!python/object/apply:os.system [id]",
    ("jenkins", "systemMessage"): "line1\nkey: value\n  ^${X}\r\n\x85\u2028{{ m }}",
    ("jenkins", "adminEmail"): 'a"b:c#d@e}{f',
    ("jenkins", "permissions", 0, "group"): "grp\n  - Overall/Administer",
    ("jenkins", "permissions", 1, "user"): "usr\"] ]\nsecurityRealm: none",
    ("agents", "static", 0, "description"): "\x00\x1b[31mred\t|\n>",
    ("agents", "static", 0, "remoteFS"): "/a:b#c'd\"e|f",
}


@given(field_values())
@example(ATTACK)
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_accepted_strings_round_trip_and_change_nothing_else(reference, values):
    groups = [values[p] for p in GROUPS]
    assume(len(set(groups)) == len(groups))  # equal group names merge into one matrix entry: a different shape
    actual_files = generate(values)
    expected_files = reference(frozenset(values))
    assert sorted(actual_files) == sorted(expected_files)
    pairs = [(placeholder(p), v) for p, v in values.items()]
    jcasc_rel = f"{NAME}/jenkins/jenkins.yaml"
    for rel in sorted(actual_files):
        actual = parse(rel, actual_files[rel])
        expected = substitute(parse(rel, expected_files[rel]), pairs)
        is_jcasc = rel == jcasc_rel
        whole_actual = {"jenkins.yaml": actual_files[jcasc_rel].decode()}
        whole_expected = {"jenkins.yaml": substitute(expected_files[jcasc_rel].decode(), pairs)}
        got = canonical(actual, jcasc=is_jcasc, whole_files=whole_actual)
        want = canonical(expected, jcasc=False, whole_files=whole_expected)
        if rel.endswith("/configmap-jenkins-config.yaml"):
            # the ConfigMap must hold the JCasC file itself; the substitution cannot rebuild its quoting
            assert actual["data"]["jenkins.yaml"] == actual_files[jcasc_rel].decode()
            got["data"]["jenkins.yaml"] = want["data"]["jenkins.yaml"] = "<the JCasC file>"
        assert got == want, f"{rel} differs beyond the substituted strings: {first_difference(got, want)}"
        if rel.startswith(f"{NAME}/k8s/") and isinstance(actual, dict):
            check_kubernetes_metadata(rel, actual)
        if is_jcasc:
            # nothing an instance wrote is left for JCasC to expand, except our own secret reference
            for value in _strings(actual):
                residue = value.replace("^${", "")
                assert "${" not in residue or residue == "${LDAP_MANAGER_PASSWORD}", value


def first_difference(got, want, path="") -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want), key=str):
            if got.get(key, "<missing>") != want.get(key, "<missing>"):
                return first_difference(got.get(key, "<missing>"), want.get(key, "<missing>"), f"{path}.{key}")
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                return first_difference(g, w, f"{path}[{i}]")
    return f"at {path or '<root>'}: generated {got!r}, expected {want!r}"


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


# --- demonstrated gaps (schemas/, not generator code) ----------------------------------------------

def test_fleet_timezone_cannot_add_jvm_options():
    values = {p: placeholder(p) for p in {**INSTANCE_FIELDS, **FLEET_FIELDS}}
    with tempfile.TemporaryDirectory() as root:
        instances = os.path.join(root, "instances")
        doc = fleet_doc(values)
        doc["defaults"]["timezone"] = ("UTC -Dhudson.security.csrf.GlobalCrumbIssuerConfiguration"
                                       ".DISABLE_CSRF_PROTECTION=true")
        write(os.path.join(instances, "fleet.yaml"), _dump(doc))
        write(os.path.join(instances, NAME, "instance.yaml"), SCHEMA_LINE + _dump(instance_doc(values)))
        with pytest.raises(FleetError):
            fleet.generate(fleet.Paths(instances=instances), jobs=1)
