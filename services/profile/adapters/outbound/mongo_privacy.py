"""Export and erase in MongoDB (portable subset: finds, ``delete_many``, upserts by ``_id``, ``$max``,
``$inc``; no transactions), and the suppressions the worker reads per batch.

``profile_erasures`` holds three kinds of documents, all addressed by ``_id`` (mongo-java-server answers
only unique-index queries without a scan, so every read here is by ``_id``):

- ``{_id: <erasure id>, kind: "erasure", customer_id, customer_ids, key_hashes, erased_at,
  deleted: {<collection>: n}, tombstones, completed}`` — the receipt;
- ``{_id: "customer:<customer id>", kind: "customer", erasure_id, erased_at}`` — the latest erase of a
  customer id;
- ``{_id: "key:<sha256 of an identifier key>", kind: "key", erased_at}`` — a suppression; a key erased
  twice keeps the later time.

Nothing in it is readable personal data: customer ids are the service's own random-looking ids and
identifier keys are kept only as hashes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from schemas.identifiers import ALREADY_NORMALISED, CustomerIdentifier
from services.common.mongo import Document, find_by_ids
from services.profile.core.erasure import ErasurePlan, ErasureReceipt
from services.profile.indexes import (
    CASE_OWNERS_COLLECTION,
    CUSTOMERS_COLLECTION,
    ERASURES_COLLECTION,
    LINKS_COLLECTION,
    MERGES_COLLECTION,
    REVIEWS_COLLECTION,
    TIMELINE_COLLECTION,
)
from services.profile.privacy import (
    CustomerDocument,
    LinkDocument,
    OtherDocument,
    PersonRecords,
    ReviewDocument,
    TimelineDocument,
)

# Every collection an erase deletes from, in the order it does (customers last: while any other
# document is left, the receipt still names the customer ids to finish with).
ERASED_COLLECTIONS = (
    TIMELINE_COLLECTION,
    LINKS_COLLECTION,
    REVIEWS_COLLECTION,
    CASE_OWNERS_COLLECTION,
    MERGES_COLLECTION,
    CUSTOMERS_COLLECTION,
)

_CUSTOMER_PREFIX = "customer:"
_KEY_PREFIX = "key:"
# Bookkeeping of the profile store, not facts about the person: versions and writer ids, link counts,
# the fields last published and the outbox of messages still to publish (whose events may name other
# customers). The identifiers and cases are exported on their own.
_CUSTOMER_LEFT_OUT = (
    "_id",
    "version",
    "write_ids",
    "merged_into",
    "identifiers",
    "cases",
    "link_counts",
    "published",
    "outbox",
    "kept_apart",  # the customers an unmerge split from this one: other people
)
# A merge record keeps each side's customer id, events, identifier links and cases under these names.
_MERGE_SIDES = ("survivor", "merged_away")
_MERGE_SIDE_FIELDS = ("id", "event_ids", "links", "case_ids")


class MongoPrivacyStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._customers = db[CUSTOMERS_COLLECTION]
        self._links = db[LINKS_COLLECTION]
        self._erasures = db[ERASURES_COLLECTION]

    async def merge_parents(self, customer_ids: Collection[str]) -> dict[str, str | None]:
        if not customer_ids:
            return {}
        cursor = self._customers.find({"_id": {"$in": list(customer_ids)}}, {"merged_into": 1})
        return {document["_id"]: document.get("merged_into") async for document in cursor}

    async def merged_children(self, customer_ids: Collection[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        cursor = self._customers.find({"merged_into": {"$in": list(customer_ids)}}, {"merged_into": 1})
        return {document["_id"]: document["merged_into"] async for document in cursor}

    async def person(self, customer_ids: Collection[str]) -> PersonRecords:
        ids = list(customer_ids)
        if not ids:
            return PersonRecords()
        db = self._db
        customers = [
            CustomerDocument(
                customer_id=document["_id"],
                merged_into=document.get("merged_into"),
                identifiers=tuple(
                    CustomerIdentifier.model_validate(raw, context=ALREADY_NORMALISED)
                    for raw in document.get("identifiers", [])
                ),
                fields=_plain_fields(document, _CUSTOMER_LEFT_OUT),
                cases=tuple(_plain(case) for case in document.get("cases", [])),
            )
            async for document in db[CUSTOMERS_COLLECTION].find({"_id": {"$in": ids}})
        ]
        links = [
            LinkDocument(
                document["_id"], document["customer_id"], _plain_fields(document, ("_id", "customer_id"))
            )
            async for document in db[LINKS_COLLECTION].find({"customer_id": {"$in": ids}})
        ]
        timeline_cursor = (
            db[TIMELINE_COLLECTION]
            .find({"customer_id": {"$in": ids}})
            .sort([("occurred_at", ASCENDING), ("_id", ASCENDING)])
        )
        timeline = [
            TimelineDocument(
                event_id=document["_id"],
                customer_id=document["customer_id"],
                identifier_keys=tuple(document.get("identifiers", [])),
                fields=_plain_fields(document, ("_id", "customer_id", "identifiers", "identified_as")),
            )
            async for document in timeline_cursor
        ]
        reviews = [
            ReviewDocument(
                document["_id"],
                tuple(document.get("customers", [])),
                _plain_fields(document, ("_id", "customers")),
            )
            async for document in db[REVIEWS_COLLECTION].find({"customers": {"$in": ids}})
        ]
        cases = [
            OtherDocument(str(_plain(document["_id"])), _plain_fields(document, ("_id",)))
            async for document in db[CASE_OWNERS_COLLECTION].find({"customer_id": {"$in": ids}})
        ]
        merges = [
            OtherDocument(str(_plain(document["_id"])), _plain_fields(document, _other_sides(document, ids)))
            async for document in db[MERGES_COLLECTION].find(_merges_of(ids))
        ]
        return PersonRecords(customers, links, timeline, reviews, cases, merges)

    async def linked_customers(self, keys: Collection[str]) -> dict[str, str]:
        if not keys:
            return {}
        cursor = self._links.find({"_id": {"$in": list(keys)}}, {"customer_id": 1})
        return {document["_id"]: document["customer_id"] async for document in cursor}

    async def erased(self, customer_ids: Collection[str]) -> set[str]:
        pointers = [_CUSTOMER_PREFIX + customer_id for customer_id in customer_ids]
        cursor = self._erasures.find({"_id": {"$in": pointers}}, {"_id": 1})
        return {document["_id"].removeprefix(_CUSTOMER_PREFIX) async for document in cursor}

    async def erasure_of(self, customer_id: str) -> ErasureReceipt | None:
        pointer = await self._erasures.find_one({"_id": _CUSTOMER_PREFIX + customer_id})
        if pointer is None:
            return None
        return await self._receipt(pointer["erasure_id"])

    async def record_erasure(self, plan: ErasurePlan) -> None:
        await self._erasures.update_one(
            {"_id": plan.erasure_id},
            {
                "$setOnInsert": {
                    "kind": "erasure",
                    "customer_id": plan.customer_id,
                    "customer_ids": list(plan.customer_ids),
                    "key_hashes": list(plan.key_hashes),
                    "erased_at": plan.erased_at,
                    "deleted": {collection: 0 for collection in ERASED_COLLECTIONS},
                    "tombstones": 0,
                    "completed": False,
                }
            },
            upsert=True,
        )
        suppressions = [
            UpdateOne(
                {"_id": _KEY_PREFIX + digest},
                {"$max": {"erased_at": plan.erased_at}, "$setOnInsert": {"kind": "key"}},
                upsert=True,
            )
            for digest in plan.key_hashes
        ]
        pointers = [
            UpdateOne(
                {"_id": _CUSTOMER_PREFIX + customer_id},
                {"$set": {"kind": "customer", "erasure_id": plan.erasure_id, "erased_at": plan.erased_at}},
                upsert=True,
            )
            for customer_id in plan.customer_ids
        ]
        # Suppressions before pointers: once a pointer names the receipt, everything it needs is there.
        for operations in (suppressions, pointers):
            if operations:
                await self._erasures.bulk_write(operations, ordered=True)

    async def delete_person(self, erasure_id: str, customer_ids: Collection[str]) -> None:
        ids = list(customer_ids)
        filters: Mapping[str, Document] = {
            TIMELINE_COLLECTION: {"customer_id": {"$in": ids}},
            LINKS_COLLECTION: {"customer_id": {"$in": ids}},
            REVIEWS_COLLECTION: {"customers": {"$in": ids}},
            CASE_OWNERS_COLLECTION: {"customer_id": {"$in": ids}},
            MERGES_COLLECTION: _merges_of(ids),
            CUSTOMERS_COLLECTION: {"_id": {"$in": ids}},
        }
        for collection in ERASED_COLLECTIONS:
            result = await self._db[collection].delete_many(filters[collection])
            if result.deleted_count:
                await self._erasures.update_one(
                    {"_id": erasure_id}, {"$inc": {f"deleted.{collection}": result.deleted_count}}
                )

    async def complete_erasure(self, erasure_id: str, tombstones: int) -> ErasureReceipt:
        await self._erasures.update_one(
            {"_id": erasure_id}, {"$set": {"completed": True, "tombstones": tombstones}}
        )
        receipt = await self._receipt(erasure_id)
        if receipt is None:
            raise LookupError("the erasure receipt disappeared")
        return receipt

    async def suppressions(self, key_hashes: Collection[str]) -> dict[str, datetime]:
        if not key_hashes:
            return {}
        ids = [_KEY_PREFIX + digest for digest in set(key_hashes)]
        found = await find_by_ids(self._erasures, ids, {"erased_at": 1})
        return {document["_id"].removeprefix(_KEY_PREFIX): document["erased_at"] for document in found}

    async def _receipt(self, erasure_id: str) -> ErasureReceipt | None:
        document = await self._erasures.find_one({"_id": erasure_id, "kind": "erasure"})
        if document is None:
            return None
        return ErasureReceipt(
            erasure_id=document["_id"],
            customer_id=document["customer_id"],
            customer_ids=tuple(document["customer_ids"]),
            erased_at=document["erased_at"],
            deleted={str(name): int(count) for name, count in document.get("deleted", {}).items()},
            tombstones=int(document.get("tombstones", 0)),
            completed=bool(document.get("completed", False)),
        )


def _merges_of(customer_ids: list[str]) -> Document:
    return {"$or": [{"survivor_id": {"$in": customer_ids}}, {"merged_away_id": {"$in": customer_ids}}]}


def _other_sides(merge: Document, customer_ids: Collection[str]) -> tuple[str, ...]:
    """The fields of a merge record to leave out of the export of ``customer_ids``: ``_id`` (exported as
    the merge id) and every side that is not theirs. A merge in place joined two customers of one person;
    an undone one joined two people, and the other side's id, identifiers, events and cases are the other
    person's."""
    others = [side for side in _MERGE_SIDES if merge.get(f"{side}_id") not in customer_ids]
    return ("_id", *(f"{side}_{field}" for side in others for field in _MERGE_SIDE_FIELDS))


def _plain_fields(document: Document, leave_out: Collection[str]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in document.items() if name not in leave_out}


def _plain(value: Any) -> Any:
    """A stored value as JSON-ready Python (dates stay dates; BSON-only types become text)."""
    if isinstance(value, dict):
        return {str(name): _plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, ObjectId | Decimal128 | Decimal):
        return str(value)  # a Decimal128 prints as its decimal text
    if isinstance(value, bytes):
        return value.hex()
    return value
