"""A worker killed with SIGKILL mid-stream (between database writes and offset commits) loses and
duplicates nothing: its successor in the same consumer group re-reads what was not committed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.kafka.groups import start_group_at_the_end
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.indexes import CUSTOMERS_COLLECTION, TIMELINE_COLLECTION
from tests.profile.integration.profile_flow import (
    customers_of,
    eventually,
    fresh_email,
    interaction,
    on_timeline,
    order,
    topic_of,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CUSTOMERS = 80
ORDERS_EACH = 5


def start_worker(infra: CommonSettings, group: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HELHET_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "HELHET_MONGODB_URI": infra.mongodb_uri.get_secret_value(),
        "HELHET_WORKER_APP_ID": group,
        "HELHET_WORKER_BATCH_SIZE": "10",  # many small batches: the kill lands between some of them
        "HELHET_WORKER_BATCH_WITHIN_SECONDS": "0.1",
        "HELHET_LOG_LEVEL": "WARNING",
        "HELHET_KAFKA_SESSION_TIMEOUT_SECONDS": "6",  # the broker's minimum: the group notices the kill soon
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.profile.main", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def timeline_count(db: AsyncDatabase[Document], event_ids: list[str]) -> int:
    return await db[TIMELINE_COLLECTION].count_documents({"_id": {"$in": event_ids}})


async def test_a_killed_worker_loses_and_duplicates_nothing(
    infra: CommonSettings, db: AsyncDatabase[Document], publisher: AsyncEventPublisher
) -> None:
    group = f"test-profile-crash-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(infra, group, PROFILE_TOPICS)
    emails = [fresh_email() for _ in range(CUSTOMERS)]
    events = [
        event
        for email in emails
        for event in (interaction(email), *(order(email, amount="100.00") for _ in range(ORDERS_EACH)))
    ]
    ids = [event.id for event in events]
    for event in events:
        await publisher.publish(topic_of(event), event)

    first = start_worker(infra, group)
    try:
        await eventually(lambda: _some(db, ids), timeout_s=120, what="the first batches")
        first.send_signal(signal.SIGKILL)  # no shutdown: whatever was written but not committed is replayed
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = await timeline_count(db, ids)
    assert 0 < at_kill < len(ids), "the kill must land mid-stream for this test to mean anything"

    second = start_worker(infra, group)
    try:
        await eventually(lambda: on_timeline(db, ids), timeout_s=120, what="every event after the restart")
    finally:
        second.terminate()
        second.wait(timeout=60)

    for email in emails:
        [customer_id] = await customers_of(db, [email.key])
        customer = await db[CUSTOMERS_COLLECTION].find_one({"_id": customer_id})
        assert customer is not None
        # Every order counted exactly once, however often its batch was applied.
        assert Decimal(customer["summary"]["historic_value"]) == Decimal("100.00") * ORDERS_EACH
        assert await db[TIMELINE_COLLECTION].count_documents({"customer_id": customer_id}) == 1 + ORDERS_EACH


async def _some(db: AsyncDatabase[Document], ids: list[str]) -> bool:
    # A cheap probe (a few ids spread over the stream, by primary key), so the kill follows the first
    # batches at once: counting every id is slow on a large test database, and the stream ran out meanwhile.
    await asyncio.sleep(0)
    return await db[TIMELINE_COLLECTION].find_one({"_id": {"$in": ids[::25]}}, {"_id": 1}) is not None
