"""The ``polykv`` command line (click + rich): inspect backends, read and write stores, copy, watch, check.

Rules every command follows (docs/guide/cli.rst says the same):

* A command that opens one store takes it as ``--url`` (env ``POLYKV_URL``, default ``sqlite:///polykv.db``,
  a file in the working directory); ``copy`` opens two and takes ``SRC DST``. ``watch``, ``check`` and
  ``bench`` still accept their old positional URL. Each store opened is named on stderr
  (``polykv: store <url>``, secrets redacted) unless ``--quiet``.
* Global options (``--debug``, ``--quiet``, ``--version``) go before or after the subcommand.
* Removing what is not there succeeds (exit 0) and says so on stderr; ``--must-exist`` makes it an error.
* Exit codes: see ``EXIT_CODES``. Errors are one line on stderr; ``--debug`` adds the traceback.

The package holds one module per job: ``group`` (the click group: global options, one-line errors),
``exits`` (exit codes), ``params`` (the shared parameters), ``context`` (the state of one run, opening stores),
``redaction`` (secrets out of messages), ``output`` (JSON and rich), and ``commands`` (one module per
command group). This module adds the commands to the group.
"""

from __future__ import annotations

from ..urls import DEFAULT_URL  # the store every command opens when --url is not given (one default)
from .commands import COMMANDS
from .commands.check import CheckFailed
from .exits import (
    EXIT_CHECK_FAILED,
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
)
from .group import cli
from .params import (
    URL_ENVVAR,
    URL_HELP,
    legacy_url_argument,
    must_exist_option,
    prefix_argument,
    schema_option,
    url_option,
)

__all__ = [
    "DEFAULT_URL",
    "EXIT_CHECK_FAILED",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "URL_ENVVAR",
    "URL_HELP",
    "CheckFailed",
    "cli",
    "legacy_url_argument",
    "main",
    "must_exist_option",
    "prefix_argument",
    "schema_option",
    "url_option",
]

for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``polykv`` script."""
    cli(prog_name="polykv")
