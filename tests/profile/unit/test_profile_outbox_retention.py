"""How many of a customer's stored outbox entries a write keeps beside its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.profile.core.outbox import OutboxRetention, entries_kept

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
RETENTION = OutboxRetention(keep_last=4, keep_for=timedelta(hours=1), max_entries=8)


def minutes_ago(*minutes: int) -> list[datetime | None]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_entries_of_the_last_hour_are_all_kept() -> None:
    assert entries_kept(minutes_ago(50, 40, 30, 20, 10, 1), NOW, RETENTION) == 6


def test_old_entries_go_but_the_newest_are_kept_however_old() -> None:
    assert entries_kept(minutes_ago(500, 400, 300, 200, 100), NOW, RETENTION) == 3
    assert entries_kept(minutes_ago(500, 400), NOW, RETENTION) == 2
    assert entries_kept([], NOW, RETENTION) == 0


def test_old_entries_before_young_ones_go_when_enough_young_ones_are_kept() -> None:
    assert entries_kept(minutes_ago(300, 200, 59, 30, 20, 10), NOW, RETENTION) == 4
    assert entries_kept(minutes_ago(300, 200, 100, 30), NOW, RETENTION) == 3


def test_entries_stored_without_a_time_count_as_old() -> None:
    assert entries_kept([None, None, None, None, *minutes_ago(5)], NOW, RETENTION) == 3
    assert entries_kept([None, *minutes_ago(30, 20, 10, 5)], NOW, RETENTION) == 4


def test_a_customer_written_constantly_keeps_at_most_max_entries() -> None:
    assert entries_kept(minutes_ago(*range(20, 0, -1)), NOW, RETENTION) == 7


def test_entries_known_to_be_over_go_at_once_when_they_come_first() -> None:
    young = minutes_ago(30, 20, 10)
    assert entries_kept(young, NOW, RETENTION, [True, True, True]) == 0
    assert entries_kept(young, NOW, RETENTION, [True, True, False]) == 1
    assert entries_kept(young, NOW, RETENTION, [True]) == 2  # the rest are not known to be over
    # One not known to be over keeps every entry after it: only a prefix can go.
    assert entries_kept(young, NOW, RETENTION, [False, True, True]) == 3
    # Old entries still go by age behind a settled one.
    assert entries_kept(minutes_ago(500, 400, 300, 200, 100), NOW, RETENTION, [True]) == 3


def test_a_write_without_an_entry_of_its_own_drops_only_what_is_over() -> None:
    old = minutes_ago(500, 400, 300, 200, 100)
    assert entries_kept(old, NOW, RETENTION, adding=False) == 5  # nothing newer replaces them
    assert entries_kept(old, NOW, RETENTION, [True, True], adding=False) == 3
