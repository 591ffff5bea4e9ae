from __future__ import annotations

from datetime import timedelta

from schemas.commerce import OrderStatus
from schemas.customers import LifecycleStage, Purpose
from schemas.interactions import Channel
from services.profile.core.attributes import AttributeName
from services.profile.core.observe import observe_change
from services.profile.core.profile import ProfileConfig, apply, fold, refresh
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, message, order, web

DAY = timedelta(days=1)
CONFIG = ProfileConfig()


def test_the_newest_event_time_wins_not_the_latest_arrival() -> None:
    newer = message("e1", channel=Channel.CHAT, language_hint="sv", at=NOW)
    late = message("e2", channel=Channel.EMAIL, language_hint="nb", at=NOW - DAY)

    profile = fold("c", [newer, late], CONFIG, NOW)

    assert profile.attribute(AttributeName.LANGUAGE) == "sv"
    assert profile.attribute(AttributeName.PREFERRED_CHANNEL) == "chat"
    language = profile.facts.attributes[AttributeName.LANGUAGE]
    assert (language.source, language.event_id, language.occurred_at) == ("chat", "e1", NOW)


def test_equal_event_times_are_settled_by_event_id() -> None:
    first = message("a", language_hint="sv")
    second = message("b", language_hint="da")

    assert fold("c", [second, first], CONFIG, NOW).attribute(AttributeName.LANGUAGE) == "da"
    assert fold("c", [first, second], CONFIG, NOW).attribute(AttributeName.LANGUAGE) == "da"


def test_a_duplicate_does_not_double_count_an_order() -> None:
    placed = order("e1", "o1", OrderStatus.PLACED, "100")
    profile = fold("c", [placed], CONFIG, NOW)

    assert apply(profile, placed, CONFIG, NOW) == profile
    assert profile.value.frequency == 1


def test_the_timeline_holds_every_event_id_and_every_identifier() -> None:
    profile = fold(
        "c",
        [message("m1"), order("o1", "o1", OrderStatus.PLACED, "1"), web("w1", identifiers=(KARI_PHONE,))],
        CONFIG,
        NOW,
    )

    assert profile.facts.event_ids == {"m1", "o1", "w1"}
    assert profile.facts.identifiers == {KARI, KARI_PHONE}


def test_first_and_last_seen_span_every_event() -> None:
    profile = fold("c", [web("w1", at=NOW - 9 * DAY), message("m1", at=NOW - DAY)], CONFIG, NOW)

    assert (profile.facts.first_seen, profile.facts.last_seen) == (NOW - 9 * DAY, NOW - DAY)


def test_refresh_moves_the_views_with_time() -> None:
    profile = fold("c", [order("o1", "o1", OrderStatus.PLACED, "1", at=NOW)], CONFIG, NOW)

    later = refresh(profile, CONFIG, NOW + 200 * DAY)

    assert profile.lifecycle is LifecycleStage.NEW
    assert later.lifecycle is LifecycleStage.AT_RISK
    assert later.facts == profile.facts
    assert later.as_of == NOW + 200 * DAY


def test_a_consent_withdrawal_is_kept_until_a_newer_grant() -> None:
    withdrawn = message("s1", channel=Channel.SMS, identifiers=(KARI_PHONE,), text="Stopp", at=NOW - DAY)
    older_grant = observe_change("g1", "portal", NOW - 2 * DAY, consent={Purpose.MARKETING: True})
    newer_grant = observe_change("g2", "portal", NOW, consent={Purpose.MARKETING: True})

    assert not fold("c", [withdrawn, older_grant], CONFIG, NOW).facts.consent[Purpose.MARKETING].granted
    assert (
        fold("c", [withdrawn, older_grant, newer_grant], CONFIG, NOW).facts.consent[Purpose.MARKETING].granted
    )


def test_an_agents_change_sets_attributes_like_any_event() -> None:
    agent = observe_change("a1", "assignment", NOW, attributes={AttributeName.LAST_AGENT: "agent-7"})

    profile = fold("c", [message("m1"), agent], CONFIG, NOW)

    assert profile.attribute(AttributeName.LAST_AGENT) == "agent-7"
    assert "a1" in profile.facts.event_ids
