"""Profile's read API for agents and other systems (scope ``customers:read``).

- ``GET /v1/customers/{customer_id}``: the profile; a merged-away id answers 308 to its survivor.
- ``GET /v1/customers:lookup?identifier=email:ola@example.no``: the profile an identifier belongs to.
- ``GET /v1/customers/{customer_id}/timeline``: newest first, cursor-paged, filtered by channel, kind or
  case; web activity summarised per session unless ``web=events``.

Identifiers are returned normalised (this API is authenticated and scoped); errors never echo them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from services.common.http import Principal, problem, require_scopes
from services.profile.core.observe import FactKind
from services.profile.ports import CustomerRecord, TimelineItem
from services.profile.queries import (
    Found,
    InvalidCursorError,
    InvalidIdentifierError,
    ProfileQueries,
    parse_identifier,
)


class WebDetail(StrEnum):
    SESSIONS = "sessions"  # each web session's run of events as one summary
    EVENTS = "events"  # every page view and cart event


MAX_TIMELINE_LIMIT = 200
DEFAULT_TIMELINE_LIMIT = 50

CustomerReader = Annotated[Principal, Depends(require_scopes("customers:read"))]
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]


class IdentifierOut(BaseModel):
    kind: str
    value: str
    scope: str | None = None
    unparsed: bool = False


class AttributeOut(BaseModel):
    value: str
    source: str
    occurred_at: datetime


class ConsentOut(BaseModel):
    granted: bool
    source: str
    occurred_at: datetime


class ProfileOut(BaseModel):
    customer_id: str
    tier: str | None
    historic_value: Decimal | None
    predicted_lifetime_value: Decimal | None
    recency_days: int | None = Field(description="Days since the latest purchase, as of summary_as_of.")
    frequency: int | None = Field(description="Orders placed.")
    monetary: Decimal | None = Field(description="Average net order value, in the value currency (NOK).")
    orders_without_rate: int = Field(
        description="Orders in a currency without an exchange rate: left out of the value and tier."
    )
    lifecycle: str | None
    needs_recovery: bool
    recovery_reason: str | None
    language: str | None
    preferred_channel: str | None
    last_agent: str | None
    summary_as_of: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None
    identifiers: list[IdentifierOut]
    attributes: dict[str, AttributeOut]
    consent: dict[str, ConsentOut]


class TimelineItemOut(BaseModel):
    event_id: str
    occurred_at: datetime
    kind: str
    type: str
    channel: str
    source: str
    case_id: str | None
    details: dict[str, Any]


class TimelinePageOut(BaseModel):
    items: list[TimelineItemOut]
    next_cursor: str | None


async def _queries(request: Request) -> ProfileQueries:  # async: a sync dependency costs a thread hop
    queries: ProfileQueries = request.app.state.queries
    return queries


Queries = Annotated[ProfileQueries, Depends(_queries)]


def profile_out(record: CustomerRecord) -> ProfileOut:
    facts, summary = record.facts, record.summary
    return ProfileOut(
        customer_id=record.customer_id,
        tier=summary.tier if summary else None,
        historic_value=summary.historic_value if summary else None,
        predicted_lifetime_value=summary.predicted_lifetime_value if summary else None,
        recency_days=summary.recency_days if summary else None,
        frequency=summary.frequency if summary else None,
        monetary=summary.monetary if summary else None,
        orders_without_rate=summary.orders_without_rate if summary else 0,
        lifecycle=summary.lifecycle if summary else None,
        needs_recovery=summary.needs_recovery if summary else False,
        recovery_reason=summary.recovery_reason if summary else None,
        language=summary.language if summary else None,
        preferred_channel=summary.preferred_channel if summary else None,
        last_agent=summary.last_agent if summary else None,
        summary_as_of=summary.as_of if summary else None,
        first_seen=facts.first_seen,
        last_seen=facts.last_seen,
        identifiers=[
            IdentifierOut(kind=i.kind.value, value=i.value, scope=i.scope, unparsed=i.unparsed)
            for i in sorted(facts.identifiers, key=lambda i: (i.key, i.unparsed))
        ],
        attributes={
            name.value: AttributeOut(value=a.value, source=a.source, occurred_at=a.occurred_at)
            for name, a in sorted(facts.attributes.items())
        },
        consent={
            purpose.value: ConsentOut(granted=d.granted, source=d.source, occurred_at=d.occurred_at)
            for purpose, d in sorted(facts.consent.items())
        },
    )


def timeline_item_out(item: TimelineItem) -> TimelineItemOut:
    return TimelineItemOut(
        event_id=item.event_id,
        occurred_at=item.occurred_at,
        kind=item.kind,
        type=item.event_type,
        channel=item.channel,
        source=item.source,
        case_id=item.case_id,
        details=dict(item.details),
    )


def not_found() -> JSONResponse:
    return problem(404, "No customer with that id or identifier.")


def invalid_parameter(name: str, detail: str) -> JSONResponse:
    # The shape of the validation problems, naming the parameter; the value itself is never echoed.
    return problem(
        422,
        f"The {name} parameter is not valid: {detail}.",
        errors=[{"loc": ["query", name], "type": "value_error"}],
    )


def moved(survivor: str, suffix: str = "", query: str = "") -> RedirectResponse:
    location = f"/v1/customers/{quote(survivor, safe='')}{suffix}" + (f"?{query}" if query else "")
    return RedirectResponse(location, status_code=308)


def customers_router(phone_region: str | None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["customers"])
    not_found_responses: dict[int | str, dict[str, Any]] = {
        404: {"description": "Unknown customer"},
        308: {"description": "Merged away: see Location for the survivor"},
    }

    @router.get("/customers:lookup", response_model=ProfileOut, responses={404: {}, 422: {}})
    async def lookup_customer(
        _: CustomerReader,
        queries: Queries,
        identifier: Annotated[
            str,
            Query(
                min_length=3,
                max_length=500,
                description="kind:value, e.g. email:ola@example.no, phone:+4791234567, "
                "customer_number:10042, messenger:<page id>:<page-scoped id>",
            ),
        ],
    ) -> ProfileOut | JSONResponse:
        try:
            parsed = parse_identifier(identifier, phone_region)
        except InvalidIdentifierError as error:
            return invalid_parameter("identifier", str(error))
        record = await queries.lookup(parsed)
        return not_found() if record is None else profile_out(record)

    @router.get("/customers/{customer_id}", response_model=ProfileOut, responses=not_found_responses)
    async def get_customer(
        customer_id: CustomerId, _: CustomerReader, queries: Queries
    ) -> ProfileOut | JSONResponse | RedirectResponse:
        found = await queries.customer(customer_id)
        if found is None:
            return not_found()
        if isinstance(found, Found):
            return profile_out(found.customer)
        return moved(found.survivor)

    @router.get(
        "/customers/{customer_id}/timeline", response_model=TimelinePageOut, responses=not_found_responses
    )
    async def get_timeline(
        *,
        request: Request,
        customer_id: CustomerId,
        _: CustomerReader,
        queries: Queries,
        limit: Annotated[int, Query(ge=1, le=MAX_TIMELINE_LIMIT)] = DEFAULT_TIMELINE_LIMIT,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        channel: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
        kind: FactKind | None = None,
        case: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        web: WebDetail = WebDetail.SESSIONS,
    ) -> TimelinePageOut | JSONResponse | RedirectResponse:
        found = await queries.customer(customer_id)
        if found is None:
            return not_found()
        if not isinstance(found, Found):
            return moved(found.survivor, "/timeline", urlencode(list(request.query_params.multi_items())))
        try:
            page = await queries.timeline(
                customer_id,
                limit=limit,
                cursor=cursor,
                channel=channel,
                kind=None if kind is None else kind.value,
                case_id=case,
                web_sessions=web is WebDetail.SESSIONS,
            )
        except InvalidCursorError as error:
            return invalid_parameter("cursor", str(error))
        return TimelinePageOut(
            items=[timeline_item_out(item) for item in page.items], next_cursor=page.next_cursor
        )

    return router
