"""The `fleet` command line. Only this package prints or exits.

Exit codes: 0 success; 1 bad input, failed check or --check found changes;
2 usage error; 3 remote failure (push); 4 internal or environment error.
"""

from __future__ import annotations

import importlib

import click

from .. import __version__
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
            self.add_command(command)
        return super().get_command(ctx, name)


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
