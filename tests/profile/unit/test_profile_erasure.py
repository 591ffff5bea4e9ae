"""Erasure's pure rules: whom an erase covers, what is remembered, which replayed events are dropped."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers import IdentifierKind, identify
from services.profile.core.erasure import (
    anonymous_subject,
    anonymous_subjects,
    at_store_precision,
    covered_customers,
    erasure_id,
    is_suppressed,
    key_hash,
    merged_suppressions,
    person_keys,
    plan_erasure,
    suppression_subjects,
    survivor_of,
)
from services.profile.core.identity import IdentityConfig, NewCustomer, resolve
from services.profile.core.ids import stable_id
from tests.profile.unit.profile_builders import KARI, KARI_PHONE, NOW, OLA, message

modest = settings(max_examples=100, deadline=None)
ERASED_AT = NOW
KARI_ERASED = {key_hash(KARI.key): ERASED_AT, key_hash(KARI_PHONE.key): ERASED_AT}


def test_keys_are_remembered_only_as_sha256_hashes() -> None:
    digest = key_hash(KARI.key)
    assert digest == hashlib.sha256(b"email:kari@example.no").hexdigest()
    assert "kari" not in digest
    plan = plan_erasure("c-1", ["c-1"], [KARI.key, KARI_PHONE.key], NOW)
    assert plan.key_hashes == tuple(sorted([key_hash(KARI.key), key_hash(KARI_PHONE.key)]))
    assert "kari" not in repr(plan)
    assert "4791234567" not in repr(plan)


def test_an_event_at_or_before_the_erase_whose_keys_are_all_suppressed_is_dropped() -> None:
    keys = [KARI.key, KARI_PHONE.key]
    assert is_suppressed(keys, ERASED_AT - timedelta(days=30), KARI_ERASED)
    assert is_suppressed(keys, ERASED_AT, KARI_ERASED)
    assert is_suppressed([KARI.key], ERASED_AT - timedelta(seconds=1), KARI_ERASED)


def test_a_new_contact_after_the_erase_is_kept() -> None:
    assert not is_suppressed([KARI.key], ERASED_AT + timedelta(milliseconds=1), KARI_ERASED)
    assert not is_suppressed([KARI.key], ERASED_AT + timedelta(days=1), KARI_ERASED)


def test_an_event_with_a_key_that_is_not_suppressed_is_kept() -> None:
    # It may be someone else's event that names an erased identifier too.
    assert not is_suppressed([KARI.key, OLA.key], ERASED_AT - timedelta(days=1), KARI_ERASED)
    assert not is_suppressed([OLA.key], ERASED_AT - timedelta(days=1), KARI_ERASED)
    assert not is_suppressed([], ERASED_AT - timedelta(days=1), KARI_ERASED)


def test_every_key_must_be_erased_after_the_event() -> None:
    earlier = {key_hash(KARI.key): ERASED_AT, key_hash(KARI_PHONE.key): ERASED_AT - timedelta(days=2)}
    assert is_suppressed([KARI.key, KARI_PHONE.key], ERASED_AT - timedelta(days=3), earlier)
    assert not is_suppressed([KARI.key, KARI_PHONE.key], ERASED_AT - timedelta(days=1), earlier)


def test_times_compare_at_the_precision_the_store_keeps() -> None:
    # The erase time comes back from MongoDB in milliseconds; an event within that millisecond is before.
    stored = {key_hash(KARI.key): at_store_precision(ERASED_AT + timedelta(microseconds=700))}
    assert is_suppressed([KARI.key], ERASED_AT + timedelta(microseconds=900), stored)


@st.composite
def suppression_cases(draw: st.DrawFn) -> tuple[list[str], dict[str, datetime], datetime, bool]:
    keys = draw(st.lists(st.sampled_from([f"email:p{n}@example.no" for n in range(6)]), unique=True))
    erased = {key: NOW + timedelta(minutes=draw(st.integers(-60, 60))) for key in keys if draw(st.booleans())}
    extra = draw(st.dictionaries(st.sampled_from(["phone:+4790000001", "cookie:x"]), st.just(NOW)))
    occurred = NOW + timedelta(minutes=draw(st.integers(-90, 90)), seconds=draw(st.integers(0, 59)))
    expected = bool(keys) and all(key in erased and occurred <= erased[key] for key in keys)
    suppressions = {key_hash(key): at for key, at in (erased | extra).items()}
    return keys, suppressions, occurred, expected


@modest
@given(case=suppression_cases())
def test_suppression_is_exactly_every_key_erased_at_or_after_the_event(
    case: tuple[list[str], dict[str, datetime], datetime, bool],
) -> None:
    keys, suppressions, occurred, expected = case
    assert is_suppressed(keys, occurred, suppressions) is expected


@modest
@given(
    first=st.lists(st.integers(-100, 100), max_size=6),
    second=st.lists(st.integers(-100, 100), max_size=6),
)
def test_a_key_erased_twice_keeps_the_later_time_whatever_the_order(
    first: list[int], second: list[int]
) -> None:
    keys = [key_hash(f"email:p{n % 4}@example.no") for n in range(6)]
    erases = [(keys[: len(first)], NOW + timedelta(minutes=m)) for m in first] + [
        (keys[len(second) :], NOW + timedelta(minutes=m)) for m in second
    ]
    forward: dict[str, datetime] = {}
    backward: dict[str, datetime] = {}
    for hashes, at in erases:
        forward = merged_suppressions(forward, hashes, at)
    for hashes, at in reversed(erases):
        backward = merged_suppressions(backward, hashes, at)
    assert forward == backward
    # Repeating an erase changes nothing.
    for hashes, at in erases:
        assert merged_suppressions(forward, hashes, at) == forward


def test_replay_from_the_start_drops_the_erased_persons_events_but_keeps_a_later_new_contact() -> None:
    config = IdentityConfig()
    history = [
        message("e1", identifiers=(KARI,), at=NOW - timedelta(days=10)),
        message("e2", identifiers=(KARI, KARI_PHONE), at=NOW - timedelta(days=5)),
        message("e3", identifiers=(OLA,), at=NOW - timedelta(days=4)),
        message("e4", identifiers=(KARI_PHONE,), at=NOW - timedelta(minutes=1)),
        message("e5", identifiers=(KARI,), at=NOW + timedelta(days=1)),  # a new contact after the erase
    ]
    subjects = person_keys([KARI.key, KARI_PHONE.key], [KARI.key, KARI_PHONE.key], [])
    suppressions = merged_suppressions({}, [key_hash(subject) for subject in subjects], NOW)
    kept = [
        event.event_id
        for event in history
        if not is_suppressed(
            suppression_subjects(event.identifiers, event.event_id, config), event.occurred_at, suppressions
        )
    ]
    assert kept == ["e3", "e5"]


def test_subjects_are_the_usable_keys_or_the_event_itself() -> None:
    config = IdentityConfig(blocked_keys=frozenset({"phone:+4722000000"}))
    shop = identify(IdentifierKind.PHONE, "+4722000000")
    role = identify(IdentifierKind.EMAIL, "info@example.no")
    garbled = identify(IdentifierKind.EMAIL, "not-an-email")
    assert garbled.unparsed
    assert suppression_subjects([KARI, shop, KARI_PHONE, KARI], "e1", config) == (KARI.key, KARI_PHONE.key)
    assert suppression_subjects([shop, role, garbled], "e2", config) == (anonymous_subject("e2"),)
    assert suppression_subjects([], "e3", config) == ("event:e3",)


def test_a_one_off_customer_is_suppressed_by_its_event() -> None:
    event = message("lonely", identifiers=(identify(IdentifierKind.EMAIL, "info@example.no"),))
    resolution = resolve(event, {}, {}, IdentityConfig())
    assert isinstance(resolution, NewCustomer)
    assert resolution.links == ()
    timeline = [(resolution.customer_id, "lonely"), (stable_id("customer", KARI.key), "e1")]
    assert anonymous_subjects(timeline) == {anonymous_subject("lonely")}
    suppressions = {key_hash(anonymous_subject("lonely")): NOW}
    subjects = suppression_subjects(event.identifiers, event.event_id, IdentityConfig())
    assert is_suppressed(subjects, event.occurred_at, suppressions)


def test_person_keys_leave_out_keys_linked_to_someone_else() -> None:
    # An event held for review named Kari's email and Ola's; Ola's stays Ola's.
    keys = person_keys(
        linked=[KARI.key],
        seen=[KARI.key, OLA.key, "phone:+4722000000"],
        linked_elsewhere=[OLA.key],
    )
    assert keys == {KARI.key, "phone:+4722000000"}


def test_an_erase_covers_the_customer_and_everyone_merged_into_it() -> None:
    merged_into: dict[str, str | None] = {
        "kari": None,
        "kari-old": "kari",
        "kari-older": "kari-old",  # a chain: kari-older → kari-old → kari
        "kari-phone": "kari",
        "ola": None,
        "ola-old": "ola",
        "loop-a": "loop-b",
        "loop-b": "loop-a",
        "dangling": "gone",
    }
    assert covered_customers("kari", merged_into) == ("kari", "kari-old", "kari-older", "kari-phone")
    assert covered_customers("ola", merged_into) == ("ola", "ola-old")
    assert survivor_of("kari-older", merged_into) == "kari"
    assert survivor_of("kari", merged_into) == "kari"
    assert survivor_of("loop-a", merged_into) is None
    assert survivor_of("dangling", merged_into) is None
    assert survivor_of("unknown", merged_into) is None


@st.composite
def merge_forests(draw: st.DrawFn) -> dict[str, str | None]:
    """Customers c0…cn where each may have been merged into an earlier one (no loops)."""
    size = draw(st.integers(1, 12))
    merged_into: dict[str, str | None] = {}
    for n in range(size):
        parent = draw(st.one_of(st.none(), st.integers(0, n - 1))) if n else None
        merged_into[f"c{n}"] = None if parent is None else f"c{parent}"
    return merged_into


@modest
@given(merged_into=merge_forests())
def test_every_customer_is_covered_by_exactly_its_survivor(merged_into: dict[str, str | None]) -> None:
    survivors = [customer for customer, into in merged_into.items() if into is None]
    covered = {survivor: covered_customers(survivor, merged_into) for survivor in survivors}
    everyone = [customer for customers in covered.values() for customer in customers]
    deep = any(len(customers) > 8 for customers in covered.values())
    if not deep:
        assert sorted(everyone) == sorted(merged_into)
    for survivor, customers in covered.items():
        assert customers[0] == survivor
        assert all(survivor_of(customer, merged_into) == survivor for customer in customers)


def test_erasure_ids_are_stable_per_customer_and_request_time() -> None:
    first = erasure_id("c-1", NOW)
    assert first == erasure_id("c-1", NOW + timedelta(microseconds=400))  # the stored precision
    assert first != erasure_id("c-1", NOW + timedelta(milliseconds=1))
    assert first != erasure_id("c-2", NOW)
    plan = plan_erasure("c-1", ["c-3", "c-1", "c-2"], [], NOW + timedelta(microseconds=400))
    assert plan.erasure_id == first
    assert plan.customer_ids == ("c-1", "c-2", "c-3")
    assert plan.erased_at == NOW
