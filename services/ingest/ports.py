"""What the ingest service layer needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from schemas.envelope import Event
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
    async def claim_many(self, wanted: Sequence[tuple[str, str]], now: datetime) -> list[Claim]:
        """Claim each (key, event id); a retry after a failed publish gets its first event id back."""

    async def confirm_many(self, keys: Sequence[str], now: datetime) -> None:
        """The broker acknowledged: later deliveries with these keys are duplicates."""

    async def release_many(self, keys: Sequence[str]) -> None:
        """Publishing failed: the keys may be claimed again at once (keeping their event ids)."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[Event[IngestPayload]]) -> None:
        """Return only after the broker acknowledged every event; raise ``PublishFailedError`` otherwise."""


class PublishFailedError(Exception):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""
