"""Make a synthetic fleet of N instances with realistic variety.

Packs 1-52 (skewed small, as in Jiro's fleet), static agents, plugins, maxConcurrency
overrides, custom pod templates, JCasC overrides, profiles, a second cluster.
Deterministic for a given (N, seed).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/instance.schema.json\n"
TOP_LEVELS = ["technology", "modeling", "ee4j", "eclipse", "iot", "tools", "rt", "science", "locationtech", "polarsys"]
PLUGINS = ["copyartifact", "gradle", "slack", "htmlpublisher", "envinject", "warnings-ng", "jacoco",
           "parameterized-scheduler", "embeddable-build-status", "view-job-filters", "cmakebuilder", "ssh-slaves"]
PACKS = [1] * 50 + [2] * 20 + [3] * 10 + [4] * 6 + [5] * 5 + [6, 7, 8, 10, 12, 17, 25, 52]


def instance(i: int, rng: random.Random) -> tuple[str, dict, dict | None]:
    top = TOP_LEVELS[i % len(TOP_LEVELS)]
    name = f"{top}.project{i:05d}"
    packs = rng.choice(PACKS)
    data: dict = {"project": {"fullName": name, "displayName": f"Eclipse Project {i}: \"synthetic\"",
                              "resourcePacks": packs}}
    if packs > 8:
        data["project"]["packsApproval"] = f"HELPDESK-{1000 + i}"
    jenkins: dict = {}
    if rng.random() < 0.3:
        jenkins["staticAgentCount"] = rng.randint(1, 4)
    if rng.random() < 0.6:
        jenkins["plugins"] = sorted(rng.sample(PLUGINS, rng.randint(1, 5)))
    if rng.random() < 0.1:
        jenkins["maxConcurrency"] = max(2, 2 * packs - rng.randint(0, packs))
    if rng.random() < 0.15:
        jenkins["theme"] = "light"
    if rng.random() < 0.1:
        jenkins["permissions"] = [{"user": f"bot{i}@example.org", "permissions": ["Job/Build", "Job/Read"]}]
    if jenkins:
        data["jenkins"] = jenkins
    if rng.random() < 0.1:
        data["agents"] = {"podTemplates": [{
            "name": "ubuntu-big", "labels": ["ubuntu-big"],
            "image": "docker.io/eclipsecbi/jiro-agent-ubuntu-2404:latest",
            "resources": {"memory": {"request": "2048Mi", "limit": "2048Mi"}}}]}
    tools = {}
    if rng.random() < 0.5:
        tools["maven"] = {"enabled": True, "settingsSecret": {"name": "m2-secret-dir", "key": "settings.xml"}}
    if rng.random() < 0.2:
        tools["gradle"] = {"enabled": True,
                           "propertiesSecret": {"name": "gradle-secret-dir", "key": "gradle.properties"}}
    if tools:
        data["buildTools"] = tools
    if rng.random() < 0.05:
        data["deployment"] = {"cluster": "okd-c2"}
    override = {"jenkins": {"quietPeriod": 10}} if rng.random() < 0.05 else None
    return name, data, override


def make(directory: str, count: int, seed: int = 42, catalogs: bool = True) -> list[str]:
    """Write fleet.yaml (the sample fleet's, with room for N instances), its plugin catalogs and
    N instances. catalogs=False: no catalogs, the plugins unpinned (what the closure costs)."""
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    with open(os.path.join(ROOT, "instances", "fleet.yaml"), encoding="utf-8") as fh:
        fleet = yaml.safe_load(fh)
    if catalogs:
        shutil.copytree(os.path.join(ROOT, "instances", "catalogs"), os.path.join(directory, "catalogs"))
    else:
        for version in fleet["controllers"]["versions"].values():
            version.pop("catalog", None)
    for cluster in fleet["clusters"]:
        cluster["capacity"] = {"cpu": "100000", "memory": "400000Gi", "pods": 1000000}
    with open(os.path.join(directory, "fleet.yaml"), "w", encoding="utf-8") as fh:
        fh.write("# yaml-language-server: $schema=../schemas/fleet.schema.json\n")
        yaml.safe_dump(fleet, fh, sort_keys=False)
    rng = random.Random(seed)
    names = []
    for i in range(count):
        name, data, override = instance(i, rng)
        os.makedirs(os.path.join(directory, name))
        with open(os.path.join(directory, name, "instance.yaml"), "w", encoding="utf-8") as fh:
            fh.write(SCHEMA_LINE)
            yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True)
        if override:
            with open(os.path.join(directory, name, "jenkins.yaml"), "w", encoding="utf-8") as fh:
                yaml.safe_dump(override, fh)
        names.append(name)
    return names


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-catalogs", action="store_true", help="leave the plugin catalogs out")
    args = parser.parse_args()
    make(args.directory, args.count, args.seed, catalogs=not args.no_catalogs)
    print(f"wrote {args.count} instances into {args.directory}")
