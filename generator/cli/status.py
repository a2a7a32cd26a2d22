"""`fleet status`: the live state of each controller next to its quota."""

from __future__ import annotations

import json

import click

from ..errors import plural, printable, printable_json
from . import controllers
from .common import (
    Context,
    Progress,
    build_option,
    controller_jobs_option,
    counts_text,
    guard,
    request_timeout_option,
    stdout_console,
)


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: one line per controller; json: everything, on stdout.")
@request_timeout_option(10.0)
@controller_jobs_option("asked")
@build_option
@controllers.target_options("asked", "YAML overriding URLs per cluster or instance, as for 'fleet push'.")
@click.pass_obj
def status(ctx: Context, names, fmt, timeout, jobs, build_dir, url, targets_path, credentials_path, insecure):
    """Show the live state of controllers: health, builds, queue, plugins.

    \b
    Per controller, read-only: GET /api/json (version, quiet-down), /queue/api/json
    (waiting builds, longest wait), /computer/api/json (running builds, agents),
    /pluginManager/api/json (drift against the catalog in build/<NAME>/model.json).
    A controller is SATURATED when its running builds reach its capacity
    (maxConcurrency + online permanent-agent executors) and builds are waiting:
    its quota, not Jenkins, is the bottleneck.

    \b
    URLs and credentials as for 'fleet push': FLEET_JENKINS_USER and
    FLEET_JENKINS_TOKEN, or --credentials FILE; --targets FILE for URLs.
    The user needs Overall/Read (and Overall/SystemRead for the plugins).

    \b
    Exit codes: 0 every controller answered, 1 bad input, 2 usage error,
    3 a controller was unreachable or its state could not be read, 4 internal
    error (the other rows are still shown), 130 interrupted. See
    docs/monitoring.md.

    \b
    Examples:
      fleet status
      fleet status 'ee4j.*' --format json
    """
    from .. import (
        status as status_lib,  # here, not at startup: python-jenkins and requests take ~70 ms to import
    )
    with guard(ctx):
        resolved = controllers.resolve(ctx, build_dir=build_dir, names=names, url=url, targets_path=targets_path,
                                       credentials_path=credentials_path, insecure=insecure)
        options = status_lib.StatusOptions(jobs=jobs, timeout=timeout, verify_tls=not insecure)
        with Progress(ctx, len(resolved), "asking") as bar:
            fleet = status_lib.fleet_status(resolved, options, progress=lambda _s: bar.advance(1))
        if fmt == "json":
            click.echo(printable_json(json.dumps(fleet.report(), indent=2, sort_keys=True, ensure_ascii=False)))
        else:
            _print_table(ctx, fleet)
        saturated = sum(1 for s in fleet.statuses if s.saturated)
        ctx.info(f"{plural(len(fleet.statuses), 'controller')}: {counts_text(fleet.counts())}"
                 + (f"; {saturated} saturated" if saturated else "") + f" ({fleet.duration:.1f}s)"
                 + (" - interrupted" if fleet.interrupted else ""))
        controllers.exit_after(ctx, fleet)


COLUMNS = ("instance", "state", "version", "quiet", "running", "queue", "wait", "plugins", "saturated", "reason")


def table_rows(fleet) -> list[tuple[str, ...]]:
    """One row of plain cells per controller (the table, without styling)."""
    from .. import (
        status as status_lib,  # here, not at startup: python-jenkins and requests take ~70 ms to import
    )
    rows = []
    for s in fleet.statuses:
        running = "-" if s.running is None else f"{s.running}/{s.capacity}"
        saturated = "-" if s.saturated is None else ("SATURATED" if s.saturated else "no")
        quiet = "-" if s.quieting_down is None else ("yes" if s.quieting_down else "no")
        version = s.version or "-"
        if s.version and s.expected_version and s.version != s.expected_version:
            version += "*"
        rows.append((s.name, s.state, version, quiet, running,
                     "-" if s.queue_length is None else str(s.queue_length),
                     status_lib.format_duration(s.longest_wait) if s.queue else "-",
                     s.plugin_summary() if s.state != "unreachable" else "-", saturated, s.reason))
    return rows


def _print_table(ctx: Context, fleet) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console(ctx, width=220)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    right = {"running", "queue", "wait"}
    for column in COLUMNS:
        table.add_column(column, no_wrap=column != "reason", justify="right" if column in right else "left")
    styles = {"ok": "green", "partial": "yellow", "failed": "bold red", "unreachable": "bold red"}
    for row in table_rows(fleet):
        cells = [escape(printable(c)) for c in row]  # versions and reasons come from the controllers
        cells[1] = f"[{styles[row[1]]}]{cells[1]}[/]"
        if row[8] == "SATURATED":
            cells[8] = f"[bold yellow]{cells[8]}[/]"
        cells[9] = escape(printable(row[9] if len(row[9]) <= 120 else row[9][:117] + "..."))
        table.add_row(*cells)
    console.print(table)
