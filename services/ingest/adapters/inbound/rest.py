"""REST intake for other systems: ``POST /v1/interactions`` and ``POST /v1/interactions:batch``.

Answers 202 with the event id only after the broker acknowledged; a redelivery (same Idempotency-Key
from the same client, or the same channel message id) gets 202 with the first event id and
``duplicate: true``; a delivery still being published gets 409; broker down gets 503 + Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Protocol, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.identifiers import RawIdentifier, identify_many
from schemas.interactions import InteractionReceived
from services.common.http import Principal, problem, require_scopes
from services.ingest.core.intake import IngestPayload
from services.ingest.ports import ClaimState
from services.ingest.service import (
    BrokerUnavailableError,
    IntakeService,
    ItemTooLargeError,
    Outcome,
    Submission,
)

RETRY_AFTER_SECONDS = "5"
P = TypeVar("P", bound=IngestPayload)
MAX_BATCH_ITEMS = 500

InteractionWriter = Annotated[Principal, Depends(require_scopes("interactions:write"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class InteractionIn(InteractionReceived):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=20)  # type: ignore[assignment]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactions: list[InteractionIn] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class AcceptedOut(BaseModel):
    event_id: str
    duplicate: bool
    in_flight: bool = False


class BatchOut(BaseModel):
    results: list[AcceptedOut]


async def _service(request: Request) -> IntakeService:  # async: a sync dependency costs a thread hop
    service: IntakeService = request.app.state.intake
    return service


Intake = Annotated[IntakeService, Depends(_service)]


class WithRawIdentifiers(Protocol):
    @property
    def identifiers(self) -> list[RawIdentifier]: ...


def to_payload(body: WithRawIdentifiers, model: type[P], phone_region: str) -> P:
    """The contract payload for a request body whose identifiers arrived raw."""
    return to_payloads([body], model, phone_region)[0]


def to_payloads(bodies: Sequence[WithRawIdentifiers], model: type[P], phone_region: str) -> list[P]:
    """``to_payload`` for each body of a batch; their identifiers are normalised together.

    The body's model subclasses the contract and differs only in its identifiers, so every other field
    was already validated against the contract's own rules: construct without validating them twice."""
    identified = iter(
        identify_many([i for body in bodies for i in body.identifiers], phone_region=phone_region)
    )
    payloads: list[P] = []
    for body in bodies:
        if not isinstance(body, model):
            raise TypeError(f"{type(body).__name__} must subclass {model.__name__}")
        identifiers = [next(identified) for _ in body.identifiers]
        payloads.append(model.model_construct(**{**body.__dict__, "identifiers": identifiers}))
    return payloads


def out(outcome: Outcome) -> AcceptedOut:
    return AcceptedOut(
        event_id=outcome.event_id,
        duplicate=outcome.state is ClaimState.PUBLISHED,
        in_flight=outcome.state is ClaimState.IN_FLIGHT,
    )


def unavailable(error: BrokerUnavailableError | None = None) -> JSONResponse:
    """503: retry later. A batch the broker stored in part says so: a retry answers those as duplicates."""
    if error is not None and error.accepted:
        detail = (
            f"The event broker did not acknowledge every item ({len(error.accepted)} were). Retry the "
            "request later: the items already accepted are answered as duplicates, none is published twice."
        )
    else:
        detail = "The event broker did not acknowledge; nothing was accepted. Retry later."
    return problem(503, detail, headers={"Retry-After": RETRY_AFTER_SECONDS})


async def too_large(request: Request, error: Exception) -> JSONResponse:
    """413 for a submission that would be a Kafka message over the size limit; nothing was published."""
    position = error.position if isinstance(error, ItemTooLargeError) else 0
    return problem(
        413,
        f"Item {position} would become an event over the broker's 1 MiB message limit; nothing was accepted.",
    )


def in_flight() -> JSONResponse:
    return problem(
        409,
        "A delivery with this key is being published right now; retry shortly.",
        headers={"Retry-After": "1"},
    )


async def accept_one(intake: IntakeService, submission: Submission) -> AcceptedOut | JSONResponse:
    """The answer every single-event endpoint gives: 202 after the ack, 409 in flight, 503 broker down."""
    try:
        outcome = await intake.submit(submission)
    except BrokerUnavailableError:
        return unavailable()
    return in_flight() if outcome.state is ClaimState.IN_FLIGHT else out(outcome)


def interactions_router(phone_region: str, source: str = "/ingest/rest") -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["interactions"])

    @router.post("/interactions", status_code=202, response_model=AcceptedOut)
    async def submit_interaction(
        body: InteractionIn,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        submission = Submission(
            to_payload(body, InteractionReceived, phone_region),
            source,
            idempotency_key=idempotency_key,
            client_id=principal.client_id,
        )
        return await accept_one(intake, submission)

    @router.post("/interactions:batch", status_code=202, response_model=BatchOut)
    async def submit_batch(
        body: BatchIn, principal: InteractionWriter, intake: Intake, idempotency_key: IdempotencyKey = None
    ) -> BatchOut | JSONResponse:
        submissions = [
            Submission(
                payload,
                source,
                # One key for the batch: each item is deduped as "<key>#<position>".
                idempotency_key=f"{idempotency_key}#{index}" if idempotency_key else None,
                client_id=principal.client_id,
            )
            for index, payload in enumerate(to_payloads(body.interactions, InteractionReceived, phone_region))
        ]
        try:
            outcomes = await intake.submit_many(submissions)
        except BrokerUnavailableError as error:
            return unavailable(error)
        return BatchOut(results=[out(outcome) for outcome in outcomes])

    return router
