from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from schemas.commerce import OrderStatus
from schemas.customers import Purpose
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel
from services.profile.core.attributes import AttributeName
from services.profile.core.cases import Case, CaseConfig, OpenCase, decide_case, moved
from services.profile.core.consent import MERGE_SOURCE
from services.profile.core.identity import Link, LinkRule
from services.profile.core.merge import Holdings, Merged, merge, unmerge
from services.profile.core.observe import ObservedEvent, observe_change
from services.profile.core.profile import ProfileConfig, apply, fold
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, message, order

DAY = timedelta(days=1)
CONFIG = ProfileConfig()
NEW_EMAIL = identify(IdentifierKind.EMAIL, "kari.n@example.no")

EMAIL_SIDE = [
    message("a1", text="Hvor er pakken?", language_hint="nb", at=NOW - 5 * DAY),
    order("a2", "o1", OrderStatus.PLACED, "1000", at=NOW - 5 * DAY),
    observe_change("a3", "portal", NOW - 4 * DAY, identifiers=(KARI,), consent={Purpose.MARKETING: True}),
]
PHONE_SIDE = [
    message("b1", channel=Channel.SMS, identifiers=(KARI_PHONE,), text="Kan jeg bytte?", at=NOW - 3 * DAY),
    message(
        "b2",
        channel=Channel.SMS,
        identifiers=(KARI_PHONE,),
        text="STOPP",
        language_hint="en",
        at=NOW - 6 * DAY,
    ),
    order("b3", "o2", OrderStatus.PLACED, "500", identifiers=(KARI_PHONE,), at=NOW - 2 * DAY),
]


def link(identifier_key: str, customer_id: str, event_id: str) -> Link:
    return Link(
        identifier_key, IdentifierKind.EMAIL, customer_id, event_id, "email", LinkRule.FIRST_SEEN, NOW
    )


def opened(observed: ObservedEvent, customer_id: str) -> Case:
    decision = decide_case(observed, customer_id, [], CaseConfig())
    assert isinstance(decision, OpenCase)
    return decision.case


def merged(
    survivor_cases: frozenset[str] = frozenset({"case-a"}), away_cases: frozenset[str] = frozenset({"case-b"})
) -> Merged:
    return merge(
        Holdings(fold("kari", EMAIL_SIDE, CONFIG, NOW), (link(KARI.key, "kari", "a1"),), survivor_cases),
        Holdings(fold("phone", PHONE_SIDE, CONFIG, NOW), (link(KARI_PHONE.key, "phone", "b1"),), away_cases),
        cause_event_id="bridge",
        merged_at=NOW,
        config=CONFIG,
        now=NOW,
    )


def test_a_merge_keeps_timeline_value_and_newest_attributes() -> None:
    profile = merged().profile

    assert profile.customer_id == "kari"
    assert profile.facts.event_ids == {"a1", "a2", "a3", "b1", "b2", "b3"}
    assert profile.value.historic_value == Decimal("1500.00")
    assert profile.value.frequency == 2
    assert profile.attribute(AttributeName.PREFERRED_CHANNEL) == "sms"  # b1 is the newest contact
    assert profile.attribute(AttributeName.LANGUAGE) == "nb"  # a1's hint is newer than b2's
    assert profile.facts.first_seen == NOW - 6 * DAY


def test_on_merge_the_most_restrictive_consent_wins() -> None:
    # The email side granted marketing after the phone side withdrew it; merged, the withdrawal stands.
    decision = merged().profile.facts.consent[Purpose.MARKETING]

    assert not decision.granted
    assert decision.source == MERGE_SOURCE
    assert decision.event_id == "b2"


def test_a_grant_after_the_merge_overrides_the_merged_withdrawal() -> None:
    grant = observe_change("g", "portal", NOW + DAY, consent={Purpose.MARKETING: True})

    assert apply(merged().profile, grant, CONFIG, NOW + DAY).facts.consent[Purpose.MARKETING].granted


def test_the_merged_away_links_move_to_the_survivor_and_the_record_keeps_both_sides() -> None:
    result = merged()

    assert [(link.key, link.customer_id, link.rule) for link in result.links] == [
        (KARI.key, "kari", LinkRule.FIRST_SEEN),
        (KARI_PHONE.key, "kari", LinkRule.MERGED),
    ]
    record = result.record
    assert (record.survivor_id, record.merged_away_id, record.cause_event_id) == ("kari", "phone", "bridge")
    assert record.merged_away_event_ids == {"b1", "b2", "b3"}
    assert record.merged_away_links[0].customer_id == "phone"
    assert record.survivor_case_ids == {"case-a"}
    assert record.merged_away_case_ids == {"case-b"}


def test_the_merge_id_is_stable() -> None:
    assert merged().record.merge_id == merged().record.merge_id


def test_unmerge_restores_both_customers_exactly() -> None:
    result = merged()

    undone = unmerge(
        result.record,
        held=result.profile.facts,
        events=EMAIL_SIDE + PHONE_SIDE,
        links=result.links,
        cases=(),
        config=CONFIG,
        now=NOW,
    )

    assert undone.survivor == fold("kari", EMAIL_SIDE, CONFIG, NOW)
    assert undone.restored == fold("phone", PHONE_SIDE, CONFIG, NOW)
    assert undone.restored_links == (link(KARI_PHONE.key, "phone", "b1"),)
    assert undone.survivor_links == (link(KARI.key, "kari", "a1"),)
    assert not undone.restored.facts.consent[Purpose.MARKETING].granted
    assert undone.survivor.facts.consent[Purpose.MARKETING].granted


def test_unmerge_sends_later_events_links_and_cases_to_the_side_they_belong_to() -> None:
    result = merged()
    later_phone = message(
        "p1", channel=Channel.SMS, identifiers=(KARI_PHONE, NEW_EMAIL), text="Pakken?", at=NOW + DAY
    )
    later_both = message("x1", identifiers=(KARI, KARI_PHONE), text="Hei", at=NOW + DAY)
    new_link = Link(
        NEW_EMAIL.key, IdentifierKind.EMAIL, "kari", "p1", "sms", LinkRule.SEEN_TOGETHER, NOW + DAY
    )
    phone_case, both_case = opened(later_phone, "kari"), opened(later_both, "kari")

    undone = unmerge(
        result.record,
        held=result.profile.facts,
        events=[*EMAIL_SIDE, *PHONE_SIDE, later_phone, later_both],
        links=(*result.links, new_link),
        cases=(phone_case, both_case),
        config=CONFIG,
        now=NOW + DAY,
    )

    assert undone.event_owner["p1"] == "phone"
    assert undone.event_owner["x1"] == "kari"  # carries both sides' identifiers: stays with the survivor
    assert "p1" in undone.restored.facts.event_ids
    assert undone.restored_links[-1].key == NEW_EMAIL.key
    assert undone.restored_links[-1].customer_id == "phone"
    assert {case.case_id: case.customer_id for case in undone.cases} == {
        phone_case.case_id: "phone",
        both_case.case_id: "kari",
    }


def test_unmerge_returns_the_cases_each_side_had() -> None:
    email_case, phone_case = opened(EMAIL_SIDE[0], "kari"), opened(PHONE_SIDE[0], "phone")
    result = merged(frozenset({email_case.case_id}), frozenset({phone_case.case_id}))

    undone = unmerge(
        result.record,
        held=result.profile.facts,
        events=EMAIL_SIDE + PHONE_SIDE,
        links=(),
        cases=(email_case, moved(phone_case, "kari")),
        config=CONFIG,
        now=NOW,
    )

    assert {case.case_id: case.customer_id for case in undone.cases} == {
        email_case.case_id: "kari",
        phone_case.case_id: "phone",
    }
