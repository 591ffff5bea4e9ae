"""Routing's state in MongoDB: ``routing_agents`` and the active ``routing_cases``, written by
compare-and-set on a version (``{_id, version}``, found by ``_id``); ``routing_done`` for cases that are
over; and ``routing_hours``, one document per queue and hour with its arrivals, first responses and
completions (added as sets, so a redelivered message counts once)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.envelope import Event
from schemas.routing import AssignmentChanged
from services.common.mongo import Document, find_by_ids
from services.routing.adapters.outbound.documents import agent_document, agent_from, case_document, case_from
from services.routing.core.agents import Agent
from services.routing.core.cases import CaseState, QueuedCase
from services.routing.core.stats import Throughput

AGENTS = "routing_agents"
CASES = "routing_cases"
HOURS = "routing_hours"
DONE = "routing_done"  # completed and closed cases, out of the active set that every tick reads
_ACTIVE = [CaseState.WAITING.value, CaseState.OFFERED.value, CaseState.ASSIGNED.value]


def hour_of(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def hour_key(queue: str, hour: datetime) -> str:
    return f"{queue}|{hour_of(hour).isoformat()}"


class MongoRoutingStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._agents = db[AGENTS]
        self._cases = db[CASES]
        self._hours = db[HOURS]
        self._done = db[DONE]

    async def agents(self, agent_ids: Collection[str] | None = None) -> list[Agent]:
        if agent_ids is None:
            return [agent_from(document) async for document in self._agents.find({})]
        return [agent_from(document) for document in await find_by_ids(self._agents, agent_ids)]

    async def agent_versions(self, changed_since: datetime) -> dict[str, int]:
        found = self._agents.find({"changed_at": {"$gte": changed_since}}, {"version": 1})
        return {document["_id"]: document["version"] async for document in found}

    async def agent(self, agent_id: str) -> Agent | None:
        document = await self._agents.find_one({"_id": agent_id})
        return None if document is None else agent_from(document)

    async def save_agent(self, agent: Agent) -> Agent | None:
        saved = replace(agent, version=agent.version + 1)
        # When it was written, by this process's clock: readers ask for what changed since a while ago.
        document = agent_document(saved) | {"changed_at": datetime.now(UTC)}
        if agent.version == 0:
            try:
                await self._agents.insert_one(document)
            except DuplicateKeyError:
                return None
            return saved
        result = await self._agents.replace_one({"_id": agent.agent_id, "version": agent.version}, document)
        return saved if result.matched_count == 1 else None

    async def case(self, case_id: str) -> QueuedCase | None:
        document = await self._cases.find_one({"_id": case_id}) or await self._done.find_one({"_id": case_id})
        return None if document is None else case_from(document)

    async def cases(self, case_ids: Collection[str]) -> list[QueuedCase]:
        # Both at once: a case is in one of them, and a new one in neither.
        active, done = await asyncio.gather(
            find_by_ids(self._cases, case_ids), find_by_ids(self._done, case_ids)
        )
        seen = {document["_id"] for document in active}
        return [case_from(document) for document in (*active, *(d for d in done if d["_id"] not in seen))]

    async def active_cases(
        self, queues: Collection[str] | None = None, *, waiting_only: bool = False
    ) -> list[QueuedCase]:
        query: dict[str, Any] = {"state": CaseState.WAITING.value if waiting_only else {"$in": _ACTIVE}}
        if queues is not None:
            query["queue"] = {"$in": sorted(queues)}
        return [case_from(document) async for document in self._cases.find(query)]

    async def expired_offers(self, now: datetime) -> list[QueuedCase]:
        query = {"state": CaseState.OFFERED.value, "offer_expires_at": {"$lte": now}}
        return [case_from(document) async for document in self._cases.find(query)]

    async def save_case(
        self, case: QueuedCase, outbox: Sequence[Event[AssignmentChanged]] = ()
    ) -> QueuedCase | None:
        saved = replace(case, version=case.version + 1)
        document = case_document(saved)
        entries = [{"id": event.id, "event": event.model_dump(mode="json")} for event in outbox]
        if case.version == 0:
            try:
                await self._cases.insert_one({**document, "outbox": entries})
            except DuplicateKeyError:
                return None
            return saved
        fields = {name: value for name, value in document.items() if name != "_id"}
        update: dict[str, Any] = {"$set": fields}
        if entries:
            update["$push"] = {"outbox": {"$each": entries}}
        result = await self._cases.update_one({"_id": case.case_id, "version": case.version}, update)
        return saved if result.matched_count == 1 else None

    async def unpublished(
        self, case_ids: Collection[str] | None = None
    ) -> list[tuple[str, list[Event[AssignmentChanged]]]]:
        query: dict[str, Any] = {"outbox.0": {"$exists": True}}
        if case_ids is not None:
            query = {"_id": {"$in": sorted(case_ids)}}
        found = self._cases.find(query, {"outbox": 1})
        return [
            (
                document["_id"],
                [Event[AssignmentChanged].model_validate(entry["event"]) for entry in document["outbox"]],
            )
            async for document in found
            if document.get("outbox")
        ]

    async def archive(self, case: QueuedCase) -> None:
        document = case_document(case)
        await self._done.replace_one({"_id": case.case_id}, document, upsert=True)
        # Only the version archived leaves: a change made meanwhile stays active.
        await self._cases.delete_one({"_id": case.case_id, "version": case.version})

    async def restore(
        self, case: QueuedCase, outbox: Sequence[Event[AssignmentChanged]] = ()
    ) -> QueuedCase | None:
        """``archive`` backwards, for a reopened case. Still active (not archived yet, or archived while
        a change was made): an ordinary compare-and-set. Archived: inserted active (refused when an
        active copy exists), then the archived copy leaves only if it is still the version read; when it
        is not, the case was reopened and archived again meanwhile, so the insert, made from a stale
        read, is taken back. The active set is read first, so a copy in both is never seen twice."""
        if (saved := await self.save_case(case, outbox)) is not None:
            return saved
        saved = replace(case, version=case.version + 1)
        entries = [{"id": event.id, "event": event.model_dump(mode="json")} for event in outbox]
        try:
            await self._cases.insert_one({**case_document(saved), "outbox": entries})
        except DuplicateKeyError:
            return None
        left = await self._done.delete_one({"_id": case.case_id, "version": case.version})
        if left.deleted_count == 1:
            return saved
        await self._cases.delete_one({"_id": case.case_id, "version": saved.version})
        return None

    async def archive_done(self) -> int:
        archived = 0
        async for document in self._cases.find({"state": CaseState.DONE.value}):
            if not document.get("outbox"):
                await self.archive(case_from(document))
                archived += 1
        return archived

    async def published(self, case_id: str, event_ids: Collection[str]) -> None:
        await self._cases.update_one(
            {"_id": case_id}, {"$pull": {"outbox": {"id": {"$in": list(event_ids)}}}}
        )

    async def record_arrival(self, case: QueuedCase) -> None:
        entry = {"case_id": case.case_id, "at": case.waiting_since}
        await self._hours.update_one(
            {"_id": hour_key(case.queue, case.waiting_since)}, {"$addToSet": {"arrivals": entry}}, upsert=True
        )

    async def record_completion(self, case: QueuedCase, handle_seconds: float) -> None:
        at = case.done_at or case.waiting_since
        entry = {"case_id": case.case_id, "at": at, "handle_seconds": round(handle_seconds, 3)}
        await self._hours.update_one(
            {"_id": hour_key(case.queue, at)}, {"$addToSet": {"completions": entry}}, upsert=True
        )

    async def record_answer(self, case: QueuedCase, first_response_seconds: float) -> None:
        at = case.assigned_at or case.waiting_since
        entry = {"case_id": case.case_id, "at": at, "seconds": round(first_response_seconds, 3)}
        await self._hours.update_one(
            {"_id": hour_key(case.queue, at)}, {"$addToSet": {"answers": entry}}, upsert=True
        )

    async def throughput(self, queue: str, since: datetime) -> Throughput:
        keys = [hour_key(queue, since), hour_key(queue, since + timedelta(hours=1))]
        arrivals = 0
        answers: list[float] = []
        handles: list[float] = []
        async for document in self._hours.find({"_id": {"$in": keys}}):
            arrivals += sum(1 for entry in document.get("arrivals", ()) if entry["at"] >= since)
            answers += [entry["seconds"] for entry in document.get("answers", ()) if entry["at"] >= since]
            handles += [
                entry["handle_seconds"] for entry in document.get("completions", ()) if entry["at"] >= since
            ]
        return Throughput(arrivals, tuple(answers), tuple(handles))
