"""Profile's privacy API (scope ``customers:write``): export and erase one person.

- ``GET /v1/customers/{customer_id}/export``: everything stored about the person, as one JSON document;
  a merged-away id answers 308 to its survivor's export.
- ``POST /v1/customers/{customer_id}:erase``: erase the person everywhere (documents, tombstones on the
  compacted profile topic) and answer the receipt; a repeated erase answers the same receipt.

The service is ``request.app.state.privacy`` (a ``PrivacyService``). Nothing here logs or echoes an id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel

from services.common.http import Principal, problem, require_scopes
from services.profile.core.erasure import ErasureReceipt
from services.profile.privacy import Export, PrivacyService

CustomerWriter = Annotated[Principal, Depends(require_scopes("customers:write"))]
# No control characters: they are never part of an id this service makes.
CustomerId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class ExportOut(BaseModel):
    customer_id: str
    merged_customer_ids: list[str]
    customers: list[dict[str, Any]]
    links: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    merges: list[dict[str, Any]]


class ErasureReceiptOut(BaseModel):
    erasure_id: str
    customer_id: str
    customer_ids: list[str]
    erased_at: datetime
    deleted: dict[str, int]
    tombstones: int
    completed: bool


async def _privacy(request: Request) -> PrivacyService:  # async: a sync dependency costs a thread hop
    privacy: PrivacyService = request.app.state.privacy
    return privacy


Privacy = Annotated[PrivacyService, Depends(_privacy)]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def export_out(export: Export) -> ExportOut:
    return ExportOut(
        customer_id=export.customer_id,
        merged_customer_ids=list(export.merged_customer_ids),
        customers=export.customers,
        links=export.links,
        timeline=export.timeline,
        reviews=export.reviews,
        cases=export.cases,
        merges=export.merges,
    )


def receipt_out(receipt: ErasureReceipt) -> ErasureReceiptOut:
    return ErasureReceiptOut(
        erasure_id=receipt.erasure_id,
        customer_id=receipt.customer_id,
        customer_ids=list(receipt.customer_ids),
        erased_at=receipt.erased_at,
        deleted=dict(receipt.deleted),
        tombstones=receipt.tombstones,
        completed=receipt.completed,
    )


def _not_found() -> JSONResponse:
    return problem(404, "No customer with that id.")


def privacy_router(clock: Callable[[], datetime] = _utc_now) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["privacy"])

    @router.get(
        "/customers/{customer_id}/export",
        response_model=ExportOut,
        responses={
            404: {"description": "Unknown customer"},
            308: {"description": "Merged away: see Location for the survivor's export"},
        },
    )
    async def export_customer(
        customer_id: CustomerId, _: CustomerWriter, privacy: Privacy
    ) -> ExportOut | JSONResponse | RedirectResponse:
        export = await privacy.export(customer_id)
        if export is None:
            return _not_found()
        if export.customer_id != customer_id:
            return RedirectResponse(f"/v1/customers/{quote(export.customer_id, safe='')}/export", 308)
        body = export_out(export)
        return JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    @router.post(
        "/customers/{customer_id}:erase",
        response_model=ErasureReceiptOut,
        responses={404: {"description": "Unknown customer (and never erased)"}},
    )
    async def erase_customer(
        customer_id: CustomerId, _: CustomerWriter, privacy: Privacy
    ) -> ErasureReceiptOut | JSONResponse:
        receipt = await privacy.erase(customer_id, clock())
        return _not_found() if receipt is None else receipt_out(receipt)

    return router
