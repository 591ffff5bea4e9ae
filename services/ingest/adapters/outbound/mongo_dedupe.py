"""Dedupe keys in MongoDB, shared by every ingest process and kept across restarts.

One document per key (its unique ``_id`` makes a claim atomic) holds the event id and the claim it
belongs to; one receipt per claim says the broker acknowledged its events. So a delivery costs one
document write per new key plus one per request, not two per key, and concurrent requests share their
round trips (group commit). Keys known to be published are remembered in memory as well: a redelivery
storm is answered without the database.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.common.coalescer import Coalescer
from services.common.mongo import Document, find_by_ids
from services.ingest.indexes import DEDUPE_COLLECTION, RECEIPTS_COLLECTION
from services.ingest.ports import Claim, ClaimState

DUPLICATE_KEY = 11000
_MAX_ITEMS_PER_WRITE = 1000


@dataclass(frozen=True)
class _Wanted:
    claim_id: str
    key: str
    event_id: str
    now: datetime


class _PublishedKeys:
    """The most recently published keys and their event ids (bounded, least recently used out)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._event_ids: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        event_id = self._event_ids.get(key)
        if event_id is not None:
            self._event_ids.move_to_end(key)
        return event_id

    def add(self, key: str, event_id: str) -> None:
        if self._capacity <= 0:
            return
        self._event_ids[key] = event_id
        self._event_ids.move_to_end(key)
        while len(self._event_ids) > self._capacity:
            self._event_ids.popitem(last=False)


class MongoDedupeStore:
    def __init__(self, db: AsyncDatabase[Document], *, stale_after: timedelta, remembered: int) -> None:
        self._claims = db[DEDUPE_COLLECTION]
        self._receipts = db[RECEIPTS_COLLECTION]
        # A claim older than this without a receipt belongs to a process that died mid-publish.
        self._stale_after = stale_after
        self._published = _PublishedKeys(remembered)
        self._claiming: Coalescer[_Wanted, Claim] = Coalescer(self._claim, max_items=_MAX_ITEMS_PER_WRITE)
        self._confirming: Coalescer[tuple[str, datetime], None] = Coalescer(
            self._write_receipts, max_items=_MAX_ITEMS_PER_WRITE
        )

    async def claim_many(
        self, claim_id: str, wanted: Sequence[tuple[str, str]], now: datetime
    ) -> list[Claim]:
        claims: list[Claim | None] = []
        unknown: list[_Wanted] = []
        for key, event_id in wanted:
            published = self._published.get(key)
            claims.append(None if published is None else Claim(ClaimState.PUBLISHED, published))
            if published is None:
                unknown.append(_Wanted(claim_id, key, event_id, now))
        answers = iter(await self._claiming.submit(unknown))
        return [claim if claim is not None else next(answers) for claim in claims]

    async def confirm(self, claim_id: str, claimed: Sequence[tuple[str, str]], now: datetime) -> None:
        if not claimed:
            return
        await self._confirming.submit([(claim_id, now)])
        for key, event_id in claimed:
            self._published.add(key, event_id)

    async def release(self, claim_id: str, keys: Sequence[str], now: datetime) -> None:
        if keys:
            # Kept with their event ids and already stale, so free to claim at once (and still inside the
            # dedupe window): a retry publishes the same event id.
            released_at = now - self._stale_after - timedelta(seconds=1)
            await self._claims.update_many(
                {"_id": {"$in": list(keys)}, "claim": claim_id}, {"$set": {"claimed_at": released_at}}
            )

    async def _claim(self, wanted: list[_Wanted]) -> list[Claim]:
        documents = [
            {"_id": w.key, "event_id": w.event_id, "claim": w.claim_id, "claimed_at": w.now} for w in wanted
        ]
        taken: set[int] = set()
        try:
            await self._claims.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(entry.get("code") != DUPLICATE_KEY for entry in errors):
                raise
            taken = {entry["index"] for entry in errors}
        if not taken:
            return [Claim(ClaimState.NEW, w.event_id) for w in wanted]
        existing = await self._find(self._claims, {wanted[index].key for index in taken})
        receipts = await self._find(self._receipts, {document["claim"] for document in existing.values()})
        claims = []
        for index, w in enumerate(wanted):
            if index not in taken:
                claims.append(Claim(ClaimState.NEW, w.event_id))
            else:
                claims.append(await self._resolve(existing[w.key], receipts, w))
        return claims

    async def _resolve(self, document: Document, receipts: dict[str, Document], wanted: _Wanted) -> Claim:
        event_id: str = document["event_id"]
        if document["claim"] in receipts:
            self._published.add(wanted.key, event_id)
            return Claim(ClaimState.PUBLISHED, event_id)
        if document["claim"] == wanted.claim_id or document["claimed_at"] > wanted.now - self._stale_after:
            return Claim(ClaimState.IN_FLIGHT, event_id)
        # Compare-and-set on the claim: of two processes taking over, exactly one wins.
        result = await self._claims.update_one(
            {"_id": wanted.key, "claim": document["claim"], "claimed_at": document["claimed_at"]},
            {"$set": {"claim": wanted.claim_id, "claimed_at": wanted.now}},
        )
        return Claim(ClaimState.NEW if result.modified_count == 1 else ClaimState.IN_FLIGHT, event_id)

    async def _write_receipts(self, receipts: list[tuple[str, datetime]]) -> list[None]:
        await self._receipts.insert_many(
            [{"_id": claim_id, "published_at": now} for claim_id, now in receipts], ordered=False
        )
        return [None] * len(receipts)

    @staticmethod
    async def _find(collection: AsyncCollection[Document], ids: set[str]) -> dict[str, Document]:
        if not ids:
            return {}
        return {document["_id"]: document for document in await find_by_ids(collection, ids)}
