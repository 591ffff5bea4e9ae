"""A faust stream in batches that grow with the load.

faust's ``take_events`` stops filling its buffer while the caller works on a batch, then waits its whole
``within`` for the next one: every batch is what arrives in that window, whatever the backlog (a burst
reached profile in batches of 15-300 rather than 500, each paying a batch's round trips). Here the
agent goes on reading while a task of its own processes, and the next batch is what arrived meanwhile,
handed over at once; only an empty buffer waits, for a first event and then at most ``within`` more.

The agent's own task iterates the stream, as faust expects: stopping the agent ends the iteration, and
with it the processing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any

# Events read ahead beyond the batch being processed, in batches: the consumer pauses fetching meanwhile.
_READ_AHEAD_BATCHES = 4


async def consume_in_batches(
    stream: Any, max_size: int, within_seconds: float, process: Callable[[list[Any]], Awaitable[None]]
) -> None:
    """Hand the stream's events to ``process`` in batches of at most ``max_size``, one batch at a time.
    Each event's offset stays uncommitted until ``event.ack()`` (``ack_all``, after its write), however
    far the stream has read since. Returns when the stream ends; raises what ended the processing."""
    buffer: deque[Any] = deque()
    arrived, full, room = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def batches() -> None:
        while True:
            if not buffer:
                arrived.clear()
                await arrived.wait()
                if len(buffer) < max_size:
                    full.clear()
                    with suppress(TimeoutError):
                        async with asyncio.timeout(within_seconds):
                            await full.wait()
            batch = [buffer.popleft() for _ in range(min(max_size, len(buffer)))]
            room.set()
            await process(batch)

    processing = asyncio.create_task(batches())
    try:
        async for event in stream.events():
            event.message.incref()  # faust acks it when the stream moves on: ``ack_all`` commits
            buffer.append(event)
            arrived.set()
            if len(buffer) >= max_size:
                full.set()
            while len(buffer) >= max_size * _READ_AHEAD_BATCHES and not processing.done():
                room.clear()
                await _first(room, processing)
            if processing.done():
                processing.result()  # raises what ended it
                raise RuntimeError("batch processing ended")
    finally:
        processing.cancel()
        with suppress(asyncio.CancelledError, Exception):  # an error of its own was raised above
            await processing


async def _first(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    """Until ``event`` is set or ``task`` ended."""
    waiting = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()


def ack_all(batch: Sequence[Any]) -> None:
    """The batch is written: its offsets may be committed."""
    for event in batch:
        event.ack()
