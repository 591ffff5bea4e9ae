from __future__ import annotations

from datetime import timedelta

from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel
from services.profile.core.identity import (
    Attach,
    HoldForReview,
    IdentityConfig,
    KnownCustomer,
    LinkRule,
    Merge,
    NewCustomer,
    ReviewReason,
    resolve,
)
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, OLA, message

CONFIG = IdentityConfig()
COOKIE = identify(IdentifierKind.COOKIE, "ck-1")
SHOP_PHONE = identify(IdentifierKind.PHONE, "+4722000000")


def test_an_unknown_customer_gets_an_id_from_the_preferred_identifier() -> None:
    customer_number = identify(IdentifierKind.CUSTOMER_NUMBER, "C-1")
    first = resolve(message("e1", identifiers=(KARI_PHONE, customer_number)), {}, {}, CONFIG)
    other_event = resolve(message("e2", identifiers=(customer_number,)), {}, {}, CONFIG)

    assert isinstance(first, NewCustomer)
    assert isinstance(other_event, NewCustomer)
    # Two consumers seeing the same new customer at once converge on one id.
    assert first.customer_id == other_event.customer_id
    assert [(link.key, link.rule) for link in first.links] == [
        ("customer_number:C-1", LinkRule.FIRST_SEEN),
        ("phone:+4791234567", LinkRule.SEEN_TOGETHER),
    ]


def test_links_carry_provenance() -> None:
    decision = resolve(message("e1", channel=Channel.SMS, identifiers=(KARI_PHONE,)), {}, {}, CONFIG)

    assert isinstance(decision, NewCustomer)
    link = decision.links[0]
    assert (link.event_id, link.channel, link.linked_at, link.customer_id) == (
        "e1",
        "sms",
        NOW,
        decision.customer_id,
    )


def test_a_known_identifier_attaches_and_links_the_new_ones() -> None:
    decision = resolve(
        message("e1", identifiers=(KARI, KARI_PHONE)),
        {KARI.key: "kari"},
        {"kari": KnownCustomer(NOW, {IdentifierKind.EMAIL: 1})},
        CONFIG,
    )

    assert isinstance(decision, Attach)
    assert decision.customer_id == "kari"
    assert [(link.key, link.rule) for link in decision.links] == [(KARI_PHONE.key, LinkRule.SEEN_TOGETHER)]


def test_two_customers_on_one_event_merge_into_the_one_seen_first() -> None:
    decision = resolve(
        message("e1", identifiers=(KARI, KARI_PHONE)),
        {KARI.key: "zeta", KARI_PHONE.key: "alpha"},
        {"zeta": KnownCustomer(NOW - timedelta(days=9)), "alpha": KnownCustomer(NOW)},
        CONFIG,
    )

    assert decision == Merge(survivor="zeta", merged_away=("alpha",), links=())


def test_first_seen_ties_are_settled_by_the_smaller_id() -> None:
    decision = resolve(
        message("e1", identifiers=(KARI, KARI_PHONE)),
        {KARI.key: "zeta", KARI_PHONE.key: "alpha"},
        {"zeta": KnownCustomer(NOW), "alpha": KnownCustomer(NOW)},
        CONFIG,
    )

    assert isinstance(decision, Merge)
    assert decision.survivor == "alpha"


def test_a_blocked_identifier_never_links_customers() -> None:
    config = IdentityConfig(blocked_keys=frozenset({SHOP_PHONE.key}))
    decision = resolve(
        message("e1", identifiers=(OLA, SHOP_PHONE)),
        {OLA.key: "ola", SHOP_PHONE.key: "kari"},
        {"ola": KnownCustomer(NOW), "kari": KnownCustomer(NOW)},
        config,
    )

    assert decision == Attach("ola", links=())


def test_role_mailboxes_are_blocked_by_default() -> None:
    info = identify(IdentifierKind.EMAIL, "info@butikk.no")
    first = resolve(message("e1", identifiers=(info,)), {}, {}, CONFIG)
    second = resolve(message("e2", identifiers=(info,)), {}, {}, CONFIG)

    # One-off customers: answered, but never glued to each other through info@.
    assert isinstance(first, NewCustomer)
    assert isinstance(second, NewCustomer)
    assert first.links == second.links == ()
    assert first.customer_id != second.customer_id


def test_an_unparsed_identifier_neither_links_nor_merges() -> None:
    raw = identify(IdentifierKind.EMAIL, "kari at example")
    decision = resolve(
        message("e1", identifiers=(OLA, raw)),
        {OLA.key: "ola", raw.key: "kari"},
        {"ola": KnownCustomer(NOW), "kari": KnownCustomer(NOW)},
        CONFIG,
    )

    assert decision == Attach("ola", links=())


def test_a_shared_cookie_never_merges_two_people() -> None:
    decision = resolve(
        message("e1", identifiers=(OLA, COOKIE)),
        {OLA.key: "ola", COOKIE.key: "kari"},
        {"ola": KnownCustomer(NOW), "kari": KnownCustomer(NOW - timedelta(days=1))},
        CONFIG,
    )

    assert decision == Attach("ola", links=())


def test_a_cookie_alone_attaches_to_its_customer() -> None:
    decision = resolve(
        message("e1", identifiers=(COOKIE,)), {COOKIE.key: "kari"}, {"kari": KnownCustomer(NOW)}, CONFIG
    )

    assert decision == Attach("kari", links=())


def test_an_attach_links_only_what_fits_under_the_cap() -> None:
    config = IdentityConfig(caps={IdentifierKind.PHONE: 1})
    decision = resolve(
        message("e1", identifiers=(KARI, KARI_PHONE)),
        {KARI.key: "kari"},
        {"kari": KnownCustomer(NOW, {IdentifierKind.PHONE: 1})},
        config,
    )

    assert isinstance(decision, Attach)
    assert decision.links == ()
    assert decision.unlinked == (KARI_PHONE.key,)


def test_a_merge_breaking_a_cap_is_held_for_review() -> None:
    config = IdentityConfig(caps={IdentifierKind.EMAIL: 2})
    decision = resolve(
        message("e1", identifiers=(KARI, OLA)),
        {KARI.key: "kari", OLA.key: "ola"},
        {
            "kari": KnownCustomer(NOW, {IdentifierKind.EMAIL: 2}),
            "ola": KnownCustomer(NOW - timedelta(days=1), {IdentifierKind.EMAIL: 1}),
        },
        config,
    )

    assert decision == HoldForReview(ReviewReason.CAP_EXCEEDED, ("ola", "kari"))


def test_an_event_bridging_three_customers_is_held_for_review() -> None:
    decision = resolve(
        message("e1", identifiers=(KARI, OLA, KARI_PHONE)),
        {KARI.key: "a", OLA.key: "b", KARI_PHONE.key: "c"},
        {"a": KnownCustomer(NOW), "b": KnownCustomer(NOW), "c": KnownCustomer(NOW)},
        CONFIG,
    )

    assert decision == HoldForReview(ReviewReason.TOO_MANY_CUSTOMERS, ("a", "b", "c"))


def test_a_merge_links_the_events_new_identifiers_to_the_survivor() -> None:
    number = identify(IdentifierKind.CUSTOMER_NUMBER, "C-9")
    decision = resolve(
        message("e1", identifiers=(KARI, OLA, number)),
        {KARI.key: "kari", OLA.key: "ola"},
        {"kari": KnownCustomer(NOW), "ola": KnownCustomer(NOW)},
        CONFIG,
    )

    assert isinstance(decision, Merge)
    assert [(link.key, link.customer_id) for link in decision.links] == [(number.key, "kari")]


def test_customers_an_unmerge_split_are_held_for_review_instead_of_merged_again() -> None:
    event = message("e9", identifiers=(KARI, KARI_PHONE))
    links = {KARI.key: "kari", KARI_PHONE.key: "phone"}
    known = {
        "kari": KnownCustomer(NOW - timedelta(days=9), kept_apart=frozenset({"phone"})),
        "phone": KnownCustomer(NOW - timedelta(days=3)),
    }

    resolution = resolve(event, links, known, IdentityConfig())

    assert resolution == HoldForReview(ReviewReason.KEPT_APART, ("kari", "phone"))
