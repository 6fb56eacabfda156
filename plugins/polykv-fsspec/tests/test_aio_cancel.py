"""Cancelling the asyncio S3 store's calls mid-flight, many at once under load, against the real S3 server.

A cancelled call raises ``CancelledError`` in its task at the request it was waiting for; the store must stay
usable, no answer may reach another call (a pooled connection left holding a cancelled response would hand it
to the next request), and a cancelled batch must leave none of its requests running behind the caller, so no
write of it lands after a later write of the same key. Every value names its key and a write number, so each
read can be checked: the key it names, and a number that some write of that key actually sent.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from s3_fixtures import open_async, open_s3
from s3_server import S3Server

from polykv.aio import AsyncKeyValueStore

KEYS = [f"k{i:03d}" for i in range(60)]
ROUNDS = 3
TASKS_PER_ROUND = 100


def on_loop(store: AsyncKeyValueStore, scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        async with store:
            await scenario()

    asyncio.run(main())


class Ledger:
    """Which write numbers each key may hold (every number a write of it sent, cancelled or not)."""

    def __init__(self) -> None:
        self.sent: dict[str, set[int]] = {key: {0} for key in KEYS}
        self.numbers = iter(range(1, 10**9))

    def value(self, key: str) -> dict[str, Any]:
        n = next(self.numbers)
        self.sent[key].add(n)
        return {"key": key, "n": n}

    def check(self, key: str, value: Any) -> None:
        assert value is not None, key
        assert value["key"] == key, f"{key} read the value of {value['key']}"
        assert value["n"] in self.sent[key], f"{key} holds {value['n']}, which no write of it sent"


def random_call(store: AsyncKeyValueStore, ledger: Ledger, rng: random.Random) -> tuple[str, Awaitable[Any], Any]:
    roll = rng.random()
    if roll < 0.4:
        key = rng.choice(KEYS)
        return "get", store.get(key), key
    if roll < 0.7:
        key = rng.choice(KEYS)
        return "set", store.set(key, ledger.value(key)), key
    if roll < 0.9:
        wanted = rng.sample(KEYS, rng.randint(5, 20))
        return "get_many", store.get_many(wanted), wanted
    batch = {key: ledger.value(key) for key in rng.sample(KEYS, rng.randint(3, 15))}
    return "set_many", store.set_many(batch), batch


def test_cancellations_under_load_leave_every_key_right(s3_server: S3Server, unique: str) -> None:
    rng = random.Random(20240613)
    ledger = Ledger()
    store = open_async(s3_server, unique)
    outcomes = {"cancelled": 0, "finished": 0}

    async def one_round(cancel_within: float | None) -> list[float]:
        """Launch the round's calls; each is cancelled after a delay drawn up to ``cancel_within`` seconds
        (some before their request, some during it, some never: they finish first). Returns how long each
        call took to end."""
        loop = asyncio.get_running_loop()
        launched, took = [], []
        started = time.perf_counter()
        for _ in range(TASKS_PER_ROUND):
            kind, awaitable, arg = random_call(store, ledger, rng)
            task = asyncio.ensure_future(awaitable)
            task.add_done_callback(lambda _: took.append(time.perf_counter() - started))
            if cancel_within is not None:
                loop.call_later(rng.uniform(0, cancel_within), task.cancel)
            launched.append((kind, task, arg))
        await asyncio.wait([task for _, task, _ in launched])
        for kind, task, arg in launched:
            if task.cancelled():
                outcomes["cancelled"] += 1
                continue
            outcomes["finished"] += 1
            result = task.result()  # raises if a call failed with anything but a cancellation
            if kind == "get":
                ledger.check(arg, result)
            elif kind == "get_many":
                assert set(result) == set(arg)
                for key, value in result.items():
                    ledger.check(key, value)
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == {asyncio.current_task()}, "a cancelled call left a request running"
        return took

    async def scenario() -> None:
        await store.set_many({key: {"key": key, "n": 0} for key in KEYS})
        window = 2 * statistics.median(await one_round(None))  # under this load, on this machine
        outcomes["finished"] = 0
        for _ in range(ROUNDS):
            before = outcomes["cancelled"]
            await one_round(window)
            share = (outcomes["cancelled"] - before) / TASKS_PER_ROUND
            window *= 2 if share > 0.7 else 0.5 if share < 0.3 else 1  # keep both outcomes as the load varies
        after = await store.get_many(KEYS)  # the store still answers, every key with a value it was sent
        for key in KEYS:
            ledger.check(key, after[key])
        with open_s3(s3_server, unique) as sync_store:
            assert sync_store.get_many(KEYS) == after  # the sync face reads the same state
            final = {key: {"key": key, "n": -1} for key in KEYS}
            await store.set_many(final)
            await asyncio.sleep(0.3)  # a stray write from a cancelled call would land by now
            assert sync_store.get_many(KEYS) == final
        assert await store.get_many(KEYS) == final
        assert [await store.get(key) for key in KEYS[:10]] == [final[key] for key in KEYS[:10]]

    on_loop(store, scenario)
    print(f"\n{outcomes}")
    assert outcomes["cancelled"] >= ROUNDS * TASKS_PER_ROUND // 10  # the test cancelled calls in flight
    assert outcomes["finished"] >= ROUNDS * TASKS_PER_ROUND // 10  # and let others finish beside them


def test_a_cancelled_set_many_writes_nothing_after_a_later_one(s3_server: S3Server, unique: str) -> None:
    """fsspec's ``_pipe`` would leave its PUTs running after a cancellation, and they could overwrite the
    second batch; ``gather_bounded`` cancels and awaits them before the cancellation reaches the caller."""
    store = open_async(s3_server, unique)
    keys = [f"b{i:03d}" for i in range(200)]

    async def scenario() -> None:
        for round_ in range(2):
            stale = asyncio.ensure_future(store.set_many({key: ["stale", round_] for key in keys}))
            await asyncio.sleep(0.02 + 0.02 * round_)
            stale.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stale
            assert asyncio.all_tasks() == {asyncio.current_task()}
            fresh = {key: ["fresh", round_] for key in keys}
            await store.set_many(fresh)
            await asyncio.sleep(0.3)
            assert await store.get_many(keys) == fresh

    on_loop(store, scenario)


def test_timeouts_on_single_calls_and_batches(s3_server: S3Server, unique: str) -> None:
    store = open_async(s3_server, unique)
    values = {key: {"key": key, "n": 0} for key in KEYS}

    async def scenario() -> None:
        await store.set_many(values)
        timed_out = 0
        for attempt in range(40):
            limit = 0.0005 * (attempt % 12)
            try:
                if attempt % 2:
                    got = await asyncio.wait_for(store.get_many(KEYS), limit)
                    assert got == values
                else:
                    key = KEYS[attempt]
                    assert await asyncio.wait_for(store.get(key), limit) == values[key]
            except asyncio.TimeoutError:
                timed_out += 1
        assert timed_out > 0
        assert await store.get_many(KEYS) == values
        assert await store.get(KEYS[0]) == values[KEYS[0]]

    on_loop(store, scenario)
