"""Agents and cases as MongoDB documents (field names without dots; instants as BSON dates, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.interactions import Channel
from schemas.routing import AgentStatus, Decision
from services.common.mongo import Document
from services.routing.core.agents import Agent, Capacity, ChannelLimit, WorkItem, WorkState
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.schedule import Leave, Schedule, Shift


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def agent_document(agent: Agent) -> Document:
    return {
        "_id": agent.agent_id,
        "queues": sorted(agent.queues),
        "skills": sorted(agent.skills),
        "languages": sorted(agent.languages),
        "capacity": {
            "budget": agent.capacity.budget,
            "limits": [
                {"channel": channel.value, "cost": limit.cost, "cap": limit.cap}
                for channel, limit in sorted(agent.capacity.limits.items())
            ],
        },
        "schedule": {
            "time_zone": agent.schedule.time_zone,
            "shifts": [
                {
                    "weekday": shift.weekday,
                    "start": shift.start.isoformat("minutes"),
                    "end": shift.end.isoformat("minutes"),
                }
                for shift in agent.schedule.shifts
            ],
        },
        "leaves": [{"start": leave.start, "end": leave.end} for leave in agent.leaves],
        "status": agent.status.value,
        "heartbeat_at": agent.heartbeat_at,
        "not_responding": agent.not_responding,
        "work": [
            {
                "offer_id": item.offer_id,
                "case_id": item.case_id,
                "channel": item.channel.value,
                "cost": item.cost,
                "state": item.state.value,
                "since": item.since,
                "expires_at": item.expires_at,
            }
            for item in agent.work
        ],
        "idle_since": agent.idle_since,
        "absent_since": agent.absent_since,
        "version": agent.version,
    }


def agent_from(document: Document) -> Agent:
    capacity = document["capacity"]
    schedule = document["schedule"]
    return Agent(
        agent_id=document["_id"],
        queues=frozenset(document["queues"]),
        capacity=Capacity(
            budget=capacity["budget"],
            limits={
                Channel(limit["channel"]): ChannelLimit(cost=limit["cost"], cap=limit["cap"])
                for limit in capacity["limits"]
            },
        ),
        skills=frozenset(document["skills"]),
        languages=frozenset(document["languages"]),
        schedule=Schedule(
            time_zone=schedule["time_zone"],
            shifts=tuple(
                Shift(shift["weekday"], time.fromisoformat(shift["start"]), time.fromisoformat(shift["end"]))
                for shift in schedule["shifts"]
            ),
        ),
        leaves=tuple(
            Leave(leave["start"].astimezone(UTC), leave["end"].astimezone(UTC))
            for leave in document["leaves"]
        ),
        status=AgentStatus(document["status"]),
        heartbeat_at=_utc(document.get("heartbeat_at")),
        not_responding=document["not_responding"],
        work=tuple(
            WorkItem(
                offer_id=item["offer_id"],
                case_id=item["case_id"],
                channel=Channel(item["channel"]),
                cost=item["cost"],
                state=WorkState(item["state"]),
                since=item["since"].astimezone(UTC),
                expires_at=_utc(item.get("expires_at")),
            )
            for item in document["work"]
        ),
        idle_since=_utc(document.get("idle_since")),
        absent_since=_utc(document.get("absent_since")),
        version=document["version"],
    )


def case_document(case: QueuedCase) -> Document:
    return {
        "_id": case.case_id,
        "customer_id": case.customer_id,
        "queue": case.queue,
        "channel": case.channel.value,
        "category": case.category.value,
        "language": case.language,
        "tier": case.tier.value,
        "predicted_value": str(case.predicted_value),
        "needs_recovery": case.needs_recovery,
        "last_agent": case.last_agent,
        "waiting_since": case.waiting_since,
        "state": case.state.value,
        "offer_id": case.offer_id,
        "agent_id": case.agent_id,
        "passed_over": sorted(case.passed_over),
        "unserved_since": case.unserved_since,
        "offers_made": case.offers_made,
        "offer_expires_at": case.offer_expires_at,
        "decision": None if case.decision is None else case.decision.model_dump(mode="json"),
        "assigned_at": case.assigned_at,
        "done_at": case.done_at,
        "version": case.version,
    }


def case_from(document: Document) -> QueuedCase:
    decision: Any = document.get("decision")
    return QueuedCase(
        case_id=document["_id"],
        customer_id=document["customer_id"],
        queue=document["queue"],
        channel=Channel(document["channel"]),
        category=CaseCategory(document["category"]),
        language=document.get("language"),
        tier=Tier(document["tier"]),
        predicted_value=Decimal(document["predicted_value"]),
        needs_recovery=document["needs_recovery"],
        last_agent=document.get("last_agent"),
        waiting_since=document["waiting_since"].astimezone(UTC),
        state=CaseState(document["state"]),
        offer_id=document.get("offer_id"),
        agent_id=document.get("agent_id"),
        passed_over=frozenset(document.get("passed_over", ())),
        unserved_since=_utc(document.get("unserved_since")),
        offers_made=document["offers_made"],
        offer_expires_at=_utc(document.get("offer_expires_at")),
        decision=None if decision is None else Decision.model_validate(decision),
        assigned_at=_utc(document.get("assigned_at")),
        done_at=_utc(document.get("done_at")),
        version=document["version"],
    )
