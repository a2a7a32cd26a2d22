"""Refresh the JCasC model in schemas/jcasc-model/ from the source of core and the plugins.

    python -m generator.jcasc.refresh [--sources DIR] [--only ID]

Reads schemas/jcasc-model/sources.json (which repository, which tag, where its Java
sources and resources are), exports each tag with `git archive` from a clone found in
DIR (named <owner>+<name>, <name>, or <owner>+<name>/repo; bare or not) or cloned from
the repository URL, extracts the facts configuration-as-code reads (extract.py), keeps
the types JCasC can reach, and writes one JSON file per component and version plus
index.json with the commit of every tag read. The same sources give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile

from . import extract
from .model import MODEL_DIR, component_file

ROOTS = ("hudson.model.Describable", "hudson.model.Descriptor", "jenkins.model.GlobalConfigurationCategory",
         "io.jenkins.plugins.casc.Configurator", "hudson.util.PersistedList")
ALWAYS = ("jenkins.model.Jenkins", "io.jenkins.plugins.casc.ConfigurationContext")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator.jcasc.refresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", help="directory holding clones of the repositories (else they are cloned)")
    parser.add_argument("--model-dir", default=MODEL_DIR)
    args = parser.parse_args(argv)
    with open(os.path.join(args.model_dir, "sources.json"), encoding="utf-8") as fh:
        spec = json.load(fh)
    reader = extract.SourceReader()
    read: list[tuple[dict, str, list[extract.RawType], set[str]]] = []
    with tempfile.TemporaryDirectory(prefix="jcasc-model-") as tmp:
        for comp in spec["components"]:
            repo = _repository(comp["repository"], args.sources, tmp)
            commit = _git(repo, "rev-parse", f"{comp['tag']}^{{commit}}").strip()
            tree = os.path.join(tmp, f"{comp['id']}-{comp['version']}")
            if comp["java"] or comp.get("resources"):
                _export(repo, comp["tag"], tree, comp["java"] + comp.get("resources", []))
            types, views = reader.read_tree(tree, comp["java"], comp.get("resources", []))
            print(f"{comp['id']} {comp['version']}: {len(types)} types", file=sys.stderr)
            read.append((comp, commit, types, views))
    cores = [r for r in read if r[0]["id"] == "core"]
    plugins = [r for r in read if r[0]["id"] != "core"]
    plugin_types = [t for r in plugins for t in r[2]]
    index = {"formatVersion": 1, "components": []}
    newest_core = cores[-1]
    outputs = []
    for comp, commit, types, views in read:
        # a plugin's names are resolved beside the newest core read, a core's beside every plugin
        world = types + plugin_types if comp["id"] == "core" else newest_core[2] + plugin_types
        resolver = extract.NameResolver(world)
        facts = extract.resolve_types(types, resolver, views)
        outputs.append((comp, commit, facts))
    kept = _reachable(outputs)
    for comp, commit, facts in outputs:
        facts = {name: _trim(entry, kept) for name, entry in sorted(facts.items()) if name in kept}
        doc = {
            "formatVersion": 1,
            "component": comp["id"],
            "version": comp["version"],
            "repository": comp["repository"],
            "tag": comp["tag"],
            "commit": commit,
            "types": facts,
        }
        name = component_file(comp["id"], comp["version"])
        _write_json(os.path.join(args.model_dir, name), doc)
        index["components"].append({"id": comp["id"], "version": comp["version"], "file": name,
                                     "repository": comp["repository"], "tag": comp["tag"], "commit": commit,
                                     "types": len(facts), **({"note": comp["note"]} if "note" in comp else {})})
    _write_json(os.path.join(args.model_dir, "index.json"), index)
    return 0


def _reachable(outputs) -> set[str]:
    """The types JCasC can reach: describables, descriptors, categories, configurators, lists, enums,
    data-bound classes, and every supertype of those."""
    supers: dict[str, list[str]] = {}
    entries: dict[str, dict] = {}
    for _comp, _commit, facts in outputs:
        for name, entry in facts.items():
            entries[name] = entry
            supers[name] = [_raw(s) for s in [entry.get("super")] + entry.get("interfaces", []) if s]

    memo: dict[str, bool] = {}

    def descends(name: str, seen=()) -> bool:
        if name in memo:
            return memo[name]
        if name in ROOTS:
            return True
        if name in seen:
            return False
        result = any(descends(s, seen + (name,)) for s in supers.get(name, ()))
        memo[name] = result
        return result

    kept = {n for n, e in entries.items()
            if n in ALWAYS or descends(n) or "enum" in e or "constructor" in e or e.get("converter")}
    kept |= {e["configurator"]["target"] for e in entries.values()
             if e.get("configurator", {}).get("target") in entries}
    kept |= {_raw(f[0]) for e in entries.values() for f in e.get("extensionFields", ()) if _raw(f[0]) in entries}
    kept |= {n for n, e in entries.items() if e.get("extensionFields")}
    stack = list(kept)
    while stack:
        for s in supers.get(stack.pop(), ()):
            if s in entries and s not in kept:
                kept.add(s)
                stack.append(s)
    return kept


def _trim(entry: dict, kept: set[str]) -> dict:
    entry = dict(entry)
    fields = [f for f in entry.get("fields", []) if _raw(f[1]) in kept]
    if fields:
        entry["fields"] = fields
    else:
        entry.pop("fields", None)
    return entry


def _raw(type_string: str) -> str:
    return type_string.split("<", 1)[0].removesuffix("[]")


def _repository(url: str, sources: str | None, tmp: str) -> str:
    owner, name = url.rstrip("/").removesuffix(".git").split("/")[-2:]
    if sources:
        for candidate in (f"{owner}+{name}/repo", f"{owner}+{name}", name):
            path = os.path.join(sources, candidate)
            if os.path.isdir(path):
                return path
    path = os.path.join(tmp, f"{owner}+{name}.git")
    if not os.path.isdir(path):
        subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, path], check=True)
    return path


def _export(repo: str, tag: str, dest: str, paths: list[str]) -> None:
    os.makedirs(dest, exist_ok=True)
    archive = os.path.join(dest + ".tar")
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", repo, "archive", "--format=tar", tag, "--", *paths], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    os.unlink(archive)


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def _write_json(path: str, doc: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True, ensure_ascii=True)
        fh.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
