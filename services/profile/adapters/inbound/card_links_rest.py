"""Signed links to the profile card, for an integration to put in its CRM's iframe.

``POST /v1/card-links`` (a bearer token with ``customers:read``, or the integration's API key) with
``customer_id`` or ``identifier`` (``kind:value``, or a bare email or phone), optionally ``lang`` and
``ttl_seconds`` (up to the configured maximum): 201 ``{url, expires_at}``, ``url`` being the path and
query to open under profile's base URL. A key mints links for its own integration only; a bearer token
names the integration in ``integration``. Whether the customer exists is not checked here: the card says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.http import problem
from services.profile.adapters.inbound.crm_auth import CrmReader
from services.profile.card import CardService, MintProblem


class CardLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    integration: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="The integration the link is for; required with a bearer token, implied by an API key.",
    )
    # No control characters or slashes: never part of an id this service makes.
    customer_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f/]+$"
    )
    identifier: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="kind:value (email:ola@example.no, phone:+4791234567, customer_number:10042), or a "
        "bare email or phone number.",
    )
    lang: Literal["nb", "sv", "da", "en"] | None = Field(
        default=None, description="The card's language; without it, the agent's browser decides."
    )
    ttl_seconds: int | None = Field(default=None, ge=1, description="How long the link works.")

    @model_validator(mode="after")
    def _one_customer(self) -> Self:
        if (self.customer_id is None) == (self.identifier is None):
            raise ValueError("give either customer_id or identifier")
        return self

    def __repr__(self) -> str:  # the identifier stays out of tracebacks and logs
        return f"CardLinkIn(integration={self.integration!r}, lang={self.lang!r})"


class CardLinkOut(BaseModel):
    url: str = Field(description="Path and query of the card, relative to the profile API's base URL.")
    expires_at: datetime


async def _cards(request: Request) -> CardService:  # async: a sync dependency costs a thread hop
    cards: CardService = request.app.state.cards
    return cards


Cards = Annotated[CardService, Depends(_cards)]


def card_links_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["profile card"])

    @router.post(
        "/card-links", status_code=201, response_model=CardLinkOut, responses={403: {}, 404: {}, 422: {}}
    )
    async def mint_card_link(body: CardLinkIn, caller: CrmReader, cards: Cards) -> CardLinkOut | JSONResponse:
        integration_id = caller.integration_id or body.integration
        if integration_id is None:
            return problem(422, "Name the integration the link is for (integration).")
        if caller.integration_id is not None and body.integration not in {None, caller.integration_id}:
            return problem(403, "An API key mints links for its own integration only.")
        max_seconds = int(cards.max_ttl.total_seconds())
        if body.ttl_seconds is not None and body.ttl_seconds > max_seconds:
            return problem(422, f"ttl_seconds is at most {max_seconds}.")
        minted = await cards.mint(
            integration_id,
            customer_id=body.customer_id,
            identifier=body.identifier,
            language=body.lang,
            ttl=None if body.ttl_seconds is None else timedelta(seconds=body.ttl_seconds),
        )
        if isinstance(minted, MintProblem):
            return _refused(minted)
        return CardLinkOut(url=minted.url, expires_at=minted.expires_at)

    return router


def _refused(reason: MintProblem) -> JSONResponse:
    if reason is MintProblem.NO_INTEGRATION:
        return problem(404, "No integration with that id.")
    # Like the other validation problems, naming the field and never echoing its value.
    return problem(
        422, "The identifier is not valid.", errors=[{"loc": ["body", "identifier"], "type": "value_error"}]
    )
