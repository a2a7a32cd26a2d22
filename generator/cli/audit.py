"""`fleet audit`."""

from __future__ import annotations

import os
import sys
import time

import click

from .. import audit as audit_mod
from .. import audit_formats, audit_live, vcs
from ..errors import Diagnostic, FleetError
from .common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    Context,
    emit,
    guard,
    print_diagnostics,
    stdout_console,
)


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("-f", "--format", "fmt", type=click.Choice(audit_formats.FORMATS), default="table", show_default=True,
              help="table: for a terminal; json: stable, for tools (docs/audit.md); csv: one row per instance; "
                   "markdown: for a pull-request comment; html: one self-contained page with bar charts.")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the report to FILE (atomically) instead of standard output.")
@click.option("--build", "build_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Audit the artifacts already generated in DIR (e.g. build) as they are, instead of "
                   "generating them in memory from the working tree.")
@click.option("--live", "live", multiple=True, metavar="[CLUSTER=]FILE",
              help="Compare with a cluster: FILE is the output of 'kubectl get resourcequota,limitrange -A "
                   "-o json'. Prefix the cluster name when the fleet has several clusters. Repeatable.")
@click.option("--live-cluster", "live_clusters", multiple=True, metavar="CLUSTER",
              help="Compare with a cluster read straight through kubectl (as 'fleet deploy' runs it: FLEET_KUBECTL "
                   "or deploy.kubectl, --context from clusters[].kubeContext). Repeatable.")
@click.option("--base", "base", metavar="REF", is_flag=False, flag_value="", default=None,
              help="Also show what changed since git revision REF (quota totals and per-instance deltas), "
                   "modelled with REF's own templates. '--base' alone: the merge base with main.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes for generating.")
@click.pass_obj
def audit(ctx: Context, names, fmt, output, build_dir, live, live_clusters, base, jobs):
    """Sum every instance's quota, compare each cluster with its capacity, and check the artifacts.

    \b
    One row per instance (cluster, namespace, packs, max concurrency, static agents,
    controller and agent resources, quota), per cluster the totals against the
    capacity in fleet.yaml (utilisation, headroom, how many more 1-pack instances
    fit), and findings from named rules (docs/audit.md): cluster over capacity,
    packs above policy.maxPacks without approval, JCasC container cap != quota
    pods - 1, pod templates outside the LimitRange, agents that do not fit the
    quota, maxConcurrency overrides below the agent minimum, shared namespaces.

    \b
    The figures are parsed from the generated objects (ResourceQuota, LimitRange,
    StatefulSet, JCasC, model.json). By default they are generated in memory from
    the working tree, so a fresh clone works; --build DIR audits DIR instead.
    NAME (a fullName or a pattern such as 'ee4j.*') limits the rows; cluster
    totals always cover the whole fleet.

    \b
    The table fits the terminal without cutting a figure: the whole table when
    it fits, else the same rows in parts (the name repeated), else one block per
    row. Piped, it follows $COLUMNS, or prints whole tables when that is unset.

    \b
    Examples:
      fleet audit                                  table of the whole fleet
      fleet audit 'ee4j.*' --format markdown       PR comment for some instances
      fleet audit --format json -o audit.json      for tools (formatVersion 1)
      fleet audit --format html -o audit.html      a page with a bar chart per cluster
      fleet audit --base main                      what this branch adds to the quotas
      fleet audit --live okd-c1=okd-c1.json        drift against a cluster
    (kubectl --context okd-c1 get resourcequota,limitrange -A -o json > okd-c1.json)
      fleet audit --live-cluster okd-c1            the same, read through kubectl

    Exit codes: 0 no finding is an error, 1 an error finding (or bad input),
    2 usage, 4 internal or environment error (e.g. git missing for --base).
    """
    with guard(ctx):
        started = time.monotonic()
        try:
            snap = audit_mod.snapshot(ctx.paths, names, build_dir=build_dir, jobs=jobs)
            print_diagnostics(ctx, snap.warnings)
            report = audit_mod.build_report(snap)
            if live or live_clusters:
                clusters = [c["name"] for c in snap.fleet.get("clusters", [])]
                files = [audit_live.load_live_file(path, cluster)
                         for cluster, path in (audit_live.parse_argument(v, clusters) for v in live)]
                files += _read_clusters(snap.fleet, live_clusters, clusters)
                report.live, found = audit_live.drift(snap, files)
                report.add_findings(found)
            if base is not None:
                root = vcs.fleet_repo_root(ctx.paths.instances)
                revision = vcs.resolve_base(root, base or None)
                with vcs.fleet_at(ctx.paths, revision) as (old_paths, origin):
                    old = audit_mod.snapshot(old_paths, (), jobs=jobs)
                report.base = audit_mod.compare_base(old, snap, snap.selected, origin)
        except vcs.GitUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INTERNAL)
        doc = report.to_json()
        if fmt == "table" and not output:
            console, width = _table_console(ctx)
            audit_formats.print_table(doc, console, width)
        else:
            emit(audit_formats.render(doc, fmt), output)
        if output:
            ctx.info(f"wrote {output} ({fmt}): {audit_formats.summary_line(doc)}")
        ctx.info(f"audited {len(snap.selected)} of {len(snap.instances)} instances in "
                 f"{time.monotonic() - started:.2f}s")
        if report.has_errors:
            sys.exit(EXIT_INPUT)


def _table_console(ctx: Context):
    """The console and width of the table view: a terminal's width; piped, $COLUMNS when set, else
    unlimited (the whole table, one line per row: for grep, files and CI logs)."""
    if sys.stdout.isatty():
        console = stdout_console(ctx)
        return console, console.width
    columns = os.environ.get("COLUMNS", "").strip()
    width = int(columns) if columns.isdigit() and int(columns) > 0 else None
    return stdout_console(ctx, width=width or 10_000), width


def _read_clusters(fleet: dict, names, known: list[str]) -> list:
    from .. import kubectl

    unknown = [n for n in names if n not in known]
    if unknown:
        raise FleetError([Diagnostic("", 0, 0, "--live-cluster", f"no cluster '{n}' in fleet.yaml",
                                     hint=f"clusters: {', '.join(known)}") for n in unknown])
    binary = kubectl.binary_for(os.environ, fleet)
    return [audit_live.from_cluster(kubectl.Kubectl(binary, kubectl.context_for(fleet, n)), n) for n in names]
