"""The parameters commands share: ``--url`` (and the old positional URL), PREFIX/``--prefix``, ``--schema``,
``--must-exist``, each with the same name, default and help on every command that takes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..urls import DEFAULT_URL  # the store every command opens when --url is not given (one default)

__all__ = [
    "URL_ENVVAR",
    "URL_HELP",
    "legacy_url_argument",
    "must_exist_option",
    "prefix_argument",
    "resolve_prefix",
    "resolve_url",
    "schema_option",
    "url_option",
]

#: The environment variable that replaces ``DEFAULT_URL``.
URL_ENVVAR = "POLYKV_URL"

#: The help of ``--url``, the same on every command that opens one store.
URL_HELP = "Store URL."


def url_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--url``: the one way a command that opens one store takes it (env POLYKV_URL)."""
    return click.option(
        "--url",
        default=DEFAULT_URL,
        show_default=True,
        envvar=URL_ENVVAR,
        show_envvar=True,
        help=URL_HELP,
    )(f)


def legacy_url_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    """The positional URL ``watch``, ``check`` and ``bench`` used to take; kept as a synonym of --url."""
    return click.argument("legacy_url", metavar="[URL]", required=False, default=None)(f)


def resolve_url(url: str, legacy_url: str | None) -> str:
    """The URL to open: --url (or POLYKV_URL, or the default), or the old positional URL if given."""
    if legacy_url is None:
        return url
    ctx = click.get_current_context()
    if ctx.get_parameter_source("url") is click.core.ParameterSource.COMMANDLINE and url != legacy_url:
        raise click.UsageError("give the store once: --url URL or the positional URL, not two different ones")
    return legacy_url


def prefix_argument(default_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """PREFIX as an optional positional argument, with ``--prefix`` as its synonym (see ``resolve_prefix``)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.argument("prefix", required=False, default=None)(f)
        help_text = f"Same as the PREFIX argument (default: {default_help})."
        return click.option("--prefix", "prefix_option", default=None, help=help_text)(f)

    return decorate


def resolve_prefix(prefix: str | None, prefix_option: str | None) -> str | None:
    """The prefix given positionally or as ``--prefix`` (the same one, if both); None if neither."""
    if prefix is not None and prefix_option is not None and prefix != prefix_option:
        raise click.UsageError("give the prefix once: PREFIX or --prefix, not two different ones")
    return prefix if prefix is not None else prefix_option


def schema_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--schema`` of the commands that read or write one namespace: absent means the plain KV pairs."""
    return click.option("--schema", default=None, help="Record schema to use (default: the plain KV pairs).")(f)


def must_exist_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--must-exist`` of every command that removes: make "nothing there" an error (exit 3)."""
    return click.option(
        "--must-exist",
        is_flag=True,
        help="Fail (exit 3) if there was nothing to remove (default: exit 0 and say so on stderr).",
    )(f)
