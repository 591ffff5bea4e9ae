"""The profile worker: a faust agent over the channel topics, profile's requests, routing's assignments,
notify's notifications and customers' survey answers, in batches (``services.common.kafka.batches`` says
how a batch is decoded, dead-lettered and retried).

A batch is applied while the one before it finishes (publishes what it caused, goes on the timeline):
the worker waits on the database either way, and overlapping the two keeps it busy. Its offsets are
committed only once it has finished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Protocol

import faust
from faust.types import TP

from schemas.catalog import event_type_of
from schemas.customers import ProfileRefreshDue
from schemas.envelope import Event
from services.common.kafka.batches import DeadLetters, RetryPolicy, decoded, raw_message, until_done
from services.common.kafka.taking import ack_all, consume_in_batches
from services.profile.core.observe import PROFILE_PAYLOADS
from services.profile.service import Finish

_log = logging.getLogger(__name__)

PROFILE_TOPICS = (
    "interactions.v1",
    "orders.v1",
    "web-activity.v1",
    "profile-requests.v1",
    "assignments.v1",  # routing's changes: the timeline and the customer's last agent
    "notifications.v1",  # what notify told the customer: the timeline
    # Survey answers: the timeline, the experience ledger; a negative one reopens its case, or opens a
    # delivery case when it is about a delivered order.
    "feedback.v1",
)
# Where the sweep asks for refreshes, as the contract declares it.
_SWEEP_TOPIC = event_type_of(ProfileRefreshDue).topic


class AppliesBatches(Protocol):
    async def apply_batch(self, events: Sequence[Event[Any]]) -> Finish: ...


def register_profile_agent(
    app: faust.App,
    *,
    handler_factory: Callable[[], Awaitable[AppliesBatches]],
    dead_letters: DeadLetters,
    batch_size: int,
    within_seconds: float,
    retry: RetryPolicy,
    topics: Sequence[str] = PROFILE_TOPICS,
) -> Any:
    source = app.topic(*topics, key_type=bytes, value_type=bytes)

    async def profile_events(stream: Any) -> None:
        service = await handler_factory()
        finishing: asyncio.Task[None] | None = None

        async def process(batch: list[Any]) -> None:
            nonlocal finishing
            messages = [raw_message(event) for event in batch]
            # Retried like the rest: a dead letter the broker refused must not end the agent.
            events = await until_done(
                partial(decoded, messages, dead_letters, PROFILE_PAYLOADS), retry, len(messages)
            )
            finish = await until_done(partial(service.apply_batch, events), retry, len(events))
            if finishing is not None:
                await finishing  # one batch finishing at a time
            finishing = asyncio.create_task(finish_then_ack(finish, batch, retry))

        try:
            await consume_in_batches(stream, batch_size, within_seconds, process)
        finally:
            if finishing is not None:
                finishing.cancel()  # stopping: what did not finish is redelivered

    return app.agent(source, name="profile-events")(profile_events)


async def finish_then_ack(finish: Finish, batch: Sequence[Any], retry: RetryPolicy) -> None:
    await until_done(finish, retry, len(batch))
    ack_all(batch)


class RunsOnce(Protocol):
    async def run_once(self) -> int: ...


def register_refresh_timer(
    app: faust.App, sweep_factory: Callable[[], Awaitable[RunsOnce]], *, interval_seconds: float
) -> Any:
    """At this interval, the worker holding the first partition of profile's requests (the topic the
    sweep publishes to) looks for customers due a refresh. One replica is enough: the others would scan
    for the same customers and ask for each again, under the same request ids. The group gives that
    partition to exactly one worker, and to another when it leaves. (Faust's own leader election
    consumes a topic per app id that the broker would have to create; topics here are declared.)"""
    sweeps: list[RunsOnce] = []
    leader_partition = TP(_SWEEP_TOPIC, 0)

    async def refresh_due() -> None:
        if leader_partition not in app.consumer.assignment():
            return
        try:
            if not sweeps:  # opened here too: a broker or database down at start must not end the timer
                sweeps.append(await sweep_factory())
            asked = await sweeps[0].run_once()
        except Exception as error:  # the next round tries again; a timer that raised would stop for good
            _log.warning("refresh sweep failed: %s", type(error).__name__)
            return
        if asked:
            _log.info("asked for a refresh of %d customers", asked)

    return app.timer(interval=interval_seconds)(refresh_due)
