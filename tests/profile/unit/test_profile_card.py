"""What the profile card shows, from a customer record and its newest timeline entries, and in which
language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.cases import CaseCategory, CaseStatus
from schemas.customers import Purpose
from schemas.interactions import Channel
from services.profile.core.attributes import Attribute, AttributeName
from services.profile.core.card import (
    TOLD_TEXT_CHARS,
    Handling,
    LastContact,
    card_view,
    choose_language,
    timeline_line,
)
from services.profile.core.cases import Case
from services.profile.core.consent import ConsentDecision
from services.profile.core.profile import ProfileFacts
from services.profile.ports import CustomerRecord, CustomerSummary, TimelineItem

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def case(
    case_id: str, *, status: CaseStatus = CaseStatus.OPEN, reopened: bool = False, age_h: int = 2
) -> Case:
    opened = NOW - timedelta(hours=age_h)
    return Case(
        case_id=case_id,
        customer_id="c-1",
        category=CaseCategory.SHIPPING,
        channel=Channel.EMAIL,
        thread_key=None,
        language=None,
        opened_at=opened,
        opened_by=f"{case_id}-opened",
        last_activity_at=opened,
        event_ids=frozenset({f"{case_id}-opened"}),
        status=status,
        reopened_by=frozenset({"answer-1"}) if reopened else frozenset(),
    )


def record(
    *cases: Case, name: str | None = "Kari Nordmann", recovery: str | None = "broken_promise"
) -> CustomerRecord:
    attributes = {}
    if name is not None:
        attributes[AttributeName.NAME] = Attribute(AttributeName.NAME, name, "crm", NOW, "e-name")
    consent = {
        Purpose.MARKETING: ConsentDecision(
            Purpose.MARKETING, False, "sms", NOW - timedelta(days=1), "e-stop"
        ),
        Purpose.SERVICE_MESSAGES: ConsentDecision(Purpose.SERVICE_MESSAGES, True, "web", NOW, "e-ok"),
    }
    summary = CustomerSummary(
        tier="gold",
        historic_value=Decimal("25000.00"),
        predicted_lifetime_value=Decimal("61000.50"),
        lifecycle="active",
        needs_recovery=recovery is not None,
        recovery_reason=recovery,
        language="nb",
        preferred_channel="sms",
        last_agent="ada",
        as_of=NOW,
    )
    facts = ProfileFacts(attributes=attributes, consent=consent)
    return CustomerRecord("c-1", facts, summary, cases=cases)


def item(
    kind: str, at: datetime, *, channel: str = "email", case_id: str | None = None, **details: Any
) -> TimelineItem:
    return TimelineItem(
        event_id=f"{kind}-{at.isoformat()}-{channel}",
        occurred_at=at,
        kind=kind,
        event_type=f"helhet.{kind}",
        channel=channel,
        source="/tests",
        details=details,
        case_id=case_id,
    )


def told(
    at: datetime,
    case_id: str | None,
    *,
    latest: datetime | None,
    said: str = "innen cirka 2-4 timer",
    kind: str = "acknowledgement",
    status: str = "sent",
    expected_kind: str = "within",
    text: str = "Hei! Takk for henvendelsen.",
) -> TimelineItem:
    expected = None
    if latest is not None or expected_kind == "unknown":
        expected = {"kind": expected_kind, "earliest": None, "latest": latest, "said": said}
    notification = {
        "case_id": case_id,
        "kind": kind,
        "channel": "email",
        "status": status,
        "text": text,
        "expected_answer": expected,
    }
    return item("notification", at, case_id=case_id, notification=notification)


def contact(
    at: datetime, channel: str, direction: str = "inbound", subject: str | None = None
) -> TimelineItem:
    return item("interaction", at, channel=channel, contact={"direction": direction, "subject": subject})


def assignment(at: datetime, case_id: str, change: str, agent: str | None = None) -> TimelineItem:
    details = {"change": change, "case_id": case_id, "queue": "email", "agent_id": agent}
    return item("assignment", at, case_id=case_id, assignment=details)


def test_the_summary_name_consent_and_recovery_come_from_the_record() -> None:
    view = card_view(record(), timeline=[], now=NOW)
    assert (view.customer_id, view.name, view.tier, view.lifecycle) == (
        "c-1",
        "Kari Nordmann",
        "gold",
        "active",
    )
    assert (view.historic_value, view.predicted_lifetime_value) == (Decimal("25000.00"), Decimal("61000.50"))
    assert (view.needs_recovery, view.recovery_reason, view.customer_language) == (
        True,
        "broken_promise",
        "nb",
    )
    consent = {line.purpose: line.granted for line in view.consent}
    assert consent == {"service_messages": True, "marketing": False, "profiling": None}
    assert (view.open_cases, view.last_contacts, view.last_told, view.next_promise) == ((), (), None, None)


def test_a_customer_without_name_or_summary_still_has_a_card() -> None:
    bare = CustomerRecord("c-2", ProfileFacts(), None)
    view = card_view(bare, timeline=[], now=NOW)
    assert (view.name, view.tier, view.historic_value, view.needs_recovery) == (None, None, None, False)
    assert all(line.granted is None for line in view.consent)
    fine = card_view(record(recovery=None), timeline=[], now=NOW)
    assert (fine.needs_recovery, fine.recovery_reason) == (False, None)


def test_only_open_cases_are_shown_with_their_routing_state() -> None:
    cases = (case("k-1"), case("k-2", reopened=True), case("k-3", status=CaseStatus.CLOSED), case("k-4"))
    assignments = [  # newest first
        assignment(NOW - timedelta(minutes=1), "k-1", "accepted", "ada"),
        assignment(NOW - timedelta(minutes=5), "k-1", "offered", "ada"),
        assignment(NOW - timedelta(minutes=2), "k-2", "expired", "bo"),
        assignment(NOW - timedelta(minutes=3), "k-3", "completed", "cy"),
        assignment(NOW - timedelta(minutes=4), "k-9", "someday_new", "cy"),
    ]
    view = card_view(record(*cases), timeline=assignments, now=NOW)
    lines = {line.case_id: line for line in view.open_cases}
    assert list(lines) == ["k-1", "k-2", "k-4"]
    assert (lines["k-1"].handling, lines["k-1"].agent_id, lines["k-1"].reopened) == (
        Handling.ASSIGNED,
        "ada",
        False,
    )
    assert (lines["k-2"].handling, lines["k-2"].agent_id, lines["k-2"].reopened) == (
        Handling.WAITING,
        None,
        True,
    )
    assert (lines["k-4"].handling, lines["k-4"].agent_id) == (None, None)
    assert (lines["k-1"].category, lines["k-1"].channel) == ("shipping", "email")


def test_each_open_case_carries_its_current_promise_and_the_earliest_is_next() -> None:
    cases = (case("k-1"), case("k-2"), case("k-3", status=CaseStatus.CLOSED))
    notifications = [  # newest first
        told(
            NOW - timedelta(minutes=1),
            "k-1",
            latest=NOW + timedelta(hours=5),
            said="by 17:00",
            kind="status_update",
        ),
        told(NOW - timedelta(minutes=2), "k-3", latest=NOW - timedelta(hours=9)),  # closed: settled
        told(
            NOW - timedelta(minutes=3), "k-2", latest=None, expected_kind="unknown", said="as soon as we can"
        ),
        told(NOW - timedelta(minutes=4), "k-2", latest=NOW + timedelta(hours=3), said="within 2-3 hours"),
        told(NOW - timedelta(hours=2), "k-1", latest=NOW + timedelta(hours=1)),  # replaced by the update
        told(NOW - timedelta(minutes=9), "k-1", latest=NOW, status="failed"),  # never reached the customer
    ]
    view = card_view(record(*cases), timeline=notifications, now=NOW)
    promises = {line.case_id: line.promise for line in view.open_cases}
    assert promises["k-1"] is not None
    assert (promises["k-1"].due, promises["k-1"].said, promises["k-1"].overdue) == (
        NOW + timedelta(hours=5),
        "by 17:00",
        False,
    )
    assert promises["k-2"] is not None
    assert promises["k-2"].due == NOW + timedelta(hours=3)
    assert view.next_promise == promises["k-2"]


def test_an_overdue_promise_is_flagged_and_comes_first() -> None:
    notifications = [
        told(NOW - timedelta(hours=1), "k-1", latest=NOW + timedelta(hours=2)),
        told(NOW - timedelta(hours=6), "k-2", latest=NOW - timedelta(minutes=10)),
    ]
    view = card_view(record(case("k-1"), case("k-2")), timeline=notifications, now=NOW)
    assert view.next_promise is not None
    assert (view.next_promise.case_id, view.next_promise.overdue) == ("k-2", True)


def test_what_the_customer_was_last_told_is_the_newest_message_sent() -> None:
    long_text = "x" * (TOLD_TEXT_CHARS + 50)
    notifications = [
        told(NOW - timedelta(minutes=1), "k-1", latest=None, status="failed", text="never arrived"),
        told(
            NOW - timedelta(minutes=5),
            "k-1",
            latest=NOW + timedelta(hours=2),
            said="within about 2 hours",
            text=long_text,
        ),
    ]
    view = card_view(record(case("k-1")), timeline=notifications, now=NOW)
    told_ = view.last_told
    assert told_ is not None
    assert (told_.at, told_.kind, told_.channel, told_.case_id) == (
        NOW - timedelta(minutes=5),
        "acknowledgement",
        "email",
        "k-1",
    )
    assert (told_.said, len(told_.text), told_.shortened) == ("within about 2 hours", TOLD_TEXT_CHARS, True)
    vague = [told(NOW, None, latest=None, expected_kind="unknown", said="as soon as we can", text="Hi")]
    view = card_view(record(), timeline=vague, now=NOW)
    assert view.last_told is not None
    assert (view.last_told.said, view.last_told.text, view.last_told.shortened) == (None, "Hi", False)


def test_the_last_interaction_in_each_channel_newest_first() -> None:
    interactions = [
        contact(NOW - timedelta(minutes=1), "sms", "outbound"),
        contact(NOW - timedelta(minutes=2), "email"),
        contact(NOW - timedelta(minutes=3), "sms"),
        contact(NOW - timedelta(days=40), "phone"),
        contact(NOW - timedelta(days=41), "email"),
    ]
    view = card_view(record(), timeline=interactions, now=NOW)
    assert view.last_contacts == (
        LastContact("sms", NOW - timedelta(minutes=1), "outbound"),
        LastContact("email", NOW - timedelta(minutes=2), "inbound"),
        LastContact("phone", NOW - timedelta(days=40), "inbound"),
    )


def test_one_timeline_of_every_kind_feeds_each_part_of_the_card() -> None:
    timeline = [  # newest first, as the store reads it
        item(
            "order", NOW - timedelta(minutes=1), order={"status": "placed", "amount": "10", "currency": "NOK"}
        ),
        assignment(NOW - timedelta(minutes=2), "k-1", "offered", "bo"),
        told(NOW - timedelta(minutes=3), "k-1", latest=NOW + timedelta(hours=1)),
        contact(NOW - timedelta(minutes=4), "chat"),
        item("web_activity", NOW - timedelta(minutes=5), channel="web", web={"activity": "page_view"}),
        item("feedback", NOW - timedelta(minutes=6), case_id="k-1", feedback={"rating": 5}),
    ]
    view = card_view(record(case("k-1")), timeline=timeline, now=NOW)
    [line] = view.open_cases
    assert (line.handling, line.agent_id) == (Handling.OFFERED, "bo")
    assert line.promise is not None
    assert line.promise.due == NOW + timedelta(hours=1)
    assert view.last_contacts == (LastContact("chat", NOW - timedelta(minutes=4), "inbound"),)
    assert view.last_told is not None
    assert view.last_told.at == NOW - timedelta(minutes=3)


@pytest.mark.parametrize(
    ("parameter", "header", "chosen"),
    [
        ("sv", "en-GB,en;q=0.9", "sv"),
        ("da-DK", None, "da"),
        ("nn", None, "nb"),
        ("no", None, "nb"),
        ("EN", None, "en"),
        ("de", "sv-SE,sv;q=0.9,en;q=0.5", "sv"),  # not ours: the browser decides
        (None, "de-DE,de;q=0.9,da;q=0.8,en;q=0.7", "da"),
        (None, "en;q=0.4, sv;q=0.8", "sv"),
        (None, "sv;q=0, en", "en"),  # q=0: not wanted
        (None, "de, fr;q=0.5", "nb"),
        (None, None, "nb"),
        (None, "sv;q=bogus, da", "da"),
        ("", "", "nb"),
    ],
)
def test_the_language_is_the_parameter_else_the_browsers_else_the_default(
    parameter: str | None, header: str | None, chosen: str
) -> None:
    assert choose_language(parameter, header, "nb") == chosen


def test_timeline_lines_say_what_each_entry_was() -> None:
    at = NOW - timedelta(hours=1)
    mail = timeline_line(contact(at, "email", subject="Pakke"))
    assert (mail.kind, mail.channel, mail.direction, mail.subject) == (
        "interaction",
        "email",
        "inbound",
        "Pakke",
    )
    order = timeline_line(
        item("order", at, order={"status": "placed", "amount": "1499.00", "currency": "NOK"})
    )
    assert (order.order_status, order.amount, order.currency) == ("placed", Decimal("1499.00"), "NOK")
    message = timeline_line(told(at, "k-1", latest=NOW, said="by 13:00"))
    assert (message.message_kind, message.said, message.case_id) == ("acknowledgement", "by 13:00", "k-1")
    taken = timeline_line(assignment(at, "k-1", "accepted", "ada"))
    assert (taken.change, taken.agent_id) == ("accepted", "ada")
    rated = timeline_line(item("feedback", at, feedback={"rating": 2, "comment": "slow"}))
    assert rated.rating == 2
    visit = timeline_line(item("web_session", at, channel="web", web_session={"events": 7}))
    assert visit.events == 7
    change = timeline_line(item("change", at, channel="crm", attributes=[{"name": "name"}]))
    assert (change.kind, change.subject, change.rating) == ("change", None, None)
    broken = timeline_line(item("order", at, order={"status": "placed", "amount": "n/a", "currency": "NOK"}))
    assert broken.amount is None
