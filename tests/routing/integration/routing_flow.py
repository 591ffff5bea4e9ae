"""Cases and agents for routing's integration tests."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from decimal import Decimal

from schemas.cases import CaseCategory, CaseChange, CaseChanged, CaseStatus
from schemas.customers import CustomerView, LifecycleStage, Tier
from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.routing.core.agents import Agent, Capacity, ChannelLimit
from services.routing.core.presence import with_heartbeat, with_schedule, with_status
from services.routing.core.schedule import Schedule, Shift
from services.routing.service import RoutingService

# Every day, all day: joined into one stretch, so no wind-down ever applies.
ALWAYS = Schedule("Europe/Oslo", tuple(Shift(day, time(0), time(0)) for day in range(7)))
CHAT_AND_PHONE = Capacity(100, {Channel.CHAT: ChannelLimit(33, 3), Channel.PHONE: ChannelLimit(100, 1)})


def case_opened(
    at: datetime,
    *,
    channel: Channel = Channel.CHAT,
    tier: Tier = Tier.STANDARD,
    customer_id: str | None = None,
    last_agent: str | None = None,
) -> CaseChanged:
    customer = customer_id or f"customer-{uuid.uuid4().hex[:12]}"
    return CaseChanged(
        change=CaseChange.OPENED,
        case_id=str(uuid.uuid4()),
        customer_id=customer,
        status=CaseStatus.OPEN,
        category=CaseCategory.SHIPPING,
        channel=channel,
        language="nb",
        opened_at=at,
        last_activity_at=at,
        interactions=1,
        customer=CustomerView(
            customer_id=customer,
            tier=tier,
            historic_value=Decimal(0),
            predicted_lifetime_value=Decimal(0),
            lifecycle=LifecycleStage.ACTIVE,
            needs_recovery=False,
            last_agent=last_agent,
            as_of=at,
        ),
    )


def closed(opened: CaseChanged, at: datetime) -> CaseChanged:
    return opened.model_copy(
        update={
            "change": CaseChange.CLOSED,
            "status": CaseStatus.CLOSED,
            "closed_at": at,
            "last_activity_at": at,
        }
    )


def reopened(
    opened: CaseChanged, at: datetime, *, needs_recovery: bool = True, last_agent: str | None = None
) -> CaseChanged:
    """Profile reopening the case at ``at`` (a negative survey answer): open again, no contact, the
    customer now needing recovery."""
    customer = opened.customer.model_copy(
        update={"needs_recovery": needs_recovery, "last_agent": last_agent, "as_of": at}
    )
    return opened.model_copy(
        update={
            "change": CaseChange.REOPENED,
            "status": CaseStatus.OPEN,
            "closed_at": None,
            "last_activity_at": at,
            "contact": None,
            "customer": customer,
        }
    )


async def present_agent(
    service: RoutingService, agent_id: str, now: datetime, capacity: Capacity = CHAT_AND_PHONE
) -> Agent:
    """An agent on shift, available, with a fresh heartbeat, serving chat and phone."""

    def made(current: Agent | None) -> Agent:
        agent = current or Agent(agent_id, queues=frozenset({"chat", "phone", "callback"}), capacity=capacity)
        return with_heartbeat(with_status(with_schedule(agent, ALWAYS), AgentStatus.AVAILABLE, now), now)

    return await service.change_agent(agent_id, made)
