"""Writes ``sqlite_layout1.db`` (change log on) and ``sqlite_layout1_nolog.db`` beside this script: files of
the sqlite store's first on-disk layout (one ``polykv_items`` table, composite ``(ns, key)`` key, an
``expires`` column), read back by ``tests/test_sqlite_migration.py`` with the current code.

It must run with polykv at layout 1, e.g. from a checkout of commit a086231 (``git worktree add /tmp/l1
a086231`` then ``PYTHONPATH=/tmp/l1 python tests/data/make_sqlite_layout1.py``); with later code it refuses.
The expectations live in the test, not here: change one, change the other.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import sys
import time
from pathlib import Path

from polykv.backends.sqlite import SQLiteStore
from polykv.records import Record

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass
class Person(Record):
    __schema_name__ = "people"
    __indexes__ = ("email",)
    id: str
    email: str
    age: int


def write(path: Path, change_log: bool) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SQLiteStore(path, change_log=change_log)
    if "polykv_items" not in {row[0] for row in store._con().execute("SELECT name FROM sqlite_master")}:
        raise SystemExit("this polykv is not at layout 1 (no polykv_items table): run it from commit a086231")
    store.set("plain", {"a": [1, 2], "b": None})
    store.set("unicode-ключ", "значение ✓")
    store.set("nul\x00key", 1)
    store.set("big", "x" * 5000)
    store.set("n", 41)
    store.set_many({f"bulk:{i:04d}": i for i in range(300)})
    store.delete("bulk:0007")  # a hole in the middle of the namespace
    store.set("ttl-long", "still here", ttl=315_360_000)
    store.set("ttl-gone", "expired", ttl=0.01)
    for i in range(40):
        store.insert_record("people", f"p{i:02d}", Person(f"p{i:02d}", f"u{i % 4}@example.com", 20 + i))
    assert len(store.filter_record("people", Person, email="u1@example.com")) == 10  # creates the index
    store.insert_record("orders", "o1", {"id": "o1", "total": 12.5, "items": ["a", "b"]})
    store.insert_record("orders", "o2", {"id": "o2", "total": 3})
    store.insert_record("orders", "o-ttl", {"id": "o-ttl"}, ttl=315_360_000)
    store.insert_record("orders", "o-gone", {"id": "o-gone"}, ttl=0.01)
    store.update_record("orders", "o2", {"id": "o2", "total": 4})
    time.sleep(0.05)  # ttl-gone and o-gone are now expired rows, still in the table (nothing has read them)
    store.close()
    con = sqlite3.connect(path)
    expired = con.execute("SELECT count(*) FROM polykv_items WHERE expires <= ?", (time.time(),)).fetchone()[0]
    assert expired == 2, expired
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0


def main() -> None:
    write(HERE / "sqlite_layout1.db", change_log=True)
    write(HERE / "sqlite_layout1_nolog.db", change_log=False)
    print("wrote", HERE / "sqlite_layout1.db", HERE / "sqlite_layout1_nolog.db", file=sys.stderr)


if __name__ == "__main__":
    main()
