"""CloudEvents 1.0 binary-mode codec for Kafka: typed events in, headers + key + JSON body out, and back.

Decoding validates the whole message (attributes, declared type, payload) before anything acts on it, so
a bad message is rejected as a unit and never half-processed. Error texts name the failing field and the
rule, never the rejected value: values may be personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from schemas.catalog import event_type, event_type_of
from schemas.envelope import DATA_CONTENT_TYPE, SPEC_VERSION, DataT, Event, Payload
from schemas.identifiers import ALREADY_NORMALISED

Headers = list[tuple[str, bytes]]


class InvalidEventError(ValueError):
    """A message that is not a valid Helhet CloudEvent. ``str()`` is safe to log: it holds no values."""


@dataclass(frozen=True)
class KafkaRecord:
    """A message as Kafka carries it, independent of the client library."""

    key: bytes
    value: bytes
    headers: Headers


class _RawJSONFormat(JSONFormat):
    """Keeps the body as bytes: pydantic parses JSON straight into the model, faster than json.loads."""

    def write_data(self, data: Any, datacontenttype: str | None) -> bytes:
        return bytes(data)

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body


_FORMAT = _RawJSONFormat()
_REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_time")


def encode(event: Event[DataT], extra_headers: Mapping[str, str] | None = None) -> KafkaRecord:
    """Encode ``event`` in binary mode; ``extra_headers`` carries e.g. W3C trace context."""
    declared = event_type_of(type(event.data))
    if declared.name != event.type:
        raise InvalidEventError(f"event type {event.type!r} does not match payload {declared.name!r}")
    attributes: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "time": event.time,
        "datacontenttype": DATA_CONTENT_TYPE,
    }
    if event.subject is not None:
        attributes["subject"] = event.subject
    cloud_event = CloudEvent(attributes, event.data.model_dump_json().encode())
    message = ce_kafka.to_binary(cloud_event, _FORMAT)
    headers = list(message.headers.items())
    if extra_headers:
        headers += [(name, value.encode()) for name, value in extra_headers.items()]
    return KafkaRecord(key=event.key.encode(), value=message.value, headers=headers)


@cache
def _envelope(model: type[Payload]) -> type[Event[Any]]:
    """``Event[model]``, subscripted once per model: pydantic looks a generic up again every time."""
    return Event[model]  # type: ignore[valid-type]


def decode(key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> Event[Payload]:
    """Decode and validate a binary-mode message into its declared pydantic model."""
    if not key:
        raise InvalidEventError("message has no key (the customer key is required)")
    header_map = {name.lower(): header for name, header in headers}
    if "ce_type" not in header_map or header_map.get("ce_specversion") != SPEC_VERSION.encode():
        raise InvalidEventError("message is not a binary-mode CloudEvent 1.0 (ce_specversion/ce_type)")
    # The SDK would invent a missing id or time; a redelivered message must keep its own.
    if missing := [name for name in _REQUIRED_HEADERS if not header_map.get(name)]:
        raise InvalidEventError(f"invalid CloudEvent attributes (missing {', '.join(missing)})")
    try:
        cloud_event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT
        )
    except (BaseCloudEventException, UnicodeDecodeError, ValueError) as error:
        raise InvalidEventError(f"invalid CloudEvent attributes ({type(error).__name__})") from None
    attributes = cloud_event.get_attributes()
    if attributes.get("datacontenttype") != DATA_CONTENT_TYPE:
        raise InvalidEventError(f"datacontenttype must be {DATA_CONTENT_TYPE}")
    try:
        declared = event_type(attributes["type"])
    except KeyError:
        raise InvalidEventError("unknown event type " + _printable(attributes["type"])) from None
    try:
        body = cloud_event.get_data()
        # Identifiers on our topics were normalised by ingest: checked, not normalised again.
        data = declared.model.model_validate_json(
            body if isinstance(body, bytes) else b"", context=ALREADY_NORMALISED
        )
        return _envelope(declared.model)(
            id=attributes["id"],
            source=attributes["source"],
            type=declared.name,
            subject=attributes.get("subject"),
            time=attributes["time"],
            key=key.decode(),
            data=data,
        )
    except ValidationError as error:
        raise InvalidEventError(f"invalid {declared.name}: {describe(error)}") from None
    except (KeyError, UnicodeDecodeError):
        raise InvalidEventError(f"invalid {declared.name}: required attribute missing") from None


def describe(error: ValidationError) -> str:
    """Field locations and rule names of a validation error, without the offending values."""
    parts = [
        f"{'.'.join(str(part) for part in detail['loc']) or '<root>'}: {detail['type']}"
        for detail in error.errors(include_input=False, include_url=False, include_context=False)
    ]
    return "; ".join(parts[:10]) + (f" (+{len(parts) - 10} more)" if len(parts) > 10 else "")


def _printable(name: object) -> str:
    # Type names are not personal data, but cap them: they come from the sender.
    return repr(str(name)[:100])
