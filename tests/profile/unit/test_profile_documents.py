"""Identifiers are stored as pydantic dumps them, and read back as they were; so are outbox messages."""

from __future__ import annotations

from datetime import timedelta

from schemas.identifiers import IdentifierKind, identify
from services.profile.adapters.outbound.documents import (
    facts_document,
    facts_from_document,
    outbox_document,
    outbox_from_document,
    timeline_document,
)
from services.profile.core.profile import ProfileConfig, ProfileFacts, evaluate
from services.profile.outgoing import profile_event
from services.profile.ports import OutboxEntry
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, web

IDENTIFIERS = frozenset(
    {
        KARI,
        KARI_PHONE,
        identify(IdentifierKind.MESSENGER, "4711", scope="page-1"),
        identify(IdentifierKind.PHONE, "not a phone"),  # kept unparsed
    }
)


def test_identifiers_are_stored_as_their_json_dump_and_read_back_equal() -> None:
    document = facts_document(evaluate("c", ProfileFacts(identifiers=IDENTIFIERS), ProfileConfig(), NOW))

    assert document["identifiers"] == [
        identifier.model_dump(mode="json")
        for identifier in sorted(IDENTIFIERS, key=lambda i: (i.key, i.unparsed))
    ]
    assert any(stored["unparsed"] for stored in document["identifiers"])
    assert any(stored["scope"] == "page-1" for stored in document["identifiers"])
    assert facts_from_document(document).identifiers == IDENTIFIERS


def test_a_timeline_entry_keeps_the_identifiers_it_was_seen_with_as_their_json_dump() -> None:
    document = timeline_document(web("e-1", identifiers=tuple(IDENTIFIERS)), "c", None)

    assert document["identified_as"] == [
        identifier.model_dump(mode="json")
        for identifier in sorted(IDENTIFIERS, key=lambda i: (i.key, i.unparsed))
    ]


def test_outbox_messages_are_stored_compressed_and_read_back_equal() -> None:
    profile = evaluate("c", ProfileFacts(identifiers=IDENTIFIERS), ProfileConfig(), NOW)
    messages = tuple(profile_event(profile, None, ["tier"], NOW + timedelta(seconds=n)) for n in range(40))
    document = outbox_document(OutboxEntry(frozenset({"e-1"}), messages, NOW))

    assert len(document["messages"]) < sum(len(message.model_dump_json()) for message in messages) / 4
    assert outbox_from_document(document).messages() == messages
