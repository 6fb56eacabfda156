"""``polykv.aio.memoize``: the async twin of ``polykv.memoize`` computes once per key across concurrent tasks,
with the sync face's keys, on a native store (memory) and a thread-run one (sqlite file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import polykv
import polykv.aio
from polykv.caching import default_key


@pytest.mark.parametrize("url", ["memory://", "sqlite"])
def test_concurrent_calls_compute_once_and_share_the_sync_key(url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'memo.db'}" if url == "sqlite" else url
    runs: list[int] = []

    async def main() -> None:
        async with polykv.aio.connect(target) as store:

            @polykv.aio.memoize(store, ttl=60)
            async def square(n: int) -> int:
                runs.append(n)
                await asyncio.sleep(0.05)  # a slow computation: the other 19 callers wait for its result
                return n * n

            results = await asyncio.gather(*(square(7) for _ in range(20)))
            assert results == [49] * 20 and runs == [7]
            assert square.key_for(7) == default_key(square.__wrapped__, (7,), {})
            assert await store.get(square.key_for(7)) == 49  # the same value a sync memoize would read
            assert await square.invalidate(7) is True and await square.invalidate(7) is False
            assert await square(7) == 49 and runs == [7, 7]
            assert square.__name__ == "square"

    asyncio.run(main())


def test_a_memoized_method_binds_the_instance() -> None:
    async def main() -> None:
        async with polykv.aio.connect("memory://") as store:

            class Prices:
                @polykv.aio.memoize(store, key=lambda self, n: f"price:{n}")
                async def price(self, n: int) -> int:
                    return n * 10

            assert await Prices().price(3) == 30 and await store.get("price:3") == 30
            bound = Prices().price
            assert bound.key_for(3) == "price:3" and await bound.invalidate(3) is True
            with pytest.raises(polykv.InvalidArgumentError, match="key must be a callable"):
                polykv.aio.memoize(store, key="price")  # type: ignore[arg-type]

    asyncio.run(main())


def test_refusals_say_which_face_to_use() -> None:
    async def main() -> None:
        async with polykv.aio.connect("memory://") as store:
            with pytest.raises(TypeError, match=r"use polykv\.memoize for a plain function"):
                polykv.aio.memoize(store)(lambda: 1)  # type: ignore[arg-type,return-value]
            with pytest.raises(polykv.InvalidArgumentError, match="lease_ttl"):
                polykv.aio.memoize(store, lease_ttl=0)
            with pytest.raises(polykv.InvalidArgumentError, match="ttl"):
                polykv.aio.memoize(store, ttl=-1)

    asyncio.run(main())
    with pytest.raises(TypeError, match="takes an async store"):
        polykv.aio.memoize(polykv.connect("memory://"))  # type: ignore[arg-type]
