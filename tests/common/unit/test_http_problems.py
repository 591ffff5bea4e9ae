"""Every error is an RFC 9457 problem, and none of them echoes personal data or internals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, EmailStr
from pymongo.errors import AutoReconnect
from starlette.types import Message, Receive, Scope, Send

from services.common.http import PROBLEM_JSON, create_app
from services.common.http.problems import BodyLimitMiddleware
from services.common.settings import CommonSettings

CANARY = "kari.canary+4791234567@example.org"
LIMIT = 1024


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    age: int
    attributes: dict[str, int] = {}


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/people")
    async def create_person(person: Person) -> dict[str, str]:
        return {"status": "created"}

    @router.get("/v1/people")
    async def list_people(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @router.post("/v1/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError(f"lookup failed for {CANARY} in /srv/helhet/internal.py")

    @router.get("/v1/database-away")
    async def database_away() -> None:
        raise AutoReconnect(f"connection to {CANARY} refused")

    @router.get("/v1/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "Short and stout.", headers={"X-Reason": "tea"})

    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(
        CommonSettings(max_body_bytes=LIMIT), title="problems-test", readiness={}, routers=[_router()]
    )
    with TestClient(app) as client:
        yield client


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


def test_422_gives_location_and_type_but_never_the_input(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post("/v1/people", json={"email": CANARY, "age": CANARY})
    body = _assert_problem(response, 422)
    assert body["errors"] == [{"loc": ["body", "age"], "type": "int_parsing"}]
    assert CANARY not in response.text
    assert "kari" not in response.text
    assert CANARY not in caplog.text


def test_422_for_an_invalid_email_does_not_echo_it(client: TestClient) -> None:
    response = client.post("/v1/people", json={"email": f"not an email {CANARY}", "age": 3})
    body = _assert_problem(response, 422)
    assert body["errors"] == [{"loc": ["body", "email"], "type": "value_error"}]
    assert CANARY not in response.text


def test_422_redacts_client_chosen_keys_in_the_location(client: TestClient) -> None:
    # Dict keys and unknown field names are the client's data and may be personal.
    response = client.post(
        "/v1/people", json={"email": "a@example.org", "age": 3, "attributes": {CANARY: "x"}, CANARY: 1}
    )
    body = _assert_problem(response, 422)
    assert CANARY not in response.text
    assert sorted(body["errors"], key=str) == [
        {"loc": ["body", "*"], "type": "extra_forbidden"},
        {"loc": ["body", "attributes", "*"], "type": "int_parsing"},
    ]


def test_422_for_query_and_broken_json(client: TestClient) -> None:
    query = client.get("/v1/people", params={"limit": CANARY})
    assert _assert_problem(query, 422)["errors"] == [{"loc": ["query", "limit"], "type": "int_parsing"}]
    broken = client.post(
        "/v1/people",
        content=f'{{"email": "{CANARY}", '.encode(),
        headers={"content-type": "application/json"},
    )
    errors = _assert_problem(broken, 422)["errors"]
    assert errors[0]["type"] == "json_invalid"
    assert CANARY not in query.text + broken.text


def test_body_within_the_limit_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/raw", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"bytes": LIMIT}


def test_413_when_content_length_is_over_the_limit(client: TestClient) -> None:
    response = client.post("/v1/raw", content=b"x" * (LIMIT + 1))
    body = _assert_problem(response, 413)
    assert body["max_body_bytes"] == LIMIT


def test_413_for_a_chunked_body_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"y" * 400

    response = client.post("/v1/raw", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_problem(response, 413)


async def test_body_limit_counts_streamed_messages_and_stops_reading() -> None:
    # ASGI level: several body messages, no Content-Length; reading must stop at the first one over.
    chunks = [b"z" * 400] * 10
    served: list[int] = []
    sent: list[Message] = []

    async def receive() -> Message:
        served.append(1)
        return {
            "type": "http.request",
            "body": chunks[len(served) - 1],
            "more_body": len(served) < len(chunks),
        }

    async def send(message: Message) -> None:
        sent.append(message)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodyLimitMiddleware(app, max_body_bytes=LIMIT)(scope, receive, send)
    assert len(served) == 3  # 1200 bytes > 1024: the fourth message is never pulled
    assert sent[0]["status"] == 413
    assert b"read it all" not in b"".join(m.get("body", b"") for m in sent)


async def test_body_limit_passes_other_scopes_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    await BodyLimitMiddleware(app, max_body_bytes=0)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


def test_500_has_no_internals_and_logs_no_message(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.get("/v1/boom")
    body = _assert_problem(response, 500)
    for leak in (CANARY, "RuntimeError", "Traceback", "internal.py", "boom"):
        assert leak not in response.text
    assert body["instance"].startswith("urn:uuid:")
    error_id = body["instance"].removeprefix("urn:uuid:")
    for expected in (error_id, "RuntimeError", "/v1/boom"):
        assert expected in caplog.text
    assert CANARY not in caplog.text


def test_a_database_that_is_away_is_a_503_to_retry(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.get("/v1/database-away")
    _assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert CANARY not in response.text + caplog.text
    assert "AutoReconnect" in caplog.text


def test_http_exceptions_become_problems_and_keep_headers(client: TestClient) -> None:
    teapot = client.get("/v1/teapot")
    body = _assert_problem(teapot, 418)
    assert body["detail"] == "Short and stout."
    assert teapot.headers["x-reason"] == "tea"
    assert _assert_problem(client.get(f"/v1/nothing/{CANARY}"), 404)["title"] == "Not Found"
    not_allowed = client.delete("/v1/people")
    _assert_problem(not_allowed, 405)
    assert not_allowed.headers["allow"]  # Starlette names the first route that matched the path


async def test_streaming_body_that_fits_reaches_the_app() -> None:
    # Guards against a limiter that refuses everything without Content-Length.
    app: FastAPI = create_app(
        CommonSettings(max_body_bytes=LIMIT), title="t", readiness={}, routers=[_router()]
    )

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * 500
        yield b"b" * 500

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/v1/raw", content=chunks())
    assert response.status_code == 200
    assert response.json() == {"bytes": 1000}
