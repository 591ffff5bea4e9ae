"""After the case or the delivery: when a survey goes out and where, and when a message may reach a phone
at all.

The survey goes once per resolution, a while after the close (an instant survey reads as a form letter),
never for spam, duplicates or cases that needed no reply, and not at all once it is stale. Texts wait
for the morning: no SMS at night in the customer's zone unless it is urgent (a reply to what the
customer just wrote, a callback that moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

from schemas.cases import CloseReason
from schemas.identifiers import CustomerIdentifier, IdentifierKind
from schemas.interactions import Channel
from services.notify.core.records import Address

# Reasons a case closes without anything the customer could rate.
_UNRATED = frozenset({CloseReason.SPAM.value, CloseReason.DUPLICATE.value, CloseReason.NO_REPLY_NEEDED.value})
_TEXTED = frozenset({Channel.SMS, Channel.PHONE})


@dataclass(frozen=True)
class FollowUpRules:
    survey_after: timedelta = timedelta(hours=2)
    survey_expires_after: timedelta = timedelta(days=3)  # a survey this late asks about a blur
    answer_within: timedelta = timedelta(days=14)  # how long a survey's link takes an answer
    delivery_survey_after: timedelta = timedelta(days=1)  # time to unpack and try it
    quiet_from: time = time(21, 0)
    quiet_until: time = time(8, 0)


DEFAULT_FOLLOW_UP_RULES = FollowUpRules()


def survey_due(
    closed_at: datetime, close_reason: str | None, rules: FollowUpRules = DEFAULT_FOLLOW_UP_RULES
) -> datetime | None:
    """When the survey of a case closed then goes out; None when it gets none."""
    if close_reason in _UNRATED:
        return None
    return closed_at + rules.survey_after


def delivery_address(identifiers: Sequence[CustomerIdentifier]) -> Address | None:
    """Where to ask about a delivery: the order's email, else a text to its phone number."""
    usable = [identifier for identifier in identifiers if not identifier.unparsed]
    for kind, channel in ((IdentifierKind.EMAIL, Channel.EMAIL), (IdentifierKind.PHONE, Channel.SMS)):
        found = next((identifier for identifier in usable if identifier.kind is kind), None)
        if found is not None:
            return Address(channel, found.value)
    return None


def survey_stale(due_at: datetime, now: datetime, rules: FollowUpRules = DEFAULT_FOLLOW_UP_RULES) -> bool:
    return now > due_at + rules.survey_expires_after


def reader_zone(address_channel: Channel, to: str, now: datetime, fallback: str) -> str:
    """The zone a text is read in: the phone number's, when its country keeps one clock now (Norway's
    Oslo and Longyearbyen do; the United States do not), else ``fallback`` (the queue's)."""
    if address_channel not in _TEXTED:
        return fallback
    try:
        zones = time_zones_for_number(phonenumbers.parse(to))
    except phonenumbers.NumberParseException:
        return fallback
    known = [zone for zone in zones if zone in _known_zones()]
    offsets = {now.astimezone(ZoneInfo(zone)).utcoffset() for zone in known}
    return known[-1] if len(offsets) == 1 else fallback


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def quiet_until(
    channel: Channel,
    now: datetime,
    time_zone: str,
    *,
    urgent: bool = False,
    rules: FollowUpRules = DEFAULT_FOLLOW_UP_RULES,
) -> datetime | None:
    """When a message on ``channel`` may go, if not now: the end of the night in ``time_zone`` for a
    text that is not urgent, else None."""
    if urgent or channel not in _TEXTED:
        return None
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    clock = local.time()
    if rules.quiet_until <= clock < rules.quiet_from:
        return None
    day = local.date() if clock < rules.quiet_until else local.date() + timedelta(days=1)
    return datetime.combine(day, rules.quiet_until, tzinfo=zone)
