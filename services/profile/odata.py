"""Profile's OData read side for CRMs: entity sets paged the server's way, single entities by key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.profile.core.odata_model import CUSTOMERS, ENTITY_SETS, EntitySet
from services.profile.core.odata_query import (
    AllOf,
    Comparison,
    ODataQuery,
    ODataQueryError,
    Op,
    parse_query,
    skiptoken,
)
from services.profile.ports import ODataPage, ODataReader, Row


@dataclass(frozen=True)
class Collection:
    query: ODataQuery
    page: ODataPage
    next_skiptoken: str | None  # where the next page starts, when there is one


class UnknownEntitySetError(LookupError):
    pass


class ODataService:
    def __init__(self, reader: ODataReader, *, page_size: int) -> None:
        self._reader = reader
        self._page_size = page_size

    @staticmethod
    def entity_set(name: str) -> EntitySet:
        entity_set = ENTITY_SETS.get(name)
        if entity_set is None:
            raise UnknownEntitySetError(name)
        return entity_set

    async def collection(self, name: str, options: Sequence[tuple[str, str]]) -> Collection:
        """One page of an entity set. Raises UnknownEntitySetError, ODataQueryError."""
        query = parse_query(self.entity_set(name), options, max_page=self._page_size)
        page = await self._reader.page(query)
        more = page.more and (query.end is None or query.offset + len(page.rows) < query.end)
        return Collection(query, page, skiptoken(query.offset + len(page.rows)) if more else None)

    async def entity(
        self, name: str, key: str, options: Sequence[tuple[str, str]]
    ) -> tuple[ODataQuery, Row | None]:
        """One entity by its key; a merged-away customer's id gives its survivor. Raises
        UnknownEntitySetError, ODataQueryError."""
        entity_set = self.entity_set(name)
        allowed = [(option, value) for option, value in options if option in {"$select", "$format"}]
        if len(allowed) < sum(1 for option, _ in options if option.startswith("$")):
            raise ODataQueryError("BadRequest", "A single entity takes $select only.")
        try:
            guid = str(uuid.UUID(key))
        except ValueError:
            raise ODataQueryError("BadRequest", f"The key of {entity_set.type_name} is a Guid.") from None
        query = parse_query(entity_set, allowed)
        row = await self._by_key(query, guid)
        if row is None and entity_set is CUSTOMERS:  # merged away? (a live id is found in one read)
            survivor = await self._reader.survivor(guid)
            if survivor is not None and survivor != guid:
                row = await self._by_key(query, survivor)
        return query, row

    async def _by_key(self, query: ODataQuery, guid: str) -> Row | None:
        entity_set = query.entity_set
        key_property = entity_set.lookup(entity_set.key)
        assert key_property is not None
        keyed = ODataQuery(
            entity_set, filter=AllOf((Comparison(key_property, Op.EQ, guid),)), select=query.select, top=1
        )
        page = await self._reader.page(keyed)
        return page.rows[0] if page.rows else None
