"""Cases, figures and calendars for notify's integration tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseContact, CaseStatus
from schemas.catalog import event_type_of
from schemas.customers import CustomerView, LifecycleStage, Purpose, Tier
from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import Channel, Direction, InteractionEvent
from schemas.routing import HourForecast, QueueStats
from services.notify.calendars import CalendarSpec, OpeningSpec

# Open all day, every day: estimates are then plain open time from now.
ALWAYS_OPEN = CalendarSpec.model_validate(
    {
        "time_zone": "Europe/Oslo",
        "hours": {
            day: [{"opens": "00:00", "closes": "00:00"}]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        },
    }
)
assert all(isinstance(o, OpeningSpec) for day in ALWAYS_OPEN.hours.values() for o in day)


def email_of(name: str) -> CustomerIdentifier:
    return CustomerIdentifier(kind=IdentifierKind.EMAIL, value=f"{name}@example.se")


def phone(number: str = "+4791234567") -> CustomerIdentifier:
    return CustomerIdentifier(kind=IdentifierKind.PHONE, value=number)


def case_opened(
    at: datetime,
    *,
    channel: Channel = Channel.EMAIL,
    identifiers: tuple[CustomerIdentifier, ...] | None = None,
    language: str | None = "sv",
    auto_submitted: bool = False,
    direction: Direction = Direction.INBOUND,
    step: InteractionEvent = InteractionEvent.MESSAGE,
    callback_window: tuple[datetime, datetime] | None = None,
    consent: dict[Purpose, bool] | None = None,
    case_id: str | None = None,
) -> CaseChanged:
    customer = f"customer-{uuid.uuid4().hex[:12]}"
    message_id = f"<{uuid.uuid4().hex}@example.se>"
    return CaseChanged(
        change=CaseChange.OPENED,
        case_id=case_id or str(uuid.uuid4()),
        customer_id=customer,
        status=CaseStatus.OPEN,
        category=CaseCategory.SHIPPING,
        channel=channel,
        language=language,
        opened_at=at,
        last_activity_at=at,
        interactions=1,
        contact=CaseContact(
            event_id=f"interaction-{uuid.uuid4().hex[:12]}",
            channel=channel,
            direction=direction,
            step=step,
            identifiers=list(identifiers or (email_of(customer),)),
            thread_id=message_id if channel is Channel.EMAIL else None,
            source_message_id=message_id if channel is Channel.EMAIL else None,
            subject="Var är mitt paket?" if channel is Channel.EMAIL else None,
            auto_submitted=auto_submitted,
            callback_window_start=callback_window[0] if callback_window else None,
            callback_window_end=callback_window[1] if callback_window else None,
            occurred_at=at,
        ),
        customer=CustomerView(
            customer_id=customer,
            tier=Tier.STANDARD,
            historic_value=Decimal(0),
            predicted_lifetime_value=Decimal(0),
            lifecycle=LifecycleStage.ACTIVE,
            needs_recovery=False,
            language=language,
            consent=consent or {},
            as_of=at,
        ),
    )


def closed(opened: CaseChanged, at: datetime, reason: str = "resolved") -> CaseChanged:
    return opened.model_copy(
        update={
            "change": CaseChange.CLOSED,
            "status": CaseStatus.CLOSED,
            "closed_at": at,
            "close_reason": reason,
            "last_activity_at": at,
            "contact": None,
        }
    )


def stats(
    queue: str,
    at: datetime,
    *,
    backlog: int,
    per_hour: int,
    present: int = 0,
    scheduled: dict[datetime, int] | None = None,
) -> QueueStats:
    return QueueStats(
        queue=queue,
        backlog=backlog,
        offered=0,
        oldest_wait_seconds=0,
        arrivals_last_hour=per_hour,
        completions_last_hour=per_hour,
        agents_eligible_now=present,
        agents_present_now=present,
        scheduled=[HourForecast(hour_start=h, agents_scheduled=n) for h, n in (scheduled or {}).items()],
        sla_seconds=4 * 3600,
        as_of=at,
    )


def hour_start(at: datetime, hours_ahead: int = 0) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_ahead)


def as_event(changed: CaseChanged) -> Event[CaseChanged]:
    return Event[CaseChanged](
        id=f"case-{changed.change.value}-{changed.case_id}",
        source="/tests/notify",
        type=event_type_of(CaseChanged).name,
        time=changed.last_activity_at,
        key=changed.customer_id,
        data=changed,
    )
