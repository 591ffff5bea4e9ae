"""Agents, their presence, and their answers to offers.

- ``PUT /v1/agents/{agent_id}`` (``agents:write``): create or change an agent's profile: queues, skills,
  languages, capacity (one budget; a cost and a cap per channel) and time zone. Presence, leave and the work
  they hold are kept. 201 when new, 200 otherwise.
- ``PUT /v1/agents/{agent_id}/schedule``, ``POST /v1/agents/{agent_id}/leave``,
  ``PUT /v1/agents/{agent_id}/status``, ``POST /v1/agents/{agent_id}/heartbeat`` (``agents:write``).
- ``GET /v1/agents``, ``GET /v1/agents/{agent_id}``, ``GET /v1/agents/{agent_id}/offers`` (``agents:read``).
- ``POST /v1/offers/{offer_id}:accept`` and ``:decline``, ``POST /v1/assignments/{assignment_id}:complete``
  (``agents:write``): 200 with the case; a retry of the same answer is 200 again; 409 names why the offer
  cannot be answered so (``expired``, ``not_yours``, ``not_offered``, ``accepted_already``, ``not_assigned``).

Every change is written by compare-and-set and followed by a matching round for the agent's queues, so an
agent who becomes available gets the best waiting case at once. Unknown fields are refused (422).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from schemas.cases import CaseCategory
from schemas.interactions import Channel
from schemas.routing import AgentStatus, Decision
from services.common.http import Principal, problem, require_scopes
from services.routing.core.agents import Agent, Capacity, ChannelLimit, primary_language
from services.routing.core.cases import QueuedCase
from services.routing.core.flow import Refusal
from services.routing.core.presence import (
    with_heartbeat,
    with_leave,
    with_profile,
    with_schedule,
    with_status,
)
from services.routing.core.rules import RoutingRules
from services.routing.core.schedule import Leave, Schedule, Shift
from services.routing.queries import AgentView, RoutingQueries
from services.routing.service import RoutingService

AgentWriter = Annotated[Principal, Depends(require_scopes("agents:write"))]
AgentReader = Annotated[Principal, Depends(require_scopes("agents:read"))]
# Never starting with a dot, so "." and ".." (a path's own segments once decoded) are no ids.
_AGENT_ID = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$"
AgentId = Annotated[str, Path(pattern=_AGENT_ID)]
OfferId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$")]
# A BCP 47 tag's shape (``nb``, ``nb-NO``, ``zh-Hant-TW``); only its primary subtag is kept.
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_LEAVE = timedelta(days=366)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelLimitIn(_Strict):
    cost: int = Field(ge=1, le=1000, description="Budget units one item of this channel uses.")
    cap: int = Field(ge=1, le=100, description="At most this many items of the channel at once.")


class CapacityIn(_Strict):
    budget: int = Field(default=100, ge=1, le=1000)
    channels: dict[Channel, ChannelLimitIn] = Field(min_length=1)


class AgentIn(_Strict):
    queues: list[str] = Field(min_length=1, max_length=20)
    skills: list[str] = Field(default_factory=list, max_length=50, description="Case categories; none: all.")
    languages: list[LanguageTag] = Field(
        default_factory=list, max_length=20, description="BCP 47; none: any."
    )
    capacity: CapacityIn
    time_zone: str = Field(default="Europe/Oslo", max_length=60)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)


class ShiftIn(_Strict):
    weekday: Weekday
    start: time
    end: time = Field(description="At or before start: the shift runs past midnight.")

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        # Local time in the schedule's zone: an offset would be ignored, and one aware time next to a
        # naive one cannot even be compared (every matching round would fail on this agent).
        if value.tzinfo is not None:
            raise ValueError("a shift's times are wall-clock times in the schedule's zone: no UTC offset")
        return value


class ScheduleIn(_Strict):
    time_zone: str | None = Field(default=None, max_length=60, description="Default: the agent's.")
    shifts: list[ShiftIn] = Field(max_length=100)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class LeaveIn(_Strict):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> LeaveIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > _MAX_LEAVE:
            raise ValueError("leave longer than a year: split it")
        try:
            self.start.astimezone(UTC)
            self.end.astimezone(UTC)
        except OverflowError:
            raise ValueError("leave outside the calendar in UTC") from None
        return self


class StatusIn(_Strict):
    status: AgentStatus


class WorkOut(BaseModel):
    offer_id: str
    case_id: str
    channel: Channel
    state: str
    since: datetime
    expires_at: datetime | None


class AgentOut(BaseModel):
    agent_id: str
    queues: list[str]
    skills: list[str]
    languages: list[str]
    capacity: CapacityIn
    time_zone: str
    shifts: list[ShiftIn]
    leaves: list[LeaveIn]
    status: AgentStatus
    heartbeat_at: datetime | None
    not_responding: bool
    open_for_work: bool
    closed_because: str | None = Field(description="The first rule that keeps new work away, if any.")
    load: float
    work: list[WorkOut]
    version: int


class CaseOut(BaseModel):
    case_id: str
    customer_id: str
    queue: str
    channel: Channel
    category: str
    tier: str
    state: str
    offer_id: str | None
    agent_id: str | None
    waiting_since: datetime
    offer_expires_at: datetime | None
    assigned_at: datetime | None
    decision: Decision | None


def agent_out(view: AgentView) -> AgentOut:
    agent = view.agent
    return AgentOut(
        agent_id=agent.agent_id,
        queues=sorted(agent.queues),
        skills=sorted(agent.skills),
        languages=sorted(agent.languages),
        capacity=CapacityIn(
            budget=agent.capacity.budget,
            channels={
                c: ChannelLimitIn(cost=lim.cost, cap=lim.cap) for c, lim in agent.capacity.limits.items()
            },
        ),
        time_zone=agent.schedule.time_zone,
        shifts=[
            ShiftIn(weekday=_WEEKDAYS[shift.weekday], start=shift.start, end=shift.end)
            for shift in agent.schedule.shifts
        ],
        leaves=[LeaveIn(start=leave.start, end=leave.end) for leave in agent.leaves],
        status=agent.status,
        heartbeat_at=agent.heartbeat_at,
        not_responding=agent.not_responding,
        open_for_work=view.closed_because is None,
        closed_because=view.closed_because,
        load=round(agent.load, 3),
        work=[
            WorkOut(
                offer_id=item.offer_id,
                case_id=item.case_id,
                channel=item.channel,
                state=item.state.value,
                since=item.since,
                expires_at=item.expires_at,
            )
            for item in agent.work
        ],
        version=agent.version,
    )


def case_out(case: QueuedCase) -> CaseOut:
    return CaseOut(
        case_id=case.case_id,
        customer_id=case.customer_id,
        queue=case.queue,
        channel=case.channel,
        category=case.category.value,
        tier=case.tier.value,
        state=case.state.value,
        offer_id=case.offer_id,
        agent_id=case.agent_id,
        waiting_since=case.waiting_since,
        offer_expires_at=case.offer_expires_at,
        assigned_at=case.assigned_at,
        decision=case.decision,
    )


def _unusable_profile(body: AgentIn, rules: RoutingRules) -> str | None:
    """Why an agent with this profile could never be offered work, if so: a typo here would otherwise
    leave someone idle without a word."""
    queues = {queue.name for queue in rules.queues}
    if unknown := sorted(set(body.queues) - queues):
        return f"Unknown queues {unknown}; configured: {sorted(queues)}."
    categories = {category.value for category in CaseCategory}
    if unknown := sorted(set(body.skills) - categories):
        return f"Unknown skills {unknown}; skills are case categories: {sorted(categories)}."
    if costly := sorted(
        c.value for c, limit in body.capacity.channels.items() if limit.cost > body.capacity.budget
    ):
        return f"Channels {costly} cost more than the whole budget ({body.capacity.budget})."
    return None


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (use an IANA name such as Europe/Oslo)") from None
    return name


async def _service(request: Request) -> RoutingService:
    service: RoutingService = request.app.state.service
    return service


async def _queries(request: Request) -> RoutingQueries:
    queries: RoutingQueries = request.app.state.queries
    return queries


Service = Annotated[RoutingService, Depends(_service)]
Queries = Annotated[RoutingQueries, Depends(_queries)]


class _NoSuchAgentError(Exception):
    """The agent to change does not exist (raised inside the compare-and-set, caught around it)."""


def _unknown_agent() -> JSONResponse:
    return problem(404, "No agent with that id.")


def _refused(refusal: Refusal) -> JSONResponse:
    if refusal.reason == "not_offered":
        return problem(404, "No such offer, or it was settled otherwise.", reason=refusal.reason)
    return problem(409, f"The offer cannot be answered so: {refusal.reason}.", reason=refusal.reason)


def agents_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["agents"])
    missing: dict[int | str, dict[str, str]] = {404: {"description": "Unknown agent"}}

    async def existing(
        service: RoutingService, agent_id: str, change: Callable[[Agent], Agent]
    ) -> Agent | None:
        def apply(current: Agent | None) -> Agent:
            if current is None:
                raise _NoSuchAgentError(agent_id)
            return change(current)

        try:
            return await service.change_agent(agent_id, apply)
        except _NoSuchAgentError:  # not LookupError: a KeyError in the matching round is no unknown agent
            return None

    @router.put("/agents/{agent_id}", response_model=AgentOut, responses={201: {"model": AgentOut}})
    async def put_agent(
        agent_id: AgentId,
        body: AgentIn,
        _: AgentWriter,
        service: Service,
        queries: Queries,
        response: Response,
    ) -> AgentOut | JSONResponse:
        if (unusable := _unusable_profile(body, queries.rules)) is not None:
            return problem(422, unusable)
        created = False

        def apply(current: Agent | None) -> Agent:
            nonlocal created
            created = current is None
            return with_profile(
                current,
                agent_id,
                queues=frozenset(body.queues),
                capacity=Capacity(
                    budget=body.capacity.budget,
                    limits={c: ChannelLimit(lim.cost, lim.cap) for c, lim in body.capacity.channels.items()},
                ),
                skills=frozenset(body.skills),
                # As cases' languages are read (``no`` is ``nb``), or the two would never meet.
                languages=frozenset(filter(None, map(primary_language, body.languages))),
                time_zone=body.time_zone,
            )

        await service.change_agent(agent_id, apply)
        if created:
            response.status_code = 201
        view = await queries.agent(agent_id)
        assert view is not None  # just written
        return agent_out(view)

    @router.put("/agents/{agent_id}/schedule", response_model=AgentOut, responses=missing)
    async def put_schedule(
        agent_id: AgentId, body: ScheduleIn, _: AgentWriter, service: Service, queries: Queries
    ) -> AgentOut | JSONResponse:
        shifts = tuple(Shift(_WEEKDAYS.index(s.weekday), s.start, s.end) for s in body.shifts)

        def apply(agent: Agent) -> Agent:
            zone = body.time_zone or agent.schedule.time_zone
            return with_schedule(agent, Schedule(time_zone=zone, shifts=shifts))

        return await _answer(await existing(service, agent_id, apply), queries)

    @router.post("/agents/{agent_id}/leave", response_model=AgentOut, status_code=201, responses=missing)
    async def add_leave(
        agent_id: AgentId, body: LeaveIn, _: AgentWriter, service: Service, queries: Queries
    ) -> AgentOut | JSONResponse:
        leave = Leave(body.start.astimezone(UTC), body.end.astimezone(UTC))
        now = datetime.now(UTC)
        return await _answer(await existing(service, agent_id, lambda a: with_leave(a, leave, now)), queries)

    @router.put("/agents/{agent_id}/status", response_model=AgentOut, responses=missing)
    async def put_status(
        agent_id: AgentId, body: StatusIn, _: AgentWriter, service: Service, queries: Queries
    ) -> AgentOut | JSONResponse:
        now = datetime.now(UTC)
        changed = await existing(service, agent_id, lambda a: with_status(a, body.status, now))
        return await _answer(changed, queries)

    @router.post("/agents/{agent_id}/heartbeat", status_code=204, responses=missing)
    async def heartbeat(agent_id: AgentId, _: AgentWriter, service: Service) -> Response:
        now = datetime.now(UTC)
        if await existing(service, agent_id, lambda a: with_heartbeat(a, now)) is None:
            return _unknown_agent()
        return Response(status_code=204)

    @router.get("/agents", response_model=list[AgentOut])
    async def list_agents(_: AgentReader, queries: Queries) -> list[AgentOut]:
        return [agent_out(view) for view in await queries.agents()]

    @router.get("/agents/{agent_id}", response_model=AgentOut, responses=missing)
    async def get_agent(agent_id: AgentId, _: AgentReader, queries: Queries) -> AgentOut | JSONResponse:
        return await _answer(await queries.agent(agent_id), queries)

    @router.get("/agents/{agent_id}/offers", response_model=list[CaseOut], responses=missing)
    async def offers(agent_id: AgentId, _: AgentReader, queries: Queries) -> list[CaseOut] | JSONResponse:
        found = await queries.offers(agent_id)
        if found is None:
            return _unknown_agent()
        return [case_out(case) for case in found]

    answers: dict[int | str, dict[str, str]] = {404: {"description": "No such offer"}, 409: {}}

    @router.post("/offers/{offer_id}:accept", response_model=CaseOut, responses=answers)
    async def accept(
        offer_id: OfferId, _: AgentWriter, service: Service, body: AnswerIn | None = None
    ) -> CaseOut | JSONResponse:
        outcome = await service.accept(offer_id, (body or AnswerIn()).agent_id)
        return _refused(outcome) if isinstance(outcome, Refusal) else case_out(outcome)

    @router.post("/offers/{offer_id}:decline", response_model=CaseOut, responses=answers)
    async def decline(
        offer_id: OfferId, _: AgentWriter, service: Service, body: AnswerIn | None = None
    ) -> CaseOut | JSONResponse:
        outcome = await service.decline(offer_id, (body or AnswerIn()).agent_id)
        return _refused(outcome) if isinstance(outcome, Refusal) else case_out(outcome)

    @router.post("/assignments/{assignment_id}:complete", response_model=CaseOut, responses=answers)
    async def complete(assignment_id: OfferId, _: AgentWriter, service: Service) -> CaseOut | JSONResponse:
        outcome = await service.complete(assignment_id)
        return _refused(outcome) if isinstance(outcome, Refusal) else case_out(outcome)

    return router


class AnswerIn(_Strict):
    agent_id: str | None = Field(
        default=None, pattern=_AGENT_ID, description="When given, the offer must be theirs."
    )


async def _answer(changed: Agent | AgentView | None, queries: RoutingQueries) -> AgentOut | JSONResponse:
    if changed is None:
        return _unknown_agent()
    if isinstance(changed, AgentView):
        return agent_out(changed)
    view = await queries.agent(changed.agent_id)
    return _unknown_agent() if view is None else agent_out(view)
