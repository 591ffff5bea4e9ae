"""Whether a contact earns an acknowledgement, and where it goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseContact, CaseStatus
from schemas.customers import CustomerView, LifecycleStage, Purpose, Tier
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import Channel, Direction, InteractionEvent
from services.notify.core.acknowledge import Acknowledge, Skip, acknowledgement, conversation_of

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
EMAIL = CustomerIdentifier(kind=IdentifierKind.EMAIL, value="kari@example.no")
PHONE = CustomerIdentifier(kind=IdentifierKind.PHONE, value="+4791234567")


def changed(
    *,
    channel: Channel = Channel.EMAIL,
    change: CaseChange = CaseChange.OPENED,
    direction: Direction = Direction.INBOUND,
    auto_submitted: bool = False,
    identifiers: tuple[CustomerIdentifier, ...] = (EMAIL,),
    thread: str | None = "<m1@example.no>",
    consent: dict[Purpose, bool] | None = None,
) -> CaseChanged:
    return CaseChanged(
        change=change,
        case_id="case-1",
        customer_id="kari",
        status=CaseStatus.OPEN,
        category=CaseCategory.SHIPPING,
        channel=channel,
        opened_at=NOW,
        last_activity_at=NOW,
        interactions=1,
        contact=CaseContact(
            event_id="e1",
            channel=channel,
            direction=direction,
            step=InteractionEvent.MESSAGE,
            identifiers=list(identifiers),
            thread_id=thread,
            source_message_id="<m1@example.no>",
            auto_submitted=auto_submitted,
            occurred_at=NOW,
        ),
        customer=CustomerView(
            customer_id="kari",
            tier=Tier.STANDARD,
            historic_value=Decimal(0),
            predicted_lifetime_value=Decimal(0),
            lifecycle=LifecycleStage.ACTIVE,
            needs_recovery=False,
            consent=consent or {},
            as_of=NOW,
        ),
    )


def test_a_new_email_is_acknowledged_by_email_in_its_thread() -> None:
    outcome = acknowledgement(changed(), {}, NOW)

    assert outcome == Acknowledge(Channel.EMAIL, EMAIL, "thread:<m1@example.no>", "<m1@example.no>")


@pytest.mark.parametrize(
    ("case", "why"),
    [
        pytest.param(changed(change=CaseChange.CLOSED), Skip.NOT_A_NEW_CONTACT, id="closed"),
        pytest.param(changed(change=CaseChange.MOVED), Skip.NOT_A_NEW_CONTACT, id="moved"),
        pytest.param(changed(direction=Direction.OUTBOUND), Skip.OUR_OWN_MESSAGE, id="outbound"),
        pytest.param(changed(auto_submitted=True), Skip.AUTO_REPLY, id="auto-reply"),
        pytest.param(changed(consent={Purpose.SERVICE_MESSAGES: False}), Skip.NO_CONSENT, id="refused"),
        pytest.param(changed(identifiers=(PHONE,)), Skip.NO_ADDRESS, id="email-without-address"),
    ],
)
def test_what_gets_no_acknowledgement(case: CaseChanged, why: Skip) -> None:
    assert acknowledgement(case, {}, NOW) == why


def test_a_conversation_is_acknowledged_at_most_once_a_day() -> None:
    conversation = conversation_of(changed())

    assert acknowledgement(changed(), {conversation: NOW - timedelta(hours=23)}, NOW) == Skip.ALREADY_TOLD
    assert isinstance(acknowledgement(changed(), {conversation: NOW - timedelta(hours=25)}, NOW), Acknowledge)
    assert isinstance(acknowledgement(changed(), {"thread:<other@example.no>": NOW}, NOW), Acknowledge)


def test_no_acknowledgement_once_an_agent_replied() -> None:
    assert acknowledgement(changed(), {}, NOW, agent_replied=True) == Skip.AGENT_REPLIED


def test_a_missed_call_is_acknowledged_by_sms_to_the_caller() -> None:
    call = changed(channel=Channel.PHONE, identifiers=(PHONE,), thread=None)

    outcome = acknowledgement(call, {}, NOW)

    assert isinstance(outcome, Acknowledge)
    assert (outcome.channel, outcome.to, outcome.conversation) == (Channel.SMS, PHONE, "case:case-1")


def test_an_address_that_did_not_parse_is_never_written_to() -> None:
    broken = CustomerIdentifier(kind=IdentifierKind.EMAIL, value="kari at example", unparsed=True)

    assert acknowledgement(changed(identifiers=(broken,)), {}, NOW) == Skip.NO_ADDRESS


def test_a_chat_is_answered_in_its_conversation() -> None:
    chat = changed(channel=Channel.CHAT, identifiers=(EMAIL,), thread=None)

    outcome = acknowledgement(chat, {}, NOW)

    assert isinstance(outcome, Acknowledge)
    assert outcome.channel is Channel.CHAT
