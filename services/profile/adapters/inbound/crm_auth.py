"""Who may read profiles from a CRM: a bearer JWT with ``customers:read``, or an integration's API key in
the ``X-Api-Key`` header or the ``api_key`` query parameter (the Dataverse OData provider can only add
static request parameters). A key only ever reads. Query strings are blanked from traces (telemetry),
so a key in one does not travel further than the access log of a proxy in front."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from services.common.http import Principal, require_scopes
from services.profile.integrations import IntegrationService

API_KEY_HEADER = "X-Api-Key"
API_KEY_PARAMETER = "api_key"
_READ_SCOPE = "customers:read"
_bearer_reader = require_scopes(_READ_SCOPE)


@dataclass(frozen=True)
class CrmCaller:
    principal: Principal
    integration_id: str | None  # the integration whose key was presented; None for a bearer token


async def _integrations(
    request: Request,
) -> IntegrationService:  # async: a sync dependency costs a thread hop
    service: IntegrationService = request.app.state.integrations
    return service


Integrations = Annotated[IntegrationService, Depends(_integrations)]


async def crm_caller(
    request: Request,
    integrations: Integrations,
    authorization: Annotated[str | None, Header()] = None,
    header_key: Annotated[str | None, Header(alias=API_KEY_HEADER, max_length=200)] = None,
    query_key: Annotated[str | None, Query(alias=API_KEY_PARAMETER, max_length=200)] = None,
) -> CrmCaller:
    if authorization is not None:
        return CrmCaller(await _bearer_reader(request, authorization), None)
    presented = header_key or query_key
    if presented is None:
        raise HTTPException(
            401,
            f"A bearer token or an API key ({API_KEY_HEADER} header or {API_KEY_PARAMETER} parameter) "
            "is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await integrations.authenticate(presented)
    if key is None:
        raise HTTPException(
            401, "The API key is invalid, expired or revoked.", headers={"WWW-Authenticate": "Bearer"}
        )
    principal = Principal(
        subject=f"integration:{key.integration_id}",
        client_id=key.integration_id,
        scopes=frozenset({_READ_SCOPE}),
    )
    return CrmCaller(principal, key.integration_id)


CrmReader = Annotated[CrmCaller, Depends(crm_caller)]
