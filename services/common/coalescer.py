"""Group commit for round trips: calls that arrive while a flush is running wait and go together into
the next one, so N concurrent requests cost one database round trip instead of N. On a request's path
nobody waits for a timer: an idle coalescer flushes at once, a busy one as soon as the previous flush
returns. Work nobody waits for (behind an answer) may linger a little, so more of it shares a flush."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class _Waiting(Generic[ItemT, ResultT]):
    items: list[ItemT]
    done: asyncio.Future[list[ResultT]]


class Coalescer(Generic[ItemT, ResultT]):
    """``flush`` receives the items of several callers in order and returns one result per item."""

    def __init__(
        self,
        flush: Callable[[list[ItemT]], Awaitable[list[ResultT]]],
        *,
        max_items: int,
        linger_seconds: float = 0.0,
    ) -> None:
        self._flush = flush
        self._max_items = max_items
        self._linger_seconds = linger_seconds
        self._waiting: list[_Waiting[ItemT, ResultT]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[ItemT]) -> list[ResultT]:
        if not items:
            return []
        waiting: _Waiting[ItemT, ResultT] = _Waiting(list(items), asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        # shield: a caller that goes away (client disconnect) must not cancel the others' flush.
        return await asyncio.shield(waiting.done)

    async def _drain(self) -> None:
        while self._waiting:
            if self._linger_seconds:
                await asyncio.sleep(self._linger_seconds)
            group: list[_Waiting[ItemT, ResultT]] = []
            count = 0
            # Always take at least one caller, however large; then fill up to max_items.
            while self._waiting and (not group or count + len(self._waiting[0].items) <= self._max_items):
                caller = self._waiting.pop(0)
                group.append(caller)
                count += len(caller.items)
            try:
                results = await self._flush([item for caller in group for item in caller.items])
            except Exception as error:  # every caller of this flush gets the failure
                for caller in group:
                    caller.done.set_exception(error)
                continue
            start = 0
            for caller in group:
                caller.done.set_result(results[start : start + len(caller.items)])
                start += len(caller.items)
