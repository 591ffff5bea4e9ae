"""The profile store in MongoDB (portable subset: unique ``_id`` inserts, compare-and-set updates,
unordered bulk writes; no transactions).

Per batch, when nothing races: three reads (timeline ids, links, customers) and three bulk writes (new
links, changed customers with their cases, link counts and outgoing messages, timeline entries).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from schemas.identifiers import IdentifierKind
from services.common.mongo import Document, find_by_ids
from services.profile.adapters.outbound.customer_cache import CustomerCache, stored_after
from services.profile.adapters.outbound.documents import (
    customer_document,
    link_document,
    link_from_document,
    merge_document,
    merge_from_document,
    observed_from_timeline,
    outbox_document,
    stored_customer,
    timeline_document,
)
from services.profile.core.identity import Link, LinkRule
from services.profile.core.merge import MergeRecord
from services.profile.core.observe import ObservedEvent
from services.profile.indexes import (
    CASE_OWNERS_COLLECTION,
    CUSTOMERS_COLLECTION,
    LINKS_COLLECTION,
    MERGES_COLLECTION,
    REVIEWS_COLLECTION,
    TIMELINE_COLLECTION,
)
from services.profile.ports import (
    CustomerWrite,
    Holding,
    ReviewHold,
    StoredCustomer,
    StoredLink,
    StoredMerge,
    TimelineEntry,
)

DUPLICATE_KEY = 11000
# The last writers of a customer, so a writer can tell whether its compare-and-set won.
_REMEMBERED_WRITES = 16


class MongoProfileStore:
    def __init__(self, db: AsyncDatabase[Document], cache: CustomerCache | None = None) -> None:
        self._cache = CustomerCache(0) if cache is None else cache
        self._links = db[LINKS_COLLECTION]
        self._timeline = db[TIMELINE_COLLECTION]
        self._customers = db[CUSTOMERS_COLLECTION]
        self._reviews = db[REVIEWS_COLLECTION]
        self._case_owners = db[CASE_OWNERS_COLLECTION]
        self._merges = db[MERGES_COLLECTION]

    async def recorded(self, event_ids: Collection[str]) -> set[str]:
        if not event_ids:
            return set()
        return {document["_id"] for document in await find_by_ids(self._timeline, event_ids, {"_id": 1})}

    async def links(self, keys: Collection[str]) -> dict[str, StoredLink]:
        if not keys:
            return {}
        found = await find_by_ids(self._links, keys, {"customer_id": 1, "linked_at": 1})
        return {
            document["_id"]: StoredLink(document["customer_id"], document["linked_at"]) for document in found
        }

    async def link_counts(self, customer_ids: Collection[str]) -> dict[str, dict[IdentifierKind, int]]:
        counts: dict[str, dict[IdentifierKind, int]] = {}
        if not customer_ids:
            return counts
        cursor = self._links.find({"customer_id": {"$in": list(customer_ids)}}, {"customer_id": 1, "kind": 1})
        async for document in cursor:
            by_kind = counts.setdefault(document["customer_id"], {})
            kind = IdentifierKind(document["kind"])
            by_kind[kind] = by_kind.get(kind, 0) + 1
        return counts

    async def customers(
        self, customer_ids: Collection[str], events: Collection[str] = ()
    ) -> dict[str, StoredCustomer]:
        wanted = set(events)
        cached: dict[str, StoredCustomer] = {}
        for customer_id in customer_ids:
            customer = self._cache.get(customer_id)
            # One whose outbox names one of these events is read: its messages may be published again.
            if customer is not None and all(entry.event_ids.isdisjoint(wanted) for entry in customer.outbox):
                cached[customer_id] = customer
        read = await self._read_customers([i for i in customer_ids if i not in cached], wanted)
        self._cache.put(read.values())
        return cached | read

    async def _read_customers(self, customer_ids: list[str], events: set[str]) -> dict[str, StoredCustomer]:
        if not customer_ids:
            return {}
        # Without the outbox messages (most of a customer document), then with them for the few whose
        # outbox names one of these events: a batch delivered again, which may have to publish them again.
        found = await find_by_ids(self._customers, customer_ids, {"outbox.messages": 0})
        again = [
            document["_id"]
            for document in found
            if any(events.intersection(entry["event_ids"]) for entry in document.get("outbox", []))
        ]
        if again:
            whole = {document["_id"]: document for document in await find_by_ids(self._customers, again)}
            found = [whole.get(document["_id"], document) for document in found]
        return {document["_id"]: stored_customer(document) for document in found}

    async def add_case_owners(self, owners: Mapping[str, str]) -> None:
        documents: list[Document] = [
            {"_id": case_id, "customer_id": customer_id} for case_id, customer_id in owners.items()
        ]
        await _insert_ignoring_duplicates(self._case_owners, documents)

    async def add_links(self, links: Sequence[Link]) -> dict[str, str]:
        if not links:
            return {}
        taken = await _insert_ignoring_duplicates(self._links, [link_document(link) for link in links])
        if not taken:
            return {}
        planned = {links[index].key: links[index].customer_id for index in taken}
        stored = await self.links(list(planned))
        return {key: link.customer_id for key, link in stored.items() if link.customer_id != planned[key]}

    async def save_customers(self, writes: Sequence[CustomerWrite], write_id: str) -> set[str]:
        if not writes:
            return set()
        ids = [write.profile.customer_id for write in writes]
        read = {customer_id: self._cache.get(customer_id) for customer_id in ids}
        written_here = {customer_id for customer_id in ids if self._cache.written_here(customer_id)}
        # Whatever this write does, the copies read before it are old now; the ones it wrote replace them.
        self._cache.drop(ids)
        operations: list[InsertOne[Document] | UpdateOne] = []
        for write in writes:
            customer_id = write.profile.customer_id
            before = read[customer_id]
            # Planned from a copy this worker wrote: the compare-and-set below makes it the stored one.
            planned_from = (
                before
                if customer_id in written_here
                and before is not None
                and (before.version, before.write_id) == (write.expected_version, write.expected_write_id)
                else None
            )
            document = customer_document(write, planned_from)
            outbox = [] if write.outbox is None else [outbox_document(write.outbox)]
            if write.expected_version == 0:
                operations.append(
                    InsertOne(
                        {
                            "_id": customer_id,
                            "version": 1,
                            "write_ids": [write_id],
                            "outbox": outbox,
                            **document,
                        }
                    )
                )
                continue
            # The compare-and-set makes the stored outbox the one the plan read and chose from.
            pushed: Document = {
                "write_ids": {"$each": [write_id], "$slice": -_REMEMBERED_WRITES},
                "outbox": {"$each": outbox, "$slice": -(write.outbox_kept + len(outbox))},
            }
            expected: Document = {"_id": customer_id, "version": write.expected_version}
            if write.expected_write_id is not None:
                expected["write_ids"] = write.expected_write_id
            operations.append(
                UpdateOne(
                    expected,
                    {"$set": {**document, "version": write.expected_version + 1}, "$push": pushed},
                )
            )
        try:
            result = await self._customers.bulk_write(operations, ordered=False)
            if result.inserted_count + result.matched_count == len(operations):
                self._cache.put(
                    (
                        stored
                        for write in writes
                        if (stored := stored_after(write, write_id, read[write.profile.customer_id]))
                        is not None
                    ),
                    written=True,
                )
                return set()
        except BulkWriteError as error:
            # Counts are not to be trusted here: mongo-java-server 1.47 counts an insert refused as a
            # duplicate in ``nInserted``. Ask the documents instead.
            _raise_unless_duplicates(error)
        # Some compare-and-set lost: the documents that do not name this write are the ones to redo.
        found = await find_by_ids(self._customers, ids, {"write_ids": 1})
        won = {document["_id"] for document in found if write_id in document.get("write_ids", [])}
        return set(ids) - won

    async def repoint(self, merged: Mapping[str, str]) -> None:
        if not merged:
            return
        link_moves = [
            UpdateMany(
                {"customer_id": away},
                {"$set": {"customer_id": survivor, "rule": LinkRule.MERGED.value, "merged_from": away}},
            )
            for away, survivor in merged.items()
        ]
        await self._links.bulk_write(link_moves, ordered=True)
        timeline_moves = [
            UpdateMany({"customer_id": away}, {"$set": {"customer_id": survivor}})
            for away, survivor in merged.items()
        ]
        await self._timeline.bulk_write(timeline_moves, ordered=True)

    async def hold_for_review(self, holds: Sequence[ReviewHold]) -> None:
        documents: list[Document] = [
            {
                "_id": hold.event_id,
                "reason": hold.reason.value,
                "customers": list(hold.customers),
                "held_at": hold.held_at,
                "status": "open",
            }
            for hold in holds
        ]
        await _insert_ignoring_duplicates(self._reviews, documents)

    async def record_timeline(self, entries: Sequence[TimelineEntry]) -> None:
        documents = [timeline_document(entry.event, entry.customer_id, entry.case_id) for entry in entries]
        await _insert_ignoring_duplicates(self._timeline, documents)
        # On the timeline, inserted now or before: a redelivery skips these events from here on.
        recorded: dict[str, set[str]] = {}
        for entry in entries:
            recorded.setdefault(entry.customer_id, set()).add(entry.event.event_id)
        self._cache.settle(recorded)

    async def holdings(self, customer_ids: Collection[str]) -> dict[str, Holding]:
        events: dict[str, set[str]] = {customer_id: set() for customer_id in customer_ids}
        cursor = self._timeline.find({"customer_id": {"$in": list(customer_ids)}}, {"customer_id": 1})
        async for document in cursor:
            events[document["customer_id"]].add(document["_id"])
        links: dict[str, list[Link]] = {customer_id: [] for customer_id in customer_ids}
        for link in await self.links_of(customer_ids):
            links[link.customer_id].append(link)
        return {
            customer_id: Holding(
                frozenset(events[customer_id]), tuple(sorted(links[customer_id], key=lambda link: link.key))
            )
            for customer_id in customer_ids
        }

    async def save_merges(self, records: Sequence[MergeRecord]) -> None:
        await _insert_ignoring_duplicates(self._merges, [merge_document(record) for record in records])

    async def merge(self, merge_id: str) -> StoredMerge | None:
        document = await self._merges.find_one({"_id": merge_id})
        return None if document is None else merge_from_document(document)

    async def mark_unmerged(self, merge_id: str, at: datetime) -> None:
        await self._merges.update_one({"_id": merge_id, "undone_at": None}, {"$set": {"undone_at": at}})

    async def timeline_events(self, customer_ids: Collection[str]) -> list[ObservedEvent]:
        cursor = self._timeline.find({"customer_id": {"$in": list(customer_ids)}})
        return [observed_from_timeline(document) async for document in cursor]

    async def links_of(self, customer_ids: Collection[str]) -> list[Link]:
        cursor = self._links.find({"customer_id": {"$in": list(customer_ids)}})
        return [link_from_document(document) async for document in cursor]

    async def relink(self, links: Sequence[Link]) -> None:
        if links:
            replacements = [ReplaceOne({"_id": link.key}, link_document(link), upsert=True) for link in links]
            await self._links.bulk_write(replacements, ordered=False)

    async def set_case_owners(self, owners: Mapping[str, str]) -> None:
        if owners:
            moves = [
                ReplaceOne({"_id": case_id}, {"customer_id": customer_id}, upsert=True)
                for case_id, customer_id in owners.items()
            ]
            await self._case_owners.bulk_write(moves, ordered=False)

    async def due_for_refresh(self, now: datetime, limit: int) -> list[tuple[str, int]]:
        # No index on mongo-java-server (it scans); MongoDB uses the declared one. A customer written
        # before writes kept a refresh time has none at all (not null): due once, which stores one.
        never_kept = {"refresh_at": {"$exists": False}, "merged_into": None}
        due = {"$or": [{"refresh_at": {"$lte": now}}, never_kept]}
        cursor = self._customers.find(due, {"version": 1}).limit(limit)
        return [(document["_id"], document["version"]) async for document in cursor]

    async def merged_into(self, customer_ids: Collection[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        # Asked after every batch, and almost never true: only the merged ones come back.
        found = await find_by_ids(
            self._customers, customer_ids, {"merged_into": 1}, {"merged_into": {"$ne": None}}
        )
        return {document["_id"]: document["merged_into"] for document in found}

    async def move_timeline(self, owners: Mapping[str, str]) -> None:
        moves = [
            UpdateOne({"_id": event_id}, {"$set": {"customer_id": customer_id}})
            for event_id, customer_id in owners.items()
        ]
        if moves:
            await self._timeline.bulk_write(moves, ordered=False)


async def _insert_ignoring_duplicates(
    collection: AsyncCollection[Document], documents: list[Document]
) -> list[int]:
    """Insert what is new; returns the positions of documents whose ``_id`` existed already."""
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        _raise_unless_duplicates(error)
        return sorted(write_error["index"] for write_error in error.details["writeErrors"])
    return []


def _raise_unless_duplicates(error: BulkWriteError) -> None:
    details: Mapping[str, Any] = error.details
    if details.get("writeConcernErrors") or any(
        write_error.get("code") != DUPLICATE_KEY for write_error in details.get("writeErrors", [])
    ):
        raise error
