"""The profile card: an HTML panel a CRM shows in an iframe, next to the customer it is looking at.

- ``GET /card/customers/{customer_id}`` and ``GET /card/lookup?identifier=…`` (``kind:value`` or a bare
  email or phone): the card, with a signed link (``integration``, ``exp``, ``sig``; minted by
  ``POST /v1/card-links``). A merged-away id shows its survivor; unknown (or erased) customers a 404 page.
- ``GET /card/customers/{customer_id}/timeline``: the timeline, newest first, a page at a time.
- ``POST`` to either card address: Zendesk's signed URL, the JWT in the form field ``token`` and the
  integration in the query.

Unsigned or expired → 401, altered or not this integration's → 403; every refusal is a page without
data. Pages are in nb, sv, da or en (``lang``, else Accept-Language). Nothing is set in the browser (no
cookies, no storage): every link in a page is signed afresh by the server. Each answer allows framing
only by the integration's CRM origins (``frame-ancestors``; ``'none'`` without a known integration), has
no script, one inline stylesheet allowed by its hash, is never cached and never sends a referrer.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from services.profile.adapters.inbound.card_texts import LABELS, LANGUAGE_NAMES, WORDS
from services.profile.card import (
    CURSOR_PARAMETER,
    IDENTIFIER_PARAMETER,
    LANGUAGE_PARAMETER,
    LOOKUP_PATH,
    Access,
    CardService,
    Denied,
    card_path,
    timeline_path,
    url_path,
)
from services.profile.core.card import LANGUAGES, CardView, choose_language
from services.profile.core.card_links import Refusal
from services.profile.core.integrations import Integration
from services.profile.queries import InvalidCursorError, InvalidIdentifierError

TEMPLATES = Path(__file__).resolve().parent / "templates"
_STYLE = (TEMPLATES / "card" / "card.css").read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
# Zendesk's form holds the token and a few fields of its own; far more is not Zendesk.
_MAX_FORM_FIELDS = 20

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


class Page(StrEnum):
    UNSIGNED = "unsigned"
    EXPIRED = "expired"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"


_REFUSAL_PAGES = {
    Refusal.UNSIGNED: (Page.UNSIGNED, 401),
    Refusal.EXPIRED: (Page.EXPIRED, 401),
    Refusal.TOKEN_INVALID: (Page.UNSIGNED, 401),
    Refusal.ALTERED: (Page.FORBIDDEN, 403),
    Refusal.UNKNOWN_INTEGRATION: (Page.FORBIDDEN, 403),
    Refusal.WRONG_ACCOUNT: (Page.FORBIDDEN, 403),
}


def content_security_policy(integration: Integration | None) -> str:
    ancestors = " ".join(integration.frame_origins) if integration and integration.frame_origins else "'none'"
    return "; ".join(
        (
            "default-src 'none'",
            f"style-src 'sha256-{_STYLE_HASH}'",
            "form-action 'none'",
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
        )
    )


def _headers(integration: Integration | None, language: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(integration),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Content-Language": language,
    }


def relative(here: str, target: str) -> str:
    """``target`` (a URL path, maybe with a query) relative to the page at ``here``, so links keep working
    behind a reverse proxy that serves the API under a path prefix."""
    path, separator, query = target.partition("?")
    directory = posixpath.relpath(posixpath.dirname(path), posixpath.dirname(here))
    return posixpath.join(directory, posixpath.basename(path)) + separator + query


class _Words:
    """What a template needs to word and format things in one language."""

    def __init__(self, language: str, *, zone: ZoneInfo, currency: str) -> None:
        self.language = language
        self._zone = zone
        self._currency = currency

    def context(self) -> dict[str, Any]:
        return {
            "lang": self.language,
            "w": WORDS[self.language],
            "label": self.label,
            "when": self.when,
            "iso": self.iso,
            "money": self.money,
            "style": Markup(_STYLE),  # noqa: S704 - our own stylesheet, allowed by its hash
        }

    def label(self, group: str, value: str | None) -> str:
        if value is None:
            return WORDS[self.language]["unknown"]
        return LABELS[self.language][group].get(value, value)

    def when(self, moment: datetime) -> str:
        local = moment.astimezone(self._zone)
        day = format_date(local, "medium", locale=self.language)
        return f"{day} {format_time(local, 'short', locale=self.language)}"

    def iso(self, moment: datetime) -> str:
        return moment.astimezone(self._zone).isoformat(timespec="minutes")

    def money(self, amount: Decimal | None, currency: str | None = None) -> str:
        if amount is None:
            return WORDS[self.language]["unknown"]
        return format_currency(amount, currency or self._currency, locale=self.language)


async def _cards(request: Request) -> CardService:  # async: a sync dependency costs a thread hop
    cards: CardService = request.app.state.cards
    return cards


Cards = Annotated[CardService, Depends(_cards)]


class _Pages:
    """Renders the card's pages in the language each request asks for."""

    def __init__(self, *, default_language: str, zone: ZoneInfo, currency: str) -> None:
        self._default_language = default_language
        self._zone = zone
        self._currency = currency

    def words(self, request: Request, parameters: Mapping[str, str]) -> _Words:
        language = choose_language(
            parameters.get(LANGUAGE_PARAMETER), request.headers.get("accept-language"), self._default_language
        )
        return _Words(language, zone=self._zone, currency=self._currency)

    @staticmethod
    def page(
        template: str, status: int, integration: Integration | None, wording: _Words, **values: Any
    ) -> HTMLResponse:
        html = _environment.get_template(f"card/{template}").render(**wording.context(), **values)
        return HTMLResponse(html, status_code=status, headers=_headers(integration, wording.language))

    def message(
        self, kind: Page, status: int, integration: Integration | None, wording: _Words
    ) -> HTMLResponse:
        texts = WORDS[wording.language]
        return self.page(
            "message.html.j2",
            status,
            integration,
            wording,
            kind=kind.value,
            title=texts[f"{kind.value}_title"],
            text=texts[f"{kind.value}_text"],
            languages=(),
        )

    def refused(self, request: Request, denied: Denied) -> HTMLResponse:
        # Worded for the lang the (unverified) link asks for: the page holds no data.
        kind, status = _REFUSAL_PAGES[denied.refusal]
        return self.message(kind, status, denied.integration, self.words(request, request.query_params))

    @staticmethod
    def languages(cards: CardService, access: Access, *, here: str, path: str) -> list[tuple[str, str, str]]:
        """The language switch: this page in each language, each link signed afresh."""
        return [
            (code, LANGUAGE_NAMES[code], relative(here, cards.link(access, path, _with_lang(access, code))))
            for code in LANGUAGES
        ]

    def card(
        self, cards: CardService, access: Access, view: CardView, *, here: str, path: str, wording: _Words
    ) -> HTMLResponse:
        timeline = cards.link(access, timeline_path(view.customer_id), {LANGUAGE_PARAMETER: wording.language})
        return self.page(
            "card.html.j2",
            200,
            access.integration,
            wording,
            view=view,
            timeline_href=relative(here, timeline),
            languages=self.languages(cards, access, here=here, path=path),
        )

    async def card_of(
        self, request: Request, cards: CardService, access: Access, customer_id: str
    ) -> HTMLResponse:
        wording = self.words(request, access.parameters)
        view = await cards.card_of(customer_id)
        if view is None:
            return self.message(Page.NOT_FOUND, 404, access.integration, wording)
        path = card_path(customer_id)
        return self.card(cards, access, view, here=url_path(path), path=path, wording=wording)

    async def lookup(self, request: Request, cards: CardService, access: Access) -> HTMLResponse:
        wording = self.words(request, access.parameters)
        identifier = access.parameters.get(IDENTIFIER_PARAMETER)
        try:
            view = None if identifier is None else await cards.card_by_identifier(identifier)
        except InvalidIdentifierError:
            return self.message(Page.BAD_REQUEST, 400, access.integration, wording)
        if view is None:
            return self.message(Page.NOT_FOUND, 404, access.integration, wording)
        return self.card(cards, access, view, here=LOOKUP_PATH, path=LOOKUP_PATH, wording=wording)

    async def timeline(
        self, request: Request, cards: CardService, access: Access, customer_id: str
    ) -> HTMLResponse:
        wording = self.words(request, access.parameters)
        try:
            found = await cards.timeline(customer_id, access.parameters.get(CURSOR_PARAMETER))
        except InvalidCursorError:
            return self.message(Page.BAD_REQUEST, 400, access.integration, wording)
        if found is None:
            return self.message(Page.NOT_FOUND, 404, access.integration, wording)
        path = timeline_path(customer_id)
        here, language = url_path(path), wording.language
        # Paging and going back stay on the survivor, in the page's language.
        back = cards.link(access, card_path(found.customer_id), {LANGUAGE_PARAMETER: language})
        older = None
        if found.next_cursor is not None:
            older = cards.link(
                access,
                timeline_path(found.customer_id),
                {LANGUAGE_PARAMETER: language, CURSOR_PARAMETER: found.next_cursor},
            )
        return self.page(
            "timeline.html.j2",
            200,
            access.integration,
            wording,
            lines=found.lines,
            card_href=relative(here, back),
            next_href=None if older is None else relative(here, older),
            languages=self.languages(cards, access, here=here, path=path),
        )


def card_pages_router(*, default_language: str, time_zone: str, currency: str) -> APIRouter:
    router = APIRouter(tags=["profile card"], include_in_schema=False)
    pages = _Pages(default_language=default_language, zone=ZoneInfo(time_zone), currency=currency)

    @router.get("/card/customers/{customer_id}", response_class=HTMLResponse)
    async def card_by_id(request: Request, customer_id: str, cards: Cards) -> HTMLResponse:
        access = await cards.authorize_link(card_path(customer_id), request.query_params.multi_items())
        if isinstance(access, Denied):
            return pages.refused(request, access)
        return await pages.card_of(request, cards, access, customer_id)

    @router.post("/card/customers/{customer_id}", response_class=HTMLResponse)
    async def zendesk_card_by_id(request: Request, customer_id: str, cards: Cards) -> HTMLResponse:
        access = await cards.authorize_zendesk(request.query_params.multi_items(), await _token(request))
        if isinstance(access, Denied):
            return pages.refused(request, access)
        return await pages.card_of(request, cards, access, customer_id)

    @router.get(LOOKUP_PATH, response_class=HTMLResponse)
    async def card_by_identifier(request: Request, cards: Cards) -> HTMLResponse:
        access = await cards.authorize_link(LOOKUP_PATH, request.query_params.multi_items())
        if isinstance(access, Denied):
            return pages.refused(request, access)
        return await pages.lookup(request, cards, access)

    @router.post(LOOKUP_PATH, response_class=HTMLResponse)
    async def zendesk_card_by_identifier(request: Request, cards: Cards) -> HTMLResponse:
        access = await cards.authorize_zendesk(request.query_params.multi_items(), await _token(request))
        if isinstance(access, Denied):
            return pages.refused(request, access)
        return await pages.lookup(request, cards, access)

    @router.get("/card/customers/{customer_id}/timeline", response_class=HTMLResponse)
    async def timeline(request: Request, customer_id: str, cards: Cards) -> HTMLResponse:
        access = await cards.authorize_link(timeline_path(customer_id), request.query_params.multi_items())
        if isinstance(access, Denied):
            return pages.refused(request, access)
        return await pages.timeline(request, cards, access, customer_id)

    return router


def _with_lang(access: Access, language: str) -> dict[str, str]:
    return {**access.parameters, LANGUAGE_PARAMETER: language}


async def _token(request: Request) -> str | None:
    """The ``token`` field of Zendesk's form post; None when there is none (or it is not a form)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    form = await request.form(max_fields=_MAX_FORM_FIELDS, max_files=0)
    token = form.get("token")
    return token if isinstance(token, str) else None
