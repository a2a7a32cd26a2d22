"""Hypothesis strategies: valid instance definitions (what the schema and the documented rules accept)."""

from __future__ import annotations

import json
import os

from fleettest import ROOT
from hypothesis import strategies as st

with open(os.path.join(ROOT, "schemas", "instance.schema.json"), encoding="utf-8") as _fh:
    PERMISSIONS = sorted(json.load(_fh)["$defs"]["permission"]["enum"])

AGENT_IMAGE = "docker.io/jenkins/inbound-agent:3355.v388858a_47b_33-1-jdk21"
IMAGES = [AGENT_IMAGE, "docker.io/library/maven:3-eclipse-temurin-21", "quay.io/example/agent@sha256:0123abcd"]

FLEET_YAML = f"""\
# yaml-language-server: $schema=../../schemas/fleet.schema.json
name: fuzz
kubernetesVersion: "1.30"
clusters:
  - name: main
    capacity: {{cpu: "1000", memory: 4000Gi}}
defaults:
  cluster: main
  host: ci.example.org
  adminGroup: admins
  readGroup: everyone
  agentImage: {AGENT_IMAGE}
  ldap:
    server: ldaps://ldap.example.org
    rootDN: dc=example,dc=org
    managerDN: cn=jenkins,ou=bots,dc=example,dc=org
    managerPasswordEnv: LDAP_MANAGER_PASSWORD
controllers:
  latest: "2.555.2"
  versions:
    "2.555.2":
      image: docker.io/jenkins/jenkins:2.555.2-lts-jdk21
      plugins: [configuration-as-code, kubernetes, ldap, matrix-auth, git]
    "2.541.3":
      image: docker.io/jenkins/jenkins:2.541.3-lts-jdk21
      plugins: [configuration-as-code, kubernetes, ldap, matrix-auth, git]
profiles:
  - name: prof
    match: ["prof.*"]
    set:
      jenkins: {{plugins: [copyartifact]}}
      agents:
        podTemplates:
          - name: prof-small
            image: {AGENT_IMAGE}
            resources: {{cpu: {{request: 500m, limit: 1000m}}, memory: {{request: 1Gi, limit: 2Gi}}}}
"""

# Characters that some regex engine (Python, ECMA-262, Rust) counts as white space: the schema's
# "^[^\\s${}]" must not depend on which one validates.
_SPACES = set("\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
              + "".join(chr(c) for c in range(0x2000, 0x200B)))

# Arbitrary text as a YAML file can hold it (no surrogates; everything else, control characters too).
any_text = st.text(st.characters(blacklist_categories=("Cs",)))


def _no_vars(min_size=0, max_size=40):
    return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="${}"),
                   min_size=min_size, max_size=max_size)


principal = st.tuples(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="${}").filter(
        lambda c: c not in _SPACES and not c.isspace()),
    _no_vars(max_size=30),
).map("".join)

label = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
dns_label = st.from_regex(r"[a-z]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)


@st.composite
def cpu_pair(draw):
    request = draw(st.integers(100, 2000))
    limit = draw(st.integers(request, 2000))
    fmt = draw(st.sampled_from(["m", "cores"]))

    def show(m):
        return f"{m}m" if fmt == "m" or m % 1000 else str(m // 1000)
    return {"request": show(request), "limit": show(limit)}


@st.composite
def memory_pair(draw):
    request = draw(st.integers(16, 8192))
    limit = draw(st.integers(request, 8192))

    def show(mib):
        return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
    return {"request": show(request), "limit": show(limit)}


@st.composite
def pod_template(draw, name):
    t = {"name": name, "image": draw(st.sampled_from(IMAGES))}
    if draw(st.booleans()):
        t["labels"] = draw(st.lists(label, min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        t["mode"] = draw(st.sampled_from(["NORMAL", "EXCLUSIVE"]))
    # within [container min, the smallest container max] of any pack count: always fits the LimitRange
    resources = {}
    if draw(st.booleans()):
        resources["cpu"] = draw(cpu_pair())
    if draw(st.booleans()):
        resources["memory"] = draw(memory_pair())
    if resources:
        t["resources"] = resources
    return t


@st.composite
def static_agent(draw, name):
    a = {"name": name}
    if draw(st.booleans()):
        a["labels"] = draw(st.lists(label, max_size=3, unique=True))
    if draw(st.booleans()):
        a["remoteFS"] = "/" + draw(st.from_regex(r"[a-z0-9/._-]{0,30}", fullmatch=True))
    if draw(st.booleans()):
        a["executors"] = draw(st.integers(1, 64))
    if draw(st.booleans()):
        a["description"] = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
    return a


@st.composite
def instance(draw, full_name: str):
    packs = draw(st.integers(1, 52))
    # C <= 20 P: above, 2000m x P / C is below the 100m LimitRange minimum and validation refuses
    # (test_too_many_builds_for_the_packs_are_rejected)
    # C = 1 with P <= 3: the default agent's CPU limit (2000m x P + 300m) exceeds the LimitRange
    # container maximum (2000m x P) - the reference model's own weak point, which validation refuses
    # (test_one_build_on_few_packs_is_rejected).
    concurrency = draw(st.none() | st.integers(1 if packs > 3 else 2, min(500, 20 * packs)))
    project = {"fullName": full_name, "displayName": draw(st.text(
        st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200))}
    if packs != 1 or draw(st.booleans()):
        project["resourcePacks"] = packs
    jenkins: dict = {}
    if concurrency is not None:
        jenkins["maxConcurrency"] = concurrency
    if draw(st.booleans()):
        jenkins["systemMessage"] = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
    if draw(st.booleans()):
        jenkins["version"] = draw(st.sampled_from(["latest", "2.555.2", "2.541.3"]))
    if draw(st.booleans()):
        jenkins["theme"] = draw(st.sampled_from(["dark", "light"]))
    if draw(st.booleans()):
        ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), max_size=5, unique=True))
        jenkins["plugins"] = [i + draw(st.sampled_from(["", ":1.0", ":2.3.4"])) for i in ids]
    if draw(st.booleans()):
        perms = st.lists(st.sampled_from(PERMISSIONS), min_size=1, max_size=4, unique=True)
        jenkins["permissions"] = draw(st.lists(
            st.fixed_dictionaries({"group": principal, "permissions": perms})
            | st.fixed_dictionaries({"user": principal, "permissions": perms}), max_size=3))
    names = draw(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), max_size=3, unique=True))
    static = [draw(static_agent(n)) for n in names]
    agents: dict = {}
    if static:
        agents["static"] = static
        if draw(st.booleans()):
            jenkins["staticAgentCount"] = draw(st.integers(len(static), len(static) + 30))
    elif draw(st.booleans()):
        jenkins["staticAgentCount"] = draw(st.integers(0, 30))
    template_names = draw(st.lists(dns_label, max_size=3, unique=True))
    templates = [draw(pod_template(n)) for n in template_names]
    if templates:
        agents["podTemplates"] = templates
    data: dict = {"project": project}
    if jenkins:
        data["jenkins"] = jenkins
    if agents:
        data["agents"] = agents
    if draw(st.booleans()):
        # an enabled tool names its Secret (validate refuses one that does not)
        data["buildTools"] = {
            "maven": {"enabled": draw(st.booleans()),
                      "settingsSecret": {"name": "m2-secret-dir", "key": "settings.xml"}},
            "gradle": {"enabled": draw(st.booleans()),
                       "propertiesSecret": {"name": draw(st.sampled_from(["gradle-secret-dir", "a.b-c"])),
                                            "key": draw(st.sampled_from(["gradle.properties", "_x.y-Z"]))}},
        }
    return data


def full_names(min_size: int = 1, max_size: int = 3):
    """fullNames with distinct last segments: the default namespace and URL come from them."""
    return st.lists(
        st.tuples(st.sampled_from(["tech", "prof", "eclipse"]), st.from_regex(r"[a-z][a-z0-9]{0,12}", fullmatch=True)),
        min_size=min_size, max_size=max_size, unique_by=lambda t: t[1],
    ).map(lambda pairs: [f"{top}.{leaf}" for top, leaf in pairs])


@st.composite
def fleets(draw, min_size: int = 1, max_size: int = 3) -> dict[str, dict]:
    """{fullName: instance definition} for a fleet of a few instances."""
    return {name: draw(instance(name)) for name in draw(full_names(min_size, max_size))}
