"""Changes asked of profile through its API: closing a case and recording a consent decision.

Each becomes an event on ``profile-requests.v1``, keyed by the customer, that the worker applies like
any channel event: in order with the customer's other events, replayable, on the timeline. The API
answers once the broker acknowledged it. An ``Idempotency-Key`` makes the event id stable, so a retried
request is applied once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.cases import CaseCloseRequested, CaseStatus, CloseReason
from schemas.catalog import event_type_of
from schemas.customers import ConsentRecorded, Purpose
from schemas.envelope import Event
from services.profile.core.cases import Case
from services.profile.core.ids import stable_id
from services.profile.queries import Found, MergedAway, ProfileQueries

SOURCE = "/profile/api"


class RequestPublisher(Protocol):
    async def publish(self, event: Event[CaseCloseRequested] | Event[ConsentRecorded]) -> None:
        """Return once the broker acknowledged the event; raise ``RequestNotAcceptedError`` otherwise."""


class RequestNotAcceptedError(Exception):
    """The broker did not acknowledge: nothing was accepted, the caller may retry."""


@dataclass(frozen=True)
class Accepted:
    request_id: str
    customer_id: str


@dataclass(frozen=True)
class AlreadyClosed:
    case: Case


class ProfileRequests:
    def __init__(
        self, queries: ProfileQueries, publisher: RequestPublisher, clock: Callable[[], datetime]
    ) -> None:
        self._queries = queries
        self._publisher = publisher
        self._clock = clock

    async def close_case(
        self, case_id: str, reason: CloseReason, *, client: str, idempotency_key: str | None
    ) -> Accepted | AlreadyClosed | None:
        """Ask the worker to close the case; None when no such case exists."""
        found = await self._queries.case(case_id)
        if found is None:
            return None
        customer_id, case = found
        if case.status is CaseStatus.CLOSED:
            return AlreadyClosed(case)
        payload = CaseCloseRequested(
            case_id=case_id,
            customer_id=customer_id,
            reason=reason,
            requested_by=client,
            requested_at=self._clock(),
        )
        return await self._send(payload, customer_id, client, idempotency_key)

    async def record_consent(
        self,
        customer_id: str,
        purpose: Purpose,
        granted: bool,
        *,
        decided_at: datetime | None,
        client: str,
        idempotency_key: str | None,
    ) -> Accepted | MergedAway | None:
        """Record a consent decision; a merged-away id answers where its survivor is."""
        found = await self._queries.customer(customer_id)
        if not isinstance(found, Found):
            return found
        payload = ConsentRecorded(
            customer_id=customer_id,
            purpose=purpose,
            granted=granted,
            source=f"api:{client}",
            occurred_at=decided_at or self._clock(),
        )
        return await self._send(payload, customer_id, client, idempotency_key)

    async def _send(
        self,
        payload: CaseCloseRequested | ConsentRecorded,
        customer_id: str,
        client: str,
        idempotency_key: str | None,
    ) -> Accepted:
        name = event_type_of(type(payload)).name
        request_id = (
            str(uuid.uuid4())
            if idempotency_key is None
            else stable_id("profile-request", f"{client}\x00{name}\x00{idempotency_key}")
        )
        now = self._clock()
        event: Event[CaseCloseRequested] | Event[ConsentRecorded]
        match payload:
            case CaseCloseRequested():
                event = Event[CaseCloseRequested](
                    id=request_id, source=SOURCE, type=name, time=now, key=customer_id, data=payload
                )
            case ConsentRecorded():
                event = Event[ConsentRecorded](
                    id=request_id, source=SOURCE, type=name, time=now, key=customer_id, data=payload
                )
        await self._publisher.publish(event)
        return Accepted(request_id, customer_id)
