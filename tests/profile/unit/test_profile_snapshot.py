from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from schemas.cases import CaseCategory
from schemas.commerce import OrderStatus
from schemas.customers import ExperienceReason, LifecycleStage, Tier
from schemas.interactions import Channel, InteractionEvent
from services.profile.core.attributes import AttributeName
from services.profile.core.cases import CaseConfig, OpenCase, decide_case
from services.profile.core.observe import observe_change
from services.profile.core.profile import ProfileConfig, fold
from services.profile.core.snapshot import case_snapshot, customer_snapshot
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

    snapshot = case_snapshot(decision.case, profile)

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

    assert case_snapshot(decision.case, profile).language == "da"


def test_a_prospect_has_no_value_and_no_agent() -> None:
    customer = customer_snapshot(fold("anna", [message("m1")], ProfileConfig(), NOW))

    assert (customer.tier, customer.lifecycle, customer.last_agent) == (
        Tier.STANDARD,
        LifecycleStage.PROSPECT,
        None,
    )
    assert customer.predicted_lifetime_value == Decimal("0.00")
