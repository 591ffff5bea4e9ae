"""The supervisor's read model: one consistent-enough snapshot of routing for the dashboard (the agents,
the active cases and each queue's last hour, read one after the other), shaped by the pure
``core.supervision.board``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from services.routing.core.rules import RoutingRules
from services.routing.core.supervision import Board, board
from services.routing.ports import RoutingStore

LOOK_BACK = timedelta(hours=1)


class Dashboard:
    def __init__(self, store: RoutingStore, clock: Callable[[], datetime], rules: RoutingRules) -> None:
        self._store = store
        self._clock = clock
        self.rules = rules

    async def board(self) -> Board:
        now = self._clock()
        agents = await self._store.agents()
        cases = await self._store.active_cases()
        since = now - LOOK_BACK
        last_hour = {
            queue.name: await self._store.throughput(queue.name, since) for queue in self.rules.queues
        }
        return board(self.rules, agents, cases, last_hour, now)
