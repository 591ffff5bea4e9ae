"""A router's planning copy of every agent.

Reading 1,000 agents whole costs 50-150 ms on the local MongoDB-wire server, and a router plans a round
for every batch of cases. So the copy is kept: when older than ``fresh_for`` it catches up by asking for
the versions of agents written lately and reading only those it lacks, and it is read whole every
``WHOLE_EVERY_SECONDS``. A stale copy only delays a match: every offer re-reads the agent it commits to.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from services.routing.core.agents import Agent
from services.routing.ports import RoutingStore

WHOLE_EVERY_SECONDS = 60.0
# "Written lately" is judged by the writers' clocks: allow them this much skew.
CLOCK_SKEW = timedelta(seconds=5)


class AgentsCopy:
    def __init__(self, store: RoutingStore, fresh_for: float) -> None:
        self._store = store
        self._fresh_for = fresh_for
        self._agents: dict[str, Agent] = {}
        self._read_at = self._whole_at = -math.inf
        self._read_wall = datetime.min.replace(tzinfo=UTC)

    async def current(self) -> list[Agent]:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._read_at < self._fresh_for:
            return list(self._agents.values())
        wall_now = datetime.now(UTC)
        if loop_now - self._whole_at >= WHOLE_EVERY_SECONDS:
            self._agents = {agent.agent_id: agent for agent in await self._store.agents()}
            self._whole_at = loop_now
        else:
            versions = await self._store.agent_versions(self._read_wall - CLOCK_SKEW)
            behind = [
                agent_id
                for agent_id, version in versions.items()
                if agent_id not in self._agents or self._agents[agent_id].version < version
            ]
            if behind:
                self._agents.update((agent.agent_id, agent) for agent in await self._store.agents(behind))
        self._read_at, self._read_wall = loop_now, wall_now
        return list(self._agents.values())

    def get(self, agent_id: str) -> Agent | None:
        """The agent as this router last read or wrote it (maybe stale: write it only by its version)."""
        return self._agents.get(agent_id)

    def saw(self, agent: Agent) -> None:
        """A copy of the agent just read or written by this router."""
        self._agents[agent.agent_id] = agent
