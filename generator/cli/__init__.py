"""The `fleet` command line. Only this package prints or exits.

Exit codes: 0 success; 1 bad input, failed check or --check found changes;
2 usage error; 3 remote failure (push); 4 internal or environment error.
"""

from __future__ import annotations

import difflib
import importlib

import click

from .. import __version__, fleet
from .common import Context

# Each command lives in its own module, imported only when that command runs (or when help
# lists them all): `fleet generate` does not pay for the audit, push or import code.
# Adding a command is one line here.
COMMANDS = {
    "validate": "generate:validate",
    "generate": "generate:generate",
    "import-jiro": "import_jiro:import_jiro",
    "push": "push:push",
    "status": "status:status",
    "audit": "audit:audit",
    "explain": "explain:explain",
    "new": "new:new",
    "diff": "diff:diff",
    "check": "check:check",
    "deploy": "deploy:deploy",
    "plugins": "plugins:plugins",
}


def _set_on_context(attribute: str):
    def callback(click_ctx, _param, value):
        if value is not None and value is not False:
            obj = click_ctx.find_object(Context)
            if attribute == "instances":
                obj.paths = fleet.Paths(instances=value)
            else:
                setattr(obj, attribute, value)
    return callback


def _global_options() -> list[click.Option]:
    """The group's options, also accepted after the command (`fleet push -q`), hidden from its help."""
    return [
        click.Option(["--instances"], metavar="DIR", type=click.Path(file_okay=False), hidden=True,
                     expose_value=False, callback=_set_on_context("instances")),
        click.Option(["--debug"], is_flag=True, default=False, hidden=True, expose_value=False,
                     callback=_set_on_context("debug")),
        click.Option(["-q", "--quiet"], is_flag=True, default=False, hidden=True, expose_value=False,
                     callback=_set_on_context("quiet")),
        click.Option(["--color/--no-color"], default=None, hidden=True, expose_value=False,
                     callback=_set_on_context("color")),
    ]


def _accept_global_options(command: click.Command) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)
        return
    if getattr(command, "_fleet_global_options", False):
        return
    taken = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    command.params += [o for o in _global_options() if not taken & {*o.opts, *o.secondary_opts}]
    command._fleet_global_options = True


class LazyGroup(click.Group):
    """click's documented lazy-loading group: subcommands are imported on first use."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMANDS:
            module, _, attr = COMMANDS[name].partition(":")
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
            if command.name != name:
                raise RuntimeError(f"{COMMANDS[name]} is the command {command.name!r}, not {name!r}")
            _accept_global_options(command)
            self.add_command(command)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            # click suggests only among the commands imported so far: suggest among all of them
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx, args):
        if not args and not ctx.resilient_parsing:  # `fleet` alone: the help, as `fleet --help` shows it
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        return super().parse_args(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--instances", "instances", default="instances", show_default=True, metavar="DIR",
              envvar="FLEET_INSTANCES", type=click.Path(file_okay=False),
              help="The fleet directory: fleet.yaml plus one <fullName>/instance.yaml per controller.")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings.")
@click.option("--color/--no-color", default=None, help="Force or disable colours (default: on a terminal).")
@click.version_option(__version__, prog_name="fleet")
@click.pass_context
def cli(click_ctx, instances, debug, quiet, color):
    """Generate, check and push a fleet of Jenkins controllers on OpenShift/Kubernetes.

    \b
    Each controller is described by instances/<fullName>/instance.yaml; fleet-wide
    settings live in instances/fleet.yaml. Typical use:
      fleet validate                 check every instance definition
      fleet generate                 regenerate the whole fleet into build/
      fleet generate technology.cbi  regenerate one instance
      fleet generate --check         exit 1 if build/ is not up to date (before a push)

    The options below may also follow the command (fleet push -q).

    Exit codes: 0 ok, 1 bad input or changes found by --check, 2 usage error,
    3 remote failure, 4 internal error, output busy, or a write refused by the
    machine (disk full, read-only file system).
    """
    click_ctx.obj = Context(instances, debug, quiet, color)


def commands() -> dict[str, click.Command]:
    """Every command by name, all imported (for help listings and tests)."""
    return {name: cli.get_command(None, name) for name in cli.list_commands(None)}


def main() -> None:
    cli(prog_name="fleet")


if __name__ == "__main__":  # pragma: no cover
    main()
