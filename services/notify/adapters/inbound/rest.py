"""Notify's API.

- ``PUT /v1/queues/{queue}/calendar`` (``calendars:write``): opening hours by weekday (split and overnight
  hours), holidays by country (NO, SE, DK), one-off closures, time zone; 422 for an unknown zone, an
  opening out of range or a closure that ends before it starts. ``GET`` the same (``calendars:read``;
  404 while the queue has none and the default applies).
- ``GET /v1/cases/{case_id}/notifications`` (``notifications:read``): what the customer was told, in
  order, with status (claimed, sent, failed and why) and the answer time promised.
- ``GET /v1/promises?case_id=`` (``notifications:read``): the case's promises with due time and state.
- ``POST /v1/promises`` (``notifications:write``): an agent told the customer "we wait for the supplier
  and update you by ``due_at``"; if still open then, notify sends "still waiting" updates. 201; 404
  unknown case; 409 while one is open; 422 for a time not in the next 90 days.
- ``POST /v1/promises/{promise_id}:keep`` (``notifications:write``): kept (the supplier answered, the
  call was made): 200; 404; 409 when it was settled before.
- ``GET /v1/templates`` (``templates:read``): every message kind, the variables it reads, and the
  languages it is written in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.interactions import Channel
from schemas.notifications import ExpectedAnswer, MessageKind
from services.common.http import Principal, problem, require_scopes
from services.notify.calendars import CalendarSpec
from services.notify.core.records import PromiseKind, PromiseRecord, PromiseState, SendRecord, SendState
from services.notify.delivery import notification_id
from services.notify.service import NotifyService, PromiseConflictError

CalendarWriter = Annotated[Principal, Depends(require_scopes("calendars:write"))]
CalendarReader = Annotated[Principal, Depends(require_scopes("calendars:read"))]
NotificationReader = Annotated[Principal, Depends(require_scopes("notifications:read"))]
NotificationWriter = Annotated[Principal, Depends(require_scopes("notifications:write"))]
TemplateReader = Annotated[Principal, Depends(require_scopes("templates:read"))]
QueueName = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,100}$")]
CaseId = Annotated[str, Path(min_length=1, max_length=100)]
_FURTHEST_PROMISE = timedelta(days=90)


async def _service(request: Request) -> NotifyService:
    service: NotifyService = request.app.state.service
    return service


Service = Annotated[NotifyService, Depends(_service)]


class NotificationOut(BaseModel):
    notification_id: str
    kind: MessageKind
    channel: Channel
    language: str
    state: SendState
    reason: str | None = Field(description="Why it failed: the provider's refusal code.")
    attempts: int
    subject: str | None
    text: str
    expected_answer: ExpectedAnswer | None
    promise_id: str | None
    claimed_at: datetime
    finished_at: datetime | None


class PromiseOut(BaseModel):
    promise_id: str
    case_id: str
    kind: PromiseKind
    queue: str
    state: PromiseState
    starts_at: datetime | None
    due_at: datetime
    made_at: datetime
    updates: int = Field(description="Updated times the customer was sent.")
    settled_at: datetime | None


class SupplierPromiseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(min_length=1, max_length=100)
    due_at: AwareDatetime = Field(description="When the customer was told to expect an update.")


class TemplateOut(BaseModel):
    kind: MessageKind
    variables: list[str]
    languages: list[str]


def notification_out(send: SendRecord) -> NotificationOut:
    return NotificationOut(
        notification_id=notification_id(send.send_key),
        kind=send.kind,
        channel=send.address.channel,
        language=send.language,
        state=send.state,
        reason=send.reason,
        attempts=send.attempts,
        subject=send.subject,
        text=send.body,
        expected_answer=send.expected_answer,
        promise_id=send.promise_id,
        claimed_at=send.claimed_at,
        finished_at=send.finished_at,
    )


def promise_out(promise: PromiseRecord) -> PromiseOut:
    return PromiseOut(
        promise_id=promise.promise_id,
        case_id=promise.case_id,
        kind=promise.kind,
        queue=promise.queue,
        state=promise.state,
        starts_at=promise.starts_at,
        due_at=promise.due_at,
        made_at=promise.made_at,
        updates=promise.updates,
        settled_at=promise.settled_at,
    )


def notify_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["notify"])

    @router.put("/queues/{queue}/calendar", response_model=CalendarSpec)
    async def put_calendar(
        queue: QueueName, spec: CalendarSpec, _: CalendarWriter, service: Service
    ) -> CalendarSpec:
        await service.put_calendar(queue, spec)
        return spec

    @router.get("/queues/{queue}/calendar", response_model=CalendarSpec, responses={404: {}})
    async def get_calendar(
        queue: QueueName, _: CalendarReader, service: Service
    ) -> CalendarSpec | JSONResponse:
        spec = await service.calendar_spec(queue)
        if spec is None:
            return problem(404, "The queue has no calendar of its own; the default applies.")
        return spec

    @router.get("/cases/{case_id}/notifications", response_model=list[NotificationOut])
    async def notifications(
        case_id: CaseId, _: NotificationReader, service: Service
    ) -> list[NotificationOut]:
        return [notification_out(send) for send in await service.notifications(case_id)]

    @router.get("/promises", response_model=list[PromiseOut])
    async def promises(
        case_id: Annotated[str, Query(min_length=1, max_length=100)], _: NotificationReader, service: Service
    ) -> list[PromiseOut]:
        return [promise_out(promise) for promise in await service.promises(case_id)]

    @router.post(
        "/promises", response_model=PromiseOut, status_code=201, responses={404: {}, 409: {}, 422: {}}
    )
    async def promise_supplier_update(
        body: SupplierPromiseIn, _: NotificationWriter, service: Service
    ) -> PromiseOut | JSONResponse:
        ahead = body.due_at - datetime.now(UTC)
        if not timedelta(0) < ahead <= _FURTHEST_PROMISE:
            return problem(422, "due_at must lie within the next 90 days.")
        try:
            promise = await service.promise_supplier_update(body.case_id, body.due_at)
        except PromiseConflictError as error:
            return problem(409, str(error))
        if promise is None:
            return problem(404, "Notify knows no such case.")
        return promise_out(promise)

    @router.post("/promises/{promise_id}:keep", response_model=PromiseOut, responses={404: {}, 409: {}})
    async def keep_promise(
        promise_id: Annotated[str, Path(min_length=1, max_length=200)],
        _: NotificationWriter,
        service: Service,
    ) -> PromiseOut | JSONResponse:
        try:
            promise = await service.keep_promise(promise_id)
        except PromiseConflictError as error:
            return problem(409, str(error))
        if promise is None:
            return problem(404, "No such promise.")
        return promise_out(promise)

    @router.get("/templates", response_model=list[TemplateOut])
    async def templates(_: TemplateReader) -> list[TemplateOut]:
        return [
            TemplateOut(kind=kind, variables=sorted(variables), languages=[lang.value for lang in languages])
            for kind, variables, languages in NotifyService.templates()
        ]

    return router
