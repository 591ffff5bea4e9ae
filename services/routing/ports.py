"""What routing's service needs from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from schemas.envelope import Event
from schemas.routing import AssignmentChanged, QueueStats
from services.routing.core.agents import Agent
from services.routing.core.cases import QueuedCase
from services.routing.core.stats import Throughput


class RoutingStore(Protocol):
    async def agents(self, agent_ids: Collection[str] | None = None) -> list[Agent]:
        """Every agent, or these."""
        ...

    async def agent_versions(self, changed_since: datetime) -> dict[str, int]:
        """The versions of the agents written since then (by the writer's clock)."""
        ...

    async def agent(self, agent_id: str) -> Agent | None: ...

    async def save_agent(self, agent: Agent) -> Agent | None:
        """Write the agent if nobody changed it since ``agent.version`` was read (0: a new agent);
        returns it with its new version, ``None`` when another write came first."""
        ...

    async def case(self, case_id: str) -> QueuedCase | None: ...

    async def cases(self, case_ids: Collection[str]) -> list[QueuedCase]:
        """The cases with these ids, active or done (unknown ones are left out)."""
        ...

    async def active_cases(
        self, queues: Collection[str] | None = None, *, waiting_only: bool = False
    ) -> list[QueuedCase]:
        """Cases waiting, offered or assigned (in these queues; only the waiting ones if asked)."""
        ...

    async def expired_offers(self, now: datetime) -> list[QueuedCase]:
        """Cases offered whose offer expired by ``now``."""
        ...

    async def save_case(
        self, case: QueuedCase, outbox: Sequence[Event[AssignmentChanged]] = ()
    ) -> QueuedCase | None:
        """Compare-and-set on ``case.version`` (0: insert, refused when the case exists); the events are
        stored with the write and stay there until ``published``. ``None`` when another write came first."""
        ...

    async def unpublished(
        self, case_ids: Collection[str] | None = None
    ) -> list[tuple[str, list[Event[AssignmentChanged]]]]:
        """Events written with a case (of these) and not yet marked published, per case id."""
        ...

    async def archive(self, case: QueuedCase) -> None:
        """Move a done case out of the active set (still found by ``case``)."""
        ...

    async def restore(
        self, case: QueuedCase, outbox: Sequence[Event[AssignmentChanged]] = ()
    ) -> QueuedCase | None:
        """Write a done case back into the active set (a reopened case), compare-and-set on
        ``case.version`` whether it was archived or not; ``None`` when another write came first."""
        ...

    async def archive_done(self) -> int:
        """Archive every done case whose events are all published."""
        ...

    async def published(self, case_id: str, event_ids: Collection[str]) -> None: ...

    async def record_arrival(self, case: QueuedCase) -> None: ...

    async def record_completion(self, case: QueuedCase, handle_seconds: float) -> None: ...

    async def record_answer(self, case: QueuedCase, first_response_seconds: float) -> None: ...

    async def throughput(self, queue: str, since: datetime) -> Throughput:
        """Arrivals, first responses and completions since then (at most the last two hours)."""
        ...


class AssignmentFeed(Protocol):
    async def publish(self, events: Sequence[Event[AssignmentChanged]]) -> None: ...


class StatsFeed(Protocol):
    async def publish_stats(self, stats: Sequence[QueueStats]) -> None: ...
