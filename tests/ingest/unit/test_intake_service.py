"""The intake service layer against fakes: dedupe, publish-before-answer, release on broker failure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from schemas.envelope import Event
from schemas.identifiers import IdentifierKind, identify
from schemas.interactions import Channel, Direction, InteractionReceived
from services.ingest.core.intake import IngestPayload
from services.ingest.ports import Claim, ClaimState, EventTooLargeError, PublishFailedError
from services.ingest.service import BrokerUnavailableError, IntakeService, ItemTooLargeError, Submission

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class FakeDedupe:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}  # key -> (event id, state)

    async def claim_many(
        self, claim_id: str, wanted: Sequence[tuple[str, str]], now: datetime
    ) -> list[Claim]:
        claims = []
        for key, event_id in wanted:
            if key not in self.rows:
                self.rows[key] = (event_id, "pending")
                claims.append(Claim(ClaimState.NEW, event_id))
            elif self.rows[key][1] == "released":
                self.rows[key] = (self.rows[key][0], "pending")
                claims.append(Claim(ClaimState.NEW, self.rows[key][0]))
            else:
                state = ClaimState.PUBLISHED if self.rows[key][1] == "published" else ClaimState.IN_FLIGHT
                claims.append(Claim(state, self.rows[key][0]))
        return claims

    async def confirm(self, claim_id: str, claimed: Sequence[tuple[str, str]], now: datetime) -> None:
        for key, _ in claimed:
            self.rows[key] = (self.rows[key][0], "published")

    async def release(self, claim_id: str, keys: Sequence[str], now: datetime) -> None:
        for key in keys:
            self.rows[key] = (self.rows[key][0], "released")


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Event[IngestPayload]] = []
        self.down = False
        self.storing_only: set[int] | None = None  # the broker acknowledges only these positions
        self.too_large: int | None = None  # this position is over the message size limit

    async def publish(self, events: Sequence[Event[IngestPayload]]) -> None:
        if self.too_large is not None:
            raise EventTooLargeError(self.too_large)
        if self.down:
            raise PublishFailedError("KafkaTimeoutError")
        if self.storing_only is not None:
            self.published.extend(events[i] for i in sorted(self.storing_only))
            raise PublishFailedError("KafkaTimeoutError", frozenset(self.storing_only))
        self.published.extend(events)


def an_sms(message_id: str | None = "SM1", phone: str = "912 34 567") -> InteractionReceived:
    return InteractionReceived(
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        identifiers=[identify(IdentifierKind.PHONE, phone, phone_region="NO")],
        text="Hei",
        occurred_at=NOW,
        source_message_id=message_id,
    )


@pytest.fixture
def parts() -> tuple[IntakeService, FakeDedupe, FakePublisher]:
    dedupe, publisher = FakeDedupe(), FakePublisher()
    return IntakeService(dedupe, publisher, lambda: NOW), dedupe, publisher


async def test_a_new_interaction_is_published_keyed_by_customer(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    outcome = await service.submit(Submission(an_sms(), source="/ingest/sms"))
    assert outcome.state is ClaimState.NEW
    assert [event.id for event in publisher.published] == [outcome.event_id]
    assert publisher.published[0].key == "phone:+4791234567"
    assert publisher.published[0].time == NOW


async def test_a_redelivery_is_answered_with_the_first_event_id_and_not_published(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    first = await service.submit(Submission(an_sms(), source="/ingest/sms"))
    again = await service.submit(Submission(an_sms(), source="/ingest/sms"))
    assert again.event_id == first.event_id
    assert again.state is ClaimState.PUBLISHED
    assert len(publisher.published) == 1


async def test_idempotency_keys_are_scoped_per_client(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    one = await service.submit(Submission(an_sms(None), source="/x", idempotency_key="k", client_id="a"))
    same = await service.submit(Submission(an_sms(None), source="/x", idempotency_key="k", client_id="a"))
    other = await service.submit(Submission(an_sms(None), source="/x", idempotency_key="k", client_id="b"))
    assert same.event_id == one.event_id
    assert other.event_id != one.event_id
    assert len(publisher.published) == 2


async def test_without_any_key_every_delivery_is_published(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    await service.submit(Submission(an_sms(None), source="/x"))
    await service.submit(Submission(an_sms(None), source="/x"))
    assert len(publisher.published) == 2


async def test_broker_down_claims_nothing_and_a_retry_keeps_the_event_id(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    publisher.down = True
    with pytest.raises(BrokerUnavailableError):
        await service.submit(Submission(an_sms(), source="/ingest/sms"))
    assert publisher.published == []
    publisher.down = False
    retried = await service.submit(Submission(an_sms(), source="/ingest/sms"))
    assert retried.state is ClaimState.NEW
    assert [event.id for event in publisher.published] == [retried.event_id]


async def test_a_batch_dedupes_within_itself_and_against_earlier_deliveries(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    earlier = await service.submit(Submission(an_sms("SM0"), source="/x"))
    outcomes = await service.submit_many(
        [Submission(an_sms(message_id), source="/x") for message_id in ("SM0", "SM1", "SM2", "SM1", None)]
    )
    assert [o.state for o in outcomes] == [
        ClaimState.PUBLISHED,
        ClaimState.NEW,
        ClaimState.NEW,
        ClaimState.PUBLISHED,
        ClaimState.NEW,
    ]
    assert outcomes[0].event_id == earlier.event_id
    assert outcomes[3].event_id == outcomes[1].event_id
    assert len(publisher.published) == 4


async def test_a_batch_the_broker_stored_in_part_is_kept_as_published_in_part(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    """The stored items are published (a retry gets them as duplicates), the others free to claim again;
    the retry publishes only the others, under their first event ids."""
    service, _, publisher = parts
    batch = [Submission(an_sms(f"SM-{n}"), "/ingest/twilio") for n in range(3)]
    publisher.storing_only = {0, 2}
    with pytest.raises(BrokerUnavailableError) as failed:
        await service.submit_many(batch)
    assert failed.value.accepted == {0, 2}
    first_ids = [event.id for event in publisher.published]

    publisher.storing_only = None
    retry = await service.submit_many(batch)
    published, new = ClaimState.PUBLISHED, ClaimState.NEW
    assert [outcome.state for outcome in retry] == [published, new, published]
    assert [retry[0].event_id, retry[2].event_id] == first_ids
    assert len(publisher.published) == 3
    assert publisher.published[-1].id == retry[1].event_id


async def test_an_item_too_large_for_the_broker_claims_nothing(
    parts: tuple[IntakeService, FakeDedupe, FakePublisher],
) -> None:
    service, _, publisher = parts
    batch = [Submission(an_sms(f"SM-big-{n}"), "/ingest/twilio") for n in range(3)]
    publisher.too_large = 1
    with pytest.raises(ItemTooLargeError) as refused:
        await service.submit_many(batch)
    assert refused.value.position == 1
    publisher.too_large = None
    again = await service.submit_many(batch)
    assert [outcome.state for outcome in again] == [ClaimState.NEW] * 3
