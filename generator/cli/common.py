"""What every command shares: the context object, diagnostics printing, exit codes, progress."""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager

import click

from .. import fleet, output
from ..errors import Diagnostic, FleetError, OutputBusyError, OutputWriteError, plural

# 2 (usage) is click's own exit code for a bad command line.
EXIT_OK, EXIT_INPUT, EXIT_REMOTE, EXIT_INTERNAL = 0, 1, 3, 4
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it


class Context:
    def __init__(self, instances: str, debug: bool, quiet: bool, color: bool | None):
        self.paths = fleet.Paths(instances=instances)
        self.debug = debug
        self.quiet = quiet
        self.color = color

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True, color=self.color)


def print_diagnostics(ctx: Context, diags) -> None:
    for d in diags:
        text = d.format()
        first, _, rest = text.partition("\n")
        colour = "red" if d.is_error else "yellow"
        first = first.replace(f": {d.severity}: ", ": " + click.style(f"{d.severity}:", fg=colour, bold=True) + " ", 1)
        click.echo(first + ("\n" + rest if rest else ""), err=True, color=ctx.color)


def counts_text(counts: dict[str, int]) -> str:
    """The last line's tally of a fleet-wide run, "3 applied, 1 failed"; "none" when nothing was done."""
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "none"


def _summary(diags) -> str:
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    files = len({d.file for d in diags})
    parts = [plural(errors, "error")]
    if warnings:
        parts.append(plural(warnings, "warning"))
    return f"{', '.join(parts)} in {plural(files, 'file')}"


@contextmanager
def guard(ctx: Context):
    """Turn failures into messages and exit codes; a traceback only with --debug."""
    try:
        yield
    except FleetError as exc:
        print_diagnostics(ctx, exc.diagnostics)
        click.echo(_summary(exc.diagnostics), err=True, color=ctx.color)
        if ctx.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except (OutputBusyError, OutputWriteError) as exc:  # the environment, not the input: no traceback
        click.echo(f"error: {exc}", err=True, color=ctx.color)
        sys.exit(EXIT_INTERNAL)
    except KeyboardInterrupt:
        click.echo("interrupted; the previous output is intact", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`fleet audit | head`): stop quietly, as SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
        raise
    except Exception as exc:
        if ctx.debug:
            traceback.print_exc()
        else:
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "run again with --debug for the traceback, and please report it", err=True)
        sys.exit(EXIT_INTERNAL)


# Options that several commands take alike: declared once, so that their names, defaults and help
# cannot drift apart between `fleet push`, `fleet status` and `fleet deploy`.

def build_option(command):
    """--build DIR: the output of `fleet generate` that a command reads."""
    return click.option("--build", "build_dir", default="build", show_default=True, metavar="DIR",
                        type=click.Path(file_okay=False), help="The output of 'fleet generate'.")(command)


def controller_jobs_option(verb: str):
    """-j/--jobs for a command that talks to controllers in parallel; `verb` as in "Controllers pushed"."""
    return click.option("-j", "--jobs", type=click.IntRange(1, 64), default=8, show_default=True,
                        help=f"Controllers {verb} in parallel.")


def request_timeout_option(default: float):
    """--timeout S for each HTTP request to a controller."""
    return click.option("--timeout", type=click.FloatRange(0.1, 600), default=default, show_default=True, metavar="S",
                        help="Seconds each HTTP request may take, whole answer included.")


def report_option(help: str):
    """--report FILE: the command's results as JSON as well (written by write_report)."""
    return click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="FILE", help=help)


def write_report(path: str, data: dict) -> None:
    """--report FILE, written atomically; a write error is the environment's: exit 4 after the results."""
    try:
        output.write_file(path, output.dump_json(data).encode("utf-8"))
    except OSError as exc:
        click.echo(f"error: cannot write the report {path}: {exc.strerror}", err=True)
        sys.exit(EXIT_INTERNAL)


def write_atomic(path: str, text: str) -> None:
    """--output FILE, written atomically; a missing directory or a write error is a user-facing error."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise FleetError([Diagnostic(path, 0, 0, "", "the directory for --output does not exist")])
    try:
        output.write_file(path, text.encode("utf-8"))
    except OSError as exc:
        raise FleetError([Diagnostic(path, 0, 0, "", f"cannot write: {exc.strerror or exc}")]) from None


def emit(text: str, path: str | None) -> None:
    """A report to standard output, or with --output FILE to FILE (atomically)."""
    if path:
        write_atomic(path, text)
    else:
        click.echo(text, nl=False)


class Progress:
    """A progress bar on a terminal, nothing otherwise (CI logs stay clean)."""

    def __init__(self, ctx: Context, total: int, label: str):
        self.bar = None
        if not ctx.quiet and sys.stderr.isatty() and total > 1:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
            )
            self.bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.advance(self.task, n)

    __call__ = advance  # what generator/regenerate.py calls with each number of instances done

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()


def stdout_console(ctx: Context, width: int = 200):
    """A rich console for tables on stdout: colours as --color says, a fixed width when piped,
    and a closed pipe handled by guard() (rich alone would exit 1, which means "errors" here)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(file=sys.stdout, width=None if sys.stdout.isatty() else width, soft_wrap=False,
                    force_terminal=ctx.color, no_color=ctx.color is False, highlight=False)
