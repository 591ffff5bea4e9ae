"""``python -m bench``: the physical-limit figures of this machine (``make bench`` runs it with the local
platform up). Later benchmarks print their own figures next to these from the same run."""

from __future__ import annotations

import asyncio

import typer

from bench.raw_kafka import aiokafka_rates, cloud_events, kafka_python_rates
from bench.raw_mongo import mongo_rates, sync_client_rates
from bench.report import publish
from services.common.settings import CommonSettings


def main(
    messages: int = typer.Option(100_000, help="Kafka messages per client and direction."),
    documents: int = typer.Option(100_000, help="Documents to bulk-upsert."),
    lookups: int = typer.Option(10_000, help="find_one lookups."),
) -> None:
    settings = CommonSettings(service_name="helhet-bench")
    records = cloud_events(messages)
    figures = kafka_python_rates(settings, records)
    figures += asyncio.run(aiokafka_rates(settings, records))
    figures += asyncio.run(mongo_rates(settings, documents, lookups))
    figures += sync_client_rates(settings, documents, lookups)
    path = publish("Helhet physical limits (this machine)", figures)
    typer.echo(f"results: {path}")


if __name__ == "__main__":
    typer.run(main)
