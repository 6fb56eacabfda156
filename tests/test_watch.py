"""Change feeds on the memory store: events, filters, resume by cursor, retention, stopping, several writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from polykv import ops
from polykv.backends.memory import MemoryStore
from polykv.changes import BEGINNING, Change, ChangeOp, CursorExpiredError
from polykv.errors import InvalidArgumentError

DEADLINE = 10.0


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def drain(store: MemoryStore, **options: object) -> list[Change]:
    return list(ops.watch(store, since=BEGINNING, follow=False, **options))  # type: ignore[arg-type]


def test_every_kind_of_write_is_an_event() -> None:
    store = MemoryStore()
    store.set("a", 1)
    store.set("a", 2)
    store.set_many({"b": 3, "c": 4})
    store.delete("b")
    store.delete("missing")  # nothing changed: no event
    store.insert_record("users", "u1", {"name": "ann"})
    store.update_record("users", "u1", {"name": "bea"})
    store.delete_record("users", "u1")
    store.incr("n")
    events = drain(store)
    assert [(e.op, e.schema, e.key, e.value) for e in events] == [
        (ChangeOp.INSERT, None, "a", 1),
        (ChangeOp.UPDATE, None, "a", 2),
        (ChangeOp.INSERT, None, "b", 3),
        (ChangeOp.INSERT, None, "c", 4),
        (ChangeOp.DELETE, None, "b", None),
        (ChangeOp.INSERT, "users", "u1", {"name": "ann"}),
        (ChangeOp.UPDATE, "users", "u1", {"name": "bea"}),
        (ChangeOp.DELETE, "users", "u1", None),
        (ChangeOp.INSERT, None, "n", 1),
    ]
    cursors = [int(e.cursor) for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert events[0].to_json() == {"op": "insert", "schema": None, "key": "a", "value": 1, "cursor": events[0].cursor}


def test_clear_and_drop_schema_report_each_deleted_key() -> None:
    store = MemoryStore()
    store.set_many({"x1": 1, "x2": 2, "y": 3})
    for i in range(3):
        store.upsert_record("users", f"u{i}", {"i": i})
    head = store._change_head()
    store.clear("x")
    store.drop_schema("users")
    events = list(ops.watch(store, since=head, follow=False))
    expected = [("", "x1"), ("", "x2"), ("users", "u0"), ("users", "u1"), ("users", "u2")]
    assert sorted((e.schema or "", e.key) for e in events) == expected
    assert {e.op for e in events} == {ChangeOp.DELETE}


def test_filters() -> None:
    store = MemoryStore()
    store.set("ab", 1)
    store.set("b", 2)
    store.upsert_record("users", "ab", {"x": 1})
    store.upsert_record("orders", "o", {"x": 2})
    store.delete("ab")
    assert [e.key for e in drain(store, schema="")] == ["ab", "b", "ab"]
    assert [(e.schema, e.key) for e in drain(store, schema="users")] == [("users", "ab")]
    assert [(e.schema, e.key) for e in drain(store, prefix="a")] == [(None, "ab"), ("users", "ab"), (None, "ab")]
    assert [e.op for e in drain(store, ops=ChangeOp.DELETE)] == [ChangeOp.DELETE]
    assert len(drain(store, ops=ChangeOp.INSERT | ChangeOp.DELETE)) == 5


def test_since_none_starts_at_the_call() -> None:
    store = MemoryStore()
    store.set("before", 1)
    feed = ops.watch(store, follow=False)
    store.set("after", 2)
    assert [e.key for e in feed] == ["after"]


def test_resume_from_cursor_sees_changes_made_while_nobody_watched() -> None:
    store = MemoryStore()
    for i in range(10):
        store.set(f"k{i}", i)
    first = list(ops.watch(store, since=BEGINNING, follow=False))
    last = first[4]  # the consumer stopped after its fifth event
    for i in range(10, 15):  # written while nobody watches
        store.set(f"k{i}", i)
    rest = list(ops.watch(store, since=last.cursor, follow=False))
    seen = [e.key for e in first[:5]] + [e.key for e in rest]
    assert seen == [f"k{i}" for i in range(15)]  # no gap, no duplicate


def test_cursor_older_than_retention_raises() -> None:
    store = MemoryStore(change_log_size=10)
    for i in range(25):
        store.set(f"k{i}", i)
    with pytest.raises(CursorExpiredError, match="keeps the last 10 changes"):
        ops.watch(store, since=BEGINNING)
    kept = drain_from(store, "15")
    assert [e.key for e in kept] == [f"k{i}" for i in range(15, 25)]


def drain_from(store: MemoryStore, cursor: str) -> list[Change]:
    return list(ops.watch(store, since=cursor, follow=False))


@pytest.mark.parametrize("cursor", ["abc", "999"])
def test_bad_cursor(cursor: str) -> None:
    store = MemoryStore()
    store.set("a", 1)
    with pytest.raises(InvalidArgumentError, match="cursor"):
        ops.watch(store, since=cursor)


def test_bad_change_log_size() -> None:
    with pytest.raises(InvalidArgumentError, match="change_log_size"):
        MemoryStore(change_log_size=0)


def test_follow_receives_live_writes_and_stops_on_event() -> None:
    store = MemoryStore()
    stop = threading.Event()
    received: list[Change] = []

    def consume() -> None:
        for event in ops.watch(store, stop=stop, poll_interval=0.05):
            received.append(event)

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        for i in range(50):
            store.set(f"k{i}", i)
        assert wait_until(lambda: len(received) == 50)
    finally:
        stop.set()
        consumer.join(DEADLINE)
    assert not consumer.is_alive()
    assert [e.value for e in received] == list(range(50))


def test_timeout_ends_the_feed() -> None:
    store = MemoryStore()
    started = time.monotonic()
    assert list(ops.watch(store, timeout=0.2, poll_interval=0.05)) == []
    assert time.monotonic() - started < DEADLINE


def test_several_writers_each_change_seen_exactly_once() -> None:
    store = MemoryStore(change_log_size=100_000)
    writers = 4
    per_writer = 500
    stop = threading.Event()
    received: list[Change] = []
    feed = ops.watch(store, stop=stop, poll_interval=0.05)

    def consume() -> None:
        received.extend(feed)

    consumer = threading.Thread(target=consume)
    consumer.start()

    def write(w: int) -> None:
        for i in range(per_writer):
            store.set(f"w{w}-{i}", i)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        assert wait_until(lambda: len(received) >= writers * per_writer)
    finally:
        stop.set()
        consumer.join(DEADLINE)
    keys = [e.key for e in received]
    assert len(keys) == len(set(keys)) == writers * per_writer
    cursors = [int(e.cursor) for e in received]
    assert cursors == sorted(cursors)
    for w in range(writers):  # each writer's changes arrive in its own order
        mine = [e.value for e in received if e.key.startswith(f"w{w}-")]
        assert mine == list(range(per_writer))
