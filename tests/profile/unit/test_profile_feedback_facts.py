"""Customers' survey answers as the profile observes them: each one is a timeline note (addressed by
customer id, filed under its case) and, unless it is a 3, an experience in the ledger (one bad outweighs
twelve good); it is never the customer being seen. A negative answer reopens its case when that case is
closed and the customer's (``decide_reopen``), at most once per answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from schemas.cases import CaseCategory, CaseChange, CaseStatus
from schemas.commerce import OrderStatus
from schemas.customers import ExperienceReason
from schemas.feedback import FeedbackReceived
from schemas.interactions import Channel
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.adapters.outbound.documents import (
    case_document,
    case_from_document,
    observed_from_timeline,
    timeline_document,
)
from services.profile.core.cases import Case, close_case, decide_reopen, reopen_case
from services.profile.core.experience import Experience, Feeling, rating_feeling
from services.profile.core.observe import (
    PROFILE_PAYLOADS,
    FactKind,
    Feedback,
    ObservedEvent,
    without_personal_text,
)
from services.profile.core.profile import ProfileConfig, fold
from services.profile.core.snapshot import case_changed
from services.profile.outgoing import case_event
from services.profile.plan import CaseStep
from services.profile.service import to_millis
from tests.profile.unit.profile_builders import NOW, feedback, message, notification, order

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CONFIG = ProfileConfig()


def closed_case(customer_id: str = "kari", case_id: str = "case-1") -> Case:
    """A case opened two days ago by one contact, closed a day later."""
    case = Case(
        case_id=case_id,
        customer_id=customer_id,
        category=CaseCategory.SHIPPING,
        channel=Channel.EMAIL,
        thread_key="thread:<t1@x>",
        language=None,
        opened_at=NOW - 2 * DAY,
        opened_by="m1",
        last_activity_at=NOW - 2 * DAY + HOUR,
        event_ids=frozenset({"m1", "m2"}),
    )
    return close_case(case, NOW - DAY, "resolved")


def cases_of(*cases: Case) -> dict[str, Case]:
    return {case.case_id: case for case in cases}


def deliveries(count: int) -> list[ObservedEvent]:
    return [order(f"d{n}", f"o{n}", OrderStatus.DELIVERED, "10", at=NOW - DAY) for n in range(count)]


# --- observing an answer ------------------------------------------------------------------------------


def test_an_answer_is_a_timeline_note_addressed_to_its_customer_by_id() -> None:
    observed = feedback("f1", 2, comment="Fortsatt ingen pakke")

    assert observed.kind is FactKind.FEEDBACK
    assert (observed.customer_id, observed.identifiers, observed.source_channel) == ("kari", (), "survey")
    assert (observed.event_type, observed.source, observed.occurred_at) == (
        "helhet.feedback.received.v1",
        "/ingest/feedback",
        NOW,
    )
    assert observed.feedback == Feedback(
        survey_id="survey-1", case_id="case-1", rating=2, comment="Fortsatt ingen pakke", negative=True
    )
    assert observed.case_id == "case-1"  # the timeline's case filter


def test_the_note_and_the_experience_are_all_an_answer_carries() -> None:
    observed = feedback("f1", 5)

    assert (observed.attributes, observed.consent, observed.contact, observed.phone_step) == (
        (),
        (),
        None,
        None,
    )
    assert (observed.order, observed.case_close, observed.assignment, observed.notification) == (
        None,
        None,
        None,
        None,
    )
    assert (observed.merge_with, observed.unmerge, observed.web) == ((), None, None)


@pytest.mark.parametrize(
    ("rating", "negative", "expected"),
    [
        (1, True, (Feeling.BAD, ExperienceReason.NEGATIVE_FEEDBACK)),
        (2, True, (Feeling.BAD, ExperienceReason.NEGATIVE_FEEDBACK)),
        (3, False, None),
        (4, False, (Feeling.GOOD, ExperienceReason.POSITIVE_FEEDBACK)),
        (5, False, (Feeling.GOOD, ExperienceReason.POSITIVE_FEEDBACK)),
    ],
)
def test_a_rating_of_one_or_two_is_bad_four_or_five_good_three_neither(
    rating: int, negative: bool, expected: tuple[Feeling, ExperienceReason] | None
) -> None:
    observed = feedback("f1", rating, at=NOW - HOUR)

    assert rating_feeling(rating) == expected
    assert observed.feedback is not None
    assert observed.feedback.negative is negative
    assert observed.experience == (None if expected is None else Experience(*expected, NOW - HOUR, "f1"))


# --- the experience ledger ----------------------------------------------------------------------------


def test_a_negative_answer_needs_recovery_with_its_reason() -> None:
    profile = fold("kari", [message("m1", at=NOW - DAY), feedback("f1", 1, at=NOW - HOUR)], CONFIG, NOW)

    assert (profile.ledger.bad, profile.ledger.good, profile.ledger.balance) == (1, 0, -12)
    assert profile.ledger.needs_recovery
    assert profile.ledger.reason is ExperienceReason.NEGATIVE_FEEDBACK


def test_a_negative_answer_takes_twelve_good_experiences_to_repair() -> None:
    unhappy = feedback("f1", 2, at=NOW - 2 * DAY)

    eleven = fold("kari", [unhappy, *deliveries(11)], CONFIG, NOW).ledger
    twelve = fold("kari", [unhappy, *deliveries(6), *(feedback(f"p{n}", 5) for n in range(6))], CONFIG, NOW)

    assert (eleven.balance, eleven.needs_recovery, eleven.reason) == (
        -1,
        True,
        ExperienceReason.NEGATIVE_FEEDBACK,
    )
    assert (twelve.ledger.good, twelve.ledger.bad, twelve.ledger.balance) == (12, 1, 0)
    assert (twelve.ledger.needs_recovery, twelve.ledger.reason) == (False, None)


def test_a_positive_answer_is_a_good_experience_and_a_three_is_nothing() -> None:
    positive = fold("kari", [feedback("f1", 4)], CONFIG, NOW).ledger
    neutral = fold("kari", [feedback("f1", 3)], CONFIG, NOW)

    assert (positive.good, positive.bad, positive.needs_recovery) == (1, 0, False)
    assert (neutral.ledger.good, neutral.ledger.bad) == (0, 0)
    assert neutral.facts.experiences == {}
    assert neutral.facts.event_ids == {"f1"}


def test_the_latest_bad_experience_names_the_reason() -> None:
    complaint = message("c1", text="Dette er uakseptabelt", language_hint="nb", at=NOW - DAY)

    answer_last = fold("kari", [complaint, feedback("f1", 1, at=NOW - HOUR)], CONFIG, NOW).ledger
    complaint_last = fold("kari", [complaint, feedback("f1", 1, at=NOW - 2 * DAY)], CONFIG, NOW).ledger

    assert answer_last.reason is ExperienceReason.NEGATIVE_FEEDBACK
    assert complaint_last.reason is ExperienceReason.COMPLAINT


def test_answering_a_survey_is_not_the_customer_being_seen() -> None:
    profile = fold(
        "kari",
        [message("m1", at=NOW - 3 * HOUR), feedback("f1", 1, at=NOW), feedback("f2", 5, at=NOW - 4 * HOUR)],
        CONFIG,
        NOW,
    )

    assert (profile.facts.first_seen, profile.facts.last_seen) == (NOW - 3 * HOUR, NOW - 3 * HOUR)
    only_answered = fold("kari", [feedback("f1", 2)], CONFIG, NOW)
    assert (only_answered.facts.first_seen, only_answered.facts.last_seen) == (None, None)


def test_a_redelivered_answer_changes_nothing() -> None:
    answer = feedback("f1", 1)
    once = fold("kari", [message("m1", at=NOW - HOUR), answer], CONFIG, NOW)
    twice = fold("kari", [message("m1", at=NOW - HOUR), answer, answer], CONFIG, NOW)

    assert once == twice


# --- reopening ----------------------------------------------------------------------------------------


def test_a_negative_answer_reopens_the_closed_case_it_names() -> None:
    case = closed_case()
    answer = feedback("f1", 2, at=NOW)

    reopened = decide_reopen(answer, "kari", cases_of(case))

    assert reopened is not None
    assert (reopened.status, reopened.closed_at, reopened.close_reason) == (CaseStatus.OPEN, None, None)
    assert reopened.last_activity_at == NOW
    assert reopened.reopened_by == {"f1"}
    # The same case: its id, opening, contacts and category stay.
    assert replace(
        reopened, status=case.status, closed_at=case.closed_at, close_reason=case.close_reason
    ) == (replace(case, last_activity_at=NOW, reopened_by=frozenset({"f1"})))


@pytest.mark.parametrize("rating", [3, 4, 5])
def test_a_neutral_or_positive_answer_reopens_nothing(rating: int) -> None:
    assert decide_reopen(feedback("f1", rating), "kari", cases_of(closed_case())) is None


def test_an_open_case_stays_as_it_is() -> None:
    case = closed_case()
    still_open = replace(case, status=CaseStatus.OPEN, closed_at=None, close_reason=None)

    assert decide_reopen(feedback("f1", 1), "kari", cases_of(still_open)) is None


def test_a_case_the_customer_does_not_hold_is_not_reopened() -> None:
    answer = feedback("f1", 1, case_id="case-ola")

    assert decide_reopen(answer, "kari", cases_of(closed_case())) is None  # not among the customer's
    # Among them but someone else's (a stale copy): not theirs to reopen either.
    assert decide_reopen(answer, "kari", cases_of(closed_case("ola", "case-ola"))) is None


def test_only_an_answer_reopens() -> None:
    cases = cases_of(closed_case())

    assert decide_reopen(message("m3", text="Pakken kom aldri"), "kari", cases) is None
    assert decide_reopen(notification("n1"), "kari", cases) is None


def test_an_answer_reopens_a_case_at_most_once_even_after_it_was_closed_again() -> None:
    answer = feedback("f1", 1)
    reopened = decide_reopen(answer, "kari", cases_of(closed_case()))
    assert reopened is not None
    closed_again = close_case(reopened, NOW + HOUR, "resolved")

    assert decide_reopen(answer, "kari", cases_of(reopened)) is None  # redelivered: open already
    assert decide_reopen(answer, "kari", cases_of(closed_again)) is None  # redelivered after a new close
    later = decide_reopen(feedback("f2", 2, at=NOW + 2 * HOUR), "kari", cases_of(closed_again))
    assert later is not None
    assert (later.status, later.last_activity_at, later.reopened_by) == (
        CaseStatus.OPEN,
        NOW + 2 * HOUR,
        frozenset({"f1", "f2"}),
    )


def test_the_reopened_change_carries_no_contact_and_a_stable_id_per_answer() -> None:
    answer = feedback("f1", 1)
    reopened = reopen_case(closed_case(), NOW, "f1")
    profile = fold("kari", [message("m1", at=NOW - 2 * DAY), answer], CONFIG, NOW)

    payload = case_changed(CaseChange.REOPENED, reopened, profile, None)

    assert (payload.change, payload.status, payload.contact) == (CaseChange.REOPENED, CaseStatus.OPEN, None)
    assert (payload.closed_at, payload.close_reason, payload.interactions) == (None, None, 2)
    assert payload.customer.needs_recovery
    assert payload.customer.recovery_reason is ExperienceReason.NEGATIVE_FEEDBACK
    step = CaseStep(CaseChange.REOPENED, reopened, answer)
    same = case_event(payload, step, NOW).id
    assert case_event(payload, step, NOW + HOUR).id == same  # a redelivery publishes the same change
    other = CaseStep(CaseChange.REOPENED, reopened, feedback("f2", 1))
    assert case_event(payload, other, NOW).id != same  # a later answer's reopening is a change of its own


def test_a_close_or_move_without_a_cause_has_an_id_per_request() -> None:
    profile = fold("kari", [message("m1", at=NOW - 2 * DAY)], CONFIG, NOW)
    case = closed_case()
    for change in (CaseChange.CLOSED, CaseChange.MOVED):
        payload = case_changed(change, case, profile, None)
        first = CaseStep(change, case, None, "request-1")
        again = CaseStep(change, case, None, "request-1")
        later = CaseStep(change, case, None, "request-2")

        assert case_event(payload, again, NOW + HOUR).id == case_event(payload, first, NOW).id
        assert case_event(payload, later, NOW).id != case_event(payload, first, NOW).id


# --- what is recorded ---------------------------------------------------------------------------------


def test_for_a_customer_nobody_holds_the_comment_is_left_out() -> None:
    answer = feedback("f1", 1, comment="Kari Nordmann, Storgata 1: pakken kom aldri")
    kept = without_personal_text(answer)

    assert kept.feedback == Feedback("survey-1", "case-1", 1, None, negative=True)
    assert replace(kept, feedback=answer.feedback) == answer
    assert without_personal_text(feedback("f2", 5, comment=None)) == feedback("f2", 5, comment=None)
    assert without_personal_text(notification("n1")) == notification("n1")


@pytest.mark.parametrize("comment", ["Pakken kom aldri fram", None])
def test_the_timeline_entry_keeps_the_answer_and_reads_back_the_same(comment: str | None) -> None:
    at = NOW.replace(microsecond=123_456)
    observed = to_millis(feedback("f1", 2, at=at, comment=comment))
    document = timeline_document(observed, "kari", "case-1")

    assert document["feedback"] == {
        "survey_id": "survey-1",
        "case_id": "case-1",
        "rating": 2,
        "comment": comment,
        "negative": True,
        "order_id": None,  # about a case, not a delivered order
    }
    assert (document["kind"], document["channel"], document["case_id"], document["occurred_at"]) == (
        "feedback",
        "survey",
        "case-1",
        at.replace(microsecond=123_000),
    )
    assert document["experience"] == {
        "event_id": "f1",
        "feeling": "bad",
        "reason": "negative_feedback",
        "occurred_at": at.replace(microsecond=123_000),
    }
    assert document["identifiers"] == document["identified_as"] == []
    again = observed_from_timeline(document)
    assert (again.kind, again.feedback, again.experience) == (
        FactKind.FEEDBACK,
        observed.feedback,
        observed.experience,
    )


def test_a_stored_case_keeps_who_reopened_it() -> None:
    reopened = reopen_case(closed_case(), NOW, "f1")
    document = case_document(reopened)

    assert document["reopened_by"] == ["f1"]
    assert case_from_document(document) == reopened
    before_reopening = {
        name: value for name, value in case_document(closed_case()).items() if name != "reopened_by"
    }
    assert case_from_document(before_reopening) == closed_case()


def test_the_worker_takes_answers() -> None:
    assert FeedbackReceived in PROFILE_PAYLOADS
    assert "feedback.v1" in PROFILE_TOPICS
