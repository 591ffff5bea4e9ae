"""OData v4 for CRMs (Salesforce Connect external objects, Dataverse virtual tables), read-only.

- ``GET /odata/v4/``: the service document; ``GET /odata/v4/$metadata``: CSDL XML.
- ``GET /odata/v4/{Set}``: ``$filter $select $orderby $top $skip $count $skiptoken $search``; at most
  2,000 rows and under 8 MB a page, then ``@odata.nextLink``. ``GET /odata/v4/{Set}/$count``: the count.
- ``GET /odata/v4/{Set}(<guid>)``: one entity; a merged-away customer's id answers with the survivor.

Every answer carries ``OData-Version: 4.0``; every error is an OData error body (400 for a query that
cannot be served, never 500). Callers: a bearer JWT with ``customers:read`` or an integration's API key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pymongo.errors import ConnectionFailure

from services.profile.adapters.inbound.crm_auth import CrmReader
from services.profile.core.odata_model import EntitySet, csdl, service_document
from services.profile.core.odata_query import ODataQuery, ODataQueryError, skiptoken
from services.profile.odata import Collection, ODataService, UnknownEntitySetError
from services.profile.ports import ReaderBusyError, Row

PREFIX = "/odata/v4"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024 - 64 * 1024  # Salesforce's cap, with room for the envelope
_JSON = "application/json;odata.metadata=minimal;IEEE754Compatible=false"
_ENTITY = re.compile(r"^(?P<set>[A-Za-z]{1,40})(?:\((?:Id=)?(?P<key>[^()]{1,60})\))?$")
_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    503: "ServiceUnavailable",
}


def odata_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status,
        headers={"OData-Version": "4.0", **(headers or {})},
    )


class ODataRoute(APIRoute):
    """Answers every failure of an OData route (authentication, validation, query) as an OData error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def odata_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except _ANSWERED as exc:
                return _error_for(exc)
            response.headers["OData-Version"] = "4.0"
            return response

        return odata_handler


_ANSWERED = (
    ODataQueryError,
    UnknownEntitySetError,
    RequestValidationError,
    HTTPException,
    ReaderBusyError,
    ConnectionFailure,
)


def _error_for(exc: Exception) -> JSONResponse:
    if isinstance(exc, ODataQueryError):
        status = 501 if exc.code == "NotImplemented" else 406 if exc.code == "NotAcceptable" else 400
        return odata_error(status, exc.code, str(exc))
    if isinstance(exc, UnknownEntitySetError):
        return odata_error(404, "NotFound", "No entity set with that name.")
    if isinstance(exc, RequestValidationError):
        return odata_error(400, "BadRequest", "A request parameter is not valid.")
    if isinstance(exc, HTTPException):
        code = _CODES.get(exc.status_code, "Error")
        return odata_error(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))
    if isinstance(exc, ReaderBusyError):
        busy = "Too many wide queries are running; retry shortly."
        return odata_error(503, "ServiceUnavailable", busy, {"Retry-After": "2"})
    # The database is away or overloaded: a retry later may work.
    return odata_error(503, "ServiceUnavailable", "The data is unavailable right now.", {"Retry-After": "5"})


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return float(value)
    return value


def _shaped(row: Row, select: tuple[str, ...]) -> dict[str, Any]:
    names = select or tuple(row)
    return {name: _json_value(row[name]) for name in names}


def _context(request: Request, entity_set: EntitySet, select: tuple[str, ...], suffix: str = "") -> str:
    shape = f"({','.join(select)})" if select else ""
    return f"{request.base_url}{PREFIX.lstrip('/')}/$metadata#{entity_set.name}{shape}{suffix}"


def _next_link(request: Request, token: str) -> str:
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "$skiptoken"]
    query = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in [*kept, ("$skiptoken", token)])
    return str(request.url.replace(query=query))


def _quote(text: str) -> str:
    return quote(text, safe="$,()'")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _collection_body(request: Request, found: Collection) -> str:
    """The page as JSON text, each row serialised once: its size decides where a page over 8 MB is cut."""
    query: ODataQuery = found.query
    rows: list[str] = []
    size = 0
    token = found.next_skiptoken
    for index, row in enumerate(found.page.rows):
        text = _compact(_shaped(row, query.select))
        size += len(text.encode()) + 1
        if size > MAX_RESPONSE_BYTES:  # cut the page here; the next one starts at this row
            token = skiptoken(query.offset + index)
            break
        rows.append(text)
    members = [f'"@odata.context":{_compact(_context(request, query.entity_set, query.select))}']
    if found.page.count is not None:
        members.append(f'"@odata.count":{found.page.count}')
    members.append(f'"value":[{",".join(rows)}]')
    if token is not None:
        members.append(f'"@odata.nextLink":{_compact(_next_link(request, token))}')
    return "{" + ",".join(members) + "}"


async def _service(request: Request) -> ODataService:
    service: ODataService = request.app.state.odata
    return service


def odata_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["odata"], route_class=ODataRoute)

    @router.get("/", summary="OData service document")
    async def service_root(request: Request, _: CrmReader) -> JSONResponse:
        context = f"{request.base_url}{PREFIX.lstrip('/')}/$metadata"
        return JSONResponse(service_document(context), media_type=_JSON)

    @router.get("/$metadata", summary="OData CSDL metadata", response_class=Response)
    async def metadata(_: CrmReader) -> Response:
        return Response(csdl(), media_type="application/xml")

    @router.get("/{resource}/$count", summary="How many entities match $filter/$search")
    async def count(resource: str, request: Request, _: CrmReader) -> PlainTextResponse:
        service = await _service(request)
        # The count of what $filter/$search match; the options that shape a page do not apply.
        shaping = {"$count", "$top", "$skip", "$skiptoken", "$select", "$orderby"}
        options = [(name, value) for name, value in request.query_params.multi_items() if name not in shaping]
        options += [("$count", "true"), ("$top", "0")]
        found = await service.collection(resource, options)
        return PlainTextResponse(str(found.page.count or 0))

    @router.get("/{resource}", summary="An entity set, or one entity by its Guid key")
    async def read(resource: str, request: Request, _: CrmReader) -> Response:
        service = await _service(request)
        match = _ENTITY.match(resource)
        if match is None:
            return odata_error(404, "NotFound", "No such resource.")
        options = request.query_params.multi_items()
        if match.group("key") is None:
            found = await service.collection(match.group("set"), options)
            return Response(_collection_body(request, found), media_type=_JSON)
        query, row = await service.entity(match.group("set"), match.group("key").strip("'"), options)
        if row is None:
            return odata_error(404, "NotFound", f"No {query.entity_set.type_name} with that key.")
        body = {"@odata.context": _context(request, query.entity_set, query.select, "/$entity")}
        return JSONResponse(body | _shaped(row, query.select), media_type=_JSON)

    return router
