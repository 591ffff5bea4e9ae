"""Reads of the profile collections for the API: one document per customer, one per link, a customer's
timeline by its ``by_customer_time`` index. Nothing here writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document, coalescing_finder
from services.profile.adapters.outbound.documents import (
    case_from_document,
    facts_from_document,
    merge_from_document,
)
from services.profile.indexes import (
    CASE_OWNERS_COLLECTION,
    CUSTOMERS_COLLECTION,
    LINKS_COLLECTION,
    MERGES_COLLECTION,
    TIMELINE_COLLECTION,
)
from services.profile.ports import (
    CustomerRecord,
    CustomerSummary,
    StoredMerge,
    TimelineItem,
    TimelinePosition,
)

# What a timeline entry says beyond its kind, channel and time.
_DETAIL_FIELDS = (
    "contact",
    "order",
    "experience",
    "phone_step",
    "attributes",
    "consent",
    "case_close",
    "web",
    "assignment",
    "notification",
    "feedback",
)
# The writer's bookkeeping stays out of reads.
_READ_SIDE = {"write_ids": 0, "outbox": 0, "published": 0, "link_counts": 0}


class MongoProfileReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._links = db[LINKS_COLLECTION]
        self._timeline = db[TIMELINE_COLLECTION]
        self._customers = db[CUSTOMERS_COLLECTION]
        self._case_owners = db[CASE_OWNERS_COLLECTION]
        self._merges = db[MERGES_COLLECTION]
        # A lookup is two reads by ``_id``; concurrent lookups share them (see ``coalescing_finder``).
        self._customer_by_id = coalescing_finder(self._customers, _READ_SIDE)
        self._link_by_key = coalescing_finder(self._links, {"customer_id": 1})

    async def customer(self, customer_id: str) -> CustomerRecord | None:
        [document] = await self._customer_by_id.submit([customer_id])
        if document is None:
            return None
        cases = [case_from_document(raw) for raw in document.get("cases", [])]
        return CustomerRecord(
            customer_id=document["_id"],
            facts=facts_from_document(document),
            summary=_summary(document.get("summary")),
            merged_into=document.get("merged_into"),
            cases=tuple(sorted(cases, key=lambda c: (c.last_activity_at, c.case_id), reverse=True)),
        )

    async def merge(self, merge_id: str) -> StoredMerge | None:
        document = await self._merges.find_one({"_id": merge_id})
        return None if document is None else merge_from_document(document)

    async def merges_of(self, customer_id: str) -> list[StoredMerge]:
        query = {"$or": [{"survivor_id": customer_id}, {"merged_away_id": customer_id}]}
        merges = [merge_from_document(document) async for document in self._merges.find(query)]
        return sorted(merges, key=lambda m: (m.record.merged_at, m.record.merge_id), reverse=True)

    async def case_owner(self, case_id: str) -> str | None:
        document = await self._case_owners.find_one({"_id": case_id})
        return None if document is None else str(document["customer_id"])

    async def linked_customer(self, key: str) -> str | None:
        [document] = await self._link_by_key.submit([key])
        return None if document is None else str(document["customer_id"])

    async def timeline(
        self,
        customer_id: str,
        *,
        limit: int,
        before: TimelinePosition | None = None,
        channel: str | None = None,
        kind: str | None = None,
        case_id: str | None = None,
    ) -> list[TimelineItem]:
        query: dict[str, Any] = {"customer_id": customer_id}
        if case_id is not None:
            query["case_id"] = case_id
        if channel is not None:
            query["channel"] = channel
        if kind is not None:
            query["kind"] = kind
        if before is not None:
            query["$or"] = [
                {"occurred_at": {"$lt": before.occurred_at}},
                {"occurred_at": before.occurred_at, "_id": {"$lt": before.event_id}},
            ]
        cursor = (
            self._timeline.find(query, {"identifiers": 0})
            .sort([("occurred_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_timeline_item(document) async for document in cursor]


def _summary(raw: Document | None) -> CustomerSummary | None:
    if not raw:
        return None
    return CustomerSummary(
        tier=raw["tier"],
        historic_value=Decimal(raw["historic_value"]),
        predicted_lifetime_value=Decimal(raw["predicted_lifetime_value"]),
        lifecycle=raw["lifecycle"],
        needs_recovery=raw["needs_recovery"],
        recovery_reason=raw.get("recovery_reason"),
        language=raw.get("language"),
        preferred_channel=raw.get("preferred_channel"),
        last_agent=raw.get("last_agent"),
        as_of=raw["as_of"],
        recency_days=raw.get("recency_days"),
        frequency=raw.get("frequency"),
        monetary=None if raw.get("monetary") is None else Decimal(raw["monetary"]),
        orders_without_rate=raw.get("orders_without_rate", 0),
    )


def _timeline_item(document: Document) -> TimelineItem:
    return TimelineItem(
        event_id=document["_id"],
        occurred_at=document["occurred_at"],
        kind=document["kind"],
        event_type=document["type"],
        channel=document["channel"],
        source=document["source"],
        details={name: document[name] for name in _DETAIL_FIELDS if document.get(name)},
        case_id=document.get("case_id"),
    )
