"""PostgreSQL-specific behaviour: URLs and secrets, layout, pushed-down filters and their indexes, hostile
field names and values, literal prefixes, TTL sweeping, the change feed's durability across store objects."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest
from polykv_postgres.store import PostgresStore
from polykv_postgres.testing import PostgresServer

import polykv
from polykv import ops
from polykv.backends.memory import MemoryStore
from polykv.changes import ChangeOp
from polykv.errors import FilterError, InvalidArgumentError, InvalidURLError

SECRET = "s3cr3t-Pa55"


@dataclasses.dataclass
class Item:
    __indexes__: ClassVar[tuple[str, ...]] = ("color",)
    id: str
    color: str | None
    n: Any


@pytest.fixture
def store(make_store: Callable[..., PostgresStore]) -> PostgresStore:
    return make_store()


def raw(pg_server: PostgresServer) -> psycopg.Connection[Any]:
    return psycopg.connect(pg_server.url, autocommit=True)


# -- URLs and credentials ------------------------------------------------------------------------------
def test_connect_by_url_both_schemes(pg_server: PostgresServer, table: str) -> None:
    for scheme in ("postgresql", "postgres"):
        url = f"{scheme}://postgres@127.0.0.1:{pg_server.port}/postgres?table={table}&connection_mode=single"
        with polykv.connect(url) as store:
            assert isinstance(store, PostgresStore)
            store.set("k", scheme)
            assert store.get("k") == scheme
            assert store.connection_mode.value == "single"
    PostgresStore(port=pg_server.port, username="postgres", table=table).drop_tables()


def test_password_never_shows(pg_server: PostgresServer, table: str) -> None:
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{pg_server.port}/postgres?table={table}&timeout=2"
    store = PostgresStore.from_url(url)
    try:
        assert SECRET not in repr(store) and SECRET not in repr(store.manager)
        store.set("k", 1)  # trust authentication: the password is not checked, but it is sent
    finally:
        store.drop_tables()
        store.close()
    with pytest.raises(InvalidURLError) as info:
        PostgresStore.from_url(f"postgresql://u:{SECRET}@127.0.0.1:1/db?password={SECRET}&nope=1")
    assert SECRET not in str(info.value)
    assert SECRET not in polykv.urls.redact_url(f"postgresql://u:{SECRET}@h/db?password={SECRET}")


def test_refused_login_names_the_cause_at_once(pg_server: PostgresServer) -> None:
    store = PostgresStore(port=pg_server.port, username="no_such_role", password=SECRET)
    with pytest.raises(polykv.errors.BackendUnavailableError, match="no_such_role") as info:
        store.get("k")
    assert SECRET not in str(info.value)
    store.close()


def test_unreachable_server_error_hides_password() -> None:
    store = PostgresStore(port=1, password=SECRET, connect_timeout=1, timeout=2)
    with pytest.raises(polykv.errors.BackendUnavailableError) as info:
        store.get("k")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    store.close()


def test_bad_table_name_is_refused_before_connecting() -> None:
    with pytest.raises(InvalidArgumentError, match="table"):
        PostgresStore(table='x"; DROP TABLE y; --')


# -- layout --------------------------------------------------------------------------------------------
def test_tables_carry_a_schema_version_and_records_are_jsonb(store: PostgresStore, pg_server: PostgresServer) -> None:
    store.insert_record("items", "1", Item("1", "red", 3))
    with raw(pg_server) as con:
        version = con.execute(f'SELECT value FROM "{store.layout.table}_meta" WHERE name = %s', ("schema_version",))
        assert version.fetchone() == ("1",)
        doc = con.execute(f'SELECT doc, pg_typeof(doc)::text FROM "{store.layout.table}" WHERE ns = %s', ("items",))
        assert doc.fetchone() == ({"id": "1", "color": "red", "n": 3}, "jsonb")


def test_values_jsonb_cannot_hold_still_round_trip(store: PostgresStore) -> None:
    record = {"id": "x", "text": "nul\x00inside", "big": 1.5e300, "n": 10**30}
    store.insert_record("odd", "x", record)
    assert store.get_record("odd", dict, "x") == record
    assert store.filter_record("odd", dict, text="nul\x00inside") == [record]  # found by the Python check
    assert store.filter_record("odd", dict, n=10**30) == [record]


def test_prefix_is_literal_and_a_range_scan(store: PostgresStore, pg_server: PostgresServer) -> None:
    keys = ["a%b", "a_b", "a\\b", "axb", "a%", "ab", "a\x00b", "a\x01b", "a\x01", "a"]
    store.set_many({k: k for k in keys})
    for prefix in ["a%", "a_", "a\\", "a\x00", "a\x01", "a"]:
        assert sorted(store.keys_by_prefix(prefix)) == sorted(k for k in keys if k.startswith(prefix))
        assert store.count(prefix=prefix) == sum(1 for k in keys if k.startswith(prefix))
    assert list(store.keys_by_prefix("")) == sorted(keys)  # code-point order
    statement = store.layout.scan_keys[(True, True)]  # the store's own first-page range statement
    with raw(pg_server) as con:
        plan = "\n".join(r[0] for r in con.execute("EXPLAIN " + statement, ("", "a%", "a&", 500)))
    assert "Index" in plan and "Seq Scan" not in plan, plan


# -- filters -------------------------------------------------------------------------------------------
def test_indexed_filter_reads_only_matching_rows(store: PostgresStore) -> None:
    colors = ["red", "green", "blue", "black", "white"]
    for i in range(5000):
        store.upsert_record("items", str(i), Item(str(i), colors[i % 5] if i % 500 else "rare", i))
    with store.manager.connection() as pool, pool.connection() as con:
        con.execute(f'ANALYZE "{store.layout.table}"')
    found = store.filter_record("items", Item, color="rare")
    assert sorted(int(i.id) for i in found) == list(range(0, 5000, 500))
    plan = store.explain_filter("items", Item, color="rare")
    assert "_ix_color_" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "rows=10 " in plan, plan  # the index scan returns the 10 matches, nothing else


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"n": 1}, ["int1", "float1", "true"]),
        ({"n": True}, ["int1", "float1", "true"]),
        ({"n__gt": 1}, ["big", "two"]),
        ({"n__lte": 1}, ["int1", "float1", "true", "zero", "false"]),
        ({"n__in": [2, "x"]}, ["two", "str"]),
        ({"n__ne": 1}, ["two", "big", "zero", "false", "str", "none", "missing", "list"]),
        ({"n__isnull": True}, ["none", "missing"]),
        ({"n__contains": 3}, None),  # 3 in 1 raises: the same FilterError as the portable filter
        ({"n__startswith": "x"}, ["str"]),
    ],
)
def test_pushed_down_filters_equal_python_semantics(
    store: PostgresStore, filters: dict[str, Any], expected: list[str] | None
) -> None:
    values: dict[str, Any] = {
        "int1": 1, "float1": 1.0, "true": True, "two": 2, "big": 2**60, "zero": 0, "false": False,
        "str": "x", "none": None, "list": [3, 4],
    }  # fmt: skip
    for key, value in values.items():
        store.insert_record("mixed", key, {"id": key, "n": value})
    store.insert_record("mixed", "missing", {"id": "missing"})
    if any(k.endswith(("gt", "lte")) for k in filters):  # a str compared with an int raises, as in Python
        store.delete_record("mixed", "str")
        store.delete_record("mixed", "list")
    memory = MemoryStore()
    if expected is None:
        with pytest.raises(FilterError):
            store.filter_record("mixed", dict, **filters)
        return
    got = sorted(r["id"] for r in store.filter_record("mixed", dict, **filters))
    assert got == sorted(expected)
    # the portable filter agrees
    for key, value in values.items():
        memory.insert_record("mixed", key, {"id": key, "n": value})
    memory.insert_record("mixed", "missing", {"id": "missing"})
    if any(k.endswith(("gt", "lte")) for k in filters):
        memory.delete_record("mixed", "str")
        memory.delete_record("mixed", "list")
    assert sorted(r["id"] for r in memory.filter_record("mixed", dict, **filters)) == got


HOSTILE_FIELDS = ["a'b", 'a"b', "x') OR 1=1 --", "%s", "%(x)s", "{}", "a\\b", "semi;colon DROP TABLE t", "ünï"]


@pytest.mark.parametrize("name", HOSTILE_FIELDS)
def test_hostile_field_names_and_values_are_bound_or_quoted(store: PostgresStore, name: str) -> None:
    hostile_value = f"v'); DROP TABLE {store.layout.table}; -- {name} %s"
    store.insert_record("h", "1", {"id": "1", name: hostile_value})
    store.insert_record("h", "2", {"id": "2", name: "other"})

    indexed = type("Indexed", (dict,), {"__indexes__": (name,)})
    assert [r["id"] for r in store.filter_record("h", indexed, **{name: hostile_value})] == ["1"]
    assert [r["id"] for r in store.filter_record("h", dict, **{f"{name}__startswith": hostile_value[:12]})] == ["1"]
    assert [r["id"] for r in store.filter_record("h", dict, **{f"{name}__contains": "DROP"})] == ["1"]
    assert [r["id"] for r in store.filter_record("h", dict, **{f"{name}__in": [hostile_value, "zzz"]})] == ["1"]
    assert store.count("h") == 2  # the table is still there


# -- TTL -----------------------------------------------------------------------------------------------
def test_expired_rows_are_invisible_at_once_and_swept_in_batches(
    store: PostgresStore, pg_server: PostgresServer
) -> None:
    store.set_many({f"k{i}": i for i in range(2500)}, ttl=60)
    store.set("keep", 1)
    with raw(pg_server) as con:  # move the deadlines into the past: expiry is the server's clock
        con.execute(
            f"UPDATE \"{store.layout.table}\" SET expires = now() - interval '1 second' WHERE expires IS NOT NULL"
        )
    assert store.get("k1") is None
    assert store.get_many(["k1", "keep"]) == {"keep": 1}
    assert store.count() == 1 and list(store.keys()) == ["keep"]
    assert "k1" not in store and store.add("k1", "new") is True
    assert store.purge_expired() == 2499
    with raw(pg_server) as con:
        assert con.execute(f'SELECT count(*) FROM "{store.layout.table}"').fetchone() == (2,)


# -- change feed across store objects ------------------------------------------------------------------
def test_feed_sees_other_stores_writes_and_survives_a_new_store_object(pg_server: PostgresServer, table: str) -> None:
    watcher = PostgresStore(port=pg_server.port, username="postgres", table=table, change_feed=True)
    writer = PostgresStore(
        port=pg_server.port, username="postgres", table=table, connection_mode="single"
    )  # no feed option
    try:
        head = watcher._change_head()
        writer.set("a", 1)
        writer.insert_record("r", "1", {"x": 1})
        with raw(pg_server) as con, con.transaction():  # a rolled-back write leaves no event
            con.execute(f"DELETE FROM \"{table}\" WHERE ns = 'r'")
            raise psycopg.Rollback
        events = list(ops.watch(watcher, since=head, follow=False))
        assert [(e.op, e.schema, e.key) for e in events] == [(ChangeOp.INSERT, None, "a"), (ChangeOp.INSERT, "r", "1")]
        again = PostgresStore(port=pg_server.port, username="postgres", table=table, change_feed=True)
        assert [e.key for e in ops.watch(again, since=events[0].cursor, follow=False)] == ["1"]
        again.close()
    finally:
        watcher.drop_tables()
        watcher.close()
        writer.close()


def test_remove_change_feed_drops_its_triggers_and_tables(pg_server: PostgresServer, table: str) -> None:
    store = PostgresStore(port=pg_server.port, username="postgres", table=table, change_feed=True)
    try:
        store.set("a", 1)
        assert store.supports("watch")
        store.remove_change_feed()
        assert not store.supports("watch")
        store.set("a", 2)  # writes go on without the triggers
        assert store.get("a") == 2
        with raw(pg_server) as con:
            assert con.execute("SELECT to_regclass(%s)", (f"{table}_changes",)).fetchone() == (None,)
            count = con.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s)", (table,))
            assert count.fetchone() == (0,)
    finally:
        store.drop_tables()
        store.close()


def test_pool_is_psycopg_pool_sized_by_the_manager(store: PostgresStore) -> None:
    import psycopg_pool

    store.set("k", 1)
    pool = store.manager.direct
    assert isinstance(pool, psycopg_pool.ConnectionPool)
    assert pool.max_size == 10
    assert store.manager.stats()["total"] >= 1
