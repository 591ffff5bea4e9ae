"""Webhook subscriptions for CRMs through profile's API (``admin:write`` to change, ``admin:read`` to read).

- ``POST /v1/webhooks`` ``{url, events, secret?}``: 201 with the subscription and its signing secret
  (the caller's, or one generated); the secret is never shown again. 422 names the field, never echoing
  the URL or the secret.
- ``GET /v1/webhooks``, ``GET /v1/webhooks/{id}``, ``DELETE /v1/webhooks/{id}`` (its deliveries go too).
- ``GET /v1/webhooks/{id}/deliveries?status=&limit=&cursor=``: the delivery log, newest first.
- ``POST /v1/webhooks/{id}/deliveries/{delivery_id}:replay``: send one delivery again (202);
  ``POST /v1/webhooks/{id}:replay?since=``: every delivery published since then (202). 409 when the
  receiver unsubscribed (answered 410).

Deliveries are CloudEvents (JSON, structured mode) signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``); see ``services.profile.core.webhooks`` for the events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from services.common.http import Principal, problem, require_scopes
from services.profile.core.webhooks import MAX_URL_LENGTH, DeliveryStatus, Subscription, WebhookEventType
from services.profile.ports import DeliveryRecord
from services.profile.webhooks import InvalidWebhookError, Refused, WebhookAdmin

AdminReader = Annotated[Principal, Depends(require_scopes("admin:read"))]
AdminWriter = Annotated[Principal, Depends(require_scopes("admin:write"))]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=100)]
DeliveryId = Annotated[str, Path(min_length=1, max_length=200)]
# A cursor is the sequence of the last delivery of the previous page.
Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{15}-[0-9]-[0-9]{5}-[0-9]{20}$")]
MAX_PAGE = 200
MAX_SUBSCRIPTIONS = 1000
_NOT_FOUND = "No webhook subscription with that id."
_NOT_ACTIVE = "The receiver unsubscribed (answered 410); create a new subscription."


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description="https; we POST here.")
    events: list[WebhookEventType] = Field(min_length=1, max_length=len(WebhookEventType))
    secret: SecretStr | None = Field(
        default=None,
        max_length=200,
        description="Standard Webhooks signing secret (whsec_ + base64 of 24-64 bytes); generated if absent.",
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[WebhookEventType]
    status: str
    created_at: datetime
    created_by: str


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown this once.")


class DeliveryOut(BaseModel):
    delivery_id: str = Field(description="The CloudEvent id, sent as webhook-id.")
    event_type: WebhookEventType
    customer_id: str
    status: DeliveryStatus
    attempts: int
    published_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_result: str | None
    finished_at: datetime | None


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


class ReplayedOut(BaseModel):
    replayed: int


async def _admin(request: Request) -> WebhookAdmin:
    admin: WebhookAdmin = request.app.state.webhooks
    return admin


Admin = Annotated[WebhookAdmin, Depends(_admin)]


def webhook_out(subscription: Subscription) -> WebhookOut:
    return WebhookOut(
        id=subscription.subscription_id,
        url=subscription.url,
        events=sorted(subscription.events),
        status=subscription.status.value,
        created_at=subscription.created_at,
        created_by=subscription.created_by,
    )


def delivery_out(record: DeliveryRecord) -> DeliveryOut:
    return DeliveryOut(
        delivery_id=record.event_id,
        event_type=record.event_type,
        customer_id=record.customer_id,
        status=record.status,
        attempts=record.attempts,
        published_at=record.published_at,
        next_attempt_at=record.next_attempt_at,
        last_attempt_at=record.last_attempt_at,
        last_result=record.last_result,
        finished_at=record.finished_at,
    )


def _replayed(outcome: int | Refused, missing: str) -> ReplayedOut | JSONResponse:
    if outcome is Refused.NOT_FOUND:
        return problem(404, missing)
    if outcome is Refused.NOT_ACTIVE:
        return problem(409, _NOT_ACTIVE)
    assert isinstance(outcome, int)
    return ReplayedOut(replayed=outcome)


def webhooks_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["webhooks"])
    missing: dict[int | str, dict[str, Any]] = {404: {}}
    replays: dict[int | str, dict[str, Any]] = {404: {}, 409: {}}

    @router.post("/webhooks", status_code=201, response_model=CreatedWebhookOut, responses={422: {}})
    async def create_webhook(
        body: WebhookIn, principal: AdminWriter, admin: Admin
    ) -> CreatedWebhookOut | JSONResponse:
        try:
            subscription = await admin.create(
                url=body.url,
                events=body.events,
                secret=None if body.secret is None else body.secret.get_secret_value(),
                created_by=principal.client_id,
            )
        except InvalidWebhookError as error:
            return problem(422, str(error), errors=[{"loc": ["body", error.field], "type": "value_error"}])
        return CreatedWebhookOut(**webhook_out(subscription).model_dump(), secret=subscription.secret)

    @router.get("/webhooks", response_model=list[WebhookOut])
    async def list_webhooks(_: AdminReader, admin: Admin) -> list[WebhookOut]:
        return [webhook_out(subscription) for subscription in await admin.every(MAX_SUBSCRIPTIONS)]

    @router.get("/webhooks/{subscription_id}", response_model=WebhookOut, responses=missing)
    async def get_webhook(
        subscription_id: SubscriptionId, _: AdminReader, admin: Admin
    ) -> WebhookOut | JSONResponse:
        subscription = await admin.get(subscription_id)
        return problem(404, _NOT_FOUND) if subscription is None else webhook_out(subscription)

    @router.delete("/webhooks/{subscription_id}", status_code=204, responses=missing)
    async def delete_webhook(subscription_id: SubscriptionId, _: AdminWriter, admin: Admin) -> Response:
        if not await admin.delete(subscription_id):
            return problem(404, _NOT_FOUND)
        return Response(status_code=204)

    @router.get("/webhooks/{subscription_id}/deliveries", response_model=DeliveriesOut, responses=missing)
    async def list_deliveries(
        subscription_id: SubscriptionId,
        _: AdminReader,
        admin: Admin,
        status: DeliveryStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Cursor = None,
    ) -> DeliveriesOut | JSONResponse:
        records = await admin.deliveries(subscription_id, status=status, limit=limit, before=cursor)
        if records is None:
            return problem(404, _NOT_FOUND)
        next_cursor = records[-1].sequence if len(records) == limit else None
        return DeliveriesOut(deliveries=[delivery_out(record) for record in records], next_cursor=next_cursor)

    @router.post(
        "/webhooks/{subscription_id}/deliveries/{delivery_id}:replay",
        status_code=202,
        response_model=ReplayedOut,
        responses=replays,
    )
    async def replay_delivery(
        subscription_id: SubscriptionId, delivery_id: DeliveryId, _: AdminWriter, admin: Admin
    ) -> ReplayedOut | JSONResponse:
        outcome = await admin.replay(subscription_id, event_id=delivery_id)
        return _replayed(outcome, "No such webhook subscription or delivery.")

    @router.post(
        "/webhooks/{subscription_id}:replay", status_code=202, response_model=ReplayedOut, responses=replays
    )
    async def replay_since(
        subscription_id: SubscriptionId,
        since: Annotated[AwareDatetime, Query()],
        _: AdminWriter,
        admin: Admin,
    ) -> ReplayedOut | JSONResponse:
        return _replayed(await admin.replay(subscription_id, since=since), _NOT_FOUND)

    return router
