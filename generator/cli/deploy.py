"""`fleet deploy`: apply the generated objects to the clusters, in waves; or show drift (--diff)."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import click

from .. import output
from ..errors import Diagnostic, FleetError, plural
from . import controllers
from .common import (
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REMOTE,
    Context,
    Progress,
    build_option,
    counts_text,
    guard,
    print_diagnostics,
    report_option,
    stdout_console,
    write_report,
)


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@build_option
@click.option("--cluster", "clusters", multiple=True, metavar="NAME",
              help="Only the instances of this cluster (repeatable; a cluster of fleet.yaml).")
@click.option("--dry-run", is_flag=True, help="Server-side dry run of every apply and prune: nothing changes.")
@click.option("--diff", "show_diff", is_flag=True,
              help="Show the drift between build/ and the clusters, per object and field; change nothing. "
                   "Exit code 1 when anything drifted.")
@click.option("--all", "force_all", is_flag=True, help="Apply every object, changed or not.")
@click.option("--canary", metavar="NAME", help="The instance deployed alone first (default: the first that changed).")
@click.option("--wave-size", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Instances per wave after the canary.")
@click.option("-j", "--jobs", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Instances deployed in parallel inside a wave.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True, metavar="S",
              help="Seconds each StatefulSet may take to roll out (and each controller to answer the health probe).")
@click.option("--request-timeout", type=click.FloatRange(1, 600), default=30.0, show_default=True, metavar="S",
              help="Seconds for each request to the API server.")
@click.option("--force-conflicts", is_flag=True,
              help="Take over fields another field manager owns (server-side apply --force-conflicts).")
@click.option("--prune", is_flag=True,
              help="With --yes: delete what instances removed from the fleet left on the clusters.")
@click.option("--yes", is_flag=True, help="Confirm --prune.")
@click.option("--push", "push_reload", is_flag=True,
              help="For ConfigMap-only changes, run 'fleet push --reload' on those controllers afterwards.")
@report_option("Also write the result of every instance as JSON.")
@controllers.target_options("probed", "YAML overriding controller URLs, as for 'fleet push'.")
@click.pass_obj
def deploy(ctx: Context, names, build_dir, clusters, dry_run, show_diff, force_all, canary, wave_size, jobs, timeout,
           request_timeout, force_conflicts, prune, yes, push_reload, report_path, url, targets_path,
           credentials_path, insecure):
    """Apply the generated Kubernetes objects to their clusters, in waves.

    \b
    Per cluster, one 'kubectl get' reads back the sha256 annotation of every
    object fleet manages: instances whose objects match build/ are unchanged and
    cost nothing more. The others go out in waves: a canary of one, then
    --wave-size at a time. Per instance: server-side dry run, server-side apply
    (field manager jenkins-fleet) in dependency order, pruning of objects build/
    no longer has (in the instance's namespace), 'kubectl rollout status' of
    the StatefulSet. A wave with a failure stops the deployment. Between waves,
    with Jenkins credentials (as for 'fleet push'), the changed controllers must
    answer the 'fleet status' probe.

    \b
    kubectl is FLEET_KUBECTL, or deploy.kubectl in fleet.yaml (oc works), always
    with --context from clusters[].kubeContext (default: the cluster's name).
    Its kubeconfig and tokens are its own: fleet never sees a credential.

    \b
    A change to the JCasC ConfigMap alone does not restart Jenkins: --push runs
    'fleet push --reload' for those controllers; otherwise the command is printed.

    \b
    Exit codes: 0 deployed (or nothing to do), 1 bad input, a stale build/ or
    drift found by --diff, 2 usage error, 3 a cluster or controller failed,
    4 internal error, 130 interrupted. See docs/deploy.md.

    \b
    Examples:
      fleet deploy --dry-run
      fleet deploy 'ee4j.*' --canary ee4j.jersey --wave-size 5
      fleet deploy --diff --report drift.json
    """
    from .. import deploy as deploy_lib
    from .. import kubectl as kubectl_lib

    with guard(ctx):
        if prune and not yes and not show_diff:
            ctx.info("--prune without --yes: objects of removed instances are listed, not deleted")
        instances, index = deploy_lib.read_instances(build_dir, names)
        stale, fleet, fleet_path = _fleet_and_staleness(ctx, build_dir, names)
        if stale:
            raise FleetError(stale)
        known = [c.get("name") for c in fleet.get("clusters", [])]
        unknown = [c for c in clusters if c not in known]
        if unknown:
            raise FleetError([Diagnostic(fleet_path, 0, 0, "clusters", f"--cluster {c}: no such cluster in fleet.yaml",
                                         hint=f"declared clusters: {', '.join(known)}") for c in unknown])
        if clusters:
            instances = [i for i in instances if i.cluster in clusters]
        deploy_lib.check_placement(instances, fleet, fleet_path)
        binary = kubectl_lib.binary_for(os.environ, fleet)
        processes = kubectl_lib.Processes()

        def factory(cluster: str):
            return kubectl_lib.Kubectl(binary, kubectl_lib.context_for(fleet, cluster), timeout=request_timeout,
                                       processes=processes)

        if show_diff:
            _diff(ctx, instances, fleet, factory, jobs, report_path)
        if canary and canary not in {i.name for i in instances}:
            raise click.UsageError(f"--canary {canary}: not among the selected instances")
        health, push_fn, probe_note = _controller_hooks(ctx, build_dir, jobs, request_timeout, url, targets_path,
                                                        credentials_path, insecure, push_reload)
        options = deploy_lib.DeployOptions(dry_run=dry_run, force_conflicts=force_conflicts, all=force_all,
                                           canary=canary, wave_size=wave_size, jobs=jobs, timeout=timeout,
                                           request_timeout=request_timeout, prune_removed=prune and yes)
        with Progress(ctx, len(instances), "deploying") as bar:
            result = deploy_lib.deploy(instances, index, fleet, factory, options, health=health, push_reload=push_fn,
                                       progress=lambda _r: bar.advance(1), announce=ctx.info, processes=processes,
                                       consider_orphans=not names and not clusters)
        if probe_note and result.waves > 1:
            result.health_probe = probe_note
        result.jcasc_mode = "pushed" if push_fn else ("printed" if result.reload_needed() else "none")
        _print_result(ctx, result, prune and yes)
        if report_path:
            write_report(report_path, result.report())
        ctx.info(f"{'dry run: ' if dry_run else ''}{plural(len(result.instances), 'instance')}: "
                 f"{counts_text(result.counts())}; {plural(result.waves, 'wave')} ({result.duration:.1f}s)"
                 + (" - interrupted" if result.interrupted else ""))
        if result.interrupted:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(EXIT_OK if result.ok else EXIT_REMOTE)


def _fleet_and_staleness(ctx: Context, build_dir: str, names) -> tuple[list[Diagnostic], dict, str]:
    from .. import deploy as deploy_lib

    stale, fleet = deploy_lib.stale_diagnostics(ctx.paths, build_dir, names)
    return stale, fleet, os.path.join(ctx.paths.instances, "fleet.yaml")


def _controller_hooks(ctx, build_dir, jobs, request_timeout, url, targets_path, credentials_path, insecure,
                      push_reload):
    """The health probe between waves and the chained reload push, when Jenkins credentials exist."""
    from .. import push as push_lib
    from .. import status as status_lib
    from .. import targets as targets_lib

    if credentials_path:
        store = targets_lib.load_credentials(credentials_path, os.environ, [ctx.paths.instances, os.getcwd()])
    else:
        store = targets_lib.CredentialStore(default=targets_lib.credentials_from_env(os.environ))
    has_credentials = bool(store.default or store.clusters or store.instances)
    if push_reload and not has_credentials:
        raise FleetError([Diagnostic("", 0, 0, "--push", "no Jenkins credentials for the reload push",
                                     hint=f"set {targets_lib.ENV_USER} and {targets_lib.ENV_TOKEN}, "
                                          "or use --credentials FILE; "
                                          "or deploy without --push and run the printed command")])
    if not has_credentials:
        return None, None, "skipped: no Jenkins credentials"
    targets = None
    if targets_path:
        index = output.read_index(build_dir) or {}
        targets = targets_lib.load_targets(targets_path, set(index.get("instances", {})))
        print_diagnostics(ctx, targets.warnings)
    if insecure:
        import urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def resolve(names, reload=False):
        entries = targets_lib.read_build(build_dir, names)
        return targets_lib.resolve_targets(entries, targets=targets, store=store, url=url if len(names) == 1 else None,
                                        reload=reload, insecure=insecure)

    def health(names, seconds):
        try:
            resolved = resolve(names)
        except FleetError as exc:
            return {n: "; ".join(d.message for d in exc.errors) for n in names}
        options = status_lib.StatusOptions(jobs=1, timeout=min(request_timeout, seconds), verify_tls=not insecure)

        def probe(target):
            deadline = time.monotonic() + seconds
            while True:
                s = status_lib.status_one(target, options)
                if s.ok:
                    return ""
                if time.monotonic() >= deadline:
                    return f"{s.state}: {s.reason}"
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))

        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(resolved)))) as pool:
            return dict(zip([t.name for t in resolved], pool.map(probe, resolved), strict=True))

    def push(names):
        try:
            resolved = resolve(names, reload=True)
        except FleetError as exc:
            return {n: "; ".join(d.message for d in exc.errors) for n in names}
        fr = push_lib.push_fleet(resolved, push_lib.PushOptions(jobs=jobs, timeout=request_timeout,
                                                                verify_tls=not insecure))
        return {r.name: "" if r.ok else r.reason for r in fr.results}

    return health, (push if push_reload else None), ""


def _diff(ctx: Context, instances, fleet, factory, jobs: int, report_path) -> None:
    from .. import deploy as deploy_lib

    started = time.monotonic()
    with Progress(ctx, len(instances), "comparing") as bar:
        drifts, clusters = deploy_lib.drift(instances, fleet, factory, jobs, progress=lambda _d: bar.advance(1))
    drifted = [d for d in drifts if d.objects]
    failed = [d for d in drifts if d.error]
    for d in drifts:
        if d.error:
            click.echo(f"{d.name}: " + click.style("error:", fg="red", bold=True) + f" {d.error}", err=True,
                       color=ctx.color)
        elif d.objects:
            click.echo(click.style(f"~ {d.name} ({d.cluster}, namespace {d.namespace}): "
                                   f"{plural(len(d.objects), 'object')} drifted", bold=True),
                       color=ctx.color)
            for line in deploy_lib.format_drift(d):
                click.echo(line, color=ctx.color)
    if report_path:
        write_report(report_path, {"generator": "fleet deploy --diff", "clusters": clusters,
                                    "drifted": len(drifted), "failed": len(failed),
                                    "instances": [d.as_dict() for d in drifts]})
    ctx.info(f"{plural(len(drifts), 'instance')}: {len(drifted)} drifted, {len(failed)} could not be "
             f"compared, {len(drifts) - len(drifted) - len(failed)} in sync ({time.monotonic() - started:.1f}s)")
    sys.exit(EXIT_REMOTE if failed else (EXIT_INPUT if drifted else EXIT_OK))


COLUMNS = ("instance", "cluster", "wave", "result", "changed", "rollout", "reason")


def table_rows(result) -> list[tuple[str, ...]]:
    rows = []
    for r in result.instances:
        rows.append((r.name, r.cluster, "-" if r.wave is None else ("1 (canary)" if r.wave == 1 else str(r.wave)),
                     r.result, str(len(r.changed) + len(r.pruned)) if r.result != "not attempted" else "-",
                     "-" if r.rollout_seconds is None else f"{r.rollout_seconds:.1f}s", r.reason))
    return rows


def _print_result(ctx: Context, result, pruning: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    for r in result.instances:
        if r.result == "failed":
            click.echo(f"{r.name}: " + click.style("error:", fg="red", bold=True) + f" {r.reason}", err=True,
                       color=ctx.color)
    for note in result.notes:
        click.echo(click.style("note:", bold=True) + f" {note}", err=True, color=ctx.color)
    for o in result.orphans:
        verb = {"reported": "left on the cluster" + ("" if pruning else " (delete with --prune --yes)"),
                "deleted": "deleted"}.get(o.action, o.action)
        click.echo(click.style("removed instance:", fg="yellow", bold=True)
                   + f" {o.project} on {o.cluster}, namespace {o.namespace}: {', '.join(o.objects)}: {verb}",
                   err=True, color=ctx.color)
    if not ctx.quiet:
        console = stdout_console(ctx, width=220)
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for column in COLUMNS:
            table.add_column(column, no_wrap=column != "reason", justify="right" if column in ("changed", "rollout")
                             else "left")
        styles = {"applied": "green", "unchanged": "", "failed": "bold red", "not attempted": "yellow"}
        for row in table_rows(result):
            cells = [escape(c) for c in row]
            if styles[row[3]]:
                cells[3] = f"[{styles[row[3]]}]{cells[3]}[/]"
            cells[6] = escape(row[6] if len(row[6]) <= 120 else row[6][:117] + "...")
            table.add_row(*cells)
        console.print(table)
    reload = result.reload_needed()
    if result.jcasc_mode == "pushed":
        pushed = [r.name for r in result.instances if r.jcasc == "reload-pushed"]
        if pushed:
            ctx.info(f"JCasC: only the ConfigMap changed for {', '.join(pushed)}: reloaded with 'fleet push --reload'")
    elif reload:
        ctx.info(f"JCasC: only the ConfigMap changed for {', '.join(reload)}; Jenkins reads it at its next start. "
                 f"To apply it now (after the kubelet refreshed the mounted file, up to a minute or two):\n"
                 f"  fleet push --reload {' '.join(reload)}")
    if result.health_probe and result.waves > 1:
        ctx.info(f"health probe between waves: {result.health_probe}")
