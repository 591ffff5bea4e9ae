"""Valid ingest events for the profile core's tests, built from the schemas' own models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from schemas.cases import CaseCategory
from schemas.catalog import event_type_of
from schemas.commerce import OrderRecorded, OrderStatus, WebActivityKind, WebActivityRecorded
from schemas.customers import Purpose, Tier
from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionEvent, InteractionReceived
from schemas.notifications import (
    ExpectedAnswer,
    ExpectedAnswerKind,
    MessageKind,
    NotificationChanged,
    NotificationStatus,
)
from schemas.routing import AssignmentChange, AssignmentChanged
from services.profile.core.attributes import AttributeName
from services.profile.core.observe import ObservedEvent, ProfilePayload, observe, observe_change

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KARI = identify(IdentifierKind.EMAIL, "kari@example.no")
KARI_PHONE = identify(IdentifierKind.PHONE, "+4791234567")
OLA = identify(IdentifierKind.EMAIL, "ola@example.no")


def event(payload: ProfilePayload, event_id: str, source: str = "/ingest/test") -> ObservedEvent:
    envelope = Event[ProfilePayload](
        id=event_id,
        source=source,
        type=event_type_of(type(payload)).name,
        time=NOW,
        key=payload.identifiers[0].key,
        data=payload,
    )
    return observe(envelope)


def message(
    event_id: str,
    *,
    text: str | None = "Hei",
    at: datetime = NOW,
    channel: Channel = Channel.EMAIL,
    direction: Direction = Direction.INBOUND,
    identifiers: tuple[CustomerIdentifier, ...] = (KARI,),
    step: InteractionEvent = InteractionEvent.MESSAGE,
    **fields: Any,
) -> ObservedEvent:
    payload = InteractionReceived(
        channel=channel,
        direction=direction,
        identifiers=list(identifiers),
        text=text,
        occurred_at=at,
        event=step,
        **fields,
    )
    return event(payload, event_id)


def order(
    event_id: str,
    order_id: str,
    status: OrderStatus,
    amount: str,
    *,
    at: datetime = NOW,
    currency: str = "NOK",
    reference: str | None = None,
    identifiers: tuple[CustomerIdentifier, ...] = (KARI,),
) -> ObservedEvent:
    payload = OrderRecorded(
        order_id=order_id,
        status=status,
        identifiers=list(identifiers),
        amount=Decimal(amount),
        currency=currency,
        occurred_at=at,
        reference=reference,
    )
    return event(payload, event_id)


def assignment(
    event_id: str,
    change: AssignmentChange,
    *,
    agent_id: str | None = "agent-7",
    at: datetime = NOW,
    customer_id: str = "kari",
    case_id: str = "case-1",
    reason: str | None = None,
) -> ObservedEvent:
    """Routing's change of a case, as profile observes it from ``assignments.v1``."""
    payload = AssignmentChanged(
        change=change,
        case_id=case_id,
        customer_id=customer_id,
        queue="chat",
        channel=Channel.CHAT,
        category=CaseCategory.SHIPPING,
        tier=Tier.GOLD,
        offer_id=None if agent_id is None else f"offer-{case_id}",
        agent_id=agent_id,
        reason=reason,
        waiting_since=at - timedelta(minutes=5),
        occurred_at=at,
    )
    envelope = Event[AssignmentChanged](
        id=event_id,
        source="/routing",
        type=event_type_of(AssignmentChanged).name,
        time=at,
        key=customer_id,
        data=payload,
    )
    return observe(envelope)


def expected_within(at: datetime = NOW) -> ExpectedAnswer:
    """An acknowledgement's answer time: within about 2-4 hours of ``at``."""
    return ExpectedAnswer(
        kind=ExpectedAnswerKind.WITHIN,
        earliest=at + timedelta(hours=2),
        latest=at + timedelta(hours=4),
        said="innen cirka 2-4 timer",
    )


def notification(
    event_id: str,
    *,
    notification_id: str = "n-1",
    status: NotificationStatus = NotificationStatus.SENT,
    kind: MessageKind = MessageKind.ACKNOWLEDGEMENT,
    at: datetime = NOW,
    customer_id: str = "kari",
    case_id: str | None = "case-1",
    reason: str | None = None,
    expected_answer: ExpectedAnswer | None = None,
    promise_id: str | None = None,
    attempts: int = 1,
) -> ObservedEvent:
    """Notify's message to a customer, as profile observes it from ``notifications.v1``."""
    payload = NotificationChanged(
        notification_id=notification_id,
        case_id=case_id,
        customer_id=customer_id,
        kind=kind,
        channel=Channel.EMAIL,
        language="nb",
        status=status,
        reason=reason,
        subject="Vi har mottatt henvendelsen din",
        text="Hei Kari! Takk for henvendelsen. Du får svar innen cirka 2-4 timer.",
        expected_answer=expected_answer,
        promise_id=promise_id,
        attempts=attempts,
        occurred_at=at,
    )
    envelope = Event[NotificationChanged](
        id=event_id,
        source="/notify",
        type=event_type_of(NotificationChanged).name,
        time=at,
        key=customer_id,
        data=payload,
    )
    return observe(envelope)


def feedback(
    event_id: str,
    rating: int,
    *,
    at: datetime = NOW,
    customer_id: str = "kari",
    case_id: str = "case-1",
    survey_id: str = "survey-1",
    comment: str | None = "Pakken kom aldri fram",
) -> ObservedEvent:
    """A customer's survey answer about a resolved case, as profile observes it from ``feedback.v1``."""
    payload = FeedbackReceived(
        survey_id=survey_id,
        case_id=case_id,
        customer_id=customer_id,
        rating=rating,
        comment=comment,
        occurred_at=at,
    )
    return _answered(event_id, payload)


def order_feedback(
    event_id: str,
    rating: int,
    *,
    at: datetime = NOW,
    customer_id: str = "kari",
    order_id: str = "order-1",
    survey_id: str = "delivery-survey-1",
    comment: str | None = "Pakken kom i stykker",
) -> ObservedEvent:
    """A customer's survey answer about a delivered order, as profile observes it from ``feedback.v1``."""
    payload = FeedbackReceived(
        survey_id=survey_id,
        order_id=order_id,
        customer_id=customer_id,
        rating=rating,
        comment=comment,
        occurred_at=at,
    )
    return _answered(event_id, payload)


def _answered(event_id: str, payload: FeedbackReceived) -> ObservedEvent:
    at, customer_id = payload.occurred_at, payload.customer_id
    envelope = Event[FeedbackReceived](
        id=event_id,
        source="/ingest/feedback",
        type=event_type_of(FeedbackReceived).name,
        time=at,
        key=customer_id,
        data=payload,
    )
    return observe(envelope)


def web(
    event_id: str, *, at: datetime = NOW, identifiers: tuple[CustomerIdentifier, ...] = (KARI,)
) -> ObservedEvent:
    payload = WebActivityRecorded(
        kind=WebActivityKind.PAGE_VIEW,
        identifiers=list(identifiers),
        session_id="s1",
        url="https://shop.example.no/",
        occurred_at=at,
    )
    return event(payload, event_id)


# --- hypothesis strategies -------------------------------------------------------------------------

_times = st.integers(min_value=-800, max_value=5).map(lambda days: NOW + timedelta(days=days))
_ids = st.uuids().map(str)
_changed_attributes = st.sampled_from([AttributeName.NAME, AttributeName.LAST_AGENT])
_names = st.sampled_from(["Kari", "Kari Nordmann", "agent-1"])
_identifiers = st.sampled_from(
    [
        KARI,
        KARI_PHONE,
        identify(IdentifierKind.CUSTOMER_NUMBER, "C-1"),
        identify(IdentifierKind.COOKIE, "ck-1"),
    ]
)
_texts = st.sampled_from(
    [
        "Hvor er pakken min?",
        "Jeg vil klage, dette er elendig",
        "Tusen takk for hjelpen!",
        "Kan jeg bytte til en annen størrelse?",
        "STOPP",
        "Hello",
    ]
)


@st.composite
def interactions(draw: st.DrawFn) -> InteractionReceived:
    channel = draw(st.sampled_from([Channel.EMAIL, Channel.SMS, Channel.CHAT, Channel.PHONE, Channel.STORE]))
    step = {
        Channel.PHONE: draw(
            st.sampled_from(
                [InteractionEvent.CALL_OFFERED, InteractionEvent.CALL_ANSWERED, InteractionEvent.CALL_MISSED]
            )
        ),
        Channel.STORE: InteractionEvent.STORE_VISIT,
    }.get(channel, InteractionEvent.MESSAGE)
    wordy = step in (InteractionEvent.MESSAGE, InteractionEvent.STORE_VISIT)
    return InteractionReceived(
        channel=channel,
        direction=draw(st.sampled_from(list(Direction))),
        identifiers=draw(st.lists(_identifiers, min_size=1, max_size=2)),
        text=draw(_texts) if wordy else None,
        language_hint=draw(st.sampled_from([None, "nb", "sv", "da", "en"])),
        occurred_at=draw(_times),
        event=step,
        conversation_id=draw(st.sampled_from(["c1", "c2"])),
        location_id="oslo-1" if channel is Channel.STORE else None,
        auto_submitted=draw(st.booleans()),
    )


@st.composite
def orders(draw: st.DrawFn) -> OrderRecorded:
    return OrderRecorded(
        order_id=draw(st.sampled_from(["o1", "o2", "o3"])),
        status=draw(st.sampled_from(list(OrderStatus))),
        identifiers=[KARI],
        amount=Decimal(draw(st.integers(min_value=0, max_value=5_000))),
        currency=draw(st.sampled_from(["NOK", "NOK", "SEK"])),
        occurred_at=draw(_times),
        reference=draw(st.sampled_from([None, "r1", "r2"])),
    )


@st.composite
def web_activities(draw: st.DrawFn) -> WebActivityRecorded:
    return WebActivityRecorded(
        kind=draw(st.sampled_from(list(WebActivityKind))),
        identifiers=[identify(IdentifierKind.COOKIE, "ck-1")],
        session_id="s1",
        url="https://shop.example.no/p/1",
        occurred_at=draw(_times),
    )


@st.composite
def changes(draw: st.DrawFn) -> ObservedEvent:
    """An agent's or system's change: the only source of consent grants."""
    return observe_change(
        draw(_ids),
        draw(st.sampled_from(["agent", "portal"])),
        draw(_times),
        identifiers=(KARI,),
        attributes=draw(st.dictionaries(_changed_attributes, _names)),
        consent=draw(st.dictionaries(st.sampled_from(list(Purpose)), st.booleans())),
    )


@st.composite
def observed_events(draw: st.DrawFn) -> ObservedEvent:
    payload: ProfilePayload = draw(st.one_of(interactions(), orders(), web_activities()))
    return event(payload, draw(_ids))


def event_sets(min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[list[ObservedEvent]]:
    return st.lists(
        st.one_of(observed_events(), changes()),
        min_size=min_size,
        max_size=max_size,
        unique_by=lambda e: e.event_id,
    )
