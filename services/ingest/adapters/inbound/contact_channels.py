"""Chat, phone, web/portal form and store-visit intake: ``POST /v1/channels/...``.

Same promises as the interaction intake: 202 with the event id only after the broker acknowledged; a
redelivery (same channel event id, or same Idempotency-Key from the same client) gets 202 with the first
event id and ``duplicate: true``; a delivery still being published gets 409; broker down gets 503.
The body → ``InteractionReceived`` mapping lives in ``services.ingest.core.channels.contact``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.ingest.adapters.inbound.rest import (
    AcceptedOut,
    IdempotencyKey,
    Intake,
    InteractionWriter,
    accept_one,
)
from services.ingest.core.channels.contact import (
    ChatEventIn,
    FormSubmissionIn,
    PhoneEventIn,
    StoreVisitIn,
    chat_interaction,
    form_interaction,
    phone_interaction,
    store_interaction,
)
from services.ingest.service import Submission


def contact_channels_router(phone_region: str) -> APIRouter:
    router = APIRouter(prefix="/v1/channels", tags=["channels"])

    @router.post("/chat/events", status_code=202, response_model=AcceptedOut)
    async def chat_event(
        body: ChatEventIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        payload = chat_interaction(body, phone_region=phone_region)
        return await accept_one(
            intake, Submission(payload, "/ingest/chat", idempotency_key, principal.client_id)
        )

    @router.post("/phone/events", status_code=202, response_model=AcceptedOut)
    async def phone_event(
        body: PhoneEventIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        payload = phone_interaction(body, phone_region=phone_region)
        return await accept_one(
            intake, Submission(payload, "/ingest/phone", idempotency_key, principal.client_id)
        )

    @router.post("/forms", status_code=202, response_model=AcceptedOut)
    async def form_submission(
        body: FormSubmissionIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        payload = form_interaction(body, phone_region=phone_region)
        return await accept_one(
            intake, Submission(payload, "/ingest/forms", idempotency_key, principal.client_id)
        )

    @router.post("/store/visits", status_code=202, response_model=AcceptedOut)
    async def store_visit(
        body: StoreVisitIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        payload = store_interaction(body, phone_region=phone_region)
        return await accept_one(
            intake, Submission(payload, "/ingest/store", idempotency_key, principal.client_id)
        )

    return router
