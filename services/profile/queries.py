"""Profile's read side: a customer by id or identifier, and a customer's timeline page by page.

Merged-away customers are followed to their survivor; the caller decides whether to redirect."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from schemas.identifiers import (
    SCOPED_KINDS,
    CustomerIdentifier,
    IdentifierKind,
    normalised_identifier,
)
from services.profile.core.cases import Case
from services.profile.ports import CustomerRecord, ProfileReader, StoredMerge, TimelineItem, TimelinePosition

# A merge chain longer than this is a data error; stop following it.
MERGE_CHAIN_LIMIT = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class InvalidIdentifierError(ValueError):
    """The identifier does not parse (the message never holds the value)."""


class InvalidCursorError(ValueError):
    """The cursor was not made by this service."""


@dataclass(frozen=True)
class Found:
    customer: CustomerRecord


@dataclass(frozen=True)
class MergedAway:
    survivor: str  # the last customer of the merge chain


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None


def parse_identifier(text: str, phone_region: str | None) -> CustomerIdentifier:
    """``kind:value``, or ``kind:scope:value`` for page-scoped ids, normalised like ingest does."""
    kind_text, _, rest = text.partition(":")
    try:
        kind = IdentifierKind(kind_text.strip().lower())
    except ValueError:
        raise InvalidIdentifierError(
            f"must start with one of {', '.join(k.value for k in IdentifierKind)}, then ':'"
        ) from None
    scope: str | None = None
    if kind in SCOPED_KINDS:
        scope, _, rest = rest.partition(":")
        scope = scope.strip()
        if not scope:
            raise InvalidIdentifierError(f"a {kind.value} id is '{kind.value}:<page id>:<id>'")
    if not rest.strip():
        raise InvalidIdentifierError(f"the {kind.value} value is empty")
    try:
        return normalised_identifier(kind, rest, scope, phone_region=phone_region)
    except ValueError:  # pydantic's ValidationError is one too
        raise InvalidIdentifierError(f"not a valid {kind.value}") from None


def encode_cursor(position: TimelinePosition) -> str:
    millis = (position.occurred_at - _EPOCH) // _MILLISECOND
    raw = f"{millis}:{position.event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> TimelinePosition:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, separator, event_id = raw.partition(":")
        if not separator or not event_id:
            raise ValueError("no event id")
        return TimelinePosition(_EPOCH + int(millis) * _MILLISECOND, event_id)
    except (ValueError, binascii.Error, OverflowError):
        raise InvalidCursorError("not a cursor this service made") from None


class ProfileQueries:
    def __init__(self, reader: ProfileReader) -> None:
        self._reader = reader

    async def customer(self, customer_id: str) -> Found | MergedAway | None:
        """The customer, or where a merged-away one went, or None when unknown."""
        record = await self._reader.customer(customer_id)
        if record is None or record.merged_into is None:
            return None if record is None else Found(record)
        survivor = await self._survivor(record)
        return None if survivor is None else MergedAway(survivor.customer_id)

    async def merge(self, merge_id: str) -> StoredMerge | None:
        return await self._reader.merge(merge_id)

    async def merges_of(self, customer_id: str) -> list[StoredMerge]:
        return await self._reader.merges_of(customer_id)

    async def case(self, case_id: str) -> tuple[str, Case] | None:
        """The (surviving) customer holding a case, and the case."""
        owner = await self._reader.case_owner(case_id)
        record = None if owner is None else await self._reader.customer(owner)
        survivor = None if record is None else await self._survivor(record)
        if survivor is None:
            return None
        case = next((case for case in survivor.cases if case.case_id == case_id), None)
        return None if case is None else (survivor.customer_id, case)

    async def lookup(self, identifier: CustomerIdentifier) -> CustomerRecord | None:
        """The (surviving) customer an identifier belongs to."""
        customer_id = await self._reader.linked_customer(identifier.key)
        if customer_id is None:
            return None
        record = await self._reader.customer(customer_id)
        return None if record is None else await self._survivor(record)

    async def timeline(
        self,
        customer_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        channel: str | None = None,
        kind: str | None = None,
        case_id: str | None = None,
        web_sessions: bool = False,
    ) -> TimelinePage:
        """A page of up to ``limit`` entries; with ``web_sessions`` each run of one web session's events
        on it is shown as one summary (so a page may hold fewer items)."""
        before = None if cursor is None else decode_cursor(cursor)
        items = await self._reader.timeline(
            customer_id, limit=limit + 1, before=before, channel=channel, kind=kind, case_id=case_id
        )
        page, more = items[:limit], len(items) > limit
        last = page[-1] if page else None
        next_cursor = (
            encode_cursor(TimelinePosition(last.occurred_at, last.event_id)) if more and last else None
        )
        return TimelinePage(summarise_sessions(page) if web_sessions else page, next_cursor)

    async def _survivor(self, record: CustomerRecord) -> CustomerRecord | None:
        seen = {record.customer_id}
        for _ in range(MERGE_CHAIN_LIMIT):
            if record.merged_into is None:
                return record
            next_record = await self._reader.customer(record.merged_into)
            if next_record is None or next_record.customer_id in seen:
                return None
            seen.add(next_record.customer_id)
            record = next_record
        return None


WEB_SESSION_KIND = "web_session"


def summarise_sessions(items: list[TimelineItem]) -> list[TimelineItem]:
    """Items newest first, each run of web activity of one session folded into one summary item: the
    session's span, its counts per activity and the last page, carrying the newest event's position."""
    summarised: list[TimelineItem] = []
    run: list[TimelineItem] = []
    for item in [*items, None]:
        session = _session_of(item)
        if run and (session is None or session != _session_of(run[0])):
            summarised.append(_summary(run))
            run = []
        if item is None:
            break
        if session is None:
            summarised.append(item)
        else:
            run.append(item)
    return summarised


def _session_of(item: TimelineItem | None) -> str | None:
    web = None if item is None else item.details.get("web")
    return None if not web else str(web["session_id"])


def _summary(run: list[TimelineItem]) -> TimelineItem:
    newest, oldest = run[0], run[-1]
    visits = [item.details["web"] for item in run]
    return replace(
        newest,
        kind=WEB_SESSION_KIND,
        event_type="helhet.profile.web_session",
        details={
            "web_session": {
                "session_id": visits[0]["session_id"],
                "started_at": oldest.occurred_at,
                "ended_at": newest.occurred_at,
                "events": len(run),
                "activities": dict(Counter(visit["activity"] for visit in visits)),
                "last_url": visits[0]["url"],
                "event_ids": [item.event_id for item in run],
            }
        },
    )
