from __future__ import annotations

from decimal import Decimal

from schemas.commerce import OrderStatus
from schemas.customers import ExperienceReason, Purpose
from schemas.interactions import Channel, Direction, InteractionEvent
from services.profile.core.attributes import AttributeName
from services.profile.core.experience import Feeling
from services.profile.core.observe import FactKind, observe_change
from services.profile.core.wording import Language
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, message, order, web


def test_an_inbound_message_yields_language_and_preferred_channel_with_provenance() -> None:
    observed = message("e1", channel=Channel.CHAT, language_hint="nb-NO", conversation_id="c1")

    by_name = {a.name: a for a in observed.attributes}
    assert by_name[AttributeName.LANGUAGE].value == "nb-NO"
    assert by_name[AttributeName.PREFERRED_CHANNEL].value == "chat"
    assert by_name[AttributeName.PREFERRED_CHANNEL].source == "chat"
    assert by_name[AttributeName.LANGUAGE].event_id == "e1"
    assert by_name[AttributeName.LANGUAGE].occurred_at == NOW
    assert observed.kind is FactKind.INTERACTION
    assert observed.contact is not None
    assert observed.contact.language is Language.NORWEGIAN
    assert observed.contact.thread_key == "chat:c1"


def test_outbound_and_machine_messages_say_nothing_about_the_customer() -> None:
    outbound = message("e1", direction=Direction.OUTBOUND, text="Klage mottatt", language_hint="nb")
    auto = message("e2", auto_submitted=True, text="Jeg er på ferie, elendig vær", language_hint="nb")

    for observed in (outbound, auto):
        assert observed.attributes == ()
        assert observed.experience is None


def test_identifiers_are_kept_with_their_keys() -> None:
    observed = message("e1", identifiers=(KARI, KARI_PHONE))

    assert [i.key for i in observed.identifiers] == ["email:kari@example.no", "phone:+4791234567"]


def test_complaint_wording_is_a_bad_experience_and_praise_a_good_one() -> None:
    complaint = message("e1", text="Jeg er skikkelig skuffet over servicen", language_hint="nb")
    praise = message("e2", text="Tack för hjälpen, supersnabbt!", language_hint="sv")

    assert complaint.experience is not None
    assert (complaint.experience.feeling, complaint.experience.reason) == (
        Feeling.BAD,
        ExperienceReason.COMPLAINT,
    )
    assert praise.experience is not None
    assert praise.experience.feeling is Feeling.GOOD


def test_a_missed_call_is_an_unanswered_call() -> None:
    observed = message("e1", channel=Channel.PHONE, step=InteractionEvent.CALL_MISSED, text=None)

    assert observed.experience is not None
    assert observed.experience.reason is ExperienceReason.UNANSWERED_CALL
    assert observed.phone_step is not None
    assert observed.phone_step.step is InteractionEvent.CALL_MISSED


def test_an_sms_stop_withdraws_marketing_consent() -> None:
    observed = message("e1", channel=Channel.SMS, text="STOPP")

    assert len(observed.consent) == 1
    decision = observed.consent[0]
    assert (decision.purpose, decision.granted, decision.source) == (Purpose.MARKETING, False, "sms")


def test_stop_inside_a_sentence_is_not_an_opt_out() -> None:
    assert message("e1", channel=Channel.SMS, text="Kan dere stopp leveringen?").consent == ()


def test_an_order_change_keeps_amount_currency_and_reference() -> None:
    observed = order("e1", "o1", OrderStatus.REFUNDED, "149.50", currency="SEK", reference="rf-1")

    assert observed.order is not None
    assert observed.order.amount == Decimal("149.50")
    assert (observed.order.currency, observed.order.reference) == ("SEK", "rf-1")
    assert observed.source_channel == "order"


def test_a_delivered_order_is_a_good_experience() -> None:
    observed = order("e1", "o1", OrderStatus.DELIVERED, "100")

    assert observed.experience is not None
    assert observed.experience.reason is ExperienceReason.ORDER_DELIVERED


def test_web_activity_only_identifies_and_dates() -> None:
    observed = web("e1")

    assert observed.kind is FactKind.WEB_ACTIVITY
    assert observed.attributes == ()
    assert observed.contact is None
    assert observed.order is None


def test_a_store_visit_sets_the_home_store() -> None:
    observed = message(
        "e1", channel=Channel.STORE, step=InteractionEvent.STORE_VISIT, text=None, location_id="bergen"
    )

    assert {a.name: a.value for a in observed.attributes}[AttributeName.HOME_STORE] == "bergen"


def test_a_change_by_an_agent_is_an_observed_event_too() -> None:
    change = observe_change(
        "chg-1",
        "agent",
        NOW,
        attributes={AttributeName.NAME: "Kari Nordmann"},
        consent={Purpose.MARKETING: True},
    )

    assert change.kind is FactKind.CHANGE
    assert change.attributes[0].value == "Kari Nordmann"
    assert change.attributes[0].source == "agent"
    assert change.consent[0].granted
