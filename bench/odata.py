"""Profile's OData service, the issue-8 target: ``Customers?$filter=…&$top=26`` (Salesforce Connect's
page) p99 at a fixed rate over a large database of customers (100k by default), seeded through a profile
worker of its own like the read-side benchmark.

Three filters, because they cost very differently on a MongoDB-wire server without a query planner for
them: an email lookup (a Salesforce indirect lookup; served through the identifier's unique link), a
list view by tier (natural order: the read stops at the page), and Salesforce's search form over every
customer's emails (a scan of them all).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from bench.ingest import run_loadgen, running_api
from bench.profile import running_worker
from bench.profile_api import Person, bench_people, seed
from bench.report import Figure
from services.common.settings import CommonSettings

_TOP = 26


def odata_figures(
    settings: CommonSettings, loadgen: Path, *, customers: int, rate: int, seconds: int
) -> list[Figure]:
    run = uuid.uuid4().hex[:8]
    people = bench_people(run, customers)
    with running_worker(settings, f"bench-profile-odata-{run}"):
        asyncio.run(seed(settings, people))
    figures: list[Figure] = []
    with running_api(settings, "services.profile.main", "customers:read") as api:
        for label, (urls, offered) in _queries(api.base, people, run, rate).items():
            name = f"OData {label} over {customers:,} customers"
            figures += _fixed_rate(loadgen, api.token, name, urls, rate=offered, seconds=seconds)
    return figures


def _queries(base: str, people: Sequence[Person], run: str, rate: int) -> dict[str, tuple[list[str], int]]:
    """Each query's URLs and offered rate; the ones that read every customer are offered at 1/s."""

    def url(expression: str) -> str:
        return f"{base}/odata/v4/Customers?$filter={quote(expression, safe='')}&$top={_TOP}"

    sample = random.sample(list(people), min(len(people), 2_000))
    return {
        "Email eq (lookup)": ([url(f"Email eq '{email.value}'") for email, _ in sample], rate),
        # Most customers are standard: the read stops at the page. Few are gold: every customer is read.
        "Tier eq 'standard' (list view)": ([url("Tier eq 'standard'")], rate),
        "Tier eq 'gold' (list view of a few: a scan)": ([url("Tier eq 'gold'")], 1),
        "contains(Email) eq true (search)": (
            [url(f"contains(Email,'{run}-{n}@') eq true") for n in random.sample(range(len(people)), 50)],
            1,
        ),
    }


def _fixed_rate(
    loadgen: Path, token: str, label: str, urls: Sequence[str], *, rate: int, seconds: int
) -> list[Figure]:
    with tempfile.NamedTemporaryFile("w", suffix=".urls") as listing:
        listing.write("\n".join(urls))
        listing.flush()
        report = run_loadgen(
            loadgen,
            *("-urls-file", listing.name, "-token", token, "-duration", f"{seconds}s"),
            *("-rate", str(rate), "-connections", "64"),
        )
    not_ok = report["requests"] - report["statuses"].get("200", 0) + report["unsent"]
    return [
        Figure(f"{label}: offered ({seconds} s)", float(rate), "req/s"),
        Figure(f"{label}: achieved", report["achieved_requests_per_s"], "req/s"),
        Figure(f"{label}: p50", report["p50_ms"], "ms"),
        Figure(f"{label}: p99 (target <= 50 ms)", report["p99_ms"], "ms"),
        Figure(f"{label}: not 200 or not sent", float(not_ok), "requests"),
    ]
