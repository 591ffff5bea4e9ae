"""CRM integrations through profile's API (``admin:write`` to change, ``admin:read`` to read).

- ``PUT /v1/integrations/{integration_id}``: create (201) or replace (200) an integration: its name, CRM,
  the origins allowed to frame the profile card and, optionally, its Zendesk app's shared secret
  (write-only: omitted keeps it, ``null`` clears it).
- ``GET /v1/integrations/{integration_id}``: the integration and its keys (never a key or secret).
- ``POST /v1/integrations/{integration_id}/api-keys``: a new read-only API key, shown once (201).
- ``POST .../api-keys/{key_id}:rotate?overlap_hours=24``: a new key; the old one works for the overlap.
- ``POST .../api-keys/{key_id}:revoke``: the key stops working at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.common.http import Principal, problem, require_scopes
from services.profile.adapters.inbound.crm_auth import Integrations
from services.profile.core.integrations import (
    DEFAULT_ROTATION_OVERLAP,
    INTEGRATION_ID_PATTERN,
    MAX_ROTATION_OVERLAP,
    ApiKey,
    CrmKind,
    Integration,
    InvalidOriginError,
)
from services.profile.integrations import UNCHANGED, KeyChange, KeyProblem

IntegrationId = Annotated[str, Path(pattern=INTEGRATION_ID_PATTERN)]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]
Admin = Annotated[Principal, Depends(require_scopes("admin:write"))]
AdminReader = Annotated[Principal, Depends(require_scopes("admin:read"))]
_PROBLEMS = {
    KeyProblem.NO_INTEGRATION: (404, "No integration with that id."),
    KeyProblem.NO_KEY: (404, "The integration has no key with that id."),
    KeyProblem.REVOKED: (409, "The key is revoked or expired: issue a new one instead."),
}


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    crm: CrmKind
    frame_origins: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list,
        max_length=20,
        description="Origins allowed to embed the card, https://host[:port].",
    )
    zendesk_shared_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="An older Zendesk app's shared secret for signed URLs (HS256); write-only. Omit to keep.",
    )
    zendesk_public_key: str | None = Field(
        default=None,
        min_length=100,
        max_length=4000,
        pattern=r"^\s*-----BEGIN PUBLIC KEY-----",
        description="The Zendesk app's public key (PEM) for its ZAF JWT (RS256). Omit to keep.",
    )


class ApiKeyOut(BaseModel):
    key_id: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedKeyOut(ApiKeyOut):
    api_key: str = Field(description="Shown only now: store it in the CRM's credential store.")
    replaces: ApiKeyOut | None = None


class IntegrationOut(BaseModel):
    integration_id: str
    name: str
    crm: CrmKind
    frame_origins: list[str]
    zendesk_signed_urls: bool
    created_at: datetime
    updated_at: datetime
    api_keys: list[ApiKeyOut]


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=key.key_id, created_at=key.created_at, expires_at=key.expires_at, revoked_at=key.revoked_at
    )


def integration_out(integration: Integration, keys: list[ApiKey]) -> IntegrationOut:
    return IntegrationOut(
        integration_id=integration.integration_id,
        name=integration.name,
        crm=integration.crm,
        frame_origins=list(integration.frame_origins),
        zendesk_signed_urls=integration.zendesk_secret is not None,
        created_at=integration.created_at,
        updated_at=integration.updated_at,
        api_keys=[key_out(key) for key in keys],
    )


def _issued(change: KeyChange) -> IssuedKeyOut | JSONResponse:
    if change.problem is not None:
        status, detail = _PROBLEMS[change.problem]
        return problem(status, detail)
    assert change.issued is not None
    record = change.issued.record
    return IssuedKeyOut(
        **key_out(record).model_dump(),
        api_key=change.issued.text,
        replaces=None if change.changed is None else key_out(change.changed),
    )


def integrations_router() -> APIRouter:
    router = APIRouter(prefix="/v1/integrations", tags=["integrations"])
    missing: dict[int | str, dict[str, Any]] = {404: {}}

    @router.put("/{integration_id}", response_model=IntegrationOut, responses={201: {}, 422: {}})
    async def put_integration(
        integration_id: IntegrationId, body: IntegrationIn, _: Admin, integrations: Integrations
    ) -> JSONResponse:
        given = {"zendesk_shared_secret", "zendesk_public_key"} & body.model_fields_set
        if len(given) > 1:
            return problem(422, "Give the Zendesk app's public key or its shared secret, not both.")
        secret = getattr(body, given.pop()) if given else UNCHANGED
        try:
            integration, created = await integrations.put(
                integration_id,
                name=body.name,
                crm=body.crm,
                frame_origins=body.frame_origins,
                zendesk_secret=secret,
            )
        except InvalidOriginError as exc:
            return problem(422, f"A frame origin is not valid: {exc}.")
        out = integration_out(integration, await integrations.keys(integration_id))
        return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)

    @router.get("/{integration_id}", response_model=IntegrationOut, responses=missing)
    async def get_integration(
        integration_id: IntegrationId, _: AdminReader, integrations: Integrations
    ) -> IntegrationOut | JSONResponse:
        integration = await integrations.get(integration_id)
        if integration is None:
            return problem(404, "No integration with that id.")
        return integration_out(integration, await integrations.keys(integration_id))

    @router.post(
        "/{integration_id}/api-keys", status_code=201, response_model=IssuedKeyOut, responses=missing
    )
    async def issue_key(
        integration_id: IntegrationId, _: Admin, integrations: Integrations
    ) -> IssuedKeyOut | JSONResponse:
        return _issued(await integrations.issue(integration_id))

    @router.post(
        "/{integration_id}/api-keys/{key_id}:rotate",
        status_code=201,
        response_model=IssuedKeyOut,
        responses={404: {}, 409: {}},
    )
    async def rotate_key(
        integration_id: IntegrationId,
        key_id: KeyId,
        _: Admin,
        integrations: Integrations,
        overlap_hours: Annotated[
            float, Query(ge=0, le=MAX_ROTATION_OVERLAP.total_seconds() / 3600)
        ] = DEFAULT_ROTATION_OVERLAP.total_seconds() / 3600,
    ) -> IssuedKeyOut | JSONResponse:
        return _issued(await integrations.rotate(integration_id, key_id, timedelta(hours=overlap_hours)))

    @router.post("/{integration_id}/api-keys/{key_id}:revoke", response_model=ApiKeyOut, responses=missing)
    async def revoke_key(
        integration_id: IntegrationId, key_id: KeyId, _: Admin, integrations: Integrations
    ) -> ApiKeyOut | JSONResponse:
        change = await integrations.revoke(integration_id, key_id)
        if change.problem is not None:
            status, detail = _PROBLEMS[change.problem]
            return problem(status, detail)
        assert change.changed is not None
        return key_out(change.changed)

    return router
