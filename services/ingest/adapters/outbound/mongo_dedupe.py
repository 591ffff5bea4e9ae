"""Dedupe keys in MongoDB: the unique ``_id`` makes a claim atomic across processes and restarts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.common.mongo import Document
from services.ingest.ports import Claim, ClaimState

DUPLICATE_KEY = 11000
_RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


class MongoDedupeStore:
    def __init__(self, collection: AsyncCollection[Document], stale_after: timedelta) -> None:
        self._collection = collection
        # A claim older than this belongs to a process that died mid-publish: take it over.
        self._stale_after = stale_after

    async def claim_many(self, wanted: Sequence[tuple[str, str]], now: datetime) -> list[Claim]:
        documents = [
            {"_id": key, "event_id": event_id, "state": "pending", "claimed_at": now}
            for key, event_id in wanted
        ]
        taken: set[str] = set()
        try:
            await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(entry.get("code") != DUPLICATE_KEY for entry in errors):
                raise
            taken = {documents[entry["index"]]["_id"] for entry in errors}
        existing = await self._existing(taken)
        claims = []
        for key, event_id in wanted:
            if key not in taken:
                claims.append(Claim(ClaimState.NEW, event_id))
            else:
                claims.append(await self._resolve(existing[key], now))
        return claims

    async def _existing(self, keys: set[str]) -> dict[str, Document]:
        if not keys:
            return {}
        return {
            document["_id"]: document
            async for document in self._collection.find({"_id": {"$in": list(keys)}})
        }

    async def _resolve(self, document: Document, now: datetime) -> Claim:
        if document["state"] == "published":
            return Claim(ClaimState.PUBLISHED, document["event_id"])
        if document["claimed_at"] > now - self._stale_after:
            return Claim(ClaimState.IN_FLIGHT, document["event_id"])
        # Compare-and-set on claimed_at: of two processes taking over, exactly one wins.
        result = await self._collection.update_one(
            {"_id": document["_id"], "state": "pending", "claimed_at": document["claimed_at"]},
            {"$set": {"claimed_at": now}},
        )
        state = ClaimState.NEW if result.modified_count == 1 else ClaimState.IN_FLIGHT
        return Claim(state, document["event_id"])

    async def confirm_many(self, keys: Sequence[str], now: datetime) -> None:
        if keys:
            await self._collection.update_many(
                {"_id": {"$in": list(keys)}}, {"$set": {"state": "published", "published_at": now}}
            )

    async def release_many(self, keys: Sequence[str]) -> None:
        if keys:
            await self._collection.update_many(
                {"_id": {"$in": list(keys)}, "state": "pending"}, {"$set": {"claimed_at": _RELEASED}}
            )
