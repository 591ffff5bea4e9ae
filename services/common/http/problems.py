"""RFC 9457 problem details (``application/problem+json``) for every error a service answers.

Error bodies must never carry personal data: validation errors give only where and what kind of error,
never the rejected value, and unhandled errors give an opaque id that matches one log line.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pymongo.errors import ConnectionFailure
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.http._asgi import route_template

PROBLEM_JSON = "application/problem+json"

_log = logging.getLogger(__name__)

# Location parts that look like field names are kept; anything else (a dict key such as an email or a
# phone number, a union member's repr) becomes "*" so a 422 body cannot echo the client's data.
_SAFE_LOC_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_uri: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """A problem+json response; with ``about:blank`` the title is the HTTP reason phrase (RFC 9457 §4.2.1)."""
    phrase = _phrase(status)
    body: dict[str, Any] = {"type": type_uri, "title": title or phrase, "status": status}
    if detail and detail != body["title"]:
        body["detail"] = detail
    body.update(extensions)
    return ProblemResponse(body, status_code=status, headers=dict(headers) if headers else None)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):  # these statuses cannot carry a body
        return Response(status_code=exc.status_code, headers=exc.headers)
    extensions: dict[str, Any] = {}
    detail: str | None
    if isinstance(exc.detail, str):
        detail = exc.detail
    else:  # structured detail from application code is kept, as a member of its own
        detail = None
        extensions["errors"] = jsonable_encoder(exc.detail)
    return problem(exc.status_code, detail, headers=exc.headers, **extensions)


async def validation_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [_safe_loc_part(part) for part in error.get("loc", ())], "type": error.get("type")}
        for error in exc.errors()
    ]
    return problem(422, "The request is not valid; see errors for where.", errors=errors)


def _safe_loc_part(part: object) -> str | int:
    if isinstance(part, int):
        return part
    if isinstance(part, str) and _SAFE_LOC_PART.fullmatch(part):
        return part
    return "*"


def install_problem_handlers(app: FastAPI) -> None:
    """Route HTTP errors (ours, FastAPI's, the router's 404/405) and 422s through problem details."""
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)


class UnhandledErrorMiddleware:
    """Turns any unhandled exception into a 500 problem and one log line without internals.

    Pure ASGI and placed inside the user middleware so the exception stops here: Starlette's own
    server-error path would re-raise it and the server would log ``str(exc)``, which can hold personal
    data (a failed validation of stored data, a key error on an email). The log keeps exception class
    names and code locations, which is what debugging needs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error_id = uuid.uuid4()
            away = isinstance(exc, ConnectionFailure)
            if away:  # the database is away or overloaded: the client may retry, nothing is wrong here
                _log.warning("database unavailable in %s (%s)", route_template(scope), type(exc).__name__)
            else:
                _log_unhandled(exc, scope, error_id)
            if started:  # too late for a problem body; returning lets the server close the connection
                return
            if away:
                response = problem(
                    503, "The database is unavailable right now; retry shortly.", headers={"Retry-After": "5"}
                )
            else:
                response = problem(500, "An unexpected error occurred.", instance=error_id.urn)
            await response(scope, receive, send)


def _log_unhandled(exc: BaseException, scope: Scope, error_id: uuid.UUID) -> None:
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 5:
        names.append(type(seen).__qualname__)
        seen = seen.__cause__ or seen.__context__
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    _log.error(
        "unhandled %s in %s %s (error %s)\n%s",
        " <- ".join(names),
        scope.get("method", "?"),
        route_template(scope),
        error_id,
        frames,
    )


class _BodyTooLargeError(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(413, "The request body is larger than this service accepts.")


class BodyLimitMiddleware:
    """Answers 413 when a request body exceeds ``max_body_bytes``.

    Counts the bytes actually streamed in (chunked uploads have no Content-Length) and trusts a declared
    Content-Length only to refuse early. The limit is raised from ``receive`` so nothing past it is read;
    whatever response the app then makes of that error is replaced by one 413 problem.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        declared = _content_length(scope)
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if declared is not None and declared > limit:
                exceeded = True
                raise _BodyTooLargeError
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the limit error; the 413 below replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await problem(413, _BodyTooLargeError().detail, max_body_bytes=limit)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None or not value.isdigit():
        return None
    return int(value)
