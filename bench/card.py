"""The profile card's server time at a fixed arrival rate (target: p99 <= 100 ms).

Customers are seeded through a profile worker (its own process, as under ``make run``); profile's API runs
in its own process; one integration is registered and a signed card link is minted for each customer
through ``POST /v1/card-links`` (by email, so each card is a lookup, the customer, and three timeline
reads). ``bench/loadgen`` then GETs those links at a fixed rate; latency is measured from each request's
scheduled start on loopback, so it is the server's time plus a little.

It runs on a database of its own, so the figure is the card with these customers' timelines only: the
local MongoDB-wire server uses no index for a timeline read (it scans the collection, where MongoDB uses
``by_customer_time``), so there the card's time grows with every timeline entry in the database.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import run_loadgen, running_api
from bench.own_profile import own_database
from bench.profile import running_worker
from bench.profile_api import Person, bench_people, seed
from bench.report import Figure
from services.common.mongo import create_mongo_client, database
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.mongo_integrations import MongoIntegrations
from services.profile.core.integrations import CrmKind
from services.profile.indexes import TIMELINE_COLLECTION
from services.profile.integrations import IntegrationService

# Links live this long (the card's maximum): longer than any run here.
_LINK_TTL_SECONDS = 900
_MINTING_CONNECTIONS = 16


@dataclass(frozen=True)
class CardSizes:
    customers: int = 2_000
    rate: int = 100
    seconds: int = 10


def card_figures(settings: CommonSettings, loadgen: Path, sizes: CardSizes) -> list[Figure]:
    """Seed ``sizes.customers``, mint a link to each one's card, and GET them at ``sizes.rate`` for
    ``sizes.seconds`` (in random order, each customer about as often)."""
    run = uuid.uuid4().hex[:8]
    people = bench_people(run, sizes.customers)
    integration_id = f"bench-card-{run}"
    with own_database(settings, f"bench-card-{run}") as own:
        with running_worker(own, f"bench-card-{run}"):
            asyncio.run(seed(own, people))
        entries = asyncio.run(_register(own, integration_id))
        report = _load(own, loadgen, integration_id, people, sizes)
    label = "profile card page (lookup by email, signed link)"
    not_ok = sum(count for status, count in report["statuses"].items() if status != "200")
    return [
        Figure(f"{label}: timeline entries in its database", float(entries), "entries"),
        Figure(f"{label}: offered ({sizes.seconds} s)", float(sizes.rate), "req/s"),
        Figure(f"{label}: achieved", report["achieved_requests_per_s"], "req/s"),
        Figure(f"{label}: p50", report["p50_ms"], "ms"),
        Figure(f"{label}: p99 (target <= 100)", report["p99_ms"], "ms"),
        Figure(f"{label}: not 200 or not sent", float(not_ok + report["unsent"]), "requests"),
    ]


async def _register(settings: CommonSettings, integration_id: str) -> int:
    """Register the integration; the number of timeline entries the cards are read from."""
    client = create_mongo_client(settings)
    try:
        db = database(client, settings)
        integrations = IntegrationService(MongoIntegrations(db), lambda: datetime.now(UTC))
        await integrations.put(
            integration_id, name="bench", crm=CrmKind.SUPEROFFICE, frame_origins=["https://crm.example.com"]
        )
        return await db[TIMELINE_COLLECTION].count_documents({})
    finally:
        await client.close()


def _load(
    settings: CommonSettings, loadgen: Path, integration_id: str, people: Sequence[Person], sizes: CardSizes
) -> dict[str, Any]:
    """Mint the links through the API, then GET them at the fixed rate; loadgen's report."""
    with running_api(settings, "services.profile.main", "customers:read") as api:
        links = asyncio.run(_mint(api.base, api.token, integration_id, people))
        urls = [f"{api.base}{link}" for link in links]
        random.shuffle(urls)
        with tempfile.NamedTemporaryFile("w", suffix=".urls") as listing:
            listing.write("\n".join(urls))
            listing.flush()
            flags = ["-rate", str(sizes.rate), "-duration", f"{sizes.seconds}s", "-connections", "64"]
            return run_loadgen(loadgen, "-urls-file", listing.name, *flags)


async def _mint(base: str, token: str, integration_id: str, people: Sequence[Person]) -> list[str]:
    """A card link per customer, minted over the API a few at a time."""
    links: list[str] = []
    gate = asyncio.Semaphore(_MINTING_CONNECTIONS)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:

        async def one(email: str) -> None:
            body = {"integration": integration_id, "identifier": email, "ttl_seconds": _LINK_TTL_SECONDS}
            async with gate:
                response = await client.post("/v1/card-links", json=body)
            response.raise_for_status()
            links.append(response.json()["url"])

        await asyncio.gather(*(one(email.key) for email, _ in people))
    return links
