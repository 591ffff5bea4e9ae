"""Server spans join the caller's trace and never carry the raw URL (it can hold personal data)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import Message, Receive, Scope, Send

from services.common.http import create_app
from services.common.settings import CommonSettings
from services.common.telemetry import TraceContextMiddleware, configure_telemetry, trace_headers

CANARY = "kari.canary@example.no"
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_server_spans_join_the_trace_and_hide_paths_and_queries() -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    router = APIRouter()

    @router.get("/lookup/{identifier}")
    async def lookup(identifier: str, q: str | None = None) -> dict[str, bool]:
        return {"found": False}

    app = create_app(CommonSettings(), title="t", readiness={}, routers=[router])
    with TestClient(app) as client:
        response = client.get(
            f"/lookup/{CANARY}",
            params={"q": CANARY},
            headers={"traceparent": f"00-{CALLER_TRACE}-b7ad6b7169203331-01"},
        )
    assert response.status_code == 200
    finished = exporter.get_finished_spans()
    # One server span (no FastAPI-native duplicate, no per-dependency spans).
    assert [span.kind for span in finished] == [trace.SpanKind.SERVER]
    spans = list(finished)
    assert [span.name for span in spans] == ["GET /lookup/{identifier}"]
    assert format(spans[0].context.trace_id, "032x") == CALLER_TRACE
    assert all(CANARY not in str(value) for value in (spans[0].attributes or {}).values())


def test_without_an_exporter_no_tracer_provider_is_installed() -> None:
    """Spans nobody exports are not recorded at all (the no-op tracer still carries the caller's
    context on)."""
    before = trace.get_tracer_provider()

    installed = configure_telemetry(CommonSettings(otel_exporter_otlp_endpoint=None))

    assert installed is None
    assert trace.get_tracer_provider() is before


async def test_without_recording_the_callers_trace_context_is_carried_on() -> None:
    """What a request publishes (``trace_headers`` on its messages) stays in the caller's trace."""
    seen: list[dict[str, str]] = []

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(trace_headers())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = TraceContextMiddleware(endpoint)
    parent = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    for headers in ([(b"traceparent", parent.encode())], []):
        await app({"type": "http", "headers": headers}, receive, send)
    assert seen[0]["traceparent"] == parent
    assert "traceparent" not in seen[1]
    assert "traceparent" not in trace_headers()  # the request's context ended with it
