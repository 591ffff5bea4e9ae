"""The supervisor's live page.

- ``GET /v1/dashboard`` (``queues:read`` and ``agents:read``): per queue its figures, unassigned cases by
  category and the first-response and close times of the last hour (count, p50, p90, max); agents present,
  not responding and absent; the cases at risk of breaching their queue's SLA (waiting or offered and not
  yet accepted, at least 75 % of the SLA used), the most overdue first.
- ``GET /dashboard``: the page itself, without auth: it holds no data. Its script takes a bearer token from
  the URL fragment (``/dashboard#token=…``: a fragment is never sent to a server), keeps it in the tab's
  sessionStorage, and reads ``/v1/dashboard`` every few seconds. Nothing is loaded from elsewhere; a strict
  Content-Security-Policy allows only the page's own script and style (by hash) and requests to this origin.

Only ids are shown: case, customer and agent ids, never names or contact details.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.common.http import Principal, require_scopes
from services.routing.core.supervision import (
    AgentPresence,
    Board,
    CaseAtRisk,
    Presence,
    QueueBoard,
    Risk,
    Spread,
)
from services.routing.dashboard import Dashboard

BoardReader = Annotated[Principal, Depends(require_scopes("queues:read", "agents:read"))]
# The at-risk list is cut here (the total is still given).
AT_RISK_SHOWN = 100


class SpreadOut(BaseModel):
    count: int
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None


class QueueOut(BaseModel):
    queue: str
    sla_seconds: float
    waiting: int
    offered: int
    assigned: int
    oldest_wait_seconds: float
    arrivals_last_hour: int
    completions_last_hour: int
    agents_present_now: int = Field(
        description="Agents serving the queue who are there, open for work or not."
    )
    agents_eligible_now: int = Field(description="Present agents serving the queue with room for its work.")
    unassigned_by_category: dict[str, int] = Field(description="Waiting cases per category.")
    first_response: SpreadOut = Field(description="Arrival to acceptance, cases accepted in the last hour.")
    close: SpreadOut = Field(description="Acceptance to completion, cases completed in the last hour.")


class BoardAgentOut(BaseModel):
    agent_id: str
    presence: Presence
    reason: str | None = Field(description="Absent: why. Present: why no new work comes, if any.")
    open_for_work: bool
    status: AgentStatus
    queues: list[str]
    load: float
    offered: int
    assigned: int


class AgentsOut(BaseModel):
    present: list[BoardAgentOut]
    not_responding: list[BoardAgentOut]
    absent: list[BoardAgentOut]


class AtRiskOut(BaseModel):
    case_id: str
    customer_id: str
    queue: str
    category: str
    channel: Channel
    state: str
    agent_id: str | None
    waited_seconds: float
    sla_seconds: float
    sla_share: float = Field(description="Waited over the SLA: 1 or more is breached.")
    risk: Risk


class DashboardOut(BaseModel):
    as_of: datetime
    queues: list[QueueOut]
    agents: AgentsOut
    at_risk: list[AtRiskOut] = Field(description=f"The {AT_RISK_SHOWN} most overdue at most.")
    at_risk_total: int


def dashboard_out(board: Board) -> DashboardOut:
    groups: dict[Presence, list[BoardAgentOut]] = {presence: [] for presence in Presence}
    for view in board.agents:
        groups[view.presence].append(_agent_out(view))
    return DashboardOut(
        as_of=board.as_of,
        queues=[_queue_out(queue) for queue in board.queues],
        agents=AgentsOut(
            present=groups[Presence.PRESENT],
            not_responding=groups[Presence.NOT_RESPONDING],
            absent=groups[Presence.ABSENT],
        ),
        at_risk=[_at_risk_out(item) for item in board.at_risk[:AT_RISK_SHOWN]],
        at_risk_total=len(board.at_risk),
    )


def _spread_out(spread: Spread) -> SpreadOut:
    return SpreadOut(
        count=spread.count, p50_seconds=spread.p50, p90_seconds=spread.p90, max_seconds=spread.max
    )


def _queue_out(queue: QueueBoard) -> QueueOut:
    stats = queue.stats
    return QueueOut(
        queue=stats.queue,
        sla_seconds=stats.sla_seconds,
        waiting=stats.backlog,
        offered=stats.offered,
        assigned=queue.assigned,
        oldest_wait_seconds=round(stats.oldest_wait_seconds, 3),
        arrivals_last_hour=stats.arrivals_last_hour,
        completions_last_hour=stats.completions_last_hour,
        agents_present_now=stats.agents_present_now,
        agents_eligible_now=stats.agents_eligible_now,
        unassigned_by_category=dict(queue.unassigned_by_category),
        first_response=_spread_out(queue.first_response),
        close=_spread_out(queue.close),
    )


def _agent_out(view: AgentPresence) -> BoardAgentOut:
    agent = view.agent
    return BoardAgentOut(
        agent_id=agent.agent_id,
        presence=view.presence,
        reason=view.reason,
        open_for_work=view.open_for_work,
        status=agent.status,
        queues=sorted(agent.queues),
        load=round(agent.load, 3),
        offered=view.offered,
        assigned=view.accepted,
    )


def _at_risk_out(item: CaseAtRisk) -> AtRiskOut:
    case = item.case
    return AtRiskOut(
        case_id=case.case_id,
        customer_id=case.customer_id,
        queue=case.queue,
        category=case.category.value,
        channel=case.channel,
        state=case.state.value,
        agent_id=case.agent_id,
        waited_seconds=round(item.waited_seconds, 3),
        sla_seconds=item.sla_seconds,
        sla_share=round(item.sla_share, 4),
        risk=item.risk,
    )


def _page() -> tuple[bytes, str]:
    """The page and its Content-Security-Policy: its one script and one style allowed by their hashes,
    requests only to this origin, nothing else (no frames, forms, plugins or base changes)."""
    html = resources.files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
        if len(blocks) != 1:
            raise RuntimeError(f"dashboard.html must hold exactly one <{tag}> block")
        digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
        return f"'sha256-{digest}'"

    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {hashes('script')}",
            f"style-src {hashes('style')}",
            "connect-src 'self'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        )
    )
    return html.encode(), policy


async def _dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def dashboard_router() -> APIRouter:
    """The routes; the read model is ``app.state.dashboard`` (built by the composition root)."""
    router = APIRouter(tags=["dashboard"])
    page, policy = _page()
    page_headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-cache",
    }

    @router.get("/v1/dashboard", response_model=DashboardOut)
    async def figures(
        _: BoardReader, dashboard: Annotated[Dashboard, Depends(_dashboard)], response: Response
    ) -> DashboardOut:
        response.headers["Cache-Control"] = "no-store"
        return dashboard_out(await dashboard.board())

    @router.get("/dashboard", include_in_schema=False)
    async def shell() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=page_headers)

    return router
