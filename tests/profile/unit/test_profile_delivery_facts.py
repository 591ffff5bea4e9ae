"""Delivered orders and the answers about them, as the profile decides them: an order change saying
``delivered`` is one delivery to publish on ``deliveries.v1`` (with the order's contact points and the
customer's view, under an id that comes from the order event), and a survey answer about a delivered
order is a ``feedback`` note under no case that counts in the ledger like any answer; a negative one opens
a delivery case (``decide_delivery_case``), at most once per answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import ValidationError

from schemas.cases import CaseCategory, CaseChange, CaseStatus
from schemas.catalog import event_type_of
from schemas.commerce import OrderDelivered, OrderStatus
from schemas.customers import ExperienceReason
from schemas.feedback import FeedbackReceived
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel
from services.profile.adapters.outbound.documents import (
    case_document,
    case_from_document,
    observed_from_timeline,
    outbox_document,
    outbox_from_document,
    timeline_document,
)
from services.profile.core.cases import close_case, decide_delivery_case, decide_reopen
from services.profile.core.delivery import Delivery, decide_delivery
from services.profile.core.experience import Experience, Feeling
from services.profile.core.ids import stable_id
from services.profile.core.observe import FactKind, Feedback, without_personal_text
from services.profile.core.profile import ProfileConfig, fold
from services.profile.core.snapshot import case_changed, order_delivered
from services.profile.outgoing import case_event, delivery_event
from services.profile.plan import CaseStep
from services.profile.ports import OutboxEntry
from services.profile.service import to_millis
from tests.profile.unit.profile_builders import (
    KARI,
    KARI_PHONE,
    NOW,
    feedback,
    message,
    notification,
    order,
    order_feedback,
    web,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CONFIG = ProfileConfig()


def delivered(event_id: str = "d1", order_id: str = "order-1") -> Delivery:
    observed = order(event_id, order_id, OrderStatus.DELIVERED, "1499.00", identifiers=(KARI, KARI_PHONE))
    decided = decide_delivery(observed, "kari")
    assert decided is not None
    return decided


# --- deciding a delivery --------------------------------------------------------------------------------


def test_a_delivered_order_is_one_delivery_with_the_orders_contact_points() -> None:
    at = NOW - HOUR
    observed = order("d1", "order-1", OrderStatus.DELIVERED, "1499.00", at=at, identifiers=(KARI, KARI_PHONE))

    assert decide_delivery(observed, "kari") == Delivery(
        order_id="order-1",
        customer_id="kari",
        delivered_at=at,
        identifiers=(KARI, KARI_PHONE),
        event_id="d1",
    )


def test_the_contact_points_are_as_normalised_in_the_event() -> None:
    spelled = identify(IdentifierKind.EMAIL, "  Kari@Example.NO ")
    phone = identify(IdentifierKind.PHONE, "+47 912 34 567")
    observed = order("d1", "order-1", OrderStatus.DELIVERED, "10", identifiers=(spelled, phone))

    delivery = decide_delivery(observed, "kari")

    assert delivery is not None
    assert [i.key for i in delivery.identifiers] == ["email:kari@example.no", "phone:+4791234567"]


@pytest.mark.parametrize("status", [OrderStatus.PLACED, OrderStatus.RETURNED, OrderStatus.REFUNDED])
def test_only_a_delivered_order_is_a_delivery(status: OrderStatus) -> None:
    assert decide_delivery(order("o1", "order-1", status, "10"), "kari") is None


def test_other_events_are_no_delivery() -> None:
    for observed in (
        message("m1"),
        web("w1"),
        notification("n1"),
        order_feedback("f1", 1),
        feedback("f2", 1),
    ):
        assert decide_delivery(observed, "kari") is None


def test_the_message_id_comes_from_the_order_event_alone() -> None:
    first = delivered("d1")

    assert first.message_id == stable_id("order-delivered", "d1")
    assert replace(first, customer_id="ola").message_id == first.message_id  # whoever ends up with it
    assert delivered("d2").message_id != first.message_id  # another order event: a message of its own


# --- what is published -----------------------------------------------------------------------------------


def test_the_delivery_is_published_with_the_customers_view_keyed_by_the_customer() -> None:
    delivery = delivered()
    profile = fold(
        "kari",
        [
            message("m1", language_hint="nb", at=NOW - DAY),
            order("d1", "order-1", OrderStatus.DELIVERED, "10"),
        ],
        CONFIG,
        NOW,
    )

    payload = order_delivered(delivery, profile)
    event = delivery_event(payload, delivery, NOW)

    assert payload == OrderDelivered(
        order_id="order-1",
        customer_id="kari",
        delivered_at=NOW,
        identifiers=[KARI, KARI_PHONE],
        customer=profile.view,
    )
    assert payload.customer.language == "nb"  # the same view a case change carries
    assert (event.id, event.key, event.subject, event.source) == (
        delivery.message_id,
        "kari",
        "order-1",
        "/profile",
    )
    assert event_type_of(OrderDelivered).name == event.type == "helhet.order.delivered.v1"
    assert event_type_of(OrderDelivered).topic == "deliveries.v1"
    assert delivery_event(payload, delivery, NOW + HOUR).id == event.id  # published again: the same message


def test_a_merged_away_customers_delivery_names_the_survivor() -> None:
    delivery = delivered()  # placed on "kari" before the batch merged her into "kari-survivor"
    survivor = fold("kari-survivor", [order("d1", "order-1", OrderStatus.DELIVERED, "10")], CONFIG, NOW)

    payload = order_delivered(delivery, survivor)

    assert (payload.customer_id, payload.customer.customer_id) == ("kari-survivor", "kari-survivor")


def test_a_published_delivery_is_kept_in_the_outbox_and_read_back_the_same() -> None:
    delivery = delivered()
    profile = fold("kari", [order("d1", "order-1", OrderStatus.DELIVERED, "10")], CONFIG, NOW)
    event = delivery_event(order_delivered(delivery, profile), delivery, NOW)

    kept = outbox_from_document(outbox_document(OutboxEntry(frozenset({"d1"}), (event,), NOW)))

    assert (kept.event_ids, kept.written_at) == (frozenset({"d1"}), NOW)
    assert kept.messages() == (event,)


# --- answers about a delivered order ----------------------------------------------------------------------


def test_an_answer_about_an_order_is_a_feedback_note_with_its_order_and_no_case() -> None:
    observed = order_feedback("f1", 2, comment="Pakken var knust")

    assert observed.kind is FactKind.FEEDBACK
    assert (observed.customer_id, observed.identifiers, observed.source_channel) == ("kari", (), "survey")
    assert observed.feedback == Feedback(
        survey_id="delivery-survey-1",
        case_id=None,
        rating=2,
        comment="Pakken var knust",
        negative=True,
        order_id="order-1",
    )
    assert observed.case_id is None  # under no case on the timeline


def test_an_answer_is_about_a_case_or_an_order_never_both_nor_neither() -> None:
    with pytest.raises(ValidationError, match="a case or an order"):
        FeedbackReceived(survey_id="s", customer_id="kari", rating=1, occurred_at=NOW)
    with pytest.raises(ValidationError, match="a case or an order"):
        FeedbackReceived(
            survey_id="s", case_id="case-1", order_id="order-1", customer_id="kari", rating=1, occurred_at=NOW
        )


@pytest.mark.parametrize(
    ("rating", "expected"),
    [
        (1, (Feeling.BAD, ExperienceReason.NEGATIVE_FEEDBACK)),
        (2, (Feeling.BAD, ExperienceReason.NEGATIVE_FEEDBACK)),
        (3, None),
        (4, (Feeling.GOOD, ExperienceReason.POSITIVE_FEEDBACK)),
        (5, (Feeling.GOOD, ExperienceReason.POSITIVE_FEEDBACK)),
    ],
)
def test_an_answer_about_an_order_counts_in_the_ledger_like_one_about_a_case(
    rating: int, expected: tuple[Feeling, ExperienceReason] | None
) -> None:
    about_order = order_feedback("f1", rating, at=NOW - HOUR)

    assert about_order.experience == (None if expected is None else Experience(*expected, NOW - HOUR, "f1"))
    assert about_order.experience == feedback("f1", rating, at=NOW - HOUR).experience


def test_a_negative_answer_about_an_order_needs_recovery() -> None:
    events = [order("d1", "order-1", OrderStatus.DELIVERED, "10", at=NOW - DAY), order_feedback("f1", 1)]

    ledger = fold("kari", events, CONFIG, NOW).ledger

    assert (ledger.good, ledger.bad) == (1, 1)
    assert (ledger.needs_recovery, ledger.reason) == (True, ExperienceReason.NEGATIVE_FEEDBACK)
    # Answering is not being seen: the delivery was the last time.
    assert fold("kari", events, CONFIG, NOW).facts.last_seen == NOW - DAY


def test_an_answer_about_an_order_reopens_no_case() -> None:
    opened = decide_delivery_case(order_feedback("f0", 1), "kari", {})
    assert opened is not None
    closed = close_case(opened, NOW - HOUR, "resolved")

    assert decide_reopen(order_feedback("f1", 1), "kari", {closed.case_id: closed}) is None


# --- the delivery case ------------------------------------------------------------------------------------


def test_a_negative_answer_about_an_order_opens_a_delivery_case() -> None:
    at = NOW - HOUR
    answer = order_feedback("f1", 2, at=at)

    case = decide_delivery_case(answer, "kari", {})

    assert case is not None
    assert (case.case_id, case.customer_id, case.opened_by) == (stable_id("case", "f1"), "kari", "f1")
    assert (case.category, case.channel, case.status) == (
        CaseCategory.DELIVERY,
        Channel.EMAIL,
        CaseStatus.OPEN,
    )
    assert (case.opened_at, case.last_activity_at, case.event_ids) == (at, at, frozenset({"f1"}))
    assert (case.thread_key, case.language, case.closed_at, case.close_reason) == (None, None, None, None)
    assert case.reopened_by == frozenset()


@pytest.mark.parametrize("rating", [3, 4, 5])
def test_a_neutral_or_positive_answer_about_an_order_opens_nothing(rating: int) -> None:
    assert decide_delivery_case(order_feedback("f1", rating), "kari", {}) is None


def test_only_an_answer_about_an_order_opens_a_delivery_case() -> None:
    assert decide_delivery_case(feedback("f1", 1), "kari", {}) is None  # about a case: it reopens instead
    assert decide_delivery_case(message("m1", text="Pakken kom aldri"), "kari", {}) is None
    assert decide_delivery_case(notification("n1"), "kari", {}) is None


def test_an_answer_opens_its_case_at_most_once_whatever_became_of_it() -> None:
    answer = order_feedback("f1", 1)
    opened = decide_delivery_case(answer, "kari", {})
    assert opened is not None
    closed = close_case(opened, NOW + HOUR, "resolved")

    assert decide_delivery_case(answer, "kari", {opened.case_id: opened}) is None  # redelivered
    assert decide_delivery_case(answer, "kari", {closed.case_id: closed}) is None  # redelivered after a close
    later = decide_delivery_case(order_feedback("f2", 2), "kari", {closed.case_id: closed})
    assert later is not None  # another answer, another case
    assert later.case_id != opened.case_id


def test_the_opened_change_carries_no_contact_and_a_stable_id_per_answer() -> None:
    answer = order_feedback("f1", 1)
    opened = decide_delivery_case(answer, "kari", {})
    assert opened is not None
    profile = fold("kari", [message("m1", language_hint="sv", at=NOW - DAY), answer], CONFIG, NOW)

    payload = case_changed(CaseChange.OPENED, opened, profile, None)

    assert (payload.change, payload.status, payload.contact) == (CaseChange.OPENED, CaseStatus.OPEN, None)
    assert (payload.category, payload.channel, payload.interactions) == (
        CaseCategory.DELIVERY,
        Channel.EMAIL,
        1,
    )
    assert payload.language == "sv"  # the customer's
    assert (payload.customer.needs_recovery, payload.customer.recovery_reason) == (
        True,
        ExperienceReason.NEGATIVE_FEEDBACK,
    )
    step = CaseStep(CaseChange.OPENED, opened, answer)
    assert case_event(payload, step, NOW + HOUR).id == case_event(payload, step, NOW).id


def test_a_stored_delivery_case_reads_back_the_same() -> None:
    opened = decide_delivery_case(order_feedback("f1", 1), "kari", {})
    assert opened is not None

    assert case_from_document(case_document(opened)) == opened


# --- what is recorded ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", ["Pakken var knust", None])
def test_the_timeline_entry_keeps_the_order_and_reads_back_the_same(comment: str | None) -> None:
    at = NOW.replace(microsecond=654_321)
    observed = to_millis(order_feedback("f1", 1, at=at, comment=comment))
    document = timeline_document(observed, "kari", None)

    assert document["feedback"] == {
        "survey_id": "delivery-survey-1",
        "case_id": None,
        "rating": 1,
        "comment": comment,
        "negative": True,
        "order_id": "order-1",
    }
    assert (document["kind"], document["channel"], document["case_id"]) == ("feedback", "survey", None)
    again = observed_from_timeline(document)
    assert (again.feedback, again.experience) == (observed.feedback, observed.experience)


def test_an_answer_recorded_before_orders_were_asked_about_reads_back_about_its_case() -> None:
    observed = to_millis(feedback("f1", 2))
    document = timeline_document(observed, "kari", "case-1")
    del document["feedback"]["order_id"]

    assert observed_from_timeline(document).feedback == observed.feedback


def test_for_a_customer_nobody_holds_the_comment_about_an_order_is_left_out() -> None:
    answer = order_feedback("f1", 1, comment="Kari Nordmann, Storgata 1: pakken var knust")

    kept = without_personal_text(answer)

    assert kept.feedback == Feedback("delivery-survey-1", None, 1, None, negative=True, order_id="order-1")
