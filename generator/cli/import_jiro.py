"""`fleet import-jiro`: turn an existing Jiro fleet into instance definitions."""

from __future__ import annotations

import os
import sys

import click

from .. import jiro_import
from ..errors import Diagnostic, FleetError
from .common import EXIT_INPUT, Context, guard, print_diagnostics


@click.command("import-jiro")
@click.argument("checkout", metavar="JIRO_CHECKOUT", type=click.Path(exists=True, file_okay=False))
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--into", "into", metavar="DIR", type=click.Path(file_okay=False), default=None,
              help="Fleet directory to write into (default: the --instances directory, ./instances).")
@click.option("--force", is_flag=True,
              help="Overwrite instance.yaml and jenkins.yaml of instances that already exist in DIR.")
@click.option("--image-repository", "image_repository", metavar="REPO",
              help="Repository the controller images of a new fleet are pushed to (defaults.imageRepository); "
                   "never Jiro's own, whose images its controllers run.")
@click.option("--report", "report_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the import report as JSON to FILE.")
@click.pass_obj
def import_jiro(ctx: Context, checkout, names, into, force, image_repository, report_file):
    """Import instances from a Jiro checkout (eclipse-cbi/jiro).

    \b
    Every JIRO_CHECKOUT/instances/<name>/ (or the NAMEs given; shell patterns
    such as 'ee4j.*' work) becomes DIR/<fullName>/instance.yaml, and its
    hand-written jenkins/configuration.yml becomes DIR/<fullName>/jenkins.yaml.
    When DIR has no fleet.yaml yet, one with Jiro's defaults is written too.

    \b
    Example:
      git clone https://github.com/eclipse-cbi/jiro ../jiro
      fleet import-jiro ../jiro --into fleet --image-repository quay.io/example --report import.json
      fleet --instances fleet generate

    Whatever has no equivalent is listed per instance, in the report and in a
    '# not imported:' comment at the top of its instance.yaml. Every written
    file passes 'fleet validate'; an instance that would not is not written.
    Existing instances are left alone unless --force.

    Exit codes: 0 every selected instance was imported, 1 otherwise (or bad
    input), 2 usage error, 4 internal error.
    """
    with guard(ctx):
        into = into or ctx.paths.instances
        if os.path.exists(into) and not os.path.isdir(into):
            raise FleetError([Diagnostic(into, 0, 0, "", "not a directory", hint="--into names a fleet directory")])
        result = jiro_import.import_jiro(checkout, into, tuple(names), force=force, image_repository=image_repository)
        _print(ctx, result)
        if report_file:
            jiro_import.write_report(result, report_file)
            ctx.info(f"report written to {report_file}")
        if not result.ok:
            sys.exit(EXIT_INPUT)


def _print(ctx: Context, result: jiro_import.ImportResult) -> None:
    for r in result.instances:
        if r.status == "imported":
            files = ", ".join(os.path.basename(f) for f in r.files)
            ctx.info(f"imported {r.jiro_name} -> {os.path.join(result.into, r.name)} ({files})")
            if not r.not_imported:
                ctx.info("  not imported: nothing")
            for item in r.not_imported:
                ctx.info(f"  not imported: {item.text()}")
            for note in r.notes:
                ctx.info(f"  note: {note}")
        else:
            click.echo(f"{'skipped' if r.status == 'exists' else 'failed'} {r.jiro_name}", err=True, color=ctx.color)
        print_diagnostics(ctx, r.diagnostics)
    if result.fleet_written:
        ctx.info(f"wrote {os.path.join(result.into, 'fleet.yaml')} with Jiro's defaults; "
                 "set clusters[].capacity (a placeholder)")
    for note in result.fleet_notes:
        ctx.info(f"note: {note}")
    if any(r.status == "imported" for r in result.instances):
        ctx.info(f"not imported for any instance (see {jiro_import.DOCS}):")
        for item in jiro_import.FLEET_NOT_IMPORTED:
            ctx.info(f"  - {item}")
    counts = {s: sum(1 for r in result.instances if r.status == s) for s in ("imported", "failed", "exists")}
    click.echo(f"{counts['imported']} imported, {counts['failed']} failed, {counts['exists']} already present "
               f"({result.seconds:.2f}s)", err=True, color=ctx.color)
