"""Webhook subscriptions (``profile_webhooks``) and deliveries (``profile_webhook_deliveries``) in MongoDB
(portable subset: upserts with ``$setOnInsert``, ``find_one_and_update`` as a lease, ``$max``).

A delivery's ``_id`` is ``<subscription id>:<event id>``, so a message consumed twice writes it once. A
dispatcher takes a delivery by setting ``lease_until`` where it had passed, so two dispatchers never
attempt one delivery at once; a dispatcher that dies leaves a lease that simply runs out.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document
from services.profile.core.webhooks import (
    DeliveryStatus,
    Lane,
    NewDelivery,
    PendingDelivery,
    Settlement,
    Subscription,
    SubscriptionStatus,
    WebhookEventType,
)
from services.profile.indexes import WEBHOOK_DELIVERIES_COLLECTION, WEBHOOKS_COLLECTION
from services.profile.ports import ClaimedDelivery, DeliveryRecord

# "Not leased": a lease filter then needs no ``$exists`` branch.
_NO_LEASE = datetime(1970, 1, 1, tzinfo=UTC)
_PENDING = DeliveryStatus.PENDING.value


class MongoWebhookSubscriptions:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._subscriptions = db[WEBHOOKS_COLLECTION]

    async def add(self, subscription: Subscription) -> None:
        await self._subscriptions.insert_one(
            {
                "_id": subscription.subscription_id,
                "url": subscription.url,
                "events": sorted(event.value for event in subscription.events),
                "status": subscription.status.value,
                "created_at": subscription.created_at,
                "created_by": subscription.created_by,
                "secret": subscription.secret,
            }
        )

    async def get(self, subscription_id: str) -> Subscription | None:
        document = await self._subscriptions.find_one({"_id": subscription_id})
        return None if document is None else _subscription(document)

    async def every(self, limit: int) -> list[Subscription]:
        cursor = self._subscriptions.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_subscription(document) async for document in cursor.limit(limit)]

    async def active(self) -> list[Subscription]:
        cursor = self._subscriptions.find({"status": SubscriptionStatus.ACTIVE.value})
        return [_subscription(document) async for document in cursor]

    async def remove(self, subscription_id: str) -> bool:
        return (await self._subscriptions.delete_one({"_id": subscription_id})).deleted_count == 1

    async def unsubscribe(self, subscription_id: str, at: datetime) -> bool:
        result = await self._subscriptions.update_one(
            {"_id": subscription_id, "status": SubscriptionStatus.ACTIVE.value},
            {"$set": {"status": SubscriptionStatus.UNSUBSCRIBED.value, "unsubscribed_at": at}},
        )
        return result.modified_count == 1


def _subscription(document: Document) -> Subscription:
    return Subscription(
        subscription_id=document["_id"],
        url=document["url"],
        events=frozenset(WebhookEventType(event) for event in document["events"]),
        status=SubscriptionStatus(document["status"]),
        created_at=document["created_at"],
        created_by=document["created_by"],
        secret=document["secret"],
    )


class MongoWebhookDeliveries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._deliveries = db[WEBHOOK_DELIVERIES_COLLECTION]

    async def add(self, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        if not deliveries:
            return
        writes = [
            UpdateOne(
                {"_id": delivery.delivery_id},
                {
                    "$setOnInsert": {
                        "subscription_id": delivery.subscription_id,
                        "event_id": delivery.event_id,
                        "event_type": delivery.event_type.value,
                        "customer_id": delivery.customer_id,
                        "sequence": delivery.sequence,
                        "published_at": delivery.published_at,
                        "body": delivery.body,
                        "status": _PENDING,
                        "attempts": 0,
                        "pending_since": now,
                        "next_attempt_at": now,
                        "lease_until": _NO_LEASE,
                    }
                },
                upsert=True,
            )
            for delivery in deliveries
        ]
        await self._deliveries.bulk_write(writes, ordered=True)

    async def forget_customer(self, customer_id: str) -> int:
        result = await self._deliveries.delete_many(
            {"customer_id": customer_id, "event_type": {"$ne": WebhookEventType.CUSTOMER_ERASED.value}}
        )
        return result.deleted_count

    async def due(self, now: datetime, limit: int) -> list[PendingDelivery]:
        cursor = self._deliveries.find(
            {"status": _PENDING, "next_attempt_at": {"$lte": now}}, _PENDING_FIELDS
        ).sort([("next_attempt_at", ASCENDING)])
        return [_pending(document) async for document in cursor.limit(limit)]

    async def heads(self, lanes: Collection[Lane]) -> dict[Lane, PendingDelivery]:
        """The oldest pending delivery of each lane, in one read of the lanes' pending deliveries (one
        query per lane cost a collection scan each on mongo-java-server, which ignores non-unique indexes)."""
        if not lanes:
            return {}
        wanted = set(lanes)
        cursor = self._deliveries.find(
            {
                "subscription_id": {"$in": sorted({lane.subscription_id for lane in wanted})},
                "customer_id": {"$in": sorted({lane.customer_id for lane in wanted})},
                "status": _PENDING,
            },
            _PENDING_FIELDS,
        )
        heads: dict[Lane, PendingDelivery] = {}
        async for document in cursor:
            pending = _pending(document)
            known = heads.get(pending.lane)
            if pending.lane in wanted and (known is None or pending.sequence < known.sequence):
                heads[pending.lane] = pending
        return heads

    async def hold(self, head: PendingDelivery, until: datetime) -> None:
        await self._deliveries.update_many(
            {
                "subscription_id": head.lane.subscription_id,
                "customer_id": head.lane.customer_id,
                "status": _PENDING,
                "sequence": {"$gt": head.sequence},
            },
            {"$max": {"next_attempt_at": until}},
        )

    async def release(self, lane: Lane, now: datetime) -> None:
        if (head := (await self.heads([lane])).get(lane)) is not None:
            await self._deliveries.update_one(
                {"_id": head.delivery_id, "status": _PENDING}, {"$min": {"next_attempt_at": now}}
            )

    async def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> ClaimedDelivery | None:
        claim = uuid.uuid4().hex
        document = await self._deliveries.find_one_and_update(
            {"_id": delivery_id, "status": _PENDING, "lease_until": {"$lte": now}},
            # Not due again before the lease ends: a send that never settles (a crash) is retried then.
            {"$set": {"lease_until": lease_until, "claim": claim}, "$max": {"next_attempt_at": lease_until}},
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else ClaimedDelivery(_pending(document), document["body"], claim)

    async def settle(
        self, claimed: ClaimedDelivery, settlement: Settlement, *, at: datetime, result: str | None
    ) -> bool:
        fields: Document = {
            "status": settlement.status.value,
            "attempts": settlement.attempts,
            "last_attempt_at": at,
            "last_result": result,
            "lease_until": _NO_LEASE,
            "claim": None,
        }
        if settlement.status is DeliveryStatus.PENDING:
            fields["next_attempt_at"] = settlement.next_attempt_at
        else:
            fields["finished_at"] = at
        # Only under this very claim: a replay, a cancel or a later claim that came meanwhile stands.
        outcome = await self._deliveries.update_one(
            {"_id": claimed.pending.delivery_id, "status": _PENDING, "claim": claimed.claim}, {"$set": fields}
        )
        return outcome.matched_count == 1

    async def cancel_pending(self, subscription_id: str, at: datetime) -> int:
        result = await self._deliveries.update_many(
            {"subscription_id": subscription_id, "status": _PENDING},
            {
                "$set": {
                    "status": DeliveryStatus.CANCELLED.value,
                    "finished_at": at,
                    "lease_until": _NO_LEASE,
                    "claim": None,
                }
            },
        )
        return result.modified_count

    async def remove_subscription(self, subscription_id: str) -> int:
        return (await self._deliveries.delete_many({"subscription_id": subscription_id})).deleted_count

    async def page(
        self, subscription_id: str, *, status: DeliveryStatus | None, limit: int, before: str | None
    ) -> list[DeliveryRecord]:
        query: Document = {"subscription_id": subscription_id}
        if status is not None:
            query["status"] = status.value
        if before is not None:
            query["sequence"] = {"$lt": before}
        cursor = self._deliveries.find(query, _RECORD_FIELDS).sort([("sequence", DESCENDING)])
        return [_record(document) async for document in cursor.limit(limit)]

    async def get(self, subscription_id: str, event_id: str) -> DeliveryRecord | None:
        document = await self._deliveries.find_one({"_id": f"{subscription_id}:{event_id}"}, _RECORD_FIELDS)
        return None if document is None else _record(document)

    async def replay(
        self,
        subscription_id: str,
        *,
        now: datetime,
        event_id: str | None = None,
        since: datetime | None = None,
    ) -> int:
        query: Document = {"subscription_id": subscription_id}
        if event_id is not None:
            query["_id"] = f"{subscription_id}:{event_id}"
        if since is not None:
            query["published_at"] = {"$gte": since}
        result = await self._deliveries.update_many(
            query,
            {
                "$set": {
                    "status": _PENDING,
                    "attempts": 0,
                    "pending_since": now,
                    "next_attempt_at": now,
                    "lease_until": _NO_LEASE,
                    "claim": None,
                },
                "$unset": {"finished_at": ""},
            },
        )
        return result.matched_count


_PENDING_FIELDS = {
    "event_id": True,
    "subscription_id": True,
    "customer_id": True,
    "sequence": True,
    "next_attempt_at": True,
    "attempts": True,
    "pending_since": True,
}


# Inclusion projections only (the portable subset): the log never reads the bodies.
_RECORD_FIELDS = {
    name: True
    for name in (
        "subscription_id",
        "event_id",
        "event_type",
        "customer_id",
        "sequence",
        "status",
        "attempts",
        "published_at",
        "next_attempt_at",
        "last_attempt_at",
        "last_result",
        "finished_at",
    )
}


def _pending(document: Document) -> PendingDelivery:
    return PendingDelivery(
        delivery_id=document["_id"],
        event_id=document["event_id"],
        lane=Lane(document["subscription_id"], document["customer_id"]),
        sequence=document["sequence"],
        next_attempt_at=document["next_attempt_at"],
        attempts=document["attempts"],
        pending_since=document["pending_since"],
    )


def _record(document: Document) -> DeliveryRecord:
    status = DeliveryStatus(document["status"])
    return DeliveryRecord(
        subscription_id=document["subscription_id"],
        event_id=document["event_id"],
        event_type=WebhookEventType(document["event_type"]),
        customer_id=document["customer_id"],
        sequence=document["sequence"],
        status=status,
        attempts=document["attempts"],
        published_at=document["published_at"],
        next_attempt_at=document["next_attempt_at"] if status is DeliveryStatus.PENDING else None,
        last_attempt_at=document.get("last_attempt_at"),
        last_result=document.get("last_result"),
        finished_at=document.get("finished_at"),
    )
