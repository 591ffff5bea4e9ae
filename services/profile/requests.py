"""Changes asked of profile through its API: closing a case, recording a consent decision, merging
customers, undoing a merge, and deciding merges held for review.

Each becomes an event on ``profile-requests.v1``, keyed by the customer, that the worker applies like
any channel event: in order with the customer's other events, replayable, on the timeline. The API
answers once the broker acknowledged it. An ``Idempotency-Key`` makes the event id stable, so a retried
request is applied once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from schemas.cases import CaseCloseRequested, CaseStatus, CloseReason
from schemas.catalog import event_type_of
from schemas.customers import ConsentRecorded, MergeRequested, Purpose, UnmergeRequested
from schemas.envelope import Event
from services.profile.core.cases import Case
from services.profile.core.ids import stable_id
from services.profile.core.observe import ProfileRequest
from services.profile.ports import Review, Reviews, ReviewStatus
from services.profile.queries import Found, MergedAway, ProfileQueries

SOURCE = "/profile/api"


class RequestPublisher(Protocol):
    async def publish(self, event: Event[ProfileRequest]) -> None:
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


class Conflict(StrEnum):
    ALREADY_ONE = "already_one"  # the customers named are one customer already
    ALREADY_UNDONE = "already_undone"
    ALREADY_DECIDED = "already_decided"
    NOT_IN_PLACE = "not_in_place"  # the survivor was merged on: undo that merge first


class ProfileRequests:
    def __init__(
        self,
        queries: ProfileQueries,
        reviews: Reviews,
        publisher: RequestPublisher,
        clock: Callable[[], datetime],
    ) -> None:
        self._queries = queries
        self._reviews = reviews
        self._publisher = publisher
        self._clock = clock

    async def merge(
        self,
        customer_ids: Sequence[str],
        *,
        client: str,
        idempotency_key: str | None,
        review_id: str | None = None,
    ) -> Accepted | Conflict | None:
        """Merge customers known to be one person; None when one of them is unknown."""
        survivors: list[str] = []
        for customer_id in customer_ids:
            found = await self._queries.customer(customer_id)
            if found is None:
                return None
            survivor = found.customer.customer_id if isinstance(found, Found) else found.survivor
            if survivor not in survivors:
                survivors.append(survivor)
        if len(survivors) < 2:
            return Conflict.ALREADY_ONE
        payload = MergeRequested(
            customer_ids=survivors, review_id=review_id, requested_by=client, requested_at=self._clock()
        )
        return await self._send(payload, survivors[0], client, idempotency_key)

    async def unmerge(
        self, merge_id: str, *, client: str, idempotency_key: str | None
    ) -> Accepted | Conflict | None:
        stored = await self._queries.merge(merge_id)
        if stored is None:
            return None
        if stored.undone_at is not None:
            return Conflict.ALREADY_UNDONE
        survivor = await self._queries.customer(stored.record.survivor_id)
        if not isinstance(survivor, Found):
            return Conflict.NOT_IN_PLACE
        payload = UnmergeRequested(
            merge_id=merge_id,
            survivor_id=stored.record.survivor_id,
            requested_by=client,
            requested_at=self._clock(),
        )
        return await self._send(payload, stored.record.survivor_id, client, idempotency_key)

    async def decide_review(
        self, review_id: str, approve: bool, *, client: str
    ) -> Accepted | Review | Conflict | None:
        """Approve (merge the held customers) or dismiss a held merge. Approving publishes the merge
        request before the review is marked, so a failure leaves it open to approve again."""
        review = await self._reviews.get(review_id)
        if review is None:
            return None
        if review.status is not ReviewStatus.OPEN:
            return Conflict.ALREADY_DECIDED
        outcome: Accepted | Conflict | None = None
        if approve:
            outcome = await self.merge(
                review.customers, client=client, idempotency_key=f"review:{review_id}", review_id=review_id
            )
            if outcome is None:
                return None
        status = ReviewStatus.APPROVED if approve else ReviewStatus.DISMISSED
        if not await self._reviews.decide(review_id, status, client, self._clock()):
            return Conflict.ALREADY_DECIDED
        if isinstance(outcome, Accepted):
            return outcome
        return await self._reviews.get(review_id)

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
        payload: ProfileRequest,
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
        event = Event[ProfileRequest](
            id=request_id, source=SOURCE, type=name, time=now, key=customer_id, data=payload
        )
        await self._publisher.publish(event)
        return Accepted(request_id, customer_id)
