"""Chat, phone, form and store-visit bodies → one ``InteractionReceived`` each (pure mapping)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from schemas.identifiers import IdentifierKind
from schemas.interactions import Channel, Direction, InteractionEvent, InteractionReceived
from services.common.http import create_app, set_token_verifier
from services.common.http.testing import LocalIssuer
from services.common.settings import CommonSettings
from services.ingest.adapters.inbound.contact_channels import contact_channels_router
from services.ingest.core.channels.contact import (
    ChatEventIn,
    FormSubmissionIn,
    PhoneEventIn,
    StoreVisitIn,
    chat_interaction,
    form_interaction,
    phone_interaction,
    store_interaction,
)
from services.ingest.ports import ClaimState
from services.ingest.service import BrokerUnavailableError, Outcome, Submission

AT = "2026-11-23T10:00:00+01:00"
VISITOR = [{"kind": "email", "value": " Kari@Example.NO "}, {"kind": "phone", "value": "412 34 567"}]


def chat(**changes: Any) -> ChatEventIn:
    body: dict[str, Any] = {
        "conversation_id": "conv-1",
        "identifiers": VISITOR,
        "page_url": "https://shop.example.no/sofa",
        "message_id": "m-1",
        "text": "Is the sofa in stock?",
        "occurred_at": AT,
    }
    body.update(changes)
    return ChatEventIn.model_validate({k: v for k, v in body.items() if v is not None})


def phone(event: str, **changes: Any) -> PhoneEventIn:
    body: dict[str, Any] = {"event": event, "call_id": "call-9", "caller": "41 23 45 67", "occurred_at": AT}
    body.update(changes)
    return PhoneEventIn.model_validate(body)


def field_of(error: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(e["loc"][0]) for e in error.value.errors()}


def test_a_chat_message_keeps_text_page_and_normalised_identifiers() -> None:
    interaction = chat_interaction(chat(), phone_region="NO")
    assert interaction.channel is Channel.CHAT
    assert interaction.event is InteractionEvent.MESSAGE
    assert interaction.direction is Direction.INBOUND
    assert interaction.text == "Is the sofa in stock?"
    assert interaction.page_url == "https://shop.example.no/sofa"
    assert interaction.conversation_id == "conv-1"
    assert interaction.source_message_id == "conv-1/m-1"
    assert [(i.kind, i.value) for i in interaction.identifiers] == [
        (IdentifierKind.EMAIL, "kari@example.no"),
        (IdentifierKind.PHONE, "+4741234567"),
    ]
    assert interaction.occurred_at == datetime(2026, 11, 23, 9, tzinfo=UTC)


@pytest.mark.parametrize("event", ["conversation_started", "conversation_ended"])
def test_conversation_start_and_end_are_markers_without_text(event: str) -> None:
    interaction = chat_interaction(chat(event=event, message_id=None, text=None), phone_region="NO")
    assert interaction.event.value == event
    assert interaction.text is None
    assert interaction.source_message_id == f"conv-1/{event}"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": None}, "text"),
        ({"text": "   "}, "text"),
        ({"message_id": None}, "message_id"),
        ({"event": "conversation_started"}, "message_id"),
        ({"event": "call_offered"}, "event"),
        ({"page_url": "x" * 2001}, "page_url"),
        ({"identifiers": []}, "identifiers"),
        ({"occurred_at": "2026-11-23T10:00:00"}, "occurred_at"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_chat_events_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        chat(**changes)
    assert field in field_of(error)


@pytest.mark.parametrize("event", ["call_offered", "call_answered", "call_missed"])
def test_call_steps_carry_the_normalised_caller(event: str) -> None:
    interaction = phone_interaction(phone(event), phone_region="NO")
    assert interaction.channel is Channel.PHONE
    assert interaction.event.value == event
    assert interaction.identifiers[0].kind is IdentifierKind.PHONE
    assert interaction.identifiers[0].value == "+4741234567"
    assert interaction.conversation_id == "call-9"
    assert interaction.source_message_id == f"call-9/{event}"
    assert interaction.call_duration_seconds is None


def test_an_ended_call_has_its_duration() -> None:
    interaction = phone_interaction(phone("call_ended", duration_seconds=184), phone_region="NO")
    assert interaction.call_duration_seconds == 184
    assert interaction.source_message_id == "call-9/call_ended"


def test_a_callback_request_keeps_the_window_in_utc() -> None:
    body = phone(
        "callback_requested",
        callback_window_start="2026-11-23T14:00:00+01:00",
        callback_window_end="2026-11-23T16:00:00+01:00",
        identifiers=[{"kind": "customer_number", "value": "C-1001"}],
    )
    interaction = phone_interaction(body, phone_region="NO")
    assert interaction.callback_window_start == datetime(2026, 11, 23, 13, tzinfo=UTC)
    assert interaction.callback_window_end == datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert [i.kind for i in interaction.identifiers] == [IdentifierKind.PHONE, IdentifierKind.CUSTOMER_NUMBER]


def test_an_unparsable_caller_is_kept_raw_and_flagged() -> None:
    interaction = phone_interaction(phone("call_missed", caller="anonymous"), phone_region="NO")
    assert interaction.identifiers[0].unparsed is True


WINDOW = {"callback_window_start": "2026-11-23T14:00:00Z", "callback_window_end": "2026-11-23T16:00:00Z"}


@pytest.mark.parametrize(
    ("event", "changes", "field"),
    [
        ("call_ended", {}, "duration_seconds"),
        ("call_ended", {"duration_seconds": -1}, "duration_seconds"),
        ("call_ended", {"duration_seconds": "60"}, "duration_seconds"),
        ("call_answered", {"duration_seconds": 60}, "duration_seconds"),
        ("callback_requested", {}, "callback_window_start"),
        (
            "callback_requested",
            {"callback_window_start": WINDOW["callback_window_start"]},
            "callback_window_end",
        ),
        (
            "callback_requested",
            {"callback_window_start": "2026-11-23T16:00:00Z", "callback_window_end": "2026-11-23T14:00:00Z"},
            "callback_window_end",
        ),
        (
            "callback_requested",
            {
                "callback_window_start": "2026-11-23T16:00:00+01:00",
                "callback_window_end": "2026-11-23T15:00:00Z",
            },
            "callback_window_end",
        ),
        ("call_missed", WINDOW, "callback_window_start"),
        ("message", {}, "event"),
        ("call_ended", {"duration_seconds": 1, "caller": ""}, "caller"),
    ],
)
def test_bad_phone_events_name_the_field(event: str, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        phone(event, **changes)
    assert field in field_of(error)


def test_the_contract_refuses_a_window_that_ends_before_it_starts() -> None:
    base: dict[str, Any] = {
        "channel": "phone",
        "direction": "inbound",
        "identifiers": [{"kind": "phone", "value": "+4741234567"}],
        "occurred_at": AT,
    }
    with pytest.raises(ValidationError, match="callback_window_end"):
        InteractionReceived.model_validate(
            {**base, "callback_window_start": "2026-11-23T16:00:00Z", "callback_window_end": AT}
        )
    with pytest.raises(ValidationError, match="callback_window_end"):
        InteractionReceived.model_validate({**base, "callback_window_start": AT})
    assert InteractionReceived.model_validate(base).event is InteractionEvent.MESSAGE


@pytest.mark.parametrize("channel", ["web_form", "portal"])
def test_a_form_submission_is_one_interaction(channel: str) -> None:
    body = FormSubmissionIn.model_validate(
        {
            "channel": channel,
            "form_id": "contact-us",
            "submission_id": "sub-77",
            "identifiers": [{"kind": "email", "value": "Ola@Example.no"}],
            "subject": "Delivery",
            "text": "Where is my sofa?",
            "page_url": "https://shop.example.no/contact",
            "occurred_at": AT,
        }
    )
    interaction = form_interaction(body, phone_region="NO")
    assert interaction.channel.value == channel
    assert interaction.event is InteractionEvent.FORM_SUBMITTED
    assert (interaction.form_id, interaction.source_message_id) == ("contact-us", "sub-77")
    assert (interaction.subject, interaction.text) == ("Delivery", "Where is my sofa?")
    assert interaction.identifiers[0].value == "ola@example.no"


def test_forms_come_only_from_web_or_portal() -> None:
    with pytest.raises(ValidationError) as error:
        FormSubmissionIn.model_validate(
            {
                "channel": "store",
                "form_id": "f",
                "submission_id": "s",
                "identifiers": [{"kind": "email", "value": "a@example.no"}],
                "occurred_at": AT,
            }
        )
    assert field_of(error) == {"channel"}


def test_a_store_visit_names_the_location() -> None:
    body = StoreVisitIn.model_validate(
        {
            "location_id": "oslo-1",
            "visit_id": "pos-123",
            "identifiers": [{"kind": "customer_number", "value": "C-1001"}],
            "note": "Asked about sofa fabrics",
            "occurred_at": AT,
        }
    )
    interaction = store_interaction(body, phone_region="NO")
    assert interaction.channel is Channel.STORE
    assert interaction.event is InteractionEvent.STORE_VISIT
    assert interaction.location_id == "oslo-1"
    assert interaction.text == "Asked about sofa fabrics"
    assert interaction.source_message_id == "oslo-1/pos-123"


# --- the adapter's answers, with an intake that never reaches a broker ---------------------------------


class _FakeIntake:
    def __init__(self, result: Outcome | Exception) -> None:
        self.result = result
        self.submissions: list[Submission] = []

    async def submit(self, submission: Submission) -> Outcome:
        self.submissions.append(submission)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _client(intake: _FakeIntake) -> tuple[TestClient, dict[str, str]]:
    issuer = LocalIssuer()
    app = create_app(CommonSettings(), title="t", readiness={}, routers=[contact_channels_router("NO")])
    set_token_verifier(app, issuer.verifier())
    app.state.intake = intake
    return TestClient(app), {"Authorization": f"Bearer {issuer.token(['interactions:write'])}"}


_VISIT = {
    "location_id": "oslo-1",
    "visit_id": "v-1",
    "identifiers": [{"kind": "customer_number", "value": "C-1"}],
    "occurred_at": AT,
}


def test_the_adapter_submits_the_mapped_interaction_with_key_and_client() -> None:
    intake = _FakeIntake(Outcome("ev-1", ClaimState.NEW))
    client, auth = _client(intake)
    response = client.post(
        "/v1/channels/store/visits", json=_VISIT, headers={**auth, "Idempotency-Key": "k1"}
    )
    assert response.status_code == 202
    assert response.json() == {"event_id": "ev-1", "duplicate": False, "in_flight": False}
    [submission] = intake.submissions
    assert submission.source == "/ingest/store"
    assert submission.idempotency_key == "k1"
    assert isinstance(submission.payload, InteractionReceived)
    assert submission.payload.location_id == "oslo-1"


def test_broker_down_is_503_with_retry_after() -> None:
    client, auth = _client(_FakeIntake(BrokerUnavailableError()))
    response = client.post("/v1/channels/store/visits", json=_VISIT, headers=auth)
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_a_delivery_in_flight_is_409() -> None:
    client, auth = _client(_FakeIntake(Outcome("ev-1", ClaimState.IN_FLIGHT)))
    response = client.post("/v1/channels/store/visits", json=_VISIT, headers=auth)
    assert response.status_code == 409
