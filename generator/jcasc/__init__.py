"""JCasC checked against a model derived from the source of Jenkins core and its plugins.

`check(data, core, plugins)` says what configuration-as-code would reject in a JCasC
document on a controller running Jenkins `core` with `plugins` ({id: version}) installed;
`diagnostics(...)` turns the findings into file:line:column errors. The model's facts
live in schemas/jcasc-model/ (docs/jcasc-model.md says how they are made and refreshed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import Diagnostic
from ..sources import Document, parse_text
from ..version_number import version_key
from .check import Checker, Finding
from .model import MODEL_DIR, index, simple_name, world

__all__ = ["Finding", "Selection", "check", "context", "core_versions", "diagnostics", "needed_plugins", "select"]


@dataclass(frozen=True)
class Selection:
    """Which model components check one controller's JCasC."""
    core: str
    plugins: tuple[tuple[str, str], ...]     # (id, version) the model has
    unmodelled: tuple[str, ...]              # installed plugins the model has no facts for
    substituted: tuple[tuple[str, str, str], ...] = ()  # (id, installed, read instead)
    closure_known: bool = True               # False: the requested plugins only (no catalog), not their dependencies


def core_versions(model_dir: str = MODEL_DIR) -> list[str]:
    return sorted((c["version"] for c in index(model_dir)["components"] if c["id"] == "core"), key=version_key)


def select(core: str, plugins: Mapping[str, str | None], model_dir: str = MODEL_DIR, *,
           closure_known: bool = True) -> Selection:
    """The components for Jenkins `core` and the installed plugins.

    A plugin installed at a version the model was not read at is checked against the
    version the model has (and the substitution is reported); one the model does not
    know at all makes unknown names under open-ended keys warnings, not errors.
    """
    versions: dict[str, list[str]] = {}
    for c in index(model_dir)["components"]:
        if c["id"] != "core":
            versions.setdefault(c["id"], []).append(c["version"])
    chosen, unmodelled, substituted = [], [], []
    for pid in sorted(plugins):
        wanted = plugins[pid]
        have = versions.get(pid)
        if not have:
            unmodelled.append(pid)
            continue
        if wanted in have:
            chosen.append((pid, wanted))
        else:
            nearest = max(have, key=version_key)
            chosen.append((pid, nearest))
            if wanted:
                substituted.append((pid, wanted, nearest))
    return Selection(core, tuple(chosen), tuple(unmodelled), tuple(substituted), closure_known)


def context(name: str, core: str) -> tuple[str, ...]:
    """The 'while ...' lines of every JCasC finding of an instance (the same at validate and generate)."""
    return (f"while checking the JCasC of '{name}' against the model of Jenkins {core} and its plugins",
            f"while checking instance '{name}'")


def check(data, selection: Selection, *, partial: bool = False, model_dir: str = MODEL_DIR) -> list[Finding]:
    w = world(selection.core, _everything(selection, model_dir), model_dir)
    installed = frozenset({"core"} | {p for p, _ in selection.plugins})
    checker = Checker(w, partial=partial, installed=installed, unmodelled=selection.unmodelled,
                      closure_known=selection.closure_known,
                      history=lambda cls, attr: _history(selection.core, cls, attr, model_dir))
    return checker.run(data)


def _everything(selection: Selection, model_dir: str) -> tuple[tuple[str, str], ...]:
    """Every plugin the model has, at the controller's versions where it installs them: one world
    serves every controller of a Jenkins version (what is not installed is filtered when checking)."""
    chosen = dict(selection.plugins)
    pinned = dict(selection.plugins)
    for c in index(model_dir)["components"]:
        pid = c["id"]
        if pid != "core" and pid not in pinned and (pid not in chosen
                                                     or version_key(c["version"]) > version_key(chosen[pid])):
            chosen[pid] = c["version"]
    return tuple(sorted(chosen.items()))


def needed_plugins(data, core: str, installed: Mapping[str, str | None]) -> dict[str, tuple]:
    """Plugins a JCasC document configures that are not installed: {plugin: (key path, ...)}."""
    needed: dict[str, list] = {}
    for f in check(data, select(core, installed), partial=True):
        if f.provider:
            needed.setdefault(f.provider, []).append(f.path)
    return {p: tuple(paths) for p, paths in sorted(needed.items())}


def diagnostics(findings: list[Finding], generated_file: str, generated_text: str | None,
                override: Document | None, context: tuple[str, ...]) -> list[Diagnostic]:
    """Findings at the line of the generated file, or of the hand-written override when it wrote the key."""
    out = []
    generated_doc = None
    for f in findings:
        if override is not None and _from_override(override, f.path):
            out.append(override.diagnostic(f.path, f.message, key=f.key, hint=f.hint, severity=f.severity,
                                           context=context))
            continue
        if generated_doc is None:
            generated_doc = _positions(generated_file, generated_text)
        out.append(generated_doc.diagnostic(f.path, f.message, key=f.key, hint=f.hint, severity=f.severity,
                                            context=(*context, TEMPLATE_NOTE)))
    return out


TEMPLATE_NOTE = ("the generated JCasC comes from templates/jcasc/; if the instance file cannot cause this, "
                 "it is a template bug")


def _from_override(override: Document, path: tuple) -> bool:
    """Whether the override wrote this value: the key itself, or a list or value it replaced whole."""
    data = override.data
    for i, part in enumerate(path):
        if ((isinstance(data, dict) and part in data)
                or (isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))):
            data = data[part]
        else:
            return i > 0 and not isinstance(data, dict)
    return True


def _positions(file: str, text: str | None) -> Document:
    if text is None:
        return Document(path=file, data=None)
    return parse_text(text, file)


def _history(core: str, cls: str, attr: str, model_dir: str) -> str | None:
    """For a core class: the other core versions whose model knows the attribute."""
    w = world(core, (), model_dir)
    if w.origin.get(cls) != "core":
        return None
    others = [version for version in core_versions(model_dir) if version != core
              and cls in world(version, (), model_dir).types
              and attr.lower() in world(version, (), model_dir).configurator(cls).attrs]
    if not others:
        return None
    return (f"'{attr}' exists in {simple_name(cls)} of Jenkins {', '.join(others)} but not of {core}, "
            f"which this controller runs (read from the source of each version)")


