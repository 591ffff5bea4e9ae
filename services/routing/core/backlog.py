"""The waiting cases, arranged so the best case for an agent is found without scoring every case.

A case's score is a static part plus a part that only grows with its wait, and that growth is the same
function for every case of one (queue, channel). Within such a group, the cases are kept twice: by
static part (highest first) and by age (oldest first). Reading both lists in step, no unread case can beat
``next static + growth(next age)``, so the search stops once the best found reaches that bound (Fagin's
threshold algorithm): exact, and usually after a handful of cases. Starving cases rank above all others;
they are the oldest, so they are a prefix of the age list.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from schemas.interactions import Channel
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.rules import QueueRules, RoutingRules
from services.routing.core.score import static_points, waiting_points

# Lower sorts first: starving before not, then higher total, then older, then id.
Rank = tuple[bool, float, datetime, str]
_LAST_ID = "\U0010ffff"  # sorts after every case id: bisects to the end of an instant's entries
_Entry = TypeVar("_Entry", tuple[float, str], tuple[datetime, str])


@dataclass
class _Group:
    queue: QueueRules
    by_static: list[tuple[float, str]] = field(default_factory=list)  # (-static, case id)
    by_age: list[tuple[datetime, str]] = field(default_factory=list)  # (waiting since, case id)


class Backlog:
    def __init__(self, cases: Iterable[QueuedCase], rules: RoutingRules) -> None:
        self._rules = rules
        self._cases: dict[str, QueuedCase] = {}
        self._static: dict[str, float] = {}
        self._groups: dict[tuple[str, Channel], _Group] = {}
        for case in cases:
            self.add(case)

    def __len__(self) -> int:
        return len(self._cases)

    def __iter__(self) -> Iterator[QueuedCase]:
        return iter(self._cases.values())

    def get(self, case_id: str) -> QueuedCase | None:
        return self._cases.get(case_id)

    def add(self, case: QueuedCase) -> None:
        """Hold a waiting case (others are ignored); a case already held is replaced."""
        self.remove(case.case_id)
        if case.state is not CaseState.WAITING:
            return
        static = static_points(case, self._rules.weights)
        key = (case.queue, case.channel)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(self._rules.queue(case.queue))
        bisect.insort(group.by_static, (-static, case.case_id))
        bisect.insort(group.by_age, (case.waiting_since, case.case_id))
        self._cases[case.case_id] = case
        self._static[case.case_id] = static

    def remove(self, case_id: str) -> None:
        case = self._cases.pop(case_id, None)
        if case is None:
            return
        static = self._static.pop(case_id)
        group = self._groups[(case.queue, case.channel)]
        _discard(group.by_static, (-static, case_id))
        _discard(group.by_age, (case.waiting_since, case_id))

    def rank(self, case: QueuedCase, now: datetime) -> Rank:
        queue = self._rules.queue(case.queue)
        total = self._static[case.case_id] + self._growth(case, queue, now)
        return (now - case.waiting_since < queue.starvation_after, -total, case.waiting_since, case.case_id)

    def ranked(self, now: datetime) -> list[QueuedCase]:
        """Every waiting case, best first."""
        return sorted(self._cases.values(), key=lambda case: self.rank(case, now))

    def best(
        self,
        accept: Callable[[QueuedCase], bool],
        now: datetime,
        queues: Iterable[str] | None = None,
        channels: Iterable[Channel] | None = None,
    ) -> QueuedCase | None:
        """The best-ranked waiting case ``accept`` takes (in the given queues and channels: a group the
        taker has no room for is never read)."""
        wanted = None if queues is None else set(queues)
        reachable = None if channels is None else set(channels)
        found: tuple[Rank, QueuedCase] | None = None
        for (queue_name, channel), group in self._groups.items():
            if wanted is not None and queue_name not in wanted:
                continue
            if reachable is not None and channel not in reachable:
                continue
            candidate = self._best_in(group, accept, now)
            if candidate is not None and (found is None or candidate[0] < found[0]):
                found = candidate
        return None if found is None else found[1]

    def _growth(self, case: QueuedCase, queue: QueueRules, now: datetime) -> float:
        return waiting_points((now - case.waiting_since).total_seconds(), queue, self._rules.weights)

    def _best_in(
        self, group: _Group, accept: Callable[[QueuedCase], bool], now: datetime
    ) -> tuple[Rank, QueuedCase] | None:
        # Starving cases rank above all others and are the oldest: a prefix of the age list, searched
        # the same way first.
        starving_before = now - group.queue.starvation_after
        starving = bisect.bisect_right(group.by_age, (starving_before, _LAST_ID))
        if starving:

            def is_starving(case_id: str) -> bool:
                return self._cases[case_id].waiting_since <= starving_before

            found = self._threshold(group, accept, now, group.by_age[:starving], is_starving)
            if found is not None:
                return found
        return self._threshold(group, accept, now, group.by_age, None)

    def _threshold(
        self,
        group: _Group,
        accept: Callable[[QueuedCase], bool],
        now: datetime,
        by_age: list[tuple[datetime, str]],
        member: Callable[[str], bool] | None,
    ) -> tuple[Rank, QueuedCase] | None:
        """The best case ``accept`` takes among ``by_age`` (the members, oldest first), reading the
        static order (``member`` filters it to the same cases) in step until nothing unread can win."""
        statics = (entry for entry in group.by_static if member is None or member(entry[1]))
        ages = iter(by_age)
        best: tuple[Rank, QueuedCase] | None = None
        seen: set[str] = set()
        next_static, next_age = next(statics, None), next(ages, None)
        while next_static is not None and next_age is not None:
            for _, case_id in (next_static, next_age):
                if case_id in seen:
                    continue
                seen.add(case_id)
                case = self._cases[case_id]
                if accept(case):
                    rank = self.rank(case, now)
                    if best is None or rank < best[0]:
                        best = (rank, case)
            next_static, next_age = next(statics, None), next(ages, None)
            if best is None or next_static is None or next_age is None:
                continue  # (a list read to its end has shown every member)
            bound = -next_static[0] + waiting_points(
                (now - next_age[0]).total_seconds(), group.queue, self._rules.weights
            )
            if -best[0][1] > bound:
                break
        return best


def _discard(items: list[_Entry], item: _Entry) -> None:
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]
