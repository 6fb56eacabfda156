"""The ``polykv`` command line (click + rich): inspect backends, read and write stores, copy, watch, check.

Rules every command follows (docs/guide/cli.rst says the same):

* A command that opens one store takes it as ``--url`` (env ``POLYKV_URL``, default ``sqlite:///polykv.db``,
  a file in the working directory); ``copy`` opens two and takes ``SRC DST``. ``watch``, ``check`` and
  ``bench`` still accept their old positional URL. Each store opened is named on stderr
  (``polykv: store <url>``, secrets redacted) unless ``--quiet``.
* Global options (``--debug``, ``--quiet``, ``--version``) go before or after the subcommand.
* Removing what is not there succeeds (exit 0) and says so on stderr; ``--must-exist`` makes it an error.
* Exit codes: see ``EXIT_CODES``. Errors are one line on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .urls import DEFAULT_URL  # the store every command opens when --url is not given (one default)

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

    from .store import KeyValueStore

__all__ = ["DEFAULT_URL", "EXIT_CODES", "URL_ENVVAR", "cli", "main"]

#: The environment variable that replaces ``DEFAULT_URL``.
URL_ENVVAR = "POLYKV_URL"

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


@dataclass
class _State:
    debug: bool = False
    quiet: bool = False
    secrets: tuple[str, ...] = ()


def _secrets_in(*urls: str) -> tuple[str, ...]:
    """The secret values in ``urls``: userinfo passwords and credential-like query options (as ``redact_url``
    masks them), raw and percent-decoded, so that ``_scrub`` can remove them from any message."""
    from urllib.parse import parse_qsl, unquote

    from .options import is_secret_option

    found: list[str] = []
    for url in urls:
        if not isinstance(url, str) or "://" not in url:
            continue
        for match in re.finditer(r"://[^/@:?#\s]*:([^/?#\s]*)@", url):
            found += [match.group(1), unquote(match.group(1))]
        for query in re.findall(r"\?([^#\s]*)", url):
            for piece in re.split(r"[&;]", query):
                name, sep, value = piece.partition("=")
                if sep and value and is_secret_option(unquote(name)):
                    found.append(value)
            for name, value in parse_qsl(query, keep_blank_values=False):
                if is_secret_option(name):
                    found.append(value)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    from .urls import redact_url  # noqa: F401 - messages from polykv are redacted already; scrub the rest

    for secret in secrets:
        text = text.replace(secret, "***")
    return " ".join(text.split())  # one line


def _set_global(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Callback of a global flag: set it in the shared state (given before or after the subcommand)."""
    if value and not ctx.resilient_parsing:
        state = ctx.find_object(_State)
        if state is None:
            state = ctx.ensure_object(_State)
        setattr(state, str(param.name), True)


def _global_options() -> list[click.Parameter]:
    """Fresh ``--debug`` and ``--quiet`` options (each command needs its own objects)."""
    return [
        click.Option(
            ["--debug"],
            is_flag=True,
            expose_value=False,
            callback=_set_global,
            help="Show the traceback after the one-line error (global: before or after the subcommand).",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_set_global,
            help="Do not name the store(s) opened on stderr (global: before or after the subcommand).",
        ),
    ]


def _exit_code(exc: BaseException) -> int:
    from .errors import KeyNotFoundError, RecordNotFoundError

    return EXIT_NOT_FOUND if isinstance(exc, (KeyNotFoundError, RecordNotFoundError)) else EXIT_ERROR


class _Group(click.Group):
    """Adds the global options to every subcommand; turns every non-click exception into one line on
    stderr and the exit code of ``EXIT_CODES`` (with ``--debug``: the traceback first, same exit code)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        names = {n for p in cmd.params for n in getattr(p, "opts", [])}
        cmd.params.extend(p for p in _global_options() if not names & set(getattr(p, "opts", [])))
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
        secrets = _secrets_in(*(sys.argv[1:] if args is None else args))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            message = _scrub(exc.format_message(), secrets)
            click.echo(f"polykv: error: usage: {message}{where}", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"polykv: error: {_scrub(exc.format_message(), secrets)}", err=True)
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
            state = ctx.find_object(_State) or _State()
            args = [a for a in sys.argv[1:] + ctx.args if isinstance(a, str)]
            secrets = state.secrets + _secrets_in(*args)
            if state.debug:
                import traceback

                for line in traceback.format_exc().rstrip().splitlines():
                    indent = line[: len(line) - len(line.lstrip())]
                    click.echo(indent + _scrub(line, secrets), err=True)
            click.echo(f"polykv: error: {_scrub(f'{type(exc).__name__}: {exc}', secrets)}", err=True)
            ctx.exit(_exit_code(exc))


_EPILOG = "Exit codes: " + "; ".join(f"{code} {text.split(':')[0]}" for code, text in EXIT_CODES.items()) + "."


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.option("--debug", is_flag=True, callback=_set_global, expose_value=False, help=_global_options()[0].help)
@click.option("-q", "--quiet", is_flag=True, callback=_set_global, expose_value=False, help=_global_options()[1].help)
@click.version_option(package_name="polykv-core", prog_name="polykv")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """polykv: one API for key-value and record storage over pluggable backends.

    Commands that open one store take --url (env POLYKV_URL, default sqlite:///polykv.db) and name it on
    stderr; global options go before or after the subcommand.
    """
    ctx.ensure_object(_State)


def main() -> None:
    """Entry point of the ``polykv`` script."""
    cli(prog_name="polykv")


# == helpers ==========================================================================================
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


def _resolve_url(url: str, legacy_url: str | None) -> str:
    """The URL to open: --url (or POLYKV_URL, or the default), or the old positional URL if given."""
    if legacy_url is None:
        return url
    ctx = click.get_current_context()
    if ctx.get_parameter_source("url") is click.core.ParameterSource.COMMANDLINE and url != legacy_url:
        raise click.UsageError("give the store once: --url URL or the positional URL, not two different ones")
    return legacy_url


def prefix_argument(default_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """PREFIX as an optional positional argument, with ``--prefix`` as its synonym (see ``_resolve_prefix``)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.argument("prefix", required=False, default=None)(f)
        help_text = f"Same as the PREFIX argument (default: {default_help})."
        return click.option("--prefix", "prefix_option", default=None, help=help_text)(f)

    return decorate


def _resolve_prefix(prefix: str | None, prefix_option: str | None) -> str | None:
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


def _note(message: str) -> None:
    """A line about what happened (not the output) on stderr, secrets scrubbed."""
    state = click.get_current_context().find_object(_State) or _State()
    click.echo(f"polykv: {_scrub(message, state.secrets)}", err=True)


@contextmanager
def _open(url: str, role: str = "") -> Iterator[KeyValueStore]:
    """Open the store at ``url``, name it on stderr (``polykv: store <url> (role)``), close it afterwards."""
    from .urls import connect, redact_url

    ctx = click.get_current_context()
    state = ctx.find_object(_State)
    if state is None:
        state = ctx.ensure_object(_State)
    state.secrets += _secrets_in(url)
    store = connect(url)
    try:
        if not state.quiet:
            _note(f"store {redact_url(url)}" + (f" ({role})" if role else ""))
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
            except Exception as exc:  # exactly what registry[name] raises when it looks the name up
                note = f"cannot load: {_scrub(f'{type(exc).__name__}: {exc}', ())}"
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
@click.option("--ttl", type=float, default=None, help="Expire after this many seconds (default: never).")
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
@must_exist_option
def rm(key: str, url: str, schema: str | None, must_exist: bool) -> None:
    """Delete KEY (or the record KEY in --schema). A missing one is not an error (as store.delete)."""
    from .errors import KeyNotFoundError, RecordNotFoundError

    with _open(url) as store:
        existed = store.delete(key) if schema is None else store.delete_record(schema, key)
        if existed:
            return
        if must_exist:
            if schema is None:
                raise KeyNotFoundError("no such key", backend=store.backend_name, key=key)
            raise RecordNotFoundError("no record with this key", backend=store.backend_name, schema=schema, key=key)
        _note(f"nothing to remove: no key {key!r}" + ("" if schema is None else f" in schema {schema!r}"))


@cli.command()
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
    from .errors import KeyNotFoundError, RecordNotFoundError

    prefix = _resolve_prefix(prefix, prefix_option)
    if everything == (prefix is not None):
        raise click.UsageError("give a PREFIX or --all (one of them)")
    prefix = prefix or ""
    with _open(url) as store:
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
        _note(f"nothing to remove: no key {what}{where}")


@cli.command()
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

    prefix = _resolve_prefix(prefix, prefix_option) or ""
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
@click.option("--prefix", default="", help="Count only the keys starting with it (literal; default: all).")
def count(url: str, schema: str | None, prefix: str) -> None:
    """Print how many KV keys (or records of --schema) the store holds."""
    with _open(url) as store:
        if schema is None:
            click.echo(store.count(prefix=prefix))
        elif prefix:
            click.echo(sum(1 for _ in store.record_keys(schema, prefix)))
        else:
            click.echo(store.count(schema))


# == copy ============================================================================================
def _default_checkpoint(src: str, dst: str, prefix: str, schemas: tuple[str, ...]) -> Path:
    from .urls import redact_url

    digest = hashlib.sha256(json.dumps([redact_url(src), redact_url(dst), prefix, schemas]).encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polykv"
    return cache / f"copy-{digest[:16]}.json"


@cli.command()
@click.argument("src")
@click.argument("dst")
@click.option("--prefix", default="", help="Copy only keys starting with it, in every namespace (default: all).")
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    help="Copy only this schema ('' for the KV pairs); repeatable (default: the KV pairs and every schema).",
)
@click.option("--overwrite", is_flag=True, help="Replace keys that exist in DST (default: leave them).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=1000, show_default=True, help="Items read and written at once."
)
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
    """Copy every item of the store at URL SRC into the store at URL DST with a progress bar; re-running
    after an interruption resumes."""
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
    with _open(src, "source") as source, _open(dst, "destination") as target:
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
            if progress.live.is_started:
                progress.stop()
    click.echo(
        f"copied {result.copied}, skipped {result.skipped} (present in destination), resumed past {result.resumed}"
    )


# == watch ===========================================================================================
@cli.command()
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
    from . import ops

    url = _resolve_url(url, legacy_url)
    from .changes import ChangeOp

    if kv and schema not in (None, ""):
        raise click.UsageError("--kv means --schema ''; give one of them")
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
@legacy_url_argument
@url_option
def check(legacy_url: str | None, url: str) -> None:
    """Run the conformance checks that are safe on live data (random reserved keys, cleaned up); exit 4 if
    one fails.

    The positional URL is the old spelling of --url, still accepted.
    """
    from rich.table import Table

    url = _resolve_url(url, legacy_url)
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
        click.get_current_context().exit(EXIT_CHECK_FAILED)


# == bench ===========================================================================================
@cli.command()
@legacy_url_argument
@url_option
@click.option("-n", "--number", type=click.IntRange(min=10), default=2000, show_default=True, help="Keys to write.")
@click.option("--batch", type=click.IntRange(min=1), default=100, show_default=True, help="Keys per get_many/set_many.")
def bench(legacy_url: str | None, url: str, number: int, batch: int) -> None:
    """Print ops/s for get, set, get_many and set_many (on random reserved keys, removed afterwards).

    The positional URL is the old spelling of --url, still accepted.
    """
    from rich.table import Table

    url = _resolve_url(url, legacy_url)
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
