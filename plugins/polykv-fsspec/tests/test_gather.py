"""``gather_bounded``, the loop-side batch runner of the asyncio S3 store: order, bound, errors, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import pytest
from polykv_fsspec.gather import gather_bounded


class Probe:
    """Calls that record how many run at once and which ones started and ended."""

    def __init__(self) -> None:
        self.inside = self.most = 0
        self.started: list[int] = []
        self.ended: list[int] = []

    async def call(self, n: int, delay: float = 0.001, fail: bool = False) -> int:
        self.started.append(n)
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await asyncio.sleep(delay)
            if fail:
                raise OSError(f"call {n} failed")
            return n * n
        finally:
            self.inside -= 1
            self.ended.append(n)

    def calls(self, count: int, **kwargs: object) -> list[Callable[[], Awaitable[int]]]:
        return [partial(self.call, n, **kwargs) for n in range(count)]  # type: ignore[arg-type]


def test_results_in_order_and_bounded() -> None:
    probe = Probe()
    assert asyncio.run(gather_bounded(probe.calls(100), 8)) == [n * n for n in range(100)]
    assert probe.most == 8


def test_exceptions_returned_in_place() -> None:
    probe = Probe()

    async def scenario() -> list[object]:
        calls = probe.calls(10)
        calls[3] = partial(probe.call, 3, fail=True)
        return await gather_bounded(calls, 4, return_exceptions=True)

    out = asyncio.run(scenario())
    assert isinstance(out[3], OSError) and [v for i, v in enumerate(out) if i != 3] == [
        n * n for n in range(10) if n != 3
    ]


def test_first_error_cancels_the_rest_and_nothing_is_left_running() -> None:
    probe = Probe()

    async def scenario() -> None:
        calls = probe.calls(200, delay=0.01)
        calls[5] = partial(probe.call, 5, delay=0, fail=True)
        with pytest.raises(OSError, match="call 5 failed"):
            await gather_bounded(calls, 16)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())
    assert sorted(probe.started) == sorted(probe.ended) and len(probe.started) < 200


def test_cancelling_the_caller_cancels_and_awaits_every_call() -> None:
    probe = Probe()

    async def scenario() -> None:
        task = asyncio.ensure_future(gather_bounded(probe.calls(500, delay=0.05), 32))
        await asyncio.sleep(0.01)
        assert probe.inside == 32
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert probe.inside == 0  # every call had ended when the cancellation reached the caller
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())
    assert len(probe.started) == 32  # no call was started after the cancellation


def test_a_second_cancel_during_cleanup_still_waits() -> None:
    probe = Probe()

    async def scenario() -> None:
        async def stubborn(n: int) -> int:
            try:
                return await probe.call(n, delay=1)
            except asyncio.CancelledError:
                await asyncio.sleep(0.02)  # cleanup that takes a while
                raise

        task = asyncio.ensure_future(gather_bounded([partial(stubborn, n) for n in range(4)], 4))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert probe.inside == 0

    asyncio.run(scenario())


def test_single_call_and_limit_one_run_inline() -> None:
    probe = Probe()
    assert asyncio.run(gather_bounded(probe.calls(5), 1)) == [0, 1, 4, 9, 16]
    assert probe.most == 1
    assert asyncio.run(gather_bounded([], 8)) == []
