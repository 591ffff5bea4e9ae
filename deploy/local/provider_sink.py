"""Local provider sink: plays Twilio's Messages API, Meta's Send API and the chat callback for ``make run``,
and keeps every message it accepts as a JSON file under ``var/outbox/<sms|meta|chat>/``.

Run with ``python -m deploy.local.provider_sink``; it never sends anything anywhere. It answers the way the
real providers do (Twilio ``201`` with an ``SM…`` sid, Meta ``200`` with a ``message_id``, chat ``202``
with an ``id``) and refuses what they would refuse (no credentials, no recipient, no text), so notify's
senders see realistic answers. Each stored file holds the request (form or JSON), never the access token,
and the answer given.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import secrets
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import typer
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from deploy.local.config import HOST, StackConfig, _int_env

log = logging.getLogger("helhet.provider_sink")

DEFAULT_PORT = 1080
PORT_VARIABLE = "HELHET_PROVIDER_SINK_PORT"
MAX_BODY_BYTES = 256 * 1024
FORM = "application/x-www-form-urlencoded"


def store_request(out_dir: Path, channel: str, record: Mapping[str, Any]) -> Path:
    """Write one request atomically (temp file + rename), so readers never see half a file."""
    folder = out_dir / channel
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = folder / f"{stamp}-{uuid.uuid4().hex[:12]}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _graph_error(code: int, message: str) -> JSONResponse:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": secrets.token_hex(8)}
    return JSONResponse({"error": error}, status_code=400)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _basic_user(authorization: str | None) -> str | None:
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep else None


def create_app(out_dir: Path) -> FastAPI:
    """The sink's API, storing under ``out_dir``."""
    app = FastAPI(title="Helhet provider sink", docs_url=None, redoc_url=None, openapi_url=None)
    chat_ids: dict[tuple[str, str], str] = {}  # (conversation, idempotency key) -> message id

    async def body_of(request: Request) -> bytes | None:
        raw = await request.body()
        return raw if len(raw) <= MAX_BODY_BYTES else None

    async def keep(
        channel: str, request: Request, payload: Mapping[str, Any], status: int, answer: Any
    ) -> None:
        record = {
            "received_at": datetime.now(UTC).isoformat(),
            "channel": channel,
            "method": request.method,
            "path": request.url.path,
            **payload,
            "response": {"status": status, "body": answer},
        }
        path = await asyncio.to_thread(store_request, out_dir, channel, record)
        # The file name only: numbers, ids and texts are personal data and stay out of logs.
        log.info("stored %s/%s", channel, path.name)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def twilio_message(account_sid: str, request: Request) -> JSONResponse:
        if _basic_user(request.headers.get("authorization")) != account_sid:
            return _twilio_error(401, 20003, "Authenticate")
        raw = await body_of(request)
        if raw is None:
            return _twilio_error(
                413, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        is_form = request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM
        form = dict(parse_qsl(raw.decode("utf-8", "replace"))) if is_form else {}
        if not form.get("To"):
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From"):
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return _twilio_error(400, 21602, "Message body is required.")
        sid = f"SM{uuid.uuid4().hex}"
        now = format_datetime(datetime.now(UTC))
        answer = {
            "sid": sid,
            "account_sid": account_sid,
            "to": form["To"],
            "from": form["From"],
            "body": form["Body"],
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        await keep("sms", request, {"form": form}, status=201, answer=answer)
        return JSONResponse(answer, status_code=201)

    @app.post("/{version}/me/messages")
    async def meta_message(version: str, request: Request) -> JSONResponse:
        if not request.query_params.get("access_token"):
            return _graph_error(
                2500, "An active access token must be used to query information about the current user."
            )
        raw = await body_of(request)
        payload = _json_object(raw) if raw is not None else None
        if payload is None:
            return _graph_error(100, "(#100) The parameter recipient is required")
        recipient = payload.get("recipient")
        message = payload.get("message")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            return _graph_error(100, "(#100) The parameter recipient is required")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return _graph_error(100, "(#100) param message must be non-empty.")
        answer = {"recipient_id": str(recipient["id"]), "message_id": f"m_{secrets.token_urlsafe(24)}"}
        await keep("meta", request, {"json": payload}, status=200, answer=answer)
        return JSONResponse(answer)

    @app.post("/conversations/{conversation}/messages")
    async def chat_message(conversation: str, request: Request) -> JSONResponse:
        raw = await body_of(request)
        payload = _json_object(raw) if raw is not None else None
        if payload is None or not isinstance(payload.get("text"), str) or not payload["text"]:
            return JSONResponse({"detail": "text is required"}, status_code=400)
        key = payload.get("idempotency_key")
        if isinstance(key, str) and (conversation, key) in chat_ids:
            # The same message again (a retried send): the same answer, nothing stored twice.
            return JSONResponse({"id": chat_ids[conversation, key]}, status_code=202)
        answer = {"id": f"msg_{uuid.uuid4().hex}"}
        if isinstance(key, str):
            chat_ids[conversation, key] = answer["id"]
        record = {"conversation": conversation, "json": payload}
        await keep("chat", request, record, status=202, answer=answer)
        return JSONResponse(answer, status_code=202)

    return app


cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = HOST,
    port: Annotated[int | None, typer.Option(help=f"Default: {PORT_VARIABLE} or {DEFAULT_PORT}.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Default: <HELHET_VAR_DIR>/outbox.")] = None,
) -> None:
    """Answer as Twilio, Meta's Send API and the chat callback on HOST:PORT; keep every message as JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    chosen_port = port if port is not None else _int_env(PORT_VARIABLE, DEFAULT_PORT)
    target = out_dir or StackConfig.from_env().var_dir / "outbox"
    log.info("provider sink on %s:%d storing requests in %s", host, chosen_port, target)
    with contextlib.suppress(KeyboardInterrupt):
        # No access log: paths hold conversation ids and Meta's query string the access token.
        uvicorn.run(create_app(target), host=host, port=chosen_port, access_log=False, log_level="info")


if __name__ == "__main__":
    cli()
