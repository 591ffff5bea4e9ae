"""Twilio Programmable Messaging: the ``X-Twilio-Signature`` check and the inbound SMS/MMS webhook.

Twilio posts ``application/x-www-form-urlencoded`` fields (``From``, ``To``, ``Body``, ``MessageSid``,
``NumMedia``, ``MediaUrl{N}``, ``MediaContentType{N}`` and many more it adds without notice). Pure: the
adapter hands over the decoded form fields, the public URL Twilio called and the time it received them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import ValidationError

from schemas.identifiers import IdentifierKind, identify, normalise_identifier
from schemas.interactions import AttachmentMetadata, Channel, Direction, InteractionReceived
from services.ingest.core.errors import InvalidInputError, SignatureError, first_problem

# Form fields as decoded by the HTTP layer; a list of pairs keeps repeated keys, which Twilio signs too.
FormParams = Sequence[tuple[str, str]] | Mapping[str, str]

# Message SIDs: "SM" (SMS) or "MM" (MMS) followed by 32 hex digits.
_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_MAX_MEDIA = 100  # InteractionReceived holds at most 100 attachments; Twilio itself sends at most 10.
_DEFAULT_PORTS = {"https": 443, "http": 80}
_UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def verify_twilio_signature(auth_token: str, url: str, params: FormParams, signature: str | None) -> None:
    """Raise ``SignatureError`` unless ``signature`` is Twilio's HMAC-SHA1 of ``url`` and ``params``.

    Twilio signs the full URL it called followed by every POST field name and value, sorted by name (and,
    for a repeated name, by value), base64-encoded. Like Twilio's own SDK we accept the URL with and
    without an explicit port, because Twilio's signing is inconsistent about it behind load balancers.
    """
    if not auth_token:
        # An empty key would let anyone compute a valid signature; a missing secret must never verify.
        raise SignatureError("no Twilio auth token configured")
    if not signature or not signature.isascii():
        raise SignatureError("missing or malformed X-Twilio-Signature")
    given = signature.encode("ascii")
    for candidate in _url_variants(url):
        expected = _twilio_signature(auth_token, candidate, _pairs(params))
        if hmac.compare_digest(expected, given):
            return
    raise SignatureError("X-Twilio-Signature does not match")


def _twilio_signature(auth_token: str, url: str, pairs: list[tuple[str, str]]) -> bytes:
    signed = url + "".join(name + value for name, value in sorted(pairs))
    try:
        message = signed.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot have come from Twilio's UTF-8 form body.
        raise SignatureError("request is not valid UTF-8") from None
    digest = hmac.new(auth_token.encode("utf-8"), message, hashlib.sha1).digest()
    return base64.b64encode(digest)


def _url_variants(url: str) -> list[str]:
    """The URL without and with its port (default port added when none is given), as Twilio's SDK does."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SignatureError("request URL is malformed") from None
    host = parts.netloc[: parts.netloc.rfind(":")] if port is not None else parts.netloc
    without_port = parts._replace(netloc=host)
    default = _DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    with_port = parts if port is not None else parts._replace(netloc=f"{host}:{default}")
    return [without_port.geturl(), with_port.geturl()]


def _pairs(params: FormParams) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def parse_twilio_sms(params: FormParams, *, received_at: datetime, phone_region: str) -> InteractionReceived:
    """One inbound SMS/MMS as an interaction, or ``InvalidInputError`` naming the field at fault.

    Twilio's webhook carries no send time, so ``occurred_at`` is when we received it.
    """
    fields = _single_valued(params)
    sender = _required(fields, "From")
    message_sid = _required(fields, "MessageSid")
    if not _MESSAGE_SID.fullmatch(message_sid):
        raise InvalidInputError("MessageSid", "must be SM or MM followed by 32 hex digits")
    customer = identify(IdentifierKind.PHONE, sender, phone_region=phone_region)
    text = _text(fields.get("Body"), "Body")
    try:
        return InteractionReceived(
            channel=Channel.SMS,
            direction=Direction.INBOUND,
            identifiers=[customer],
            conversation_id=_conversation_id(customer.key, fields.get("To"), phone_region),
            text=text or None,
            attachments=_attachments(fields),
            occurred_at=received_at,
            source_message_id=message_sid,
        )
    except ValidationError as error:
        raise first_problem(error, rename=_source_field) from None


def _single_valued(params: FormParams) -> dict[str, str]:
    """Fields by name; a field we read that arrives twice is ambiguous, so it is refused."""
    fields: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in _pairs(params):
        if name in fields:
            repeated.add(name)
        fields[name] = value
    read = {"From", "To", "Body", "MessageSid", "NumMedia"}
    for name in sorted(repeated):
        if name in read or name.startswith(("MediaUrl", "MediaContentType")):
            raise InvalidInputError(name, "must appear once")
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = _text(fields.get(name), name).strip()
    if not value:
        raise InvalidInputError(name, "is required")
    return value


def _text(value: str | None, name: str) -> str:
    """The value, refusing lone surrogates: they cannot be encoded as UTF-8 JSON for Kafka later."""
    if value is None:
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(name, "is not valid UTF-8") from None
    return value


def _attachments(fields: Mapping[str, str]) -> list[AttachmentMetadata]:
    """Metadata of the MMS media. Twilio does not say how large a medium is, so ``size_bytes`` is 0;
    the media URL has no place in the contract (and needs our credentials to fetch), so it stays here."""
    count = _media_count(fields.get("NumMedia"))
    attachments = []
    for index in range(count):
        name = f"MediaContentType{index}"
        content_type = _text(fields.get(name), name).strip()
        try:
            attachments.append(
                AttachmentMetadata(content_type=content_type or _UNKNOWN_MEDIA_TYPE, size_bytes=0)
            )
        except ValidationError as error:
            raise InvalidInputError(name, first_problem(error).reason) from None
    return attachments


def _media_count(value: str | None) -> int:
    if value is None or value == "":
        return 0
    # str.isdigit alone would accept other scripts' digits and int() would accept "1_0" or " 1".
    if not (value.isascii() and value.isdigit() and len(value) <= 3):
        raise InvalidInputError("NumMedia", "must be a whole number")
    count = int(value)
    if count > _MAX_MEDIA:
        raise InvalidInputError("NumMedia", f"must be at most {_MAX_MEDIA}")
    return count


def _conversation_id(customer_key: str, to: str | None, phone_region: str) -> str:
    """An SMS conversation is the pair (customer's number, our number). Hashed so the id carries no phone
    number in clear (conversation ids end up in logs and dashboards), and built from normalised values so
    "+47 912 34 567" and "+4791234567" are one conversation. Our number is kept nowhere else."""
    ours = _normalised_phone(_text(to, "To").strip(), phone_region)
    digest = hashlib.sha256(f"{customer_key}\x00{ours}".encode()).hexdigest()
    return f"sms:{digest[:40]}"


def _normalised_phone(value: str, phone_region: str) -> str:
    try:
        return normalise_identifier(IdentifierKind.PHONE, value, phone_region)
    except ValueError:
        return value  # short codes and alphanumeric ids do not parse; they still identify our side


# Contract fields named as the Twilio field they came from, so a 422 names what the sender sent.
_SOURCE_FIELD = {"text": "Body", "identifiers": "From", "attachments": "NumMedia", "conversation_id": "To"}


def _source_field(path: str) -> str:
    """Twilio's parameter name for a field of ours (``From`` for ``identifiers``)."""
    return _SOURCE_FIELD.get(path.split(".", maxsplit=1)[0], path)
