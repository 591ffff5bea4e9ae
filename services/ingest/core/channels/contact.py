"""Chat, phone, web/portal forms and store visits: request bodies and their pure mapping to interactions.

Each body is what a contact-centre, telephony, form or POS system posts to ingest; each becomes exactly one
``InteractionReceived``. The channel's own id of the event becomes ``source_message_id`` so a redelivery
is recognised: ``<conversation>/<message>`` (chat), ``<call>/<event>`` (phone), the submission id (forms),
``<location>/<visit>`` (store). No I/O, no clock; the checks here name fields, never the values received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from schemas.envelope import UtcDatetime
from schemas.identifiers import CustomerIdentifier, IdentifierKind, RawIdentifier, identify, identify_many
from schemas.interactions import (
    MAX_TEXT_CHARS,
    MAX_URL_CHARS,
    Channel,
    Direction,
    InteractionEvent,
    InteractionReceived,
)

MAX_IDENTIFIERS = 20
MAX_ID_CHARS = 200

ChatEvent = Literal[
    InteractionEvent.CONVERSATION_STARTED, InteractionEvent.MESSAGE, InteractionEvent.CONVERSATION_ENDED
]
PhoneEvent = Literal[
    InteractionEvent.CALL_OFFERED,
    InteractionEvent.CALL_ANSWERED,
    InteractionEvent.CALL_MISSED,
    InteractionEvent.CALL_ENDED,
    InteractionEvent.CALLBACK_REQUESTED,
]
FormChannel = Literal[Channel.WEB_FORM, Channel.PORTAL]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _normalised(raw: list[RawIdentifier], phone_region: str) -> list[CustomerIdentifier]:
    return identify_many(raw, phone_region=phone_region)


class ChatEventIn(_Body):
    """A chat conversation starting, one message in it, or its end."""

    event: ChatEvent = InteractionEvent.MESSAGE
    conversation_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=MAX_IDENTIFIERS)
    direction: Direction = Direction.INBOUND
    page_url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    message_id: str | None = Field(default=None, validate_default=True, min_length=1, max_length=MAX_ID_CHARS)
    text: str | None = Field(default=None, validate_default=True, max_length=MAX_TEXT_CHARS)
    language_hint: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    occurred_at: UtcDatetime

    @field_validator("message_id", "text")
    @classmethod
    def _only_messages_carry_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        event = info.data.get("event")
        if event is InteractionEvent.MESSAGE and not value:
            raise ValueError("required for a message")
        if event is not None and event is not InteractionEvent.MESSAGE and value is not None:
            raise ValueError("only a message carries this")
        return value


class PhoneEventIn(_Body):
    """A step of one call, keyed by the telephony system's call id."""

    event: PhoneEvent
    call_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    caller: str = Field(min_length=1, max_length=320, description="The caller's phone number.")
    identifiers: list[RawIdentifier] = Field(default_factory=list, max_length=MAX_IDENTIFIERS - 1)
    direction: Direction = Direction.INBOUND
    occurred_at: UtcDatetime
    duration_seconds: StrictInt | None = Field(default=None, ge=0, le=7 * 24 * 3600, validate_default=True)
    callback_window_start: UtcDatetime | None = Field(default=None, validate_default=True)
    callback_window_end: UtcDatetime | None = Field(default=None, validate_default=True)

    @field_validator("duration_seconds")
    @classmethod
    def _duration_when_ended(cls, value: int | None, info: ValidationInfo) -> int | None:
        event = info.data.get("event")
        if event is InteractionEvent.CALL_ENDED and value is None:
            raise ValueError("required when a call ended")
        if event is not None and event is not InteractionEvent.CALL_ENDED and value is not None:
            raise ValueError("only an ended call has a duration")
        return value

    @field_validator("callback_window_start", "callback_window_end")
    @classmethod
    def _window_when_callback(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        event = info.data.get("event")
        if event is InteractionEvent.CALLBACK_REQUESTED and value is None:
            raise ValueError("required for a callback request")
        if event is not None and event is not InteractionEvent.CALLBACK_REQUESTED and value is not None:
            raise ValueError("only a callback request has a window")
        return value

    @field_validator("callback_window_end")
    @classmethod
    def _window_ends_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("callback_window_start")
        if start is not None and end is not None and end <= start:
            raise ValueError("the callback window must end after it starts")
        return end


class FormSubmissionIn(_Body):
    """One submission of a web form or a self-service portal form."""

    channel: FormChannel = Channel.WEB_FORM
    form_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    submission_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=MAX_IDENTIFIERS)
    subject: str | None = Field(default=None, max_length=998)
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    page_url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    language_hint: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    occurred_at: UtcDatetime


class StoreVisitIn(_Body):
    """A customer seen in a store or at a till."""

    location_id: str = Field(min_length=1, max_length=100)
    visit_id: str = Field(
        min_length=1, max_length=MAX_ID_CHARS, description="The POS system's id of the visit or transaction."
    )
    identifiers: list[RawIdentifier] = Field(min_length=1, max_length=MAX_IDENTIFIERS)
    note: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    occurred_at: UtcDatetime


def chat_interaction(body: ChatEventIn, *, phone_region: str) -> InteractionReceived:
    step = body.message_id if body.event is InteractionEvent.MESSAGE else body.event.value
    return InteractionReceived(
        channel=Channel.CHAT,
        event=body.event,
        direction=body.direction,
        identifiers=_normalised(body.identifiers, phone_region),
        conversation_id=body.conversation_id,
        text=body.text,
        page_url=body.page_url,
        language_hint=body.language_hint,
        occurred_at=body.occurred_at,
        source_message_id=f"{body.conversation_id}/{step}",
    )


def phone_interaction(body: PhoneEventIn, *, phone_region: str) -> InteractionReceived:
    caller = identify(IdentifierKind.PHONE, body.caller, phone_region=phone_region)
    return InteractionReceived(
        channel=Channel.PHONE,
        event=body.event,
        direction=body.direction,
        identifiers=[caller, *_normalised(body.identifiers, phone_region)],
        conversation_id=body.call_id,
        occurred_at=body.occurred_at,
        call_duration_seconds=body.duration_seconds,
        callback_window_start=body.callback_window_start,
        callback_window_end=body.callback_window_end,
        source_message_id=f"{body.call_id}/{body.event.value}",
    )


def form_interaction(body: FormSubmissionIn, *, phone_region: str) -> InteractionReceived:
    return InteractionReceived(
        channel=body.channel,
        event=InteractionEvent.FORM_SUBMITTED,
        direction=Direction.INBOUND,
        identifiers=_normalised(body.identifiers, phone_region),
        subject=body.subject,
        text=body.text,
        page_url=body.page_url,
        form_id=body.form_id,
        language_hint=body.language_hint,
        occurred_at=body.occurred_at,
        source_message_id=body.submission_id,
    )


def store_interaction(body: StoreVisitIn, *, phone_region: str) -> InteractionReceived:
    return InteractionReceived(
        channel=Channel.STORE,
        event=InteractionEvent.STORE_VISIT,
        direction=Direction.INBOUND,
        identifiers=_normalised(body.identifiers, phone_region),
        text=body.note,
        location_id=body.location_id,
        occurred_at=body.occurred_at,
        source_message_id=f"{body.location_id}/{body.visit_id}",
    )
