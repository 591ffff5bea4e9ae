"""The profile card against the real MongoDB-wire server and broker, over real HTTP, and in a real headless
Chromium (Debian's, driven by Playwright): links minted by ``POST /v1/card-links``, the card and its
timeline in four languages, refusals, Zendesk's signed-URL POST, framing by the integration's CRM origin
only (a host page served from a second local server, so another origin), and axe's accessibility checks.

Customers are written by profile's own service the way the worker does (events through
``ProfileService.handle_batch``); a name is set on the stored document, since no event carries one yet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, Frame, Page, expect
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from schemas.envelope import Event
from schemas.identifiers import CustomerIdentifier
from schemas.interactions import Channel, Direction, InteractionReceived
from schemas.routing import AssignmentChange
from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_integrations import MongoIntegrations
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_reader import MongoProfileReader
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.integrations import CrmKind
from services.profile.core.observe import ProfilePayload
from services.profile.indexes import CUSTOMERS_COLLECTION
from services.profile.inject import create_api
from services.profile.integrations import IntegrationService
from services.profile.service import ProfileService
from services.profile.settings import ProfileSettings
from tests.profile.integration.profile_flow import (
    AT,
    answered,
    assigned,
    customers_of,
    envelope,
    fresh_email,
    fresh_phone,
    interaction,
    just_now,
    notified,
    order,
)
from tests.support.browser import watch

pytestmark = pytest.mark.integration

LINK_SECRET = "card-link-test-secret-" + uuid.uuid4().hex
ZENDESK_SECRET = "zendesk-app-shared-secret-" + uuid.uuid4().hex
NAME = "Kari Nordmann"
# The card's heading for each language's words that only its language has.
WORDS = {
    "nb": ("Åpne saker", "Sist fortalt kunden", "Tildelt"),
    "sv": ("Öppna ärenden", "Senast sagt till kunden", "Tilldelat"),
    "da": ("Åbne sager", "Senest fortalt kunden", "Tildelt"),
    "en": ("Open cases", "What the customer was last told", "Assigned"),
}


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- a host page on another origin ---------------------------------------------------------------------


class HostPages:
    """A second local HTTP server (another port: another origin) serving pages a test registers."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/favicon.ico":  # asked for by the browser; not a problem of the card
                    self.send_response(204)
                    self.end_headers()
                    return
                body = pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        # The same server under another name is another origin for the browser.
        self.other_origin = f"http://localhost:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostPages:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, html: str) -> str:
        path = f"/{uuid.uuid4().hex}.html"
        self.pages[path] = html
        return path


@pytest.fixture(scope="module")
def host() -> Iterator[HostPages]:
    with HostPages() as pages:
        yield pages


# ---- profile's API with the card ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture(scope="module")
def card_url(infra: CommonSettings, issuer: LocalIssuer) -> Iterator[str]:
    settings = ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        card_link_secret=SecretStr(LINK_SECRET),
        card_link_default_ttl_seconds=120,
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        yield url


@pytest.fixture
def service(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), utc_now)


@dataclass(frozen=True)
class Crm:
    integration_id: str
    origin: str


async def integration(
    db: AsyncDatabase[Document],
    origin: str,
    *,
    crm: CrmKind = CrmKind.SUPEROFFICE,
    zendesk: str | None = None,
) -> Crm:
    integration_id = f"crm-{uuid.uuid4().hex[:10]}"
    integrations = IntegrationService(MongoIntegrations(db), utc_now)
    await integrations.put(
        integration_id, name="Test CRM", crm=crm, frame_origins=[origin], zendesk_secret=zendesk
    )
    return Crm(integration_id, origin)


@dataclass(frozen=True)
class Seeded:
    customer_id: str
    case_id: str
    email: CustomerIdentifier
    phone: CustomerIdentifier
    promised: datetime  # the answer time promised for the case


def sms(identifier: CustomerIdentifier, at: datetime) -> Event[ProfilePayload]:
    payload = InteractionReceived(
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        identifiers=[identifier],
        text="Hei igjen, noe nytt?",
        language_hint="nb",
        occurred_at=at,
    )
    return envelope(payload)


async def seed(service: ProfileService, db: AsyncDatabase[Document]) -> Seeded:
    """A gold customer (order of 25,000) who wrote by email and SMS, whose case an agent took, who was
    promised an answer within 2-4 hours, and answered a survey 1 of 5 (so needs recovery)."""
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, phone), order(email, amount="25000.00")])
    [customer_id] = await customers_of(db, {email.key, phone.key})
    record = await MongoProfileReader(db).customer(customer_id)
    assert record is not None
    [case] = record.cases
    now = just_now()
    told = notified(customer_id, case.case_id, now - timedelta(minutes=30))
    await service.handle_batch(
        [
            sms(phone, now - timedelta(minutes=20)),
            assigned(
                customer_id, case.case_id, AssignmentChange.ACCEPTED, "ada", now - timedelta(minutes=10)
            ),
            told,
            answered(customer_id, case.case_id, 1, now - timedelta(minutes=5)),
        ]
    )
    name = {"value": NAME, "source": "crm", "occurred_at": now, "event_id": f"name-{uuid.uuid4()}"}
    await db[CUSTOMERS_COLLECTION].update_one({"_id": customer_id}, {"$set": {"attributes.name": name}})
    expected = told.data.expected_answer
    assert expected is not None
    assert expected.latest is not None
    return Seeded(customer_id, case.case_id, email, phone, expected.latest)


@pytest.fixture
async def seeded(service: ProfileService, db: AsyncDatabase[Document]) -> Seeded:
    return await seed(service, db)


@pytest.fixture
async def crm(db: AsyncDatabase[Document], host: HostPages) -> Crm:
    """An integration whose CRM is the host page's origin."""
    return await integration(db, host.origin)


async def mint(url: str, issuer: LocalIssuer, body: dict[str, Any], *, expect_status: int = 201) -> str:
    headers = {"Authorization": f"Bearer {issuer.token(['customers:read'])}"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/v1/card-links", json=body, headers=headers)
    assert response.status_code == expect_status, response.text
    link: str = response.json()["url"] if expect_status == 201 else ""
    return link


async def fetch(url: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.get(path, **kwargs)


def policy(response: httpx.Response) -> dict[str, str]:
    return dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )


def assert_page_headers(response: httpx.Response, frame_ancestors: str) -> None:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert policy(response)["frame-ancestors"] == frame_ancestors
    assert policy(response)["default-src"] == "'none'"
    assert "script-src" not in policy(response)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers


def href(html: str, element_id: str) -> str:
    """The link of the element with this id, as a browser reads it."""
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert found is not None, element_id
    return unescape(found.group(1))


def text_of(html: str) -> str:
    """The visible words of a page, whitespace (babel's narrow and no-break spaces too) made plain."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("\u202f", " ").replace("\xa0", " ")


# ---- over HTTP ---------------------------------------------------------------------------------------------


async def test_a_minted_link_opens_the_card_with_the_customers_whole_picture(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded
) -> None:
    link = await mint(
        card_url, issuer, {"integration": crm.integration_id, "customer_id": seeded.customer_id, "lang": "en"}
    )
    assert link.startswith(f"/card/customers/{seeded.customer_id}?")
    query = dict(parse_qsl(urlsplit(link).query))
    assert set(query) == {"integration", "exp", "lang", "sig"}  # no personal data in the link
    assert 0 < int(query["exp"]) - time.time() <= 125

    response = await fetch(card_url, link, headers={"Accept-Language": "sv"})
    assert response.status_code == 200, response.text
    assert_page_headers(response, crm.origin)
    assert response.headers["content-language"] == "en"
    page = text_of(response.text)
    assert NAME in page
    assert "Tier Gold" in page
    assert "Value to date NOK25,000.00" in page
    assert "Lifecycle stage" in page
    assert "Needs recovery . Reason: Negative feedback" in page
    assert "Assigned (ada)" in page  # the case, taken by ada
    assert "Answer promised by" in page
    assert "innen cirka 2-4 timer" in page  # what the customer was last told, as said
    assert "Acknowledgement" in page
    assert 'data-channel="sms"' in response.text
    assert 'data-channel="email"' in response.text
    assert "Service messages" in page
    assert f'data-case="{seeded.case_id}"' in response.text
    promised = seeded.promised.astimezone(ZoneInfo("Europe/Oslo")).isoformat(timespec="minutes")
    assert f'<time datetime="{promised}">' in response.text  # the next promise due, in the agents' zone
    assert seeded.email.value not in response.text  # identifiers are not shown
    # Every link in the page is a relative, signed link for the same integration.
    links = [unescape(link) for link in re.findall(r'href="([^"]+)"', response.text)]
    assert len(links) == 5  # the timeline and four languages
    for href in links:
        assert not href.startswith(("/", "http")), href
        assert "sig=" in href
        assert f"integration={crm.integration_id}" in href
        assert f"exp={query['exp']}" in href


async def test_a_card_by_identifier_takes_kind_value_or_a_bare_email_or_phone(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded
) -> None:
    national = seeded.phone.value.removeprefix("+47")
    for identifier in (seeded.email.key, seeded.email.value.upper(), national, f"phone:{national}"):
        link = await mint(card_url, issuer, {"integration": crm.integration_id, "identifier": identifier})
        assert link.startswith("/card/lookup?")
        response = await fetch(card_url, link, headers={"Accept-Language": "da-DK,da;q=0.9"})
        assert response.status_code == 200, identifier
        assert f'data-customer="{seeded.customer_id}"' in response.text
        assert "Åbne sager" in response.text  # Danish from the browser
        assert href(response.text, "timeline-link").startswith(f"customers/{seeded.customer_id}/timeline?")
    await mint(
        card_url, issuer, {"integration": crm.integration_id, "identifier": "fax:123"}, expect_status=422
    )


async def test_the_timeline_page_is_paged_with_signed_links(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded, service: ProfileService
) -> None:
    many = [interaction(seeded.email, text=f"Melding {n}", at=AT - timedelta(hours=n + 1)) for n in range(30)]
    await service.handle_batch(many)
    link = await mint(
        card_url, issuer, {"integration": crm.integration_id, "customer_id": seeded.customer_id, "lang": "nb"}
    )
    card = await fetch(card_url, link)
    first = await fetch(card_url, f"/card/customers/{href(card.text, 'timeline-link')}")
    assert first.status_code == 200
    assert_page_headers(first, crm.origin)
    assert first.text.count('<li data-kind="') == 25
    assert "Tidslinje" in first.text
    assert "Hei, hvor er pakken min?" not in first.text
    second = await fetch(card_url, f"/card/customers/{seeded.customer_id}/{href(first.text, 'older')}")
    assert second.status_code == 200
    assert 0 < second.text.count('<li data-kind="') <= 25
    assert href(second.text, "back").startswith(f"../{seeded.customer_id}?")


async def test_unsigned_expired_or_altered_links_are_refused_without_data(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded
) -> None:
    link = await mint(
        card_url,
        issuer,
        {"integration": crm.integration_id, "customer_id": seeded.customer_id, "ttl_seconds": 1},
    )
    path, _, query = link.partition("?")

    unsigned = await fetch(card_url, path, params={"lang": "sv"})
    assert unsigned.status_code == 401
    assert_page_headers(unsigned, "'none'")  # no integration named: nobody may frame it
    assert "Länken är inte giltig" in unsigned.text

    other = await mint(
        card_url, issuer, {"integration": crm.integration_id, "customer_id": f"{uuid.uuid4()}"}
    )
    swapped = await fetch(card_url, f"{path}?{other.partition('?')[2]}")  # a signature for another customer
    assert swapped.status_code == 403
    assert_page_headers(swapped, crm.origin)  # the CRM may show why
    altered = await fetch(card_url, f"{path}?{query.replace('integration=', 'integration=x')}")
    assert altered.status_code == 403
    assert_page_headers(altered, "'none'")  # an integration nobody knows
    later = re.sub(r"exp=(\d+)", lambda match: f"exp={int(match.group(1)) + 60}", query)
    extended = await fetch(card_url, f"{path}?{later}")
    assert extended.status_code == 403

    await asyncio.sleep(1.1)
    expired = await fetch(card_url, link, headers={"Accept-Language": "en"})
    assert expired.status_code == 401
    assert "This link has expired" in expired.text
    for refused in (unsigned, swapped, altered, extended, expired):
        assert NAME not in refused.text
        assert seeded.customer_id not in refused.text
        assert "href=" not in refused.text


async def test_minting_needs_a_reader_and_a_known_integration(
    card_url: str, issuer: LocalIssuer, db: AsyncDatabase[Document], host: HostPages
) -> None:
    crm = await integration(db, host.origin)
    body = {"integration": crm.integration_id, "customer_id": "c-1"}
    async with httpx.AsyncClient(base_url=card_url, timeout=30) as client:
        anonymous = await client.post("/v1/card-links", json=body)
        wrong_scope = await client.post(
            "/v1/card-links", json=body, headers={"Authorization": f"Bearer {issuer.token(['cases:read'])}"}
        )
    assert anonymous.status_code == 401
    assert wrong_scope.status_code == 403
    await mint(card_url, issuer, {"customer_id": "c-1"}, expect_status=422)  # which integration?
    await mint(card_url, issuer, {"integration": "nobody-here", "customer_id": "c-1"}, expect_status=404)
    await mint(card_url, issuer, {**body, "identifier": "email:a@example.no"}, expect_status=422)
    await mint(card_url, issuer, {**body, "ttl_seconds": 3600}, expect_status=422)
    await mint(card_url, issuer, {**body, "lang": "de"}, expect_status=422)


async def test_merged_away_ids_show_the_survivor_and_unknown_or_erased_customers_are_gone(
    card_url: str, issuer: LocalIssuer, db: AsyncDatabase[Document], service: ProfileService, host: HostPages
) -> None:
    email, phone = fresh_email(), fresh_phone()
    await service.handle_batch([interaction(email, at=AT - timedelta(hours=1))])
    await service.handle_batch([interaction(phone)])
    [away] = await customers_of(db, {phone.key})
    await service.handle_batch([interaction(email, phone)])  # one event names both: a merge
    [survivor] = await customers_of(db, {email.key, phone.key})
    assert survivor != away
    crm = await integration(db, host.origin)

    merged = await fetch(
        card_url, await mint(card_url, issuer, {"integration": crm.integration_id, "customer_id": away})
    )
    assert merged.status_code == 200
    assert f'data-customer="{survivor}"' in merged.text

    unknown = await fetch(
        card_url,
        await mint(
            card_url,
            issuer,
            {"integration": crm.integration_id, "customer_id": str(uuid.uuid4()), "lang": "nb"},
        ),
    )
    assert unknown.status_code == 404
    assert_page_headers(unknown, host.origin)
    assert "Fant ingen kunde" in unknown.text

    async with httpx.AsyncClient(base_url=card_url, timeout=60) as client:
        erase = await client.post(
            f"/v1/customers/{survivor}:erase",
            headers={"Authorization": f"Bearer {issuer.token(['customers:write'])}"},
        )
    assert erase.status_code == 200, erase.text
    for body in ({"customer_id": survivor}, {"customer_id": away}, {"identifier": email.key}):
        gone = await fetch(
            card_url, await mint(card_url, issuer, {"integration": crm.integration_id, **body})
        )
        assert gone.status_code == 404


def zendesk_token(account: str, secret: str = ZENDESK_SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": account,
        "aud": f"https://{account}/api/v2/apps/installations/3600.json",
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "qsh": "q",
        "context": {"product": "support", "location": "ticket_sidebar"},
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and no signature."""
    parts = ({"alg": "none", "typ": "JWT"}, claims)
    return (
        ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in parts) + "."
    )


async def test_zendesk_posts_the_iframe_url_with_its_signed_token(
    card_url: str, db: AsyncDatabase[Document], seeded: Seeded
) -> None:
    crm = await integration(db, "https://acme.zendesk.com", crm=CrmKind.ZENDESK, zendesk=ZENDESK_SECRET)
    query = {"integration": crm.integration_id, "identifier": seeded.email.value, "lang": "en"}

    async def post(path: str, token: str | None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=card_url, timeout=30) as client:
            return await client.post(
                path, params=query, data={} if token is None else {"token": token, "app_guid": "x"}
            )

    good = await post("/card/lookup", zendesk_token("acme.zendesk.com"))
    assert good.status_code == 200, good.text
    assert_page_headers(good, "https://acme.zendesk.com")
    assert f'data-customer="{seeded.customer_id}"' in good.text
    by_id = await post(f"/card/customers/{seeded.customer_id}", zendesk_token("acme.zendesk.com"))
    assert by_id.status_code == 200
    # Its links are our own signed links: following them needs no token and no cookie.
    followed = await fetch(card_url, f"/card/customers/{href(by_id.text, 'timeline-link')}")
    assert followed.status_code == 200

    refusals = {
        "none": (await post("/card/lookup", None)).status_code,
        "other secret": (await post("/card/lookup", zendesk_token("acme.zendesk.com", "x" * 40))).status_code,
        "other account": (await post("/card/lookup", zendesk_token("evil.zendesk.com"))).status_code,
        "expired": (
            await post("/card/lookup", zendesk_token("acme.zendesk.com", exp=int(time.time()) - 600))
        ).status_code,
        "alg none": (
            await post(
                "/card/lookup", unsigned_token({"iss": "acme.zendesk.com", "exp": int(time.time()) + 60})
            )
        ).status_code,
    }
    assert refusals == {
        "none": 401,
        "other secret": 401,
        "other account": 403,
        "expired": 401,
        "alg none": 401,
    }
    no_secret = await integration(db, "https://beta.zendesk.com", crm=CrmKind.ZENDESK)
    async with httpx.AsyncClient(base_url=card_url, timeout=30) as client:
        unconfigured = await client.post(
            "/card/lookup",
            params={"integration": no_secret.integration_id, "identifier": seeded.email.value},
            data={"token": zendesk_token("beta.zendesk.com")},
        )
    assert unconfigured.status_code == 401


# ---- in a real browser -------------------------------------------------------------------------------------


async def serious_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation.get("impact") in {"serious", "critical"}
    ]


async def test_the_card_renders_in_each_language_and_passes_axe(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded, browser: Browser
) -> None:
    link = await mint(
        card_url, issuer, {"integration": crm.integration_id, "customer_id": seeded.customer_id}
    )
    context = await browser.new_context(locale="en-GB")
    try:
        page = await context.new_page()
        problems = watch(page)
        await page.goto(f"{card_url}{link}")  # no lang: the browser's English
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        for language, (cases, told, handling) in WORDS.items():
            await page.locator(f'nav.languages a[data-lang="{language}"]').click()
            await expect(page.locator("html")).to_have_attribute("lang", language)
            await expect(page.locator("#h-cases")).to_have_text(cases)
            await expect(page.locator("#h-told")).to_have_text(told)
            await expect(page.locator("#name")).to_have_text(NAME)
            await expect(page.locator(f'#cases li[data-case="{seeded.case_id}"] .handling')).to_contain_text(
                handling
            )
            await expect(page.locator("#recovery-reason")).to_have_attribute(
                "data-reason", "negative_feedback"
            )
            await expect(page.locator("#next-promise")).to_have_attribute("data-overdue", "false")
            await expect(page.locator("#contacts li")).to_have_count(2)
            await expect(page.locator(f'nav.languages a[data-lang="{language}"]')).to_have_attribute(
                "aria-current", "page"
            )
            assert await serious_violations(page) == [], language
        await page.locator("#timeline-link").click()
        await expect(page.locator("#timeline li").first).to_be_visible()
        assert await serious_violations(page) == []
        await page.locator("#back").click()
        await expect(page.locator("#name")).to_have_text(NAME)
        assert await context.cookies() == []  # works without any cookie, third-party or not
        assert problems == []
    finally:
        await context.close()


async def frame_host(host: HostPages, src: str) -> str:
    """A CRM page on the host's origin showing ``src`` in an iframe."""
    return host.add(
        '<!DOCTYPE html><html lang="en"><head><title>CRM</title></head><body><h1>CRM</h1>'
        f'<iframe title="card" src="{src}" width="600" height="900"></iframe></body></html>'
    )


async def card_frame(page: Page) -> Frame:
    await page.wait_for_load_state("load")
    [frame] = [frame for frame in page.frames if frame is not page.main_frame]
    return frame


async def test_the_card_works_in_an_iframe_on_the_crms_origin_and_not_elsewhere(
    card_url: str,
    *,
    issuer: LocalIssuer,
    db: AsyncDatabase[Document],
    seeded: Seeded,
    browser: Browser,
    host: HostPages,
) -> None:
    allowed = await integration(db, host.origin)
    elsewhere = await integration(db, host.other_origin)  # the same pages, but on another origin
    for crm, shown in ((allowed, True), (elsewhere, False)):
        link = await mint(
            card_url,
            issuer,
            {"integration": crm.integration_id, "customer_id": seeded.customer_id, "lang": "nb"},
        )
        context = await browser.new_context()
        try:
            page = await context.new_page()
            problems = watch(page)
            await page.goto(f"{host.origin}{await frame_host(host, card_url + link)}")
            frame = await card_frame(page)
            if shown:
                await expect(frame.locator("#name")).to_have_text(NAME)
                await frame.locator("#timeline-link").click()  # links inside stay in the frame and work
                await expect(frame.locator("#timeline-title")).to_have_text("Tidslinje")
                assert problems == []
            else:
                await page.wait_for_timeout(500)
                assert await frame.locator("#card").count() == 0
                assert NAME not in await frame.content()
                assert any("frame-ancestors" in problem for problem in problems), problems
            assert await context.cookies() == []
        finally:
            await context.close()


async def test_a_refused_link_shows_no_card_in_the_browser(
    card_url: str, issuer: LocalIssuer, crm: Crm, seeded: Seeded, browser: Browser
) -> None:
    link = await mint(
        card_url, issuer, {"integration": crm.integration_id, "customer_id": seeded.customer_id, "lang": "da"}
    )
    context = await browser.new_context()
    try:
        page = await context.new_page()
        altered = await page.goto(f"{card_url}{link.replace('lang=da', 'lang=en')}")
        assert altered is not None
        assert altered.status == 403
        await expect(page.locator("#message")).to_have_attribute("data-kind", "forbidden")
        await expect(page.locator("#card")).to_have_count(0)
        assert await serious_violations(page) == []
    finally:
        await context.close()


async def test_a_zendesk_post_inside_the_crm_frame_renders_and_a_bad_token_does_not(
    card_url: str, db: AsyncDatabase[Document], seeded: Seeded, browser: Browser, host: HostPages
) -> None:
    account = "acme.zendesk.com"
    crm = await integration(db, host.origin, crm=CrmKind.ZENDESK, zendesk=ZENDESK_SECRET)
    # Zendesk checks the account by its host: the test's host page stands in for it on another origin.
    await IntegrationService(MongoIntegrations(db), utc_now).put(
        crm.integration_id,
        name="Zendesk",
        crm=CrmKind.ZENDESK,
        frame_origins=[host.origin, f"https://{account}"],
    )
    action = (
        f"{card_url}/card/lookup?integration={crm.integration_id}&identifier={seeded.email.value}&lang=sv"
    )
    for token, shown in ((zendesk_token(account), True), (zendesk_token(account, "y" * 40), False)):
        form = (
            '<!DOCTYPE html><html lang="en"><head><title>Zendesk</title></head><body>'
            f'<form id="zaf" method="post" action="{action}" target="card">'
            f'<input type="hidden" name="token" value="{token}"></form>'
            '<iframe name="card" title="card" width="600" height="900"></iframe></body></html>'
        )
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"{host.origin}{host.add(form)}")
            async with page.expect_response(lambda response: "/card/lookup" in response.url) as answer:
                await page.evaluate("document.getElementById('zaf').submit()")
            response = await answer.value
            frame = page.frame(name="card")
            assert frame is not None
            if shown:
                assert response.status == 200
                await expect(frame.locator("#name")).to_have_text(NAME)
                await expect(frame.locator("#h-cases")).to_have_text("Öppna ärenden")
            else:
                assert response.status == 401
                await expect(frame.locator("#message")).to_have_attribute("data-kind", "unsigned")
                await expect(frame.locator("#card")).to_have_count(0)
            assert await context.cookies() == []
        finally:
            await context.close()
