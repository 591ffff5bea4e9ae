"""Signed webhooks to CRMs, end to end on the real broker and database: profile's messages on profiles.v1
and cases.v1 → the ``webhooks`` role → a real HTTP receiver verifying every Standard Webhooks signature."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient, TopicPartition

from schemas.cases import CaseChange
from schemas.envelope import Event
from services.common.codec import encode
from services.common.http.testing import LocalIssuer
from services.common.kafka.connection import aiokafka_options, kafka_python_options
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.settings import CommonSettings
from services.profile.core.webhooks import CASES_TOPIC, PROFILES_TOPIC
from tests.profile.integration.profile_webhooks_flow import (
    Receiver,
    by_customer,
    case_changed,
    eventually,
    fresh_customer,
    profile_changed,
    webhook_stack,
)

pytestmark = pytest.mark.integration


async def test_signed_in_order_per_customer_and_nothing_lost_while_the_receiver_fails_then_recovers(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari, ola = fresh_customer(), fresh_customer()
    failures = iter(range(6))  # the first six requests fail, then the receiver is back

    def answer(_id: str, _payload: dict[str, Any]) -> int:
        return 500 if next(failures, None) is not None else 200

    receiver = Receiver({kari, ola}, answer)
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        subscription_id = await stack.subscribe(receiver)
        case_id = f"case-{uuid.uuid4().hex[:8]}"
        published: dict[str, list[str]] = {kari: [], ola: []}
        messages: list[tuple[str, Event[Any]]] = [
            (PROFILES_TOPIC, profile_changed(kari, ["tier"])),
            (PROFILES_TOPIC, profile_changed(ola, ["tier"])),
            (CASES_TOPIC, case_changed(kari, case_id, CaseChange.OPENED)),
            (PROFILES_TOPIC, profile_changed(ola, ["lifecycle"])),
            (CASES_TOPIC, case_changed(kari, case_id, CaseChange.JOINED)),
            (CASES_TOPIC, case_changed(kari, case_id, CaseChange.CLOSED)),
            (PROFILES_TOPIC, profile_changed(kari, ["consent"])),
            (PROFILES_TOPIC, profile_changed(ola, ["last_agent"])),
        ]
        for topic, event in messages:
            await publisher.publish(topic, event)
            published[event.key].append(event.id)

        async def all_accepted() -> bool:
            return len(set(receiver.accepted_ids())) == 8

        await eventually(all_accepted, what="every event delivered")
        assert receiver.unverified == 0
        assert by_customer(receiver.accepted()) == published  # each customer's events in order, once each
        # While failing, a customer's later events were never tried before its earliest was delivered.
        for customer, ids in by_customer(receiver.requests).items():
            tried = list(dict.fromkeys(ids))
            assert tried == published[customer]
        assert any(request.status == 500 for request in receiver.requests)
        types = [r.payload["type"] for r in receiver.accepted() if r.payload["data"]["customer_id"] == kari]
        assert types == [
            "helhet.customer.updated.v1",
            "helhet.case.opened.v1",
            "helhet.case.updated.v1",
            "helhet.case.closed.v1",
            "helhet.customer.updated.v1",
        ]
        log = await stack.deliveries(subscription_id, {kari, ola}, status="delivered")
        assert len(log) == 8
        assert all(d["attempts"] >= 1 for d in log)
        assert max(d["attempts"] for d in log) >= 2


async def test_a_message_consumed_twice_is_sent_once_with_a_stable_webhook_id(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari = fresh_customer()
    receiver = Receiver({kari})
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        await stack.subscribe(receiver)
        twice = profile_changed(kari, ["tier"])
        marker = profile_changed(kari, ["lifecycle"])
        for event in (twice, twice, marker):  # the same CloudEvent (same id) twice, as a producer retry does
            await publisher.publish(PROFILES_TOPIC, event)

        async def marker_seen() -> bool:
            return marker.id in receiver.accepted_ids()

        await eventually(marker_seen, what="the marker")
        assert receiver.accepted_ids() == [twice.id, marker.id]


async def test_a_receiver_answering_410_is_unsubscribed(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari = fresh_customer()
    receiver = Receiver({kari}, lambda _id, _payload: 410)
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        subscription_id = await stack.subscribe(receiver)
        for change in (["tier"], ["lifecycle"]):
            await publisher.publish(PROFILES_TOPIC, profile_changed(kari, change))

        async def unsubscribed() -> bool:
            response = await stack.api.get(f"/v1/webhooks/{subscription_id}")
            return bool(response.json()["status"] == "unsubscribed")

        await eventually(unsubscribed, what="the subscription unsubscribed")

        async def both_recorded() -> bool:
            return len(await stack.deliveries(subscription_id, {kari})) == 2

        await eventually(both_recorded, what="both deliveries recorded")
        await publisher.publish(PROFILES_TOPIC, profile_changed(kari, ["consent"]))
        await asyncio.sleep(1.0)
        assert len(receiver.requests) == 1  # the first, answered 410; nothing after
        statuses = [d["status"] for d in await stack.deliveries(subscription_id, {kari})]
        assert statuses == ["cancelled", "cancelled"]  # the one after unsubscribing was never recorded
        refused = await stack.api.post(f"/v1/webhooks/{subscription_id}:replay", params={"since": _ago(60)})
        assert refused.status_code == 409


async def test_replay_one_delivery_and_everything_since(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari = fresh_customer()
    receiver = Receiver({kari})
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        subscription_id = await stack.subscribe(receiver)
        first, second = profile_changed(kari, ["tier"]), profile_changed(kari, ["lifecycle"])
        # Replays since then take other tests' deliveries along: keep them few.
        since = (datetime.now(UTC) - timedelta(milliseconds=5)).isoformat()
        for event in (first, second):
            await publisher.publish(PROFILES_TOPIC, event)

        async def delivered(count: int) -> bool:
            return len(receiver.accepted_ids()) == count

        await eventually(lambda: delivered(2), what="both delivered")
        one = await stack.api.post(f"/v1/webhooks/{subscription_id}/deliveries/{first.id}:replay")
        assert one.status_code == 202
        assert one.json() == {"replayed": 1}
        await eventually(lambda: delivered(3), what="the replay")
        every = await stack.api.post(f"/v1/webhooks/{subscription_id}:replay", params={"since": since})
        assert every.json()["replayed"] >= 2  # other tests' customers too
        await eventually(lambda: delivered(5), what="the replay since")
        assert receiver.accepted_ids() == [first.id, second.id, first.id, first.id, second.id]
        assert receiver.unverified == 0  # each resend signed afresh
        missing = await stack.api.post(f"/v1/webhooks/{subscription_id}/deliveries/nope:replay")
        assert missing.status_code == 404


async def test_a_delivery_failing_for_the_give_up_time_is_dead_and_the_next_one_proceeds(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari, ola = fresh_customer(), fresh_customer()
    doomed = profile_changed(kari, ["tier"])
    receiver = Receiver({kari, ola}, lambda webhook_id, _payload: 500 if webhook_id == doomed.id else 200)
    async with receiver.running(), webhook_stack(infra, issuer, webhook_give_up_after_seconds=3.0) as stack:
        subscription_id = await stack.subscribe(receiver)
        after = profile_changed(kari, ["lifecycle"])
        other = profile_changed(ola, ["tier"])
        for event in (doomed, after, other):
            await publisher.publish(PROFILES_TOPIC, event)

        async def after_delivered() -> bool:
            return after.id in receiver.accepted_ids()

        await eventually(after_delivered, what="the delivery after the dead one")
        assert receiver.accepted_ids() == [other.id, after.id]  # ola was not held up by kari's failures
        [dead] = await stack.deliveries(subscription_id, {kari, ola}, status="dead")
        assert dead["delivery_id"] == doomed.id
        assert dead["last_result"] == "http_500"
        assert dead["attempts"] >= 2
        last_try = max(r.at for r in receiver.requests if r.webhook_id == doomed.id)
        assert last_try < next(r.at for r in receiver.requests if r.webhook_id == after.id)


async def test_an_erasure_is_told_and_what_was_kept_about_the_person_goes(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    kari = fresh_customer()
    receiver = Receiver({kari})
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        subscription_id = await stack.subscribe(receiver)
        update = profile_changed(kari, ["tier"])
        await publisher.publish(PROFILES_TOPIC, update)
        await eventually(_has(receiver, update.id), what="the update")
        await publisher.publish_tombstone(PROFILES_TOPIC, kari)

        async def erased() -> bool:
            return any(r.payload["type"] == "helhet.customer.erased.v1" for r in receiver.accepted())

        await eventually(erased, what="customer.erased")
        [told] = [r for r in receiver.accepted() if r.payload["type"] == "helhet.customer.erased.v1"]
        assert told.payload["data"] == {"customer_id": kari}
        assert [d["event_type"] for d in await stack.deliveries(subscription_id, {kari})] == [
            "customer.erased"
        ]


async def test_committed_offsets_pass_the_gaps_of_profiles_v1(
    infra: CommonSettings, issuer: LocalIssuer, publisher: AsyncEventPublisher
) -> None:
    """A transaction's commit marker takes an offset no consumer ever sees, as compaction leaves offsets
    no record holds: the committed offset must still reach past it (faust's stalls before it)."""
    kari = fresh_customer()
    receiver = Receiver({kari})
    async with receiver.running(), webhook_stack(infra, issuer) as stack:
        await stack.subscribe(receiver)
        event = profile_changed(kari, ["tier"])
        record = encode(event)
        producer = AIOKafkaProducer(
            transactional_id=f"test-webhooks-{uuid.uuid4().hex[:8]}", **aiokafka_options(infra)
        )
        await producer.start()
        try:
            async with producer.transaction():
                sent = await producer.send_and_wait(
                    PROFILES_TOPIC, record.value, key=record.key, headers=record.headers
                )
        finally:
            await producer.stop()
        await eventually(_has(receiver, event.id), what="the transactional message")
        partition = TopicPartition(PROFILES_TOPIC, sent.partition)
        group = stack.settings.webhook_group_id

        async def committed_past_the_marker() -> bool:
            offsets = await asyncio.to_thread(_committed, infra, group)
            return bool(offsets.get(partition, -1) >= sent.offset + 2)  # the record, then its commit marker

        await eventually(committed_past_the_marker, what="the committed offset past the marker")


async def test_subscriptions_through_the_api(infra: CommonSettings, issuer: LocalIssuer) -> None:
    async with webhook_stack(infra, issuer, webhook_allow_insecure_urls=False) as stack:
        api = stack.api
        secret = "whsec_" + "c2VjcmV0" * 2  # 12 bytes: too short
        refused = await api.post(
            "/v1/webhooks",
            json={"url": "https://crm.example.com/h", "events": ["case.opened"], "secret": secret},
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert secret not in refused.text
        for url in ("http://127.0.0.1:9/h", "https://ola:hemmelig@crm.example.com/h", "https://10.1.2.3/h"):
            bad = await api.post("/v1/webhooks", json={"url": url, "events": ["case.opened"]})
            assert bad.status_code == 422, url
            assert "hemmelig" not in bad.text
            assert bad.json()["errors"][0]["loc"] == ["body", "url"]
        unknown = await api.post("/v1/webhooks", json={"url": "https://crm.example.com/h", "events": ["x"]})
        assert unknown.status_code == 422

        created = await api.post(
            "/v1/webhooks",
            json={"url": "https://crm.example.com/h", "events": ["case.opened", "case.closed"]},
        )
        assert created.status_code == 201
        body = created.json()
        assert body["secret"].startswith("whsec_")
        assert body["status"] == "active"
        assert body["created_by"] == "test-client"
        shown = await api.get(f"/v1/webhooks/{body['id']}")
        assert shown.status_code == 200
        assert "secret" not in shown.json()
        assert body["secret"] not in (await api.get("/v1/webhooks")).text
        assert (await api.get(f"/v1/webhooks/{body['id']}/deliveries")).status_code == 200
        assert (await api.delete(f"/v1/webhooks/{body['id']}")).status_code == 204
        assert (await api.get(f"/v1/webhooks/{body['id']}")).status_code == 404
        assert (await api.get(f"/v1/webhooks/{body['id']}/deliveries")).status_code == 404


def _has(receiver: Receiver, webhook_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return webhook_id in receiver.accepted_ids()

    return check


def _ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def _committed(infra: CommonSettings, group: str) -> dict[TopicPartition, int]:
    admin = KafkaAdminClient(**kafka_python_options(infra))
    try:
        return {tp: meta.offset for tp, meta in admin.list_group_offsets({group: None})[group].items()}
    finally:
        admin.close()
