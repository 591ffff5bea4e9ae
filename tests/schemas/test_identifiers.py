from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.identifiers import CustomerIdentifier, IdentifierKind, RawIdentifier, identify, identify_many


@pytest.mark.parametrize(
    ("kind", "raw", "normalised"),
    [
        ("email", " Kari.Nordmann@Example.NO ", "kari.nordmann@example.no"),
        ("phone", "+47 912 34 567", "+4791234567"),
        ("phone", "+46 (0)70-123 45 67", "+46701234567"),
        ("customer_number", "C-1001", "C-1001"),
    ],
)
def test_identifiers_are_normalised(kind: str, raw: str, normalised: str) -> None:
    assert CustomerIdentifier.model_validate({"kind": kind, "value": raw}).value == normalised


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("email", "not-an-email"), ("phone", "91234567"), ("phone", "+47 12"), ("email", "a@b@c.no")],
)
def test_invalid_identifiers_are_rejected_without_echoing_them(kind: str, raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CustomerIdentifier.model_validate({"kind": kind, "value": raw})
    messages = [detail["msg"] for detail in caught.value.errors(include_input=False)]
    assert messages
    assert all(raw not in message for message in messages)


def test_page_scoped_ids_need_their_page_and_others_refuse_one() -> None:
    with pytest.raises(ValidationError):
        CustomerIdentifier(kind=IdentifierKind.MESSENGER, value="6543210")
    with pytest.raises(ValidationError):
        CustomerIdentifier(kind=IdentifierKind.EMAIL, value="a@example.no", scope="page-1")
    scoped = CustomerIdentifier(kind=IdentifierKind.MESSENGER, value="6543210", scope="page-1")
    assert scoped.key == "messenger:page-1:6543210"


def test_identify_parses_national_numbers_in_the_default_region() -> None:
    assert identify(IdentifierKind.PHONE, "912 34 567", phone_region="NO").value == "+4791234567"
    assert identify(IdentifierKind.PHONE, "+46 70 123 45 67", phone_region="NO").value == "+46701234567"


@pytest.mark.parametrize(
    ("kind", "raw"), [(IdentifierKind.PHONE, "ring meg"), (IdentifierKind.EMAIL, "kari at example")]
)
def test_unparseable_identifiers_are_kept_raw_and_flagged(kind: IdentifierKind, raw: str) -> None:
    identifier = identify(kind, f"  {raw} ", phone_region="NO")
    assert identifier.unparsed
    assert identifier.value == raw
    # The flag survives the wire: decoding does not try to normalise it again.
    assert CustomerIdentifier.model_validate_json(identifier.model_dump_json()) == identifier


def test_identify_many_answers_each_as_identify_does_in_the_order_given() -> None:
    raw = [
        RawIdentifier(kind=IdentifierKind.PHONE, value="912 34 567"),
        RawIdentifier(kind=IdentifierKind.EMAIL, value="Kari@Example.NO"),
        RawIdentifier(kind=IdentifierKind.CUSTOMER_NUMBER, value="C-1001"),
        RawIdentifier(kind=IdentifierKind.PHONE, value="ring meg"),
        RawIdentifier(kind=IdentifierKind.MESSENGER, value="6543210", scope="page-1"),
        RawIdentifier(kind=IdentifierKind.EMAIL, value="ola@example.no"),
    ]
    identified = identify_many(raw, phone_region="NO")
    assert identified == [identify(i.kind, i.value, i.scope, phone_region="NO") for i in raw]
    assert [i.value for i in identified] == [
        "+4791234567",
        "kari@example.no",
        "C-1001",
        "ring meg",
        "6543210",
        "ola@example.no",
    ]
    assert [i.unparsed for i in identified] == [False, False, False, True, False, False]
