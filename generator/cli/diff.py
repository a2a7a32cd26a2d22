"""`fleet diff`: what a change does to the generated objects."""

from __future__ import annotations

import json
import os
import sys

import click

from .. import rendered_diff as diff_mod
from .. import vcs
from ..errors import printable_json, printable_text
from .common import EXIT_INTERNAL, Context, guard


@click.command("diff")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--base", "base", metavar="REF", is_flag=False, flag_value="", default=None,
              help="The git revision to compare with. Omitted, or '--base' alone (as for check and audit): "
                   "the merge base of HEAD with main, origin/main, master or origin/master.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json for tools (formatVersion 1, docs/adding-a-project.md).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes for generating.")
@click.pass_obj
def diff(ctx: Context, names, base, fmt, jobs):
    """Show what the working tree changes in the generated objects since a git revision.

    \b
    Both sides are rendered in full (the revision with its own templates and
    schemas) and compared object by object, not as text: instances added and
    removed, and per generated file (Kubernetes object, JCasC, image files,
    resolved model) the fields added, removed and changed, old -> new:
      ~ technology.cbi: changed (okd-c1, namespace cbi)
          ~ k8s/resourcequota.yaml  ResourceQuota/jenkins-instance-quota
              ~ spec.hard["requests.cpu"]: "13900m" -> "16600m"
    Lists of named things (containers, pod templates, clouds) are matched by
    name. NAME (a fullName or a pattern such as 'ee4j.*') limits the instances.

    \b
    Examples:
      fleet diff                        since the merge base with main
      fleet diff --base HEAD~1 'ee4j.*'
      fleet diff --format json | jq '.summary'

    Exit codes: 0 ok (whether or not something changed), 1 bad input (either
    side does not validate, unknown revision, no such instance), 2 usage,
    4 internal or environment error (e.g. git missing).
    """
    with guard(ctx):
        try:
            revision = vcs.resolve_base(vcs.fleet_repo_root(ctx.paths.instances), base or None)
            result = diff_mod.rendered_diff(ctx.paths, revision, tuple(names), jobs=jobs)
        except vcs.GitUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INTERNAL)
        if fmt == "json":
            click.echo(printable_json(json.dumps(result.to_json(), indent=2, ensure_ascii=False)))
        else:
            click.echo(printable_text(diff_mod.render_text(result)), nl=False)
