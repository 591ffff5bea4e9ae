"""Notify's notifications as the profile observes them: each one is a timeline note of what the customer
was told (addressed by customer id, filed under its case), and nothing else: no attribute, no experience,
and never the customer being seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import pytest

from schemas.commerce import OrderStatus
from schemas.interactions import Channel
from schemas.notifications import ExpectedAnswerKind, MessageKind, NotificationChanged, NotificationStatus
from schemas.routing import AssignmentChange
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.adapters.outbound.documents import observed_from_timeline, timeline_document
from services.profile.core.observe import (
    PROFILE_PAYLOADS,
    ExpectedAnswerNote,
    FactKind,
    Notification,
)
from services.profile.core.profile import ProfileConfig, fold
from services.profile.service import to_millis
from tests.profile.unit.profile_builders import (
    NOW,
    assignment,
    expected_within,
    message,
    notification,
    order,
)

HOUR = timedelta(hours=1)
TEXT = "Hei Kari! Takk for henvendelsen. Du får svar innen cirka 2-4 timer."


def test_a_notification_is_a_timeline_note_addressed_to_its_customer_by_id() -> None:
    observed = notification("n1", expected_answer=expected_within(), promise_id="promise-1", attempts=2)

    assert observed.kind is FactKind.NOTIFICATION
    assert (observed.customer_id, observed.identifiers, observed.source_channel) == ("kari", (), "notify")
    assert (observed.event_type, observed.source, observed.occurred_at) == (
        "helhet.notification.changed.v1",
        "/notify",
        NOW,
    )
    assert observed.notification == Notification(
        notification_id="n-1",
        case_id="case-1",
        kind=MessageKind.ACKNOWLEDGEMENT,
        channel=Channel.EMAIL,
        language="nb",
        status=NotificationStatus.SENT,
        reason=None,
        subject="Vi har mottatt henvendelsen din",
        text=TEXT,
        expected_answer=ExpectedAnswerNote(
            ExpectedAnswerKind.WITHIN, NOW + 2 * HOUR, NOW + 4 * HOUR, "innen cirka 2-4 timer"
        ),
        promise_id="promise-1",
        attempts=2,
    )
    assert observed.case_id == "case-1"


def test_the_note_is_all_a_notification_carries() -> None:
    observed = notification("n1", status=NotificationStatus.FAILED, reason="smtp_5xx", attempts=5)

    assert (observed.attributes, observed.consent) == ((), ())
    assert (observed.contact, observed.experience, observed.phone_step, observed.web) == (
        None,
        None,
        None,
        None,
    )
    assert (observed.order, observed.case_close, observed.merge_with, observed.unmerge) == (
        None,
        None,
        (),
        None,
    )
    assert observed.assignment is None
    assert observed.notification is not None
    assert (observed.notification.status, observed.notification.reason, observed.notification.attempts) == (
        NotificationStatus.FAILED,
        "smtp_5xx",
        5,
    )


def test_a_notification_without_a_case_is_filed_under_none() -> None:
    observed = notification("n1", kind=MessageKind.SATISFACTION_SURVEY, case_id=None)

    assert observed.notification is not None
    assert observed.notification.case_id is None
    assert observed.notification.expected_answer is None
    assert observed.case_id is None


def test_the_case_a_report_names_is_the_assignments_or_the_notifications() -> None:
    assert assignment("a1", AssignmentChange.OFFERED, case_id="case-a").case_id == "case-a"
    assert notification("n1", case_id="case-n").case_id == "case-n"
    assert message("m1").case_id is None


def test_telling_the_customer_something_is_not_the_customer_being_seen() -> None:
    profile = fold(
        "kari",
        [
            message("m1", at=NOW - 3 * HOUR),
            notification("n1", at=NOW - 4 * HOUR),  # earlier than anything the customer did
            notification("n2", at=NOW, status=NotificationStatus.FAILED),
        ],
        ProfileConfig(),
        NOW,
    )

    assert (profile.facts.first_seen, profile.facts.last_seen) == (NOW - 3 * HOUR, NOW - 3 * HOUR)
    only_told = fold("kari", [notification("n1")], ProfileConfig(), NOW)
    assert (only_told.facts.first_seen, only_told.facts.last_seen) == (None, None)


def test_notifications_leave_attributes_value_lifecycle_and_the_experience_ledger_alone() -> None:
    customer_did = [
        message("m1", text="Dette er elendig, jeg vil klage", at=NOW - 5 * HOUR),
        order("o1", "order-1", OrderStatus.PLACED, "1499.00", at=NOW - 30 * 24 * HOUR),
        order("o2", "order-1", OrderStatus.DELIVERED, "1499.00", at=NOW - 20 * 24 * HOUR),
    ]
    told = [
        notification("n1", at=NOW - 4 * HOUR, expected_answer=expected_within(NOW - 4 * HOUR)),
        notification("n2", kind=MessageKind.STATUS_UPDATE, at=NOW - HOUR),
        notification("n3", kind=MessageKind.SATISFACTION_SURVEY, case_id=None, at=NOW),
    ]

    without = fold("kari", customer_did, ProfileConfig(), NOW)
    with_them = fold("kari", [*told, *customer_did], ProfileConfig(), NOW)

    assert (without.ledger.good, without.ledger.bad) == (1, 1)  # a complaint and a delivery

    assert with_them.facts.event_ids == without.facts.event_ids | {"n1", "n2", "n3"}
    assert replace(with_them.facts, event_ids=without.facts.event_ids) == without.facts
    assert (with_them.lifecycle, with_them.value, with_them.ledger) == (
        without.lifecycle,
        without.value,
        without.ledger,
    )
    assert with_them.view == without.view


def test_a_redelivered_notification_changes_nothing() -> None:
    sent = notification("n1", expected_answer=expected_within())
    once = fold("kari", [message("m1", at=NOW - HOUR), sent], ProfileConfig(), NOW)
    twice = fold("kari", [message("m1", at=NOW - HOUR), sent, sent], ProfileConfig(), NOW)

    assert once == twice


def test_a_later_status_of_the_same_notification_is_an_event_of_its_own() -> None:
    sent = notification("n1", notification_id="ack-1", status=NotificationStatus.SENT, at=NOW - HOUR)
    failed = notification("n2", notification_id="ack-1", status=NotificationStatus.FAILED, reason="bounce")

    profile = fold("kari", [message("m1", at=NOW - 2 * HOUR), sent, failed], ProfileConfig(), NOW)

    assert {"n1", "n2"} <= profile.facts.event_ids
    assert sent.notification is not None
    assert failed.notification is not None
    assert sent.notification.notification_id == failed.notification.notification_id


@pytest.mark.parametrize("expected", [True, False])
def test_the_timeline_entry_keeps_the_note_and_reads_back_the_same(expected: bool) -> None:
    at = NOW.replace(microsecond=123_456)
    answer = expected_within(at) if expected else None
    observed = to_millis(notification("n1", at=at, expected_answer=answer, promise_id="p-1", attempts=3))
    document = timeline_document(observed, "kari", "case-1")

    assert document["notification"] == {
        "notification_id": "n-1",
        "case_id": "case-1",
        "kind": "acknowledgement",
        "channel": "email",
        "language": "nb",
        "status": "sent",
        "reason": None,
        "subject": "Vi har mottatt henvendelsen din",
        "text": TEXT,
        "expected_answer": {
            "kind": "within",
            "earliest": (at + 2 * HOUR).replace(microsecond=123_000),
            "latest": (at + 4 * HOUR).replace(microsecond=123_000),
            "said": "innen cirka 2-4 timer",
        }
        if expected
        else None,
        "promise_id": "p-1",
        "attempts": 3,
    }
    assert (document["kind"], document["channel"], document["case_id"]) == (
        "notification",
        "notify",
        "case-1",
    )
    assert document["assignment"] is None
    assert document["identifiers"] == document["identified_as"] == []
    again = observed_from_timeline(document)
    assert again.notification == observed.notification
    assert (again.kind, again.attributes, again.experience) == (FactKind.NOTIFICATION, (), None)


def test_the_store_keeps_the_promised_times_in_milliseconds() -> None:
    at = NOW.replace(microsecond=999_999)
    observed = to_millis(notification("n1", at=at, expected_answer=expected_within(at)))

    assert observed.notification is not None
    assert observed.notification.expected_answer is not None
    assert observed.notification.expected_answer.earliest == (at + 2 * HOUR).replace(microsecond=999_000)
    assert observed.notification.expected_answer.latest == (at + 4 * HOUR).replace(microsecond=999_000)
    assert observed.occurred_at == at.replace(microsecond=999_000)


def test_an_event_already_in_milliseconds_is_kept_as_it_is_unless_one_instant_is_not() -> None:
    at = NOW.replace(microsecond=250_000)
    already = notification("n1", at=at, expected_answer=expected_within(at))
    assert to_millis(already) is already

    # Only the promised answer time is finer than a millisecond (or not in UTC): still cut and moved.
    finer = notification("n1", at=at, expected_answer=expected_within(at.replace(microsecond=250_001)))
    oslo = replace(already, occurred_at=at.astimezone(timezone(HOUR)))
    for event in (finer, oslo):
        observed = to_millis(event)
        assert observed is not event
        assert observed.occurred_at == at
        assert observed.occurred_at.utcoffset() == timedelta(0)
    assert to_millis(finer).notification.expected_answer.earliest.microsecond == 250_000  # type: ignore[union-attr]


def test_the_worker_takes_notifications() -> None:
    assert NotificationChanged in PROFILE_PAYLOADS
    assert "notifications.v1" in PROFILE_TOPICS
