"""The `fleet` command line. Only this package prints or exits.

Exit codes: 0 success; 1 bad input, failed check or --check found changes;
2 usage error; 3 remote failure (push); 4 internal or environment error.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import Context

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
      fleet generate --check         exit 1 if build/ is not up to date (CI)

    Exit codes: 0 ok, 1 bad input or changes found by --check, 2 usage error,
    3 remote failure, 4 internal error or output busy.
    """
    click_ctx.obj = Context(instances, debug, quiet, color)


def _register() -> None:
    # Each command lives in its own module; adding one is one line here.
    from . import generate
    cli.add_command(generate.validate)
    cli.add_command(generate.generate)
    from . import import_jiro
    cli.add_command(import_jiro.import_jiro)
    from . import push
    cli.add_command(push.push)
    from . import status
    cli.add_command(status.status)
    from . import audit
    cli.add_command(audit.audit)
    cli.add_command(audit.explain)
    from . import check, diff, new
    cli.add_command(new.new)
    cli.add_command(diff.diff)
    cli.add_command(check.check)


_register()


def main() -> None:
    cli(prog_name="fleet")


if __name__ == "__main__":  # pragma: no cover
    main()
