"""``polykv watch``: print a store's changes as JSON lines until Ctrl-C."""

from __future__ import annotations

import sys

import click

from ..context import opened
from ..output import to_json
from ..params import legacy_url_argument, resolve_url, url_option

__all__ = ["watch"]


@click.command()
@legacy_url_argument
@url_option
@click.option(
    "--schema", default=None, help="Only the records of this schema ('' for the KV pairs; default: every change)."
)
@click.option("--kv", is_flag=True, help="Only plain KV pairs (no records); same as --schema ''.")
@click.option("--prefix", default=None, help="Only keys starting with it (literal; default: every key).")
@click.option(
    "--ops", "op_names", default="insert,update,delete", show_default=True, help="Comma-separated kinds to print."
)
@click.option(
    "--since", default=None, help="Resume after this cursor ('0': all the store retains; default: changes from now)."
)
@click.option("--no-follow", is_flag=True, help="Print the changes there are, then exit (default: keep following).")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds (default: never).")
def watch(
    legacy_url: str | None,
    url: str,
    schema: str | None,
    kv: bool,
    prefix: str | None,
    op_names: str,
    since: str | None,
    no_follow: bool,
    timeout: float | None,
) -> None:
    """Print the changes of the store as JSON lines {op, schema, key, value, cursor}; Ctrl-C ends it (exit 0).

    The positional URL is the old spelling of --url, still accepted.
    """
    from ... import ops

    url = resolve_url(url, legacy_url)
    from ...changes import ChangeOp

    if kv and schema not in (None, ""):
        raise click.UsageError("--kv means --schema ''; give one of them")
    kinds = ChangeOp(0)
    for name in filter(None, (n.strip().upper() for n in op_names.split(","))):
        if name not in ("INSERT", "UPDATE", "DELETE"):
            raise click.BadParameter(f"unknown change kind {name.lower()!r} (use insert, update, delete)")
        kinds |= ChangeOp[name]
    with opened(url) as store:
        feed = ops.watch(
            store,
            schema="" if kv else schema,
            prefix=prefix,
            ops=kinds,
            since=since,
            follow=not no_follow,
            timeout=timeout,
        )
        try:
            for change in feed:
                click.echo(to_json(change.to_json()))
                sys.stdout.flush()
        except KeyboardInterrupt:
            return
