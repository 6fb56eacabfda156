"""The KV and record commands: ``get``, ``set``, ``rm``, ``clear``, ``ls``, ``count``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from ..context import note, opened
from ..output import parse_json, to_json
from ..params import must_exist_option, prefix_argument, resolve_prefix, schema_option, url_option

__all__ = ["clear", "count", "get", "ls", "rm", "set_"]


@click.command()
@click.argument("key")
@url_option
@schema_option
def get(key: str, url: str, schema: str | None) -> None:
    """Print the JSON value of KEY (or of the record KEY in --schema)."""
    with opened(url) as store:
        value = store[key] if schema is None else store.get_record(schema, dict, key)
        click.echo(to_json(value))


@click.command(name="set")
@click.argument("key")
@click.argument("value")
@url_option
@schema_option
@click.option("--ttl", type=float, default=None, help="Expire after this many seconds (default: never).")
def set_(key: str, value: str, url: str, schema: str | None, ttl: float | None) -> None:
    """Store the JSON VALUE under KEY (or as the record KEY in --schema; records are JSON objects)."""
    parsed = parse_json(value, "VALUE")
    with opened(url) as store:
        if schema is None:
            store.set(key, parsed, ttl=ttl)
        else:
            if not isinstance(parsed, dict):
                raise click.BadParameter("a record VALUE must be a JSON object")
            store.upsert_record(schema, key, parsed, ttl=ttl)


@click.command()
@click.argument("key")
@url_option
@schema_option
@must_exist_option
def rm(key: str, url: str, schema: str | None, must_exist: bool) -> None:
    """Delete KEY (or the record KEY in --schema). A missing one is not an error (as store.delete)."""
    from ...errors import KeyNotFoundError, RecordNotFoundError

    with opened(url) as store:
        existed = store.delete(key) if schema is None else store.delete_record(schema, key)
        if existed:
            return
        if must_exist:
            if schema is None:
                raise KeyNotFoundError("no such key", backend=store.backend_name, key=key)
            raise RecordNotFoundError("no record with this key", backend=store.backend_name, schema=schema, key=key)
        note(f"nothing to remove: no key {key!r}" + ("" if schema is None else f" in schema {schema!r}"))


@click.command()
@prefix_argument("none: give PREFIX, --prefix or --all")
@url_option
@schema_option
@click.option("--all", "everything", is_flag=True, help="Remove every key (or record of --schema); no PREFIX.")
@must_exist_option
def clear(
    prefix: str | None, prefix_option: str | None, url: str, schema: str | None, everything: bool, must_exist: bool
) -> None:
    """Remove the keys (or records of --schema) starting with PREFIX (literal); --all for every one.

    Prints how many were removed. Removing none is not an error unless --must-exist.
    """
    from ...errors import KeyNotFoundError, RecordNotFoundError

    prefix = resolve_prefix(prefix, prefix_option)
    if everything == (prefix is not None):
        raise click.UsageError("give a PREFIX or --all (one of them)")
    prefix = prefix or ""
    with opened(url) as store:
        if schema is None:
            removed = store.clear(prefix)
        elif not prefix:
            removed = store.count(schema)
            store.drop_schema(schema)
        else:
            removed = sum(store.delete_record(schema, key) for key in list(store.record_keys(schema, prefix)))
        click.echo(removed)
        if removed:
            return
        where = "" if schema is None else f" in schema {schema!r}"
        what = f"starting with {prefix!r}" if prefix else "at all"
        if must_exist:
            if schema is None:
                raise KeyNotFoundError(f"no key {what}", backend=store.backend_name)
            raise RecordNotFoundError(f"no record {what}", backend=store.backend_name, schema=schema)
        note(f"nothing to remove: no key {what}{where}")


@click.command()
@prefix_argument("every key")
@url_option
@schema_option
@click.option("--values", is_flag=True, help="Print JSON lines {key, value} instead of keys.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Stop after this many keys (default: list them all)."
)
def ls(
    prefix: str | None, prefix_option: str | None, url: str, schema: str | None, values: bool, limit: int | None
) -> None:
    """List the keys (or record keys of --schema) starting with PREFIX (literal; default: all), one per line."""
    from itertools import islice

    prefix = resolve_prefix(prefix, prefix_option) or ""
    with opened(url) as store:
        if schema is None:
            items: Iterator[Any] = store.fetch_by_prefix(prefix) if values else store.keys_by_prefix(prefix)
        elif values:
            ns = schema
            items = ((key, store._decode(data, ns, key)) for key, data in store._scan_items(store._schema(ns), prefix))
        else:
            items = store.record_keys(schema, prefix)
        for item in islice(items, limit):
            if values:
                click.echo(to_json({"key": item[0], "value": item[1]}))
            else:
                click.echo(item)


@click.command()
@url_option
@schema_option
@click.option("--prefix", default="", help="Count only the keys starting with it (literal; default: all).")
def count(url: str, schema: str | None, prefix: str) -> None:
    """Print how many KV keys (or records of --schema) the store holds."""
    with opened(url) as store:
        if schema is None:
            click.echo(store.count(prefix=prefix))
        elif prefix:
            click.echo(sum(1 for _ in store.record_keys(schema, prefix)))
        else:
            click.echo(store.count(schema))
