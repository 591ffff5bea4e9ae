"""Cases and consent through profile's API.

- ``GET /v1/customers/{customer_id}/cases`` (``customers:read``): the customer's cases, newest activity
  first; a merged-away id answers 308 to its survivor.
- ``POST /v1/cases/{case_id}:close`` (``cases:write``): 202 once the close request is on Kafka (the worker
  closes the case and publishes it on ``cases.v1``); 200 with the case when it is closed already.
- ``PUT /v1/customers/{customer_id}/consent/{purpose}`` (``customers:write``): 202 once the decision is on
  Kafka; the newest decision per purpose wins.

Both writes take an optional ``Idempotency-Key``: a retry with the same key is applied once. A broker that
does not acknowledge gets 503 with ``Retry-After``; nothing was accepted then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.cases import CloseReason
from schemas.customers import Purpose
from services.common.http import Principal, problem, require_scopes
from services.profile.adapters.inbound.rest import CustomerId, CustomerReader, Queries, moved, not_found
from services.profile.core.cases import Case
from services.profile.queries import Found, MergedAway
from services.profile.requests import AlreadyClosed, ProfileRequests, RequestNotAcceptedError

CaseWriter = Annotated[Principal, Depends(require_scopes("cases:write"))]
CustomerWriter = Annotated[Principal, Depends(require_scopes("customers:write"))]
CaseId = Annotated[str, Path(min_length=1, max_length=100)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
# A decision stamped this far ahead of our clock is a sender's clock error, not a decision.
_FUTURE_TOLERANCE = timedelta(minutes=5)


class CaseOut(BaseModel):
    case_id: str
    customer_id: str
    status: str
    category: str
    channel: str
    language: str | None
    opened_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    interactions: int


class CasesOut(BaseModel):
    customer_id: str
    cases: list[CaseOut]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not a silent default

    reason: CloseReason = CloseReason.RESOLVED


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    granted: bool
    decided_at: AwareDatetime | None = Field(
        default=None, description="When the customer decided (default: now). Not in the future."
    )


class AcceptedOut(BaseModel):
    request_id: str
    customer_id: str


async def _requests(request: Request) -> ProfileRequests:
    requests: ProfileRequests = request.app.state.requests
    return requests


Requests = Annotated[ProfileRequests, Depends(_requests)]


def case_out(case: Case) -> CaseOut:
    return CaseOut(
        case_id=case.case_id,
        customer_id=case.customer_id,
        status=case.status.value,
        category=case.category.value,
        channel=case.channel.value,
        language=case.language.value if case.language else None,
        opened_at=case.opened_at,
        last_activity_at=case.last_activity_at,
        closed_at=case.closed_at,
        close_reason=case.close_reason,
        interactions=len(case.event_ids),
    )


def not_accepted() -> JSONResponse:
    return problem(
        503, "The event broker did not acknowledge; nothing was accepted.", headers={"Retry-After": "5"}
    )


def cases_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["cases"])
    redirects: dict[int | str, dict[str, Any]] = {
        404: {"description": "Unknown customer"},
        308: {"description": "Merged away: see Location for the survivor"},
    }

    @router.get("/customers/{customer_id}/cases", response_model=CasesOut, responses=redirects)
    async def list_cases(
        customer_id: CustomerId, _: CustomerReader, queries: Queries
    ) -> CasesOut | JSONResponse | RedirectResponse:
        found = await queries.customer(customer_id)
        if found is None:
            return not_found()
        if not isinstance(found, Found):
            return moved(found.survivor, "/cases")
        return CasesOut(customer_id=customer_id, cases=[case_out(case) for case in found.customer.cases])

    @router.post(
        "/cases/{case_id}:close",
        status_code=202,
        response_model=AcceptedOut,
        responses={200: {"model": CaseOut, "description": "Closed already"}, 404: {}, 503: {}},
    )
    async def close_case(
        case_id: CaseId,
        principal: CaseWriter,
        requests: Requests,
        idempotency_key: IdempotencyKey = None,
        body: Annotated[CloseIn | None, Body()] = None,
    ) -> AcceptedOut | JSONResponse:
        reason = (body or CloseIn()).reason
        try:
            outcome = await requests.close_case(
                case_id, reason, client=principal.client_id, idempotency_key=idempotency_key
            )
        except RequestNotAcceptedError:
            return not_accepted()
        if outcome is None:
            return problem(404, "No case with that id.")
        if isinstance(outcome, AlreadyClosed):
            return JSONResponse(case_out(outcome.case).model_dump(mode="json"))
        return AcceptedOut(request_id=outcome.request_id, customer_id=outcome.customer_id)

    @router.put(
        "/customers/{customer_id}/consent/{purpose}",
        status_code=202,
        response_model=AcceptedOut,
        responses={**redirects, 422: {}, 503: {}},
    )
    async def record_consent(
        *,
        customer_id: CustomerId,
        purpose: Purpose,
        body: ConsentIn,
        principal: CustomerWriter,
        requests: Requests,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse | RedirectResponse:
        if body.decided_at is not None and body.decided_at > datetime.now(UTC) + _FUTURE_TOLERANCE:
            return problem(
                422,
                "decided_at is in the future.",
                errors=[{"loc": ["body", "decided_at"], "type": "value_error"}],
            )
        try:
            outcome = await requests.record_consent(
                customer_id,
                purpose,
                body.granted,
                decided_at=body.decided_at,
                client=principal.client_id,
                idempotency_key=idempotency_key,
            )
        except RequestNotAcceptedError:
            return not_accepted()
        if outcome is None:
            return not_found()
        if isinstance(outcome, MergedAway):
            return moved(outcome.survivor, f"/consent/{purpose.value}")
        return AcceptedOut(request_id=outcome.request_id, customer_id=outcome.customer_id)

    return router
