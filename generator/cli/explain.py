"""`fleet explain`."""

from __future__ import annotations

import click

from .. import explain as explain_mod
from ..errors import printable_json, printable_text
from .common import Context, emit, guard


@click.command()
@click.argument("name")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people; json for tools (formatVersion 1, see docs/audit.md).")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write to FILE (atomically) instead of standard output.")
@click.pass_obj
def explain(ctx: Context, name, fmt, output):
    """Show one instance's resolved model, where each value came from, and its quota arithmetic.

    \b
    Each value is traced to the layer that set it: built-in default, fleet.yaml
    (defaults, resourceModel, controllers), a matching profile (fleet.yaml:LINE)
    or the instance file (instance.yaml:LINE); derived values say what they are
    derived from. Every quota figure is shown with the instance's own constants:
      requests.cpu 13900m = controller 1900m + 10 x jnlp 200m + 5 packs x 2000m

    \b
    Examples:
      fleet explain technology.cbi
      fleet explain technology.cbi --format json | jq '.quota.steps'

    Exit codes: 0 ok, 1 bad input, 2 usage, 4 internal error.
    """
    with guard(ctx):
        exp = explain_mod.explain(ctx.paths, name)
        # instance values are shown: no raw control character reaches a terminal or the file
        text = printable_json(explain_mod.render_json(exp)) if fmt == "json" else \
            printable_text(explain_mod.render_text(exp))
        emit(text, output)
