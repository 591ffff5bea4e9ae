"""What the webhook intake writes for consumed messages, against the real MongoDB-wire server: after a
customer was erased, nothing more about them is told (a case event consumed after the tombstone),
while everyone else's changes still go out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from schemas.cases import CaseChange
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_webhooks import (
    MongoWebhookDeliveries,
    MongoWebhookSubscriptions,
)
from services.profile.core.erasure import ErasurePlan
from services.profile.core.webhooks import PROFILES_TOPIC, SourceMessage
from services.profile.indexes import INDEXES
from services.profile.webhooks import WebhookIntake
from tests.profile.webhook_messages import NOW, case_message, profile_message, subscription
from tests.support.databases import own_database

pytestmark = pytest.mark.integration


@dataclass
class Intake:
    intake: WebhookIntake
    deliveries: MongoWebhookDeliveries
    privacy: MongoPrivacyStore


@pytest.fixture
async def intake(infra: CommonSettings) -> AsyncIterator[Intake]:
    async with own_database(infra, "profile-webhook-intake", INDEXES) as db:
        subscriptions = MongoWebhookSubscriptions(db)
        await subscriptions.add(subscription())
        deliveries = MongoWebhookDeliveries(db)
        privacy = MongoPrivacyStore(db)
        yield Intake(WebhookIntake(subscriptions, deliveries, privacy, lambda: NOW), deliveries, privacy)


async def told_about(intake: Intake) -> list[str]:
    page = await intake.deliveries.page("sub-1", status=None, limit=50, before=None)
    return [record.event_type.value for record in page]


async def test_after_an_erase_a_late_case_event_of_that_customer_is_not_told(intake: Intake) -> None:
    await intake.privacy.record_erasure(ErasurePlan("erasure-1", "kari", ("kari",), (), NOW))
    tombstone = SourceMessage(PROFILES_TOPIC, 2, 20, NOW, "kari", None)
    late_case = case_message(CaseChange.CLOSED, offset=30)  # another topic, consumed after the tombstone
    other = profile_message(["tier"], offset=31, customer_id="ola")

    assert await intake.intake.record([tombstone, late_case, other]) == 2

    assert sorted(await told_about(intake)) == ["customer.erased", "customer.updated"]


async def test_a_customer_not_erased_is_told_everything(intake: Intake) -> None:
    assert await intake.intake.record([case_message(CaseChange.OPENED), profile_message(["tier"])]) == 2
    assert sorted(await told_about(intake)) == ["case.opened", "customer.updated"]
