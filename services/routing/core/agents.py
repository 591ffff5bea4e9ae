"""Agents as routing sees them: what they can do, when they work, whether they are there, and the work
they hold against one capacity budget shared by every channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.routing.core.schedule import Leave, Schedule


@dataclass(frozen=True)
class ChannelLimit:
    """One item of the channel uses ``cost`` of the agent's budget; at most ``cap`` at once. A phone call
    that costs the whole budget blocks every other channel while it lasts."""

    cost: int
    cap: int


@dataclass(frozen=True)
class Capacity:
    budget: int = 100
    limits: Mapping[Channel, ChannelLimit] = field(default_factory=dict)


class WorkState(StrEnum):
    OFFERED = "offered"  # holds capacity until accepted, declined or expired
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class WorkItem:
    offer_id: str
    case_id: str
    channel: Channel
    cost: int
    state: WorkState
    since: datetime
    expires_at: datetime | None = None  # offers only


@dataclass(frozen=True)
class Agent:
    agent_id: str
    queues: frozenset[str]
    capacity: Capacity
    skills: frozenset[str] = frozenset()  # case categories; none means every category
    languages: frozenset[str] = frozenset()  # primary subtags; none means any language
    schedule: Schedule = field(default_factory=Schedule)
    leaves: tuple[Leave, ...] = ()
    status: AgentStatus = AgentStatus.OFFLINE
    heartbeat_at: datetime | None = None
    not_responding: bool = False  # set when an offer expired; cleared when the agent sets a status
    work: tuple[WorkItem, ...] = ()
    idle_since: datetime | None = None  # when the agent last held no work
    absent_since: datetime | None = None  # noticed absent (work not yet started moves after a grace)
    version: int = 0

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset(self.capacity.limits)

    # Cached: a pick asks these of every agent in a queue, and an agent never changes (it is frozen).
    @cached_property
    def used(self) -> int:
        return sum(item.cost for item in self.work)

    @cached_property
    def cases_held(self) -> frozenset[str]:
        return frozenset(item.case_id for item in self.work)

    @property
    def load(self) -> float:
        """The share of the budget in use."""
        return self.used / self.capacity.budget if self.capacity.budget else 1.0

    def holding(self, channel: Channel) -> int:
        return sum(1 for item in self.work if item.channel is channel)

    def room_for(self, channel: Channel) -> bool:
        limit = self.capacity.limits.get(channel)
        if limit is None:
            return False
        return self.holding(channel) < limit.cap and self.used + limit.cost <= self.capacity.budget

    def item(self, offer_id: str) -> WorkItem | None:
        return next((item for item in self.work if item.offer_id == offer_id), None)


def primary_language(tag: str | None) -> str | None:
    """``nb-NO`` → ``nb``; Norwegian without a written standard counts as Bokmål."""
    if not tag:
        return None
    primary = tag.split("-", 1)[0].lower()
    return _LANGUAGE_ALIASES.get(primary, primary)


_LANGUAGE_ALIASES = {"no": "nb"}
