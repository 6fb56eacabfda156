"""The exit codes of every ``polykv`` command (``EXIT_CODES`` says what each means)."""

from __future__ import annotations

__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "exit_code",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CHECK_FAILED = 4
EXIT_INTERRUPTED = 130

#: Every exit code a ``polykv`` command returns, and what it means.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success: also removing what was not there, unless --must-exist",
    EXIT_ERROR: "error: polykv or the store refused or failed (invalid key, unreachable server, unknown URL scheme...)",
    EXIT_USAGE: "usage: unknown option, missing or malformed argument (e.g. a VALUE that is not JSON)",
    EXIT_NOT_FOUND: "not found: get of a missing key or record; rm/clear --must-exist found nothing",
    EXIT_CHECK_FAILED: "check failed: the store failed at least one conformance check",
    EXIT_INTERRUPTED: "interrupted: Ctrl-C; watch, which runs until interrupted, exits 0 instead",
}


def exit_code(exc: BaseException) -> int:
    """The exit code for an exception a command raised: ``EXIT_NOT_FOUND`` for a missing key or record, else
    ``EXIT_ERROR``."""
    from ..errors import KeyNotFoundError, RecordNotFoundError

    return EXIT_NOT_FOUND if isinstance(exc, (KeyNotFoundError, RecordNotFoundError)) else EXIT_ERROR
