"""Demo data for ``stack run``: the queues' opening hours in notify, routing's agents with their
schedules, a few customers' contacts through ingest, and the agents' desktops (heartbeats, and offers
accepted then completed after a while), so the supervisor page and the APIs show something living. Only
ever against the local stack."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

_log = logging.getLogger("demo")
_EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAYS = _EVERY_DAY[:5]
HEARTBEAT_SECONDS = 20.0
# The demo agents take an offer this long after it appears, and finish the work this long after that.
ACCEPT_AFTER = timedelta(seconds=8)
COMPLETE_AFTER = timedelta(seconds=90)
TOKEN_ROUNDS = 100


def _shifts(days: tuple[str, ...], start: str, end: str) -> list[dict[str, str]]:
    return [{"weekday": day, "start": start, "end": end} for day in days]


CHAT_EMAIL = {"chat": {"cost": 33, "cap": 3}, "email": {"cost": 20, "cap": 5}}
PHONE_CHAT = {"phone": {"cost": 100, "cap": 1}, "chat": {"cost": 33, "cap": 3}}
MESSAGING_EMAIL = {
    "sms": {"cost": 20, "cap": 4},
    "messenger": {"cost": 20, "cap": 4},
    "email": {"cost": 20, "cap": 5},
}

AGENTS: list[dict[str, Any]] = [
    {
        "id": "ada",
        "profile": {
            "queues": ["chat", "email"],
            "languages": ["nb", "en"],
            "capacity": {"channels": CHAT_EMAIL},
        },
        "shifts": _shifts(_WEEKDAYS, "08:00", "16:00"),
        "status": "available",
    },
    {
        "id": "bjorn",
        "profile": {
            "queues": ["phone", "callback", "chat"],
            "languages": ["nb"],
            "capacity": {"channels": PHONE_CHAT},
        },
        "shifts": _shifts(_WEEKDAYS, "12:00", "20:00"),
        "status": "available",
    },
    {
        "id": "cecilie",
        "profile": {
            "queues": ["messaging", "email"],
            "languages": ["sv", "da", "en"],
            "capacity": {"channels": MESSAGING_EMAIL},
        },
        "shifts": _shifts(_EVERY_DAY, "16:00", "00:00"),
        "status": "available",
    },
    {
        "id": "dag",  # always on: the demo always has someone to route to
        "profile": {
            "queues": ["chat", "email", "messaging"],
            "languages": ["nb", "en"],
            # Room beyond the demo's own contacts, so a case sent while they are held still finds him.
            "capacity": {"budget": 200, "channels": {**CHAT_EMAIL, "sms": {"cost": 20, "cap": 4}}},
        },
        "shifts": _shifts(_EVERY_DAY, "00:00", "00:00"),
        "status": "available",
    },
    {
        "id": "eva",  # on leave: never offered anything
        "profile": {"queues": ["chat", "email"], "languages": ["nb"], "capacity": {"channels": CHAT_EMAIL}},
        "shifts": _shifts(_EVERY_DAY, "00:00", "00:00"),
        "status": "available",
        "leave_days": 14,
    },
    {
        "id": "frode",  # on shift but away
        "profile": {
            "queues": ["phone", "callback"],
            "languages": ["nb"],
            "capacity": {"channels": PHONE_CHAT},
        },
        "shifts": _shifts(_EVERY_DAY, "00:00", "00:00"),
        "status": "away",
    },
]

CONTACTS: list[dict[str, Any]] = [
    {
        "channel": "email",
        "email": "kari.demo@example.no",
        "subject": "Hvor er pakken min?",
        "text": "Hei, ordre 10042 har ikke kommet.",
    },
    {"channel": "chat", "email": "per.demo@example.no", "text": "Hei! Kan jeg bytte størrelse på jakka?"},
    {
        "channel": "email",
        "email": "lisa.demo@example.se",
        "subject": "Retur",
        "text": "Hej, jag vill returnera skorna.",
    },
    {"channel": "sms", "phone": "+4791234567", "text": "Når kommer leveransen?"},
    {
        "channel": "web_form",
        "email": "ole.demo@example.no",
        "subject": "Reklamasjon",
        "text": "Glidelåsen røk etter to dager.",
    },
]


def _hours(days: tuple[str, ...], *openings: tuple[str, str]) -> dict[str, list[dict[str, str]]]:
    names = dict(
        zip(
            _EVERY_DAY,
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            strict=True,
        )
    )
    return {names[day]: [{"opens": opens, "closes": closes} for opens, closes in openings] for day in days}


# Norwegian opening hours and holidays; Christmas Eve and New Year's Eve are no holidays in Norway, so a
# queue closed then says so. Email is split around lunch; the phone line has a late evening on Thursdays.
_CLOSED_DAYS = [
    {"day": f"{year}-12-{day}", "label": label}
    for year in (2026, 2027)
    for day, label in (("24", "Julaften"), ("31", "Nyttårsaften"))
]
CALENDARS: dict[str, dict[str, Any]] = {
    "email": {"hours": _hours(_WEEKDAYS, ("08:00", "11:30"), ("12:00", "16:00"))},
    "chat": {"hours": _hours(_WEEKDAYS, ("08:00", "20:00")) | _hours(("sat",), ("10:00", "16:00"))},
    "messaging": {"hours": _hours(_WEEKDAYS, ("08:00", "20:00"))},
    "phone": {
        "hours": _hours(_WEEKDAYS, ("08:00", "16:00"))
        | _hours(("thu",), ("08:00", "16:00"), ("18:00", "21:00"))
    },
    "callback": {"hours": _hours(_WEEKDAYS, ("08:00", "20:00"))},
}


async def load_calendars(client: httpx.AsyncClient, notify: str) -> None:
    for queue, calendar in CALENDARS.items():
        body = {"time_zone": "Europe/Oslo", "country": "NO", "closures": _CLOSED_DAYS, **calendar}
        (await client.put(f"{notify}/v1/queues/{queue}/calendar", json=body)).raise_for_status()


async def _token(issuer: str) -> str:
    # A client of its own: the issuer refuses a token request that already carries a bearer token.
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{issuer}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "helhet-dev",
                "client_secret": "helhet-dev-secret",
            },
        )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def _wait_ready(client: httpx.AsyncClient, base: str) -> None:
    for _ in range(240):
        try:
            if (await client.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{base} did not become ready")


DEMO_INTEGRATION = "demo-crm"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(text)


async def register_crm(client: httpx.AsyncClient, profile: str, key_file: Path) -> None:
    """A demo CRM integration, and its read-only API key in ``key_file`` (kept across runs: one key)."""
    integration = {"name": "Demo CRM", "crm": "other", "frame_origins": ["http://127.0.0.1:8080"]}
    base = f"{profile}/v1/integrations/{DEMO_INTEGRATION}"
    (await client.put(base, json=integration)).raise_for_status()
    if not await asyncio.to_thread(key_file.exists):
        issued = await client.post(f"{base}/api-keys")
        issued.raise_for_status()
        await asyncio.to_thread(_write_private, key_file, issued.json()["api_key"])
    _log.info("demo CRM: OData at %s/odata/v4/ with the X-Api-Key in %s", profile, key_file)


async def seed_agents(client: httpx.AsyncClient, routing: str) -> None:
    now = datetime.now(UTC)
    for agent in AGENTS:
        base = f"{routing}/v1/agents/{agent['id']}"
        (await client.put(base, json=agent["profile"])).raise_for_status()
        (await client.put(f"{base}/schedule", json={"shifts": agent["shifts"]})).raise_for_status()
        if leave_days := agent.get("leave_days"):
            leave = {"start": now.isoformat(), "end": (now + timedelta(days=leave_days)).isoformat()}
            (await client.post(f"{base}/leave", json=leave)).raise_for_status()
        (await client.put(f"{base}/status", json={"status": agent["status"]})).raise_for_status()


async def send_contacts(client: httpx.AsyncClient, ingest: str) -> None:
    now = datetime.now(UTC)
    for number, contact in enumerate(CONTACTS):
        identifier = (
            {"kind": "email", "value": contact["email"]}
            if "email" in contact
            else {"kind": "phone", "value": contact["phone"]}
        )
        body = {
            "channel": contact["channel"],
            "direction": "inbound",
            "identifiers": [identifier],
            "text": contact["text"],
            "occurred_at": (now - timedelta(minutes=5 * number)).isoformat(),
            "source_message_id": f"demo-{number}-{now.date().isoformat()}",
        }
        if "subject" in contact:
            body["subject"] = contact["subject"]
        (await client.post(f"{ingest}/v1/interactions", json=body)).raise_for_status()


async def desktops(client: httpx.AsyncClient, routing: str, rounds: int) -> None:
    """Heartbeats of the available demo agents; their offers accepted, then completed."""
    available = [agent["id"] for agent in AGENTS if agent["status"] == "available"]
    done = 0
    while done < rounds:
        try:
            await _desktop_round(client, routing, available)
        except httpx.HTTPError as error:  # a service restarting: the next round tries again
            _log.warning("demo desktops: %s", type(error).__name__)
        done += 1
        await asyncio.sleep(HEARTBEAT_SECONDS / 4)


async def _desktop_round(client: httpx.AsyncClient, routing: str, available: list[str]) -> None:
    now = datetime.now(UTC)
    for agent_id in available:
        await client.post(f"{routing}/v1/agents/{agent_id}/heartbeat")
        response = await client.get(f"{routing}/v1/agents/{agent_id}")
        if response.status_code != 200:
            continue
        agent = response.json()
        if agent["not_responding"]:  # an offer slipped by (a restart): the agent says they are back
            await client.put(f"{routing}/v1/agents/{agent_id}/status", json={"status": "available"})
        for item in agent["work"]:
            since = datetime.fromisoformat(item["since"])
            if item["state"] == "offered" and now - since >= ACCEPT_AFTER:
                await client.post(
                    f"{routing}/v1/offers/{item['offer_id']}:accept", json={"agent_id": agent_id}
                )
            elif item["state"] == "accepted" and now - since >= COMPLETE_AFTER:
                await client.post(f"{routing}/v1/assignments/{item['offer_id']}:complete")


async def main(
    issuer: str,
    ingest: str,
    routing: str,
    rounds: int | None,
    *,
    token_rounds: int = TOKEN_ROUNDS,
    notify: str | None = None,
    profile: str | None = None,
    crm_key_file: Path | None = None,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for base in (ingest, routing, *([notify] if notify else []), *([profile] if profile else [])):
            await _wait_ready(client, base)
        client.headers["Authorization"] = f"Bearer {await _token(issuer)}"
        if notify:
            await load_calendars(client, notify)
        if profile and crm_key_file:
            await register_crm(client, profile, crm_key_file)
        await seed_agents(client, routing)
        await send_contacts(client, ingest)
        _log.info("demo agents and contacts loaded; keeping the agents' desktops alive")
        while rounds is None or rounds > 0:
            # A fresh token now and then: development tokens expire.
            client.headers["Authorization"] = f"Bearer {await _token(issuer)}"
            batch = token_rounds if rounds is None else min(rounds, token_rounds)
            await desktops(client, routing, batch)
            rounds = None if rounds is None else rounds - batch


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ingest", required=True)
    parser.add_argument("--routing", required=True)
    parser.add_argument("--notify", default=None, help="Load the demo opening hours into notify here.")
    parser.add_argument("--profile", default=None, help="Register the demo CRM here.")
    parser.add_argument("--crm-key-file", type=Path, default=None, help="The demo CRM's API key file.")
    parser.add_argument("--rounds", type=int, default=None, help="Desktop rounds (default: until stopped).")
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.issuer,
            arguments.ingest,
            arguments.routing,
            arguments.rounds,
            notify=arguments.notify,
            profile=arguments.profile,
            crm_key_file=arguments.crm_key_file,
        )
    )
