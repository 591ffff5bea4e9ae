"""Dead letters on ``<topic>.dlq``: where the message was and why it was refused, never its content or
key (both may hold personal data)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from schemas.catalog import DLQ_SUFFIX

# (topic, headers) → returns once the broker acknowledged an empty message with these headers.
SendEmpty = Callable[[str, list[tuple[str, bytes]]], Awaitable[None]]

_MAX_REASON_CHARS = 500


def dead_letter_headers(
    consumer: str, topic: str, partition: int, offset: int, error: Exception
) -> list[tuple[str, bytes]]:
    # Reasons of InvalidEventError name fields and rules, never values (see services.common.codec).
    return [
        ("dlq_consumer", consumer.encode()),
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", str(partition).encode()),
        ("dlq_original_offset", str(offset).encode()),
        ("dlq_error_class", type(error).__name__.encode()),
        ("dlq_error_reason", str(error)[:_MAX_REASON_CHARS].encode()),
    ]


class KafkaDeadLetters:
    def __init__(self, consumer: str, send_empty: SendEmpty) -> None:
        self._consumer = consumer
        self._send_empty = send_empty

    async def send(self, topic: str, partition: int, offset: int, error: Exception) -> None:
        headers = dead_letter_headers(self._consumer, topic, partition, offset, error)
        await self._send_empty(topic + DLQ_SUFFIX, headers)
