"""The worker acks a batch (lets its offsets be committed) only after the batch's finish has run, and a
finish that failed is tried again first: acking it early would lose the batch in a crash."""

from __future__ import annotations

import asyncio

from services.common.kafka.batches import RetryPolicy
from services.profile.adapters.inbound.worker import finish_then_ack
from services.profile.service import BatchOutcome

QUICK = RetryPolicy(initial_seconds=0.01, max_seconds=0.01)


class CountedEvent:
    """Stands in for a faust event: counts its acks."""

    def __init__(self) -> None:
        self.acks = 0

    def ack(self) -> bool:
        self.acks += 1
        return True


async def test_a_batch_is_acked_only_after_its_finish_succeeded() -> None:
    batch = [CountedEvent(), CountedEvent()]
    release = asyncio.Event()
    tries = 0

    async def finish() -> BatchOutcome:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise ConnectionError("broker unreachable")
        await release.wait()
        return BatchOutcome(applied=2, already_recorded=0, customers_written=2, attempts=1)

    finishing = asyncio.create_task(finish_then_ack(finish, batch, QUICK))
    await asyncio.sleep(0.1)
    assert tries == 2  # the failed finish was tried again
    assert [event.acks for event in batch] == [0, 0]  # and nothing acked while it runs

    release.set()
    await finishing

    assert [event.acks for event in batch] == [1, 1]
