from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.cases import CaseCategory, CaseStatus
from schemas.commerce import OrderStatus
from schemas.interactions import AttachmentMetadata, Channel, Direction, InteractionEvent
from services.profile.core.cases import (
    Case,
    CaseConfig,
    JoinCase,
    JoinRule,
    NoAnswerReason,
    NoCase,
    OpenCase,
    close_case,
    decide_case,
    no_answer_reason,
)
from services.profile.core.observe import ObservedEvent
from tests.profile.unit.profile_builders import NOW, message, order

DAY = timedelta(days=1)
CONFIG = CaseConfig()


def opened(observed: ObservedEvent, customer_id: str = "kari") -> Case:
    decision = decide_case(observed, customer_id, [], CONFIG)
    assert isinstance(decision, OpenCase)
    return decision.case


def test_an_inbound_question_opens_a_categorised_case() -> None:
    case = opened(message("e1", text="Hvor er pakken min?", language_hint="nb", thread_id="<t1@x>"))

    assert case.category is CaseCategory.SHIPPING
    assert (case.customer_id, case.channel, case.thread_key) == ("kari", Channel.EMAIL, "thread:<t1@x>")
    assert (case.opened_by, case.event_ids, case.status) == ("e1", frozenset({"e1"}), CaseStatus.OPEN)


def test_the_case_id_comes_from_the_event_so_a_redelivery_opens_the_same_case() -> None:
    observed = message("e1", text="Hvor er pakken min?")

    assert opened(observed).case_id == opened(observed).case_id
    assert opened(observed).case_id != opened(message("e2", text="Hvor er pakken min?")).case_id


@pytest.mark.parametrize(
    ("observed", "reason"),
    [
        (order("e1", "o1", OrderStatus.PLACED, "1"), NoAnswerReason.NOT_AN_INTERACTION),
        (message("e1", direction=Direction.OUTBOUND, text="Vi ser på saken"), NoAnswerReason.OUTBOUND),
        (message("e1", auto_submitted=True, text="Out of office"), NoAnswerReason.AUTO_SUBMITTED),
        (
            message("e1", channel=Channel.PHONE, step=InteractionEvent.CALL_OFFERED, text=None),
            NoAnswerReason.NOT_A_REQUEST,
        ),
        (
            message("e1", channel=Channel.CHAT, step=InteractionEvent.CONVERSATION_ENDED, text=None),
            NoAnswerReason.NOT_A_REQUEST,
        ),
        (message("e1", text="   "), NoAnswerReason.EMPTY),
        (message("e1", text="Tusen takk!"), NoAnswerReason.THANKS_ONLY),
        (message("e1", text="Thanks a lot :)"), NoAnswerReason.THANKS_ONLY),
        (message("e1", text="Tack så mycket!", language_hint="sv"), NoAnswerReason.THANKS_ONLY),
        (message("e1", channel=Channel.SMS, text="STOPP"), NoAnswerReason.OPT_OUT),
    ],
)
def test_what_needs_no_answer(observed: ObservedEvent, reason: NoAnswerReason) -> None:
    assert no_answer_reason(observed) is reason
    assert decide_case(observed, "kari", [], CONFIG) == NoCase(reason)


@pytest.mark.parametrize(
    "observed",
    [
        message("e1", text="Takk, men hvor er pakken?"),
        message("e1", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None),
        message(
            "e1",
            channel=Channel.PHONE,
            step=InteractionEvent.CALLBACK_REQUESTED,
            text=None,
            callback_window_start=NOW + DAY,
            callback_window_end=NOW + 2 * DAY,
        ),
        message("e1", text=None, attachments=[AttachmentMetadata(content_type="image/jpeg", size_bytes=10)]),
        message("e1", channel=Channel.WEB_FORM, step=InteractionEvent.FORM_SUBMITTED, text="Kontakt meg"),
    ],
)
def test_what_needs_an_answer(observed: ObservedEvent) -> None:
    assert no_answer_reason(observed) is None


def test_a_reply_in_the_same_thread_joins_whatever_its_wording() -> None:
    case = opened(message("e1", text="Hvor er pakken min?", thread_id="<t1@x>"))

    decision = decide_case(
        message("e2", text="Jeg vil heller returnere den", thread_id="<t1@x>", at=NOW + DAY),
        "kari",
        [case],
        CONFIG,
    )

    assert isinstance(decision, JoinCase)
    assert decision.rule is JoinRule.SAME_THREAD
    assert decision.case.event_ids == {"e1", "e2"}
    assert decision.case.last_activity_at == NOW + DAY
    assert decision.case.category is CaseCategory.SHIPPING


def test_a_follow_up_on_another_channel_joins_the_open_case_of_its_category() -> None:
    case = opened(message("e1", text="Hvor er pakken min?"))

    decision = decide_case(
        message("e2", channel=Channel.SMS, text="Pakken har fortsatt ikke kommet", at=NOW + DAY),
        "kari",
        [case],
        CONFIG,
    )

    assert isinstance(decision, JoinCase)
    assert decision.rule is JoinRule.SAME_CATEGORY


def test_another_category_opens_its_own_case() -> None:
    case = opened(message("e1", text="Hvor er pakken min?"))

    assert isinstance(
        decide_case(message("e2", text="Kan jeg bytte jakken?"), "kari", [case], CONFIG), OpenCase
    )


def test_other_never_joins_by_category_and_stale_cases_are_not_joined() -> None:
    other = opened(message("e1", text="Hei!"))
    shipping = opened(message("e2", text="Hvor er pakken?", at=NOW - 30 * DAY))

    assert isinstance(decide_case(message("e3", text="Hallo igjen"), "kari", [other], CONFIG), OpenCase)
    assert isinstance(decide_case(message("e4", text="Pakken?"), "kari", [shipping], CONFIG), OpenCase)


def test_a_closed_case_is_not_joined() -> None:
    case = close_case(opened(message("e1", text="Hvor er pakken?", thread_id="<t>")), NOW, "resolved")

    assert isinstance(
        decide_case(message("e2", text="Pakken?", thread_id="<t>"), "kari", [case], CONFIG), OpenCase
    )


def test_an_event_already_in_a_case_changes_nothing() -> None:
    observed = message("e1", text="Hvor er pakken?")
    case = opened(observed)

    assert decide_case(observed, "kari", [case], CONFIG) == JoinCase(case, JoinRule.ALREADY_IN_CASE)


def test_closing_records_when_and_why_and_is_idempotent() -> None:
    case = opened(message("e1", text="Hvor er pakken?"))

    closed = close_case(case, NOW + DAY, "answered")

    assert (closed.status, closed.closed_at, closed.close_reason) == (
        CaseStatus.CLOSED,
        NOW + DAY,
        "answered",
    )
    assert close_case(closed, NOW + 2 * DAY, "again") == closed


def test_repeated_missed_calls_join_one_case() -> None:
    first = opened(message("c1", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None))
    again = message("c2", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None, at=NOW + DAY)

    decision = decide_case(again, "kari", [first], CONFIG)

    assert isinstance(decision, JoinCase)
    assert decision.rule is JoinRule.SAME_CATEGORY
    assert decision.case.event_ids == {"c1", "c2"}
