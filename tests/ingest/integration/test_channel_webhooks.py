"""The channel webhooks end to end against the real broker and database, over real HTTP: each payload in
its source's own wire format ends as exactly one CloudEvent on ``interactions.v1``; redeliveries publish
nothing new; signatures and the Meta handshake are enforced."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from schemas.envelope import Event, Payload
from schemas.interactions import Channel, InteractionReceived
from services.common.http.testing import LocalIssuer, serve
from services.common.mongo import create_mongo_client, database
from services.common.settings import CommonSettings
from services.ingest.core.channels.twilio import parse_twilio_sms
from services.ingest.core.intake import dedupe_key
from services.ingest.indexes import DEDUPE_COLLECTION
from services.ingest.settings import DEVELOPMENT_SECRETS, IngestSettings
from tests.ingest.integration.conftest import ingest_app
from tests.ingest.integration.test_rest_intake import headers
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

TOPIC = "interactions.v1"
TWILIO_PATH = "/v1/channels/sms/twilio"
META_PATH = "/v1/channels/meta"
EMAIL_PATH = "/v1/channels/email/inbound"
TWILIO_TOKEN = DEVELOPMENT_SECRETS["twilio_auth_token"]
META_SECRET = DEVELOPMENT_SECRETS["meta_app_secret"]
META_VERIFY_TOKEN = DEVELOPMENT_SECRETS["meta_verify_token"]
CANARY = "canary-91c2-secret text"


def channel_settings(infra: CommonSettings, **changes: Any) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        smtp_listen_port=0,  # never the fixed 2525 a running `make run` may hold
        **changes,
    )


@pytest.fixture
def url(infra: CommonSettings, issuer: LocalIssuer) -> Iterator[str]:
    with serve(ingest_app(channel_settings(infra), issuer)) as base:
        yield base


async def published(infra: CommonSettings, message_ids: set[str]) -> list[Event[Payload]]:
    events = await events_on(infra, TOPIC, wanted=1)
    return [
        e
        for e in events
        if isinstance(e.data, InteractionReceived) and e.data.source_message_id in message_ids
    ]


# --- Twilio --------------------------------------------------------------------------------------------


def twilio_signature(url: str, form: list[tuple[str, str]], token: str = TWILIO_TOKEN) -> str:
    """Twilio's documented algorithm, written out here so the test does not trust the code under test."""
    signed = url + "".join(name + value for name, value in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def twilio_form(sid: str, **changes: str) -> list[tuple[str, str]]:
    fields = {
        "ToCountry": "NO",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": "Hei, hvor er pakken min?",
        "FromCountry": "NO",
        "To": "+4740000000",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+47 912 34 567",
        "ApiVersion": "2010-04-01",
        **changes,
    }
    return list(fields.items())


def a_sid() -> str:
    return "SM" + uuid.uuid4().hex


async def post_twilio(
    base: str, form: list[tuple[str, str]], signature: str | None, path: str = TWILIO_PATH
) -> httpx.Response:
    extra = {} if signature is None else {"X-Twilio-Signature": signature}
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.post(path, data=dict(form), headers=extra)


async def test_twilio_sms_becomes_one_event_and_redelivery_publishes_nothing(
    infra: CommonSettings, url: str
) -> None:
    sid = a_sid()
    form = twilio_form(sid)
    signature = twilio_signature(url + TWILIO_PATH, form)

    first = await post_twilio(url, form, signature)
    again = await post_twilio(url, form, signature)  # Twilio retrying after a lost answer

    for response in (first, again):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        assert response.text.endswith("<Response/>")
    [event] = await published(infra, {sid})
    assert event.key == "phone:+4791234567"
    assert event.source == "/ingest/sms/twilio"
    assert isinstance(event.data, InteractionReceived)
    assert event.data.channel is Channel.SMS
    assert [i.value for i in event.data.identifiers] == ["+4791234567"]
    assert event.data.text == "Hei, hvor er pakken min?"


async def test_twilio_mms_without_text_keeps_blank_fields_in_the_signature(
    infra: CommonSettings, url: str
) -> None:
    sid = "MM" + uuid.uuid4().hex
    media = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/{sid}/Media/ME{'1' * 32}"
    form = twilio_form(sid, Body="", NumMedia="1", MediaUrl0=media, MediaContentType0="image/jpeg")

    response = await post_twilio(url, form, twilio_signature(url + TWILIO_PATH, form))

    assert response.status_code == 200, response.text
    [event] = await published(infra, {sid})
    assert isinstance(event.data, InteractionReceived)
    assert event.data.text is None
    assert [a.content_type for a in event.data.attachments] == ["image/jpeg"]


async def test_twilio_bad_or_missing_signature_is_401_and_publishes_nothing(
    infra: CommonSettings, url: str
) -> None:
    sid = a_sid()
    form = twilio_form(sid)
    wrong_key = twilio_signature(url + TWILIO_PATH, form, token="not-our-token")
    tampered = twilio_signature(url + TWILIO_PATH, twilio_form(sid, Body="something else"))

    answers = [
        await post_twilio(url, form, wrong_key),
        await post_twilio(url, form, tampered),
        await post_twilio(url, form, None),
    ]

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in answers)
    assert await published(infra, {sid}) == []


async def test_twilio_signed_over_the_public_url_behind_a_proxy(
    infra: CommonSettings, issuer: LocalIssuer
) -> None:
    public = "https://hooks.helhet.example"
    sid = a_sid()
    form = twilio_form(sid)
    with serve(ingest_app(channel_settings(infra, public_base_url=public + "/"), issuer)) as base:
        over_public = await post_twilio(base, form, twilio_signature(public + TWILIO_PATH, form))
        over_internal = await post_twilio(base, form, twilio_signature(base + TWILIO_PATH, form))
    assert over_public.status_code == 200
    assert over_internal.status_code == 401
    assert len(await published(infra, {sid})) == 1


async def test_twilio_malformed_form_is_422_naming_the_field(url: str) -> None:
    form = [(name, value) for name, value in twilio_form(a_sid(), Body=CANARY) if name != "From"]
    response = await post_twilio(url, form, twilio_signature(url + TWILIO_PATH, form))
    assert response.status_code == 422
    assert "From" in response.json()["detail"]
    assert CANARY not in response.text


# --- Meta ----------------------------------------------------------------------------------------------


def meta_signature(body: bytes, secret: str = META_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def meta_delivery(page_id: str, psid: str, mids: list[str]) -> bytes:
    """A Messenger delivery as Meta posts it: one entry per page, messages and a read receipt."""
    messaging: list[dict[str, Any]] = [
        {
            "sender": {"id": psid},
            "recipient": {"id": page_id},
            "timestamp": 1_763_892_000_000 + n,
            "message": {"mid": mid, "text": f"Hei {n}"},
        }
        for n, mid in enumerate(mids)
    ]
    messaging.append(
        {
            "sender": {"id": psid},
            "recipient": {"id": page_id},
            "timestamp": 1_763_892_000_500,
            "read": {"watermark": 1_763_892_000_400},
        }
    )
    body = {"object": "page", "entry": [{"id": page_id, "time": 1_763_892_001_000, "messaging": messaging}]}
    return json.dumps(body).encode()


async def post_meta(base: str, body: bytes, signature: str | None) -> httpx.Response:
    extra = {"Content-Type": "application/json"}
    if signature is not None:
        extra["X-Hub-Signature-256"] = signature
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.post(META_PATH, content=body, headers=extra)


async def test_meta_messages_become_one_event_each_scoped_to_the_page(
    infra: CommonSettings, url: str
) -> None:
    page_id, psid = "106543210987654", "7012345678901234"
    mids = [f"m_{uuid.uuid4().hex}" for _ in range(2)]
    body = meta_delivery(page_id, psid, mids)

    first = await post_meta(url, body, meta_signature(body))
    again = await post_meta(url, body, meta_signature(body))

    assert first.status_code == 200, first.text
    assert [r["duplicate"] for r in first.json()["results"]] == [False, False]
    assert again.status_code == 200
    assert [r["duplicate"] for r in again.json()["results"]] == [True, True]
    events = await published(infra, set(mids))
    assert len(events) == 2
    for event in events:
        assert event.key == f"messenger:{page_id}:{psid}"
        assert event.source == "/ingest/meta"
        assert isinstance(event.data, InteractionReceived)
        assert event.data.channel is Channel.MESSENGER
        assert [(i.value, i.scope) for i in event.data.identifiers] == [(psid, page_id)]
    assert {e.id for e in events} == {r["event_id"] for r in first.json()["results"]}


async def test_meta_delivery_with_only_receipts_is_200_and_publishes_nothing(url: str) -> None:
    body = meta_delivery("106543210987654", "7012345678901234", [])
    response = await post_meta(url, body, meta_signature(body))
    assert response.status_code == 200
    assert response.json() == {"results": []}


async def test_meta_bad_or_missing_signature_is_401_and_publishes_nothing(
    infra: CommonSettings, url: str
) -> None:
    mid = f"m_{uuid.uuid4().hex}"
    body = meta_delivery("106543210987654", "7012345678901234", [mid])
    answers = [
        await post_meta(url, body, meta_signature(body, secret="not-our-secret")),
        await post_meta(url, body, meta_signature(body + b" ")),
        await post_meta(url, body, "sha1=" + "0" * 40),
        await post_meta(url, body, None),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 401]
    assert await published(infra, {mid}) == []


async def test_meta_malformed_but_signed_is_422_without_echo(url: str) -> None:
    body = json.dumps(
        {"object": "page", "entry": [{"id": "1", "messaging": [{"message": {"text": CANARY}}]}]}
    )
    response = await post_meta(url, body.encode(), meta_signature(body.encode()))
    assert response.status_code == 422
    assert "entry.0.messaging.0" in response.json()["detail"]
    assert CANARY not in response.text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        (
            {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "1158201444"},
            200,
        ),
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"}, 403),
        ({"hub.mode": "unsubscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "1"}, 403),
        ({"hub.challenge": "1158201444"}, 403),
    ],
)
def test_meta_verify_challenge(url: str, params: dict[str, str], status: int) -> None:
    response = httpx.get(url + META_PATH, params=params)
    assert response.status_code == status
    if status == 200:
        assert response.text == "1158201444"
        assert response.headers["content-type"].startswith("text/plain")
    else:
        assert "1158201444" not in response.text


# --- inbound email webhook ------------------------------------------------------------------------------


def an_email(message_id: str | None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": "Kari Nordmann <Kari.Nordmann@Example.NO>",
        "to": "support@helhet.no",
        "subject": "Ordre 1234",
        "text": "Hvor er ordren min?",
        "headers": {"Date": "Mon, 23 Nov 2026 10:00:00 +0100"},
        **changes,
    }
    if message_id is not None:
        body["message_id"] = message_id
    return body


async def test_inbound_email_becomes_one_event_deduped_by_message_id(
    infra: CommonSettings, url: str, issuer: LocalIssuer
) -> None:
    message_id = f"<{uuid.uuid4()}@example.no>"
    async with httpx.AsyncClient(base_url=url) as client:
        first = await client.post(EMAIL_PATH, json=an_email(message_id), headers=headers(issuer))
        # The provider redelivers without brackets: still the same Message-ID.
        again = await client.post(EMAIL_PATH, json=an_email(message_id.strip("<>")), headers=headers(issuer))

    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}
    [event] = await published(infra, {message_id})
    assert event.id == first.json()["event_id"]
    assert event.key == "email:kari.nordmann@example.no"
    assert event.source == "/ingest/email"
    assert isinstance(event.data, InteractionReceived)
    assert event.data.channel is Channel.EMAIL
    assert event.data.subject == "Ordre 1234"


async def test_inbound_email_without_message_id_is_deduped_by_its_idempotency_key(
    infra: CommonSettings, url: str, issuer: LocalIssuer
) -> None:
    key = str(uuid.uuid4())
    subject = f"Ordre {key}"  # finds this test's event: there is no Message-ID to find it by
    async with httpx.AsyncClient(base_url=url) as client:
        answers = [
            await client.post(
                EMAIL_PATH,
                json=an_email(None, subject=subject),
                headers=headers(issuer, **{"Idempotency-Key": key}),
            )
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[1].json() == {**answers[0].json(), "duplicate": True}
    events = [event for event in await events_on(infra, TOPIC, wanted=1) if _subject(event) == subject]
    assert [event.id for event in events] == [answers[0].json()["event_id"]]


async def test_one_message_id_is_one_event_whatever_idempotency_keys_come_with_it(
    infra: CommonSettings, url: str, issuer: LocalIssuer
) -> None:
    """The same mail through SMTP and the webhook, or a webhook retried under a new key, is one event."""
    message_id = f"<{uuid.uuid4()}@example.no>"
    async with httpx.AsyncClient(base_url=url) as client:
        answers = [
            await client.post(
                EMAIL_PATH, json=an_email(message_id), headers=headers(issuer, **{"Idempotency-Key": key})
            )
            for key in (str(uuid.uuid4()), str(uuid.uuid4()))
        ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[1].json() == {**answers[0].json(), "duplicate": True}
    [event] = await published(infra, {message_id})
    assert event.id == answers[0].json()["event_id"]


def _subject(event: Event[Payload]) -> str | None:
    return event.data.subject if isinstance(event.data, InteractionReceived) else None


async def test_inbound_email_needs_the_scope_and_valid_fields(url: str, issuer: LocalIssuer) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        no_token = await client.post(EMAIL_PATH, json=an_email("<a@b>"))
        wrong_scope = await client.post(
            EMAIL_PATH, json=an_email("<a@b>"), headers=headers(issuer, "customers:write")
        )
        unknown_field = await client.post(
            EMAIL_PATH, json=an_email("<a@b>", sneaky=CANARY), headers=headers(issuer)
        )
    assert no_token.status_code == 401
    assert wrong_scope.status_code == 403
    assert unknown_field.status_code == 422
    assert "sneaky" in unknown_field.text
    assert CANARY not in unknown_field.text


def test_secrets_are_required_outside_development() -> None:
    with pytest.raises(ValueError, match="HELHET_TWILIO_AUTH_TOKEN") as caught:
        IngestSettings(environment="production", meta_app_secret=SecretStr("given-secret"))
    assert "given-secret" not in str(caught.value)
    settings = IngestSettings(
        environment="production",
        twilio_auth_token=SecretStr("t"),
        meta_app_secret=SecretStr("s"),
        meta_verify_token=SecretStr("v"),
        survey_secret=SecretStr("u"),
    )
    assert settings.twilio_auth_token.get_secret_value() == "t"
    assert IngestSettings(environment="test").meta_verify_token.get_secret_value() == META_VERIFY_TOKEN


async def test_twilio_delivery_being_published_elsewhere_is_409_and_publishes_nothing(
    infra: CommonSettings, url: str
) -> None:
    sid = a_sid()
    form = twilio_form(sid)
    # Another ingest process has claimed this message a moment ago and is still publishing it.
    payload = parse_twilio_sms(form, received_at=datetime.now(UTC), phone_region="NO")
    key = dedupe_key(payload, idempotency_key=None, client_id=None)
    client = create_mongo_client(infra)
    try:
        await database(client, infra)[DEDUPE_COLLECTION].insert_one(
            {"_id": key, "event_id": str(uuid.uuid4()), "claim": "elsewhere", "claimed_at": datetime.now(UTC)}
        )
    finally:
        await client.close()

    response = await post_twilio(url, form, twilio_signature(url + TWILIO_PATH, form))

    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert await published(infra, {sid}) == []
