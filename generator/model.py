"""The Jsonnet step: one evaluation resolves many instances into models and objects."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from . import jsonnet as _jsonnet
from .errors import Diagnostic, FleetError
from .plugins import provenance_text

ENTRY = "fleet.jsonnet"
FULL, CHECKS, EXPLAIN = "full", "checks", "explain"  # the views of templates/fleet.jsonnet


@dataclass(frozen=True)
class ModelInput:
    name: str  # the instance's fullName (its directory name)
    data: dict  # the instance file, as validated
    profiles: tuple[str, ...]  # matching profile names, in fleet order
    # The resolved plugin closure (generator/plugins.py Resolution.as_model()), None without a catalog
    plugins: dict | None = None


class ModelEngine:
    """Evaluates templates/fleet.jsonnet; imports resolve inside the templates directory only."""

    def __init__(self, templates_dir: str):
        self.templates_dir = templates_dir
        self.entry = os.path.join(templates_dir, ENTRY)

    def evaluate(self, fleet: dict, inputs: list[ModelInput], objects: bool = True,
                 view: str = FULL) -> dict[str, dict[str, Any]]:
        """{name: {model, objects}}. view CHECKS: a model with only what checks.check_models reads, no
        objects; EXPLAIN: also {explain}, the model's defaults and formulas for generator/explain.py."""
        checks_only = view == CHECKS
        payload = [{"name": i.name, "data": i.data, "profiles": list(i.profiles)} for i in inputs]
        try:
            out = _jsonnet.evaluate_file(
                self.entry,
                jpathdir=[self.templates_dir],
                tla_codes={"fleet": json.dumps(fleet), "instances": json.dumps(payload),
                           "objects": "true" if objects and not checks_only else "false",
                           "view": json.dumps(view)},
                max_trace=8,
            )
        except RuntimeError as exc:
            # A template bug or an input the validation let through: never silently.
            names = ", ".join(i.name for i in inputs[:5]) + (" ..." if len(inputs) > 5 else "")
            raise FleetError([Diagnostic(
                self.entry, 0, 0, "", f"Jsonnet evaluation failed: {str(exc).strip()}",
                hint="this is a bug in the templates or a gap in validation; run with --debug and report it",
                context=(f"while modelling {names}",))]) from exc
        evaluated = json.loads(out)
        if not checks_only:
            for inp in inputs:
                with_plugins(evaluated[inp.name]["model"], inp.plugins)
        return evaluated


def with_plugins(model: dict, resolved: dict | None) -> dict:
    """The model with the instance's pinned plugin closure (generator/plugins.py), which is
    resolved before the Jsonnet step and never passed through it (a few hundred entries per
    instance that Jsonnet would only copy).

    jenkins.installedPlugins: id -> version, every plugin of the image (base + requested +
    dependencies); null when the Jenkins version has no catalog. jenkins.pluginProvenance: id ->
    "requested (<origins>)" and/or "dependency of <the installed plugins that need it>"; origins
    are fleet, monitoring, profile <name>, instance (one string each: model.json is written
    for every instance, and lists of lists would double its size). jenkins.pluginChecksums:
    id -> sha256 (hex) where the catalog has it (image/plugins.sha256).
    """
    jenkins = model["jenkins"]
    jenkins["installedPlugins"] = resolved["installed"] if resolved else None
    jenkins["pluginProvenance"] = ({pid: provenance_text(entry) for pid, entry in resolved["provenance"].items()}
                                   if resolved else None)
    jenkins["pluginCatalog"] = resolved["catalog"] if resolved else None
    jenkins["pluginAdvisories"] = resolved["advisories"] if resolved else []
    jenkins["pluginChecksums"] = resolved["checksums"] if resolved else {}
    return model
