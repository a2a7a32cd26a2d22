"""`fleet new`: scaffold an instance file."""

from __future__ import annotations

import os

import click

from .. import scaffold
from ..errors import display_path, plural
from .common import Context, guard, print_diagnostics


@click.command("new")
@click.argument("full_name", metavar="FULLNAME")
@click.option("--display-name", required=True, metavar="TEXT", help="The project's name as people know it.")
@click.option("--packs", type=int, default=None, metavar="N",
              help="Resource packs (default 1; one pack = two parallel builds = 2 vCPU / 8 GiB).")
@click.option("--cluster", metavar="NAME", help="A cluster of fleet.yaml (default: what the fleet defaults "
                                                "and matching profiles choose).")
@click.option("--packs-approval", metavar="REF",
              help="Ticket URL or id approving packs above the fleet policy (project.packsApproval).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=lambda: min(os.cpu_count() or 1, 8),
              show_default="number of CPUs", help="Parallel worker processes for validating the fleet.")
@click.pass_obj
def new(ctx: Context, full_name, display_name, packs, cluster, packs_approval, jobs):
    """Create instances/FULLNAME/instance.yaml for a new controller.

    \b
    FULLNAME is the dotted lowercase project name (technology.cbi); its last
    segment is the short name: the namespace, the URL path and the object names,
    so it must be a DNS-1123 label (a-z, 0-9, '-').

    The file states only what the fleet expects each instance to state (the
    schema line, fullName, displayName) and the options given that differ from
    the defaults. It is validated together with the whole fleet (a namespace or
    URL another instance uses is refused) and written only if valid; an existing
    name, an invalid name, an unknown cluster or fewer than 1 pack are refused and
    nothing is written.

    \b
    Examples:
      fleet new technology.dash --display-name "Eclipse Dash"
      fleet new ee4j.mail --display-name "Jakarta Mail" --packs 2
      fleet new rt.big --display-name "Big" --packs 10 --packs-approval https://helpdesk.example.org/t/42

    Exit codes: 0 created, 1 refused (nothing written), 2 usage error, 4 internal error.
    """
    with guard(ctx):
        req = scaffold.Request(full_name, display_name, packs, cluster, packs_approval)
        created = scaffold.create(ctx.paths, req, jobs=jobs)
        print_diagnostics(ctx, created.warnings)
        q = created.quota
        path = display_path(created.path)
        echo = click.echo
        echo(f"created {path}")
        echo(f"  {created.url} on cluster {created.cluster}, namespace {created.namespace}; "
             f"{plural(created.packs, 'pack')}: quota {q['pods']} pods, "
             f"{q['requestsCpuMillis'] / 1000:g} CPU and {q['requestsMemoryMiB'] / 1024:g} GiB requested")
        echo("")
        echo("next steps:")
        step = 1
        if scaffold.over_policy(created) and not req.packs_approval:
            echo(f"  {step}. {created.packs} packs is above the fleet maximum of {created.max_packs}: add "
                 "project.packsApproval (the approval ticket) or 'fleet check' fails (packs-over-policy)")
            step += 1
        echo(f"  {step}. add what differs from the fleet defaults (plugins, permissions, agents, build tools)"
             f" to {path}; see docs/adding-a-project.md")
        echo(f"  {step + 1}. fleet validate {req.full_name}")
        echo(f"  {step + 2}. make check            what the pull request check runs (validation, generation, "
             "audit, rendered diff)")
        echo(f"  {step + 3}. commit {display_path(os.path.dirname(created.path))}/ and open a pull request; "
             "never edit or commit build/: it is generated")
