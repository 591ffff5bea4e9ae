from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.identifiers import CustomerIdentifier, IdentifierKind


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
