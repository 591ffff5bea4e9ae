from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.envelope import Event
from schemas.interactions import Channel, Direction, InteractionReceived
from services.common.codec import InvalidEventError, KafkaRecord, decode, encode

CANARY_EMAIL = "canary.7f3a@example.no"
CANARY_TEXT = "my secret canary text 7f3a"


def an_event(**changes: object) -> Event[InteractionReceived]:
    data = InteractionReceived(
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        identifiers=[{"kind": "email", "value": CANARY_EMAIL}],  # type: ignore[list-item]
        subject="Order 1001",
        text=CANARY_TEXT,
        occurred_at=datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=1))),
    )
    fields: dict[str, object] = {
        "source": "/ingest/email",
        "type": "helhet.interaction.received.v1",
        "time": datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC),
        "key": f"email:{CANARY_EMAIL}",
        "data": data,
    }
    fields.update(changes)
    return Event[InteractionReceived].model_validate(fields)


def headers_of(record: KafkaRecord) -> dict[str, bytes]:
    return dict(record.headers)


def test_round_trip_keeps_every_attribute_and_the_typed_payload() -> None:
    event = an_event(subject="case-1")
    record = encode(event, {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})

    headers = headers_of(record)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"helhet.interaction.received.v1"
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"].startswith(b"00-0af7651916cd43dd")
    assert record.key == f"email:{CANARY_EMAIL}".encode()

    decoded = decode(record.key, record.value, record.headers)
    assert decoded == event
    assert isinstance(decoded.data, InteractionReceived)
    assert decoded.data.occurred_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_personal_data_stays_out_of_headers() -> None:
    record = encode(an_event())
    assert all(CANARY_EMAIL.encode() not in value for _, value in record.headers)
    assert all(CANARY_TEXT.encode() not in value for _, value in record.headers)


def replace_header(record: KafkaRecord, name: str, value: bytes | None) -> list[tuple[str, bytes]]:
    headers = [(key, old) for key, old in record.headers if key != name]
    return headers if value is None else [*headers, (name, value)]


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("ce_type", b"helhet.unknown.thing.v1", "unknown event type"),
        ("ce_type", None, "not a binary-mode CloudEvent"),
        ("ce_specversion", b"0.3", "not a binary-mode CloudEvent"),
        ("ce_id", None, "invalid CloudEvent attributes"),
        ("ce_source", None, "invalid CloudEvent attributes"),
        ("ce_time", b"yesterday", "invalid CloudEvent attributes"),
        ("content-type", b"text/plain", "datacontenttype"),
    ],
)
def test_bad_attributes_are_rejected_with_a_clear_error(
    header: str, value: bytes | None, reason: str
) -> None:
    record = encode(an_event())
    with pytest.raises(InvalidEventError, match=reason):
        decode(record.key, record.value, replace_header(record, header, value))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "json_invalid"),
        (b'{"channel": "pigeon"}', "channel: enum"),
        (b"", "json_invalid"),
    ],
)
def test_invalid_payloads_are_rejected_as_a_whole(body: bytes, reason: str) -> None:
    record = encode(an_event())
    with pytest.raises(InvalidEventError, match=reason):
        decode(record.key, body, record.headers)


def test_payload_errors_never_echo_personal_data() -> None:
    record = encode(an_event())
    bad = record.value.replace(CANARY_EMAIL.encode(), b"not-an-email " + CANARY_TEXT.encode())
    bad = bad.replace(b'"channel":"email"', b'"channel":"' + CANARY_TEXT.encode() + b'"')
    with pytest.raises(InvalidEventError) as caught:
        decode(record.key, bad, record.headers)
    assert CANARY_TEXT not in str(caught.value)
    assert "identifiers.0.value: value_error" in str(caught.value)


def test_unknown_payload_fields_are_rejected() -> None:
    record = encode(an_event())
    with pytest.raises(InvalidEventError, match="extra_forbidden"):
        decode(record.key, record.value[:-1] + b',"sneaky":1}', record.headers)


def test_a_message_without_key_is_rejected() -> None:
    record = encode(an_event())
    with pytest.raises(InvalidEventError, match="no key"):
        decode(None, record.value, record.headers)


def test_encode_refuses_a_type_that_does_not_match_the_payload() -> None:
    with pytest.raises(InvalidEventError, match="does not match"):
        encode(an_event(type="helhet.interaction.changed.v1"))


def test_identifiers_read_back_must_already_be_normalised() -> None:
    # Decoding checks the canonical shape instead of normalising again (ingest did that once).
    record = encode(an_event())
    shouting = record.value.replace(CANARY_EMAIL.encode(), CANARY_EMAIL.upper().encode())
    with pytest.raises(InvalidEventError, match=r"identifiers\.0\.value: value_error"):
        decode(record.key, shouting, record.headers)
    assert decode(record.key, record.value, record.headers).data == an_event().data
