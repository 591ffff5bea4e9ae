"""Ingest settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from services.common.settings import CommonSettings


class IngestSettings(CommonSettings):
    service_name: str = "ingest"
    api_port: int = 8001
    # National numbers without +country are read as this region's.
    default_phone_region: str = "NO"
    # 500 full interactions need more than the 1 MiB default.
    max_body_bytes: int = 16 * 1024 * 1024
    dedupe_stale_after_seconds: float = 30.0
