"""Profile settings (``HELHET_`` environment variables)."""

from __future__ import annotations

from services.common.settings import CommonSettings


class ProfileSettings(CommonSettings):
    service_name: str = "profile"
    api_port: int = 8002
    # National phone numbers in lookups ("91234567") are read as this region's.
    default_phone_region: str = "NO"
    # The consumer group: every profile worker shares it, so partitions are split between them.
    worker_app_id: str = "helhet-profile"
    # A batch is this many events, or what arrived within the time; one set of bulk writes each. Under
    # load batches fill before the time is up; when quiet the time is the latency floor (0.5 s made the
    # p50 at 150 events/s 790 ms, 0.1 s 190 ms, at the same sustained rate).
    worker_batch_size: int = 500
    worker_batch_within_seconds: float = 0.1
    # A batch whose database write failed is retried after this long (doubling up to the maximum);
    # its offsets are not committed meanwhile.
    worker_retry_initial_seconds: float = 0.5
    worker_retry_max_seconds: float = 30.0
    # Shared identifiers that must never link customers, e.g. "phone:+4722000000" (a shop's phone).
    blocked_identifier_keys: frozenset[str] = frozenset()
