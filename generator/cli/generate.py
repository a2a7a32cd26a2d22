"""`fleet validate` and `fleet generate`."""

from __future__ import annotations

import os
import sys
import time

import click

from .. import fleet, output
from ..errors import FleetError
from .common import EXIT_INPUT, Context, Progress, guard, print_diagnostics

@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.pass_obj
def validate(ctx: Context, names):
    """Check instance definitions without writing anything.

    NAME is an instance's fullName or a shell pattern such as 'ee4j.*'; with no
    NAME every instance is checked. Checks: YAML syntax and duplicate keys, the
    JSON Schemas in schemas/, and the semantic rules (known cluster and Jenkins
    version, plugin ids, unique namespaces and URLs, pod templates within the
    LimitRange). All problems of all instances are reported in one run.
    """
    with guard(ctx):
        started = time.monotonic()
        checked = fleet.check_sources(ctx.paths, names)
        if any(d.is_error for d in checked.diagnostics):
            raise FleetError(checked.diagnostics)
        # Cross-instance rules (namespaces, URLs, LimitRange fit) need the resolved models.
        generated = fleet.generate(ctx.paths, names, jobs=1) if checked.inputs else None
        warnings = generated.warnings if generated else checked.diagnostics
        print_diagnostics(ctx, warnings)
        count = len(checked.inputs)
        ctx.info(f"{count} instance{'s' * (count != 1)} valid"
                 + (f", {len(warnings)} warning{'s' * (len(warnings) != 1)}" if warnings else "")
                 + f" ({time.monotonic() - started:.2f}s)")


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--out", "out_dir", default="build", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Output directory, replaced atomically.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 and list the files that would change (for CI).")
@click.pass_obj
def generate(ctx: Context, names, out_dir, jobs, check):
    """Regenerate instances into DIR (default build/).

    \b
    Per instance <fullName>:
      jenkins/jenkins.yaml   JCasC (with instances/<fullName>/jenkins.yaml merged over it)
      k8s/*.yaml             one object per file, plus kustomization.yaml (oc apply -k)
      image/Dockerfile       controller image; image/plugins.txt for jenkins-plugin-cli
      model.json             the resolved model (defaults, profiles, quota arithmetic)
    and build/fleet.json, an index with a sha256 per file.

    The new tree is written aside and swapped in whole: an error or a crash
    leaves the previous output intact, and files of removed instances disappear.
    With NAME arguments only those instances are regenerated; the rest of DIR is kept.
    """
    with guard(ctx):
        started = time.monotonic()
        names = tuple(names)
        total = len(fleet.fleetdir.select(ctx.paths.instances, names))
        with Progress(ctx, total, "generating") as bar:
            gen = fleet.generate(ctx.paths, names, jobs=jobs, progress=bar.advance)
        print_diagnostics(ctx, gen.warnings)
        if check:
            _check_only(ctx, gen, out_dir, names)
            return
        with output.OutputLock(out_dir):
            old_index = output.read_index(out_dir)
            keep, carry = _carry_over(old_index, gen, names, ctx.paths.instances)
            index = fleet.merged_index(gen.index, old_index, keep)
            files = dict(gen.files)
            files[output.INDEX] = fleet.index_bytes(index)
            scope = set(gen.names) | {output.INDEX} if names else None
            changes = output.compare(out_dir, files, scope=scope)
            output.write_tree(out_dir, files, carry)
        elapsed = time.monotonic() - started
        ctx.info(f"generated {len(gen.names)} instance{'s' * (len(gen.names) != 1)} "
                 f"({len(gen.files)} files, {len(changes)} changed) into {out_dir}/ in {elapsed:.2f}s")


def _carry_over(old_index, gen, names, instances_dir) -> tuple[list[str], list[str]]:
    """Files of instances not regenerated in this run, kept as they are."""
    if not names or not old_index:
        return [], []
    existing = set(fleet.fleetdir.instance_names(instances_dir))
    keep = [n for n in old_index.get("instances", {}) if n not in gen.names and n in existing]
    carry = [f"{n}/{rel}" for n in keep for rel in old_index["instances"][n]["files"]]
    return keep, carry


def _check_only(ctx: Context, gen, out_dir: str, names) -> None:
    old_index = output.read_index(out_dir)
    keep, _ = _carry_over(old_index, gen, names, ctx.paths.instances)
    files = dict(gen.files)
    files[output.INDEX] = fleet.index_bytes(fleet.merged_index(gen.index, old_index, keep))
    scope = (set(gen.names) | {output.INDEX}) if names else None
    changes = output.compare(out_dir, files, scope=scope)
    for change in changes:
        click.echo(f"{change.status:8} {os.path.join(out_dir, change.path)}", color=ctx.color)
    if changes:
        ctx.info(f"{len(changes)} generated file{'s' * (len(changes) != 1)} would change; "
                 f"run 'fleet generate' and commit the result")
        sys.exit(EXIT_INPUT)
    ctx.info(f"{out_dir}/ is up to date ({len(gen.names)} instances)")


