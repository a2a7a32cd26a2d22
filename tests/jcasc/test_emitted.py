"""What the sample fleet's JCasC uses of each plugin, pinned per plugin.

Checking every golden JCasC file against the model records each attribute it sets. This
test lists them per plugin (the class that declares the setter or constructor parameter),
with the type the model gives them, in tests/jcasc/emitted/<plugin>.txt. A refresh of the
model that changes what one of them means (renamed, retyped, deprecated, gone) changes a
line here, whatever the golden output trees say. FLEET_UPDATE_GOLDEN=1 rewrites the files.
"""

from __future__ import annotations

import glob
import json
import os

import pytest
import yaml
from fleettest import ROOT, UPDATE

from generator import jcasc
from generator.jcasc.check import Checker
from generator.jcasc.model import world
from generator.produce import installed_plugins

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emitted")


def _used() -> dict[str, set[str]]:
    by_component: dict[str, set[str]] = {}
    models = sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "**", "model.json"), recursive=True))
    assert models, "no golden trees"
    for model_file in models:
        with open(model_file, encoding="utf-8") as fh:
            model = json.load(fh)
        with open(os.path.join(os.path.dirname(model_file), "jenkins", "jenkins.yaml"), encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        selection = jcasc.select(model["jenkins"]["version"], installed_plugins(model))
        w = world(selection.core, selection.plugins)
        checker = Checker(w, unmodelled=selection.unmodelled)
        assert [f for f in checker.run(doc) if f.severity == "error"] == [], model_file
        for owner, attr in checker.visited:
            component = w.origin.get(attr.owner) or w.origin.get(owner) or "?"
            flags = "".join([" list" if attr.multiple else "", " deprecated" if attr.deprecated else "",
                             " required" if attr.required else ""])
            by_component.setdefault(component, set()).add(
                f"{owner.replace('$', '.')} {attr.name}: {attr.type.replace('$', '.')}{flags}")
    return by_component


def test_attributes_emitted_per_plugin():
    used = _used()
    if UPDATE:
        os.makedirs(HERE, exist_ok=True)
        for old in glob.glob(os.path.join(HERE, "*.txt")):
            os.unlink(old)
        for component, lines in used.items():
            with open(os.path.join(HERE, f"{component}.txt"), "w", encoding="utf-8") as fh:
                fh.write("".join(line + "\n" for line in sorted(lines)))
        return
    expected = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*.txt"))):
        with open(path, encoding="utf-8") as fh:
            expected[os.path.basename(path)[:-4]] = set(fh.read().splitlines())
    assert sorted(expected) == sorted(used), "plugins used by the generated JCasC changed: make update-golden"
    for component in sorted(used):
        missing, extra = expected[component] - used[component], used[component] - expected[component]
        if missing or extra:
            pytest.fail(f"what the JCasC uses of {component} changed (make update-golden, then review):\n"
                        + "".join(f"  - {x}\n" for x in sorted(missing)) + "".join(f"  + {x}\n" for x in sorted(extra)),
                        pytrace=False)
