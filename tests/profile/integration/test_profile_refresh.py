"""Time alone moves a profile: a customer whose last purchase passes the at-risk threshold while nothing
happens is published at risk by the worker's own refresh, once, and looked at again only when time can
move it again."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas.customers import LifecycleStage, ProfileChanged
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.lifecycle import LifecycleConfig
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from services.profile.refresh import RefreshSweep
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh_email,
    order,
    published,
    running_worker,
    topic_of,
    worker_settings,
)

pytestmark = pytest.mark.integration


async def test_a_silent_customer_becomes_at_risk_without_any_event(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    email = fresh_email()
    # ``order`` places it three days before ``at``: the purchase passes the at-risk threshold in 4 s.
    crossing = datetime.now(UTC) + timedelta(seconds=4)
    bought = order(email, at=crossing - LifecycleConfig().at_risk_after + timedelta(days=3))
    settings = worker_settings(infra).model_copy(update={"refresh_interval_seconds": 0.5})
    async with running_worker(settings):
        await publisher.publish(topic_of(bought), bought)

        async def written() -> bool:
            return bool(await customers_of(db, [email.key]))

        await eventually(written, what="the customer")
        [customer_id] = await customers_of(db, [email.key])
        stored = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
        assert stored is not None
        assert stored["summary"]["lifecycle"] == LifecycleStage.ACTIVE.value
        assert stored["refresh_at"] > datetime.now(UTC)

        async def at_risk() -> bool:
            found = await published(infra, "profiles.v1", customer_id)
            return any(
                isinstance(e.data, ProfileChanged) and e.data.customer.lifecycle is LifecycleStage.AT_RISK
                for e in found
            )

        await eventually(at_risk, timeout_s=30, what="the at-risk profile")

    changes = [e.data for e in await published(infra, "profiles.v1", customer_id)]
    stages = [c.customer.lifecycle for c in changes if isinstance(c, ProfileChanged)]
    assert stages == [LifecycleStage.ACTIVE, LifecycleStage.AT_RISK]
    last = changes[-1]
    assert isinstance(last, ProfileChanged)
    assert "lifecycle" in last.changed
    after = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
    assert after is not None
    assert after["summary"]["lifecycle"] == LifecycleStage.AT_RISK.value
    # Next: when the purchase passes the churn threshold, not sooner.
    assert after["refresh_at"] > datetime.now(UTC) + timedelta(days=150)
    refreshes = await db[TIMELINE_COLLECTION].count_documents(
        {"customer_id": customer_id, "type": "helhet.profile.refresh_due.v1"}
    )
    assert refreshes == 1


async def test_only_the_leader_of_a_group_of_workers_sweeps(
    infra: CommonSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every replica sweeping would scan for the same customers and ask for each of them once per
    replica; the group's leader alone does it."""
    sweeps: Counter[int] = Counter()
    run_once = RefreshSweep.run_once

    async def counted(sweep: RefreshSweep) -> int:
        sweeps[id(sweep)] += 1
        return await run_once(sweep)

    monkeypatch.setattr(RefreshSweep, "run_once", counted)
    group = f"test-profile-leader-{uuid.uuid4().hex[:8]}"
    settings = worker_settings(infra, group).model_copy(update={"refresh_interval_seconds": 0.3})
    async with running_worker(settings) as one, running_worker(settings) as other:

        async def both_assigned() -> bool:
            return all(worker.app.consumer.assignment() for worker in (one, other))

        await eventually(both_assigned, timeout_s=30, what="partitions for both workers")
        sweeps.clear()  # the first to start held every partition, and swept, until the second joined
        await eventually(lambda: _at_least(sweeps, 10), timeout_s=30, what="ten sweeps")

    assert sum(sweeps.values()) >= 10
    assert len(sweeps) == 1, f"sweeps per worker: {sorted(sweeps.values())}"


async def _at_least(sweeps: Counter[int], count: int) -> bool:
    return sum(sweeps.values()) >= count


async def test_due_are_customers_whose_time_has_come_and_those_written_before_times_were_kept(
    db: AsyncDatabase[Document],
) -> None:
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]
    documents: dict[str, dict[str, Any]] = {
        f"due-{run}": {"version": 3, "refresh_at": now - timedelta(seconds=1), "merged_into": None},
        f"later-{run}": {"version": 1, "refresh_at": now + timedelta(days=1), "merged_into": None},
        f"never-{run}": {"version": 2, "refresh_at": None, "merged_into": None},  # nothing moves it
        f"old-{run}": {"version": 5, "merged_into": None},  # written before refresh times were kept
        f"old-merged-{run}": {"version": 4, "merged_into": f"old-{run}"},  # its survivor is looked at
    }
    await db[CUSTOMERS_COLLECTION].insert_many([{"_id": key, **fields} for key, fields in documents.items()])
    try:
        due = await MongoProfileStore(db).due_for_refresh(now, limit=100_000)
    finally:  # bare documents: no worker of a later test may be asked to refresh them
        await db[CUSTOMERS_COLLECTION].delete_many({"_id": {"$in": list(documents)}})
    assert {(c, v) for c, v in due if c.endswith(run)} == {(f"due-{run}", 3), (f"old-{run}", 5)}
