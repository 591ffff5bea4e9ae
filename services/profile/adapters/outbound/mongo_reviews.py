"""Merges held for review (``profile_reviews``, written by the worker): listed and decided through the API.
A decision is a compare-and-set on the open status, so two operators never both decide one review."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import Document
from services.profile.core.identity import ReviewReason
from services.profile.indexes import REVIEWS_COLLECTION
from services.profile.ports import Review, ReviewStatus


class MongoReviews:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._reviews = db[REVIEWS_COLLECTION]

    async def in_status(self, status: ReviewStatus, limit: int) -> list[Review]:
        cursor = self._reviews.find({"status": status.value}).sort(
            [("held_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [_review(document) async for document in cursor.limit(limit)]

    async def get(self, review_id: str) -> Review | None:
        document = await self._reviews.find_one({"_id": review_id})
        return None if document is None else _review(document)

    async def decide(self, review_id: str, status: ReviewStatus, by: str, at: datetime) -> bool:
        result = await self._reviews.update_one(
            {"_id": review_id, "status": ReviewStatus.OPEN.value},
            {"$set": {"status": status.value, "decided_by": by, "decided_at": at}},
        )
        return result.modified_count == 1


def _review(document: Document) -> Review:
    return Review(
        review_id=document["_id"],
        reason=ReviewReason(document["reason"]),
        customers=tuple(document["customers"]),
        held_at=document["held_at"],
        status=ReviewStatus(document["status"]),
        decided_by=document.get("decided_by"),
        decided_at=document.get("decided_at"),
    )
