"""Meta webhooks for Messenger (``object: "page"``) and Instagram messaging (``object: "instagram"``).

Three pure steps the adapter calls in order: the GET subscription handshake, the ``X-Hub-Signature-256``
check over the raw body, and the parse of ``entry[].messaging[]`` into interactions. Sender ids are
page-scoped (PSID / IGSID): they only mean something together with the page or Instagram account that
issued them, so each identifier is scoped by the entry id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import (
    MAX_TEXT_CHARS,
    AttachmentMetadata,
    Channel,
    Direction,
    InteractionReceived,
)
from services.ingest.core.errors import InvalidInputError, SignatureError, first_problem

_SIGNATURE_PREFIX = "sha256="
# Meta's challenge is a number; anything outside this set would be reflected into our response unchecked.
_CHALLENGE = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
# Below this a timestamp is in seconds (Meta's field-style notifications) rather than milliseconds:
# 10**11 ms is 1973, 10**11 s is the year 5138.
_SECONDS_BELOW = 10**11
_MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_CHANNELS = {
    "page": (Channel.MESSENGER, IdentifierKind.MESSENGER),
    "instagram": (Channel.INSTAGRAM, IdentifierKind.INSTAGRAM),
}
# Meta names only the kind of an attachment; "/*" says the subtype is unknown.
_CONTENT_TYPES = {
    "image": "image/*",
    "video": "video/*",
    "audio": "audio/*",
    "file": "application/octet-stream",
}


# --- signature and handshake ---------------------------------------------------------------------------


def verify_meta_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """Raise ``SignatureError`` unless ``header`` is ``sha256=<hex HMAC-SHA256 of body with app_secret>``."""
    if not app_secret:
        # An empty key would let anyone compute a valid signature; a missing secret must never verify.
        raise SignatureError("no Meta app secret configured")
    if not header or not header.isascii() or not header.startswith(_SIGNATURE_PREFIX):
        raise SignatureError("missing or malformed X-Hub-Signature-256")
    given = header[len(_SIGNATURE_PREFIX) :].lower().encode("ascii")
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, given):
        raise SignatureError("X-Hub-Signature-256 does not match")


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str:
    """The ``hub.challenge`` to answer Meta's subscription handshake with.

    ``SignatureError`` when the mode is not ``subscribe`` or the token is wrong (the caller is not Meta, or
    not configured for us); ``InvalidInputError`` when a correctly authenticated request has no usable
    challenge.
    """
    if not verify_token:
        raise SignatureError("no Meta verify token configured")
    token = params.get("hub.verify_token") or ""
    if params.get("hub.mode") != "subscribe" or not token.isascii():
        raise SignatureError("not a subscription request")
    if not hmac.compare_digest(token.encode("ascii"), verify_token.encode("utf-8")):
        raise SignatureError("hub.verify_token does not match")
    challenge = params.get("hub.challenge") or ""
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidInputError("hub.challenge", "must be 1-200 letters, digits, '.', '_' or '-'")
    return challenge


# --- the webhook's shape: only what we read is declared; Meta adds fields, so extras are ignored ----------


class _Model(BaseModel):
    # Meta documents ids as strings but numbers turn up too; both mean the same id.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class _Party(_Model):
    # Optional here: opt-in events name the person by ``user_ref`` instead. Required where we use it.
    id: str | None = Field(default=None, min_length=1, max_length=100)


class _AttachmentPayload(_Model):
    url: str | None = Field(default=None, max_length=8192)


class _Attachment(_Model):
    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    payload: _AttachmentPayload | None = None


class _Message(_Model):
    mid: str = Field(min_length=1, max_length=998)
    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    attachments: list[_Attachment] = Field(default_factory=list, max_length=100)
    is_echo: bool = False
    is_deleted: bool = False
    app_id: str | None = Field(default=None, max_length=100)


class _Postback(_Model):
    mid: str | None = Field(default=None, min_length=1, max_length=998)
    title: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    payload: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


class _Messaging(_Model):
    sender: _Party | None = None
    recipient: _Party | None = None
    timestamp: int | None = Field(default=None, ge=0, le=_MAX_TIMESTAMP_MS)
    message: _Message | None = None
    postback: _Postback | None = None


class _Entry(_Model):
    id: str = Field(min_length=1, max_length=100)
    messaging: list[_Messaging] = Field(default_factory=list, max_length=1000)
    # Events for a thread another app (e.g. a bot) currently controls: still the customer talking to us.
    standby: list[_Messaging] = Field(default_factory=list, max_length=1000)


class _Webhook(_Model):
    object: Literal["page", "instagram"]
    entry: list[_Entry] = Field(max_length=1000)


# --- parse ---------------------------------------------------------------------------------------------


def parse_meta_webhook(
    body: bytes, *, received_at: datetime, own_app_id: str | None = None
) -> list[InteractionReceived]:
    """Every customer message and postback in one Meta webhook delivery, in the order Meta sent them.

    Delivery and read receipts, reactions, opt-ins and other events carry no contact and yield nothing.
    Echoes (messages the page sent) become ``outbound`` interactions for the customer they went to, so
    replies typed in Meta's own inbox reach the timeline; an echo from ``own_app_id`` (our own sends, which
    notify already records) is skipped. ``received_at`` stands in for a missing event timestamp.
    """
    try:
        webhook = _Webhook.model_validate_json(body)
    except ValidationError as error:
        raise first_problem(error) from None
    channel, kind = _CHANNELS[webhook.object]
    interactions = []
    for field, scope, event in _events(webhook):
        interaction = _interaction(
            field, scope, event, channel=channel, kind=kind, received_at=received_at, own_app_id=own_app_id
        )
        if interaction is not None:
            interactions.append(interaction)
    return interactions


def _events(webhook: _Webhook) -> Iterator[tuple[str, str, _Messaging]]:
    """Each messaging event with the path that names it in errors and the entry (page/account) id."""
    for entry_index, entry in enumerate(webhook.entry):
        for list_name, events in (("messaging", entry.messaging), ("standby", entry.standby)):
            for index, event in enumerate(events):
                yield f"entry.{entry_index}.{list_name}.{index}", entry.id, event


def _interaction(
    field: str,
    scope: str,
    event: _Messaging,
    *,
    channel: Channel,
    kind: IdentifierKind,
    received_at: datetime,
    own_app_id: str | None,
) -> InteractionReceived | None:
    message, postback = event.message, event.postback
    if message is not None:
        if message.is_deleted or (message.is_echo and own_app_id and message.app_id == own_app_id):
            return None  # an unsent message has nothing left to record; our own sends are recorded already
        echo = message.is_echo
        text_field = f"{field}.message.text"
        source_message_id = message.mid
        text = message.text
        attachments = [_attachment(attachment) for attachment in message.attachments]
    elif postback is not None:
        echo = False
        text_field = f"{field}.postback.title"
        # The button title is what the customer saw and tapped; the payload is our bot's opaque code.
        text = postback.title or postback.payload
        attachments = []
        source_message_id = postback.mid or _postback_id(scope, event, field)
    else:
        return None  # receipts, reactions, opt-ins, referrals, handover: no contact to record
    # In an echo the page is the sender and the customer the recipient.
    party_name, party = ("recipient", event.recipient) if echo else ("sender", event.sender)
    customer_id = _required_id(party, f"{field}.{party_name}.id")
    try:
        return InteractionReceived(
            channel=channel,
            direction=Direction.OUTBOUND if echo else Direction.INBOUND,
            identifiers=[identify(kind, customer_id, scope)],
            conversation_id=_conversation_id(channel, scope, customer_id),
            text=_text(text, text_field) or None,
            attachments=attachments,
            occurred_at=_occurred_at(event.timestamp, received_at),
            source_message_id=source_message_id,
        )
    except ValidationError as error:
        raise first_problem(error, prefix=field) from None


def _required_id(party: _Party | None, field: str) -> str:
    if party is None or party.id is None or not party.id.strip():
        raise InvalidInputError(field, "is required")
    return _text(party.id, field).strip()


def _attachment(attachment: _Attachment) -> AttachmentMetadata:
    """Only the kind: Meta gives no size (0 here) or name, and its media URLs expire and have no place in
    the contract."""
    content_type = _CONTENT_TYPES.get(attachment.type, f"application/x-meta-{attachment.type}")
    return AttachmentMetadata(content_type=content_type, size_bytes=0)


def _postback_id(scope: str, event: _Messaging, field: str) -> str:
    """Older postbacks carry no mid; sender, page and time are what Meta repeats on a redelivery."""
    if event.timestamp is None:
        raise InvalidInputError(f"{field}.timestamp", "is required for a postback without mid")
    sender = _required_id(event.sender, f"{field}.sender.id")
    digest = hashlib.sha256(f"{scope}\x00{sender}\x00{event.timestamp}".encode()).hexdigest()
    return f"postback:{digest[:40]}"


def _conversation_id(channel: Channel, scope: str, customer_id: str) -> str:
    """A Meta thread is one page (or account) with one person. Hashed like SMS conversations so the id
    carries no personal id in clear."""
    digest = hashlib.sha256(f"{scope}\x00{customer_id}".encode()).hexdigest()
    return f"{channel.value}:{digest[:40]}"


def _occurred_at(timestamp: int | None, received_at: datetime) -> datetime:
    if timestamp is None:
        return received_at
    milliseconds = timestamp * 1000 if timestamp < _SECONDS_BELOW else timestamp
    # Integer arithmetic: float seconds would round the year-9999 bound over the edge.
    return _EPOCH + timedelta(milliseconds=milliseconds)


def _text(value: str | None, field: str) -> str:
    """The value, refusing lone surrogates (JSON ``\\ud800`` escapes): they cannot be re-encoded as
    UTF-8 for Kafka later."""
    if value is None:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(field, "is not valid UTF-8") from None
    return value
