from __future__ import annotations

from datetime import timedelta

from schemas.customers import Purpose
from services.profile.core.consent import (
    MERGE_SOURCE,
    ConsentDecision,
    is_opt_out,
    most_restrictive,
    newest_decision,
)
from tests.profile.unit.profile_builders import NOW

DAY = timedelta(days=1)


def decision(granted: bool, at_days: int, event_id: str = "e", source: str = "portal") -> ConsentDecision:
    return ConsentDecision(Purpose.MARKETING, granted, source, NOW + at_days * DAY, event_id)


def test_the_newest_decision_wins_within_a_customer() -> None:
    assert newest_decision(decision(False, 0), decision(True, 1)).granted
    assert not newest_decision(decision(False, 1), decision(True, 0)).granted


def test_a_withdrawal_wins_a_tie() -> None:
    assert not newest_decision(decision(True, 0, "z"), decision(False, 0, "a")).granted
    assert not newest_decision(decision(False, 0, "a"), decision(True, 0, "z")).granted


def test_on_merge_the_most_restrictive_wins_dated_to_the_later_decision() -> None:
    merged = most_restrictive(decision(False, -5, "w", "sms"), decision(True, 0, "g"))

    assert not merged.granted
    assert merged.source == MERGE_SOURCE
    assert merged.event_id == "w"
    assert merged.occurred_at == NOW


def test_agreeing_sides_keep_the_newest_decision() -> None:
    merged = most_restrictive(decision(True, -5, "old"), decision(True, 0, "new"))

    assert merged == decision(True, 0, "new")


def test_opt_out_words_in_every_language() -> None:
    for word in ("STOPP", "stop", "Avmeld", "AVSLUTA", "afmeld", "unsubscribe."):
        assert is_opt_out(word), word
    for text in ("stopp leveringen", "stopper", "", None):
        assert not is_opt_out(text), text
