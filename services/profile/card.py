"""The profile card's service: minting signed links for an integration, deciding whether a request may see
a card (our signed link, or Zendesk's signed JWT), and gathering what a card shows from the read side.

Links inside a card (timeline, its pages, the language switch) are signed afresh for each page, with the
expiry of the link (or Zendesk token) that opened it: following links never extends access."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from schemas.identifiers import CustomerIdentifier, IdentifierKind
from services.profile.core.card import CardView, TimelineLine, card_view, timeline_line
from services.profile.core.card_links import (
    INTEGRATION_PARAMETER,
    RESERVED_PARAMETERS,
    Refusal,
    signed_query,
    verify_link,
    verify_zendesk_token,
)
from services.profile.core.integrations import Integration
from services.profile.integrations import IntegrationService
from services.profile.ports import CustomerRecord
from services.profile.queries import (
    Found,
    InvalidIdentifierError,
    MergedAway,
    ProfileQueries,
    parse_identifier,
)

LOOKUP_PATH = "/card/lookup"
IDENTIFIER_PARAMETER = "identifier"
LANGUAGE_PARAMETER = "lang"
CURSOR_PARAMETER = "cursor"
# The card reads this many of the customer's newest timeline entries, in one query: the last contact per
# channel, what was last told and each open case's promise and routing state come from them (older ones
# are on the timeline page). One query, not one per kind: each is a scan of the customer's entries on the
# local MongoDB-wire server, and three of them tripled the card's database time.
CARD_TIMELINE_READ = 250
TIMELINE_PAGE = 25


def card_path(customer_id: str) -> str:
    return f"/card/customers/{customer_id}"


def timeline_path(customer_id: str) -> str:
    return f"/card/customers/{customer_id}/timeline"


def url_path(path: str) -> str:
    """A path as it goes into a URL: every segment percent-encoded."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def card_identifier(text: str, phone_region: str | None) -> CustomerIdentifier:
    """``kind:value`` like the API's lookup, or a bare email or phone number (what a CRM shows)."""
    kind = text.partition(":")[0].strip().lower()
    if kind in {k.value for k in IdentifierKind}:
        return parse_identifier(text, phone_region)
    bare = IdentifierKind.EMAIL if "@" in text else IdentifierKind.PHONE
    return parse_identifier(f"{bare.value}:{text}", phone_region)


@dataclass(frozen=True)
class Access:
    """A request that may see a card: for this integration, until ``expires_at`` (Unix seconds), with
    what its link says (lang, identifier, cursor)."""

    integration: Integration
    expires_at: int
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Denied:
    refusal: Refusal
    integration: Integration | None  # the integration the request named, when it exists


class MintProblem(StrEnum):
    NO_INTEGRATION = "no_integration"
    INVALID_IDENTIFIER = "invalid_identifier"


@dataclass(frozen=True)
class MintedLink:
    url: str  # path and query, relative to the profile API's base URL
    expires_at: datetime


@dataclass(frozen=True)
class TimelineView:
    customer_id: str  # the survivor's, when a merged-away id was asked for
    lines: tuple[TimelineLine, ...]
    next_cursor: str | None


class CardService:
    def __init__(
        self,
        queries: ProfileQueries,
        integrations: IntegrationService,
        clock: Callable[[], datetime],
        *,
        master_secret: bytes,
        phone_region: str | None,
        default_ttl: timedelta,
        max_ttl: timedelta,
    ) -> None:
        self._queries = queries
        self._integrations = integrations
        self._clock = clock
        self._master = master_secret
        self._phone_region = phone_region
        self._default_ttl = default_ttl
        self.max_ttl = max_ttl

    # ---- links -----------------------------------------------------------------------------------------

    async def mint(
        self,
        integration_id: str,
        *,
        customer_id: str | None = None,
        identifier: str | None = None,
        language: str | None = None,
        ttl: timedelta | None = None,
    ) -> MintedLink | MintProblem:
        """A signed link to a customer's card (by id or by identifier) for ``integration_id``."""
        if await self._integrations.get(integration_id) is None:
            return MintProblem.NO_INTEGRATION
        parameters: dict[str, str] = {}
        if identifier is not None:
            try:
                parameters[IDENTIFIER_PARAMETER] = card_identifier(identifier, self._phone_region).key
            except InvalidIdentifierError:
                return MintProblem.INVALID_IDENTIFIER
            path = LOOKUP_PATH
        else:
            path = card_path(customer_id or "")
        if language is not None:
            parameters[LANGUAGE_PARAMETER] = language
        expires = self._clock() + min(ttl or self._default_ttl, self.max_ttl)
        expires_at = int(expires.timestamp())
        query = signed_query(
            self._master, path, parameters, integration_id=integration_id, expires_at=expires_at
        )
        return MintedLink(f"{url_path(path)}?{query}", datetime.fromtimestamp(expires_at, UTC))

    def link(self, access: Access, path: str, parameters: Mapping[str, str]) -> str:
        """A link inside a card: signed for the same integration, expiring with the access."""
        query = signed_query(
            self._master,
            path,
            parameters,
            integration_id=access.integration.integration_id,
            expires_at=access.expires_at,
        )
        return f"{url_path(path)}?{query}"

    async def authorize_link(self, path: str, parameters: Sequence[tuple[str, str]]) -> Access | Denied:
        """A GET with our signed link (``parameters`` as received)."""
        named = dict(parameters).get(INTEGRATION_PARAMETER)
        integration = await self._integrations.get(named) if named else None
        grant = verify_link(self._master, path, parameters, now=self._clock(), max_ttl=self.max_ttl)
        if isinstance(grant, Refusal):
            return Denied(grant, integration)
        if integration is None:
            return Denied(Refusal.UNKNOWN_INTEGRATION, None)
        return Access(integration, grant.expires_at, grant.parameters)

    async def authorize_zendesk(
        self, parameters: Sequence[tuple[str, str]], token: str | None
    ) -> Access | Denied:
        """Zendesk's POST of the iframe URL (``parameters``: its query, naming the integration) with the
        signed-URL ``token`` from its form."""
        named = dict(parameters).get(INTEGRATION_PARAMETER)
        integration = await self._integrations.get(named) if named else None
        if not token:
            return Denied(Refusal.UNSIGNED, integration)
        if integration is None:
            return Denied(Refusal.UNKNOWN_INTEGRATION, None)
        if integration.zendesk_secret is None:
            return Denied(Refusal.TOKEN_INVALID, integration)
        now = self._clock()
        hosts = {origin.partition("://")[2].split(":")[0] for origin in integration.frame_origins}
        claims = verify_zendesk_token(token, key=integration.zendesk_secret, account_hosts=hosts, now=now)
        if isinstance(claims, Refusal):
            return Denied(claims, integration)
        # Links inside the card never outlive the token that opened it.
        expires_at = min(claims.expires_at, int((now + self._default_ttl).timestamp()))
        rest = {name: value for name, value in parameters if name not in RESERVED_PARAMETERS}
        return Access(integration, expires_at, rest)

    # ---- what a card shows -------------------------------------------------------------------------------

    async def card_of(self, customer_id: str) -> CardView | None:
        """The card of a customer (a merged-away one's survivor); None when unknown or erased."""
        record = await self._surviving(customer_id)
        return None if record is None else await self._card(record)

    async def card_by_identifier(self, identifier: str) -> CardView | None:
        """Raises InvalidIdentifierError."""
        record = await self._queries.lookup(card_identifier(identifier, self._phone_region))
        return None if record is None else await self._card(record)

    async def timeline(self, customer_id: str, cursor: str | None) -> TimelineView | None:
        """A page of the (surviving) customer's timeline, newest first. Raises InvalidCursorError."""
        record = await self._surviving(customer_id)
        if record is None:
            return None
        page = await self._queries.timeline(
            record.customer_id, limit=TIMELINE_PAGE, cursor=cursor, web_sessions=True
        )
        return TimelineView(
            record.customer_id, tuple(timeline_line(item) for item in page.items), page.next_cursor
        )

    async def _surviving(self, customer_id: str) -> CustomerRecord | None:
        found = await self._queries.customer(customer_id)
        if isinstance(found, MergedAway):  # already the end of the merge chain
            found = await self._queries.customer(found.survivor)
        return found.customer if isinstance(found, Found) else None

    async def _card(self, record: CustomerRecord) -> CardView:
        page = await self._queries.timeline(record.customer_id, limit=CARD_TIMELINE_READ)
        return card_view(record, timeline=page.items, now=self._clock())
