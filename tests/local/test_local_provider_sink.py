"""The local provider sink answers like Twilio, Meta's Send API and the chat callback, and keeps each
message it accepts as one JSON file under ``<out-dir>/<sms|meta|chat>/``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.config import HOST, REPO_ROOT
from deploy.local.provider_sink import create_app
from schemas.interactions import Channel
from services.common.http.testing import serve
from services.notify.adapters.outbound.senders import ChatCallbackSender, MetaSendApiSender, TwilioSmsSender
from services.notify.ports import Outgoing
from tests.support.network import free_port

TEXT = "Hei Kari! Vi har fått saken din: æøå."


@dataclass(frozen=True)
class Sink:
    url: str
    out_dir: Path

    def files(self, channel: str) -> list[Path]:
        folder = self.out_dir / channel
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def stored(self, channel: str) -> list[dict[str, Any]]:
        return [json.loads(path.read_text(encoding="utf-8")) for path in self.files(channel)]


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    out_dir = tmp_path / "outbox"
    with serve(create_app(out_dir)) as url:
        yield Sink(url, out_dir)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield http


async def test_healthz(sink: Sink, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{sink.url}/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_an_sms_is_queued_like_twilio_and_kept(sink: Sink, client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{sink.url}/2010-04-01/Accounts/AC0123/Messages.json",
        data={"To": "+4791234567", "From": "+4759440000", "Body": TEXT},
        auth=("AC0123", "token"),
    )

    assert response.status_code == 201
    answer = response.json()
    assert answer["sid"].startswith("SM")
    assert len(answer["sid"]) == 34
    assert answer["status"] == "queued"
    assert answer["account_sid"] == "AC0123"
    assert answer["uri"] == f"/2010-04-01/Accounts/AC0123/Messages/{answer['sid']}.json"
    (stored,) = sink.stored("sms")
    assert stored["form"] == {"To": "+4791234567", "From": "+4759440000", "Body": TEXT}
    assert stored["path"] == "/2010-04-01/Accounts/AC0123/Messages.json"
    assert stored["response"] == {"status": 201, "body": answer}
    # Written atomically: nothing but the finished file is left in the folder.
    assert [path.suffix for path in sink.files("sms")] == [".json"]


async def test_an_sms_without_credentials_or_recipient_is_refused(
    sink: Sink, client: httpx.AsyncClient
) -> None:
    url = f"{sink.url}/2010-04-01/Accounts/AC0123/Messages.json"
    unauthenticated = await client.post(url, data={"To": "+4791234567", "From": "+47", "Body": "x"})
    wrong_account = await client.post(url, data={"To": "+4791234567"}, auth=("AC9999", "token"))
    no_recipient = await client.post(url, data={"From": "+4759440000", "Body": "x"}, auth=("AC0123", "t"))

    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (401, 20003)
    assert (wrong_account.status_code, wrong_account.json()["code"]) == (401, 20003)
    assert (no_recipient.status_code, no_recipient.json()["code"]) == (400, 21604)
    assert sink.files("sms") == []


async def test_a_send_api_message_is_answered_like_meta_and_kept_without_the_token(
    sink: Sink, client: httpx.AsyncClient
) -> None:
    payload = {"recipient": {"id": "psid-1"}, "messaging_type": "RESPONSE", "message": {"text": TEXT}}

    response = await client.post(
        f"{sink.url}/v21.0/me/messages", params={"access_token": "page-secret"}, json=payload
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["recipient_id"] == "psid-1"
    assert answer["message_id"].startswith("m_")
    (stored,) = sink.stored("meta")
    assert stored["json"] == payload
    assert stored["response"] == {"status": 200, "body": answer}
    assert "page-secret" not in sink.files("meta")[0].read_text(encoding="utf-8")


async def test_a_send_api_message_without_token_or_recipient_is_refused(
    sink: Sink, client: httpx.AsyncClient
) -> None:
    url = f"{sink.url}/v21.0/me/messages"
    no_token = await client.post(url, json={"recipient": {"id": "p"}, "message": {"text": "x"}})
    no_recipient = await client.post(url, params={"access_token": "t"}, json={"message": {"text": "x"}})

    assert (no_token.status_code, no_token.json()["error"]["code"]) == (400, 2500)
    assert (no_recipient.status_code, no_recipient.json()["error"]["code"]) == (400, 100)
    assert sink.files("meta") == []


async def test_a_chat_message_is_accepted_once_per_idempotency_key(
    sink: Sink, client: httpx.AsyncClient
) -> None:
    url = f"{sink.url}/conversations/conv-7/messages"
    payload = {"text": TEXT, "idempotency_key": "send-1"}

    first = await client.post(url, json=payload, headers={"Authorization": "Bearer t"})
    again = await client.post(url, json=payload)
    other = await client.post(url, json={"text": TEXT, "idempotency_key": "send-2"})
    empty = await client.post(url, json={"idempotency_key": "send-3"})

    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert empty.status_code == 400
    stored = sink.stored("chat")
    assert [s["json"] for s in stored] == [payload, {"text": TEXT, "idempotency_key": "send-2"}]
    assert {s["conversation"] for s in stored} == {"conv-7"}
    assert {s["response"]["status"] for s in stored} == {202}


async def test_notifys_senders_are_accepted(sink: Sink, client: httpx.AsyncClient) -> None:
    def outgoing(channel: Channel, to: str) -> Outgoing:
        return Outgoing(send_key=f"key-{channel}", channel=channel, to=to, body=TEXT)

    await TwilioSmsSender(sink.url, "AC0123", "token", "+4759440000", client).send(
        outgoing(Channel.SMS, "+4791234567")
    )
    await MetaSendApiSender(sink.url, "page-token", client).send(outgoing(Channel.MESSENGER, "psid-9"))
    await ChatCallbackSender(sink.url, client, "chat-token").send(outgoing(Channel.CHAT, "conv-9"))

    assert sink.stored("sms")[0]["form"]["Body"] == TEXT
    assert sink.stored("meta")[0]["json"]["recipient"] == {"id": "psid-9"}
    assert sink.stored("chat")[0]["json"] == {"text": TEXT, "idempotency_key": "key-chat"}


def test_runs_as_the_stack_starts_it_and_logs_file_names_only(tmp_path: Path) -> None:
    port = free_port()
    out_dir = tmp_path / "outbox"
    log = tmp_path / "sink.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.local.provider_sink",
                "--port",
                str(port),
                "--out-dir",
                str(out_dir),
            ],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://{HOST}:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the sink did not answer"
            time.sleep(0.05)
        response = httpx.post(
            f"{base}/2010-04-01/Accounts/AC0123/Messages.json",
            data={"To": "+4791234567", "From": "+4759440000", "Body": TEXT},
            auth=("AC0123", "token"),
        )
        assert response.status_code == 201
    finally:
        proc.terminate()
        # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught.
        assert proc.wait(timeout=10) in (0, -signal.SIGTERM)
    (stored,) = (out_dir / "sms").glob("*.json")
    output = log.read_text()
    assert f"stored sms/{stored.name}" in output
    assert "+4791234567" not in output
    assert "AC0123" not in output
    assert "Traceback" not in output
