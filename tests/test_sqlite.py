"""The sqlite store: the conformance suite (file and in-memory) plus what is particular to it."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import polykv
from polykv import ops
from polykv.backends import sqlite as sqlite_backend
from polykv.backends.sqlite import SQLiteStore, index_name, prefix_successor
from polykv.backends.sqlite_sql import table_names
from polykv.capabilities import Capability
from polykv.changes import BEGINNING, Change, ChangeOp, CursorExpiredError
from polykv.errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    InvalidURLError,
    NotSupportedError,
)
from polykv.records import Record
from polykv.testing import StoreSuite


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within the deadline")
        time.sleep(0.01)


class TestSQLiteFileConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "suite.db")
        yield store
        store.close()

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'suite.db'}"


class TestSQLiteChangeLogConformance(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "suite.db", change_log=True)
        yield store
        store.close()


class TestSQLiteMemoryConformance(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[SQLiteStore]:
        store = SQLiteStore(":memory:")
        yield store
        store.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "t.db")
    yield store
    store.close()


@dataclasses.dataclass
class Person(Record):
    __schema_name__ = "people"
    __indexes__ = ("email", "age")
    id: str
    email: str
    age: int
    city: str = "x"


def plan(store: SQLiteStore, sql: str, args: tuple[Any, ...]) -> str:
    """The query plan of ``sql``, prepared afresh (an EXPLAIN statement cached from before a schema change
    keeps its old plan: it reads no table, so SQLite never sees the change)."""
    rows = store._con().execute(f"EXPLAIN QUERY PLAN {sql} -- {time.monotonic_ns()}", args).fetchall()
    return " | ".join(row[-1] for row in rows)


# == persistence and settings =======================================================================
def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "persist.db"
    with SQLiteStore(path) as store:
        store.set("k", {"v": [1, 2]})
        store.insert_record("people", "p1", Person("p1", "a@x", 30))
        store.set("short", 1, ttl=60)
    with SQLiteStore(path) as again:
        assert again.get("k") == {"v": [1, 2]}
        assert again.get_record("people", Person, "p1") == Person("p1", "a@x", 30)
        left = again.ttl("short")
        assert left is not None and 0 < left <= 60


def test_file_is_in_wal_mode_with_chosen_synchronous(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db", synchronous="full")
    try:
        con = store._con()
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.synchronous == "FULL"
    finally:
        store.close()
    raw = sqlite3.connect(tmp_path / "w.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    raw.close()


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"synchronous": "SOMETIMES"}, "synchronous"), ({"timeout": -1}, "timeout"), ({"timeout": "x"}, "timeout")],
)
def test_bad_settings_rejected(tmp_path: Path, kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(InvalidArgumentError, match=word):
        SQLiteStore(tmp_path / "s.db", **kwargs)


def test_missing_folder_names_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "no" / "such" / "x.db"
    with pytest.raises(InvalidArgumentError) as info:
        SQLiteStore(bad)
    assert str(bad) in str(info.value) and info.value.backend == "sqlite"
    assert not bad.parent.exists()


def test_folder_as_path_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="folder"):
        SQLiteStore(tmp_path)


def test_not_a_database_names_the_path(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 400)
    with pytest.raises(InvalidArgumentError) as info:
        SQLiteStore(junk)
    assert str(junk) in str(info.value)
    assert junk.read_bytes() == b"this is not sqlite" * 400  # nothing stored is lost


def test_read_only_database_gives_read_only_error(db: SQLiteStore) -> None:
    db.set("k", 1)
    db._con().execute("PRAGMA query_only = ON")  # what a read-only file or mount does to writes
    with pytest.raises(polykv.ReadOnlyError) as info:
        db.set("k", 2)
    assert info.value.key == "k" and "t.db" in str(info.value)
    assert db.get("k") == 1


def test_close_releases_connections_and_store_reopens(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    store.set("k", 1)
    threads = [threading.Thread(target=store.get, args=("k",)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = [con for _owner, con in store._connections]
    assert len(opened) >= 1
    store.close()
    for con in opened:
        with pytest.raises(sqlite3.ProgrammingError):
            con.execute("SELECT 1")
    assert store._connections == []
    assert store.get("k") == 1  # reopened on use
    store.close()


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "th.db")
    try:
        for _ in range(5):
            t = threading.Thread(target=store.set, args=("k", 1))
            t.start()
            t.join()
        assert len(store._connections) <= 2  # this thread's and the last finished thread's
    finally:
        store.close()


def test_memory_store_is_private_and_shared_by_threads() -> None:
    a, b = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    try:
        a.set("k", 1)
        assert b.get("k") is None
        seen: list[Any] = []
        t = threading.Thread(target=lambda: seen.append(a.get("k")))
        t.start()
        t.join()
        assert seen == [1]
    finally:
        a.close()
        b.close()


def test_repr_names_path_not_more(tmp_path: Path, db: SQLiteStore) -> None:
    assert "t.db" in repr(db) and "NORMAL" in repr(db)


# == URLs ==========================================================================================
def test_url_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = polykv.connect("sqlite:///rel.db")
    try:
        assert isinstance(store, SQLiteStore) and store.path == "rel.db"
        store.set("k", 1)
        assert (tmp_path / "rel.db").exists()
    finally:
        store.close()


def test_url_absolute_path_and_parameters(tmp_path: Path) -> None:
    path = tmp_path / "abs dir" / "a.db"
    path.parent.mkdir()
    url = "sqlite:///" + str(path).replace(" ", "%20") + "?synchronous=full&timeout=2.5&codec=msgpack"
    pytest.importorskip("msgpack")
    store = polykv.connect(url)
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(path) and store.synchronous == "FULL" and store.timeout == 2.5
        assert store.codec.name == "msgpack"
    finally:
        store.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_url_memory(url: str) -> None:
    store = polykv.connect(url)
    try:
        assert isinstance(store, SQLiteStore) and store.in_memory
    finally:
        store.close()


def test_url_keywords_override_query(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/k.db?synchronous=FULL", synchronous="OFF")
    try:
        assert store.synchronous == "OFF"
    finally:
        store.close()


@pytest.mark.parametrize(
    "url", ["sqlite://somehost/x.db", "sqlite:///x.db?color=red", "sqlite:///x.db?timeout=soon", "memory://"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidURLError):
        SQLiteStore.from_url(url)


def test_registry_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    registry = polykv.BackendRegistry()
    try:
        store = registry["sqlite"]
        assert isinstance(store, SQLiteStore) and store.path == sqlite_backend.DEFAULT_PATH
    finally:
        registry.close()


# == prefixes and query plans ========================================================================
@pytest.mark.parametrize(
    ("prefix", "successor"),
    [
        ("", None),
        ("a", "b"),
        ("ab", "ac"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff\U0010ffff", None),
        ("a\ud7ff", "a\ue000"),
        ("\x00", "\x01"),
    ],
)
def test_prefix_successor(prefix: str, successor: str | None) -> None:
    assert prefix_successor(prefix) == successor


def test_prefix_scans_at_the_top_of_unicode(db: SQLiteStore) -> None:
    keys = ["a", "a\U0010ffff", "a\U0010ffffz", "a\U0010ffff\U0010ffff", "b", "\U0010ffff", "\ud7ff", "\ue000x"]
    for k in keys:
        db.set(k, 1)
    for prefix in ["", "a", "a\U0010ffff", "a\U0010ffff\U0010ffff", "\U0010ffff", "\ud7ff", "\ue000", "b"]:
        expected = sorted(k for k in keys if k.startswith(prefix))
        assert list(db.keys_by_prefix(prefix)) == expected, prefix
        assert db.count(prefix=prefix) == len(expected)
    assert list(db.keys_by_prefix("\ud800")) == [] and db.count(prefix="\ud800") == 0 and db.clear("\ud800") == 0


def test_like_and_glob_characters_are_literal(db: SQLiteStore) -> None:
    keys = ["a%b", "a_b", "axb", "a*b", "a[b", "A%B"]
    for k in keys:
        db.set(k, k)
    assert list(db.keys_by_prefix("a%")) == ["a%b"]
    assert list(db.keys_by_prefix("a_")) == ["a_b"]
    assert list(db.keys_by_prefix("a*")) == ["a*b"]
    assert list(db.keys_by_prefix("a[")) == ["a[b"]
    assert db.clear("a_") == 1 and "axb" in db


def test_keys_with_nul_characters(db: SQLiteStore) -> None:
    db.set("a\x00b", 1)
    db.set("a", 2)
    assert db.get("a\x00b") == 1
    assert list(db.keys_by_prefix("a\x00")) == ["a\x00b"]


def test_point_and_prefix_queries_use_the_key_index(db: SQLiteStore) -> None:
    """Layout 2: every read of the KV namespace is a search of polykv_kv's unique key index, whether or not the
    namespace is in TTL mode (then the view adds one probe of the TTL table's primary key per row)."""
    sql = db._sql("")
    statements = [
        (sql.scan_keys[(True, True)], ("a", "b", 10)),
        (sql.scan_keys[(False, False)], ("a", 10)),
        (sql.scan_items[(True, True)], ("a", "b", 10)),
        (sql.count_range[True], ("a", "b")),
        (sql.clear_live[True], ("a", "b")),
        (sql.get_many(4), ("a", "b", "c", "d")),
        (sql.get, ("a",)),
        (sql.delete, ("a",)),
        (sql.live_row, ("a",)),
    ]
    for ttl_mode in (False, True):
        if ttl_mode:
            db.set("t", 1, ttl=60)
        for statement, args in statements:
            text = plan(db, statement, args)
            assert "INDEX sqlite_autoindex_polykv_kv_1 (key" in text, (statement, text)
            assert "SCAN" not in text.replace("SEARCH", ""), (statement, text)
    assert "(key>? AND key<?)" in plan(db, *statements[0])


def test_plain_reads_are_the_raw_statement_until_a_ttl_is_used(db: SQLiteStore) -> None:
    """Outside TTL mode a get plans exactly like SELECT value FROM polykv_kv WHERE key = ?, and a write fires
    no trigger; the first TTL switches the namespace's views and triggers, and a sweep that finds no expiry
    left switches them back."""
    raw = plan(db, "SELECT value FROM polykv_kv WHERE key = ?", ("a",))
    assert plan(db, db._sql("").get, ("a",)) == raw
    assert "polykv_kv_ttl" not in plan(db, db._sql("").count_all, ())
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'polykv_kv' ORDER BY name"
    assert db._con().execute(triggers).fetchall() == [("polykv_kv_del",)]
    db.set("t", 1, ttl=0.05)
    assert "SEARCH x USING PRIMARY KEY (key=?)" in plan(db, db._sql("").get, ("a",))  # x: the TTL table
    assert db._con().execute(triggers).fetchall() == [("polykv_kv_del",), ("polykv_kv_upd",)]
    wait_for(lambda: db.get("t") is None)
    assert db.purge_expired() == 1
    assert plan(db, db._sql("").get, ("a",)) == raw
    assert db._con().execute(triggers).fetchall() == [("polykv_kv_del",)]


def test_scan_streams_in_pages(db: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_backend, "_PAGE", 7)
    db.set_many({f"k{i:03}": i for i in range(50)})
    keys = db.keys_by_prefix("k")
    first = [next(keys) for _ in range(3)]
    db.set("k000a", "added after the first page was read")  # a later page sees writes made meanwhile
    rest = list(keys)
    assert first == ["k000", "k001", "k002"]
    assert len(first + rest) == 50  # k000a sorts before the resume point: not seen, nothing repeated
    assert sorted(first + rest) == first + rest
    assert dict(db.fetch_by_prefix("k04")) == {f"k04{i}": 40 + i for i in range(10)}


def test_get_many_beyond_one_chunk(db: SQLiteStore) -> None:
    data = {f"k{i}": i for i in range(1300)}
    db.set_many(data)
    wanted = [*data, "missing", "k5", "k5"]
    assert db.get_many(wanted) == data


# == TTL ============================================================================================
def test_expired_rows_are_invisible_everywhere_and_purged(db: SQLiteStore) -> None:
    db.set("gone", 1, ttl=0.05)
    db.set("kept", 2)
    db.insert_record("people", "p", Person("p", "e@x", 1), ttl=0.05)
    wait_for(lambda: db.get("gone") is None)
    wait_for(lambda: not db.exists("people", "p"))
    assert "gone" not in db and list(db.keys()) == ["kept"] and db.count() == 1 and len(db) == 1
    assert dict(db.fetch_by_prefix("")) == {"kept": 2} and db.get_many(["gone", "kept"]) == {"kept": 2}
    assert db.list_schemas() == [] and db.count("people") == 0
    assert db.filter_record("people", Person, email="e@x") == []
    assert db.delete("gone") is False
    with pytest.raises(polykv.KeyNotFoundError):
        db.ttl("gone")
    # an expired key counts as absent for add and update, and the write replaces it
    assert db.add("gone", 3) is True and db.get("gone") == 3 and db.ttl("gone") is None
    db.insert_record("people", "p", Person("p", "new@x", 2))
    assert db.get_record("people", Person, "p").email == "new@x"
    db.set("later", 1, ttl=0.05)
    wait_for(lambda: db.get("later") is None)
    rows = db._con().execute("SELECT count(*) FROM polykv_kv WHERE key = 'later'").fetchone()[0]
    assert rows == 1  # reads never write: the expired row waits for the sweep
    db.set_many({"x1": 1, "x2": 2}, ttl=0.05)
    wait_for(lambda: db.count(prefix="x") == 0)
    assert db.count() == 2 and db.count(prefix="") == 2  # the count view leaves the expired rows out too
    assert db.purge_expired() == 3
    assert db._con().execute("SELECT count(*) FROM polykv_kv").fetchone()[0] == 2


def test_expiry_is_seen_by_other_processes_and_connections(tmp_path: Path) -> None:
    path = tmp_path / "ttl.db"
    with SQLiteStore(path) as a, SQLiteStore(path) as b:
        a.set("k", 1, ttl=0.1)
        assert b.get("k") == 1
        wait_for(lambda: b.get("k") is None)


def test_compare_and_set_and_incr_keep_the_expiry(db: SQLiteStore) -> None:
    db.set("c", 1, ttl=60)
    assert db.compare_and_set("c", 1, 2) and db.incr("c", 5) == 7
    left = db.ttl("c")
    assert left is not None and 59 < left <= 60


def test_incr_refuses_non_integers(db: SQLiteStore) -> None:
    db.set("s", "text")
    with pytest.raises(InvalidArgumentError, match="str"):
        db.incr("s")
    assert db.get("s") == "text"
    assert not db._con().in_transaction


# == indexes =========================================================================================
@pytest.fixture
def people(db: SQLiteStore) -> SQLiteStore:
    for i in range(300):
        db.insert_record("people", f"p{i:03}", Person(f"p{i:03}", f"u{i % 30}@x", i % 50, "c" if i % 2 else "d"))
    db.set("kv", {"email": "u1@x"})  # KV values never show up in record filters
    return db


def traced(store: SQLiteStore, action: Callable[[], object]) -> list[str]:
    """The statements (with their parameters expanded) that ``action`` runs on this thread's connection."""
    statements: list[str] = []
    con = store._con()
    con.set_trace_callback(statements.append)
    try:
        action()
    finally:
        con.set_trace_callback(None)
    return statements


def test_indexed_equality_uses_an_expression_index(people: SQLiteStore) -> None:
    found: list[Person] = []
    statements = traced(people, lambda: found.extend(people.filter_record("people", Person, email="u7@x", city="c")))
    assert [p.id for p in found] == sorted(f"p{i:03}" for i in range(300) if i % 30 == 7 and i % 2)
    name = index_name("people", "email")
    listed = people._con().execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    assert (name,) in listed
    (query,) = [s for s in statements if s.startswith("SELECT")]
    text = plan(people, query, ())
    assert f"USING INDEX {name}" in text and "SCAN" not in text.replace("SEARCH", ""), text
    assert name == "polykv_r_people_ix_email"  # on the schema's own table


def test_indexed_filter_reads_only_matching_rows(people: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []
    original = people._decode

    def counting(data: bytes, ns: str, key: str) -> Any:
        decoded.append(data)
        return original(data, ns, key)

    monkeypatch.setattr(people, "_decode", counting)
    assert len(people.filter_record("people", Person, age=7)) == 6
    assert len(decoded) == 6
    decoded.clear()
    assert len(people.filter_record("people", Person, age__in=[7, 8], email__startswith="u")) == 12
    assert len(decoded) == 12
    decoded.clear()
    assert len(people.filter_record("people", Person, city="c", age__gt=45)) == 12  # not indexed: a scan
    assert len(decoded) == 300


@pytest.mark.parametrize(
    "filters",
    [
        {"age": 7},
        {"age": 7.0},
        {"age": True},
        {"email": "u3@x", "age__gte": 10},
        {"age__in": [1, 2, 49]},
        {"email": "nobody"},
        {"email__in": ["u1@x", 5]},
    ],
)
def test_indexed_filters_match_the_scan(people: SQLiteStore, filters: dict[str, Any]) -> None:
    @dataclasses.dataclass
    class Unindexed(Record):
        id: str
        email: str
        age: int
        city: str = "x"

    indexed = [p.id for p in people.filter_record("people", Person, **filters)]
    scanned = [p.id for p in people.filter_record("people", Unindexed, **filters)]
    assert indexed == scanned


def test_rows_that_are_not_json_do_not_break_indexed_writes(db: SQLiteStore) -> None:
    db.insert_record("people", "a", Person("a", "a@x", 1))
    assert db.filter_record("people", Person, email="a@x")  # creates the index
    db.codec = polykv.get_codec("bytes")
    db._set("people", "raw", b"\xff not json", None)  # written by a store with another codec
    db.codec = polykv.get_codec("json")
    assert [p.id for p in db.filter_record("people", Person, email="a@x")] == ["a"]


def test_other_codecs_fall_back_to_the_scan(tmp_path: Path) -> None:
    pytest.importorskip("msgpack")
    with SQLiteStore(tmp_path / "m.db", codec="msgpack") as store:
        store.insert_record("people", "a", Person("a", "a@x", 1))
        assert [p.id for p in store.filter_record("people", Person, email="a@x")] == ["a"]
        indexes = store._con().execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
        assert [name for (name,) in indexes if "_ix_" in name] == []


def test_index_names_are_sanitised_and_distinct() -> None:
    a, b = index_name("a.b", "f"), index_name("a_b", "f")
    assert a != b
    for name in (a, b):
        assert name.replace("_", "").isalnum()


def test_drop_schema_drops_its_tables_and_keeps_the_rest(people: SQLiteStore) -> None:
    people.insert_record("other", "o", {"id": "o"})
    assert people.filter_record("people", Person, email="u1@x")  # the index exists
    people.drop_schema("people")
    assert people.list_schemas() == ["other"] and people.count("people") == 0 and people.get("kv")
    names = {row[0] for row in people._con().execute("SELECT name FROM sqlite_master")}
    assert not {n for n in names if n.startswith("polykv_r_people")}
    assert people.filter_record("people", Person, email="u1@x") == []
    people.insert_record("people", "again", Person("again", "u1@x", 1))  # the tables come back on the next write
    assert [p.id for p in people.filter_record("people", Person, email="u1@x")] == ["again"]


def test_another_connection_dropping_a_schema_is_seen(tmp_path: Path) -> None:
    """A store that cached a schema's statements and index keeps working after another store (another
    process, as far as SQLite knows) dropped the schema's tables and wrote it again."""
    path = tmp_path / "two.db"
    with SQLiteStore(path) as a, SQLiteStore(path) as b:
        a.insert_record("people", "p1", Person("p1", "e@x", 1))
        assert len(a.filter_record("people", Person, email="e@x")) == 1  # a knows the index
        b.drop_schema("people")
        assert not a.exists("people", "p1")
        assert a.filter_record("people", Person, email="e@x") == [] and a.count("people") == 0
        b.insert_record("people", "p2", Person("p2", "e@x", 2))  # new tables, no index yet
        assert [p.id for p in a.filter_record("people", Person, email="e@x")] == ["p2"]
        b.drop_schema("people")
        a.insert_record("people", "p3", Person("p3", "e@x", 3))  # a writes to tables it must create again
        assert b.list_schemas() == ["people"] and b.count("people") == 1


# == counts, tables and TTL mode (layout 2) ============================================================
def test_count_is_exact_through_every_kind_of_write(db: SQLiteStore) -> None:
    """count() is max(id) minus the holes a trigger keeps; a model dict checks it after each write."""
    rng = random.Random(14)
    model: dict[str, int] = {}
    for step in range(600):
        choice = rng.random()
        key = f"k{rng.randrange(120):03d}"
        if choice < 0.3:
            db.set(key, step)
            model[key] = step
        elif choice < 0.45:
            batch = {f"k{rng.randrange(120):03d}": step for _ in range(rng.randrange(1, 12))}
            db.set_many(batch)
            model.update(batch)
        elif choice < 0.6:
            assert db.delete(key) == (key in model)
            model.pop(key, None)
        elif choice < 0.68:
            keys = [f"k{rng.randrange(120):03d}" for _ in range(rng.randrange(1, 8))]
            assert db.delete_many(keys) == len(set(keys) & set(model))
            for k in keys:
                model.pop(k, None)
        elif choice < 0.72:
            prefix = key[:3]
            assert db.clear(prefix) == sum(1 for k in model if k.startswith(prefix))
            model = {k: v for k, v in model.items() if not k.startswith(prefix)}
        elif choice < 0.8:
            assert db.add(key, step) == (key not in model)
            model.setdefault(key, step)
        elif choice < 0.86:
            model[key] = db.incr(key)
        elif choice < 0.9:  # the row with the highest id: its deletion lowers max(id)
            top = db._con().execute("SELECT key FROM polykv_kv ORDER BY id DESC LIMIT 1").fetchone()
            if top is not None:
                assert db.delete(top[0])
                model.pop(top[0])
        elif choice < 0.92:
            db.clear()
            model = {}
        else:
            db.set(f"t{step}", 1, ttl=60)
            model[f"t{step}"] = 1
        assert db.count() == len(model) == len(db), step
    assert dict(db.fetch_by_prefix("")) == model
    assert db.count(prefix="k0") == sum(1 for k in model if k.startswith("k0"))


def test_count_is_a_lookup_not_a_scan(db: SQLiteStore) -> None:
    db.set_many({f"k{i}": i for i in range(1000)})
    for ttl_mode in (False, True):
        if ttl_mode:
            db.set("t", 1, ttl=60)
        text = plan(db, db._sql("").count_all, ())
        assert "SCAN polykv_kv " not in text + " " and "SEARCH polykv_kv" in text, text
        if ttl_mode:  # and the expired rows are an index range of the TTL table
            assert "polykv_kv_ttl USING COVERING INDEX polykv_kv_ttl_expires (expires<?)" in text, text
    assert db.count() == 1001


def test_expired_rows_leave_the_count_before_the_sweep(db: SQLiteStore) -> None:
    db.set_many({f"k{i}": i for i in range(10)})
    db.set_many({f"t{i}": i for i in range(5)}, ttl=0.05)
    db.insert_record("people", "p", Person("p", "e@x", 1), ttl=0.05)
    assert db.count() == 15 and db.count("people") == 1
    # the record was written after the five pairs, so it may expire a little later: wait for both
    wait_for(lambda: db.count() == 10 and db.count("people") == 0)
    assert db.list_schemas() == []
    assert db.purge_expired() == 6 and db.count() == 10


@pytest.mark.parametrize(
    "names",
    [
        ("Users", "users", "USERS"),
        ("a.b", "a_b", "a-b", "a_2eb", "a_5fb"),
        ("x", "x_ttl", "x_live", "x_count", "x_ix_f"),
    ],
)
def test_table_names_never_collide(db: SQLiteStore, names: tuple[str, ...]) -> None:
    """SQLite's names ignore case, and '.' or '-' cannot appear in one unquoted: each schema gets its own
    table all the same, and no schema's table is another's TTL table, view or index."""
    tables = [table_names(ns) for ns in names]
    every = [name for t in tables for name in (t.table, t.ttl, t.live, t.count, t.index("f"))]
    assert len({name.lower() for name in every}) == len(every)
    assert all(re.fullmatch("[a-z0-9_]+", name) for name in every)
    for i, ns in enumerate(names):
        db.insert_record(ns, "r", {"i": i})
    assert [db.get_record(ns, dict, "r") for ns in names] == [{"i": i} for i in range(len(names))]
    assert db.list_schemas() == sorted(names)


def test_namespaces_that_are_sql_are_only_data(db: SQLiteStore) -> None:
    """The primitives take any namespace str (schema names are validated above them): a quote or SQL in it
    is encoded into the table name and quoted as a literal, never run; NUL is refused."""
    hostile = "x'; DROP TABLE polykv_kv; --"
    db.set("kv", 1)
    db._set(hostile, "k", b'"v"', None)
    db._set(hostile, "gone", b'"w"', 60.0)
    assert db._get(hostile, "k") == b'"v"' and db._count(hostile, "") == 2 and db.get("kv") == 1
    assert hostile in list(db._schemas())
    assert db._delete(hostile, "gone") and db._count(hostile, "") == 1
    db._drop_schema(hostile)
    assert db._count(hostile, "") == 0 and db.get("kv") == 1
    with pytest.raises(InvalidArgumentError, match="NUL"):
        db._set("a\x00b", "k", b"1", None)


# == concurrency across processes =====================================================================
def _count_up(store: SQLiteStore, n: int) -> None:
    """Runs in a forked child with the parent's store object: it must open connections of its own."""
    for i in range(n):
        store.incr("counter")
        store.set(f"w{os.getpid()}-{i}", i)
    store.close()


def _join(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """Wait for started processes; kill any that hang, and require that all exited cleanly."""
    try:
        for p in processes:
            p.join(60)
        assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join()


_RACER = """
import json, pathlib, sys, time
from polykv.backends.sqlite import SQLiteStore
from polykv.errors import RecordExistsError
path, folder, me = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
store = SQLiteStore(path, timeout=30)
(folder / f"ready-{me}").touch()
deadline = time.monotonic() + 60
while not (folder / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.001)
won = store.add("prize", me)
try:
    store.insert_record("people", "prize", {"id": "prize", "who": me})
    inserted = True
except RecordExistsError:
    inserted = False
store.close()
print(json.dumps([me, won, inserted]))
"""


def test_processes_racing_add_exactly_one_wins(tmp_path: Path) -> None:
    """Separate interpreters open the file, wait at a barrier, then race add and insert_record."""
    path = str(tmp_path / "race.db")
    SQLiteStore(path).close()  # created up front so that the race is about the row, not the file
    workers = 6
    processes = [
        subprocess.Popen([sys.executable, "-c", _RACER, path, str(tmp_path), str(i)], stdout=subprocess.PIPE, text=True)
        for i in range(workers)
    ]
    try:
        wait_for(lambda: all((tmp_path / f"ready-{i}").exists() for i in range(workers)), timeout=60)
        (tmp_path / "go").touch()
        outcomes = [json.loads(p.communicate(timeout=60)[0]) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in processes)
    assert sum(won for _, won, _ in outcomes) == 1
    assert sum(inserted for _, _, inserted in outcomes) == 1
    winner = next(me for me, won, _ in outcomes if won)
    with SQLiteStore(path) as store:
        assert store.get("prize") == winner


def _race_add_forked(path: str, start: Any, results: Any, me: int) -> None:
    store = SQLiteStore(path, timeout=30)
    try:
        start.wait()
        results.put((me, store.add("prize", me)))
    finally:
        store.close()


def test_forked_processes_racing_add_exactly_one_wins(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("not applicable: this platform has no fork start method")
    context = multiprocessing.get_context("fork")
    path = str(tmp_path / "race.db")
    SQLiteStore(path).close()
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_race_add_forked, args=(path, start, results, i)) for i in range(4)]
    try:
        for p in processes:
            p.start()
        start.set()
        outcomes = [results.get(timeout=60) for _ in processes]
    finally:
        for p in processes:
            p.join(60)
            if p.is_alive():
                p.kill()
                p.join()
    assert sorted(won for _, won in outcomes) == [False, False, False, True]


def test_processes_and_threads_writing_lose_nothing(tmp_path: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("not applicable: this platform has no fork start method")
    parent = SQLiteStore(str(tmp_path / "many.db"))  # opened before the fork and inherited by the children
    parent.set("before", 1)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_count_up, args=(parent, 50)) for _ in range(3)]
    # fork first: forking while this process's threads are inside SQLite could copy a held mutex
    for p in processes:
        p.start()
    threads = [threading.Thread(target=lambda: [parent.incr("counter") for _ in range(50)]) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        _join(processes)
    finally:
        for t in threads:
            t.join()
    try:
        assert parent.get("counter") == 3 * 50 + 2 * 50
        assert parent.count(prefix="w") == 150
        assert parent.get("before") == 1
    finally:
        parent.close()


def test_a_writer_holding_the_lock_too_long_gives_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    store = SQLiteStore(path, timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(BackendUnavailableError, match="locked"):
            store.set("k", 1)
        blocker.execute("ROLLBACK")
        store.set("k", 1)
        assert store.get("k") == 1
    finally:
        blocker.close()
        store.close()


# == change feed (watch) ===========================================================================
def events(store: SQLiteStore, since: str = BEGINNING) -> list[Change]:
    return list(ops.watch(store, since=since, follow=False))


def test_change_log_is_opt_in_and_a_property_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    plain = SQLiteStore(path)
    assert Capability.WATCH not in plain.capabilities and Capability.WATCH not in SQLiteStore.capabilities
    with pytest.raises(NotSupportedError):
        ops.watch(plain, follow=False)
    watched = SQLiteStore(path, change_log=True)
    assert Capability.WATCH in watched.capabilities
    plain.set("by-plain", 1)  # opened before the log existed: its writes are recorded all the same
    later = SQLiteStore(path)  # the default follows the file
    assert later.change_log and Capability.WATCH in later.capabilities
    assert [(e.op, e.key) for e in events(later)] == [(ChangeOp.INSERT, "by-plain")]
    SQLiteStore(path, change_log=False).close()
    assert not SQLiteStore(path).change_log
    url_store = polykv.connect(f"sqlite:///{path}?change_log=true&change_log_size=10")
    assert isinstance(url_store, SQLiteStore) and url_store.change_log and url_store.change_log_size == 10
    for store in (plain, watched, later, url_store):
        store.close()


def test_every_kind_of_write_is_one_event(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db", change_log=True)
    store.set("a", 1)
    store.set("a", 2)
    store.set_many({"b": 3, "c": 4})
    store.delete("b")
    store.delete("missing")  # nothing removed: no event
    store.insert_record("users", "u1", {"name": "ann"})
    store.update_record("users", "u1", {"name": "bea"})
    store.delete_record("users", "u1")
    store.incr("n")
    assert store.add("q", 1) and not store.add("q", 2)
    assert store.compare_and_set("q", 1, 5) and not store.compare_and_set("q", 1, 6)
    store.set("t", 1, ttl=0.05)
    wait_for(lambda: store.get("t") is None)  # expiry itself is not an event
    store.purge_expired()
    assert store.add("t", 2)  # the key did not exist for any reader: an insert
    store.upsert_record("users", "u2", {"name": "cy"})
    store.delete_many(["c", "nope"])
    store.clear()
    store.drop_schema("users")
    got = [(e.op, e.schema, e.key, e.value) for e in events(store)]
    assert got == [
        (ChangeOp.INSERT, None, "a", 1),
        (ChangeOp.UPDATE, None, "a", 2),
        (ChangeOp.INSERT, None, "b", 3),
        (ChangeOp.INSERT, None, "c", 4),
        (ChangeOp.DELETE, None, "b", None),
        (ChangeOp.INSERT, "users", "u1", {"name": "ann"}),
        (ChangeOp.UPDATE, "users", "u1", {"name": "bea"}),
        (ChangeOp.DELETE, "users", "u1", None),
        (ChangeOp.INSERT, None, "n", 1),
        (ChangeOp.INSERT, None, "q", 1),
        (ChangeOp.UPDATE, None, "q", 5),
        (ChangeOp.INSERT, None, "t", 1),
        (ChangeOp.INSERT, None, "t", 2),
        (ChangeOp.INSERT, "users", "u2", {"name": "cy"}),
        (ChangeOp.DELETE, None, "c", None),
        (ChangeOp.DELETE, None, "a", None),
        (ChangeOp.DELETE, None, "n", None),
        (ChangeOp.DELETE, None, "q", None),
        (ChangeOp.DELETE, None, "t", None),
        (ChangeOp.DELETE, "users", "u2", None),
    ]
    store.close()


def test_a_failed_write_records_no_event(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db", change_log=True)
    store.set("text", "not a number")
    head = store._change_head()
    with pytest.raises(InvalidArgumentError):
        store.incr("text")
    assert events(store, head) == []
    store.close()


def test_resume_from_a_cursor_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = SQLiteStore(path, change_log=True)
    store.set_many({f"k{i}": i for i in range(5)})
    seen = events(store)
    cursor = seen[2].cursor
    store.close()
    reopened = SQLiteStore(path)  # a new process would do the same: the log is in the file
    reopened.set("k9", 9)
    rest = events(reopened, cursor)
    assert [e.key for e in rest] == ["k3", "k4", "k9"]
    assert reopened._change_head() == rest[-1].cursor
    with pytest.raises(InvalidArgumentError, match="ahead"):
        events(reopened, str(int(rest[-1].cursor) + 5))
    with pytest.raises(InvalidArgumentError, match="cursor"):
        events(reopened, "not-a-cursor")
    reopened.close()


_CHILD_WRITER = """
import sys
from polykv.backends.sqlite import SQLiteStore
store = SQLiteStore(sys.argv[1])  # default settings: follows the file's change log
for i in range(int(sys.argv[2])):
    store.set(f"child{i}", i)
store.delete("child0")
store.close()
"""


def test_a_writer_in_another_process_is_seen_by_a_watcher(tmp_path: Path) -> None:
    path = str(tmp_path / "w.db")
    store = SQLiteStore(path, change_log=True)
    feed = ops.watch(store, timeout=20.0, poll_interval=0.05)  # from now on
    child = subprocess.Popen([sys.executable, "-c", _CHILD_WRITER, path, "50"])
    try:
        got: list[Change] = []
        for change in feed:
            got.append(change)
            if len(got) == 51:
                break
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert [(e.op, e.key) for e in got] == [(ChangeOp.INSERT, f"child{i}") for i in range(50)] + [
        (ChangeOp.DELETE, "child0")
    ]
    store.close()


def test_no_gaps_no_duplicates_with_a_concurrent_single_writer(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db", change_log=True)
    head = store._change_head()
    count = 400

    def write() -> None:
        writer = SQLiteStore(tmp_path / "w.db")
        for i in range(count):
            writer.set(f"k{i % 37}", i)
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    got: list[Change] = []
    try:
        for change in ops.watch(store, since=head, timeout=20.0, poll_interval=0.01, batch_size=7):
            got.append(change)
            if len(got) == count:
                break
    finally:
        thread.join()
    assert [e.value for e in got] == list(range(count))
    cursors = [int(e.cursor) for e in got]
    assert cursors == list(range(cursors[0], cursors[0] + count))
    assert events(store, got[-1].cursor) == []
    store.close()


def test_retention_prunes_and_an_old_cursor_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_backend, "_PURGE_EVERY", 10)
    store = SQLiteStore(tmp_path / "w.db", change_log=True, change_log_size=5)
    store.set("first", 0)
    early = store._change_head()
    for i in range(25):
        store.set(f"k{i}", i)  # pruned every 10 writes, down to the last 5 changes
    count = store._con().execute("SELECT count(*) FROM polykv_changes").fetchone()[0]
    assert 5 <= count < 5 + 10
    with pytest.raises(CursorExpiredError, match="older than the change log retains"):
        events(store, early)
    with pytest.raises(CursorExpiredError):
        events(store, BEGINNING)
    store.prune_changes()
    kept = events(store, str(int(store._change_head()) - 5))
    assert [e.key for e in kept] == [f"k{i}" for i in range(20, 25)]
    store.close()


def test_watch_filters_and_waits_on_sqlite(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db", change_log=True)
    store.set("ab", 1)
    store.upsert_record("users", "ab", {"x": 1})
    store.delete("ab")
    only = list(ops.watch(store, schema="", ops=ChangeOp.DELETE, since=BEGINNING, follow=False))
    assert [(e.op, e.schema, e.key) for e in only] == [(ChangeOp.DELETE, None, "ab")]
    started = time.monotonic()
    assert list(ops.watch(store, timeout=0.3, poll_interval=0.05)) == []  # waits, bounded by the timeout
    assert time.monotonic() - started >= 0.3
    store.close()


def test_values_another_program_stored_as_text_or_integer_are_refused_not_misread(tmp_path: Path) -> None:
    """The bytes codec reads back only bytes: a TEXT or INTEGER value written into the table by another
    program is a SerializationError naming its key, from get and get_many alike (bytes(42) would be 42
    zero bytes), and the stored values stay as they are."""
    path = tmp_path / "foreign.db"
    with SQLiteStore(str(path), codec="bytes") as store:
        store.set("ok", b"x")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO polykv_kv (key, value) VALUES ('text', 'abc'), ('int', 42)")
    con.commit()
    con.close()
    with SQLiteStore(str(path), codec="bytes") as store:
        for key in ("text", "int"):
            with pytest.raises(polykv.SerializationError, match="not bytes") as info:
                store.get(key)
            assert info.value.key == key
            with pytest.raises(polykv.SerializationError, match="not bytes") as info:
                store.get_many(["ok", key])
            assert info.value.key == key
        assert store.get_many(["ok"]) == {"ok": b"x"}
        assert store.count() == 3
