"""Identifiers are stored as pydantic dumps them, and read back as they were."""

from __future__ import annotations

from schemas.identifiers import IdentifierKind, identify
from services.profile.adapters.outbound.documents import facts_document, facts_from_document
from services.profile.core.profile import ProfileConfig, ProfileFacts, evaluate
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW

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
