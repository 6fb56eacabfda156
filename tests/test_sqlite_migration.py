"""The sqlite store's on-disk layouts: files written by layout 1 (tests/data, made by the code of that layout)
are migrated on open with nothing lost; a file of a later or unknown layout is refused, unchanged."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from polykv import ops
from polykv.backends.sqlite import SQLiteStore
from polykv.backends.sqlite_schema import LAYOUT
from polykv.changes import BEGINNING, ChangeOp
from polykv.errors import InvalidArgumentError, PolyKVError
from polykv.records import Record
from polykv.store import MAX_TTL

DATA = Path(__file__).resolve().parent / "data"


@dataclasses.dataclass
class Person(Record):
    __schema_name__ = "people"
    __indexes__ = ("email",)
    id: str
    email: str
    age: int


#: What tests/data/make_sqlite_layout1.py wrote (and what stayed visible: the expired keys did not).
KV = {
    "plain": {"a": [1, 2], "b": None},
    "unicode-ключ": "значение ✓",
    "nul\x00key": 1,
    "big": "x" * 5000,
    "n": 41,
    "ttl-long": "still here",
    **{f"bulk:{i:04d}": i for i in range(300) if i != 7},
}
ORDERS = {
    "o1": {"id": "o1", "total": 12.5, "items": ["a", "b"]},
    "o2": {"id": "o2", "total": 4},
    "o-ttl": {"id": "o-ttl"},
}
CHANGES = 353  # every write the script made, in order (the expired keys' inserts among them)


def layout1_copy(tmp_path: Path, name: str = "sqlite_layout1.db") -> Path:
    path = tmp_path / name
    shutil.copyfile(DATA / name, path)
    return path


def tables(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT name, type FROM sqlite_master").fetchall())
    finally:
        con.close()


def user_version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    finally:
        con.close()


def check_contents(store: SQLiteStore) -> None:
    """Everything the layout-1 script left visible reads back, through every kind of read."""
    assert dict(store.fetch_by_prefix("")) == KV
    assert store.get_many(list(KV)) == KV
    assert store.count() == len(KV) == len(store) and store.count(prefix="bulk:") == 299
    assert list(store.keys_by_prefix("bulk:000")) == [f"bulk:000{i}" for i in range(10) if i != 7]
    assert store.get("ttl-gone") is None and "ttl-gone" not in store
    left = store.ttl("ttl-long")
    assert left is not None and MAX_TTL - 10 * 365 * 86400 < left <= MAX_TTL
    assert store.ttl("plain") is None
    assert store.list_schemas() == ["orders", "people"]
    assert store.count("people") == 40 and store.count("orders") == 3
    assert store.get_record("people", Person, "p07") == Person("p07", "u3@example.com", 27)
    assert sorted(p.id for p in store.filter_record("people", Person, email="u1@example.com")) == [
        f"p{i:02d}" for i in range(1, 40, 4)
    ]
    assert {key: store.get_record("orders", dict, key) for key in store.record_keys("orders")} == ORDERS
    assert not store.exists("orders", "o-gone")
    left = store._ttl("orders", "o-ttl")
    assert isinstance(left, float) and left > MAX_TTL - 10 * 365 * 86400


def test_layout1_file_is_migrated_on_open_with_nothing_lost(tmp_path: Path) -> None:
    path = layout1_copy(tmp_path)
    assert user_version(path) == 0 and tables(path)["polykv_items"] == "table"
    with SQLiteStore(path) as store:
        assert store.change_log  # the file kept a change log: it still does
        check_contents(store)
    found = tables(path)
    assert user_version(path) == LAYOUT
    assert found["polykv_items"] == "view"  # the guard that stops a layout-1 polykv from writing beside the data
    assert {"polykv_kv", "polykv_r_people", "polykv_r_orders", "polykv_changes", "polykv_namespaces"} <= set(found)
    with SQLiteStore(path) as again:  # opened again: nothing to migrate, the same contents
        check_contents(again)


def test_the_migrated_change_log_keeps_its_ids_and_goes_on(tmp_path: Path) -> None:
    with SQLiteStore(layout1_copy(tmp_path)) as store:
        events = list(ops.watch(store, since=BEGINNING, follow=False))
        assert len(events) == CHANGES and [int(e.cursor) for e in events] == list(range(1, CHANGES + 1))
        assert [(e.op, e.schema, e.key) for e in events[:2]] == [
            (ChangeOp.INSERT, None, "plain"),
            (ChangeOp.INSERT, None, "unicode-ключ"),
        ]
        assert (events[-1].op, events[-1].schema, events[-1].key, events[-1].value) == (
            ChangeOp.UPDATE,
            "orders",
            "o2",
            {"id": "o2", "total": 4},
        )
        assert store._change_head() == str(CHANGES)
        store.set("after", 1)
        store.delete("plain")
        assert store.incr("n") == 42
        store.insert_record("orders", "o3", {"id": "o3"})
        store.set("ttl-gone", "back")  # overwrites the expired row the migration dropped: an insert
        later = [(e.op, e.schema, e.key) for e in ops.watch(store, since=str(CHANGES), follow=False)]
        assert later == [
            (ChangeOp.INSERT, None, "after"),
            (ChangeOp.DELETE, None, "plain"),
            (ChangeOp.UPDATE, None, "n"),
            (ChangeOp.INSERT, "orders", "o3"),
            (ChangeOp.INSERT, None, "ttl-gone"),
        ]


def test_layout1_file_without_change_log(tmp_path: Path) -> None:
    path = layout1_copy(tmp_path, "sqlite_layout1_nolog.db")
    with SQLiteStore(path) as store:
        assert not store.change_log
        check_contents(store)
        store.set("bulk:0007", 7)
        store.delete("bulk:0000")
        assert store.count() == len(KV) and store.count(prefix="bulk:") == 299


def test_migration_can_turn_the_change_log_off(tmp_path: Path) -> None:
    path = layout1_copy(tmp_path)
    with SQLiteStore(path, change_log=False) as store:
        assert not store.change_log
        check_contents(store)
    assert "polykv_changes" not in tables(path)


def test_writes_after_migration_keep_counts_exact(tmp_path: Path) -> None:
    with SQLiteStore(layout1_copy(tmp_path, "sqlite_layout1_nolog.db")) as store:
        expected = dict(KV)
        for i in range(0, 300, 3):
            store.delete(f"bulk:{i:04d}")
            expected.pop(f"bulk:{i:04d}", None)
        store.set_many({f"new:{i}": i for i in range(50)})
        expected.update({f"new:{i}": i for i in range(50)})
        assert store.clear("new:4") == 11  # new:4 and new:40..49
        expected = {k: v for k, v in expected.items() if not k.startswith("new:4")}
        assert store.count() == len(expected) == sum(1 for _ in store.keys_by_prefix(""))
        store.delete_record("people", "p39")  # the record with the highest id
        store.delete_record("people", "p00")
        assert store.count("people") == 38 == sum(1 for _ in store.record_keys("people"))


_OPENER = """
import sys
from polykv.backends.sqlite import SQLiteStore
with SQLiteStore(sys.argv[1], timeout=30) as store:
    print(store.count(), store.count("people"), store.get("plain"))
"""


def test_processes_opening_a_layout1_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = layout1_copy(tmp_path)
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPENER, str(path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in processes)
    assert outputs == [f"{len(KV)} 40 {KV['plain']}"] * 4
    with SQLiteStore(path) as store:
        check_contents(store)


def test_a_layout1_polykv_cannot_write_beside_a_layout2_file(tmp_path: Path) -> None:
    """What layout 1's set-up ran on every open now fails loudly instead of creating an empty table."""
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS polykv_items (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, "
            "expires REAL, PRIMARY KEY (ns, key))"
        )
        with pytest.raises(sqlite3.OperationalError, match="views may not be indexed"):
            con.execute(
                "CREATE INDEX IF NOT EXISTS polykv_items_expires ON polykv_items (expires) WHERE expires IS NOT NULL"
            )
    finally:
        con.close()


def test_a_file_of_a_newer_layout_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with SQLiteStore(path) as store:
        store.set("k", 1)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {LAYOUT + 1}")
    con.close()
    before = path.read_bytes()
    with pytest.raises(InvalidArgumentError, match=r"newer polykv.*upgrade polykv-core") as info:
        SQLiteStore(path)
    assert info.value.backend == "sqlite" and str(path) in str(info.value)
    assert path.read_bytes() == before


def test_a_file_with_a_foreign_user_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE theirs (x)")
    con.execute("PRAGMA user_version = 7")
    con.close()
    before = path.read_bytes()
    with pytest.raises(PolyKVError, match=r"user_version 7.*a file of its own"):
        SQLiteStore(path)
    assert path.read_bytes() == before
