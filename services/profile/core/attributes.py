"""Profile attributes with provenance, and the one rule that orders them: the newest event time wins, then
the larger event id. Applied per attribute, it makes the result independent of arrival order, so a late
event never overwrites newer data and a redelivery changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AttributeName(StrEnum):
    LANGUAGE = "language"  # from the language hint of inbound contacts
    PREFERRED_CHANNEL = "preferred_channel"  # the channel the customer chose most recently
    HOME_STORE = "home_store"  # the store of the latest visit
    NAME = "name"  # set by agents or other systems (no event carries it yet)
    ADDRESS = "address"  # set by agents or other systems (no event carries it yet)
    LAST_AGENT = "last_agent"  # set from assignments


@dataclass(frozen=True)
class Attribute:
    name: AttributeName
    value: str
    source: str  # the channel (or system) that told us
    occurred_at: datetime
    event_id: str

    @property
    def stamp(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


def newest(current: Attribute | None, candidate: Attribute) -> Attribute:
    """The attribute that wins: later event time, then larger event id."""
    if current is None or candidate.stamp > current.stamp:
        return candidate
    return current
