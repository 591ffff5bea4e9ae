"""``python -m bench``: the physical-limit figures of this machine (``make bench`` runs it with the local
platform up). Later benchmarks print their own figures next to these from the same run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from bench.card import CardSizes, card_figures
from bench.ingest import batch_closed_loop, running_ingest, single_at_fixed_rate
from bench.notify import notify_figures
from bench.odata import odata_figures
from bench.profile import profile_rate
from bench.profile_api import ReadSideSizes, read_side_figures
from bench.raw_kafka import aiokafka_rates, cloud_events, kafka_python_rates
from bench.raw_mongo import mongo_rates, sync_client_rates
from bench.report import Figure, publish
from bench.routing import RoutingSizes, routing_figures
from bench.webhooks import webhook_figures
from services.common.settings import CommonSettings


def main(  # noqa: PLR0917 - typer maps each parameter to one CLI option
    messages: Annotated[int, typer.Option(help="Kafka messages per client and direction.")] = 100_000,
    documents: Annotated[int, typer.Option(help="Documents to bulk-upsert.")] = 100_000,
    lookups: Annotated[int, typer.Option(help="find_one lookups.")] = 10_000,
    loadgen: Annotated[
        Path | None,
        typer.Option(
            help="bench/loadgen binary; without it the HTTP figures (ingest, profile lookups) are skipped."
        ),
    ] = None,
    rate: Annotated[int, typer.Option(help="Offered single-request rate for ingest.")] = 1_000,
    profile_events: Annotated[int, typer.Option(help="Events in profile's burst.")] = 20_000,
    profile_customers: Annotated[
        int, typer.Option(help="Customers seeded for profile's lookup and freshness figures (0: skip them).")
    ] = 20_000,
    lookup_rate: Annotated[int, typer.Option(help="Offered profile lookup rate.")] = 2_000,
    lookup_seconds: Annotated[int, typer.Option(help="Seconds of each profile lookup run.")] = 10,
    freshness_rate: Annotated[int, typer.Option(help="Events/s published for profile's freshness.")] = 1_000,
    freshness_seconds: Annotated[int, typer.Option(help="Seconds of profile's freshness run.")] = 15,
    routing_agents: Annotated[int, typer.Option(help="Agents in routing's figures.")] = 1_000,
    routing_cases: Annotated[int, typer.Option(help="Waiting cases for routing's pick figures.")] = 10_000,
    routing_picks: Annotated[int, typer.Option(help="Picks timed per routing pick figure.")] = 2_000,
    routing_rate: Annotated[int, typer.Option(help="Cases/s opened in routing's end to end (0: skip).")] = 50,
    routing_seconds: Annotated[int, typer.Option(help="Seconds of routing's end-to-end run.")] = 10,
    routing_only: Annotated[bool, typer.Option(help="Only routing's figures.")] = False,
    notify_rate: Annotated[int, typer.Option(help="Emails/s in notify's end to end (0: skip).")] = 20,
    notify_seconds: Annotated[int, typer.Option(help="Seconds of notify's end-to-end run.")] = 15,
    notify_only: Annotated[bool, typer.Option(help="Only notify's figures.")] = False,
    odata_customers: Annotated[
        int, typer.Option(help="Customers seeded for the OData figures (0: skip).")
    ] = 100_000,
    odata_rate: Annotated[int, typer.Option(help="Offered OData requests/s.")] = 50,
    webhook_events: Annotated[int, typer.Option(help="Events in the webhooks burst (0: skip).")] = 5_000,
    webhook_customers: Annotated[int, typer.Option(help="Customers the webhooks burst spreads over.")] = 500,
    card_customers: Annotated[
        int, typer.Option(help="Customers seeded for the card figures (0: skip).")
    ] = 2_000,
    crm_only: Annotated[bool, typer.Option(help="Only the CRM figures (OData, card, webhooks).")] = False,
) -> None:
    settings = CommonSettings(service_name="helhet-bench")
    routing = RoutingSizes(routing_agents, routing_cases, routing_picks, routing_rate, routing_seconds)
    crm = CrmSizes(odata_customers, odata_rate, webhook_events, webhook_customers, card_customers)
    if notify_only:
        path = publish("Helhet notify (this machine)", notify_figures(settings, notify_rate, notify_seconds))
        typer.echo(f"results: {path}")
        return
    if crm_only:
        path = publish("Helhet CRM (this machine)", crm_figures(settings, loadgen, crm))
        typer.echo(f"results: {path}")
        return
    if routing_only:
        path = publish("Helhet routing (this machine)", routing_figures(settings, routing))
        typer.echo(f"results: {path}")
        return
    records = cloud_events(messages)
    figures = kafka_python_rates(settings, records)
    figures += asyncio.run(aiokafka_rates(settings, records))
    figures += asyncio.run(mongo_rates(settings, documents, lookups))
    figures += sync_client_rates(settings, documents, lookups)
    if loadgen is not None:
        with running_ingest(settings) as api:
            for duplicates in (False, True):
                figures += single_at_fixed_rate(loadgen, api, rate, 10, duplicates=duplicates)
            batch = batch_closed_loop(loadgen, api, seconds=10, size=500, connections=4)
        raw_produce = next(f.value for f in figures if f.name.startswith("aiokafka produce"))
        figures += [
            *batch,
            Figure("ingest batch rate / raw aiokafka produce", batch[0].value / raw_produce, "ratio"),
        ]
        # The same on one process per core (HELHET_API_PROCESSES): as many connections per process.
        with running_ingest(settings, processes=2) as api:
            figures += single_at_fixed_rate(loadgen, api, rate, 10, duplicates=False)
            figures += batch_closed_loop(loadgen, api, seconds=10, size=500, connections=8)
    profile = asyncio.run(profile_rate(settings, events=profile_events, customers=profile_events // 4))
    raw_upsert = next(f.value for f in figures if f.name.startswith("async client: bulk upsert, new"))
    figures += [*profile, Figure("profile rate / raw bulk upsert", profile[0].value / raw_upsert, "ratio")]
    if profile_customers > 0:
        sizes = ReadSideSizes(
            customers=profile_customers,
            lookup_rate=lookup_rate,
            lookup_seconds=lookup_seconds,
            freshness_rate=freshness_rate,
            freshness_seconds=freshness_seconds,
        )
        figures += read_side_figures(settings, loadgen, sizes)
    figures += routing_figures(settings, routing)
    figures += notify_figures(settings, notify_rate, notify_seconds)
    figures += crm_figures(settings, loadgen, crm)
    path = publish("Helhet physical limits (this machine)", figures)
    typer.echo(f"results: {path}")


@dataclass(frozen=True)
class CrmSizes:
    odata_customers: int = 100_000
    odata_rate: int = 50
    webhook_events: int = 5_000
    webhook_customers: int = 500
    card_customers: int = 2_000


def crm_figures(settings: CommonSettings, loadgen: Path | None, sizes: CrmSizes) -> list[Figure]:
    """OData and the card (only with ``loadgen``) and webhooks; a size of 0 skips its figures."""
    figures: list[Figure] = []
    if loadgen is not None and sizes.odata_customers > 0:
        figures += odata_figures(
            settings, loadgen, customers=sizes.odata_customers, rate=sizes.odata_rate, seconds=10
        )
    if loadgen is not None and sizes.card_customers > 0:
        figures += card_figures(settings, loadgen, CardSizes(customers=sizes.card_customers))
    if sizes.webhook_events > 0:
        figures += webhook_figures(
            settings, events=sizes.webhook_events, customers=max(1, sizes.webhook_customers)
        )
    return figures


if __name__ == "__main__":
    typer.run(main)
