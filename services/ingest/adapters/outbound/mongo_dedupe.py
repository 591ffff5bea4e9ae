"""Dedupe keys in MongoDB, shared by every ingest process and kept across restarts.

One document per key (its unique ``_id`` makes a claim atomic) holds the event id and the claim it
belongs to; one receipt per claim says the broker acknowledged its events. So a delivery costs one
document write per new key plus one per request, not two per key, and concurrent requests share their
round trips (group commit). Keys known to be published are remembered in memory as well: a redelivery
storm is answered without the database.

Receipts are written behind the answer: the broker's acknowledgement is what makes a delivery accepted,
and the receipt round trip on the request path cost a third of the single-request latency. Until its
receipt is stored, another process answers a redelivery "in flight" (409, retry shortly); should this
process die first, the claim goes stale and a redelivery publishes the same event id again, which
consumers dedupe - as when a process died between the acknowledgement and the receipt before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from services.common.coalescer import Coalescer
from services.common.mongo import Document, find_by_ids
from services.ingest.indexes import DEDUPE_COLLECTION, RECEIPTS_COLLECTION
from services.ingest.ports import Claim, ClaimState

DUPLICATE_KEY = 11000
_MAX_ITEMS_PER_WRITE = 1000
_RECEIPT_ATTEMPTS = 5
# Receipts are stored behind the answer, so they can wait for each other: at 1,000 single requests/s a
# receipt write each cost 25 % of the process's CPU (a database command is 150-200 µs of client CPU).
_RECEIPT_LINGER_SECONDS = 0.02

_log = logging.getLogger(__name__)


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
            self._write_receipts, max_items=_MAX_ITEMS_PER_WRITE, linger_seconds=_RECEIPT_LINGER_SECONDS
        )
        self._storing: set[asyncio.Task[None]] = set()
        # One for every flush: the coalescer runs them one at a time. A retrying object per use leaves
        # reference cycles behind.
        self._receipt_retrying = AsyncRetrying(
            retry=retry_if_exception_type(PyMongoError),
            stop=stop_after_attempt(_RECEIPT_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.05, max=2.0),
            reraise=True,
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
        """Remembers the keys at once; the receipt is stored behind the answer (see the module doc)."""
        if not claimed:
            return
        for key, event_id in claimed:
            self._published.add(key, event_id)
        task = asyncio.create_task(self._store_receipt(claim_id, now))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)

    async def settle(self) -> None:
        """Return once every receipt confirmed so far is stored or given up: before shutting down."""
        while self._storing:
            await asyncio.gather(*self._storing)

    async def _store_receipt(self, claim_id: str, now: datetime) -> None:
        try:
            await self._confirming.submit([(claim_id, now)])
        except PyMongoError as error:
            # The claim id is a random uuid, no personal data. Its keys go stale, see the module doc.
            _log.warning(
                "receipt of claim %s not stored after %d attempts: %s",
                claim_id,
                _RECEIPT_ATTEMPTS,
                type(error).__name__,
            )

    async def release(self, claim_id: str, keys: Sequence[str], now: datetime) -> None:
        if keys:
            # Kept with their event ids and already stale, so free to claim at once (and still inside the
            # dedupe window): a retry publishes the same event id. Under a claim id of their own, so a
            # receipt for the rest of their request's claim does not cover them.
            released_at = now - self._stale_after - timedelta(seconds=1)
            await self._claims.update_many(
                {"_id": {"$in": list(keys)}, "claim": claim_id},
                {"$set": {"claim": f"{claim_id}-released", "claimed_at": released_at}},
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
        """Retried here, for every receipt of the flush at once, by one retrying object: one per receipt
        (tenacity's state is a reference cycle) left garbage that only the cyclic collector frees, and at
        1,000 requests/s collecting it paused the process for 25-30 ms every second."""
        documents: list[Document] = [{"_id": claim_id, "published_at": now} for claim_id, now in receipts]
        async for attempt in self._receipt_retrying:
            with attempt:
                await self._insert_receipts(documents)
        return [None] * len(receipts)

    async def _insert_receipts(self, documents: list[Document]) -> None:
        try:
            await self._receipts.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            # A retry after a lost answer finds some receipts stored already: that is success.
            if any(entry.get("code") != DUPLICATE_KEY for entry in error.details.get("writeErrors", [])):
                raise

    @staticmethod
    async def _find(collection: AsyncCollection[Document], ids: set[str]) -> dict[str, Document]:
        if not ids:
            return {}
        return {document["_id"]: document for document in await find_by_ids(collection, ids)}
