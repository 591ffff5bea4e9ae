"""What the ingest service layer needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from services.ingest.core.intake import IngestPayload


class ClaimState(StrEnum):
    NEW = "new"  # this delivery is the first: publish it
    PUBLISHED = "published"  # an earlier delivery was published: answer with its event id
    IN_FLIGHT = "in_flight"  # an earlier delivery is being published right now


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    event_id: str


class DedupeStore(Protocol):
    async def claim_many(
        self, claim_id: str, wanted: Sequence[tuple[str, str]], now: datetime
    ) -> list[Claim]:
        """Claim each (key, event id) for ``claim_id`` (one per request); a retry after a failed
        publish gets its first event id back."""

    async def confirm(self, claim_id: str, claimed: Sequence[tuple[str, str]], now: datetime) -> None:
        """The broker acknowledged the claim's (key, event id)s: later deliveries are duplicates. The
        store may record that after returning; a redelivery meanwhile is at worst "in flight"."""

    async def release(self, claim_id: str, keys: Sequence[str], now: datetime) -> None:
        """Publishing these keys failed: they may be claimed again at once (keeping their event ids), and
        a later ``confirm`` of the same claim (for keys of it that were published) does not cover them."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event[IngestPayload]]) -> None:
        """Return only after the broker acknowledged every event; raise ``PublishFailedError`` otherwise,
        or ``EventTooLargeError`` before sending anything."""


class FeedbackPublisher(Protocol):
    async def publish_feedback(self, event: Event[FeedbackReceived]) -> None:
        """Return only after the broker acknowledged the answer; raise ``PublishFailedError`` otherwise."""


class PublishFailedError(Exception):
    """The broker did not acknowledge in time; nothing may be reported as accepted. ``acknowledged``: the
    positions of the events it did store (a batch can be stored in part)."""

    def __init__(self, reason: str, acknowledged: frozenset[int] = frozenset()) -> None:
        super().__init__(reason)
        self.acknowledged = acknowledged


class EventTooLargeError(Exception):
    """The event at ``position`` would be over the broker's message size limit; nothing was sent."""

    def __init__(self, position: int) -> None:
        super().__init__(f"event {position} is over the message size limit")
        self.position = position
