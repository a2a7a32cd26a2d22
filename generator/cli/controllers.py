"""Which controllers a command talks to, and how: shared by `fleet push` and `fleet status`."""

from __future__ import annotations

import os
import sys
import traceback
from typing import NoReturn

import click

from .. import output
from ..errors import plural
from .common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_REMOTE, Context, print_diagnostics


def target_options(verb: str, targets_help: str):
    """--url, --targets, --credentials and --insecure, as `fleet push` and `fleet status` take them."""
    options = [
        click.option("--url", metavar="URL", help=f"The controller's URL, when exactly one instance is {verb}."),
        click.option("--targets", "targets_path", type=click.Path(dir_okay=False), envvar="FLEET_TARGETS",
                     metavar="FILE", help=f"{targets_help} [env: FLEET_TARGETS]"),
        click.option("--credentials", "credentials_path", type=click.Path(dir_okay=False),
                     envvar="FLEET_CREDENTIALS", metavar="FILE",
                     help="INI or YAML credentials file, mode 0600, outside the repository. [env: FLEET_CREDENTIALS]"),
        click.option("--insecure", is_flag=True,
                     help="Do not verify TLS certificates; allow plain http to remote hosts."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def resolve(ctx: Context, *, build_dir: str, names, url, targets_path, credentials_path, insecure: bool,
            reload: bool = False) -> list:
    """Targets (URL, credentials, mode) for the selected instances of the build; warns about --insecure."""
    from .. import jenkins_client
    from .. import (
        targets as targets_lib,  # here, not at startup: python-jenkins and requests take ~70 ms to import
    )
    entries = targets_lib.read_build(build_dir, names)
    if url is not None and len(entries) != 1:
        raise click.UsageError(f"--url needs exactly one instance; the selection has {len(entries)}")
    print_diagnostics(ctx, targets_lib.stale_warnings(entries, build_dir, ctx.paths.instances, names))
    targets = None
    if targets_path:
        index = output.read_index(build_dir) or {}
        targets = targets_lib.load_targets(targets_path, set(index.get("instances", {})))
        print_diagnostics(ctx, targets.warnings)
    if credentials_path:
        store = targets_lib.load_credentials(credentials_path, os.environ, [ctx.paths.instances, os.getcwd()])
    else:
        store = targets_lib.CredentialStore(default=targets_lib.credentials_from_env(os.environ))
    resolved = targets_lib.resolve_targets(entries, targets=targets, store=store, url=url, reload=reload,
                                        insecure=insecure)
    extra = jenkins_client.extra_header_names(os.environ)
    if extra:
        click.echo(click.style("warning:", fg="yellow", bold=True) + f" {jenkins_client.EXTRA_HEADERS_ENV} adds "
                   f"the {plural(len(extra), 'header', count=False)} {', '.join(extra)} to every request "
                   "(values not shown; never sent to another host)", err=True, color=ctx.color)
    if insecure:
        import urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # we warn once, here
        click.echo(click.style("warning:", fg="yellow", bold=True) + " --insecure: TLS certificates are not "
                   "verified; anyone on the path can read the API token", err=True, color=ctx.color)
    return resolved


def report_bugs(ctx: Context, bugs) -> None:
    """Controllers whose job raised: a bug, reported after the results of every other controller."""
    if ctx.debug:
        for name, exc in bugs:
            click.echo(f"{name}:", err=True)
            traceback.print_exception(exc, file=sys.stderr)
    names = ", ".join(name for name, _ in bugs)
    click.echo(f"internal error: {plural(len(bugs), 'controller')} hit a bug ({names}); the others "
               "were handled and are reported above\n"
               + ("" if ctx.debug else "run again with --debug for the traceback, and ") + "please report it",
               err=True, color=ctx.color)


def exit_after(ctx: Context, fleet) -> NoReturn:
    """End a fleet-wide command once its results are shown: 130 interrupted, 4 a controller's job hit a
    bug (reported here, after everything else), 3 a controller failed, 0 every controller succeeded."""
    if fleet.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if fleet.bugs:
        report_bugs(ctx, fleet.bugs)
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK if fleet.ok else EXIT_REMOTE)
