"""`fleet push`: send the generated JCasC to live controllers."""

from __future__ import annotations

import click

from ..errors import plural, printable
from . import controllers
from .common import (
    Context,
    Progress,
    build_option,
    controller_jobs_option,
    counts_text,
    guard,
    print_diagnostics,
    report_option,
    request_timeout_option,
    stdout_console,
    write_report,
)


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@build_option
@click.option("--dry-run", is_flag=True, help="Check and show the diff; change nothing.")
@controller_jobs_option("pushed")
@request_timeout_option(30.0)
@report_option("Also write the results as JSON.")
@controllers.target_options("pushed", "YAML overriding URLs (and mode) per cluster or instance.")
@click.option("--reload", is_flag=True,
              help="Reload JCasC from the file mounted in the controller (the ConfigMap) instead of posting it.")
@click.pass_obj
def push(ctx: Context, names, build_dir, dry_run, jobs, timeout, report_path, url, targets_path, credentials_path,
         reload, insecure):
    """Push generated configuration to live Jenkins controllers.

    \b
    Per controller: who am I -> Jenkins version -> plugins -> /check of
    build/<NAME>/jenkins/jenkins.yaml -> semantic diff against /export ->
    apply (only if something changed; /configure, else /apply; /reload with
    --reload) -> verify with a second /export.  --dry-run stops after the diff.
    NAME is an instance fullName or a shell pattern; none means every instance.

    \b
    Credentials: FLEET_JENKINS_USER and FLEET_JENKINS_TOKEN, or --credentials
    FILE (sections per cluster or instance).  Never on the command line.

    \b
    Exit codes: 0 every controller succeeded (or dry run), 1 bad input,
    2 usage error, 3 a controller failed, 4 internal error (the others were
    still pushed and reported), 130 interrupted (Ctrl-C stops at once and
    reports what each controller did).  See docs/push.md.
    """
    from .. import (
        push as push_lib,  # here, not at startup: python-jenkins and requests take ~70 ms to import
    )
    with guard(ctx):
        resolved = controllers.resolve(ctx, build_dir=build_dir, names=names, url=url, targets_path=targets_path,
                                       credentials_path=credentials_path, insecure=insecure, reload=reload)
        options = push_lib.PushOptions(dry_run=dry_run, jobs=jobs, timeout=timeout, verify_tls=not insecure)
        with Progress(ctx, len(resolved), "pushing") as bar:
            fleet = push_lib.push_fleet(resolved, options, progress=lambda _result: bar.advance(1))
        _print_details(ctx, fleet)
        if not ctx.quiet:
            _print_table(ctx, fleet)
        if report_path:
            write_report(report_path, fleet.report())
        ctx.info(f"{'dry run: ' if dry_run else ''}{plural(len(fleet.results), 'controller')}: "
                 f"{counts_text(fleet.counts())} ({fleet.duration:.1f}s)"
                 + (" - interrupted" if fleet.interrupted else ""))
        controllers.exit_after(ctx, fleet)


def _print_details(ctx: Context, fleet) -> None:
    from ..value_diff import format_change
    for r in fleet.results:
        print_diagnostics(ctx, r.diagnostics)
        # what a controller said (warnings, reasons, live values) goes through printable(): no raw control
        # character of an answer reaches the terminal
        for warning in r.warnings:
            click.echo(f"{r.name}: " + click.style("warning:", fg="yellow", bold=True) + f" {printable(warning)}",
                       err=True, color=ctx.color)
        if r.outcome == "failed":
            click.echo(f"{r.name}: " + click.style("error:", fg="red", bold=True) + f" {printable(r.reason)}",
                       err=True, color=ctx.color)
        if r.changes and not ctx.quiet:
            verb = "would change" if fleet.dry_run else ("changed" if r.outcome == "applied" else "differ")
            click.echo(click.style(f"{r.name} ({r.url}): {plural(len(r.changes), 'key')} "
                                   f"{verb}", bold=True), color=ctx.color)
            for change in r.changes:
                for line in format_change(change):
                    colour = {"+": "green", "-": "red", "~": "yellow"}[line[0]]
                    click.echo("  " + click.style(printable(line), fg=colour), color=ctx.color)
            if r.not_compared:
                click.echo(f"  ({plural(len(r.not_compared), 'value')} from ${{VARIABLES}} "
                           "not compared: Jenkins shows them resolved or encrypted)", color=ctx.color)
        if ctx.debug:
            for rec in r.request_log:
                click.echo(f"  debug: {r.name}: {rec.method} {rec.path} -> {rec.status} ({rec.seconds:.3f}s)",
                           err=True)


def _print_table(ctx: Context, fleet) -> None:
    from rich.table import Table

    console = stdout_console(ctx, width=200)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("instance", "outcome", "duration", "reason"):
        table.add_column(column, no_wrap=column != "reason", justify="right" if column == "duration" else "left")
    styles = {"applied": "green", "unchanged": "", "failed": "bold red", "skipped": "yellow"}
    for r in fleet.results:
        table.add_row(r.name, f"[{styles[r.outcome]}]{r.outcome}[/]" if styles[r.outcome] else r.outcome,
                      f"{r.duration:.1f}s", _escape(printable(_shorten(r.reason))))
    console.print(table)


def _shorten(text: str, limit: int = 120) -> str:
    # the full reason is on stderr and in the report; the table stays one line per controller
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)
