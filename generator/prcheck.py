"""`fleet check`: everything a pull request must pass, and a summary fit for its comment.

The steps, in order; a failed step skips those that need its output:

  validation  generator.fleet.validate: YAML, schemas, semantic rules, namespaces and URLs
              unique across the whole fleet
  generation  generator.fleet.generate, written into a temporary directory (never build/):
              rendering and the offline manifest validation (Kubernetes schemas, Route CRD,
              JCasC schema)
  audit       the rules of generator/audit.py on the generated files; an error finding fails
  diff        with a base revision only: the rendered diff (generator/rendered_diff.py) and the quota
              delta per cluster (generator.audit.compare_base), both from the same renderings

A base that cannot be resolved (unknown ref, no main branch) fails the check; a base whose
fleet does not render is reported as a warning without a diff, so that the pull request that
repairs a broken main branch can pass.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from . import audit, audit_formats, fleetdir, regenerate, vcs
from . import fleet as fleet_mod
from . import rendered_diff as diff_mod
from .errors import Diagnostic, FleetError, plural

PASSED, FAILED, WARNED, SKIPPED = "passed", "failed", "warning", "skipped"
STEPS = ("validation", "generation", "audit", "diff")
MARKER = "<!-- fleet-check -->"  # lets a CI job find and update its previous comment
MAX_DIFF_LINES = 400
MAX_DIFF_CHARS = 40_000
MAX_DIAGNOSTICS = 60
_ICON = {PASSED: "✅", FAILED: "❌", WARNED: "⚠️", SKIPPED: "⏭️"}
_FINDING_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


@dataclass
class CheckStep:
    name: str
    status: str  # passed | failed | warning | skipped
    detail: str


@dataclass
class CheckReport:
    steps: list[CheckStep] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # working tree: errors of a failed step, warnings
    report: audit.Report | None = None  # with .base set when a base was compared
    rendered: diff_mod.FleetDiff | None = None
    base_diagnostics: list[Diagnostic] = field(default_factory=list)  # why the base gave no diff
    revision: dict | None = None  # ref, commit, templates, schemas of the base

    def add(self, name: str, status: str, detail: str) -> None:
        self.steps.append(CheckStep(name, status, detail))

    def skip(self, *names: str, because: str) -> None:
        for name in names:
            self.add(name, SKIPPED, because)

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.steps if s.status == FAILED]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _count(diags: list[Diagnostic]) -> str:
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    files = len({d.file for d in diags if d.is_error})
    text = f"{plural(errors, 'error')} in {plural(files, 'file')}" if errors else ""
    if warnings:
        text += (", " if text else "") + plural(warnings, "warning")
    return text


def _render(paths: fleet_mod.Paths, out_dir: str, jobs: int):
    """Generate the whole fleet into out_dir and read it back as the audit does."""
    gen = regenerate.regenerate(paths, out_dir, jobs=jobs, use_cache=False).generated
    return gen, audit.snapshot(paths, build_dir=out_dir)


def run(paths: fleet_mod.Paths, base: str | None = None, jobs: int = 1) -> CheckReport:
    """Every step; `base` None: no comparison, "": the merge base with main, else a git revision.

    Raises vcs.GitUnavailable (an environment problem); user mistakes end up in the result.
    """
    result = CheckReport()
    later = ("generation", "audit") + (("diff",) if base is not None else ())
    try:
        warnings = fleet_mod.validate(paths, jobs=jobs, introduced=_introduced(paths, base))
    except FleetError as exc:
        result.diagnostics = list(exc.diagnostics)
        result.add("validation", FAILED, _count(result.diagnostics))
        result.skip(*later, because="validation failed")
        return result
    result.diagnostics = list(warnings)
    count = len(fleetdir.instance_names(paths.instances))
    result.add("validation", PASSED, f"{plural(count, 'instance')} valid"
               + (f", {plural(len(warnings), 'warning')}" if warnings else ""))
    with tempfile.TemporaryDirectory(prefix="fleet-check-") as tmp:
        try:
            gen, snap = _render(paths, os.path.join(tmp, "current"), jobs)
        except FleetError as exc:
            result.diagnostics = list(exc.diagnostics)
            result.add("generation", FAILED, _count(result.diagnostics))
            result.skip(*later[1:], because="generation failed")
            return result
        kube = fleet_mod.kubernetes_version(snap.fleet)
        result.add("generation", PASSED, f"{plural(len(gen.files), 'file')} for {plural(len(gen.names), 'instance')}; "
                                         f"manifests valid (Kubernetes {kube}, Route CRD, JCasC schema)")
        report = audit.build_report(snap)
        result.report = report
        s = report.summary()
        result.add("audit", FAILED if report.has_errors else PASSED,
                   f"{plural(s['errors'], 'error')}, {plural(s['warnings'], 'warning')}, {plural(s['infos'], 'info')}")
        if base is not None:
            _compare(result, paths, base, gen, snap, tmp, jobs)
    return result


def _introduced(paths: fleet_mod.Paths, base: str | None) -> set[str] | None:
    """The instances the change adds or edits, when its base resolves (else None: not known)."""
    if base is None:
        return None
    try:
        revision = vcs.resolve_base(vcs.repo_root(paths.instances), base or None)
        return vcs.changed_instances(paths.instances, revision.commit)
    except (FleetError, vcs.GitUnavailable):
        return None  # the diff step reports a base that does not resolve, or git missing


def _compare(result: CheckReport, paths, base: str, gen, snap, tmp: str, jobs: int) -> None:
    try:
        revision = vcs.resolve_base(vcs.repo_root(paths.instances), base or None)
    except FleetError as exc:
        result.base_diagnostics = list(exc.diagnostics)
        result.add("diff", FAILED, "cannot resolve the base revision: " + exc.diagnostics[0].message)
        return
    result.revision = revision.to_json()
    try:
        with vcs.fleet_at(paths, revision) as (old_paths, origin):
            old_gen, old_snap = _render(old_paths, os.path.join(tmp, "base"), jobs)
    except FleetError as exc:
        result.base_diagnostics = list(exc.diagnostics)
        result.add("diff", WARNED, f"the fleet at {diff_mod.revision_title(result.revision)} does not render "
                                   f"({_count(result.base_diagnostics)}): no rendered diff, no quota delta")
        return
    result.revision = origin
    result.rendered = diff_mod.diff_fleets(old_gen.files, gen.files, (), origin)
    result.report.base = audit.compare_base(old_snap, snap, snap.selected, origin)
    result.add("diff", PASSED, f"since {diff_mod.revision_title(origin)}: {diff_mod.summary_line(result.rendered)}")


# --- what the result says -----------------------------------------------------------------------

def headline(result: CheckReport) -> str:
    if result.failed:
        return f"failed ({', '.join(result.failed)})"
    return "passed" + (" with warnings" if any(s.status == WARNED for s in result.steps) else "")


def instance_rows(result: CheckReport) -> list[list[str]]:
    """One row per instance the change touches: placement, packs, quota delta, objects."""
    if result.rendered is None or result.report is None or result.report.base is None:
        return []
    quota = {e["name"]: e for e in result.report.base["instances"]}
    facts = result.report.snapshot.instances
    rows = []
    for entry in result.rendered.instances:
        q = quota.get(entry.name)
        if q is not None:
            cells = audit_formats.base_cells(q)
        else:  # objects changed, the quota did not
            f = facts.get(entry.name)
            cells = [entry.name, entry.change, entry.cluster or "-", str(f.packs) if f else "-",
                     str(f.max_concurrency) if f else "-", "0", "0", "0", "0", "0"]
        cells[1] = entry.change
        cells.insert(3, entry.namespace or "-")
        cells.append(str(len(entry.objects)))
        rows.append(cells)
    return rows


INSTANCE_HEADERS = (audit_formats.BASE_HEADERS[:3] + ["namespace"] + audit_formats.BASE_HEADERS[3:] + ["objects"])


def touched(entry: diff_mod.InstanceDiff) -> str:
    if entry.change in ("added", "removed"):
        labels = ", ".join(f"`{o.object}`" for o in entry.objects)
        return f"{plural(len(entry.objects), 'object')} {entry.change}: {labels}"
    parts = []
    for o in entry.objects:
        sign = {"added": "+", "removed": "-", "changed": "~"}[o.change]
        fields = f" ({plural(len(o.fields), 'field')})" if o.change == "changed" else ""
        parts.append(f"{sign} `{o.object}`{fields}")
    return ", ".join(parts)


def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _code(text: str, lang: str = "") -> list[str]:
    fence = _fence(text)
    return [fence + lang, text.rstrip("\n"), fence]


def _diagnostic_text(diags: list[Diagnostic]) -> str:
    shown = [d.format() for d in diags[:MAX_DIAGNOSTICS]]
    if len(diags) > MAX_DIAGNOSTICS:
        shown.append(f"... and {len(diags) - MAX_DIAGNOSTICS} more")
    return "\n".join(shown)


def render_markdown(result: CheckReport) -> str:
    """The pull-request comment: steps, instances, objects, quota delta per cluster, findings, diagnostics."""
    md = audit_formats._md_table  # the audit's table renderer (escaping, alignment)
    esc = audit_formats._md_escape
    icon = "❌" if result.failed else "✅"
    lines = [MARKER, f"## {icon} Fleet check {headline(result)}", ""]
    lines += md(["step", "result", "details"],
                [[s.name, f"{_ICON[s.status]} {s.status}", s.detail] for s in result.steps], right_from=3)
    lines.append("")
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        lines += ["### Errors", ""] + _code(_diagnostic_text(errors)) + [""]
    if result.rendered is not None:
        base = result.report.base
        lines += [f"### Changes since {esc(diff_mod.revision_title(result.revision))}", ""]
        if result.rendered.instances or result.rendered.fleet_files:
            lines += md(INSTANCE_HEADERS, instance_rows(result), right_from=4)
            lines += ["", (f"{plural(len(result.rendered.unchanged), 'instance')} unchanged. "
                          "CPU in cores, memory in GiB."), ""]
            lines += ["### Objects touched", ""]
            lines += [f"- `{esc(e.name)}` ({e.change}): {esc(touched(e))}" for e in result.rendered.instances]
            if result.rendered.fleet_files:
                shared = diff_mod.InstanceDiff("fleet-wide files", "changed", None, None, None,
                                               result.rendered.fleet_files)
                lines.append(f"- fleet-wide files: {esc(touched(shared))}")
        else:
            lines.append("No generated file changes.")
        lines += ["", "### Quota delta per cluster", ""]
        lines += md(audit_formats.BASE_CLUSTER_HEADERS, [audit_formats.base_cluster_cells(c) for c in base["clusters"]])
        lines.append("")
    elif result.base_diagnostics:
        lines += ["### Base revision", ""] + _code(_diagnostic_text(result.base_diagnostics)) + [""]
    if result.report is not None:
        lines += ["### Findings", ""]
        if result.report.findings:
            for f in result.report.findings:
                who = f.subject
                lines.append(f"- {_FINDING_ICON[f.severity]} **{f.severity}** `{f.rule}` {esc(who)}: {esc(f.message)}")
        else:
            lines.append("None.")
        lines.append("")
    warnings = [d for d in result.diagnostics if not d.is_error]
    if warnings:
        lines += ["### Warnings", ""] + _code(_diagnostic_text(warnings)) + [""]
    if result.rendered is not None and (result.rendered.instances or result.rendered.fleet_files):
        text = diff_mod.render_text(result.rendered, max_lines=MAX_DIFF_LINES)
        if len(text) > MAX_DIFF_CHARS:  # a pull-request comment holds 65536 characters
            cut = text.rfind("\n", 0, MAX_DIFF_CHARS)
            text = text[:cut] + "\n... (cut to fit a comment: run 'fleet diff' to see it all)\n"
        lines += ["<details><summary>Rendered diff, field by field</summary>", ""] + _code(text, "diff")
        lines += ["", "</details>", ""]
    lines.append("Run `make check` (or `fleet check --base`) locally for the same result; "
                 "`fleet diff` shows the rendered diff.")
    return "\n".join(lines) + "\n"


def render_text(result: CheckReport) -> str:
    """The terminal report (diagnostics go to standard error separately)."""
    width = max(len(s) for s in STEPS)
    lines = [f"{s.name:<{width}}  {s.status:<8} {s.detail}" for s in result.steps]
    if result.rendered is not None:
        lines += ["", diff_mod.render_text(result.rendered).rstrip("\n"), "",
                  "Quota delta per cluster (base -> working tree):"]
        headers = audit_formats.BASE_CLUSTER_HEADERS
        for c in result.report.base["clusters"]:
            cells = audit_formats.base_cluster_cells(c)
            lines.append(f"  {cells[0]}: " + ", ".join(f"{h} {v}" for h, v in zip(headers[1:], cells[1:], strict=True)))
    if result.report is not None and result.report.findings:
        lines += ["", "Findings:"]
        for f in result.report.findings:
            lines.append(f"  {f.severity} {f.rule} {f.subject}: {f.message}")
    lines += ["", f"fleet check {headline(result)}"]
    return "\n".join(lines) + "\n"


def render_error_markdown(message: str) -> str:
    """The comment when the check could not run at all (exit code 4)."""
    return (f"{MARKER}\n## ❌ Fleet check could not run\n\n{audit_formats._md_escape(message)}\n\n"
            "This is a problem of the CI environment or of the tool, not of the pull request.\n")
