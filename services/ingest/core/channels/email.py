"""The email channel's pure core: raw MIME (SMTP) or an inbound-email webhook → ``InteractionReceived``.

Everything here is a decision on bytes already received: no I/O, no clock (``received_at`` is passed in),
no logging. Mail is hostile input, so every header and body is read defensively: the only exception that
leaves this module for bad input is ``InvalidInputError``, whose text never contains what was received.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import errors as email_errors
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from itertools import islice

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify, normalise_identifier
from schemas.interactions import (
    MAX_TEXT_CHARS,
    AttachmentMetadata,
    Channel,
    Direction,
    InteractionReceived,
)
from services.ingest.core.errors import InvalidInputError

# The contract's max lengths (schemas/interactions.py); a unit test keeps these in step with it.
MAX_HEADER_CHARS = 998  # subject, thread_id, source_message_id
MAX_ATTACHMENTS = 100
MAX_IDENTIFIERS = 20
MAX_RECIPIENTS = 50  # addresses looked at for our own mailbox (each costs a validation)
MAX_ATTACHMENT_FIELD_CHARS = 255  # filename, content_type

# Bounds on work per message, so one hostile message cannot burn the CPU or the stack.
MAX_MULTIPART_HEADERS = 100  # the stdlib parser recurses per nesting level
MAX_MIME_DEPTH = 20
MAX_MIME_PARTS = 1_000
MAX_HTML_CHARS = 20 * MAX_TEXT_CHARS  # the text is cut at MAX_TEXT_CHARS anyway
# A Date header far ahead of the receipt is a wrong clock or a lie; it must not reorder a timeline.
MAX_FUTURE_SKEW = timedelta(days=1)
EARLIEST_DATE = datetime(1980, 1, 1, tzinfo=UTC)  # before that, the sender's clock was not set

# What the stdlib email package raises on hostile input despite its "register a defect" design.
_EMAIL_BUGS: tuple[type[Exception], ...] = (
    email_errors.MessageError,
    LookupError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    UnicodeError,
    AssertionError,
)

_MULTIPART_HEADER = re.compile(rb"^content-type:\s*multipart/", re.IGNORECASE | re.MULTILINE)
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,996})>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")
_NO_REPLY = re.compile(r"^(?:do[-_.]?not|no)[-_.]?reply(?:[-_.+].*)?$", re.IGNORECASE)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
_MACHINE_REPORTS = frozenset({"delivery-status", "disposition-notification"})
_FALSE_WORDS = frozenset({"", "no", "false", "0"})
_NULL_SENDERS = frozenset({"", "<>"})


# --- text hygiene -------------------------------------------------------------------------------------


def _repair(text: str) -> str:
    """Valid Unicode from what the parser produced: raw 8-bit header bytes arrive as surrogate escapes
    (undecodable on Kafka), so restore them and read them as UTF-8, else as Windows-1252."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that were never bytes
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _one_line(text: str, limit: int) -> str | None:
    """A header value safe to store: no CR/LF (header injection), no control characters, truncated."""
    cleaned = _CONTROL.sub("", _LINE_BREAKS.sub(" ", _repair(text))).strip()
    return cleaned[:limit].strip() or None


def _body_text(text: str) -> str | None:
    """Body text safe to store. Truncated to the contract's maximum rather than failing: a long mail
    is still a contact someone must answer, and the first 100k characters carry the request."""
    cleaned = _CONTROL.sub("", _repair(text).replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = unicodedata.normalize("NFC", cleaned).strip()
    return cleaned[:MAX_TEXT_CHARS].strip() or None


# --- html → text --------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Visible text of an html body: tags stripped, script/style/head dropped, entities unescaped."""

    _HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript"})
    _BLOCK = frozenset(
        {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._hidden_depth = 0
        self._chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCK:
            self._chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self._chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCK:
            self._chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self._chunks.append(data)

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self._chunks).splitlines())
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Plain text of an html body, as a reader would see it."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html[:MAX_HTML_CHARS])
        extractor.close()
    except (AssertionError, ValueError):  # the stdlib parser's reaction to some broken markup
        return unescape(re.sub(r"<[^>]*>", " ", html[:MAX_HTML_CHARS]))
    return extractor.text()


# --- headers ------------------------------------------------------------------------------------------


def _raw_header(message: Message, name: str) -> str | None:
    """The header as it came off the wire, for when the policy's structured parsing gives up."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _has_raw_8bit(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _header(message: Message, name: str) -> str | None:
    """A header's decoded value (RFC 2047 words resolved), or its raw value when decoding fails.
    Raw 8-bit headers (against RFC 5322, but common) are read here: the policy would replace them."""
    raw = _raw_header(message, name)
    if raw is not None and _has_raw_8bit(raw):
        return _repair(raw)
    try:
        value = message.get(name)
        return None if value is None else str(value)
    except _EMAIL_BUGS:
        return _raw_header(message, name)


def _addresses(message: Message, name: str) -> list[str]:
    """The addr-specs of an address header; unparseable parts are left to the caller's fallback."""
    try:
        header = message.get(name)
        found = [str(address.addr_spec) for address in getattr(header, "addresses", ())]
    except _EMAIL_BUGS:
        found = []
    if not found:
        raw = _raw_header(message, name)
        found = [address for _, address in getaddresses([raw])] if raw else []
    return [address for address in found if address not in _NULL_SENDERS]


def _local_part(address: str | None) -> str:
    return (address or "").rpartition("@")[0] or (address or "")


def _message_ids(raw: str | None) -> list[str]:
    """Message-IDs in ``<id>`` form. Bare ids (some webhooks drop the brackets) get them back, so SMTP
    and webhook deliveries of one message share ``source_message_id`` and dedupe as one."""
    text = _one_line(raw, 100_000) if raw else None
    if not text:
        return []
    bracketed = [f"<{found}>" for found in _MESSAGE_ID.findall(text)]
    return bracketed or [f"<{token[:996]}>" for token in text.split() if token.strip("<>")]


def _thread_id(message_id: str | None, in_reply_to: str | None, references: str | None) -> str | None:
    """The root of the conversation: first of References, else the parent, else this message."""
    for ids in (_message_ids(references), _message_ids(in_reply_to)):
        if ids:
            return ids[0]
    return message_id


def _plausible(moment: datetime | None, received_at: datetime) -> datetime | None:
    """``moment`` in UTC when it carries a zone and is not after our receipt (beyond clock skew)."""
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        return None  # "-0000" means the zone is unknown (RFC 5322 3.3): not an instant
    try:
        moment = moment.astimezone(UTC)
        return moment if EARLIEST_DATE <= moment <= received_at + MAX_FUTURE_SKEW else None
    except (OverflowError, ValueError):
        return None


def _occurred_at(
    date_header: str | None, received_at: datetime, fallback: datetime | None = None
) -> datetime:
    """The sender's Date when it parses and is plausible; else ``fallback`` (e.g. the provider's
    receipt time) when plausible; else our receipt."""
    sent: datetime | None = None
    if date_header:
        try:
            sent = parsedate_to_datetime(_repair(date_header))
        except (TypeError, ValueError, IndexError, OverflowError):
            sent = None
    return _plausible(sent, received_at) or _plausible(fallback, received_at) or received_at


# --- auto-submitted -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MachineSignals:
    """What decides whether a machine sent a mail, gathered from either source (MIME or webhook)."""

    header: Callable[[str], str | None]
    sender: str | None
    content_type: str
    report_type: str | None


def _first_token(value: str | None) -> str | None:
    return None if value is None else value.split(";", 1)[0].strip().lower()


def _machine_sent(signals: _MachineSignals) -> bool:
    auto_submitted = _first_token(signals.header("Auto-Submitted"))
    if auto_submitted is not None and auto_submitted != "no":
        return True
    for flag in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        value = _first_token(signals.header(flag))
        if value is not None and value not in _FALSE_WORDS:
            return True
    if _first_token(signals.header("Precedence")) in _BULK_PRECEDENCE:
        return True
    return _is_bounce(signals) or bool(_NO_REPLY.match(_local_part(signals.sender)))


def _is_bounce(signals: _MachineSignals) -> bool:
    return_path = signals.header("Return-Path")
    if return_path is not None and return_path.strip() in _NULL_SENDERS:
        return True  # the delivering MTA recorded an empty envelope sender
    if _local_part(signals.sender).lower() == "mailer-daemon":
        return True
    # Delivery reports and read receipts (multipart/report) are written by mail systems, not people.
    return signals.content_type == "multipart/report" and (signals.report_type or "") in _MACHINE_REPORTS


def _signals_of(message: Message) -> _MachineSignals:
    try:
        content_type = message.get_content_type()
        report_type = message.get_param("report-type")
    except _EMAIL_BUGS:
        content_type, report_type = "text/plain", None
    senders = _addresses(message, "From")
    return _MachineSignals(
        header=lambda name: _header(message, name),
        sender=senders[0] if senders else None,
        content_type=content_type,
        report_type=report_type.lower() if isinstance(report_type, str) else None,
    )


def is_auto_submitted(message: Message) -> bool:
    """True when a machine sent this mail (auto-reply, bounce, list bulk, no-reply sender): it is still
    recorded, but nobody answers it — answering would start a mail loop."""
    return _machine_sent(_signals_of(message))


# --- identifiers --------------------------------------------------------------------------------------


def _email_identifier(value: str) -> CustomerIdentifier:
    """Normalised when it parses, else kept raw and flagged: an identifier is never dropped."""
    return identify(IdentifierKind.EMAIL, _one_line(value, 320) or "?")


def _identifiers(sender: str, reply_to: list[str], mailbox: str | None) -> list[CustomerIdentifier]:
    """The sender first (it keys the event), then Reply-To addresses that are neither the sender nor
    our own mailbox (a Reply-To pointing back at us says nothing about the customer)."""
    identifiers = [_email_identifier(sender)]
    ours = _email_identifier(mailbox).value.lower() if mailbox else None
    for address in reply_to:
        candidate = _email_identifier(address)
        if candidate.value.lower() != ours and candidate not in identifiers:
            identifiers.append(candidate)
    return identifiers[:MAX_IDENTIFIERS]


# --- the company mailbox ------------------------------------------------------------------------------

# What a relaying MTA records when it rewrote the envelope recipient (an alias, a forward to this server).
_DELIVERY_HEADERS = ("Delivered-To", "X-Original-To")


def _normalised_email(address: str) -> str | None:
    try:
        return normalise_identifier(IdentifierKind.EMAIL, address)
    except ValueError:  # UnicodeError is one too
        return None


def _company_mailbox(delivered_to: Iterable[str], message: Message, mailbox: str | None) -> str | None:
    """Which company address the mail reached us as (support@, sales@, ...), for routing.

    The rule: the first address the mail was delivered to (SMTP's envelope recipients, RCPT TO; the
    webhook's ``to``), else the first Delivered-To / X-Original-To header, that is on our own domain, the
    domain of the configured ``mailbox``. One address, normalised and lower-cased; one that does not
    parse is skipped, never fatal. Nothing else is read: To and Cc are written by the sender and may name
    other private people, and an address on any other domain is never recorded. Without a configured
    mailbox nothing is recorded, as ours could not be told from theirs.
    """
    ours = _normalised_email(mailbox) if mailbox else None
    if ours is None:
        return None
    domain = ours.rpartition("@")[2]
    delivery_headers = (_raw_header(message, name) for name in _DELIVERY_HEADERS)
    for source in (delivered_to, (header for header in delivery_headers if header)):
        for address in islice(_addr_specs(source), MAX_RECIPIENTS):
            candidate = _normalised_email(address)
            if candidate is not None and candidate.rpartition("@")[2] == domain:
                return candidate
    return None


def _addr_specs(values: Iterable[str]) -> Iterator[str]:
    for value in values:
        try:
            found = getaddresses([value])
        except _EMAIL_BUGS:
            continue
        yield from (address for _, address in found if address)


# --- MIME body and attachments ------------------------------------------------------------------------


def _walk(message: Message) -> Iterator[Message]:
    """Leaf parts, depth-first, iteratively and bounded (the stdlib ``walk`` recurses without limit).
    ``message/*`` parts (forwarded mail, delivery status) are leaves: their content is not ours to read."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_MIME_PARTS:
        part, depth = stack.pop()
        seen += 1
        payload = part.get_payload() if part.get_content_maintype() == "multipart" else None
        if isinstance(payload, list):
            if depth < MAX_MIME_DEPTH:
                stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
            continue
        yield part


def _is_attachment(part: Message) -> bool:
    if part.get_content_disposition() == "attachment" or part.get_filename() is not None:
        return True
    # Inline text parts are bodies (the plain and html alternatives); anything else is a file. A
    # multipart left as a leaf lost its boundary: its content is best read as text.
    return part.get_content_maintype() not in ("text", "multipart")


def _decoded_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(first, Message):
            return first.as_bytes(policy=policy.compat32)
        return str(first or "").encode("utf-8", "surrogateescape")
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _decode_text(part: Message) -> str:
    """A text part's content in its declared charset; unknown or lying charsets fall back to UTF-8 with
    replacement characters rather than failing the whole message."""
    data = _decoded_bytes(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", "replace")


def _attachment(part: Message) -> AttachmentMetadata:
    filename = part.get_filename()
    return AttachmentMetadata(
        filename=_one_line(filename, MAX_ATTACHMENT_FIELD_CHARS) if filename else None,
        content_type=part.get_content_type()[:MAX_ATTACHMENT_FIELD_CHARS],
        size_bytes=len(_decoded_bytes(part)),
    )


@dataclass(frozen=True)
class _Content:
    text: str | None
    attachments: list[AttachmentMetadata]


def _content(message: Message) -> _Content:
    """Body text (first text/plain, else first text/html converted) and attachment metadata. The
    attachment list is cut at the contract's maximum: metadata only, and the mail still counts."""
    plain: Message | None = None
    html: Message | None = None
    attachments: list[AttachmentMetadata] = []
    for part in _walk(message):
        try:
            if _is_attachment(part):
                if len(attachments) < MAX_ATTACHMENTS:
                    attachments.append(_attachment(part))
            elif part.get_content_subtype() == "html":
                html = html or part
            else:
                plain = plain or part
        except _EMAIL_BUGS:
            continue  # one unreadable part must not lose the rest of the mail
    text = _text_of(plain, html)
    return _Content(text=text, attachments=attachments)


def _text_of(plain: Message | None, html: Message | None) -> str | None:
    try:
        if plain is not None and (text := _body_text(_decode_text(plain))):
            return text
        if html is not None:
            return _body_text(html_to_text(_decode_text(html)))
    except _EMAIL_BUGS:
        return None
    return None


# --- assembly -----------------------------------------------------------------------------------------


def _parse_bytes(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise InvalidInputError("message", "empty message")
    if len(_MULTIPART_HEADER.findall(raw)) > MAX_MULTIPART_HEADERS:
        raise InvalidInputError("message", "too many nested MIME parts")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except RecursionError:
        raise InvalidInputError("message", "MIME structure too deeply nested") from None
    except _EMAIL_BUGS:
        raise InvalidInputError("message", "malformed MIME") from None
    assert isinstance(message, EmailMessage)  # policy.default's message factory
    return message


def _require_aware(received_at: datetime) -> None:
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")  # a caller bug, not bad input


def _build(**fields: object) -> InteractionReceived:
    """The interaction, with any contract violation we did not foresee reported as bad input (naming
    the field only: pydantic's own messages may quote the value)."""
    try:
        return InteractionReceived.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "message"
        raise InvalidInputError(field, f"violates the contract ({first['type']})") from None


def parse_email(
    raw: bytes,
    *,
    received_at: datetime,
    mailbox: str | None = None,
    envelope_sender: str | None = None,
    envelope_recipients: Sequence[str] = (),
) -> InteractionReceived:
    """One received mail (RFC 5322 bytes) as an inbound email interaction.

    ``mailbox`` is our own address that received it (never taken as the customer's identifier); its
    domain tells our addresses from others' (see ``_company_mailbox``).
    ``envelope_sender`` is SMTP's MAIL FROM when known; an empty one (``""`` or ``"<>"``) marks a bounce.
    ``envelope_recipients`` are SMTP's RCPT TO addresses: where the mail was delivered to us.
    Raises ``InvalidInputError`` for mail that cannot become an interaction (no sender, unparseable).
    """
    _require_aware(received_at)
    message = _parse_bytes(raw)
    try:
        return _interaction(message, received_at, mailbox, envelope_sender, envelope_recipients)
    except RecursionError:
        raise InvalidInputError("message", "MIME structure too deeply nested") from None


def _sender(message: Message) -> str:
    raw = _header(message, "From")
    if raw is None or not _one_line(raw, 998):
        raise InvalidInputError("from", "missing sender")
    return _pick_sender(_addresses(message, "From"), _raw_header(message, "From") or raw)


def _pick_sender(found: list[str], raw: str) -> str:
    """The first address that parses; an unparseable sender is kept raw (flagged unparsed), never lost."""
    parsed = [address for address in found if not _email_identifier(address).unparsed]
    return (parsed or [raw])[0]


def _interaction(
    message: Message,
    received_at: datetime,
    mailbox: str | None,
    envelope_sender: str | None,
    envelope_recipients: Sequence[str],
) -> InteractionReceived:
    sender = _sender(message)
    ids = _message_ids(_header(message, "Message-ID"))
    message_id = ids[0] if ids else None
    content = _content(message)
    subject = _header(message, "Subject")
    return _build(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        identifiers=_identifiers(sender, _addresses(message, "Reply-To"), mailbox),
        thread_id=_thread_id(message_id, _header(message, "In-Reply-To"), _header(message, "References")),
        subject=_one_line(subject, MAX_HEADER_CHARS) if subject else None,
        text=content.text,
        attachments=content.attachments,
        occurred_at=_occurred_at(_header(message, "Date"), received_at),
        source_message_id=message_id,
        auto_submitted=is_auto_submitted(message) or envelope_sender in _NULL_SENDERS,
        mailbox=_company_mailbox(envelope_recipients, message, mailbox),
    )


# --- the JSON inbound-email webhook -------------------------------------------------------------------


class WebhookAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, max_length=1_000)
    content_type: str = Field(default="application/octet-stream", max_length=1_000)
    size: int = Field(ge=0)


class InboundEmailWebhook(BaseModel):
    """An email as an inbound-mail provider posts it: already parsed, headers as a name → value map."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1, max_length=2_000)
    to: str | list[str] | None = Field(
        default=None, description="Where the mail was delivered; only our own mailbox is kept of it."
    )
    subject: str | None = Field(default=None, max_length=10_000)
    text: str | None = None
    html: str | None = None
    message_id: str | None = Field(default=None, max_length=2_000)
    in_reply_to: str | None = Field(default=None, max_length=2_000)
    references: str | list[str] | None = None
    headers: dict[str, str] = Field(default_factory=dict, max_length=500)
    attachments: list[WebhookAttachment] = Field(default_factory=list, max_length=1_000)
    received_at: AwareDatetime | None = Field(
        default=None, description="When the provider received the mail."
    )


def _webhook_message(payload: InboundEmailWebhook) -> Message:
    """The webhook's headers as a (lenient, compat32) message, so the MIME rules read them unchanged.
    The explicit ``from`` field wins over a From in ``headers``."""
    message = Message()
    for name, value in payload.headers.items():
        if name.lower() != "from":
            message[name] = value
    message["From"] = payload.from_
    return message


def _webhook_thread(payload: InboundEmailWebhook, lookup: Callable[[str], str | None]) -> str | None:
    references = payload.references
    if isinstance(references, list):
        references = " ".join(references)
    ids = _message_ids(payload.message_id or lookup("Message-ID"))
    return _thread_id(
        ids[0] if ids else None,
        payload.in_reply_to or lookup("In-Reply-To"),
        references or lookup("References"),
    )


def _validated(payload: InboundEmailWebhook | Mapping[str, object]) -> InboundEmailWebhook:
    if isinstance(payload, InboundEmailWebhook):
        return payload
    try:
        return InboundEmailWebhook.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInputError(field, first["type"]) from None


def _webhook_text(payload: InboundEmailWebhook) -> str | None:
    if payload.text and (text := _body_text(payload.text)):
        return text
    return _body_text(html_to_text(payload.html)) if payload.html else None


def from_webhook(
    payload: InboundEmailWebhook | Mapping[str, object],
    *,
    received_at: datetime,
    mailbox: str | None = None,
) -> InteractionReceived:
    """The webhook's email as an inbound interaction, by the same rules as ``parse_email``."""
    _require_aware(received_at)
    hook = _validated(payload)
    message = _webhook_message(hook)
    lookup: Callable[[str], str | None] = lambda name: _header(message, name)  # noqa: E731
    sender = _pick_sender(_addresses(message, "From"), hook.from_)
    ids = _message_ids(hook.message_id or lookup("Message-ID"))
    subject = hook.subject if hook.subject is not None else lookup("Subject")
    return _build(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        identifiers=_identifiers(sender, _addresses(message, "Reply-To"), mailbox),
        thread_id=_webhook_thread(hook, lookup),
        subject=_one_line(subject, MAX_HEADER_CHARS) if subject else None,
        text=_webhook_text(hook),
        attachments=[
            AttachmentMetadata(
                filename=_one_line(item.filename, MAX_ATTACHMENT_FIELD_CHARS) if item.filename else None,
                content_type=(_one_line(item.content_type, MAX_ATTACHMENT_FIELD_CHARS) or "unknown"),
                size_bytes=item.size,
            )
            for item in hook.attachments[:MAX_ATTACHMENTS]
        ],
        occurred_at=_occurred_at(lookup("Date"), received_at, hook.received_at),
        source_message_id=ids[0] if ids else None,
        auto_submitted=is_auto_submitted(message),
        mailbox=_company_mailbox(_listed(hook.to), message, mailbox),
    )


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value
