"""A delivery's outcome is recorded only under the claim that made the attempt: a replay, a cancel or a
later claim (after a lease ran out) that came while the attempt was on its way stands. Against the real
MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.mongo_webhooks import MongoWebhookDeliveries
from services.profile.core.webhooks import DeliveryStatus, NewDelivery, Settlement, WebhookEventType
from services.profile.indexes import INDEXES
from tests.support.databases import own_database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
DELIVERED = Settlement(DeliveryStatus.DELIVERED, attempts=1)


@pytest.fixture
async def deliveries(infra: CommonSettings) -> AsyncIterator[MongoWebhookDeliveries]:
    db: AsyncDatabase[Document]
    async with own_database(infra, "profile-webhook-claims", INDEXES) as db:
        store = MongoWebhookDeliveries(db)
        await store.add(
            [
                NewDelivery(
                    "sub-1:event-1",
                    "sub-1",
                    "event-1",
                    WebhookEventType.CUSTOMER_UPDATED,
                    "customer-1",
                    "0001",
                    NOW,
                    '{"id":"event-1"}',
                )
            ],
            NOW,
        )
        yield store


async def status_of(store: MongoWebhookDeliveries) -> tuple[DeliveryStatus, int]:
    record = await store.get("sub-1", "event-1")
    assert record is not None
    return record.status, record.attempts


async def test_an_attempt_settles_its_own_claim(deliveries: MongoWebhookDeliveries) -> None:
    claimed = await deliveries.claim("sub-1:event-1", NOW, NOW + LEASE)
    assert claimed is not None
    assert await deliveries.settle(claimed, DELIVERED, at=NOW, result=None)
    assert await status_of(deliveries) == (DeliveryStatus.DELIVERED, 1)


async def test_a_replay_during_an_attempt_stands(deliveries: MongoWebhookDeliveries) -> None:
    claimed = await deliveries.claim("sub-1:event-1", NOW, NOW + LEASE)
    assert claimed is not None
    assert await deliveries.replay("sub-1", now=NOW + timedelta(seconds=1), event_id="event-1") == 1

    assert not await deliveries.settle(claimed, DELIVERED, at=NOW + timedelta(seconds=2), result=None)
    # Still to be sent again, as the replay asked: the attempt that was on its way does not count.
    assert await status_of(deliveries) == (DeliveryStatus.PENDING, 0)
    again = await deliveries.claim("sub-1:event-1", NOW + timedelta(seconds=3), NOW + LEASE)
    assert again is not None


async def test_a_late_attempt_after_its_lease_ran_out_leaves_the_new_claim_alone(
    deliveries: MongoWebhookDeliveries,
) -> None:
    first = await deliveries.claim("sub-1:event-1", NOW, NOW + LEASE)
    assert first is not None
    later = NOW + LEASE + timedelta(seconds=1)
    second = await deliveries.claim("sub-1:event-1", later, later + LEASE)
    assert second is not None
    assert second.claim != first.claim

    failed = Settlement(DeliveryStatus.PENDING, attempts=1, next_attempt_at=later + timedelta(minutes=5))
    assert not await deliveries.settle(first, failed, at=later, result="timeout")
    assert await deliveries.settle(second, DELIVERED, at=later, result=None)
    assert await status_of(deliveries) == (DeliveryStatus.DELIVERED, 1)


async def test_a_cancel_during_an_attempt_stands(deliveries: MongoWebhookDeliveries) -> None:
    claimed = await deliveries.claim("sub-1:event-1", NOW, NOW + LEASE)
    assert claimed is not None
    assert await deliveries.cancel_pending("sub-1", NOW) == 1
    assert not await deliveries.settle(claimed, DELIVERED, at=NOW, result=None)
    assert await status_of(deliveries) == (DeliveryStatus.CANCELLED, 0)
