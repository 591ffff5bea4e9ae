"""What the profile card shows an agent inside a CRM, from the profile read side alone: the customer record
(summary, consent, cases) and its newest timeline entries (one read; older ones are on the timeline page),
as of ``now``:

- open cases with their state at routing (waiting, offered, assigned, ...) and the answer time the
  customer was last promised for each: the newest sent notification of the case that named a time
  (a status update replaces an acknowledgement's time);
- the last interaction in each channel, newest first;
- what the customer was last told (the newest notification that was sent), and the next promise due:
  the earliest current promise of an open case (overdue ones first: they are what to act on).

Plus the language of the page: the ``lang`` parameter, else the best of Accept-Language, else the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from schemas.cases import CaseStatus
from schemas.customers import Purpose
from schemas.notifications import ExpectedAnswerKind, NotificationStatus
from schemas.routing import AssignmentChange
from services.profile.core.attributes import AttributeName
from services.profile.core.observe import FactKind
from services.profile.ports import CustomerRecord, TimelineItem

LANGUAGES = ("nb", "sv", "da", "en")
# Neighbours read each other; Nynorsk and plain "no" readers get bokmål.
_LANGUAGE_ALIASES = {"no": "nb", "nn": "nb", "nb": "nb", "sv": "sv", "da": "da", "en": "en"}
# What the customer was told is shown up to this many characters (the rest is on the timeline).
TOLD_TEXT_CHARS = 280


class Handling(StrEnum):
    """Where a case is at routing, from its newest assignment change."""

    WAITING = "waiting"  # in a queue, nobody has it
    OFFERED = "offered"  # offered to an agent who has not accepted yet
    ASSIGNED = "assigned"  # an agent has it
    CALLBACK = "callback"  # waits in the callback queue
    COMPLETED = "completed"  # the agent is done; the case is not closed yet


_HANDLING = {
    AssignmentChange.OFFERED: Handling.OFFERED,
    AssignmentChange.ACCEPTED: Handling.ASSIGNED,
    AssignmentChange.DECLINED: Handling.WAITING,
    AssignmentChange.EXPIRED: Handling.WAITING,
    AssignmentChange.WITHDRAWN: Handling.WAITING,
    AssignmentChange.WAITING: Handling.WAITING,
    AssignmentChange.OVERFLOWED: Handling.WAITING,
    AssignmentChange.CALLBACK_OFFERED: Handling.CALLBACK,
    AssignmentChange.COMPLETED: Handling.COMPLETED,
}


@dataclass(frozen=True)
class Promise:
    due: datetime
    said: str  # as the message put it, in the customer's language
    case_id: str | None
    overdue: bool


@dataclass(frozen=True)
class CaseLine:
    case_id: str
    category: str
    channel: str
    opened_at: datetime
    last_activity_at: datetime
    reopened: bool
    handling: Handling | None  # None: routing has not reported on it yet
    agent_id: str | None  # offered to or assigned to
    promise: Promise | None


@dataclass(frozen=True)
class LastContact:
    channel: str
    at: datetime
    direction: str  # inbound (the customer wrote or called) or outbound


@dataclass(frozen=True)
class Told:
    at: datetime
    kind: str  # acknowledgement, status_update, ...
    channel: str
    case_id: str | None
    said: str | None  # the answer time as the message put it, when it gave one
    text: str  # the start of the message
    shortened: bool


@dataclass(frozen=True)
class ConsentLine:
    purpose: str
    granted: bool | None  # None: never asked
    at: datetime | None


@dataclass(frozen=True)
class CardView:
    customer_id: str
    name: str | None
    tier: str | None
    historic_value: Decimal | None
    predicted_lifetime_value: Decimal | None
    lifecycle: str | None
    needs_recovery: bool
    recovery_reason: str | None
    customer_language: str | None
    consent: tuple[ConsentLine, ...]
    open_cases: tuple[CaseLine, ...]
    last_contacts: tuple[LastContact, ...]
    last_told: Told | None
    next_promise: Promise | None


def card_view(record: CustomerRecord, *, timeline: Sequence[TimelineItem], now: datetime) -> CardView:
    """The card of ``record`` (a surviving customer) from its newest timeline entries, newest first."""
    summary, facts = record.summary, record.facts
    sent = [
        item
        for item in timeline
        if item.kind == FactKind.NOTIFICATION and _notification(item).get("status") == NotificationStatus.SENT
    ]
    promises = _promises(sent, now)
    handling = _handling(item for item in timeline if item.kind == FactKind.ASSIGNMENT)
    open_cases = tuple(
        CaseLine(
            case_id=case.case_id,
            category=case.category.value,
            channel=case.channel.value,
            opened_at=case.opened_at,
            last_activity_at=case.last_activity_at,
            reopened=bool(case.reopened_by),
            handling=handling.get(case.case_id, (None, None))[0],
            agent_id=handling.get(case.case_id, (None, None))[1],
            promise=promises.get(case.case_id),
        )
        for case in record.cases
        if case.status is CaseStatus.OPEN
    )
    due = [line.promise for line in open_cases if line.promise is not None]
    name = facts.attributes.get(AttributeName.NAME)
    return CardView(
        customer_id=record.customer_id,
        name=name.value if name else None,
        tier=summary.tier if summary else None,
        historic_value=summary.historic_value if summary else None,
        predicted_lifetime_value=summary.predicted_lifetime_value if summary else None,
        lifecycle=summary.lifecycle if summary else None,
        needs_recovery=summary.needs_recovery if summary else False,
        recovery_reason=summary.recovery_reason if summary and summary.needs_recovery else None,
        customer_language=summary.language if summary else None,
        consent=tuple(
            ConsentLine(purpose.value, decision.granted, decision.occurred_at)
            if (decision := facts.consent.get(purpose))
            else ConsentLine(purpose.value, None, None)
            for purpose in Purpose
        ),
        open_cases=open_cases,
        last_contacts=_last_contacts(item for item in timeline if item.kind == FactKind.INTERACTION),
        last_told=_told(sent[0]) if sent else None,
        next_promise=min(due, key=lambda promise: promise.due) if due else None,
    )


def choose_language(parameter: str | None, accept_language: str | None, default: str) -> str:
    """``lang`` when it is one of ours, else the best of Accept-Language we have, else ``default``."""
    chosen = _ours(parameter)
    if chosen is not None:
        return chosen
    for tag in _by_preference(accept_language or ""):
        if (chosen := _ours(tag)) is not None:
            return chosen
    return default


def _ours(tag: str | None) -> str | None:
    if not tag:
        return None
    return _LANGUAGE_ALIASES.get(tag.strip().lower().replace("_", "-").split("-")[0])


def _by_preference(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 means not wanted)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):  # a header is short; ignore a flood
        tag, *options = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def _notification(item: TimelineItem) -> Mapping[str, Any]:
    notification: Mapping[str, Any] = item.details.get("notification") or {}
    return notification


def _promises(sent: Iterable[TimelineItem], now: datetime) -> dict[str, Promise]:
    """Each case's current promise: the newest sent notification of the case that named a time."""
    promises: dict[str, Promise] = {}
    for item in sent:  # newest first
        notification = _notification(item)
        case_id = notification.get("case_id") or item.case_id
        expected = notification.get("expected_answer")
        if case_id is None or case_id in promises or not expected:
            continue
        latest = expected.get("latest")
        if latest is None or expected.get("kind") == ExpectedAnswerKind.UNKNOWN:
            continue  # "as soon as we can" promises no time; an older message may still have
        promises[case_id] = Promise(latest, str(expected.get("said") or ""), case_id, latest <= now)
    return promises


def _handling(assignments: Iterable[TimelineItem]) -> dict[str, tuple[Handling, str | None]]:
    handling: dict[str, tuple[Handling, str | None]] = {}
    for item in assignments:  # newest first
        assignment = item.details.get("assignment") or {}
        case_id = assignment.get("case_id") or item.case_id
        if case_id is None or case_id in handling:
            continue
        try:
            state = _HANDLING[AssignmentChange(str(assignment.get("change")))]
        except ValueError:
            continue  # a change this card does not know yet
        agent = assignment.get("agent_id") if state in {Handling.OFFERED, Handling.ASSIGNED} else None
        handling[case_id] = (state, agent)
    return handling


def _last_contacts(interactions: Iterable[TimelineItem]) -> tuple[LastContact, ...]:
    last: dict[str, LastContact] = {}
    for item in interactions:  # newest first
        if item.channel not in last:
            direction = str((item.details.get("contact") or {}).get("direction", ""))
            last[item.channel] = LastContact(item.channel, item.occurred_at, direction)
    return tuple(last.values())


def _told(item: TimelineItem) -> Told:
    notification = _notification(item)
    expected = notification.get("expected_answer") or {}
    text = str(notification.get("text") or "")
    return Told(
        at=item.occurred_at,
        kind=str(notification.get("kind", "")),
        channel=str(notification.get("channel") or item.channel),
        case_id=notification.get("case_id") or item.case_id,
        said=expected.get("said") if expected.get("kind") != ExpectedAnswerKind.UNKNOWN else None,
        text=text[:TOLD_TEXT_CHARS].rstrip(),
        shortened=len(text) > TOLD_TEXT_CHARS,
    )


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    kind: str
    channel: str
    case_id: str | None
    # One short phrase per kind, as data; the page words it in its language.
    direction: str | None = None
    subject: str | None = None
    order_status: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    message_kind: str | None = None
    said: str | None = None
    change: str | None = None
    agent_id: str | None = None
    rating: int | None = None
    events: int | None = None


def timeline_line(item: TimelineItem) -> TimelineLine:  # noqa: PLR0911 - one return per kind
    """One timeline entry as the card's timeline page shows it: never the customer's own words beyond a
    subject line (the full text stays in the CRM and the API)."""
    details = item.details
    line = TimelineLine(item.occurred_at, item.kind, item.channel, item.case_id)
    if contact := details.get("contact"):
        return replace(line, direction=contact.get("direction"), subject=contact.get("subject"))
    if order := details.get("order"):
        return replace(
            line,
            order_status=order.get("status"),
            amount=_decimal(order.get("amount")),
            currency=order.get("currency"),
        )
    if notification := details.get("notification"):
        expected = notification.get("expected_answer") or {}
        return replace(line, message_kind=notification.get("kind"), said=expected.get("said"))
    if assignment := details.get("assignment"):
        return replace(line, change=assignment.get("change"), agent_id=assignment.get("agent_id"))
    if feedback := details.get("feedback"):
        return replace(line, rating=feedback.get("rating"))
    if session := details.get("web_session"):
        return replace(line, events=session.get("events"))
    return line


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return None
