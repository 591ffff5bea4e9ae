from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from schemas.cases import CaseChange
from services.profile.core.webhooks import (
    PROFILES_TOPIC,
    PUBLISHED_FIELDS,
    DeliveryStatus,
    Lane,
    Outcome,
    PendingDelivery,
    RetrySchedule,
    SourceMessage,
    WebhookEventType,
    new_deliveries,
    outcome_of,
    plan_dispatch,
    secret_from,
    secret_problem,
    settle,
    url_problem,
    webhook_events,
)
from tests.profile.webhook_messages import (
    EMAIL,
    NOW,
    case_message,
    profile_message,
    subscription,
)

# --- mapping -----------------------------------------------------------------------------------------


def test_a_profile_change_is_customer_updated_with_the_view_and_no_personal_data() -> None:
    [event] = webhook_events(profile_message(["tier"]))
    assert event.type is WebhookEventType.CUSTOMER_UPDATED
    assert event.event_id == "profile-change-7"
    assert event.data["changed"] == ["tier"]
    assert event.data["customer"]["tier"] == "gold"
    text = json.dumps(event.data)
    assert EMAIL not in text
    assert "Nordmann" not in text


def test_a_first_publication_is_an_update_not_an_unmerge() -> None:
    [event] = webhook_events(profile_message(sorted(PUBLISHED_FIELDS)))
    assert event.type is WebhookEventType.CUSTOMER_UPDATED


def test_merged_into_set_is_customer_merged_naming_the_survivor() -> None:
    [event] = webhook_events(profile_message(["merged_into", "identifiers"], merged_into="ola"))
    assert event.type is WebhookEventType.CUSTOMER_MERGED
    assert event.data == {"customer_id": "kari", "merged_into": "ola"}


def test_merged_into_cleared_is_customer_unmerged() -> None:
    [event] = webhook_events(profile_message(["identifiers", "merged_into", "tier"]))
    assert event.type is WebhookEventType.CUSTOMER_UNMERGED
    assert event.data["changed"] == ["identifiers", "tier"]


def test_a_repeated_change_and_a_merged_away_record_moving_tell_nothing() -> None:
    assert webhook_events(profile_message([])) == []
    assert webhook_events(profile_message(["tier"], merged_into="ola")) == []


def test_a_tombstone_is_customer_erased_with_an_id_from_the_customer() -> None:
    tombstone = SourceMessage(PROFILES_TOPIC, 2, 11, NOW, "kari", None)
    [event] = webhook_events(tombstone)
    assert event.type is WebhookEventType.CUSTOMER_ERASED
    assert event.data == {"customer_id": "kari"}
    [again] = webhook_events(SourceMessage(PROFILES_TOPIC, 2, 99, NOW, "kari", None))
    assert again.event_id == event.event_id  # a repeated erasure is one event


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (CaseChange.OPENED, WebhookEventType.CASE_OPENED),
        (CaseChange.JOINED, WebhookEventType.CASE_UPDATED),
        (CaseChange.MOVED, WebhookEventType.CASE_UPDATED),
        (CaseChange.REOPENED, WebhookEventType.CASE_UPDATED),
        (CaseChange.CLOSED, WebhookEventType.CASE_CLOSED),
    ],
)
def test_case_changes(change: CaseChange, expected: WebhookEventType) -> None:
    [event] = webhook_events(case_message(change))
    assert event.type is expected
    assert event.subject == "case-1"
    assert event.customer_id == "kari"
    assert "contact" not in event.data
    assert "customer" not in event.data


def test_a_case_told_of_its_customers_new_snapshot_is_no_webhook() -> None:
    """The customer's change reaches the CRM as customer.updated; the case itself did not change."""
    assert webhook_events(case_message(CaseChange.CUSTOMER_CHANGED)) == []


def test_deliveries_go_to_subscriptions_that_want_the_type_and_existed_when_it_was_published() -> None:
    message = case_message(CaseChange.OPENED)
    [delivery] = new_deliveries(message, [subscription(WebhookEventType.CASE_OPENED)])
    assert delivery.delivery_id == "sub-1:case-change-9"
    assert delivery.sequence == message.sequence
    body = json.loads(delivery.body)
    assert body["specversion"] == "1.0"
    assert body["type"] == "helhet.case.opened.v1"
    assert body["id"] == "case-change-9"
    assert body["data"]["case_id"] == "case-1"
    assert new_deliveries(message, [subscription(WebhookEventType.CASE_CLOSED)]) == []
    assert new_deliveries(message, [subscription(created_at=NOW + timedelta(seconds=1))]) == []


def test_sequence_orders_one_customers_messages() -> None:
    first = profile_message(["tier"], offset=9)
    later = SourceMessage(PROFILES_TOPIC, 2, 10, NOW + timedelta(milliseconds=1), "kari", first.event)
    much_later = SourceMessage(PROFILES_TOPIC, 2, 100, NOW + timedelta(seconds=1), "kari", first.event)
    assert first.sequence < later.sequence < much_later.sequence


# --- ordering, outcomes, backoff, give-up -------------------------------------------------------------


def pending(
    delivery_id: str, sequence: str, *, due: datetime = NOW, customer: str = "kari"
) -> PendingDelivery:
    return PendingDelivery(delivery_id, delivery_id, Lane("sub-1", customer), sequence, due, 0, NOW)


def test_only_the_oldest_pending_delivery_of_a_lane_is_attempted_and_others_are_not_held_up() -> None:
    kari_1, kari_2 = pending("k1", "001"), pending("k2", "002")
    ola_1 = pending("o1", "005", customer="ola")
    heads = {kari_1.lane: kari_1, ola_1.lane: ola_1}
    plan = plan_dispatch([kari_2, ola_1, kari_1], heads, NOW, lease=timedelta(seconds=40))
    assert plan.attempt == [kari_1, ola_1]
    # kari_2 was due behind its head: it waits for the head's attempt
    assert plan.hold == [(kari_1, NOW + timedelta(seconds=40))]


def test_a_waiting_head_holds_its_lane_until_its_next_attempt() -> None:
    head = pending("k1", "001", due=NOW + timedelta(minutes=5))
    plan = plan_dispatch([pending("k2", "002")], {head.lane: head}, NOW, lease=timedelta(seconds=40))
    assert plan.attempt == []
    assert plan.hold == [(head, NOW + timedelta(minutes=5))]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (410, Outcome.GONE),
        (301, Outcome.FAILED),  # redirects are not followed
        (404, Outcome.FAILED),
        (500, Outcome.FAILED),
        (None, Outcome.FAILED),  # timeout, refused
    ],
)
def test_outcomes(status: int | None, outcome: Outcome) -> None:
    assert outcome_of(status) is outcome


def test_backoff_doubles_up_to_the_maximum_with_a_stable_jitter() -> None:
    schedule = RetrySchedule(initial=timedelta(seconds=5), maximum=timedelta(hours=1))
    delays = [schedule.delay(n, "d") for n in range(1, 15)]
    for n, delay in enumerate(delays, start=1):
        nominal = min(timedelta(hours=1), timedelta(seconds=5) * 2 ** (n - 1))
        assert nominal * 0.8 <= delay <= nominal
    assert delays == [schedule.delay(n, "d") for n in range(1, 15)]
    assert schedule.delay(200, "d") <= timedelta(hours=1)


def test_a_failure_is_retried_until_24_hours_then_dead() -> None:
    schedule = RetrySchedule()
    delivery = pending("d", "001")
    now, attempts = NOW, 0
    while True:
        step = settle(delivery, Outcome.FAILED, now, schedule)
        attempts += 1
        assert step.attempts == attempts
        if step.status is DeliveryStatus.DEAD:
            break
        assert step.status is DeliveryStatus.PENDING
        assert step.next_attempt_at is not None
        assert step.next_attempt_at <= NOW + timedelta(hours=24)
        now = step.next_attempt_at
        delivery = PendingDelivery("d", "d", delivery.lane, "001", now, attempts, NOW)
    assert now == NOW + timedelta(hours=24)  # the last try falls on the deadline
    assert 20 <= attempts <= 40


def test_delivered_and_gone() -> None:
    assert (
        settle(pending("d", "1"), Outcome.DELIVERED, NOW, RetrySchedule()).status is DeliveryStatus.DELIVERED
    )
    gone = settle(pending("d", "1"), Outcome.GONE, NOW, RetrySchedule())
    assert gone.status is DeliveryStatus.CANCELLED
    assert gone.unsubscribe


# --- receiver URLs and secrets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/hooks?token=abc",
        "https://8.8.8.8/hooks",
        "https://crm.example.com:8443/x",
    ],
)
def test_good_urls(url: str) -> None:
    assert url_problem(url, allow_insecure=False) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com/hooks",
        "http://127.0.0.1:8080/hooks",
        "https://user:password@crm.example.com/hooks",
        "https://localhost/hooks",
        "https://127.0.0.1/hooks",
        "https://10.0.0.5/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://crm.example.com/hooks#frag",
        "https://crm.example.com:99999/x",
        "ftp://crm.example.com/x",
        "https:///nohost",
        "https://crm.example.com/" + "a" * 2100,
        "https://crm.example.com/a b",
        # Numeric spellings of loopback and look-alike names, which resolvers and httpx read oddly.
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0/",
        "https://0177.0.0.1/",
        "https://\u2460\u2461\u2466.0.0.1/",
        "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",
    ],
)
def test_hostile_urls_are_refused_without_being_quoted(url: str) -> None:
    problem = url_problem(url, allow_insecure=False)
    assert problem is not None
    assert "crm.example.com" not in problem
    assert "password" not in problem


def test_insecure_allows_http_to_loopback_only() -> None:
    assert url_problem("http://127.0.0.1:8080/hooks", allow_insecure=True) is None
    assert url_problem("http://crm.example.com/hooks", allow_insecure=True) is not None
    assert url_problem("http://10.0.0.5/hooks", allow_insecure=True) is not None


def test_secrets() -> None:
    assert secret_problem(secret_from(bytes(range(32)))) is None
    assert secret_problem(secret_from(bytes(24))) is None
    assert secret_problem(secret_from(bytes(64))) is None
    for bad in (
        secret_from(bytes(23)),
        secret_from(bytes(65)),
        "whsec_not base64!",
        "c2VjcmV0c2VjcmV0c2VjcmV0",
    ):
        problem = secret_problem(bad)
        assert problem is not None
        assert bad not in problem
