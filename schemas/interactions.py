"""``InteractionReceived``: one contact on any channel, normalised by ingest."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, StrictInt

from schemas.envelope import Payload, UtcDatetime
from schemas.identifiers import CustomerIdentifier

MAX_TEXT_CHARS = 100_000


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
