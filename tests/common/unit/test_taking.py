"""Batches grow with the load: what arrived while a batch was processed is the next batch, at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from services.common.kafka.taking import consume_in_batches

# Far longer than any test waits: a batch handed over only after it would time the test out.
LONG_WITHIN = 60.0


class FakeMessage:
    def __init__(self) -> None:
        self.references = 0

    def incref(self) -> None:
        self.references += 1


class FakeEvent:
    def __init__(self, number: int) -> None:
        self.number = number
        self.message = FakeMessage()


class FakeStream:
    """faust's ``Stream.events()``: what is put, in order; an exception put is raised there, None ends it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[FakeEvent | Exception | None] = asyncio.Queue()
        self.read = 0

    def put(self, *numbers: int) -> None:
        for number in numbers:
            self.queue.put_nowait(FakeEvent(number))

    async def events(self) -> AsyncIterator[FakeEvent]:
        while (item := await self.queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            self.read += 1
            yield item


class Processor:
    """Records each batch; holds the first one until ``release`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[FakeEvent]] = []
        self.release = asyncio.Event()

    async def __call__(self, batch: list[FakeEvent]) -> None:
        self.batches.append(batch)
        await self.release.wait()

    def numbers(self) -> list[list[int]]:
        return [[event.number for event in batch] for batch in self.batches]


async def until(condition: Callable[[], bool]) -> None:
    """Polls: what it waits for happens in the code under test, which offers nothing to wait on."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_what_arrived_meanwhile_is_handed_over_at_once_in_batches_of_at_most_the_size() -> None:
    stream, processor = FakeStream(), Processor()
    consuming = asyncio.create_task(consume_in_batches(stream, 4, LONG_WITHIN, processor))
    stream.put(*range(4))
    await until(lambda: len(processor.batches) == 1)  # full: handed over without waiting for more
    stream.put(*range(4, 11))  # arrive while the first batch is processed
    await until(lambda: stream.read == 11)
    processor.release.set()
    await until(lambda: len(processor.batches) == 3)

    assert processor.numbers() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert all(event.message.references == 1 for batch in processor.batches for event in batch)
    consuming.cancel()


async def test_an_empty_buffer_waits_for_a_first_event_then_up_to_within_for_more() -> None:
    stream, processor = FakeStream(), Processor()
    processor.release.set()
    consuming = asyncio.create_task(consume_in_batches(stream, 100, 0.3, processor))
    await asyncio.sleep(0.05)
    assert processor.batches == []  # nothing yet: waits
    stream.put(1)
    await asyncio.sleep(0.05)
    stream.put(2, 3)  # within the window after the first
    await until(lambda: len(processor.batches) == 1)
    assert processor.numbers() == [[1, 2, 3]]
    consuming.cancel()


async def test_reading_ahead_stops_at_four_batches_while_one_is_processed() -> None:
    stream, processor = FakeStream(), Processor()
    consuming = asyncio.create_task(consume_in_batches(stream, 5, LONG_WITHIN, processor))
    stream.put(*range(40))
    await until(lambda: len(processor.batches) == 1)
    await asyncio.sleep(0.05)
    assert stream.read == 5 + 4 * 5  # the batch being processed, and four more waiting
    processor.release.set()
    await until(lambda: stream.read == 40)
    consuming.cancel()


async def test_an_error_of_the_stream_ends_the_consuming_with_it() -> None:
    stream, processor = FakeStream(), Processor()
    stream.queue.put_nowait(ConnectionError("broker gone"))
    with pytest.raises(ConnectionError, match="broker gone"):
        async with asyncio.timeout(5):
            await consume_in_batches(stream, 10, LONG_WITHIN, processor)


async def test_an_error_of_the_processing_ends_the_consuming_at_the_next_event() -> None:
    stream = FakeStream()

    async def failing(batch: list[FakeEvent]) -> None:
        raise ValueError("a bug")

    consuming = asyncio.create_task(consume_in_batches(stream, 10, 0.01, failing))
    stream.put(1)
    await asyncio.sleep(0.1)
    stream.put(2)
    with pytest.raises(ValueError, match="a bug"):
        async with asyncio.timeout(5):
            await consuming


async def test_a_stream_that_ends_ends_the_processing() -> None:
    stream, processor = FakeStream(), Processor()
    stream.put(1)
    stream.queue.put_nowait(None)
    async with asyncio.timeout(5):
        await consume_in_batches(stream, 10, LONG_WITHIN, processor)
