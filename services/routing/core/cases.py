"""A case as routing holds it: the customer's snapshot from ``cases.v1``, where it waits and since when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.interactions import Channel
from schemas.routing import Decision


class CaseState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    DONE = "done"  # completed, or closed by profile


@dataclass(frozen=True)
class QueuedCase:
    case_id: str
    customer_id: str
    queue: str
    channel: Channel
    category: CaseCategory
    language: str | None  # primary subtag
    tier: Tier
    predicted_value: Decimal
    needs_recovery: bool
    last_agent: str | None
    waiting_since: datetime  # survives declines, expiries and requeues: the case keeps its age
    state: CaseState = CaseState.WAITING
    offer_id: str | None = None
    agent_id: str | None = None
    # Agents that declined it or let its offer expire: never offered it again.
    passed_over: frozenset[str] = frozenset()
    # Since when nobody could take it (the queue's policy applies after a while).
    unserved_since: datetime | None = None
    offers_made: int = 0
    offer_expires_at: datetime | None = None
    decision: Decision | None = None  # why the current (or last) agent was chosen
    assigned_at: datetime | None = None
    done_at: datetime | None = None
    version: int = 0
