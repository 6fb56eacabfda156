"""The ``polykv`` console script: run the command line, or say which extra it needs.

The command line is built on click and rich, which the library does not need, so they come with the ``cli``
extra (``pip install "polykv-core[cli]"``). Without them this prints one line naming the extra and exits 1,
instead of an ``ImportError`` traceback. This module imports nothing beyond the standard library until the
check passes.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

__all__ = ["CLI_EXTRA", "main"]

#: What to run to get the command line's dependencies.
CLI_EXTRA = 'pip install "polykv-core[cli]"'


def missing_cli_dependencies() -> list[str]:
    """The names of the command line's dependencies (click, rich) that cannot be imported here."""
    return [name for name in ("click", "rich") if find_spec(name) is None]


def main() -> None:
    """Run ``polykv.cli.main``; exit 1 with a one-line hint on stderr when click or rich is missing."""
    missing = missing_cli_dependencies()
    if missing:
        sys.stderr.write(
            f"polykv: error: the polykv command needs {' and '.join(missing)} (the cli extra); "
            f"install it with: {CLI_EXTRA}\n"
        )
        raise SystemExit(1)
    from .cli import main as run

    run()
