"""Time alone moves profiles: a customer who stops buying becomes at risk, then churned; a call-back not
made in time is a broken promise; a bad experience leaves the ledger's window. Every customer write
stores when that may next happen (``core.profile.next_refresh_at``); this sweep finds the customers
whose time has come and asks the worker to look at them again, through its own requests topic, so the
look is ordered with everything else that happens to the customer and published like any change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from schemas.catalog import event_type_of
from schemas.customers import ProfileRefreshDue
from schemas.envelope import Event
from services.profile.core.ids import stable_id
from services.profile.core.observe import ProfileRequest
from services.profile.ports import RefreshRequester, RefreshStore

SOURCE = "/profile/refresh"


def refresh_request(customer_id: str, version: int, now: datetime) -> Event[ProfileRequest]:
    """One id per stored version of the customer: asked again before the worker looked, it is the same
    request (the worker skips it); asked after, it is a new one."""
    payload = ProfileRefreshDue(customer_id=customer_id, version=version, due_at=now)
    return Event[ProfileRequest](
        id=stable_id("refresh", f"{customer_id}\x00{version}"),
        source=SOURCE,
        type=event_type_of(ProfileRefreshDue).name,
        time=now,
        key=customer_id,
        data=payload,
    )


class RefreshSweep:
    def __init__(
        self, store: RefreshStore, requests: RefreshRequester, clock: Callable[[], datetime], *, batch: int
    ) -> None:
        self._store = store
        self._requests = requests
        self._clock = clock
        self._batch = batch

    async def run_once(self) -> int:
        """Ask for a look at up to one batch of due customers; returns how many were asked for."""
        now = self._clock()
        due = await self._store.due_for_refresh(now, self._batch)
        await self._requests.request([refresh_request(customer, version, now) for customer, version in due])
        return len(due)
