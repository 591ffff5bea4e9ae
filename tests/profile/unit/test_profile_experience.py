from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.commerce import OrderStatus
from schemas.customers import ExperienceReason
from schemas.interactions import Channel, Direction, InteractionEvent
from services.profile.core.experience import ExperienceConfig, Feeling, call_experiences
from services.profile.core.observe import ObservedEvent
from services.profile.core.profile import ProfileConfig, fold
from tests.profile.unit.profile_builders import NOW, message, order

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
CONFIG = ProfileConfig()


def call(event_id: str, step: InteractionEvent, at_minutes: int, **fields: Any) -> ObservedEvent:
    return message(
        event_id, channel=Channel.PHONE, step=step, text=None, at=NOW + at_minutes * MINUTE, **fields
    )


def deliveries(count: int) -> list[ObservedEvent]:
    return [order(f"d{n}", f"o{n}", OrderStatus.DELIVERED, "10", at=NOW - DAY) for n in range(count)]


def test_one_bad_experience_needs_twelve_good_ones() -> None:
    complaint = message("c1", text="Dette er uakseptabelt", language_hint="nb", at=NOW - 2 * DAY)

    eleven = fold("k", [complaint, *deliveries(11)], CONFIG, NOW).ledger
    twelve = fold("k", [complaint, *deliveries(12)], CONFIG, NOW).ledger

    assert (eleven.bad, eleven.good, eleven.balance) == (1, 11, -1)
    assert eleven.needs_recovery
    assert eleven.reason is ExperienceReason.COMPLAINT
    assert twelve.balance == 0
    assert not twelve.needs_recovery
    assert twelve.reason is None


def test_the_reason_is_the_latest_bad_experience() -> None:
    ledger = fold(
        "k",
        [
            message("c1", text="I want to complain", at=NOW - 3 * DAY),
            message("m1", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None, at=NOW - DAY),
        ],
        CONFIG,
        NOW,
    ).ledger

    assert ledger.reason is ExperienceReason.UNANSWERED_CALL


def test_old_experiences_fall_out_of_the_window() -> None:
    complaint = message("c1", text="I want to complain", at=NOW - 400 * DAY)

    assert not fold("k", [complaint], CONFIG, NOW).ledger.needs_recovery


def test_a_long_wait_in_the_phone_queue_is_bad() -> None:
    steps = [
        call("o", InteractionEvent.CALL_OFFERED, 0, conversation_id="call-1"),
        call("a", InteractionEvent.CALL_ANSWERED, 12, conversation_id="call-1"),
        call("o2", InteractionEvent.CALL_OFFERED, 20, conversation_id="call-2"),
        call("a2", InteractionEvent.CALL_ANSWERED, 22, conversation_id="call-2"),
    ]

    found = call_experiences([s.phone_step for s in steps if s.phone_step], ExperienceConfig(), NOW + DAY)

    assert [(e.reason, e.event_id) for e in found] == [(ExperienceReason.LONG_WAIT, "a")]


def test_a_call_back_in_time_is_a_kept_promise() -> None:
    window = {"callback_window_start": NOW + 60 * MINUTE, "callback_window_end": NOW + 120 * MINUTE}
    request = call("r", InteractionEvent.CALLBACK_REQUESTED, 0, **window)
    callback = call("b", InteractionEvent.CALL_ANSWERED, 90, direction=Direction.OUTBOUND)

    ledger = fold("k", [request, callback], CONFIG, NOW + DAY).ledger

    assert (ledger.good, ledger.bad) == (1, 0)


def test_a_call_back_never_made_is_a_broken_promise_once_the_window_has_passed() -> None:
    window = {"callback_window_start": NOW + 60 * MINUTE, "callback_window_end": NOW + 120 * MINUTE}
    request = call("r", InteractionEvent.CALLBACK_REQUESTED, 0, **window)

    during = fold("k", [request], CONFIG, NOW + 130 * MINUTE).ledger
    after = fold("k", [request], CONFIG, NOW + 160 * MINUTE).ledger

    assert not during.needs_recovery
    assert after.needs_recovery
    assert after.reason is ExperienceReason.BROKEN_PROMISE


def test_praise_counts_as_good() -> None:
    praise = message("p", text="Tusen takk for hjelpen, veldig fornøyd", language_hint="nb", at=NOW - DAY)
    experience = praise.experience

    assert experience is not None
    assert experience.feeling is Feeling.GOOD
    assert fold("k", [praise], CONFIG, NOW).ledger.balance == 1


def test_negated_praise_is_a_complaint() -> None:
    observed = message("p", text="Jeg er ikke fornøyd med dette", language_hint="nb")

    assert observed.experience is not None
    assert observed.experience.feeling is Feeling.BAD
