"""Merges, unmerges and the review queue through profile's API.

- ``POST /v1/customers:merge`` (``customers:write``): merge customers known to be one person; 202 once
  the request is on Kafka (the worker merges; the customer seen first survives). 409 when they are one
  customer already.
- ``GET /v1/customers/{customer_id}/merges``, ``GET /v1/merges/{merge_id}`` (``customers:read``): what
  was merged, when and why, and whether it was undone.
- ``POST /v1/merges/{merge_id}:undo`` (``customers:write``): 202 once the unmerge is on Kafka; the worker
  restores both customers exactly and re-attributes later events. 409 when undone already, or when the
  survivor was merged on since (undo that merge first).
- ``GET /v1/reviews?status=open`` (``customers:read``): merges held for review (a shared identifier, a
  cap, too many customers on one event). ``POST /v1/reviews/{id}:approve`` merges them (202);
  ``POST /v1/reviews/{id}:dismiss`` keeps them apart (200). 409 when decided already.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.common.http import problem
from services.profile.adapters.inbound.cases_rest import (
    AcceptedOut,
    CustomerWriter,
    IdempotencyKey,
    Requests,
    not_accepted,
)
from services.profile.adapters.inbound.rest import CustomerId, CustomerReader, Queries, not_found
from services.profile.ports import Review, Reviews, ReviewStatus, StoredMerge
from services.profile.requests import Accepted, Conflict, RequestNotAcceptedError

Id = Annotated[str, Path(min_length=1, max_length=200)]
_CONFLICTS = {
    Conflict.ALREADY_ONE: "These customers are one customer already.",
    Conflict.ALREADY_UNDONE: "This merge was undone already.",
    Conflict.ALREADY_DECIDED: "This review was decided already.",
    Conflict.NOT_IN_PLACE: "The survivor was merged into another customer since: undo that merge first.",
}


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=2, max_length=10
    )


class MergeOut(BaseModel):
    merge_id: str
    survivor_id: str
    merged_away_id: str
    merged_at: datetime
    cause_event_id: str
    survivor_events: int
    merged_away_events: int
    undone_at: datetime | None


class ReviewOut(BaseModel):
    review_id: str
    reason: str
    customers: list[str]
    held_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None


async def _reviews(request: Request) -> Reviews:
    reviews: Reviews = request.app.state.reviews
    return reviews


ReviewQueue = Annotated[Reviews, Depends(_reviews)]


def merge_out(stored: StoredMerge) -> MergeOut:
    record = stored.record
    return MergeOut(
        merge_id=record.merge_id,
        survivor_id=record.survivor_id,
        merged_away_id=record.merged_away_id,
        merged_at=record.merged_at,
        cause_event_id=record.cause_event_id,
        survivor_events=len(record.survivor_event_ids),
        merged_away_events=len(record.merged_away_event_ids),
        undone_at=stored.undone_at,
    )


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        review_id=review.review_id,
        reason=review.reason.value,
        customers=list(review.customers),
        held_at=review.held_at,
        status=review.status.value,
        decided_by=review.decided_by,
        decided_at=review.decided_at,
    )


def answer(outcome: Accepted | Conflict | None, missing: str) -> AcceptedOut | JSONResponse:
    if outcome is None:
        return problem(404, missing)
    if isinstance(outcome, Conflict):
        return problem(409, _CONFLICTS[outcome], conflict=outcome.value)
    return AcceptedOut(request_id=outcome.request_id, customer_id=outcome.customer_id)


def merges_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["merges"])
    accepted: dict[int | str, dict[str, Any]] = {404: {}, 409: {}, 503: {}}

    @router.post("/customers:merge", status_code=202, response_model=AcceptedOut, responses=accepted)
    async def merge_customers(
        body: MergeIn, principal: CustomerWriter, requests: Requests, idempotency_key: IdempotencyKey = None
    ) -> AcceptedOut | JSONResponse:
        try:
            outcome = await requests.merge(
                body.customer_ids, client=principal.client_id, idempotency_key=idempotency_key
            )
        except RequestNotAcceptedError:
            return not_accepted()
        return answer(outcome, "No customer with one of those ids.")

    @router.get("/customers/{customer_id}/merges", response_model=list[MergeOut])
    async def merges_of(customer_id: CustomerId, _: CustomerReader, queries: Queries) -> list[MergeOut]:
        return [merge_out(stored) for stored in await queries.merges_of(customer_id)]

    @router.get("/merges/{merge_id}", response_model=MergeOut, responses={404: {}})
    async def get_merge(merge_id: Id, _: CustomerReader, queries: Queries) -> MergeOut | JSONResponse:
        stored = await queries.merge(merge_id)
        return problem(404, "No merge with that id.") if stored is None else merge_out(stored)

    @router.post("/merges/{merge_id}:undo", status_code=202, response_model=AcceptedOut, responses=accepted)
    async def undo_merge(
        merge_id: Id, principal: CustomerWriter, requests: Requests, idempotency_key: IdempotencyKey = None
    ) -> AcceptedOut | JSONResponse:
        try:
            outcome = await requests.unmerge(
                merge_id, client=principal.client_id, idempotency_key=idempotency_key
            )
        except RequestNotAcceptedError:
            return not_accepted()
        return answer(outcome, "No merge with that id.")

    @router.get("/reviews", response_model=list[ReviewOut])
    async def list_reviews(
        _: CustomerReader,
        reviews: ReviewQueue,
        status: ReviewStatus = ReviewStatus.OPEN,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ReviewOut]:
        return [review_out(review) for review in await reviews.in_status(status, limit)]

    @router.post(
        "/reviews/{review_id}:approve", status_code=202, response_model=AcceptedOut, responses=accepted
    )
    async def approve_review(
        review_id: Id, principal: CustomerWriter, requests: Requests
    ) -> AcceptedOut | JSONResponse:
        try:
            outcome = await requests.decide_review(review_id, approve=True, client=principal.client_id)
        except RequestNotAcceptedError:
            return not_accepted()
        if isinstance(outcome, Review):  # approving never answers the review itself
            return problem(409, _CONFLICTS[Conflict.ALREADY_DECIDED])
        return answer(outcome, "No review with that id.")

    @router.post("/reviews/{review_id}:dismiss", response_model=ReviewOut, responses={404: {}, 409: {}})
    async def dismiss_review(
        review_id: Id, principal: CustomerWriter, requests: Requests
    ) -> ReviewOut | JSONResponse:
        outcome = await requests.decide_review(review_id, approve=False, client=principal.client_id)
        if isinstance(outcome, Review):
            return review_out(outcome)
        if outcome is None:
            return not_found()
        return problem(409, _CONFLICTS[Conflict.ALREADY_DECIDED])

    return router
