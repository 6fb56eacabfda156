"""The ``polykv`` click group: global options on every subcommand, one-line errors and the exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from .context import State
from .exits import EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, exit_code
from .redaction import scrub, secrets_in

__all__ = ["EPILOG", "PolykvGroup", "cli", "global_options", "set_global"]


def set_global(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Callback of a global flag: set it in the shared state (given before or after the subcommand)."""
    if value and not ctx.resilient_parsing:
        state = ctx.find_object(State)
        if state is None:
            state = ctx.ensure_object(State)
        setattr(state, str(param.name), True)


def global_options() -> list[click.Parameter]:
    """Fresh ``--debug`` and ``--quiet`` options (each command needs its own objects)."""
    return [
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=set_global,
            help="Show the traceback after the one-line error (global: before or after the subcommand).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=set_global,
            help="Do not name the store(s) opened on stderr (global: before or after the subcommand).",
        ),
    ]


class PolykvGroup(click.Group):
    """Adds the global options to every subcommand; turns every non-click exception into one line on
    stderr and the exit code of ``EXIT_CODES`` (with ``--debug``: the traceback first, same exit code)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        names = {n for p in cmd.params for n in getattr(p, "opts", [])}
        cmd.params.extend(p for p in global_options() if not names & set(getattr(p, "opts", [])))
        if "--version" not in names:
            click.version_option(package_name="polykv-core", prog_name="polykv")(cmd)
        super().add_command(cmd, name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """As click's, but a usage error is one line too: ``polykv: error: usage: ... (see ... --help)``."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        secrets = secrets_in(*(sys.argv[1:] if args is None else args))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            message = scrub(exc.format_message(), secrets)
            click.echo(f"polykv: error: usage: {message}{where}", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"polykv: error: {scrub(exc.format_message(), secrets)}", err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("polykv: interrupted", err=True)
            code = EXIT_INTERRUPTED
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("polykv: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            state = ctx.find_object(State) or State()
            args = [a for a in sys.argv[1:] + ctx.args if isinstance(a, str)]
            secrets = state.secrets + secrets_in(*args)
            if state.debug:
                import traceback

                for line in traceback.format_exc().rstrip().splitlines():
                    indent = line[: len(line) - len(line.lstrip())]
                    click.echo(indent + scrub(line, secrets), err=True)
            click.echo(f"polykv: error: {scrub(f'{type(exc).__name__}: {exc}', secrets)}", err=True)
            ctx.exit(exit_code(exc))


EPILOG = "Exit codes: " + "; ".join(f"{code} {text.split(':')[0]}" for code, text in EXIT_CODES.items()) + "."


@click.group(cls=PolykvGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.option("--debug", is_flag=True, callback=set_global, expose_value=False, help=global_options()[0].help)
@click.option("-q", "--quiet", is_flag=True, callback=set_global, expose_value=False, help=global_options()[1].help)
@click.version_option(package_name="polykv-core", prog_name="polykv")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """polykv: one API for key-value and record storage over pluggable backends.

    Commands that open one store take --url (env POLYKV_URL, default sqlite:///polykv.db) and name it on
    stderr; global options go before or after the subcommand.
    """
    ctx.ensure_object(State)
