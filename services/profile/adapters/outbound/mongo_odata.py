"""OData pages read from MongoDB.

Two ways to a page. When the filter names a key (``Id eq``, ``CustomerId eq``, ``Email eq``), the few
documents it can match are read by that one field and the rest of the filter is applied to them here.
Otherwise the whole query goes to MongoDB; without ``$orderby`` rows come in the collection's natural
order, which needs no sort. On mongo-java-server both matter: it uses an index only for a query naming
exactly the indexed fields, and any sort reads the whole collection (2.5 s at 100k customers, measured
here), while an unsorted filtered read stops at the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from schemas.identifiers import IdentifierKind
from services.common.mongo import Document
from services.profile.adapters.outbound.odata_sources import (
    SOURCES,
    IdentifierOfKind,
    NonEmpty,
    Scalar,
    Source,
    key_lookup,
    mongo_filter,
    positive_leaves,
    satisfies,
    search_expression,
    search_filter,
)
from services.profile.core.odata_model import CASES
from services.profile.core.odata_query import Comparison, Filter, Membership, ODataQuery, TextMatch
from services.profile.indexes import CASE_OWNERS_COLLECTION, CUSTOMERS_COLLECTION, LINKS_COLLECTION
from services.profile.ports import ODataPage, ReaderBusyError, Row

_MERGE_CHAIN = 10  # merges chain shortly; a longer chain is a loop, not a reason to spin


class MongoODataReader:
    def __init__(self, db: AsyncDatabase[Document], *, wide_reads: int, wait_seconds: float) -> None:
        self._db = db
        # Reads not narrowed by a key may read every document: a few at a time, so a burst of them
        # queues here (then is refused) instead of exhausting the database server.
        self._wide = asyncio.Semaphore(wide_reads)
        self._wait_seconds = wait_seconds

    async def page(self, query: ODataQuery) -> ODataPage:
        source = SOURCES[query.entity_set.name]
        candidates = None if query.filter is None else await self._candidates(source, query.filter)
        if candidates is not None:
            return await self._page_of(source, query, candidates)
        try:
            await asyncio.wait_for(self._wide.acquire(), self._wait_seconds)
        except TimeoutError:
            raise ReaderBusyError from None
        try:
            return await self._wide_page(source, query)
        finally:
            self._wide.release()

    async def _wide_page(self, source: Source, query: ODataQuery) -> ODataPage:
        sort = self._sort(source, query)
        limit = query.page_size
        if source.unwind is None:
            where = self._where(source, query)
            documents = await self._find(source, where, sort, query.offset, limit)
            count = await self._db[source.collection].count_documents(where) if query.count else None
        else:
            documents, count = await self._unwound(source, query, sort, limit)
        return ODataPage([source.row(d) for d in documents[:limit]], len(documents) > limit, count)

    async def survivor(self, customer_id: str) -> str | None:
        for _ in range(_MERGE_CHAIN):
            document = await self._db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id}, {"merged_into": 1})
            if document is None:
                return None
            if not document.get("merged_into"):
                return customer_id
            customer_id = document["merged_into"]
        return None

    # ---- a key narrows the documents ------------------------------------------------------------------

    async def _candidates(self, source: Source, expression: Filter) -> AsyncIterator[Document] | None:
        """The documents a key in the filter narrows it to (None: no key to narrow by)."""
        lookup = key_lookup(source, expression)
        if lookup is None:
            return None
        name, value = lookup
        field = source.fields[name]
        stored = source.keys.get(name, "_id")
        target: str | None = value
        if source is SOURCES[CASES.name] and name == "Id":  # the case's owner, or whom it merged into
            owner = await self._db[CASE_OWNERS_COLLECTION].find_one({"_id": value})
            target = None if owner is None else await self.survivor(owner["customer_id"])
        elif isinstance(field, IdentifierOfKind):  # the identifier's link names its customer
            key = f"{field.kind.value}:{value.lower() if field.kind is IdentifierKind.EMAIL else value}"
            link = await self._db[LINKS_COLLECTION].find_one({"_id": key}, {"customer_id": 1})
            target = None if link is None else link["customer_id"]
        if target is None:
            return _nothing()
        return self._unwind(source, self._db[source.collection].find({stored: target}))

    @staticmethod
    async def _unwind(source: Source, documents: AsyncCursor[Document]) -> AsyncIterator[Document]:
        async for document in documents:
            if source.unwind is None:
                yield document
            else:
                for element in document.get(source.unwind, []):
                    yield document | {source.unwind: element}

    @staticmethod
    async def _page_of(source: Source, query: ODataQuery, documents: AsyncIterator[Document]) -> ODataPage:
        """Rows of the narrowed documents that meet the rest; without $orderby and $count the read stops
        once the page (and one more row) is found."""
        assert query.filter is not None
        search = None if query.search is None else search_expression(query.entity_set, query.search)
        end = query.offset + query.page_size
        everything = bool(query.orderby) or query.count
        rows: list[Row] = []
        async for document in documents:
            if (
                source.live(document)
                and satisfies(source, query.filter, document)
                and (search is None or satisfies(source, search, document))
            ):
                rows.append(source.row(document))
                if not everything and len(rows) > end:
                    break
        for prop, descending in reversed(query.orderby):  # stable sorts, last key first
            rows.sort(key=lambda row: _sort_key(row[prop.name]), reverse=descending)
        return ODataPage(rows[query.offset : end], len(rows) > end, len(rows) if query.count else None)

    # ---- the query goes to MongoDB ------------------------------------------------------------------

    @staticmethod
    def _where(source: Source, query: ODataQuery) -> Document:
        conditions: list[Document] = [source.base] if source.base else []
        if query.filter is not None:
            conditions.append(mongo_filter(source, query.filter))
        if query.search is not None:
            conditions.append(search_filter(source, query.entity_set, query.search))
        return {"$and": conditions} if conditions else {}

    async def _find(
        self, source: Source, where: Document, sort: list[tuple[str, int]], offset: int, limit: int
    ) -> list[Document]:
        if limit == 0:
            return []
        cursor = self._db[source.collection].find(where)
        if sort:
            cursor = cursor.sort(sort)
        return [document async for document in cursor.skip(offset).limit(limit + 1)]

    async def _unwound(
        self, source: Source, query: ODataQuery, sort: list[tuple[str, int]], limit: int
    ) -> tuple[list[Document], int | None]:
        assert source.unwind is not None
        before: list[Document] = [source.base] if source.base else []
        after: list[Document] = []
        if query.filter is not None:
            # Conditions some element must meet hold of the document too: drop documents early.
            before += [
                mongo_filter(source, leaf) for leaf in positive_leaves(query.filter) if _plain(source, leaf)
            ]
            after.append(mongo_filter(source, query.filter))
        if query.search is not None:
            after.append(search_filter(source, query.entity_set, query.search))
        pipeline: list[Document] = [
            {"$match": {"$and": before} if before else {}},
            {"$unwind": f"${source.unwind}"},
        ]
        if after:
            pipeline.append({"$match": {"$and": after}})
        collection = self._db[source.collection]
        count: int | None = None
        if query.count:
            counted = await (await collection.aggregate([*pipeline, {"$count": "n"}])).to_list()
            count = counted[0]["n"] if counted else 0
        if limit == 0:
            return [], count
        if sort:
            pipeline.append({"$sort": dict(sort)})
        pipeline += [{"$skip": query.offset}, {"$limit": limit + 1}]
        return await (await collection.aggregate(pipeline)).to_list(), count

    @staticmethod
    def _sort(source: Source, query: ODataQuery) -> list[tuple[str, int]]:
        keys: list[tuple[str, int]] = []
        for prop, descending in query.orderby:
            field = source.fields[prop.name]
            assert isinstance(field, Scalar | NonEmpty)  # identifier properties are not sortable
            keys.append((field.path, DESCENDING if descending else ASCENDING))
        if keys:  # the key last, so equal values keep one order from page to page
            key = source.fields[query.entity_set.key]
            assert isinstance(key, Scalar)
            keys.append((key.path, ASCENDING))
        return keys


def _plain(source: Source, leaf: Comparison | Membership | TextMatch) -> bool:
    return not isinstance(source.fields[leaf.prop.name], NonEmpty)


async def _nothing() -> AsyncIterator[Document]:
    return
    yield


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)  # nulls first, as MongoDB sorts them
