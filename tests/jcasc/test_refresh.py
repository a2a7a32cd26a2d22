"""`make jcasc-model` end to end on two tiny repositories: tags exported, facts kept, commits recorded."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from generator.jcasc import refresh

pytest.importorskip("tree_sitter_java")


def _repo(path, files, tag):
    os.makedirs(path)
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(path, rel)), exist_ok=True)
        with open(os.path.join(path, rel), "w", encoding="utf-8") as fh:
            fh.write(text)
    git = ["git", "-C", path, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", path], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    subprocess.run(git + ["tag", tag], check=True)
    return subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def test_refresh_reads_tags_and_records_their_commits(tmp_path):
    sources = tmp_path / "sources"
    core_commit = _repo(str(sources / "jenkinsci+jenkins"), {
        "core/src/main/java/hudson/model/Describable.java": "package hudson.model; public interface Describable<T> {}",
        "core/src/main/java/hudson/model/Descriptor.java":
            "package hudson.model; public abstract class Descriptor<T> {}",
        "core/src/main/java/jenkins/model/Jenkins.java":
            "package jenkins.model; public class Jenkins { public void setNumExecutors(int n) {} "
            "public int getNumExecutors() { return 0; } }",
        "core/src/main/java/jenkins/model/Unrelated.java": "package jenkins.model; class Unrelated {}",
    }, "jenkins-2.1")
    plugin_commit = _repo(str(sources / "jenkinsci+demo-plugin"), {
        "src/main/java/demo/Thing.java":
            "package demo; import hudson.model.*; public class Thing implements Describable<Thing> {"
            " @org.kohsuke.stapler.DataBoundConstructor public Thing(String name) {} }",
        "src/main/resources/demo/Thing/config.jelly": "<j:jelly/>",
    }, "demo-1.0")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "sources.json").write_text(json.dumps({"components": [
        {"id": "core", "version": "2.1", "tag": "jenkins-2.1", "repository": "https://github.com/jenkinsci/jenkins",
         "java": ["core/src/main/java"], "resources": []},
        {"id": "demo", "version": "1.0", "tag": "demo-1.0", "repository": "https://github.com/jenkinsci/demo-plugin",
         "java": ["src/main/java"], "resources": ["src/main/resources"]},
    ]}))
    assert refresh.main(["--sources", str(sources), "--model-dir", str(model_dir)]) == 0
    index = json.loads((model_dir / "index.json").read_text())
    assert [(c["id"], c["version"], c["commit"], c["file"]) for c in index["components"]] == [
        ("core", "2.1", core_commit, "core-2.1.json"), ("demo", "1.0", plugin_commit, "demo-1.0.json")]
    core = json.loads((model_dir / "core-2.1.json").read_text())
    assert core["tag"] == "jenkins-2.1" and core["commit"] == core_commit
    assert "jenkins.model.Unrelated" not in core["types"]  # nothing JCasC can reach
    assert core["types"]["jenkins.model.Jenkins"]["setters"] == [["NumExecutors", "int", []]]
    demo = json.loads((model_dir / "demo-1.0.json").read_text())
    assert demo["types"]["demo.Thing"]["constructor"] == [["name", "java.lang.String", []]]
    assert demo["types"]["demo.Thing"]["views"] == ["config"]
    first = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    assert refresh.main(["--sources", str(sources), "--model-dir", str(model_dir)]) == 0
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == first  # same sources, same bytes


def test_the_committed_model_says_where_each_fact_comes_from():
    with open(os.path.join(refresh.MODEL_DIR, "index.json"), encoding="utf-8") as fh:
        index = json.load(fh)
    with open(os.path.join(refresh.MODEL_DIR, "sources.json"), encoding="utf-8") as fh:
        sources = json.load(fh)
    assert [(c["id"], c["version"], c["tag"]) for c in index["components"]] == [
        (c["id"], c["version"], c["tag"]) for c in sources["components"]]
    for c in index["components"]:
        assert len(c["commit"]) == 40 and c["repository"].startswith("https://github.com/jenkinsci/")
        with open(os.path.join(refresh.MODEL_DIR, c["file"]), encoding="utf-8") as fh:
            doc = json.load(fh)
        assert (doc["component"], doc["version"], doc["commit"]) == (c["id"], c["version"], c["commit"])
        assert all(":" in t["at"] for t in doc["types"].values())  # file:line of every type


def test_plugins_the_catalogs_pin_are_modelled_at_the_pinned_version():
    """The model checks a controller against what its image installs: same release, not a neighbour."""
    import glob

    from fleettest import ROOT
    with open(os.path.join(refresh.MODEL_DIR, "sources.json"), encoding="utf-8") as fh:
        modelled = {c["id"]: c["version"] for c in json.load(fh)["components"] if c["id"] != "core"}
    catalogs = sorted(glob.glob(os.path.join(ROOT, "instances", "catalogs", "*.json")))
    assert catalogs
    for path in catalogs:
        with open(path, encoding="utf-8") as fh:
            pinned = {p: e["version"] for p, e in json.load(fh)["plugins"].items()}
        assert {p: v for p, v in modelled.items() if p in pinned} == {p: pinned[p] for p in modelled if p in pinned}
