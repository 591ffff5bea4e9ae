"""Routing's API over real HTTP against a database of its own: agents, schedules, leave and presence;
matching both ways (a waiting case meets an agent who becomes available, a new case meets a waiting
agent); answers to offers; queues ranked by score; the decision record; staffing; scopes and hostile
input. Cases arrive through a ``RoutingService`` on the same database, as the worker would feed them."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from schemas.cases import CaseCategory
from schemas.customers import Tier
from schemas.interactions import Channel
from schemas.routing import Rule
from services.common.http.testing import LocalIssuer
from services.routing.adapters.outbound.mongo_store import MongoRoutingStore
from services.routing.core.cases import QueuedCase
from services.routing.core.staffing import required_agents
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from tests.routing.integration.routing_flow import case_opened
from tests.support.clock import Clock

pytestmark = pytest.mark.integration

EVERYTHING = ("agents:read", "agents:write", "queues:read", "cases:read")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Every day, all day (each shift runs midnight to midnight; touching shifts join into one stretch).
ALWAYS = [{"weekday": day, "start": "00:00", "end": "00:00"} for day in WEEKDAYS]
RULES = RoutingSettings().rules()
CHAT_SLA_SECONDS = RULES.queue("chat").sla.total_seconds()


# ----- serving the API


@asynccontextmanager
async def client_of(
    url: str, issuer: LocalIssuer | None, scopes: Iterable[str] = EVERYTHING
) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a token with these scopes (no token at all without an issuer)."""
    headers = {} if issuer is None else {"Authorization": f"Bearer {issuer.token(list(scopes))}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
async def api(routing_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(routing_url, issuer) as client:
        yield client


# ----- helpers


def profile(
    *,
    queues: Iterable[str] = ("chat",),
    chat_cap: int = 3,
    time_zone: str = "Europe/Oslo",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "queues": list(queues),
        "capacity": {"budget": 100, "channels": {"chat": {"cost": 33, "cap": chat_cap}}},
        "time_zone": time_zone,
        **extra,
    }


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def new_agent(
    api: httpx.AsyncClient, agent_id: str, *, available: bool = True, **changes: Any
) -> dict[str, Any]:
    """An agent on shift all week; available (with a heartbeat) unless told otherwise."""
    ok(await api.put(f"/v1/agents/{agent_id}", json=profile(**changes)), 201)
    agent: dict[str, Any] = ok(await api.put(f"/v1/agents/{agent_id}/schedule", json={"shifts": ALWAYS}))
    if available:
        agent = ok(await api.put(f"/v1/agents/{agent_id}/status", json={"status": "available"}))
    return agent


async def agent_of(api: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(await api.get(f"/v1/agents/{agent_id}"))
    return found


async def offers_of(api: httpx.AsyncClient, agent_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(await api.get(f"/v1/agents/{agent_id}/offers"))
    return found


def queue_named(queues: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [queue for queue in queues if queue["queue"] == name]
    return found


def midday_zone(now: datetime) -> tuple[str, datetime]:
    """A fixed-offset zone (no DST) where it is about noon now, so shifts never cross the test's
    midnight; and the local time."""
    offset = 12 - now.astimezone(UTC).hour  # -11 .. +12
    name = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    return name, now.astimezone(ZoneInfo(name))


def ms(moment: datetime) -> datetime:
    """As BSON keeps an instant: whole milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """A streamed body: sent chunked, without a Content-Length."""
    for part in parts:
        yield part


def hhmm(moment: datetime | time) -> str:
    return moment.strftime("%H:%M")


def expected_points(tier: Tier, waited_seconds: float) -> float:
    """The documented score of a standard-value chat case without recovery (services/routing/core/rules)."""
    weights = RULES.weights
    return (
        weights.tier[tier]
        + weights.channel[Channel.CHAT]
        + weights.aging_per_minute * waited_seconds / 60
        + weights.sla * min(1.0, waited_seconds / CHAT_SLA_SECONDS)
    )


# ----- agents: profile


async def test_put_agent_creates_then_changes_the_profile_keeping_presence_and_work(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    created = ok(
        await api.put(
            "/v1/agents/anna",
            json=profile(queues=["chat", "email"], skills=["shipping"], languages=["nb-NO", "EN"]),
        ),
        201,
    )
    assert created["agent_id"] == "anna"
    assert (created["queues"], created["skills"], created["languages"]) == (
        ["chat", "email"],
        ["shipping"],
        ["en", "nb"],
    )
    assert created["capacity"] == {"budget": 100, "channels": {"chat": {"cost": 33, "cap": 3}}}
    assert (created["status"], created["heartbeat_at"], created["not_responding"]) == ("offline", None, False)
    assert (created["open_for_work"], created["closed_because"]) == (False, "status")
    assert (created["shifts"], created["leaves"], created["work"], created["load"]) == ([], [], [], 0)
    assert created["time_zone"] == "Europe/Oslo"

    ok(await api.put("/v1/agents/anna/schedule", json={"shifts": ALWAYS}))
    present = ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))
    assert present["open_for_work"] is True
    opened = case_opened(clock.now)
    assert await service.handle_cases([opened]) == 1

    changed = ok(
        await api.put(
            "/v1/agents/anna",
            json=profile(queues=["chat"], chat_cap=2, time_zone="America/New_York", languages=["sv"]),
        )
    )

    assert changed["version"] > present["version"]
    assert (changed["queues"], changed["skills"], changed["languages"]) == (["chat"], [], ["sv"])
    assert changed["capacity"]["channels"]["chat"] == {"cost": 33, "cap": 2}
    assert changed["time_zone"] == "America/New_York"
    assert (changed["status"], changed["heartbeat_at"]) == ("available", present["heartbeat_at"])
    assert len(changed["shifts"]) == 7  # the schedule is kept, now read in the new zone
    assert [(item["case_id"], item["state"]) for item in changed["work"]] == [(opened.case_id, "offered")]
    assert changed["load"] == 0.33
    assert await agent_of(api, "anna") == changed


@pytest.mark.parametrize(
    ("body", "where"),
    [
        pytest.param({**profile(), "shoe_size": 43}, ["body", "shoe_size"], id="unknown-field"),
        pytest.param(
            {**profile(), "capacity": {"channels": {"chat": {"cost": 33, "cap": 3, "x": 1}}}},
            ["body", "capacity", "channels", "chat", "x"],
            id="unknown-nested-field",
        ),
        pytest.param(profile(time_zone="Mars/Olympus_Mons"), ["body", "time_zone"], id="unknown-time-zone"),
        pytest.param(profile(time_zone="../../etc/passwd"), ["body", "time_zone"], id="path-as-time-zone"),
        pytest.param(
            {**profile(), "capacity": {"budget": 100, "channels": {}}},
            ["body", "capacity", "channels"],
            id="no-channels",
        ),
        pytest.param(
            {**profile(), "capacity": {"channels": {"pigeon": {"cost": 1, "cap": 1}}}},
            ["body", "capacity", "channels", "pigeon", "*"],
            id="unknown-channel",
        ),
        pytest.param(
            {**profile(), "capacity": {"channels": {"chat": {"cost": 0, "cap": 1}}}},
            ["body", "capacity", "channels", "chat", "cost"],
            id="free-channel",
        ),
        pytest.param(profile(queues=[]), ["body", "queues"], id="no-queues"),
        pytest.param({"capacity": profile()["capacity"]}, ["body", "queues"], id="queues-missing"),
    ],
)
async def test_put_agent_refuses_an_invalid_profile(
    api: httpx.AsyncClient, body: dict[str, Any], where: list[str]
) -> None:
    problem = refused(await api.put("/v1/agents/anna", json=body), 422)

    locations = [error["loc"] for error in problem["errors"]]
    # Locations never echo the client's data: a part that is not a name (``[key]``) is starred.
    assert where in locations, locations
    refused(await api.get("/v1/agents/anna"), 404)


@pytest.mark.parametrize(
    "agent_id",
    [
        pytest.param("anna%20berg", id="space"),
        pytest.param("anna%40example.com", id="at-sign"),
        pytest.param("a" * 101, id="too-long"),
        pytest.param("%2E%2E", id="dot-dot"),
        pytest.param("%2E", id="dot"),
        pytest.param("%2Ehidden", id="leading-dot"),
        pytest.param("anna%00", id="nul"),
        pytest.param("%C3%A5se", id="non-ascii"),
    ],
)
async def test_put_agent_refuses_an_agent_id_outside_the_pattern(
    api: httpx.AsyncClient, agent_id: str
) -> None:
    refused(await api.put(f"/v1/agents/{agent_id}", json=profile()), 422)

    refused(await api.get(f"/v1/agents/{agent_id}"), 422)
    assert ok(await api.get("/v1/agents")) == []


async def test_an_encoded_path_cannot_climb_out_of_the_agent_routes(api: httpx.AsyncClient) -> None:
    await new_agent(api, "anna", available=False)

    # Decoded, these are /v1/agents/../../admin and /v1/agents/../schedule (agent "..").
    refused(await api.put("/v1/agents/..%2F..%2Fadmin", json=profile()), 404)
    refused(await api.put("/v1/agents/..%2Fschedule", json={"shifts": ALWAYS}), 422)
    refused(await api.put("/v1/agents/anna%2F..%2F..%2Fagents%2Fbo", json=profile()), 404)
    refused(await api.post("/v1/offers/..%2F..%2Fagents%2Fanna:accept"), 404)
    assert [agent["agent_id"] for agent in ok(await api.get("/v1/agents"))] == ["anna"]


async def test_agent_routes_need_a_token_with_the_right_scope(routing_url: str, issuer: LocalIssuer) -> None:
    async with client_of(routing_url, None) as anonymous:
        refused(await anonymous.put("/v1/agents/anna", json=profile()), 401)
        refused(await anonymous.get("/v1/agents"), 401)
        refused(await anonymous.get("/v1/queues"), 401)
    async with httpx.AsyncClient(
        base_url=routing_url, headers={"Authorization": "Bearer nonsense"}
    ) as forged:
        refused(await forged.get("/v1/agents"), 401)
    async with client_of(routing_url, issuer, ["agents:read"]) as reader:
        refused(await reader.put("/v1/agents/anna", json=profile()), 403)
        refused(await reader.post("/v1/agents/anna/heartbeat"), 403)
        refused(await reader.post("/v1/offers/x.1:accept"), 403)
        refused(await reader.get("/v1/queues"), 403)
        refused(await reader.get("/v1/cases/x/decision"), 403)
        assert ok(await reader.get("/v1/agents")) == []
    async with client_of(routing_url, issuer, ["agents:write"]) as writer:
        ok(await writer.put("/v1/agents/anna", json=profile()), 201)
        refused(await writer.get("/v1/agents/anna"), 403)
    async with client_of(routing_url, issuer, ["queues:read"]) as planner:
        assert len(ok(await planner.get("/v1/queues"))) == len(RULES.queues)
        refused(await planner.get("/v1/agents"), 403)


# ----- schedule, leave, status, heartbeat


async def test_schedule_takes_weekday_names_and_an_overnight_shift(api: httpx.AsyncClient) -> None:
    ok(await api.put("/v1/agents/anna", json=profile()), 201)
    zone, local = midday_zone(datetime.now(UTC))
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    overnight = {"weekday": yesterday, "start": "20:00:00", "end": "14:00:00"}  # until 14:00 today

    agent = ok(await api.put("/v1/agents/anna/schedule", json={"time_zone": zone, "shifts": [overnight]}))
    assert agent["time_zone"] == zone
    assert agent["shifts"] == [overnight]
    assert agent["closed_because"] == "status"
    agent = ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))
    assert (agent["open_for_work"], agent["closed_because"]) == (True, None)

    # Without a time zone the agent's own is kept.
    weekend = [
        {"weekday": "sat", "start": "08:00", "end": "16:00"},
        {"weekday": "sun", "start": "08:00", "end": "16:00"},
    ]
    kept = ok(await api.put("/v1/agents/anna/schedule", json={"shifts": weekend}))
    assert kept["time_zone"] == zone
    assert [shift["weekday"] for shift in kept["shifts"]] == ["sat", "sun"]


async def test_open_for_work_names_the_first_rule_that_keeps_work_away(api: httpx.AsyncClient) -> None:
    ok(await api.put("/v1/agents/anna", json=profile()), 201)
    agent = ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))
    assert agent["heartbeat_at"] is not None
    assert (agent["open_for_work"], agent["closed_because"]) == (False, "off_shift")  # no schedule at all

    zone, local = midday_zone(datetime.now(UTC))
    today = WEEKDAYS[local.weekday()]
    later = {"weekday": today, "start": "14:00", "end": "18:00"}
    agent = ok(await api.put("/v1/agents/anna/schedule", json={"time_zone": zone, "shifts": [later]}))
    assert agent["closed_because"] == "off_shift"

    ending = {"weekday": today, "start": "08:00", "end": hhmm(local + timedelta(minutes=5))}
    agent = ok(await api.put("/v1/agents/anna/schedule", json={"time_zone": zone, "shifts": [ending]}))
    assert (agent["open_for_work"], agent["closed_because"]) == (False, "wind_down")

    agent = ok(await api.put("/v1/agents/anna/schedule", json={"shifts": ALWAYS}))
    assert (agent["open_for_work"], agent["closed_because"]) == (True, None)

    away = ok(await api.put("/v1/agents/anna/status", json={"status": "away"}))
    assert (away["status"], away["open_for_work"], away["closed_because"]) == ("away", False, "status")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"shifts": [{"weekday": "monday", "start": "08:00", "end": "16:00"}]}, id="weekday-spelled-out"
        ),
        pytest.param({"shifts": [{"weekday": 0, "start": "08:00", "end": "16:00"}]}, id="weekday-number"),
        pytest.param({"shifts": [{"weekday": "mon", "start": "25:00", "end": "16:00"}]}, id="bad-time"),
        pytest.param({"shifts": [{"weekday": "mon", "start": "08:00"}]}, id="no-end"),
        pytest.param({"time_zone": "Nowhere/Town", "shifts": []}, id="unknown-zone"),
        pytest.param({"shifts": [], "rota": "A"}, id="unknown-field"),
        pytest.param(
            {"shifts": [{"weekday": "mon", "start": "08:00+05:00", "end": "16:00+05:00"}]}, id="utc-offset"
        ),
        pytest.param(
            {"shifts": [{"weekday": "mon", "start": "08:00Z", "end": "16:00"}]}, id="one-time-aware"
        ),
        pytest.param({"shifts": [{"weekday": "mon", "start": "08:00", "end": "16:00"}] * 101}, id="too-many"),
    ],
)
async def test_schedule_refuses_invalid_shifts(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    ok(await api.put("/v1/agents/anna", json=profile()), 201)

    refused(await api.put("/v1/agents/anna/schedule", json=body), 422)
    assert (await agent_of(api, "anna"))["shifts"] == []


async def test_a_shift_with_an_offset_cannot_stop_routing_for_everyone(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna")
    await new_agent(api, "bo", available=False)
    mixed = [{"weekday": "mon", "start": "08:00+05:00", "end": "16:00"}]  # aware next to naive

    refused(await api.put("/v1/agents/bo/schedule", json={"shifts": mixed}), 422)

    ok(await api.put("/v1/agents/bo/status", json={"status": "available"}))
    assert len(ok(await api.get("/v1/agents"))) == 2
    assert queue_named(ok(await api.get("/v1/queues")), "chat")["agents_present_now"] == 2
    assert await service.handle_cases([case_opened(clock.now)]) == 1


async def test_leave_closes_the_agent_and_must_end_after_it_starts(api: httpx.AsyncClient) -> None:
    await new_agent(api, "anna")
    now = datetime.now(UTC)
    oslo = ZoneInfo("Europe/Oslo")
    start, end = (now - timedelta(hours=1)).astimezone(oslo), now + timedelta(days=2)

    for bad in (
        {"start": end.isoformat(), "end": start.isoformat()},
        {"start": start.isoformat(), "end": start.isoformat()},
        {"start": start.replace(tzinfo=None).isoformat(), "end": end.replace(tzinfo=None).isoformat()},
        {"start": start.isoformat(), "end": (start + timedelta(days=400)).isoformat()},
        {"start": start.isoformat()},
        {"start": "0001-01-01T00:00:00+01:00", "end": "0001-01-02T00:00:00+01:00"},  # year 0 in UTC
        {"start": "9999-12-31T00:00:00-01:00", "end": "9999-12-31T23:59:00-01:00"},  # year 10000 in UTC
    ):
        refused(await api.post("/v1/agents/anna/leave", json=bad), 422)
    assert (await agent_of(api, "anna"))["leaves"] == []

    agent = ok(
        await api.post("/v1/agents/anna/leave", json={"start": start.isoformat(), "end": end.isoformat()}),
        201,
    )
    [leave] = agent["leaves"]
    assert (datetime.fromisoformat(leave["start"]), datetime.fromisoformat(leave["end"])) == (
        ms(start),
        ms(end),
    )
    assert (agent["open_for_work"], agent["closed_because"]) == (False, "leave")
    refused(
        await api.post("/v1/agents/nobody/leave", json={"start": start.isoformat(), "end": end.isoformat()}),
        404,
    )


async def test_going_available_clears_not_responding_and_is_a_heartbeat(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna")
    opened = case_opened(clock.now)
    assert await service.handle_cases([opened]) == 1
    clock.advance(seconds=RULES.queue("chat").offer_timeout.total_seconds() + 1)
    assert (await service.tick()).expired == 1  # the offer was ignored

    ignored = await agent_of(api, "anna")
    assert (ignored["not_responding"], ignored["closed_because"], ignored["work"]) == (
        True,
        "not_responding",
        [],
    )

    before = datetime.now(UTC) - timedelta(milliseconds=5)
    back = ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))
    assert (back["not_responding"], back["open_for_work"], back["closed_because"]) == (False, True, None)
    assert datetime.fromisoformat(back["heartbeat_at"]) >= before
    assert back["work"] == []  # the ignored case is not offered to the same agent again

    refused(await api.put("/v1/agents/anna/status", json={"status": "busy"}), 422)
    refused(await api.put("/v1/agents/anna/status", json={"status": "available", "mood": "good"}), 422)
    refused(await api.put("/v1/agents/nobody/status", json={"status": "available"}), 404)


async def test_heartbeat_is_204_and_refreshes_the_agent(api: httpx.AsyncClient) -> None:
    first = await new_agent(api, "anna")

    response = await api.post("/v1/agents/anna/heartbeat")

    assert response.status_code == 204, response.text
    assert response.content == b""
    after = await agent_of(api, "anna")
    assert datetime.fromisoformat(after["heartbeat_at"]) > datetime.fromisoformat(first["heartbeat_at"])
    assert after["version"] == first["version"] + 1
    refused(await api.post("/v1/agents/nobody/heartbeat"), 404)
    assert [agent["agent_id"] for agent in ok(await api.get("/v1/agents"))] == ["anna"]  # none was made


async def test_agents_are_listed_by_id_with_their_presence(api: httpx.AsyncClient) -> None:
    await new_agent(api, "bo")
    await new_agent(api, "anna", available=False)
    ok(await api.put("/v1/agents/carl", json=profile(queues=["email"])), 201)

    listed = ok(await api.get("/v1/agents"))

    assert [agent["agent_id"] for agent in listed] == ["anna", "bo", "carl"]
    assert [agent["closed_because"] for agent in listed] == ["status", None, "status"]
    assert [agent["open_for_work"] for agent in listed] == [False, True, False]
    for agent in listed:
        assert agent == await agent_of(api, agent["agent_id"])
    refused(await api.get("/v1/agents/nobody"), 404)
    refused(await api.get("/v1/agents/nobody/offers"), 404)


# ----- matching and answers


async def test_a_waiting_case_is_offered_once_an_agent_becomes_available_and_is_answered(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna", available=False)
    opened = case_opened(clock.now)
    assert await service.handle_cases([opened]) == 0  # nobody there: it waits
    [waiting] = ok(await api.get("/v1/queues/chat/cases"))
    assert (waiting["case_id"], waiting["state"], waiting["position"]) == (opened.case_id, "waiting", 1)
    refused(await api.get(f"/v1/cases/{opened.case_id}/decision"), 404)
    assert await offers_of(api, "anna") == []

    anna = ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))

    [item] = anna["work"]  # offered at once, by the round that followed the change
    assert (item["case_id"], item["state"], item["channel"]) == (opened.case_id, "offered", "chat")
    [offer] = await offers_of(api, "anna")
    offer_id = offer["offer_id"]
    assert offer_id == item["offer_id"]
    assert (offer["case_id"], offer["state"], offer["agent_id"]) == (opened.case_id, "offered", "anna")
    # The case waited and anna was the first to have room: the record says so.
    assert offer["decision"]["rule"] == Rule.NEXT_FREE.value
    assert datetime.fromisoformat(offer["offer_expires_at"]) > datetime.now(UTC)
    [listed] = ok(await api.get("/v1/queues/chat/cases"))
    assert (listed["state"], listed["position"]) == ("offered", None)

    not_yours = refused(await api.post(f"/v1/offers/{offer_id}:accept", json={"agent_id": "bo"}), 409)
    assert not_yours["reason"] == "not_yours"
    accepted = ok(await api.post(f"/v1/offers/{offer_id}:accept", json={"agent_id": "anna"}))
    assert (accepted["state"], accepted["agent_id"], accepted["offer_id"]) == ("assigned", "anna", offer_id)
    assert accepted["assigned_at"] is not None
    again = ok(await api.post(f"/v1/offers/{offer_id}:accept", json={"agent_id": "anna"}))
    assert again == {**accepted, "assigned_at": again["assigned_at"]}
    assert datetime.fromisoformat(again["assigned_at"]) == ms(datetime.fromisoformat(accepted["assigned_at"]))
    late = refused(await api.post(f"/v1/offers/{offer_id}:decline", json={"agent_id": "anna"}), 409)
    assert late["reason"] == "accepted_already"
    assert await offers_of(api, "anna") == []
    busy = await agent_of(api, "anna")
    assert ([item["state"] for item in busy["work"]], busy["load"]) == (["accepted"], 0.33)

    unknown = refused(await api.post("/v1/offers/no-such-case.1:accept"), 404)
    assert unknown["reason"] == "not_offered"
    refused(await api.post("/v1/offers/no-such-case.1:decline"), 404)
    refused(await api.post("/v1/assignments/no-such-case.1:complete"), 404)

    done = ok(await api.post(f"/v1/assignments/{offer_id}:complete"))
    assert (done["state"], done["case_id"]) == ("done", opened.case_id)
    assert ok(await api.post(f"/v1/assignments/{offer_id}:complete")) == done
    free = await agent_of(api, "anna")
    assert (free["load"], free["work"], free["open_for_work"]) == (0, [], True)
    assert ok(await api.get("/v1/queues/chat/cases")) == []


async def test_an_arriving_case_meets_a_waiting_agent_and_a_freed_agent_takes_the_next(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna", chat_cap=1)
    first, second = case_opened(clock.now - timedelta(seconds=5)), case_opened(clock.now)

    assert await service.handle_cases([first]) == 1  # anna was waiting: offered on arrival
    assert await service.handle_cases([second]) == 0  # anna is full: it waits
    [offer] = await offers_of(api, "anna")
    assert offer["case_id"] == first.case_id
    queues = ok(await api.get("/v1/queues"))
    chat = queue_named(queues, "chat")
    assert (chat["backlog"], chat["offered"], chat["agents_present_now"], chat["agents_eligible_now"]) == (
        1,
        1,
        1,
        0,
    )

    ok(await api.post(f"/v1/offers/{offer['offer_id']}:accept"))  # no body: the offer's own agent
    not_offered = refused(await api.post(f"/v1/assignments/{second.case_id}.1:complete"), 404)
    assert not_offered["reason"] == "not_offered"
    ok(await api.post(f"/v1/assignments/{offer['offer_id']}:complete"))

    [next_offer] = await offers_of(api, "anna")  # completing freed room: the waiting case follows
    assert next_offer["case_id"] == second.case_id
    assert next_offer["decision"]["rule"] == Rule.NEXT_FREE.value  # freed by the completion
    not_assigned = refused(await api.post(f"/v1/assignments/{next_offer['offer_id']}:complete"), 409)
    assert not_assigned["reason"] == "not_assigned"

    declined = ok(await api.post(f"/v1/offers/{next_offer['offer_id']}:decline", json={"agent_id": "anna"}))
    assert (declined["state"], declined["agent_id"], declined["offer_id"]) == ("waiting", None, None)
    assert await offers_of(api, "anna") == []  # who declined is not asked again
    assert (await agent_of(api, "anna"))["load"] == 0
    chat = queue_named(ok(await api.get("/v1/queues")), "chat")
    assert (chat["backlog"], chat["offered"], chat["agents_eligible_now"]) == (1, 0, 1)


async def test_an_offer_accepted_too_late_is_refused_as_expired_and_requeued(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna")
    timeout = RULES.queue("chat").offer_timeout
    clock.advance(seconds=-(timeout.total_seconds() + 5))  # the offer was made long enough ago
    opened = case_opened(clock.now)
    assert await service.handle_cases([opened]) == 1
    [offer] = await offers_of(api, "anna")
    assert datetime.fromisoformat(offer["offer_expires_at"]) < datetime.now(UTC)

    expired = refused(await api.post(f"/v1/offers/{offer['offer_id']}:accept"), 409)

    assert expired["reason"] == "expired"
    assert await offers_of(api, "anna") == []
    anna = await agent_of(api, "anna")
    assert (anna["work"], anna["not_responding"], anna["closed_because"]) == ([], True, "not_responding")
    [waiting] = ok(await api.get("/v1/queues/chat/cases"))
    assert (waiting["case_id"], waiting["state"], waiting["position"]) == (opened.case_id, "waiting", 1)
    again = refused(await api.post(f"/v1/offers/{offer['offer_id']}:accept"), 404)
    assert again["reason"] == "not_offered"


async def test_the_api_documents_itself(api: httpx.AsyncClient) -> None:
    document = ok(await api.get("/openapi.json"))

    assert {
        "/v1/agents/{agent_id}",
        "/v1/agents/{agent_id}/schedule",
        "/v1/offers/{offer_id}:accept",
        "/v1/assignments/{assignment_id}:complete",
        "/v1/queues/{queue}/cases",
        "/v1/cases/{case_id}/decision",
        "/v1/staffing",
    } <= set(document["paths"])
    accept = document["paths"]["/v1/offers/{offer_id}:accept"]["post"]
    assert accept["requestBody"].get("required", False) is False  # the agent id is optional


async def test_a_retried_decline_is_answered_200_again(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna")
    assert await service.handle_cases([case_opened(clock.now)]) == 1
    [offer] = await offers_of(api, "anna")
    url = f"/v1/offers/{offer['offer_id']}:decline"

    first = ok(await api.post(url, json={"agent_id": "anna"}))
    retried = await api.post(url, json={"agent_id": "anna"})

    assert first["state"] == "waiting"
    assert retried.status_code == 200, retried.text  # the module's contract: a retry is 200 again


async def test_an_agent_speaking_norwegian_gets_norwegian_cases(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    anna = await new_agent(api, "anna", languages=["no-NO", "NO", "en"])
    assert anna["languages"] == ["en", "nb"]  # "no" is read as Bokmål, as cases' languages are
    opened = case_opened(clock.now)  # in nb

    assert await service.handle_cases([opened]) == 1

    [offer] = await offers_of(api, "anna")
    assert offer["case_id"] == opened.case_id


@pytest.mark.parametrize("tag", ["", "en_US", "n", "x" * 9, "nb--NO", "nb NO"])
async def test_a_language_that_is_no_bcp47_tag_is_refused(api: httpx.AsyncClient, tag: str) -> None:
    problem = refused(await api.put("/v1/agents/anna", json=profile(languages=["en", tag])), 422)

    assert ["body", "languages", 1] in [error["loc"] for error in problem["errors"]]


async def test_a_case_left_in_a_removed_queue_moves_to_its_channels_queue_keeping_its_age(
    api: httpx.AsyncClient, service: RoutingService, store: MongoRoutingStore, clock: Clock
) -> None:
    await new_agent(api, "anna", available=False)
    # A case left in a queue the configuration no longer has (it was removed in a later release).
    stale = QueuedCase(
        case_id=f"stale-{uuid.uuid4().hex[:8]}",
        customer_id="customer-1",
        queue="legacy",
        channel=Channel.CHAT,
        category=CaseCategory.SHIPPING,
        language="nb",
        tier=Tier.STANDARD,
        predicted_value=Decimal(0),
        needs_recovery=False,
        last_agent=None,
        waiting_since=clock.now - timedelta(minutes=3),
    )
    assert await store.save_case(stale) is not None

    ok(await api.put("/v1/agents/anna/status", json={"status": "available"}))
    await service.tick()  # the tick's round looks at every queue, removed ones too

    moved = await store.case(stale.case_id)
    assert moved is not None
    assert moved.queue == "chat"
    assert moved.waiting_since == stale.waiting_since
    assert moved.agent_id == "anna"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"agent_id": "anna berg"}, id="bad-agent-id"),
        pytest.param({"agent_id": ".."}, id="dot-dot-agent-id"),
        pytest.param({"agent_id": "anna", "why": "x"}, id="unknown-field"),
        pytest.param([], id="not-an-object"),
    ],
)
async def test_answers_refuse_an_invalid_body(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock, body: Any
) -> None:
    await new_agent(api, "anna")
    opened = case_opened(clock.now)
    assert await service.handle_cases([opened]) == 1
    [offer] = await offers_of(api, "anna")

    refused(await api.post(f"/v1/offers/{offer['offer_id']}:accept", json=body), 422)
    refused(await api.post(f"/v1/offers/{offer['offer_id']}:decline", json=body), 422)
    assert [item["state"] for item in (await agent_of(api, "anna"))["work"]] == ["offered"]


# ----- decisions and queues


async def test_the_decision_explains_the_pick_once_an_offer_was_made(
    api: httpx.AsyncClient, routing_url: str, issuer: LocalIssuer, service: RoutingService, clock: Clock
) -> None:
    await new_agent(api, "anna")
    await new_agent(api, "bo")
    await new_agent(api, "carl", available=False)
    refused(await api.get("/v1/cases/no-such-case/decision"), 404)
    opened = case_opened(clock.now - timedelta(seconds=30), tier=Tier.SILVER)

    assert await service.handle_cases([opened]) == 1

    async with client_of(routing_url, issuer, ["cases:read"]) as case_reader:
        found = ok(await case_reader.get(f"/v1/cases/{opened.case_id}/decision"))
    [offer] = [*await offers_of(api, "anna"), *await offers_of(api, "bo")]
    assert (found["case_id"], found["offer_id"], found["agent_id"]) == (
        opened.case_id,
        offer["offer_id"],
        offer["agent_id"],
    )
    decision = found["decision"]
    assert decision == offer["decision"]
    assert decision["rule"] == Rule.AGENT_ID.value  # equal load, never idle: the id decides
    assert found["agent_id"] == "anna"
    assert (decision["eligible"], decision["considered"], decision["ineligible"]) == (2, 3, {"status": 1})
    parts = decision["score"]
    named = ("tier", "value", "channel", "aging", "sla", "recovery")
    assert math.isclose(sum(parts[name] for name in named), parts["total"], abs_tol=0.01)
    assert (parts["tier"], parts["channel"], parts["recovery"], parts["starving"]) == (
        RULES.weights.tier[Tier.SILVER],
        RULES.weights.channel[opened.channel],
        0,
        False,
    )
    assert math.isclose(parts["total"], expected_points(Tier.SILVER, 30), abs_tol=0.01)
    assert decision["weights"] == RULES.weights.published()


async def test_queue_cases_come_in_the_order_they_will_be_served(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    now = clock.now
    older_standard = case_opened(now - timedelta(minutes=5))
    newer_gold = case_opened(now - timedelta(minutes=1), tier=Tier.GOLD)
    starving_standard = case_opened(now - RULES.queue("chat").starvation_after - timedelta(minutes=1))
    newest_standard = case_opened(now - timedelta(seconds=10))
    # The documented weights put the gold case ahead of the older standard one.
    assert expected_points(Tier.GOLD, 60) > expected_points(Tier.STANDARD, 300)
    await service.handle_cases([newest_standard, older_standard, starving_standard, newer_gold])

    ranked = ok(await api.get("/v1/queues/chat/cases"))

    assert [case["case_id"] for case in ranked] == [
        starving_standard.case_id,  # starving ranks above every score
        newer_gold.case_id,
        older_standard.case_id,
        newest_standard.case_id,
    ]
    assert [case["position"] for case in ranked] == [1, 2, 3, 4]
    assert [case["score"]["starving"] for case in ranked] == [True, False, False, False]
    assert [case["tier"] for case in ranked] == ["standard", "gold", "standard", "standard"]
    elapsed = (datetime.now(UTC) - now).total_seconds()
    for case, opened in zip(
        ranked, [starving_standard, newer_gold, older_standard, newest_standard], strict=True
    ):
        waited = (now - opened.opened_at).total_seconds()
        low, high = (
            expected_points(opened.customer.tier, waited),
            expected_points(opened.customer.tier, waited + elapsed + 1),
        )
        assert low - 0.01 <= case["score"]["total"] <= high + 0.01, (case["score"], low, high)
    chat = queue_named(ok(await api.get("/v1/queues")), "chat")
    assert (chat["backlog"], chat["offered"], chat["arrivals_last_hour"]) == (4, 0, 4)
    assert chat["oldest_wait_seconds"] >= RULES.queue("chat").starvation_after.total_seconds()
    assert queue_named(ok(await api.get("/v1/queues")), "email")["backlog"] == 0

    assert ok(await api.get("/v1/queues/email/cases")) == []
    refused(await api.get("/v1/queues/nope/cases"), 404)
    refused(await api.get("/v1/queues/CHAT!/cases"), 422)


async def test_queues_list_every_configured_queue(api: httpx.AsyncClient) -> None:
    await new_agent(api, "anna")

    queues = ok(await api.get("/v1/queues"))

    assert [queue["queue"] for queue in queues] == [queue.name for queue in RULES.queues]
    chat = queue_named(queues, "chat")
    assert (chat["backlog"], chat["offered"], chat["agents_present_now"], chat["agents_eligible_now"]) == (
        0,
        0,
        1,
        1,
    )
    assert chat["sla_seconds"] == CHAT_SLA_SECONDS
    assert len(chat["scheduled"]) == 12
    assert all(hour["agents_scheduled"] == 1 for hour in chat["scheduled"])
    assert queue_named(queues, "phone")["agents_present_now"] == 0


# ----- staffing


def next_monday() -> date:
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
    return today + timedelta(days=7 - today.weekday())


async def test_staffing_sets_scheduled_agents_against_the_erlang_c_need_per_hour(
    api: httpx.AsyncClient, service: RoutingService, clock: Clock
) -> None:
    monday = next_monday()
    day_shift = [{"weekday": "mon", "start": "08:00", "end": "16:00"}]
    for agent_id in ("anna", "dina"):
        ok(await api.put(f"/v1/agents/{agent_id}", json=profile()), 201)
        ok(await api.put(f"/v1/agents/{agent_id}/schedule", json={"shifts": day_shift}))
    ok(await api.put("/v1/agents/bo", json=profile()), 201)  # overnight from Sunday into Monday
    ok(
        await api.put(
            "/v1/agents/bo/schedule", json={"shifts": [{"weekday": "sun", "start": "22:00", "end": "06:00"}]}
        )
    )
    ok(await api.put("/v1/agents/carl", json=profile(queues=["phone"])), 201)  # not chat
    ok(await api.put("/v1/agents/carl/schedule", json={"shifts": day_shift}))
    oslo = ZoneInfo("Europe/Oslo")
    leave = {
        "start": datetime.combine(monday, time(0), oslo).isoformat(),
        "end": datetime.combine(monday + timedelta(days=1), time(0), oslo).isoformat(),
    }
    ok(await api.post("/v1/agents/dina/leave", json=leave), 201)  # away that whole day
    await service.handle_cases([case_opened(clock.now), case_opened(clock.now)])

    plan = ok(await api.get("/v1/staffing", params={"queue": "chat", "date": monday.isoformat()}))

    assert (plan["queue"], plan["date"], plan["time_zone"]) == ("chat", monday.isoformat(), "Europe/Oslo")
    assert (plan["service_level"], plan["target_seconds"], plan["handle_seconds"], plan["concurrency"]) == (
        0.8,
        CHAT_SLA_SECONDS,
        300.0,
        1,
    )
    hours = plan["hours"]
    assert len(hours) == 24
    midnight = datetime.combine(monday, time(0), oslo)
    assert [datetime.fromisoformat(hour["hour_start"]) for hour in hours] == [
        midnight + timedelta(hours=offset) for offset in range(24)
    ]
    expected_scheduled = [int(hour < 6) + int(8 <= hour < 16) for hour in range(24)]
    assert [hour["scheduled"] for hour in hours] == expected_scheduled
    need = required_agents(2, 300, CHAT_SLA_SECONDS, 0.8)
    assert need > 0
    assert all(hour["arrivals_per_hour"] == 2 for hour in hours)
    assert [hour["required"] for hour in hours] == [need] * 24
    assert [hour["gap"] for hour in hours] == [scheduled - need for scheduled in expected_scheduled]

    utc = ok(
        await api.get(
            "/v1/staffing",
            params={
                "queue": "chat",
                "date": monday.isoformat(),
                "time_zone": "UTC",
                "service_level": 0.95,
                "concurrency": 3,
                "target_seconds": 20,
                "handle_seconds": 600,
            },
        )
    )
    assert datetime.fromisoformat(utc["hours"][0]["hour_start"]) == datetime.combine(monday, time(0), UTC)
    assert utc["hours"][0]["required"] == required_agents(2, 600, 20, 0.95, concurrency=3)
    phone = ok(await api.get("/v1/staffing", params={"queue": "phone", "date": monday.isoformat()}))
    assert [hour["scheduled"] for hour in phone["hours"]] == [int(8 <= hour < 16) for hour in range(24)]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        pytest.param({"queue": "nope"}, 404, id="unknown-queue"),
        pytest.param({"queue": "Chat"}, 422, id="queue-outside-pattern"),
        pytest.param({"service_level": 1.5}, 422, id="service-level-above-one"),
        pytest.param({"service_level": 1}, 422, id="service-level-one"),
        pytest.param({"service_level": 0}, 422, id="service-level-zero"),
        pytest.param({"service_level": "most"}, 422, id="service-level-not-a-number"),
        pytest.param({"date": "2025-02-30"}, 422, id="no-such-date"),
        pytest.param({"date": None}, 422, id="no-date"),
        pytest.param({"time_zone": "Mars/Olympus_Mons"}, 422, id="unknown-zone"),
        pytest.param({"time_zone": "../../../etc/passwd"}, 422, id="path-as-zone"),
        pytest.param({"concurrency": 0}, 422, id="no-concurrency"),
        pytest.param({"handle_seconds": -5}, 422, id="negative-handle"),
        pytest.param({"date": "0001-01-01"}, 422, id="first-day-of-the-calendar"),
        pytest.param({"date": "9999-12-31"}, 422, id="last-day-of-the-calendar"),
    ],
)
async def test_staffing_refuses_what_it_cannot_plan(
    api: httpx.AsyncClient, params: dict[str, Any], status: int
) -> None:
    await new_agent(api, "anna")
    query = {"queue": "chat", "date": next_monday().isoformat(), **params}

    refused(await api.get("/v1/staffing", params={k: v for k, v in query.items() if v is not None}), status)


# ----- hostile input


async def test_a_body_over_the_limit_is_refused_with_413(api: httpx.AsyncClient) -> None:
    limit = RoutingSettings().max_body_bytes
    huge = {**profile(), "skills": ["x" * (limit + 1)]}

    problem = refused(await api.put("/v1/agents/anna", json=huge), 413)

    assert problem["max_body_bytes"] == limit
    chunked = refused(
        await api.put(
            "/v1/agents/anna",
            content=chunks(b'{"queues": ["' + b"x" * limit, b'"]}'),
            headers={"Content-Type": "application/json"},
        ),
        413,
    )
    assert chunked["max_body_bytes"] == limit
    refused(await api.get("/v1/agents/anna"), 404)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"queues=chat", "application/x-www-form-urlencoded", id="form"),
        pytest.param(b"{not json", "application/json", id="broken-json"),
        pytest.param(b"", "application/json", id="empty"),
        pytest.param(b'"anna"', "application/json", id="json-string"),
        pytest.param(b"\xff\xfe\x00garbage", "application/json", id="binary"),
        pytest.param(b'{"queues": ["chat"]}', "text/plain", id="text-plain"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_refused_with_422(
    api: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await api.put("/v1/agents/anna", content=content, headers={"Content-Type": content_type})

    refused(response, 422)
    refused(await api.get("/v1/agents/anna"), 404)


async def test_validation_errors_do_not_echo_the_client_data(api: httpx.AsyncClient) -> None:
    secret = "ola.nordmann@example.com"
    body = {**profile(), "capacity": {"channels": {secret: {"cost": 1, "cap": 1}}}, secret: 1}

    response = await api.put("/v1/agents/anna", json=body)

    refused(response, 422)
    assert secret not in response.text


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"queues": ["chat", "chatt"]}, "chatt", id="unknown-queue"),
        pytest.param({"skills": ["shipping", "billing"]}, "billing", id="unknown-skill"),
        pytest.param(
            {"capacity": {"budget": 50, "channels": {"phone": {"cost": 100, "cap": 1}}}},
            "phone",
            id="over-budget",
        ),
    ],
)
async def test_a_profile_that_could_never_be_offered_work_is_refused(
    api: httpx.AsyncClient, changes: dict[str, Any], named: str
) -> None:
    response = await api.put("/v1/agents/anna", json=profile(**changes))

    assert response.status_code == 422, response.text
    assert named in response.json()["detail"]
    assert (await api.get("/v1/agents/anna")).status_code == 404  # nothing was written
