"""The supervisor's page against the real MongoDB-wire server and broker: ``/v1/dashboard`` over HTTP with
real tokens, then the page itself in a real headless Chromium (Debian's, driven by Playwright).

One floor for every test, built through the routing service: ``ada`` serves messaging, accepted two SMS
cases (first responses 40 s and 100 s) and completed one after 25 s; ``bo`` is on leave; ``cy`` let a chat
offer expire, so is not responding. Chat holds two waiting cases, one of them breached (opened 200 s before
the clock's start); email holds one at 87.5 % of its 4-hour SLA.

The service's clock moves ahead of real time by 56 s while the floor is built; the API reads real time.
Heartbeats are taken at the clock's start, so agents stay present for the API for the next minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from schemas.cases import CaseCategory, CaseChanged
from schemas.interactions import Channel
from schemas.routing import AgentStatus
from services.common.http.testing import LocalIssuer
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.core.agents import Agent, Capacity, ChannelLimit
from services.routing.core.cases import CaseState
from services.routing.core.flow import Refusal
from services.routing.core.presence import with_heartbeat, with_leave, with_schedule, with_status
from services.routing.core.schedule import Leave
from services.routing.service import RoutingService
from tests.routing.integration.routing_flow import ALWAYS, case_opened, present_agent
from tests.support.clock import Clock

pytestmark = pytest.mark.integration

BOARD_SCOPES = ("queues:read", "agents:read")


@dataclass(frozen=True)
class Floor:
    breached: str  # chat, waited 200 s of 120 s
    at_risk: str  # email, waited 3.5 h of 4 h
    expired: str  # chat, its offer to cy expired: waiting again, not at risk
    assigned: str  # messaging, accepted by ada


async def agent_at_work(
    service: RoutingService,
    agent_id: str,
    now: datetime,
    *,
    queues: frozenset[str],
    capacity: Capacity,
    leave: Leave | None = None,
) -> Agent:
    """An available agent with a fresh heartbeat, on shift, optionally on leave (in one write, so the
    matching round that follows it sees the leave)."""

    def made(current: Agent | None) -> Agent:
        agent = current or Agent(agent_id, queues=queues, capacity=capacity)
        agent = with_heartbeat(with_status(with_schedule(agent, ALWAYS), AgentStatus.AVAILABLE, now), now)
        return agent if leave is None else with_leave(agent, leave, now)

    return await service.change_agent(agent_id, made)


def opened(at: datetime, channel: Channel, category: CaseCategory) -> CaseChanged:
    return case_opened(at, channel=channel).model_copy(update={"category": category})


async def offer_of(store: MongoRoutingStore, case_id: str, agent_id: str) -> str:
    case = await store.case(case_id)
    assert case is not None
    assert case.state is CaseState.OFFERED
    assert case.agent_id == agent_id
    assert case.offer_id is not None
    return case.offer_id


async def build_floor(service: RoutingService, store: MongoRoutingStore, clock: Clock) -> Floor:
    start = clock.now
    sms = Capacity(100, {Channel.SMS: ChannelLimit(25, 4)})
    await agent_at_work(service, "ada", start, queues=frozenset({"messaging"}), capacity=sms)
    away = Leave(start - timedelta(hours=1), start + timedelta(hours=8))
    chat = Capacity(100, {Channel.CHAT: ChannelLimit(33, 3)})
    await agent_at_work(service, "bo", start, queues=frozenset({"chat"}), capacity=chat, leave=away)
    await present_agent(service, "cy", start)

    # ada: two SMS cases offered and accepted now (40 s and 100 s after they arrived); one completed 25 s on.
    quick = opened(start - timedelta(seconds=40), Channel.SMS, CaseCategory.ORDER)
    slow = opened(start - timedelta(seconds=100), Channel.SMS, CaseCategory.DELIVERY)
    assert await service.handle_cases([quick, slow]) == 2
    quick_offer = await offer_of(store, quick.case_id, "ada")
    for case_id in (quick.case_id, slow.case_id):
        assert not isinstance(await service.accept(await offer_of(store, case_id, "ada"), "ada"), Refusal)
    clock.advance(seconds=25)
    assert not isinstance(await service.complete(quick_offer), Refusal)

    # cy: offered a chat case and lets the offer expire (chat's timeout is 30 s).
    ignored = opened(clock.now, Channel.CHAT, CaseCategory.SHIPPING)
    assert await service.handle_cases([ignored]) == 1
    await offer_of(store, ignored.case_id, "cy")
    clock.advance(seconds=31)
    outcome = await service.tick()
    assert outcome.expired == 1
    cy = await store.agent("cy")
    assert cy is not None
    assert cy.not_responding

    # Nobody can take these: cy is not responding, bo on leave, and nobody serves email.
    breached = opened(start - timedelta(seconds=200), Channel.CHAT, CaseCategory.ORDER)
    at_risk = opened(start - timedelta(hours=3.5), Channel.EMAIL, CaseCategory.PRODUCT_QUESTION)
    assert await service.handle_cases([breached, at_risk]) == 0
    return Floor(
        breached=breached.case_id, at_risk=at_risk.case_id, expired=ignored.case_id, assigned=slow.case_id
    )


@pytest.fixture
async def floor(service: RoutingService, store: MongoRoutingStore, clock: Clock) -> Floor:
    return await build_floor(service, store, clock)


def bearer(issuer: LocalIssuer, scopes: tuple[str, ...] = BOARD_SCOPES) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(list(scopes))}"}


async def board(url: str, issuer: LocalIssuer) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get("/v1/dashboard", headers=bearer(issuer))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    figures: dict[str, Any] = response.json()
    return figures


async def test_the_figures_need_both_read_scopes(routing_url: str, issuer: LocalIssuer) -> None:
    async with httpx.AsyncClient(base_url=routing_url, timeout=30) as client:
        anonymous = await client.get("/v1/dashboard")
        forged = await client.get("/v1/dashboard", headers={"Authorization": "Bearer not-a-token"})
        queues_only = await client.get("/v1/dashboard", headers=bearer(issuer, ("queues:read",)))
        agents_only = await client.get("/v1/dashboard", headers=bearer(issuer, ("agents:read",)))
        both = await client.get("/v1/dashboard", headers=bearer(issuer))

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert forged.status_code == 401
    assert queues_only.status_code == 403
    assert "agents:read" in queues_only.json()["detail"]
    assert agents_only.status_code == 403
    assert "queues:read" in agents_only.json()["detail"]
    assert both.status_code == 200
    empty = both.json()
    assert [queue["queue"] for queue in empty["queues"]] == [
        "phone",
        "chat",
        "messaging",
        "email",
        "callback",
    ]
    assert empty["agents"] == {"present": [], "not_responding": [], "absent": []}
    assert empty["at_risk"] == []


async def test_the_figures_match_the_floor(routing_url: str, issuer: LocalIssuer, floor: Floor) -> None:
    figures = await board(routing_url, issuer)
    queues = {queue["queue"]: queue for queue in figures["queues"]}

    chat = queues["chat"]
    assert (chat["waiting"], chat["offered"], chat["assigned"]) == (2, 0, 0)
    assert chat["unassigned_by_category"] == {"order": 1, "shipping": 1}
    assert 200 <= chat["oldest_wait_seconds"] < 260  # the breached case, read on the real clock
    assert chat["arrivals_last_hour"] == 2
    # The agent who let an offer expire is there but takes nothing new; the one on leave is not there.
    assert (chat["agents_present_now"], chat["agents_eligible_now"]) == (1, 0)
    assert chat["first_response"] == {
        "count": 0,
        "p50_seconds": None,
        "p90_seconds": None,
        "max_seconds": None,
    }

    messaging = queues["messaging"]
    assert (messaging["waiting"], messaging["offered"], messaging["assigned"]) == (0, 0, 1)
    assert messaging["unassigned_by_category"] == {}
    assert (messaging["arrivals_last_hour"], messaging["completions_last_hour"]) == (2, 1)
    assert (messaging["agents_present_now"], messaging["agents_eligible_now"]) == (1, 1)
    assert messaging["first_response"] == {
        "count": 2,
        "p50_seconds": 40.0,
        "p90_seconds": 100.0,
        "max_seconds": 100.0,
    }
    assert messaging["close"] == {"count": 1, "p50_seconds": 25.0, "p90_seconds": 25.0, "max_seconds": 25.0}

    email = queues["email"]
    assert (email["waiting"], email["unassigned_by_category"]) == (1, {"product_question": 1})
    assert email["arrivals_last_hour"] == 0  # it arrived 3.5 hours ago
    assert (queues["phone"]["waiting"], queues["callback"]["waiting"]) == (0, 0)

    agents = figures["agents"]
    assert [agent["agent_id"] for agent in agents["present"]] == ["ada"]
    assert [agent["agent_id"] for agent in agents["not_responding"]] == ["cy"]
    assert [(agent["agent_id"], agent["reason"]) for agent in agents["absent"]] == [("bo", "leave")]
    ada = agents["present"][0]
    assert (ada["open_for_work"], ada["load"], ada["offered"], ada["assigned"]) == (True, 0.25, 0, 1)
    assert ada["queues"] == ["messaging"]
    cy = agents["not_responding"][0]
    assert (cy["open_for_work"], cy["status"], cy["offered"]) == (False, "available", 0)

    at_risk = figures["at_risk"]
    assert figures["at_risk_total"] == 2
    assert [(case["case_id"], case["risk"]) for case in at_risk] == [
        (floor.breached, "breached"),
        (floor.at_risk, "at_risk"),
    ]
    breached, risky = at_risk
    assert (breached["queue"], breached["category"], breached["state"]) == ("chat", "order", "waiting")
    assert breached["sla_seconds"] == 120.0
    assert 200 <= breached["waited_seconds"] < 260
    assert breached["sla_share"] == pytest.approx(breached["waited_seconds"] / 120, abs=1e-3)
    assert (risky["queue"], risky["category"], risky["sla_seconds"]) == ("email", "product_question", 14_400)
    assert 0.875 <= risky["sla_share"] < 0.9
    assert floor.expired not in {case["case_id"] for case in at_risk}  # waited 0 s on the real clock


async def test_the_page_is_a_shell_under_a_strict_policy(routing_url: str) -> None:
    async with httpx.AsyncClient(base_url=routing_url, timeout=30) as client:
        response = await client.get("/dashboard")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"].startswith("'sha256-")
    assert policy["style-src"].startswith("'sha256-")
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    # No data and nothing from elsewhere: no address in the page but the W3C SVG namespace.
    assert "https://" not in response.text
    assert response.text.count("http://") == 1
    assert "http://www.w3.org/2000/svg" in response.text


def watch(page: Page) -> list[str]:
    """What the page got wrong: script errors and policy violations, as the browser reports them."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and (
            "Content Security Policy" in message.text or "Trusted" in message.text
        ):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


async def test_the_page_shows_the_floor_in_a_real_browser(
    routing_url: str,
    issuer: LocalIssuer,
    floor: Floor,
    browser: Browser,
    service: RoutingService,
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        problems = watch(page)
        await page.goto(f"{routing_url}/dashboard#token={issuer.token(list(BOARD_SCOPES))}")

        chat = page.locator('#queues tr[data-queue="chat"]')
        await expect(chat.locator('td[data-col="waiting"]')).to_have_text("2")
        await expect(chat.locator('td[data-col="arrivals"]')).to_have_text("2")
        await expect(chat).to_have_class("late")  # its oldest case waited past the SLA
        messaging = page.locator('#queues tr[data-queue="messaging"]')
        await expect(messaging.locator('td[data-col="assigned"]')).to_have_text("1")
        await expect(messaging.locator('td[data-col="completed"]')).to_have_text("1")
        await expect(messaging.locator('td[data-col="present"]')).to_have_text("1")
        await expect(page.locator('#queues tr[data-queue="email"] td[data-col="waiting"]')).to_have_text("1")
        await expect(page.locator("#queues tbody tr")).to_have_count(5)

        unassigned = page.locator("#unassigned tbody tr")
        await expect(unassigned).to_have_count(3)
        for queue, category in (("chat", "order"), ("chat", "shipping"), ("email", "product_question")):
            row = page.locator(f'#unassigned tr[data-queue="{queue}"][data-category="{category}"]')
            await expect(row.locator('td[data-col="count"]')).to_have_text("1")

        await expect(page.locator("#present li")).to_have_attribute("data-agent", "ada")
        await expect(page.locator("#present li")).to_contain_text("1 assigned")
        await expect(page.locator("#not-responding li")).to_have_attribute("data-agent", "cy")
        await expect(page.locator("#absent li")).to_have_attribute("data-agent", "bo")
        await expect(page.locator("#absent li")).to_contain_text("leave")
        counts = [page.locator(f"#{group}-count") for group in ("present", "not-responding", "absent")]
        for count in counts:
            await expect(count).to_have_text("1")

        risky = page.locator("#at-risk tbody tr")
        await expect(risky).to_have_count(2)
        await expect(risky.nth(0)).to_have_attribute("data-case", floor.breached)
        await expect(risky.nth(0)).to_have_attribute("data-risk", "breached")
        await expect(risky.nth(0).locator('td[data-col="queue"]')).to_have_text("chat")
        await expect(risky.nth(1)).to_have_attribute("data-case", floor.at_risk)
        await expect(risky.nth(1).locator('td[data-col="sla-share"]')).to_have_text("88 %")
        await expect(risky.nth(1).locator('td[data-col="waited"]')).to_have_text("3.5 h")

        first = page.locator('#plot-first-response g[data-queue="messaging"]')
        await expect(first).to_have_attribute("data-count", "2")
        await expect(first.locator("rect.p50")).to_have_attribute("data-seconds", "40")
        await expect(first.locator("rect.p90")).to_have_attribute("data-seconds", "100")
        await expect(first).to_contain_text("p50 40 s · p90 1.7 min · n 2")
        closing = page.locator('#plot-close g[data-queue="messaging"]')
        await expect(closing).to_contain_text("p50 25 s · p90 25 s · n 1")
        await expect(page.locator('#plot-close g[data-queue="chat"]')).to_contain_text(
            "none in the last hour"
        )
        # The longest p90 spans the whole scale (240 units); the p50 bar is drawn to the same scale.
        widths = [
            float(await first.locator(f"rect.{bar}").get_attribute("width") or 0) for bar in ("p50", "p90")
        ]
        assert widths == [pytest.approx(240 * 40 / 100), pytest.approx(240.0)]

        await expect(page.locator("#problem")).to_be_hidden()
        assert "#" not in page.url  # the token left the address bar

        # Live: a case that arrives now shows on the next refresh (every 5 s) without reloading the page.
        await service.handle_cases([opened(datetime.now(UTC), Channel.EMAIL, CaseCategory.OTHER)])
        email = page.locator('#queues tr[data-queue="email"] td[data-col="waiting"]')
        await expect(email).to_have_text("2", timeout=10_000)
        other = page.locator('#unassigned tr[data-queue="email"][data-category="other"] td[data-col="count"]')
        await expect(other).to_have_text("1")
        assert problems == []
    finally:
        await context.close()


async def test_the_page_says_when_the_token_is_refused(
    routing_url: str, issuer: LocalIssuer, browser: Browser
) -> None:
    cases = (
        ("#token=not-a-token", "Token refused (401)"),
        (f"#token={issuer.token(['queues:read'])}", "Token refused (403)"),
        ("", "No token"),
    )
    for fragment, message in cases:
        context = await browser.new_context()
        try:
            page = await context.new_page()
            problems = watch(page)
            await page.goto(f"{routing_url}/dashboard{fragment}")
            await expect(page.locator("#problem")).to_contain_text(message)
            await expect(page.locator("#board")).to_be_hidden()
            await expect(page.locator("#queues tbody tr")).to_have_count(0)
            assert problems == []
        finally:
            await context.close()
