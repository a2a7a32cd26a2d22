"""`fleet validate` and `fleet generate`."""

from __future__ import annotations

import os
import sys
import time

import click

from .. import fleet, output, regenerate
from ..errors import plural
from .common import EXIT_INPUT, Context, Progress, guard, print_diagnostics


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--cache-from", "cache_dir", default="build", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Skip modelling instances unchanged since DIR was generated (the fleet-wide rules "
                   "take their cluster, namespace and URL from DIR's fleet.json).")
@click.option("--no-cache", is_flag=True, help="Model every instance from scratch.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes.")
@click.pass_obj
def validate(ctx: Context, names, cache_dir, no_cache, jobs):
    """Check instance definitions without writing anything.

    NAME is an instance's fullName or a shell pattern such as 'ee4j.*'; with no
    NAME every instance is checked. Checks: YAML syntax and duplicate keys, the
    JSON Schemas in schemas/, and the semantic rules (known cluster and Jenkins
    version, plugin ids, unique namespaces and URLs, pod templates within the
    LimitRange). All problems of all instances are reported in one run, sorted
    by file and line. Cross-instance rules (namespaces, URLs) apply to the
    instances checked together.

    \b
    Examples:
      fleet validate
      fleet validate technology.cbi 'ee4j.*'

    Exit codes: 0 valid (warnings allowed), 1 an error, 2 usage error,
    4 internal error.
    """
    with guard(ctx):
        started = time.monotonic()
        warnings = fleet.validate(ctx.paths, tuple(names), jobs=jobs,
                                  cache=None if no_cache else output.read_cache(cache_dir))
        print_diagnostics(ctx, warnings)
        count = len(fleet.fleetdir.select(ctx.paths.instances, tuple(names)))
        ctx.info(f"{plural(count, 'instance')} valid"
                 + (f", {plural(len(warnings), 'warning')}" if warnings else "")
                 + f" ({time.monotonic() - started:.2f}s)")


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--out", "out_dir", default="build", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Output directory, replaced atomically.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 and list the files that would change (is build/ up to date before a push?).")
@click.option("--no-cache", is_flag=True,
              help="Render every instance, even those whose inputs did not change since the last run.")
@click.pass_obj
def generate(ctx: Context, names, out_dir, jobs, check, no_cache):
    """Regenerate instances into DIR (default build/).

    \b
    Per instance <fullName>:
      jenkins/jenkins.yaml   JCasC (with instances/<fullName>/jenkins.yaml merged over it)
      k8s/*.yaml             one object per file, plus kustomization.yaml (oc apply -k)
      image/Dockerfile       controller image; image/plugins.txt for jenkins-plugin-cli
      model.json             the resolved model (defaults, profiles, quota arithmetic)
    and DIR/fleet.json, an index with a sha256 per file.

    The new tree is written aside and swapped in whole: an error or a crash
    leaves the previous output intact, and files of removed instances disappear.
    With NAME arguments only those instances are regenerated; the rest of DIR is kept.
    Instances whose inputs (instance files, fleet settings and matching profiles,
    templates, schemas, tool versions) did not change are not rendered again
    unless --no-cache is given.

    \b
    Examples:
      fleet generate                  the whole fleet
      fleet generate 'ee4j.*' -j 2    the Jakarta EE instances, two workers
      fleet generate --check          is build/ up to date? (before a push)

    Exit codes: 0 written (or up to date with --check), 1 bad input or --check
    found changes, 2 usage error, 4 internal error, output busy, or a write
    refused by the machine (disk full, read-only file system).
    """
    with guard(ctx):
        started = time.monotonic()

        def bar(total: int) -> Progress:
            return Progress(ctx, total, "generating")

        def warn(diags) -> None:
            print_diagnostics(ctx, diags)

        if check:
            _check_only(ctx, regenerate.compare(ctx.paths, out_dir, names, jobs=jobs, progress=bar, warn=warn),
                        out_dir)
            return
        done = regenerate.regenerate(ctx.paths, out_dir, names, jobs=jobs, use_cache=not no_cache, progress=bar,
                                     announce=ctx.info, warn=warn)
        gen = done.generated
        rendered = len(gen.names) - len(gen.cached)
        ctx.info(f"generated {plural(len(gen.names), 'instance')} into {out_dir}/ "
                 f"({rendered} rendered, {len(gen.cached)} unchanged; {len(done.changed)} files changed) "
                 f"in {time.monotonic() - started:.2f}s")


def _check_only(ctx: Context, compared: regenerate.Compared, out_dir: str) -> None:
    changes = compared.changes
    for change in changes:
        click.echo(f"{change.status:8} {os.path.join(out_dir, change.path)}", color=ctx.color)
    if changes:
        ctx.info(f"{plural(len(changes), 'generated file')} would change: {out_dir}/ is not up "
                 f"to date; run 'fleet generate' to update it ({out_dir}/ is never committed: it is generated "
                 "where it is used, e.g. before 'fleet push')")
        sys.exit(EXIT_INPUT)
    ctx.info(f"{out_dir}/ is up to date ({len(compared.generated.names)} instances)")
