"""`fleet validate` and `fleet generate`."""

from __future__ import annotations

import os
import sys
import time

import click

from .. import fleet, monitoring, output
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
        names = tuple(names)
        total = len(fleet.fleetdir.select(ctx.paths.instances, names))
        if check:
            old_index = output.read_index(out_dir)
            with Progress(ctx, total, "generating") as bar:
                gen = fleet.generate(ctx.paths, names, jobs=jobs, progress=bar.advance, previous=old_index)
            print_diagnostics(ctx, gen.warnings)
            _check_only(ctx, gen, out_dir, names, old_index)
            return
        # The lock first: the cache and the files carried over must be those of the tree we replace.
        with output.OutputLock(out_dir):
            output.recover(out_dir)  # finish or undo what a killed run left behind
            previous = output.read_cache(out_dir)  # read once: the cache, the kept keys, the old index
            if previous is None:
                output.refuse_foreign(out_dir)  # before the work, not after it
                if names and output.read_index(out_dir) is not None:
                    # Nothing is carried over from a tree this tool did not write here (a clone's, an
                    # older version's): the other instances are generated too.
                    ctx.info(f"{out_dir}/ has no record of being written by fleet generate here: "
                             "generating every instance")
                    names = ()
                    total = len(fleet.fleetdir.select(ctx.paths.instances, names))
            old_index = previous.index if previous else output.read_index(out_dir)
            with Progress(ctx, total, "generating") as bar:
                gen = fleet.generate(ctx.paths, names, jobs=jobs, progress=bar.advance,
                                     cache=None if no_cache else previous,
                                     previous=old_index if previous else None)
            print_diagnostics(ctx, gen.warnings)
            keep, carry = _carry_over(old_index, gen, names, ctx.paths.instances)
            keys = {**_kept_keys(previous, keep), **gen.keys}
            index = fleet.merged_index(gen.index, old_index, keep + gen.cached)
            files = dict(gen.files)
            changed = _changed_files(old_index, index)
            if changed or not os.path.isdir(out_dir) or old_index != index or gen.keys.keys() - set(gen.cached):
                files[output.INDEX] = fleet.index_bytes(index)
                output.write_tree(out_dir, files, carry, keys)
            else:
                output.write_cache(out_dir, keys)
        elapsed = time.monotonic() - started
        rendered = len(gen.names) - len(gen.cached)
        ctx.info(f"generated {len(gen.names)} instance{'s' * (len(gen.names) != 1)} into {out_dir}/ "
                 f"({rendered} rendered, {len(gen.cached)} unchanged; {len(changed)} files changed) "
                 f"in {elapsed:.2f}s")


def _kept_keys(previous: output.CacheState | None, keep: list[str]) -> dict[str, str]:
    """Inputs keys of instances carried over unselected: still valid for their unchanged files."""
    return {n: previous.keys[n] for n in keep if previous and n in previous.keys}


def _changed_files(old_index, new_index) -> list[str]:
    """Files whose hash differs between two indexes (added, changed or removed)."""
    old, new = output.indexed_files(old_index), output.indexed_files(new_index)
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def _carry_over(old_index, gen, names, instances_dir) -> tuple[list[str], dict[str, str]]:
    """Instances kept from the current output (not selected, or unchanged) and their files' sha256."""
    if not old_index:
        return [], {}
    entries = old_index.get("instances", {})
    keep = list(fleet.kept_entries(old_index, names, gen.names, instances_dir))
    carry = {f"{n}/{rel}": digest for n in keep + gen.cached for rel, digest in entries[n]["files"].items()}
    return keep, carry


def _check_only(ctx: Context, gen, out_dir: str, names, old_index) -> None:
    keep, _ = _carry_over(old_index, gen, names, ctx.paths.instances)
    files = dict(gen.files)
    files[output.INDEX] = fleet.index_bytes(fleet.merged_index(gen.index, old_index, keep))
    scope = (set(gen.names) | {output.INDEX} | set(monitoring.FLEET_DIRS)) if names else None
    changes = output.compare(out_dir, files, scope=scope)
    for change in changes:
        click.echo(f"{change.status:8} {os.path.join(out_dir, change.path)}", color=ctx.color)
    if changes:
        ctx.info(f"{len(changes)} generated file{'s' * (len(changes) != 1)} would change: {out_dir}/ is not up "
                 f"to date; run 'fleet generate' to update it ({out_dir}/ is never committed: it is generated "
                 "where it is used, e.g. before 'fleet push')")
        sys.exit(EXIT_INPUT)
    ctx.info(f"{out_dir}/ is up to date ({len(gen.names)} instances)")
