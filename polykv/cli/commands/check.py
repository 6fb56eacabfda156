"""``polykv check``: the conformance checks that are safe on live data; exit 4 if one fails."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ..context import opened
from ..exits import EXIT_CHECK_FAILED
from ..output import console
from ..params import legacy_url_argument, resolve_url, url_option

if TYPE_CHECKING:
    from ...store import KeyValueStore

__all__ = ["CheckFailed", "check"]


class CheckFailed(Exception):
    """A conformance check did not hold."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _checks(store: KeyValueStore, prefix: str, schema: str) -> list[tuple[str, Callable[[], None]]]:
    """Checks that touch only keys under ``prefix`` and the schema ``schema`` (both random and new)."""
    from ...capabilities import Capability
    from ...errors import KeyNotFoundError, RecordExistsError, RecordNotFoundError

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


@click.command()
@legacy_url_argument
@url_option
def check(legacy_url: str | None, url: str) -> None:
    """Run the conformance checks that are safe on live data (random reserved keys, cleaned up); exit 4 if
    one fails.

    The positional URL is the old spelling of --url, still accepted.
    """
    from rich.table import Table

    url = resolve_url(url, legacy_url)
    token = uuid.uuid4().hex[:12]
    prefix = f"__polykv_check_{token}__/"
    schema = f"polykv-check-{token}"
    failures = 0
    table = Table("check", "result")
    with opened(url) as store:
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
    console().print(table)
    if failures:
        click.echo(f"polykv: error: {failures} check(s) failed", err=True)
        click.get_current_context().exit(EXIT_CHECK_FAILED)
