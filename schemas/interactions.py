"""``InteractionReceived``: one contact on any channel, normalised by ingest."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, StrictInt, ValidationInfo, field_validator

from schemas.envelope import Payload, UtcDatetime
from schemas.identifiers import CustomerIdentifier

MAX_TEXT_CHARS = 100_000
MAX_URL_CHARS = 2_000


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    PHONE = "phone"
    WEB_FORM = "web_form"
    PORTAL = "portal"
    STORE = "store"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionEvent(StrEnum):
    """What happened in the contact: a message, or a step of a conversation, call, form or visit."""

    MESSAGE = "message"
    CONVERSATION_STARTED = "conversation_started"
    CONVERSATION_ENDED = "conversation_ended"
    CALL_OFFERED = "call_offered"
    CALL_ANSWERED = "call_answered"
    CALL_MISSED = "call_missed"
    CALL_ENDED = "call_ended"
    CALLBACK_REQUESTED = "callback_requested"
    FORM_SUBMITTED = "form_submitted"
    STORE_VISIT = "store_visit"


class AttachmentMetadata(Payload):
    """What an attachment is; its content never travels on Kafka."""

    filename: str | None = Field(default=None, max_length=255)
    content_type: str = Field(max_length=255)
    size_bytes: StrictInt = Field(ge=0)


class InteractionReceived(Payload):
    """A customer contact as received on one channel."""

    channel: Channel
    direction: Direction
    identifiers: list[CustomerIdentifier] = Field(min_length=1, max_length=20)
    conversation_id: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(
        default=None, max_length=998, description="e.g. an email's root Message-ID."
    )
    subject: str | None = Field(default=None, max_length=998)
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    attachments: list[AttachmentMetadata] = Field(default_factory=list, max_length=100)
    language_hint: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    occurred_at: UtcDatetime
    source_message_id: str | None = Field(
        default=None, max_length=998, description="The channel's own id of this message; duplicates share it."
    )
    auto_submitted: bool = Field(
        default=False,
        description="Sent by a machine (auto-reply, bounce, Auto-Submitted header): nobody answers it.",
    )
    event: InteractionEvent = Field(
        default=InteractionEvent.MESSAGE,
        description="A message (the default), or a step without text: conversation or call start/end, "
        "a missed call, a callback request, a form submission, a store visit.",
    )
    page_url: str | None = Field(
        default=None, max_length=MAX_URL_CHARS, description="The page the customer was on (chat, forms)."
    )
    form_id: str | None = Field(default=None, max_length=200, description="Which web or portal form.")
    call_duration_seconds: StrictInt | None = Field(
        default=None, ge=0, description="How long an ended call lasted."
    )
    callback_window_start: UtcDatetime | None = Field(
        default=None, description="Earliest time the customer asked to be called back."
    )
    callback_window_end: UtcDatetime | None = Field(
        default=None,
        validate_default=True,  # so a start without an end is refused too
        description="Latest time the customer asked to be called back; after the start.",
    )
    location_id: str | None = Field(default=None, max_length=100, description="The store of a visit.")
    mailbox: str | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\sA-Z]+@[^@\sA-Z]+$",
        description="Email only: the company address the customer wrote to (support@, sales@, ...), "
        "lower-cased; the one address the mail was delivered to us as, never another recipient's.",
    )

    @field_validator("callback_window_end")
    @classmethod
    def _window_ends_after_start(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        if "callback_window_start" not in info.data:
            return end  # the start itself was refused; that error names it
        start = info.data["callback_window_start"]
        if (start is None) != (end is None):
            raise ValueError("a callback window needs both start and end")
        if start is not None and end is not None and end <= start:
            raise ValueError("the callback window must end after it starts")
        return end
