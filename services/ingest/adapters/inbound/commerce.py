"""Orders (``POST /v1/orders``) and web activity (``POST /v1/web-activity:batch``) from the shop.

Same promises as the interaction intake: 202 only after the broker acknowledged, duplicates (same order
change, same source event id, same Idempotency-Key) answered with the first event id and not published
again, 503 when the broker is down.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.commerce import OrderRecorded, WebActivityRecorded
from schemas.identifiers import RawIdentifier
from services.ingest.adapters.inbound.rest import (
    AcceptedOut,
    BatchOut,
    IdempotencyKey,
    Intake,
    InteractionWriter,
    accept_one,
    out,
    to_payload,
    to_payloads,
    unavailable,
)
from services.ingest.service import BrokerUnavailableError, Submission

MAX_WEB_EVENTS = 1000


class OrderIn(OrderRecorded):
    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=20)  # type: ignore[assignment]


class WebActivityIn(WebActivityRecorded):
    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=5)  # type: ignore[assignment]


class WebActivityBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[WebActivityIn] = Field(min_length=1, max_length=MAX_WEB_EVENTS)


def commerce_router(phone_region: str) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["commerce"])

    @router.post("/orders", status_code=202, response_model=AcceptedOut)
    async def record_order(
        body: OrderIn, principal: InteractionWriter, intake: Intake, idempotency_key: IdempotencyKey = None
    ) -> AcceptedOut | JSONResponse:
        order = to_payload(body, OrderRecorded, phone_region)
        submission = Submission(order, "/ingest/orders", idempotency_key, principal.client_id)
        return await accept_one(intake, submission)

    @router.post("/web-activity:batch", status_code=202, response_model=BatchOut)
    async def record_web_activity(
        body: WebActivityBatchIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> BatchOut | JSONResponse:
        submissions = [
            Submission(
                payload,
                "/ingest/web",
                f"{idempotency_key}#{index}" if idempotency_key else None,
                principal.client_id,
            )
            for index, payload in enumerate(to_payloads(body.events, WebActivityRecorded, phone_region))
        ]
        try:
            return BatchOut(results=[out(outcome) for outcome in await intake.submit_many(submissions)])
        except BrokerUnavailableError as error:
            return unavailable(error)

    return router
