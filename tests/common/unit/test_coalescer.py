"""Group commit: concurrent callers share flushes, each gets its own results or the flush's error."""

from __future__ import annotations

import asyncio

import pytest

from services.common.coalescer import Coalescer


class Recorder:
    def __init__(self) -> None:
        self.flushes: list[list[int]] = []
        self.release = asyncio.Event()

    async def double(self, items: list[int]) -> list[int]:
        self.flushes.append(items)
        await self.release.wait()
        return [item * 2 for item in items]


async def test_callers_arriving_during_a_flush_share_the_next_one_and_get_their_own_results() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.double, max_items=100)
    first = asyncio.create_task(coalescer.submit([1]))
    await asyncio.sleep(0)  # the first flush starts and waits
    others = [asyncio.create_task(coalescer.submit([n, n + 1])) for n in (10, 20, 30)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await first == [2]
    assert [await task for task in others] == [[20, 22], [40, 42], [60, 62]]
    assert recorder.flushes == [[1], [10, 11, 20, 21, 30, 31]]


async def test_a_lingering_coalescer_lets_callers_that_arrive_meanwhile_share_its_first_flush() -> None:
    recorder = Recorder()
    recorder.release.set()
    coalescer: Coalescer[int, int] = Coalescer(recorder.double, max_items=100, linger_seconds=0.05)
    first = asyncio.create_task(coalescer.submit([1]))
    await asyncio.sleep(0.01)  # an idle coalescer without linger would have flushed [1] alone by now
    assert recorder.flushes == []
    second = asyncio.create_task(coalescer.submit([2]))
    assert (await first, await second) == ([2], [4])
    assert recorder.flushes == [[1, 2]]


async def test_a_flush_never_exceeds_max_items_unless_one_caller_alone_does() -> None:
    recorder = Recorder()
    recorder.release.set()
    coalescer: Coalescer[int, int] = Coalescer(recorder.double, max_items=4)
    results = await asyncio.gather(
        coalescer.submit([1, 2, 3]), coalescer.submit([4, 5]), coalescer.submit(list(range(6)))
    )
    assert results[1] == [8, 10]
    assert [len(flush) for flush in recorder.flushes] == [3, 2, 6]


async def test_every_caller_of_a_failed_flush_gets_the_error_and_later_callers_are_served() -> None:
    calls = 0

    async def flaky(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise ConnectionError("database went away")
        return items

    coalescer: Coalescer[int, int] = Coalescer(flaky, max_items=10)
    outcomes = await asyncio.gather(coalescer.submit([1]), coalescer.submit([2]), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert await coalescer.submit([3]) == [3]


async def test_a_caller_that_goes_away_does_not_cancel_the_flush_of_the_others() -> None:
    recorder = Recorder()
    coalescer: Coalescer[int, int] = Coalescer(recorder.double, max_items=10)
    leaving = asyncio.create_task(coalescer.submit([1]))
    staying = asyncio.create_task(coalescer.submit([2]))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.release.set()
    assert await staying == [4]
    with pytest.raises(asyncio.CancelledError):
        await leaving
