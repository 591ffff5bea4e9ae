"""Notify's state in MongoDB.

- ``notify_sends``: one document per send key (its ``_id``): the unique key is the claim that makes a
  message go out at most once, whoever replays what.
- ``notify_cases``: what notify knows of each case (where to answer, its queue, its close and survey).
- ``notify_promises``: each promise with its due time and state, written by compare-and-set on a version.
- ``notify_deliveries``: each delivered order to ask about, and whether it was.
- ``notify_calendars`` and ``notify_stats``: each queue's calendar and its newest figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.cases import CaseCategory, CaseStatus
from schemas.interactions import Channel
from schemas.notifications import ExpectedAnswer, MessageKind
from schemas.routing import QueueStats
from services.common.mongo import Document
from services.notify.calendars import CalendarSpec
from services.notify.core.calendar import QueueCalendar
from services.notify.core.records import (
    Address,
    CaseRecord,
    DeliveryFollowUp,
    PromiseKind,
    PromiseRecord,
    PromiseState,
    SendRecord,
    SendState,
)

SENDS = "notify_sends"
CASES = "notify_cases"
PROMISES = "notify_promises"
CALENDARS = "notify_calendars"
STATS = "notify_stats"
DELIVERIES = "notify_deliveries"


class MongoNotifyStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._sends = db[SENDS]
        self._cases = db[CASES]
        self._promises = db[PROMISES]
        self._calendars = db[CALENDARS]
        self._stats = db[STATS]
        self._deliveries = db[DELIVERIES]

    # -- calendars and figures ---------------------------------------------------------------------

    async def calendar_spec(self, queue: str) -> CalendarSpec | None:
        document = await self._calendars.find_one({"_id": queue})
        return None if document is None else CalendarSpec.model_validate(document["spec"])

    async def save_calendar_spec(self, queue: str, spec: CalendarSpec) -> None:
        document = {"_id": queue, "spec": spec.model_dump(mode="json"), "changed_at": datetime.now(UTC)}
        await self._calendars.replace_one({"_id": queue}, document, upsert=True)

    async def calendar_specs(self) -> dict[str, CalendarSpec]:
        return {
            document["_id"]: CalendarSpec.model_validate(document["spec"])
            async for document in self._calendars.find({})
        }

    async def calendar(self, queue: str) -> QueueCalendar | None:
        spec = await self.calendar_spec(queue)
        return None if spec is None else spec.calendar()

    async def stats(self, queue: str) -> QueueStats | None:
        document = await self._stats.find_one({"_id": queue})
        return None if document is None else QueueStats.model_validate(document["stats"])

    async def save_stats(self, stats: QueueStats) -> bool:
        document = {"_id": stats.queue, "as_of": stats.as_of, "stats": stats.model_dump(mode="json")}
        # Only newer figures replace older ones: a late message must not undo a fresher picture.
        result = await self._stats.replace_one({"_id": stats.queue, "as_of": {"$lt": stats.as_of}}, document)
        if result.matched_count == 1:
            return True
        try:
            await self._stats.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    # -- cases ---------------------------------------------------------------------------------------

    async def case(self, case_id: str) -> CaseRecord | None:
        document = await self._cases.find_one({"_id": case_id})
        return None if document is None else _case_from(document)

    async def save_case(self, case: CaseRecord) -> None:
        await self._cases.replace_one({"_id": case.case_id}, _case_document(case), upsert=True)

    async def due_follow_ups(self, now: datetime) -> list[CaseRecord]:
        query = {"survey_sent": False, "survey_due_at": {"$lte": now}}
        return [_case_from(document) async for document in self._cases.find(query)]

    # -- deliveries ------------------------------------------------------------------------------------

    async def save_delivery(self, delivery: DeliveryFollowUp) -> bool:
        try:
            await self._deliveries.insert_one(_delivery_document(delivery))
        except DuplicateKeyError:
            return False
        return True

    async def delivery(self, order_id: str) -> DeliveryFollowUp | None:
        document = await self._deliveries.find_one({"_id": order_id})
        return None if document is None else _delivery_from(document)

    async def due_deliveries(self, now: datetime) -> list[DeliveryFollowUp]:
        query = {"sent": False, "due_at": {"$lte": now}}
        return [_delivery_from(document) async for document in self._deliveries.find(query)]

    async def delivery_surveyed(self, order_id: str) -> None:
        await self._deliveries.update_one({"_id": order_id}, {"$set": {"sent": True}})

    # -- sends ---------------------------------------------------------------------------------------

    async def last_told(self, conversation: str) -> datetime | None:
        query = {"conversation": conversation, "kind": MessageKind.ACKNOWLEDGEMENT.value}
        found = self._sends.find(query, {"claimed_at": 1}).sort("claimed_at", -1).limit(1)
        async for document in found:
            claimed: datetime = document["claimed_at"]
            return claimed.astimezone(UTC)
        return None

    async def claim(self, send: SendRecord) -> bool:
        try:
            await self._sends.insert_one(_send_document(send))
        except DuplicateKeyError:
            return False
        return True

    async def finish(self, send: SendRecord) -> None:
        await self._sends.replace_one({"_id": send.send_key}, _send_document(send))

    async def unfinished(self, claimed_before: datetime) -> list[SendRecord]:
        query = {"state": SendState.CLAIMED.value, "claimed_at": {"$lt": claimed_before}}
        return [_send_from(document) async for document in self._sends.find(query)]

    async def sends(self, case_id: str) -> list[SendRecord]:
        found = self._sends.find({"case_id": case_id}).sort("claimed_at", 1)
        return [_send_from(document) async for document in found]

    async def unpublished(self) -> list[SendRecord]:
        query = {"published": False, "state": {"$in": [SendState.SENT.value, SendState.FAILED.value]}}
        return [_send_from(document) async for document in self._sends.find(query)]

    async def published(self, send_keys: Sequence[str]) -> None:
        if send_keys:
            await self._sends.update_many({"_id": {"$in": list(send_keys)}}, {"$set": {"published": True}})

    # -- promises ------------------------------------------------------------------------------------

    async def promise(self, promise_id: str) -> PromiseRecord | None:
        document = await self._promises.find_one({"_id": promise_id})
        return None if document is None else _promise_from(document)

    async def save_promise(self, promise: PromiseRecord) -> bool:
        saved = replace(promise, version=promise.version + 1)
        document = _promise_document(saved)
        if promise.version == 0:
            try:
                await self._promises.insert_one(document)
            except DuplicateKeyError:
                return False
            return True
        result = await self._promises.replace_one(
            {"_id": promise.promise_id, "version": promise.version}, document
        )
        return result.matched_count == 1

    async def promises(self, case_id: str) -> list[PromiseRecord]:
        found = self._promises.find({"case_id": case_id}).sort("made_at", 1)
        return [_promise_from(document) async for document in found]

    async def open_promises(self, due_before: datetime | None = None) -> list[PromiseRecord]:
        query: dict[str, Any] = {"state": PromiseState.OPEN.value}
        if due_before is not None:
            query["due_at"] = {"$lt": due_before}
        return [_promise_from(document) async for document in self._promises.find(query)]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _address_document(address: Address) -> Document:
    return {
        "channel": address.channel.value,
        "to": address.to,
        "scope": address.scope,
        "in_reply_to": address.in_reply_to,
    }


def _address_from(document: Document) -> Address:
    return Address(
        Channel(document["channel"]), document["to"], document.get("scope"), document.get("in_reply_to")
    )


def _case_document(case: CaseRecord) -> Document:
    return {
        "_id": case.case_id,
        "customer_id": case.customer_id,
        "queue": case.queue,
        "channel": case.channel.value,
        "category": case.category.value,
        "status": case.status.value,
        "opened_at": case.opened_at,
        "language": case.language,
        "address": None if case.address is None else _address_document(case.address),
        "phone": case.phone,
        "consents_to_service": case.consents_to_service,
        "agent_replied": case.agent_replied,
        "agent_id": case.agent_id,
        "closed_at": case.closed_at,
        "close_reason": case.close_reason,
        "survey_due_at": case.survey_due_at,
        "survey_sent": case.survey_sent,
    }


def _case_from(document: Document) -> CaseRecord:
    address = document.get("address")
    return CaseRecord(
        case_id=document["_id"],
        customer_id=document["customer_id"],
        queue=document["queue"],
        channel=Channel(document["channel"]),
        category=CaseCategory(document["category"]),
        status=CaseStatus(document["status"]),
        opened_at=document["opened_at"].astimezone(UTC),
        language=document.get("language"),
        address=None if address is None else _address_from(address),
        phone=document.get("phone"),
        consents_to_service=document.get("consents_to_service"),
        agent_replied=document.get("agent_replied", False),
        agent_id=document.get("agent_id"),
        closed_at=_utc(document.get("closed_at")),
        close_reason=document.get("close_reason"),
        survey_due_at=_utc(document.get("survey_due_at")),
        survey_sent=document.get("survey_sent", False),
    )


def _delivery_document(delivery: DeliveryFollowUp) -> Document:
    return {
        "_id": delivery.order_id,
        "customer_id": delivery.customer_id,
        "delivered_at": delivery.delivered_at,
        "due_at": delivery.due_at,
        "address": None if delivery.address is None else _address_document(delivery.address),
        "language": delivery.language,
        "phone": delivery.phone,
        "consents_to_service": delivery.consents_to_service,
        "sent": delivery.sent,
    }


def _delivery_from(document: Document) -> DeliveryFollowUp:
    address = document.get("address")
    return DeliveryFollowUp(
        order_id=document["_id"],
        customer_id=document["customer_id"],
        delivered_at=document["delivered_at"].astimezone(UTC),
        due_at=document["due_at"].astimezone(UTC),
        address=None if address is None else _address_from(address),
        language=document.get("language"),
        phone=document.get("phone"),
        consents_to_service=document.get("consents_to_service"),
        sent=document.get("sent", False),
    )


def _send_document(send: SendRecord) -> Document:
    expected = send.expected_answer
    return {
        "_id": send.send_key,
        "case_id": send.case_id,
        "customer_id": send.customer_id,
        "kind": send.kind.value,
        "address": _address_document(send.address),
        "language": send.language,
        "subject": send.subject,
        "body": send.body,
        "claimed_at": send.claimed_at,
        "conversation": send.conversation,
        "expected_answer": None if expected is None else expected.model_dump(mode="json"),
        "promise_id": send.promise_id,
        "state": send.state.value,
        "reason": send.reason,
        "attempts": send.attempts,
        "finished_at": send.finished_at,
        "published": send.published,
    }


def _send_from(document: Document) -> SendRecord:
    expected = document.get("expected_answer")
    return SendRecord(
        send_key=document["_id"],
        case_id=document.get("case_id"),
        customer_id=document["customer_id"],
        kind=MessageKind(document["kind"]),
        address=_address_from(document["address"]),
        language=document["language"],
        subject=document.get("subject"),
        body=document["body"],
        claimed_at=document["claimed_at"].astimezone(UTC),
        conversation=document.get("conversation"),
        expected_answer=None if expected is None else ExpectedAnswer.model_validate(expected),
        promise_id=document.get("promise_id"),
        state=SendState(document["state"]),
        reason=document.get("reason"),
        attempts=document.get("attempts", 0),
        finished_at=_utc(document.get("finished_at")),
        published=document.get("published", False),
    )


def _promise_document(promise: PromiseRecord) -> Document:
    return {
        "_id": promise.promise_id,
        "case_id": promise.case_id,
        "customer_id": promise.customer_id,
        "kind": promise.kind.value,
        "queue": promise.queue,
        "made_at": promise.made_at,
        "due_at": promise.due_at,
        "state": promise.state.value,
        "starts_at": promise.starts_at,
        "updates": promise.updates,
        "settled_at": promise.settled_at,
        "version": promise.version,
    }


def _promise_from(document: Document) -> PromiseRecord:
    return PromiseRecord(
        promise_id=document["_id"],
        case_id=document["case_id"],
        customer_id=document["customer_id"],
        kind=PromiseKind(document["kind"]),
        queue=document["queue"],
        made_at=document["made_at"].astimezone(UTC),
        due_at=document["due_at"].astimezone(UTC),
        state=PromiseState(document["state"]),
        starts_at=_utc(document.get("starts_at")),
        updates=document.get("updates", 0),
        settled_at=_utc(document.get("settled_at")),
        version=document["version"],
    )
