"""Whether a case change earns an acknowledgement, and where it goes: on the channel the customer used,
to the address they used, threaded to their message.

The guard rails the field learned the hard way: never answer an auto-reply (a loop), never answer our own
outbound message, at most one acknowledgement per conversation per day, none once an agent has replied,
and none without consent to service messages when the customer has refused them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.cases import CaseChange, CaseChanged
from schemas.customers import Purpose
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import Channel, Direction

# Per conversation: a second contact the same day is part of the same wait.
ONCE_PER = timedelta(days=1)

# Which identifier answers a channel; web forms, the portal and the store are answered by email.
_ADDRESS_KIND = {
    Channel.EMAIL: IdentifierKind.EMAIL,
    Channel.WEB_FORM: IdentifierKind.EMAIL,
    Channel.PORTAL: IdentifierKind.EMAIL,
    Channel.STORE: IdentifierKind.EMAIL,
    Channel.SMS: IdentifierKind.PHONE,
    Channel.PHONE: IdentifierKind.PHONE,
    Channel.MESSENGER: IdentifierKind.MESSENGER,
    Channel.INSTAGRAM: IdentifierKind.INSTAGRAM,
}
# Where the customer reached us, and where the answer goes when that channel cannot carry it.
_ANSWERED_ON = {Channel.PHONE: Channel.SMS, Channel.WEB_FORM: Channel.EMAIL, Channel.PORTAL: Channel.EMAIL}


class Skip(StrEnum):
    """Why no acknowledgement goes out."""

    NOT_A_NEW_CONTACT = "not_a_new_contact"  # closed, moved, or no contact on the change
    OUR_OWN_MESSAGE = "our_own_message"  # outbound
    AUTO_REPLY = "auto_reply"  # answering it could loop
    ALREADY_TOLD = "already_told"  # this conversation was acknowledged within the day
    AGENT_REPLIED = "agent_replied"
    NO_CONSENT = "no_consent"  # the customer refused service messages
    NO_ADDRESS = "no_address"  # nothing we could send to on that channel


@dataclass(frozen=True)
class Acknowledge:
    channel: Channel
    to: CustomerIdentifier
    conversation: str  # the key "once per conversation per day" counts by
    in_reply_to: str | None  # the customer's Message-ID, for threading mail


def conversation_of(changed: CaseChanged) -> str:
    """The email thread, else the channel's conversation, else the case."""
    contact = changed.contact
    if contact is not None and contact.thread_id:
        return f"thread:{contact.thread_id}"
    if contact is not None and contact.conversation_id:
        return f"{contact.channel.value}:{contact.conversation_id}"
    return f"case:{changed.case_id}"


def acknowledgement(  # noqa: PLR0911 - one return per rule, the first that holds decides
    changed: CaseChanged,
    told: Mapping[str, datetime],
    now: datetime,
    *,
    agent_replied: bool = False,
) -> Acknowledge | Skip:
    """``told``: when each conversation was last acknowledged."""
    contact = changed.contact
    if contact is None or changed.change not in {CaseChange.OPENED, CaseChange.JOINED}:
        return Skip.NOT_A_NEW_CONTACT
    if contact.direction is not Direction.INBOUND:
        return Skip.OUR_OWN_MESSAGE
    if contact.auto_submitted:
        return Skip.AUTO_REPLY
    conversation = conversation_of(changed)
    last = told.get(conversation)
    if last is not None and now - last < ONCE_PER:
        return Skip.ALREADY_TOLD
    if agent_replied:
        return Skip.AGENT_REPLIED
    if changed.customer.consent.get(Purpose.SERVICE_MESSAGES) is False:
        return Skip.NO_CONSENT
    channel = _ANSWERED_ON.get(contact.channel, contact.channel)
    # Chat is answered in its conversation (through the chat adapter), whoever the visitor is.
    wanted = _ADDRESS_KIND.get(channel)
    usable = [identifier for identifier in contact.identifiers if not identifier.unparsed]
    address = next((i for i in usable if wanted is None or i.kind is wanted), None)
    if address is None:
        return Skip.NO_ADDRESS
    return Acknowledge(channel, address, conversation, contact.source_message_id)
