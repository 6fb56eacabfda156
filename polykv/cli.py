"""The ``polykv`` command line (click + rich): inspect backends, read and write stores, copy, watch, check.

Every command that takes ``--url`` defaults to ``sqlite:///polykv.db`` (a file in the working directory),
so it works with no server. Values go in and out as JSON. Bad input prints one line on stderr and exits
non-zero; ``polykv --debug ...`` shows the traceback instead. Passwords in URLs are never printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

    from .store import KeyValueStore

__all__ = ["DEFAULT_URL", "cli", "main"]

#: The store every command opens when ``--url`` is not given.
DEFAULT_URL = "sqlite:///polykv.db"


@dataclass
class _State:
    debug: bool = False
    secrets: tuple[str, ...] = ()


def _secrets_in(*urls: str) -> tuple[str, ...]:
    found = []
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            found.append(password)
    return tuple(found)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    from .urls import redact_url  # noqa: F401 - messages from polykv are redacted already; scrub the rest

    for secret in secrets:
        text = text.replace(secret, "***")
    return " ".join(text.split())  # one line


class _Group(click.Group):
    """Turns every non-click exception into one line on stderr and exit code 1 (unless ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            state = ctx.find_object(_State) or _State()
            if state.debug:
                raise
            args = [a for a in ctx.protected_args + ctx.args if isinstance(a, str)]
            secrets = state.secrets + _secrets_in(*args)
            click.echo(f"polykv: error: {_scrub(f'{type(exc).__name__}: {exc}', secrets)}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="polykv", prog_name="polykv")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """polykv: one API for key-value and record storage over pluggable backends."""
    ctx.obj = _State(debug=debug)


def main() -> None:
    """Entry point of the ``polykv`` script."""
    cli(prog_name="polykv")


# == helpers ==========================================================================================
url_option = click.option(
    "--url", default=DEFAULT_URL, show_default=True, envvar="POLYKV_URL", help="Store URL (env: POLYKV_URL)."
)
schema_option = click.option("--schema", default=None, help="Record schema (default: the plain KV pairs).")


@contextmanager
def _open(url: str) -> Iterator[KeyValueStore]:
    from .urls import connect

    ctx = click.get_current_context()
    state = ctx.find_object(_State)
    if state is not None:
        state.secrets += _secrets_in(url)
    store = connect(url)
    try:
        yield store
    finally:
        store.close()


def _to_json(value: Any) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, bytes):
            import base64

            return {"$bytes_b64": base64.b64encode(obj).decode("ascii")}
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    return json.dumps(value, ensure_ascii=False, default=default)


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be JSON (quote strings: '\"text\"'): {exc}") from None


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


# == backends =========================================================================================
@cli.command()
@click.option("--load", is_flag=True, help="Import every backend to show its capabilities.")
def backends(load: bool) -> None:
    """Table of every backend: name, class, distribution, imported or not, capabilities."""
    from rich.table import Table

    from . import default_registry

    registry = default_registry()
    table = Table("name", "class", "distribution", "imported", "capabilities")
    table.columns[1].overflow = "fold"
    for name in registry:
        declaration = registry.describe(name)
        cls: Any = None
        note = ""
        if load:
            try:
                cls = registry.store_class(name)
            except Exception as exc:
                note = f"cannot load: {type(exc).__name__}"
        module = sys.modules.get(declaration.module)
        if cls is None and module is not None:
            cls = getattr(module, declaration.target.partition(":")[2], None)
        dist = f"{declaration.distribution} {declaration.version or ''}".strip() if declaration.distribution else "-"
        capabilities = (
            ", ".join(sorted(str(c) for c in cls.capabilities)) if cls is not None else note or "(--load shows them)"
        )
        table.add_row(name, declaration.target, dist, "yes" if module is not None else "no", capabilities or "-")
    _console().print(table)


# == KV and record commands ==========================================================================
@cli.command()
@click.argument("key")
@url_option
@schema_option
def get(key: str, url: str, schema: str | None) -> None:
    """Print the JSON value of KEY (or of the record KEY in --schema)."""
    with _open(url) as store:
        value = store[key] if schema is None else store.get_record(schema, dict, key)
        click.echo(_to_json(value))


@cli.command(name="set")
@click.argument("key")
@click.argument("value")
@url_option
@schema_option
@click.option("--ttl", type=float, default=None, help="Expire after this many seconds.")
def set_(key: str, value: str, url: str, schema: str | None, ttl: float | None) -> None:
    """Store the JSON VALUE under KEY (or as the record KEY in --schema; records are JSON objects)."""
    parsed = _parse_json(value, "VALUE")
    with _open(url) as store:
        if schema is None:
            store.set(key, parsed, ttl=ttl)
        else:
            if not isinstance(parsed, dict):
                raise click.BadParameter("a record VALUE must be a JSON object")
            store.upsert_record(schema, key, parsed, ttl=ttl)


@cli.command()
@click.argument("key")
@url_option
@schema_option
def rm(key: str, url: str, schema: str | None) -> None:
    """Delete KEY (or the record KEY in --schema); a missing key is an error."""
    from .errors import KeyNotFoundError, RecordNotFoundError

    with _open(url) as store:
        if schema is None:
            if not store.delete(key):
                raise KeyNotFoundError("no such key", backend=store.backend_name, key=key)
        elif not store.delete_record(schema, key):
            raise RecordNotFoundError("no record with this key", backend=store.backend_name, schema=schema, key=key)


@cli.command()
@click.argument("prefix", default="")
@url_option
@schema_option
@click.option("--values", is_flag=True, help="Print JSON lines {key, value} instead of keys.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many keys.")
def ls(prefix: str, url: str, schema: str | None, values: bool, limit: int | None) -> None:
    """List the keys starting with PREFIX (literal; default: all), one per line."""
    from itertools import islice

    with _open(url) as store:
        if schema is None:
            items: Iterator[Any] = store.fetch_by_prefix(prefix) if values else store.keys_by_prefix(prefix)
        elif values:
            ns = schema
            items = ((key, store._decode(data, ns, key)) for key, data in store._scan_items(store._schema(ns), prefix))
        else:
            items = store.record_keys(schema, prefix)
        for item in islice(items, limit):
            if values:
                click.echo(_to_json({"key": item[0], "value": item[1]}))
            else:
                click.echo(item)


@cli.command()
@url_option
@schema_option
@click.option("--prefix", default="", help="Count only KV keys starting with it.")
def count(url: str, schema: str | None, prefix: str) -> None:
    """Print how many KV keys (or records of --schema) the store holds."""
    with _open(url) as store:
        click.echo(store.count(schema) if schema is not None else store.count(prefix=prefix))


# == copy ============================================================================================
def _default_checkpoint(src: str, dst: str, prefix: str, schemas: tuple[str, ...]) -> Path:
    from .urls import redact_url

    digest = hashlib.sha256(json.dumps([redact_url(src), redact_url(dst), prefix, schemas]).encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polykv"
    return cache / f"copy-{digest[:16]}.json"


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option("--prefix", default="", help="Copy only keys starting with it (in every namespace).")
@click.option("--schema", "schemas", multiple=True, help="Copy only this schema ('' for the KV pairs); repeatable.")
@click.option("--overwrite", is_flag=True, help="Replace keys that exist in DST (default: leave them).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Progress file for resuming (default: one per SRC/DST pair in ~/.cache/polykv).",
)
@click.option("--no-resume", is_flag=True, help="Ignore and remove an earlier checkpoint; start over.")
def copy(
    src: str,
    dst: str,
    prefix: str,
    schemas: tuple[str, ...],
    overwrite: bool,
    batch_size: int,
    checkpoint: Path | None,
    no_resume: bool,
) -> None:
    """Copy every item of SRC into DST with a progress bar; re-running after an interruption resumes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from . import ops

    class RateColumn(ProgressColumn):
        """Items per second."""

        def render(self, task: Task) -> Text:
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text("-" if speed is None else f"{speed:,.0f} items/s")

    path = checkpoint or _default_checkpoint(src, dst, prefix, schemas)
    if no_resume:
        path.unlink(missing_ok=True)
    with _open(src) as source, _open(dst) as target:
        selected = list(schemas) if schemas else None
        total = ops.count_items(source, prefix=prefix, schemas=selected)
        progress = Progress(
            TextColumn("copy"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=_console(stderr=True),
        )
        task = progress.add_task("copy", total=total)

        def advance(items: int) -> None:
            if not progress.live.is_started:  # shown from the first batch: argument errors stay one line
                progress.start()
            progress.advance(task, items)

        try:
            result = ops.copy(
                source,
                target,
                prefix=prefix,
                schemas=selected,
                overwrite=overwrite,
                batch_size=batch_size,
                checkpoint=path,
                progress=advance,
            )
        finally:
            progress.stop()
    click.echo(
        f"copied {result.copied}, skipped {result.skipped} (present in destination), resumed past {result.resumed}"
    )


# == watch ===========================================================================================
@cli.command()
@click.argument("url", default=DEFAULT_URL)
@schema_option
@click.option("--kv", is_flag=True, help="Only plain KV pairs (no records).")
@click.option("--prefix", default=None, help="Only keys starting with it.")
@click.option("--ops", "op_names", default="insert,update,delete", show_default=True, help="Comma-separated kinds.")
@click.option("--since", default=None, help="Resume after this cursor ('0': all the store retains).")
@click.option("--no-follow", is_flag=True, help="Print the changes there are, then exit.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
def watch(
    url: str,
    schema: str | None,
    kv: bool,
    prefix: str | None,
    op_names: str,
    since: str | None,
    no_follow: bool,
    timeout: float | None,
) -> None:
    """Print the changes of the store at URL as JSON lines {op, schema, key, value, cursor}."""
    from . import ops
    from .changes import ChangeOp

    kinds = ChangeOp(0)
    for name in filter(None, (n.strip().upper() for n in op_names.split(","))):
        if name not in ("INSERT", "UPDATE", "DELETE"):
            raise click.BadParameter(f"unknown change kind {name.lower()!r} (use insert, update, delete)")
        kinds |= ChangeOp[name]
    with _open(url) as store:
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
                click.echo(_to_json(change.to_json()))
                sys.stdout.flush()
        except KeyboardInterrupt:
            return


# == check ===========================================================================================
class CheckFailed(Exception):
    """A conformance check did not hold."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _checks(store: KeyValueStore, prefix: str, schema: str) -> list[tuple[str, Callable[[], None]]]:
    """Checks that touch only keys under ``prefix`` and the schema ``schema`` (both random and new)."""
    from .capabilities import Capability
    from .errors import KeyNotFoundError, RecordExistsError, RecordNotFoundError

    k = prefix.__add__

    def round_trip() -> None:
        value = {"text": "héllo", "n": [1, 2.5, None, True]}
        store.set(k("a"), value)
        _expect(store.get(k("a")) == value, "value read back differs")
        store.set(k("a"), 2)
        _expect(store[k("a")] == 2, "overwrite not visible")

    def missing() -> None:
        _expect(store.get(k("missing")) is None, "get of a missing key is not None")
        try:
            store[k("missing")]
        except KeyNotFoundError:
            return
        raise CheckFailed("store[missing] did not raise KeyNotFoundError")

    def delete() -> None:
        store.set(k("d"), 1)
        _expect(store.delete(k("d")) is True, "delete of a present key returned False")
        _expect(store.delete(k("d")) is False, "delete of a missing key returned True")

    def batches() -> None:
        store.set_many({k(f"m{i}"): i for i in range(50)})
        got = store.get_many([k(f"m{i}") for i in range(50)] + [k("nope")])
        _expect(got == {k(f"m{i}"): i for i in range(50)}, "get_many differs from set_many")

    def prefix_scan() -> None:
        store.set_many({k("p*1"): 1, k("p*2"): 2, k("px"): 3})
        _expect(sorted(store.keys_by_prefix(k("p*"))) == [k("p*1"), k("p*2")], "prefix scan is not literal")
        _expect(store.count(prefix=k("p*")) == 2, "count(prefix=) is wrong")
        _expect(store.clear(k("p*")) == 2 and store.get(k("px")) == 3, "clear(prefix) removed the wrong keys")

    def records() -> None:
        store.insert_record(schema, "r1", {"name": "ann", "age": 30})
        try:
            store.insert_record(schema, "r1", {"name": "bob", "age": 1})
            raise CheckFailed("duplicate insert_record did not raise RecordExistsError")
        except RecordExistsError:
            pass
        store.update_record(schema, "r1", {"name": "ann", "age": 31})
        store.upsert_record(schema, "r2", {"name": "bob", "age": 20})
        _expect(store.get_record(schema, dict, "r1") == {"name": "ann", "age": 31}, "record read back differs")
        _expect([r["name"] for r in store.filter_record(schema, dict, age__gte=25)] == ["ann"], "filter is wrong")
        _expect(store.count(schema) == 2, "count(schema) is wrong")
        try:
            store.update_record(schema, "nope", {"x": 1})
            raise CheckFailed("update of a missing record did not raise RecordNotFoundError")
        except RecordNotFoundError:
            pass

    checks: list[tuple[str, Callable[[], None]]] = [
        ("set/get round trip", round_trip),
        ("missing key", missing),
        ("delete", delete),
        ("get_many/set_many", batches),
        ("literal prefix scan, count, clear", prefix_scan),
        ("records insert/update/get/filter", records),
    ]

    if Capability.ADD in store.capabilities:

        def add() -> None:
            _expect(store.add(k("add"), 1) is True and store.add(k("add"), 2) is False, "add is not insert-if-absent")

        checks.append(("add", add))
    if Capability.COMPARE_AND_SET in store.capabilities:

        def cas() -> None:
            store.set(k("cas"), 1)
            _expect(store.compare_and_set(k("cas"), 1, 2) and not store.compare_and_set(k("cas"), 1, 3), "cas wrong")

        checks.append(("compare_and_set", cas))
    if Capability.INCR in store.capabilities:

        def incr() -> None:
            _expect(store.incr(k("n")) == 1 and store.incr(k("n"), 5) == 6, "incr is wrong")

        checks.append(("incr", incr))
    if Capability.TTL in store.capabilities:

        def ttl() -> None:
            store.set(k("t"), 1, ttl=60)
            left = store.ttl(k("t"))
            _expect(left is not None and 0 < left <= 60, f"ttl reports {left}")

        checks.append(("ttl", ttl))
    return checks


@cli.command()
@click.argument("url", default=DEFAULT_URL)
def check(url: str) -> None:
    """Run the conformance checks that are safe on live data (random reserved keys, cleaned up)."""
    from rich.table import Table

    token = uuid.uuid4().hex[:12]
    prefix = f"__polykv_check_{token}__/"
    schema = f"polykv-check-{token}"
    failures = 0
    table = Table("check", "result")
    with _open(url) as store:
        try:
            for name, run in _checks(store, prefix, schema):
                try:
                    run()
                    table.add_row(name, "[green]ok[/green]")
                except Exception as exc:
                    failures += 1
                    table.add_row(name, f"[red]FAILED[/red] {type(exc).__name__}: {exc}")
        finally:
            store.clear(prefix)
            store.drop_schema(schema)
    _console().print(table)
    if failures:
        click.echo(f"polykv: error: {failures} check(s) failed", err=True)
        click.get_current_context().exit(1)


# == bench ===========================================================================================
@cli.command()
@click.argument("url", default=DEFAULT_URL)
@click.option("-n", "--number", type=click.IntRange(min=10), default=2000, show_default=True, help="Keys.")
@click.option("--batch", type=click.IntRange(min=1), default=100, show_default=True, help="Batch size.")
def bench(url: str, number: int, batch: int) -> None:
    """Print ops/s for get, set, get_many and set_many (on random reserved keys, removed afterwards)."""
    from rich.table import Table

    prefix = f"__polykv_bench_{uuid.uuid4().hex[:12]}__/"
    keys = [f"{prefix}{i}" for i in range(number)]
    value = {"payload": "x" * 100, "n": 1}
    results: list[tuple[str, float]] = []

    def timed(name: str, run: Callable[[], None]) -> None:
        started = time.perf_counter()
        run()
        results.append((name, number / (time.perf_counter() - started)))

    with _open(url) as store:
        chunks = [keys[i : i + batch] for i in range(0, number, batch)]

        def set_each() -> None:
            for key in keys:
                store.set(key, value)

        def get_each() -> None:
            for key in keys:
                store.get(key)

        def set_batches() -> None:
            for chunk in chunks:
                store.set_many(dict.fromkeys(chunk, value))

        def get_batches() -> None:
            for chunk in chunks:
                store.get_many(chunk)

        try:
            timed("set", set_each)
            timed("get", get_each)
            timed("set_many", set_batches)
            timed("get_many", get_batches)
        finally:
            store.clear(prefix)
    table = Table("operation", "ops/s", title=f"{number} keys, batches of {batch}")
    for name, rate in results:
        table.add_row(name, f"{rate:,.0f}")
    _console().print(table)


# == demo ============================================================================================
@cli.command()
@url_option
def demo(url: str) -> None:
    """The main job in one go: write KV pairs and records, read them back, filter, print a summary."""
    from dataclasses import dataclass as record_dataclass

    from .records import Record

    @record_dataclass
    class Book(Record):
        __schema_name__ = "demo-books"
        __record_key__ = "isbn"
        isbn: str
        title: str
        author: str
        year: int

    books = [
        Book("9780141439518", "Pride and Prejudice", "Jane Austen", 1813),
        Book("9780451524935", "Nineteen Eighty-Four", "George Orwell", 1949),
        Book("9780061120084", "To Kill a Mockingbird", "Harper Lee", 1960),
        Book("9780544003415", "The Lord of the Rings", "J. R. R. Tolkien", 1954),
        Book("9780140449136", "Crime and Punishment", "Fyodor Dostoevsky", 1866),
    ]
    with _open(url) as store:
        store.set_many({"demo:greeting": "hello from polykv", "demo:config": {"theme": "dark", "retries": 3}})
        store.set("demo:visits", store.get("demo:visits", 0) + 1)
        for book in books:
            store.save(book)
        greeting = store["demo:greeting"]
        config = store.get("demo:config")
        first = store.get_record("demo-books", Book, books[0].isbn)
        modern = store.filter_record("demo-books", Book, year__gte=1900)
        by_orwell = store.filter_record("demo-books", Book, author__contains="Orwell")
        click.echo(f"store      : {store!r}")
        click.echo(f"kv pairs   : {store.count(prefix='demo:')} under 'demo:': greeting={greeting!r}, config={config}")
        click.echo(f"visits     : {store['demo:visits']} (run the demo again to count up)")
        click.echo(f"records    : {store.count('demo-books')} books in schema 'demo-books'")
        click.echo(f"read back  : {first.title} by {first.author} ({first.year})")
        titles = ", ".join(sorted(b.title for b in modern))
        click.echo(f"filter     : year >= 1900 -> {len(modern)} books: {titles}")
        click.echo(f"filter     : author contains 'Orwell' -> {[b.title for b in by_orwell]}")
        click.echo(f"schemas    : {store.list_schemas()}")
