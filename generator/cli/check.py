"""`fleet check`: what a pull request must pass."""

from __future__ import annotations

import os
import sys

import click

from .. import prcheck, vcs
from ..errors import Diagnostic, FleetError, printable_text
from .common import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    Context,
    guard,
    print_diagnostics,
    write_atomic,
)


def _write_summary(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)  # make check on a fresh clone: build/ may not exist yet
    except OSError as exc:
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot create the directory: {exc.strerror or exc}")]) from None
    write_atomic(path, text)


@click.command("check")
@click.option("--base", "base", metavar="REF", is_flag=False, flag_value="", default=None,
              help="Also render the fleet at git revision REF and show the rendered diff and the quota delta "
                   "per cluster. '--base' alone: the merge base with main (or origin/main, master, origin/master).")
@click.option("--summary-md", "summary_md", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write a Markdown summary for a pull-request comment to FILE (atomically; also when the "
                   "check fails).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes for generating.")
@click.pass_obj
def check(ctx: Context, base, summary_md, jobs):
    """Run everything a pull request must pass; what CI runs (make check).

    \b
    Steps (a failed step skips those that need it):
      validation   YAML, schemas, semantic rules, unique namespaces and URLs
      generation   the whole fleet into a temporary directory, every manifest
                   validated offline (build/ is not touched)
      audit        the quota rules (docs/audit.md); an error finding fails
      diff         with --base: the rendered diff per instance and object, and
                   the quota delta per cluster
    --summary-md FILE writes the same as Markdown for a pull-request comment:
    steps, instances added/changed/removed with namespace and quota delta,
    objects touched, quota delta per cluster, findings, errors.

    \b
    Examples:
      fleet check
      fleet check --base --summary-md check-summary.md    (make check)
      fleet check --base HEAD~1

    \b
    Exit codes:
      0  every step passed (warnings and infos allowed)
      1  a step failed: validation error, generation or manifest error,
         an audit error finding, or a --base revision that cannot be resolved
         (the summary and the last line name the failed steps)
      2  usage error
      4  internal or environment error (e.g. git missing for --base)
    """
    with guard(ctx):
        try:
            result = prcheck.run(ctx.paths, base, jobs=jobs)
        except vcs.GitUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            if summary_md:
                _write_summary(summary_md, prcheck.render_error_markdown(str(exc)))
            sys.exit(EXIT_INTERNAL)
        print_diagnostics(ctx, result.diagnostics)
        print_diagnostics(ctx, result.base_diagnostics)
        click.echo(printable_text(prcheck.render_text(result)), nl=False)
        if summary_md:
            _write_summary(summary_md, printable_text(prcheck.render_markdown(result)))
            ctx.info(f"wrote {summary_md}")
        if result.exit_code:
            sys.exit(EXIT_INPUT)
