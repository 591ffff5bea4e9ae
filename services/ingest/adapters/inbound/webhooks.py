"""Channel webhooks: inbound email (JSON), Twilio SMS (form, signed) and Meta Messenger/Instagram (signed).

Every answer that tells the sender "done" (202 for email, 200 for Twilio and Meta) comes only after the
broker acknowledged, so a provider that gets anything else retries and nothing is lost: broker down is
503 + Retry-After, a delivery still being published by a concurrent request is 409. Duplicates (same
channel message id, or same Idempotency-Key) are answered as success and publish nothing new.

Twilio and Meta authenticate by signature, not by bearer token: a bad or missing signature is 401 and
nothing is read. Bad input is a 422 problem naming the field, never echoing what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from services.common.http import problem
from services.ingest.adapters.inbound.rest import (
    AcceptedOut,
    BatchOut,
    IdempotencyKey,
    Intake,
    InteractionWriter,
    in_flight,
    out,
    unavailable,
)
from services.ingest.core.channels.email import InboundEmailWebhook, from_webhook
from services.ingest.core.channels.meta import parse_meta_webhook, verify_challenge, verify_meta_signature
from services.ingest.core.channels.twilio import parse_twilio_sms, verify_twilio_signature
from services.ingest.core.errors import InvalidInputError, SignatureError
from services.ingest.ports import ClaimState
from services.ingest.service import BrokerUnavailableError, Outcome, Submission
from services.ingest.settings import IngestSettings

EMAIL_SOURCE = "/ingest/email"
TWILIO_SOURCE = "/ingest/sms/twilio"
META_SOURCE = "/ingest/meta"

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Field paths come from our own code, but a path part can be a key the sender chose: keep only parts that
# look like field names (as the shared 422 handler does), so a problem never echoes input.
_SAFE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}|[0-9]{1,6}")

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _safe_field(field: str) -> str:
    return ".".join(part if _SAFE_PART.fullmatch(part) else "*" for part in field.split("."))


def invalid_input(error: InvalidInputError) -> JSONResponse:
    field = _safe_field(error.field)
    return problem(
        422,
        f"{field}: {error.reason}",
        errors=[{"loc": field.split("."), "type": "invalid_input"}],
    )


def _unauthenticated(detail: str) -> JSONResponse:
    return problem(401, detail)


def signed_url(request: Request, public_base_url: str | None) -> str:
    """The URL the provider called and signed: the configured public base plus this path and query, or
    the request's own URL when no public base is configured (no proxy in between)."""
    if not public_base_url:
        return str(request.url)
    query = request.url.query
    return public_base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    """Every form field in order, repeated names kept (Twilio signs each of them)."""
    form = await request.form()
    pairs: list[tuple[str, str]] = []
    for name, value in form.multi_items():
        if not isinstance(value, str):  # a file part: Twilio never sends one
            raise InvalidInputError(_safe_field(name), "must be a form field, not a file")
        pairs.append((name, value))
    return pairs


def _first_problem(outcomes: Sequence[Outcome]) -> JSONResponse | None:
    if any(outcome.state is ClaimState.IN_FLIGHT for outcome in outcomes):
        return in_flight()
    return None


def channels_router(settings: IngestSettings, *, clock: Clock = _utc_now) -> APIRouter:
    router = APIRouter(prefix="/v1/channels", tags=["channels"])
    twilio_token = settings.twilio_auth_token.get_secret_value()
    meta_secret = settings.meta_app_secret.get_secret_value()
    meta_verify_token = settings.meta_verify_token.get_secret_value()

    @router.post("/email/inbound", status_code=202, response_model=AcceptedOut)
    async def inbound_email(
        body: InboundEmailWebhook,
        principal: InteractionWriter,
        intake: Intake,
        idempotency_key: IdempotencyKey = None,
    ) -> AcceptedOut | JSONResponse:
        """An email as an inbound-mail provider posts it (already parsed). Deduplicated by Message-ID
        (shared with the SMTP intake) and by ``Idempotency-Key``."""
        try:
            interaction = from_webhook(body, received_at=clock(), mailbox=settings.email_mailbox)
        except InvalidInputError as error:
            return invalid_input(error)
        submission = Submission(
            interaction, EMAIL_SOURCE, idempotency_key=idempotency_key, client_id=principal.client_id
        )
        try:
            outcome = await intake.submit(submission)
        except BrokerUnavailableError as error:
            return unavailable(error)
        return _first_problem([outcome]) or out(outcome)

    @router.post(
        "/sms/twilio",
        response_class=Response,
        responses={200: {"content": {"application/xml": {}}, "description": "Empty TwiML"}},
    )
    async def twilio_sms(request: Request, intake: Intake) -> Response:
        """Twilio's inbound SMS/MMS webhook (form-encoded, ``X-Twilio-Signature``). Answers empty TwiML
        once the broker has the message; Twilio retries anything but 2xx."""
        try:
            params = await _form_pairs(request)
        except InvalidInputError as error:
            return invalid_input(error)
        try:
            verify_twilio_signature(
                twilio_token,
                signed_url(request, settings.public_base_url),
                params,
                request.headers.get("X-Twilio-Signature"),
            )
        except SignatureError:
            return _unauthenticated("X-Twilio-Signature is missing or does not match.")
        try:
            interaction = parse_twilio_sms(
                params, received_at=clock(), phone_region=settings.default_phone_region
            )
        except InvalidInputError as error:
            return invalid_input(error)
        try:
            outcome = await intake.submit(Submission(interaction, TWILIO_SOURCE))
        except BrokerUnavailableError as error:
            return unavailable(error)
        return _first_problem([outcome]) or Response(EMPTY_TWIML, media_type="application/xml")

    @router.get("/meta", response_class=PlainTextResponse)
    async def meta_verify(request: Request) -> Response:
        """Meta's subscription handshake: the challenge back when ``hub.verify_token`` is ours."""
        try:
            challenge = verify_challenge(dict(request.query_params.items()), meta_verify_token)
        except SignatureError:
            return problem(403, "Not a subscription request with our verify token.")
        except InvalidInputError as error:
            return invalid_input(error)
        return PlainTextResponse(challenge)

    @router.post("/meta", response_model=BatchOut)
    async def meta_events(request: Request, intake: Intake) -> BatchOut | JSONResponse:
        """Messenger and Instagram messaging events (``X-Hub-Signature-256`` over the raw body). Every
        message in the delivery is published before the 200; Meta retries anything else."""
        body = await request.body()
        try:
            verify_meta_signature(meta_secret, body, request.headers.get("X-Hub-Signature-256"))
        except SignatureError:
            return _unauthenticated("X-Hub-Signature-256 is missing or does not match.")
        try:
            interactions = parse_meta_webhook(body, received_at=clock(), own_app_id=settings.meta_app_id)
        except InvalidInputError as error:
            return invalid_input(error)
        if not interactions:  # receipts, reactions, opt-ins: nothing to record
            return BatchOut(results=[])
        try:
            outcomes = await intake.submit_many(
                [Submission(interaction, META_SOURCE) for interaction in interactions]
            )
        except BrokerUnavailableError as error:
            return unavailable(error)
        return _first_problem(outcomes) or BatchOut(results=[out(o) for o in outcomes])

    return router
