from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from schemas.cases import CaseCategory, CaseChange
from schemas.commerce import OrderStatus
from schemas.customers import ExperienceReason, LifecycleStage, Tier
from schemas.interactions import Channel, InteractionEvent
from services.profile.core.attributes import AttributeName
from services.profile.core.cases import CaseConfig, OpenCase, decide_case
from services.profile.core.observe import observe_change
from services.profile.core.profile import ProfileConfig, fold
from services.profile.core.snapshot import (
    case_changed,
    case_contact,
    changed_fields,
    published_fields,
)
from tests.profile.unit.profile_builders import NOW, message, order

DAY = timedelta(days=1)


def test_the_case_snapshot_carries_what_router_and_notifier_need() -> None:
    question = message(
        "m2", channel=Channel.CHAT, text="Var är paketet?", language_hint="sv", conversation_id="c9"
    )
    events = [
        order("o1", "o1", OrderStatus.PLACED, "25000", at=NOW - 20 * DAY),
        message("m1", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None, at=NOW - DAY),
        observe_change("a1", "assignment", NOW - DAY, attributes={AttributeName.LAST_AGENT: "agent-7"}),
        question,
    ]
    profile = fold("kari", events, ProfileConfig(), NOW)
    decision = decide_case(question, "kari", [], CaseConfig())
    assert isinstance(decision, OpenCase)

    snapshot = case_changed(CaseChange.OPENED, decision.case, profile, case_contact(question))

    assert (snapshot.category, snapshot.channel, snapshot.language) == (CaseCategory.SHIPPING, "chat", "sv")
    customer = snapshot.customer
    assert customer.tier is Tier.GOLD
    assert customer.historic_value == Decimal("25000.00")
    assert customer.lifecycle is LifecycleStage.NEW
    assert customer.needs_recovery
    assert customer.recovery_reason is ExperienceReason.UNANSWERED_CALL
    assert (customer.language, customer.preferred_channel, customer.last_agent) == ("sv", "chat", "agent-7")
    assert customer.as_of == NOW


def test_a_case_without_its_own_language_takes_the_customers() -> None:
    profile = fold("kari", [message("m1", language_hint="da", at=NOW - DAY)], ProfileConfig(), NOW)
    decision = decide_case(message("m2", text="Hvor er pakken?"), "kari", [], CaseConfig())
    assert isinstance(decision, OpenCase)

    assert case_changed(CaseChange.OPENED, decision.case, profile, None).language == "da"


def test_a_prospect_has_no_value_and_no_agent() -> None:
    customer = fold("anna", [message("m1")], ProfileConfig(), NOW).view

    assert (customer.tier, customer.lifecycle, customer.last_agent) == (
        Tier.STANDARD,
        LifecycleStage.PROSPECT,
        None,
    )
    assert customer.predicted_lifetime_value == Decimal("0.00")


def test_changed_fields_name_what_moved_and_everything_the_first_time() -> None:
    before = published_fields(fold("kari", [message("m1", at=NOW - DAY)], ProfileConfig(), NOW), None)
    bought = fold(
        "kari",
        [message("m1", at=NOW - DAY), order("o1", "o1", OrderStatus.PLACED, "25000", at=NOW - DAY)],
        ProfileConfig(),
        NOW,
    )

    assert changed_fields(before, before) == []
    assert changed_fields(before, published_fields(bought, None)) == [
        "historic_value",
        "lifecycle",
        "predicted_lifetime_value",
        "tier",
    ]
    assert changed_fields(before, published_fields(bought, "ola")) == [
        "historic_value",
        "lifecycle",
        "merged_into",
        "predicted_lifetime_value",
        "tier",
    ]
    assert changed_fields(None, before) == sorted(before)


def test_published_fields_leave_out_the_instant_they_were_computed_at() -> None:
    events = [message("m1", at=NOW - DAY)]
    earlier = published_fields(fold("kari", events, ProfileConfig(), NOW - DAY), None)

    assert "as_of" not in earlier
    assert changed_fields(earlier, published_fields(fold("kari", events, ProfileConfig(), NOW), None)) == []


def test_the_case_contact_says_where_and_how_to_answer() -> None:
    question = message("m9", channel=Channel.CHAT, conversation_id="c9")

    contact = case_contact(question)

    assert contact is not None
    assert (contact.event_id, contact.channel, contact.conversation_id) == ("m9", Channel.CHAT, "c9")
    assert [i.key for i in contact.identifiers] == [i.key for i in question.identifiers]
    assert case_contact(order("o1", "o1", OrderStatus.PLACED, "100")) is None
