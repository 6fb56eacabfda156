"""Change-feed checks for any store with ``Capability.WATCH``, shipped for plugin authors.

Subclass ``WatchSuite`` and give it a ``watched`` fixture returning a factory ``make(change_log_size)`` that
builds a fresh, empty store with its change feed on, keeping about the last ``change_log_size`` changes::

    class TestMyStoreWatch(WatchSuite):
        @pytest.fixture
        def watched(self):
            stores = []
            def make(change_log_size=100_000):
                stores.append(MyStore(change_feed=True, change_feed_size=change_log_size))
                return stores[-1]
            yield make
            for store in stores:
                store.close()

Cursors are compared as integers (every built-in feed numbers its changes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from .. import ops
from ..capabilities import Capability
from ..changes import BEGINNING, Change, ChangeOp, CursorExpiredError
from ..errors import InvalidArgumentError
from ..store import KeyValueStore

__all__ = ["DEADLINE", "Factory", "WatchSuite", "drain", "wait_until"]

#: Seconds a test waits for an observable condition before failing.
DEADLINE = 20.0

Factory = Callable[..., KeyValueStore]


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Poll ``condition`` (bounded) until it holds; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def drain(store: KeyValueStore, since: str = BEGINNING, **options: Any) -> list[Change]:
    """Every change after ``since`` that the feed holds now."""
    return list(ops.watch(store, since=since, follow=False, **options))


class WatchSuite:
    """Change-feed tests; subclass and provide a ``watched`` store factory (see the module docstring)."""

    def test_declares_watch(self, watched: Factory) -> None:
        assert Capability.WATCH in watched().capabilities

    def test_every_kind_of_write_is_an_event(self, watched: Factory) -> None:
        store = watched()
        store.set("a", 1)
        store.set("a", 2)
        store.set_many({"b": 3, "c": 4})
        store.delete("b")
        store.delete("missing")  # nothing changed: no event
        store.insert_record("users", "u1", {"name": "ann"})
        store.update_record("users", "u1", {"name": "bea"})
        store.delete_record("users", "u1")
        store.incr("n")
        assert store.add("a", 0) is False  # nothing changed: no event
        assert store.compare_and_set("a", 2, 5)
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
            (ChangeOp.UPDATE, None, "a", 5),
        ]
        cursors = [int(e.cursor) for e in events]
        assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
        assert events[0].to_json() == {
            "op": "insert",
            "schema": None,
            "key": "a",
            "value": 1,
            "cursor": events[0].cursor,
        }

    def test_clear_and_drop_schema_report_each_deleted_key(self, watched: Factory) -> None:
        store = watched()
        store.set_many({"x1": 1, "x2": 2, "y": 3})
        for i in range(3):
            store.upsert_record("users", f"u{i}", {"i": i})
        head = store._change_head()
        store.clear("x")
        store.drop_schema("users")
        events = drain(store, since=head)
        expected = [("", "x1"), ("", "x2"), ("users", "u0"), ("users", "u1"), ("users", "u2")]
        assert sorted((e.schema or "", e.key) for e in events) == expected
        assert {e.op for e in events} == {ChangeOp.DELETE}

    def test_filters(self, watched: Factory) -> None:
        store = watched()
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

    def test_since_none_starts_at_the_call(self, watched: Factory) -> None:
        store = watched()
        store.set("before", 1)
        feed = ops.watch(store, follow=False)
        store.set("after", 2)
        assert [e.key for e in feed] == ["after"]

    def test_resume_from_cursor_sees_changes_made_while_nobody_watched(self, watched: Factory) -> None:
        store = watched()
        for i in range(10):
            store.set(f"k{i}", i)
        first = drain(store)
        last = first[4]  # the consumer stopped after its fifth event
        for i in range(10, 15):  # written while nobody watches
            store.set(f"k{i}", i)
        rest = drain(store, since=last.cursor)
        seen = [e.key for e in first[:5]] + [e.key for e in rest]
        assert seen == [f"k{i}" for i in range(15)]  # no gap, no duplicate

    def test_cursor_older_than_retention_raises(self, watched: Factory) -> None:
        store = watched(change_log_size=10)
        for i in range(1100):  # enough for feeds that trim lazily (sqlite: every 1000 writes; Redis: 100-entry nodes)
            store.set(f"k{i}", i)
        with pytest.raises(CursorExpiredError, match=r"keeps (about )?the last 10 changes"):
            ops.watch(store, since=BEGINNING)
        head = int(store._change_head())
        kept = drain(store, since=str(head - 10))  # the last 10 changes are always kept
        assert [e.key for e in kept] == [f"k{i}" for i in range(1090, 1100)]

    @pytest.mark.parametrize("cursor", ["abc", "999"])
    def test_bad_cursor(self, watched: Factory, cursor: str) -> None:
        store = watched()
        store.set("a", 1)
        with pytest.raises(InvalidArgumentError, match="cursor"):
            ops.watch(store, since=cursor)

    def test_follow_receives_live_writes_and_stops_on_event(self, watched: Factory) -> None:
        store = watched()
        stop = threading.Event()
        received: list[Change] = []

        feed = ops.watch(store, stop=stop, poll_interval=0.05)  # from now on

        def consume() -> None:
            for event in feed:
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

    def test_a_waiting_watcher_wakes_up_on_a_write(self, watched: Factory) -> None:
        store = watched()
        head = store._change_head()
        got: list[Change] = []
        ready, done = threading.Event(), threading.Event()

        def first_change() -> None:  # one long wait (60 s): only a wake-up on the write ends it early
            feed = ops.watch(store, since=head, timeout=120.0, poll_interval=60.0)
            ready.set()
            for event in feed:
                got.append(event)
                done.set()
                return

        consumer = threading.Thread(target=first_change)
        consumer.start()
        assert ready.wait(DEADLINE)
        store.set("wake", 1)
        assert done.wait(DEADLINE), "the waiting watcher did not wake up on the write"
        consumer.join(DEADLINE)
        assert not consumer.is_alive() and [e.key for e in got] == ["wake"]

    @pytest.mark.parametrize(
        "options",
        [
            {"batch_size": 0},
            {"batch_size": 1.5},
            {"batch_size": "2"},
            {"poll_interval": 0},
            {"poll_interval": -1},
            {"timeout": "1"},
            {"follow": "no"},
            {"stop": True},
        ],
    )
    def test_bad_options_are_refused_before_anything_is_read(self, watched: Factory, options: dict[str, Any]) -> None:
        """A wrong kind of option is an InvalidArgumentError naming it (batch_size=0 read nothing, silently;
        poll_interval=0 spun a CPU; follow="no" meant follow)."""
        store = watched()
        store.set("a", 1)
        name = next(iter(options))
        with pytest.raises(InvalidArgumentError, match=name):
            ops.watch(store, since=BEGINNING, **{"follow": False, **options})

    def test_timeout_ends_the_feed(self, watched: Factory) -> None:
        store = watched()
        started = time.monotonic()
        assert list(ops.watch(store, timeout=0.2, poll_interval=0.05)) == []
        assert time.monotonic() - started < DEADLINE

    def test_several_writers_each_change_seen_exactly_once(self, watched: Factory) -> None:
        store = watched()
        writers = 4
        per_writer = 300
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
                t.join(DEADLINE * 3)
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
