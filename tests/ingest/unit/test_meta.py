from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers import IdentifierKind
from schemas.interactions import Channel, Direction
from services.ingest.core.channels.meta import parse_meta_webhook, verify_challenge, verify_meta_signature
from services.ingest.core.errors import InvalidInputError, SignatureError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "0123456789abcdef0123456789abcdef"
PAGE = "106345678901234"
PSID = "6789012345678901"
IG_ACCOUNT = "17841400000000000"
IGSID = "1234567890123456"
TS = 1763899200123  # 2025-11-23T12:00:00.123Z


def messaging(event: dict[str, Any], *, obj: str = "page", entry_id: str = PAGE) -> dict[str, Any]:
    return {"object": obj, "entry": [{"id": entry_id, "time": TS + 50, "messaging": [event]}]}


def inbound(message: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": TS}
    if message is not None:
        event["message"] = message
    event.update(extra)
    return event


TEXT = messaging(inbound({"mid": "m_AbC123", "text": "Hei, når åpner dere?"}))
ATTACHMENT = messaging(
    inbound(
        {
            "mid": "m_Att1",
            "attachments": [
                {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/1.jpg"}},
                {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/v/t59.2708-21/k.pdf"}},
                {"type": "fallback", "payload": None, "title": "A link", "url": "https://example.com"},
            ],
        }
    )
)
POSTBACK = messaging(
    inbound(postback={"mid": "m_Pb1", "title": "Snakk med en person", "payload": "TALK_TO_AGENT"})
)
ECHO = messaging(
    {
        "sender": {"id": PAGE},
        "recipient": {"id": PSID},
        "timestamp": TS,
        "message": {"is_echo": True, "app_id": 263902037430900, "mid": "m_Echo1", "text": "Vi svarer snart"},
    }
)
READ = messaging(inbound(read={"watermark": TS}))
DELIVERY = messaging(inbound(delivery={"mids": ["m_Echo1"], "watermark": TS}))
INSTAGRAM = messaging(
    {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ACCOUNT},
        "timestamp": TS,
        "message": {"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA", "text": "Har dere str. M?"},
    },
    obj="instagram",
    entry_id=IG_ACCOUNT,
)


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def meta_signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# --- signature --------------------------------------------------------------------------------------------

RAW = body(TEXT)
GOOD = meta_signature(SECRET, RAW)


def test_a_valid_signature_verifies() -> None:
    verify_meta_signature(SECRET, RAW, GOOD)
    verify_meta_signature(SECRET, RAW, GOOD.upper().replace("SHA256=", "sha256="))


BAD_SIGNATURES: list[tuple[str, str, bytes, str | None]] = [
    ("missing", SECRET, RAW, None),
    ("empty", SECRET, RAW, ""),
    ("wrong secret", "not-the-secret", RAW, GOOD),
    ("empty secret", "", RAW, meta_signature("", RAW)),
    ("tampered body", SECRET, RAW.replace(b"Hei", b"Hai"), GOOD),
    ("body with trailing newline", SECRET, RAW + b"\n", GOOD),
    ("re-serialised body", SECRET, json.dumps(TEXT).encode(), GOOD),
    ("no prefix", SECRET, RAW, GOOD.removeprefix("sha256=")),
    ("sha1 prefix", SECRET, RAW, "sha1=" + hmac.new(SECRET.encode(), RAW, hashlib.sha1).hexdigest()),
    ("upper-case prefix", SECRET, RAW, "SHA256=" + GOOD.removeprefix("sha256=")),
    ("prefix only", SECRET, RAW, "sha256="),
    ("truncated", SECRET, RAW, GOOD[:-1]),
    ("extended", SECRET, RAW, GOOD + "0"),
    ("leading space", SECRET, RAW, " " + GOOD),
    ("non-ascii", SECRET, RAW, "sha256=" + "é" * 64),
    ("non-hex", SECRET, RAW, "sha256=" + "z" * 64),
    ("two signatures", SECRET, RAW, GOOD + "," + GOOD),
    ("base64 digest", SECRET, RAW, "sha256=" + "A" * 44),
]


@pytest.mark.parametrize(
    ("secret", "raw", "header"),
    [case[1:] for case in BAD_SIGNATURES],
    ids=[case[0] for case in BAD_SIGNATURES],
)
def test_bad_signatures_are_refused(secret: str, raw: bytes, header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_meta_signature(secret, raw, header)


@settings(max_examples=200)
@given(raw=st.binary(max_size=500), header=st.one_of(st.none(), st.text(max_size=100)))
def test_arbitrary_signatures_only_ever_fail_with_signature_error(raw: bytes, header: str | None) -> None:
    with contextlib.suppress(SignatureError):
        verify_meta_signature(SECRET, raw, header)


# --- challenge --------------------------------------------------------------------------------------------

CHALLENGE = {"hub.mode": "subscribe", "hub.verify_token": "helhet-dev-token", "hub.challenge": "1158201444"}


def test_the_challenge_is_answered_for_the_right_token() -> None:
    assert verify_challenge(CHALLENGE, "helhet-dev-token") == "1158201444"


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({**CHALLENGE, "hub.verify_token": "guess"}, "helhet-dev-token"),
        ({**CHALLENGE, "hub.mode": "unsubscribe"}, "helhet-dev-token"),
        ({k: v for k, v in CHALLENGE.items() if k != "hub.mode"}, "helhet-dev-token"),
        ({k: v for k, v in CHALLENGE.items() if k != "hub.verify_token"}, "helhet-dev-token"),
        ({**CHALLENGE, "hub.verify_token": ""}, ""),
        ({**CHALLENGE, "hub.verify_token": "tøken"}, "helhet-dev-token"),
        ({**CHALLENGE, "hub.verify_token": "helhet-dev-token "}, "helhet-dev-token"),
    ],
    ids=["wrong token", "wrong mode", "no mode", "no token", "empty configured", "non-ascii", "padded"],
)
def test_a_bad_handshake_is_refused(params: dict[str, str], token: str) -> None:
    with pytest.raises(SignatureError):
        verify_challenge(params, token)


@pytest.mark.parametrize("challenge", ["", "<script>alert(1)</script>", "1" * 201, "12 34", "\uff11\uff12"])
def test_an_unusable_challenge_is_invalid_input(challenge: str) -> None:
    with pytest.raises(InvalidInputError, match=r"hub\.challenge"):
        verify_challenge({**CHALLENGE, "hub.challenge": challenge}, "helhet-dev-token")


# --- parse ------------------------------------------------------------------------------------------------


def parse(payload: dict[str, Any], **kwargs: Any) -> list[Any]:
    return parse_meta_webhook(body(payload), received_at=NOW, **kwargs)


def test_a_messenger_text_is_one_inbound_interaction_scoped_to_the_page() -> None:
    [interaction] = parse(TEXT)
    assert interaction.channel is Channel.MESSENGER
    assert interaction.direction is Direction.INBOUND
    [identifier] = interaction.identifiers
    assert (identifier.kind, identifier.value, identifier.scope) == (IdentifierKind.MESSENGER, PSID, PAGE)
    assert interaction.text == "Hei, når åpner dere?"
    assert interaction.source_message_id == "m_AbC123"
    assert interaction.occurred_at == datetime(2025, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
    assert interaction.conversation_id is not None
    assert interaction.conversation_id.startswith("messenger:")
    assert PSID not in interaction.conversation_id


def test_attachments_become_metadata_without_urls() -> None:
    [interaction] = parse(ATTACHMENT)
    assert interaction.text is None
    assert [(a.content_type, a.size_bytes) for a in interaction.attachments] == [
        ("image/*", 0),
        ("application/octet-stream", 0),
        ("application/x-meta-fallback", 0),
    ]
    assert "fbcdn" not in interaction.model_dump_json()


def test_a_postback_is_its_button_title() -> None:
    [interaction] = parse(POSTBACK)
    assert interaction.text == "Snakk med en person"
    assert interaction.source_message_id == "m_Pb1"
    assert interaction.direction is Direction.INBOUND


def test_a_postback_without_mid_gets_a_stable_id() -> None:
    payload = messaging(inbound(postback={"title": "Kom i gang", "payload": "GET_STARTED"}))
    first, second = parse(payload)[0], parse(payload)[0]
    assert first.source_message_id == second.source_message_id
    assert first.source_message_id.startswith("postback:")
    assert PSID not in first.source_message_id


def test_an_echo_is_outbound_to_the_customer() -> None:
    [interaction] = parse(ECHO)
    assert interaction.direction is Direction.OUTBOUND
    assert interaction.identifiers[0].value == PSID
    assert interaction.identifiers[0].scope == PAGE
    assert interaction.conversation_id == parse(TEXT)[0].conversation_id


def test_an_echo_of_our_own_send_is_skipped() -> None:
    assert parse(ECHO, own_app_id="263902037430900") == []
    assert len(parse(ECHO, own_app_id="999")) == 1


@pytest.mark.parametrize("payload", [READ, DELIVERY], ids=["read", "delivery"])
def test_receipts_yield_nothing(payload: dict[str, Any]) -> None:
    assert parse(payload) == []


def test_reactions_optins_and_deleted_messages_yield_nothing() -> None:
    reaction = inbound(reaction={"mid": "m_AbC123", "action": "react", "reaction": "love", "emoji": "❤"})
    optin = {"sender": {"user_ref": "ref-1"}, "recipient": {"id": PAGE}, "timestamp": TS, "optin": {}}
    deleted = inbound({"mid": "m_Del", "is_deleted": True})
    payload = {"object": "page", "entry": [{"id": PAGE, "messaging": [reaction, optin, deleted]}]}
    assert parse(payload) == []


def test_an_instagram_message_is_scoped_to_the_account() -> None:
    [interaction] = parse(INSTAGRAM)
    assert interaction.channel is Channel.INSTAGRAM
    identifier = interaction.identifiers[0]
    assert (identifier.kind, identifier.value, identifier.scope) == (
        IdentifierKind.INSTAGRAM,
        IGSID,
        IG_ACCOUNT,
    )
    assert interaction.conversation_id is not None
    assert interaction.conversation_id.startswith("instagram:")


def test_a_batch_keeps_every_message_in_order_and_ignores_unknown_fields() -> None:
    second = inbound({"mid": "m_2", "text": "to", "quick_reply": {"payload": "X"}, "new_meta_field": [1]})
    payload = {
        "object": "page",
        "new_meta_field": True,
        "entry": [
            {"id": PAGE, "time": TS, "messaging": [inbound({"mid": "m_1", "text": "en"}), second]},
            {"id": "2", "standby": [inbound({"mid": "m_3", "text": "tre"})]},
            {"id": "3", "changes": [{"field": "feed"}]},
        ],
    }
    interactions = parse(payload)
    assert [i.source_message_id for i in interactions] == ["m_1", "m_2", "m_3"]
    assert interactions[2].identifiers[0].scope == "2"


def test_a_timestamp_in_seconds_or_missing_still_dates_the_message() -> None:
    [seconds] = parse(messaging(inbound({"mid": "m", "text": "x"}, timestamp=1763899200)))
    assert seconds.occurred_at == datetime(2025, 11, 23, 12, 0, tzinfo=UTC)
    event = inbound({"mid": "m", "text": "x"})
    del event["timestamp"]
    assert parse(messaging(event))[0].occurred_at == NOW


def test_numeric_ids_are_read_as_text() -> None:
    payload = messaging(inbound({"mid": "m", "text": "x"}, sender={"id": int(PSID)}), entry_id=PAGE)
    payload["entry"][0]["id"] = int(PAGE)
    assert parse(payload)[0].identifiers[0].value == PSID


def _with(path: list[Any], value: Any, base: dict[str, Any] | None = None) -> bytes:
    """TEXT with the value at ``path`` replaced (``...`` removes it)."""
    payload = json.loads(json.dumps(base or TEXT))
    target = payload
    for part in path[:-1]:
        target = target[part]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(payload).encode()


EVENT = ["entry", 0, "messaging", 0]
HOSTILE_BODIES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "body"),
    ("not json", b"hello", "body"),
    ("truncated json", RAW[:-3], "body"),
    ("json array", b"[]", "body"),
    ("json string", b'"page"', "body"),
    ("json null", b"null", "body"),
    ("json number", b"1e999", "body"),
    ("invalid utf-8", b'{"object":"page","entry":[\xff]}', "body"),
    ("utf-16", json.dumps(TEXT).encode("utf-16"), "body"),
    ("lone surrogate", _with([*EVENT, "message", "text"], "x").replace(b'"x"', b'"\\ud800"'), "body"),
    ("nul bytes", b"\x00" * 100, "body"),
    ("deep nesting", b"[" * 10_000 + b"]" * 10_000, "body"),
    ("no object", _with(["object"], ...), "object"),
    ("unknown object", _with(["object"], "whatsapp_business_account"), "object"),
    ("object wrong type", _with(["object"], ["page"]), "object"),
    ("no entry", _with(["entry"], ...), "entry"),
    ("entry not a list", _with(["entry"], {"id": PAGE}), "entry"),
    ("entry item not an object", _with(["entry", 0], "x"), "entry.0"),
    ("entry without id", _with(["entry", 0, "id"], ...), "entry.0.id"),
    ("entry id empty", _with(["entry", 0, "id"], ""), "entry.0.id"),
    ("entry id huge", _with(["entry", 0, "id"], "9" * 101), "entry.0.id"),
    ("entry id object", _with(["entry", 0, "id"], {"$gt": ""}), "entry.0.id"),
    ("too many entries", _with(["entry"], [{"id": "1"}] * 1001), "entry"),
    ("messaging not a list", _with(["entry", 0, "messaging"], "x"), "entry.0.messaging"),
    ("too many events", _with(["entry", 0, "messaging"], [{}] * 1001), "entry.0.messaging"),
    ("event not an object", _with(EVENT, 42), "entry.0.messaging.0"),
    ("no sender", _with([*EVENT, "sender"], ...), "entry.0.messaging.0.sender.id"),
    ("sender without id", _with([*EVENT, "sender"], {}), "entry.0.messaging.0.sender.id"),
    ("sender id blank", _with([*EVENT, "sender", "id"], "  "), "entry.0.messaging.0.sender.id"),
    ("sender id list", _with([*EVENT, "sender", "id"], [PSID]), "entry.0.messaging.0.sender.id"),
    ("sender id huge", _with([*EVENT, "sender", "id"], "1" * 5000), "entry.0.messaging.0.sender.id"),
    ("sender id bool", _with([*EVENT, "sender", "id"], True), "entry.0.messaging.0.sender.id"),
    ("echo without recipient", _with([*EVENT, "recipient"], ..., ECHO), "entry.0.messaging.0.recipient.id"),
    ("timestamp text", _with([*EVENT, "timestamp"], "yesterday"), "entry.0.messaging.0.timestamp"),
    ("timestamp negative", _with([*EVENT, "timestamp"], -1), "entry.0.messaging.0.timestamp"),
    ("timestamp huge", _with([*EVENT, "timestamp"], 10**30), "entry.0.messaging.0.timestamp"),
    ("timestamp float", _with([*EVENT, "timestamp"], 1.5), "entry.0.messaging.0.timestamp"),
    ("message not an object", _with([*EVENT, "message"], "hi"), "entry.0.messaging.0.message"),
    ("no mid", _with([*EVENT, "message", "mid"], ...), "entry.0.messaging.0.message.mid"),
    ("mid empty", _with([*EVENT, "message", "mid"], ""), "entry.0.messaging.0.message.mid"),
    ("mid huge", _with([*EVENT, "message", "mid"], "m" * 999), "entry.0.messaging.0.message.mid"),
    ("mid null", _with([*EVENT, "message", "mid"], None), "entry.0.messaging.0.message.mid"),
    ("text too long", _with([*EVENT, "message", "text"], "x" * 100_001), "entry.0.messaging.0.message.text"),
    ("text object", _with([*EVENT, "message", "text"], {"a": 1}), "entry.0.messaging.0.message.text"),
    ("is_echo text", _with([*EVENT, "message", "is_echo"], "maybe"), "entry.0.messaging.0.message.is_echo"),
    ("attachments object", _with([*EVENT, "message", "attachments"], {}), "entry.0.messaging.0.message"),
    ("too many attachments", _with([*EVENT, "message", "attachments"], [{"type": "image"}] * 101), "entry.0"),
    ("attachment no type", _with([*EVENT, "message", "attachments"], [{"payload": {}}]), "entry.0"),
    (
        "attachment type injection",
        _with([*EVENT, "message", "attachments"], [{"type": "x/../<b>"}]),
        "entry.0",
    ),
    (
        "attachment url list",
        _with([*EVENT, "message", "attachments"], [{"type": "image", "payload": {"url": []}}]),
        "entry.0",
    ),
    ("postback not an object", _with([*EVENT, "postback"], [], POSTBACK), "entry.0.messaging.0.postback"),
    ("postback title huge", _with([*EVENT, "postback", "title"], "t" * 100_001, POSTBACK), "entry.0"),
    (
        "postback mid and timestamp missing",
        _with([*EVENT, "timestamp"], ..., messaging(inbound(postback={"title": "x"}))),
        "entry.0.messaging.0.timestamp",
    ),
]


@pytest.mark.parametrize(
    ("raw", "field"), [case[1:] for case in HOSTILE_BODIES], ids=[case[0] for case in HOSTILE_BODIES]
)
def test_hostile_bodies_are_refused_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_meta_webhook(raw, received_at=NOW)
    assert raised.value.field.startswith(field), raised.value.field
    assert "åpner" not in str(raised.value)
    assert PSID not in str(raised.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
meta_keys = st.sampled_from(
    [
        "object",
        "entry",
        "id",
        "messaging",
        "standby",
        "sender",
        "recipient",
        "timestamp",
        "message",
        "mid",
        "text",
        "attachments",
        "type",
        "payload",
        "url",
        "is_echo",
        "postback",
        "title",
        "read",
        "delivery",
    ]
)
shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.sampled_from(["page", "instagram"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(meta_keys, children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300)
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_fail_with_invalid_input(raw: bytes) -> None:
    with contextlib.suppress(InvalidInputError):
        parse_meta_webhook(raw, received_at=NOW)


@settings(max_examples=300)
@given(value=json_values)
def test_arbitrary_json_only_ever_fails_with_invalid_input(value: Any) -> None:
    with contextlib.suppress(InvalidInputError):
        parse_meta_webhook(json.dumps(value).encode(), received_at=NOW)


@settings(max_examples=500)
@given(value=shaped)
def test_arbitrary_meta_shaped_json_only_ever_fails_with_invalid_input(value: Any) -> None:
    with contextlib.suppress(InvalidInputError):
        parse_meta_webhook(json.dumps(value).encode(), received_at=NOW)


@settings(max_examples=300)
@given(event=st.dictionaries(meta_keys, shaped, max_size=6), obj=st.sampled_from(["page", "instagram"]))
def test_arbitrary_events_in_a_valid_envelope(event: dict[str, Any], obj: str) -> None:
    with contextlib.suppress(InvalidInputError):
        for interaction in parse(messaging(event, obj=obj)):
            assert interaction.identifiers[0].scope == PAGE
