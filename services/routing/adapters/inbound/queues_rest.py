"""Queues, the why-this-agent record and staffing (``queues:read``; the decision also ``cases:read``).

- ``GET /v1/queues``: every queue's figures now (what ``queue-stats.v1`` carries).
- ``GET /v1/queues/{queue}/cases``: its cases, waiting ones in the order they will be served, with scores.
- ``GET /v1/cases/{case_id}/decision``: why the case's agent was chosen: rule, eligible set, score parts
  and the weights used; 404 before any offer was made.
- ``GET /v1/staffing?queue=&date=``: Erlang C required agents against scheduled agents per hour of the
  day, for a service level (default 80 % within the queue's SLA).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from schemas.routing import Decision, QueueStats, ScoreParts
from services.common.http import Principal, problem, require_scopes
from services.routing.adapters.inbound.agents_rest import CaseOut, Queries, Service, case_out
from services.routing.queries import StaffingQuestion

QueueReader = Annotated[Principal, Depends(require_scopes("queues:read"))]
CaseReader = Annotated[Principal, Depends(require_scopes("cases:read"))]
QueueName = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,100}$")]


class RankedCaseOut(CaseOut):
    position: int | None = Field(description="1 is served next; none once offered or assigned.")
    score: ScoreParts


class DecisionOut(BaseModel):
    case_id: str
    offer_id: str | None
    agent_id: str | None
    decision: Decision


class HourOut(BaseModel):
    hour_start: datetime
    arrivals_per_hour: float
    required: int
    scheduled: int
    gap: int = Field(description="Scheduled minus required: negative means short.")


class StaffingOut(BaseModel):
    queue: str
    date: date
    time_zone: str
    service_level: float
    target_seconds: float
    handle_seconds: float
    concurrency: int
    hours: list[HourOut]


def queues_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["queues"])

    @router.get("/queues", response_model=list[QueueStats])
    async def queues(_: QueueReader, service: Service) -> list[QueueStats]:
        return await service.stats()

    @router.get("/queues/{queue}/cases", response_model=list[RankedCaseOut], responses={404: {}})
    async def queue_cases(
        queue: QueueName, _: QueueReader, queries: Queries
    ) -> list[RankedCaseOut] | JSONResponse:
        if queue not in {q.name for q in queries.rules.queues}:
            return problem(404, "No queue with that name.")
        return [
            RankedCaseOut(**case_out(ranked.case).model_dump(), position=ranked.position, score=ranked.score)
            for ranked in await queries.queue_cases(queue)
        ]

    @router.get("/cases/{case_id}/decision", response_model=DecisionOut, responses={404: {}})
    async def decision(
        case_id: Annotated[str, Path(min_length=1, max_length=100)], _: CaseReader, queries: Queries
    ) -> DecisionOut | JSONResponse:
        case = await queries.case(case_id)
        if case is None or case.decision is None:
            return problem(404, "No decision for that case (unknown, or never offered).")
        return DecisionOut(
            case_id=case.case_id, offer_id=case.offer_id, agent_id=case.agent_id, decision=case.decision
        )

    @router.get("/staffing", response_model=StaffingOut, responses={404: {}})
    async def staffing(  # noqa: PLR0917 - each query parameter is one argument
        _: QueueReader,
        queries: Queries,
        queue: Annotated[str, Query(pattern=r"^[a-z0-9_-]{1,100}$")],
        day: Annotated[date, Query(alias="date")],
        time_zone: Annotated[str, Query(max_length=60)] = "Europe/Oslo",
        service_level: Annotated[float, Query(gt=0, lt=1)] = 0.8,
        target_seconds: Annotated[float | None, Query(gt=0, le=604_800)] = None,
        handle_seconds: Annotated[float, Query(gt=0, le=86_400)] = 300.0,
        concurrency: Annotated[int, Query(ge=1, le=10)] = 1,
    ) -> StaffingOut | JSONResponse:
        known = {q.name: q for q in queries.rules.queues}
        if queue not in known:
            return problem(404, "No queue with that name.")
        try:
            question = StaffingQuestion(
                queue=queue,
                day=day,
                time_zone=time_zone,
                service_level=service_level,
                target_seconds=target_seconds or known[queue].sla.total_seconds(),
                handle_seconds=handle_seconds,
                concurrency=concurrency,
            )
            hours = await queries.staffing(question)
        except (ValueError, KeyError, OverflowError) as error:  # overflow: a day at the calendar's edge
            return problem(422, f"Cannot plan with these figures: {type(error).__name__}.")
        return StaffingOut(
            queue=queue,
            date=day,
            time_zone=time_zone,
            service_level=service_level,
            target_seconds=question.target_seconds,
            handle_seconds=handle_seconds,
            concurrency=concurrency,
            hours=[
                HourOut(
                    hour_start=hour.hour_start,
                    arrivals_per_hour=hour.arrivals_per_hour,
                    required=hour.required,
                    scheduled=hour.scheduled,
                    gap=hour.gap,
                )
                for hour in hours
            ],
        )

    return router
