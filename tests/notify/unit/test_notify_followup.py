"""The survey after a case, and the quiet night for texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.interactions import Channel
from services.notify.core.followup import FollowUpRules, quiet_until, reader_zone, survey_due, survey_stale

CLOSED = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("reason", ["resolved", None, "something_new"])
def test_a_resolved_case_gets_its_survey_after_the_delay(reason: str | None) -> None:
    assert survey_due(CLOSED, reason) == CLOSED + FollowUpRules().survey_after


@pytest.mark.parametrize("reason", ["spam", "duplicate", "no_reply_needed"])
def test_spam_duplicates_and_cases_without_a_reply_get_none(reason: str) -> None:
    assert survey_due(CLOSED, reason) is None


def test_a_survey_goes_stale() -> None:
    due = CLOSED + timedelta(hours=2)
    assert not survey_stale(due, due + timedelta(days=3))
    assert survey_stale(due, due + timedelta(days=3, seconds=1))


@pytest.mark.parametrize(
    ("local", "until"),
    [
        # Oslo is UTC+1 in January: 22:30 local waits for 08:00 the next morning, 06:00 for 08:00 today.
        (datetime(2026, 1, 14, 21, 30, tzinfo=UTC), datetime(2026, 1, 15, 7, 0, tzinfo=UTC)),
        (datetime(2026, 1, 14, 5, 0, tzinfo=UTC), datetime(2026, 1, 14, 7, 0, tzinfo=UTC)),
        (datetime(2026, 1, 14, 20, 0, tzinfo=UTC), datetime(2026, 1, 15, 7, 0, tzinfo=UTC)),  # 21:00 exactly
    ],
)
def test_texts_wait_for_the_morning_in_the_customers_zone(local: datetime, until: datetime) -> None:
    assert quiet_until(Channel.SMS, local, "Europe/Oslo") == until


def test_daytime_email_and_urgent_texts_go_now() -> None:
    night = datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    day = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    assert quiet_until(Channel.SMS, day, "Europe/Oslo") is None
    assert quiet_until(Channel.EMAIL, night, "Europe/Oslo") is None
    assert quiet_until(Channel.SMS, night, "Europe/Oslo", urgent=True) is None


def test_the_night_follows_daylight_saving_time() -> None:
    # 31 March 2026: Oslo is UTC+2, so 08:00 local is 06:00 UTC.
    night = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert quiet_until(Channel.SMS, night, "Europe/Oslo") == datetime(2026, 4, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+4791234567", "Europe/Oslo"),  # Oslo and Longyearbyen keep one clock
        ("+46701234567", "Europe/Stockholm"),
        ("+12025550123", "America/New_York"),
        ("+18005550123", "Europe/Oslo"),  # toll-free: no one zone, so the queue's
        ("+15555550123", "Europe/Oslo"),  # a zone the library does not know
        ("not a number", "Europe/Oslo"),
    ],
)
def test_a_text_is_read_in_the_phones_zone_when_it_has_one(number: str, zone: str) -> None:
    assert reader_zone(Channel.SMS, number, CLOSED, "Europe/Oslo") == zone


def test_a_customer_texted_from_abroad_is_not_woken_at_night() -> None:
    # 13:00 in Oslo is 07:00 in New York: too early there.
    noon = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    zone = reader_zone(Channel.SMS, "+12025550123", noon, "Europe/Oslo")
    assert quiet_until(Channel.SMS, noon, zone) == datetime(2026, 1, 14, 13, 0, tzinfo=UTC)
    assert reader_zone(Channel.EMAIL, "kari@example.no", noon, "Europe/Oslo") == "Europe/Oslo"
