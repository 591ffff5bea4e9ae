"""Change notifications to CRMs: the flows around ``core.webhooks``.

- ``WebhookIntake`` (the consumer's): each consumed batch of ``profiles.v1`` and ``cases.v1`` becomes
  one delivery per interested subscription, written before the consumer commits its offsets. A tombstone
  first removes what was kept about the erased customer (their queued and past deliveries); only the
  erasure itself is then told.
- ``WebhookDispatcher``: one pass sends the due head of each lane (one customer at one subscription),
  records the outcome, unsubscribes on 410, releases the lane's next delivery when one finished.
- ``WebhookAdmin`` (the API's): subscriptions, the delivery log and replays.

Logs name subscriptions and deliveries by id only: never URLs, secrets, customer ids or payloads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from services.profile.core.webhooks import (
    PROFILES_TOPIC,
    DeliveryStatus,
    NewDelivery,
    PendingDelivery,
    RetrySchedule,
    SourceMessage,
    Subscription,
    SubscriptionStatus,
    WebhookEventType,
    new_deliveries,
    outcome_of,
    plan_dispatch,
    secret_from,
    secret_problem,
    settle,
    url_problem,
)
from services.profile.ports import (
    DeliveryRecord,
    ErasedCustomers,
    WebhookDeliveries,
    WebhookRequest,
    WebhookSender,
    WebhookSubscriptions,
)

_log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
GENERATED_SECRET_BYTES = 32


class WebhookIntake:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        erased: ErasedCustomers,
        clock: Clock,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._erased = erased
        self._clock = clock

    async def record(self, messages: Sequence[SourceMessage]) -> int:
        """Write the deliveries of these messages (in their order); returns how many were due."""
        subscriptions = await self._subscriptions.active()
        now = self._clock()
        each = [new_deliveries(message, subscriptions) for message in messages]
        # After "customer.erased" nothing more is told about that person: a case event of theirs can
        # still arrive later (another topic, another partition).
        told = {
            delivery.customer_id
            for deliveries in each
            for delivery in deliveries
            if delivery.event_type is not WebhookEventType.CUSTOMER_ERASED
        }
        erased = await self._erased.erased(told) if told else set()
        written = 0
        waiting: list[NewDelivery] = []
        for message, deliveries in zip(messages, each, strict=True):
            if message.event is None and message.topic == PROFILES_TOPIC:
                await self._deliveries.add(waiting, now)
                written, waiting = written + len(waiting), []
                await self._deliveries.forget_customer(message.key)
            waiting += [delivery for delivery in deliveries if _still_told(delivery, erased)]
        await self._deliveries.add(waiting, now)
        return written + len(waiting)


def _still_told(delivery: NewDelivery, erased: Collection[str]) -> bool:
    return delivery.customer_id not in erased or delivery.event_type is WebhookEventType.CUSTOMER_ERASED


class WebhookDispatcher:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        sender: WebhookSender,
        clock: Clock,
        *,
        schedule: RetrySchedule,
        lease: timedelta,
        batch_size: int,
        concurrency: int,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._sender = sender
        self._clock = clock
        self._schedule = schedule
        self._lease = lease
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, poll_seconds: float) -> None:
        """Dispatch until cancelled; sleep when nothing was due (or the database failed)."""
        while True:
            try:
                made = await self.dispatch_once()
            except Exception as error:  # the database away: deliveries wait, nothing is lost
                _log.error("webhook dispatch failed (%s)", type(error).__name__)
                made = 0
            if not made:
                await asyncio.sleep(poll_seconds)

    async def dispatch_once(self) -> int:
        """Attempt every due lane head once; returns the attempts made."""
        now = self._clock()
        active = {
            subscription.subscription_id: subscription for subscription in await self._subscriptions.active()
        }
        candidates = [
            pending
            for pending in await self._deliveries.due(now, self._batch_size)
            if pending.lane.subscription_id in active
        ]
        if not candidates:
            return 0
        heads = await self._deliveries.heads({pending.lane for pending in candidates})
        plan = plan_dispatch(candidates, heads, now, lease=self._lease)
        # Before the attempts: finishing a head releases its next delivery, which a later hold would undo.
        await asyncio.gather(*(self._deliveries.hold(head, until) for head, until in plan.hold))
        made = await asyncio.gather(
            *(self._attempt(head, active[head.lane.subscription_id]) for head in plan.attempt)
        )
        return sum(made)

    async def _attempt(self, head: PendingDelivery, subscription: Subscription) -> int:
        async with self._slots:
            now = self._clock()
            claimed = await self._deliveries.claim(head.delivery_id, now, now + self._lease)
            if claimed is None:  # finished meanwhile, or another dispatcher has it
                return 0
            result = await self._sender.send(
                WebhookRequest(subscription.url, subscription.secret, head.event_id, claimed.body, now)
            )
            after = self._clock()
            settlement = settle(claimed.pending, outcome_of(result.status_code), after, self._schedule)
            # False when replayed, cancelled or claimed again meanwhile: that stands.
            settled = await self._deliveries.settle(claimed, settlement, at=after, result=result.reason)
        if settlement.unsubscribe:  # the receiver is gone, whatever happened to this delivery meanwhile
            # Other lanes of the subscription may answer 410 in the same pass: the first one tells.
            if await self._subscriptions.unsubscribe(subscription.subscription_id, after):
                _log.warning("webhook %s answered 410: unsubscribed", subscription.subscription_id)
            await self._deliveries.cancel_pending(subscription.subscription_id, after)
        elif settled and settlement.status is not DeliveryStatus.PENDING:
            if settlement.status is DeliveryStatus.DEAD:
                _log.warning(
                    "webhook delivery %s dead after %d attempts (%s)",
                    head.delivery_id,
                    settlement.attempts,
                    result.reason,
                )
            await self._deliveries.release(head.lane, after)
        return 1


class InvalidWebhookError(ValueError):
    """A subscription refused; ``field`` and ``str()`` are safe to return (they never quote values)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class Refused(StrEnum):
    NOT_FOUND = "not_found"
    NOT_ACTIVE = "not_active"  # unsubscribed by its receiver: create a new subscription


class WebhookAdmin:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        clock: Clock,
        *,
        allow_insecure_urls: bool,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._clock = clock
        self._allow_insecure = allow_insecure_urls

    async def create(
        self, *, url: str, events: Collection[WebhookEventType], secret: str | None, created_by: str
    ) -> Subscription:
        """A new active subscription; the caller's secret, or a generated one (shown once, by the API)."""
        if (problem := url_problem(url, allow_insecure=self._allow_insecure)) is not None:
            raise InvalidWebhookError("url", problem)
        if secret is not None and (problem := secret_problem(secret)) is not None:
            raise InvalidWebhookError("secret", problem)
        now = self._clock()
        subscription = Subscription(
            subscription_id=str(uuid.uuid4()),
            url=url,
            events=frozenset(events),
            status=SubscriptionStatus.ACTIVE,
            # Whole milliseconds, as stored: "published at or after creation" compares with the stored value.
            created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
            created_by=created_by,
            secret=secret or secret_from(secrets.token_bytes(GENERATED_SECRET_BYTES)),
        )
        await self._subscriptions.add(subscription)
        _log.info("webhook %s created by %s", subscription.subscription_id, created_by)
        return subscription

    async def every(self, limit: int) -> list[Subscription]:
        return await self._subscriptions.every(limit)

    async def get(self, subscription_id: str) -> Subscription | None:
        return await self._subscriptions.get(subscription_id)

    async def delete(self, subscription_id: str) -> bool:
        if not await self._subscriptions.remove(subscription_id):
            return False
        await self._deliveries.remove_subscription(subscription_id)
        _log.info("webhook %s deleted", subscription_id)
        return True

    async def deliveries(
        self, subscription_id: str, *, status: DeliveryStatus | None, limit: int, before: str | None
    ) -> list[DeliveryRecord] | None:
        if await self._subscriptions.get(subscription_id) is None:
            return None
        return await self._deliveries.page(subscription_id, status=status, limit=limit, before=before)

    async def replay(
        self, subscription_id: str, *, event_id: str | None = None, since: datetime | None = None
    ) -> int | Refused:
        """Send one delivery again, or every one published since a time (same ``webhook-id``: a receiver
        that kept it may drop it)."""
        subscription = await self._subscriptions.get(subscription_id)
        if subscription is None:
            return Refused.NOT_FOUND
        if subscription.status is not SubscriptionStatus.ACTIVE:
            return Refused.NOT_ACTIVE
        if event_id is not None and await self._deliveries.get(subscription_id, event_id) is None:
            return Refused.NOT_FOUND
        count = await self._deliveries.replay(
            subscription_id, now=self._clock(), event_id=event_id, since=since
        )
        _log.info("webhook %s: %d deliveries replayed", subscription_id, count)
        return count
