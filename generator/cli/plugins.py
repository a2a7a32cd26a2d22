"""`fleet plugins`: the plugin catalogs and who uses which plugin (docs/plugins.md)."""

from __future__ import annotations

import json
import os

import click

from ..errors import plural, sort_diagnostics
from .common import Context, guard, print_diagnostics, stdout_console


@click.group("plugins")
def plugins():
    """The plugin catalogs (one per Jenkins version) and the plugins of the fleet.

    \b
    fleet plugins refresh --from update-center.actual.json [--jenkins VERSION]
    fleet plugins usage [ID]...
    fleet plugins outdated --from update-center.actual.json

    Catalogs live in the fleet directory's catalogs/ and are named by
    controllers.versions.<version>.catalog in fleet.yaml. See docs/plugins.md.
    """


@plugins.command("refresh")
@click.option("--from", "source", required=True, metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="A downloaded update-center.actual.json (or update-center.json) of the update site.")
@click.option("--jenkins", "version", metavar="VERSION",
              help="The controller version whose catalog is rewritten (default: controllers.latest).")
@click.option("--versions", "versions_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="The update site's plugin-versions.json, for the older releases instances pin.")
@click.pass_obj
def refresh(ctx: Context, source, version, versions_file):
    """Rewrite a catalog from a downloaded update-center file (offline).

    \b
    Keeps the plugins the fleet requests for that Jenkins version and everything
    they can depend on, with only the fields the fleet uses; sorted, so the same
    files give the same bytes. Review the change with git diff before committing.

    \b
    Example:
      curl -fsSLo uc.json 'https://updates.jenkins.io/update-center.actual.json?version=2.555.2'
      fleet plugins refresh --from uc.json --jenkins 2.555.2

    Exit codes: 0 written, 1 bad input, 2 usage error, 4 internal error.
    """
    from .. import plugin_fleet
    with guard(ctx):
        result = plugin_fleet.refresh(ctx.paths, source, version, versions_file)
        print_diagnostics(ctx, sort_diagnostics(result.diagnostics))
        rel = os.path.relpath(result.path)
        changes = [f"{len(result.added)} added", f"{len(result.removed)} removed", f"{len(result.updated)} updated"]
        click.echo(f"wrote {rel}: {result.plugins} plugins ({', '.join(changes)}), {result.warnings} security "
                   f"warnings, {result.deprecations} deprecations")
        for pid, old, new in result.updated:
            ctx.info(f"  {pid} {old} -> {new}")
        for pid in result.added:
            ctx.info(f"  + {pid}")
        for pid in result.removed:
            ctx.info(f"  - {pid}")
        if not result.referenced:
            ctx.info(f"add 'catalog: {result.reference}' to controllers.versions.\"{result.version}\" in fleet.yaml")


@plugins.command("usage")
@click.argument("plugin_ids", nargs=-1, metavar="[ID]...")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def usage(ctx: Context, plugin_ids, fmt):
    """Which instances install a plugin, at which version, requested or as a dependency.

    \b
    Examples:
      fleet plugins usage gradle
      fleet plugins usage script-security --format json

    Exit codes: 0 ok, 1 bad input (e.g. an unknown plugin id), 2 usage error,
    4 internal error.
    """
    from .. import plugin_fleet
    with guard(ctx):
        uses, unpinned, _ = plugin_fleet.usage(ctx.paths, tuple(plugin_ids))  # warnings: fleet validate
        if fmt == "json":
            click.echo(json.dumps({"uses": [u.to_json() for u in uses], "noCatalog": unpinned}, indent=2,
                                  sort_keys=True))
            return
        _table(ctx, ("plugin", "version", "instance", "how"),
               [(u.plugin, u.version, u.instance, u.how) for u in uses])
        plugins_seen = len({u.plugin for u in uses})
        ctx.info(f"{plural(plugins_seen, 'plugin')} on {len({u.instance for u in uses})} instances")
        if unpinned:
            ctx.info(f"not pinned (no catalog for their Jenkins version): {', '.join(unpinned)}")


@plugins.command("outdated")
@click.option("--from", "source", required=True, metavar="FILE", type=click.Path(exists=True, dir_okay=False),
              help="A newer update-center.actual.json to compare the catalog with.")
@click.option("--jenkins", "version", metavar="VERSION", help="The catalog to compare (default: controllers.latest).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def outdated(ctx: Context, source, version, fmt):
    """Plugins whose catalog release is older than the update-center file's.

    \b
    Example:
      fleet plugins outdated --from uc.json

    Exit codes: 0 ok (whether or not a plugin is outdated), 1 bad input,
    2 usage error, 4 internal error.
    """
    from .. import plugin_fleet
    with guard(ctx):
        version, rows, no_catalog = plugin_fleet.outdated(ctx.paths, source, version)
        if fmt == "json":
            click.echo(json.dumps({"jenkins": version, "outdated": [r.to_json() for r in rows],
                                   "noCatalog": no_catalog}, indent=2, sort_keys=True))
            return
        _table(ctx, ("plugin", "catalog", "available", "instances"),
               [(r.plugin, r.pinned, r.available + ("" if r.fits else f" (needs Jenkins {r.required_core})"),
                 str(len(r.instances))) for r in rows])
        ctx.info(f"{plural(len(rows), 'plugin')} of the Jenkins {version} catalog have a newer release"
                 + ("; `fleet plugins refresh` takes them" if rows else ""))
        if no_catalog:
            ctx.info(f"no catalog (plugins not pinned): Jenkins {', '.join(no_catalog)}")


def _table(ctx: Context, columns, rows) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column != "how")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    stdout_console(ctx).print(table)
