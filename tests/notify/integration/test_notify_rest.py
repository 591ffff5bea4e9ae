"""Notify's API over real HTTP on the test's own database: calendars in and out (and what it refuses),
what a case's customer was told, its promises, the templates; scopes enforced."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.notify.inject import create_api
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from tests.notify.integration.conftest import MailServer
from tests.notify.integration.notify_flow import ALWAYS_OPEN, case_opened, stats
from tests.support.clock import Clock

pytestmark = pytest.mark.integration

SPLIT_AND_OVERNIGHT: dict[str, Any] = {
    "time_zone": "Europe/Stockholm",
    "country": "SE",
    "hours": {
        "monday": [{"opens": "08:00", "closes": "11:30"}, {"opens": "12:00", "closes": "16:00"}],
        "friday": [{"opens": "20:00", "closes": "02:00"}],
    },
    "closures": [
        {"day": "2026-12-24", "label": "Julafton"},
        {"start": "2026-12-01T10:00:00+01:00", "end": "2026-12-01T12:00:00+01:00", "label": "Training"},
    ],
}


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def notify_url(
    infra: CommonSettings, notify_db: AsyncDatabase[Document], issuer: LocalIssuer
) -> Iterator[str]:
    settings = NotifySettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=notify_db.name,
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        yield url


@pytest.fixture
async def api(notify_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    async with httpx.AsyncClient(base_url=notify_url, headers=headers, timeout=10) as client:
        yield client


async def test_a_calendar_put_is_read_back_as_given(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/queues/email/calendar")).status_code == 404  # the default applies
    put = await api.put("/v1/queues/email/calendar", json=SPLIT_AND_OVERNIGHT)
    assert put.status_code == 200, put.text
    got = await api.get("/v1/queues/email/calendar")
    assert got.status_code == 200
    body = got.json()
    assert body["time_zone"] == "Europe/Stockholm"
    assert body["country"] == "SE"
    assert body["hours"]["monday"] == [
        {"opens": "08:00:00", "closes": "11:30:00"},
        {"opens": "12:00:00", "closes": "16:00:00"},
    ]
    assert body["closures"][0] == {"day": "2026-12-24", "start": None, "end": None, "label": "Julafton"}


@pytest.mark.parametrize(
    "calendar",
    [
        {"time_zone": "Mars/Olympus"},
        {"hours": {"funday": [{"opens": "08:00", "closes": "16:00"}]}},
        {"hours": {"monday": [{"opens": "25:00", "closes": "16:00"}]}},
        {"country": "FI"},
        {"closures": [{"start": "2026-12-01T12:00:00+01:00", "end": "2026-12-01T10:00:00+01:00"}]},
        {"closures": [{"start": "2026-12-01T10:00:00", "end": "2026-12-01T12:00:00"}]},  # no offset
        {"closures": [{"day": "2026-12-24", "start": "2026-12-01T10:00:00+01:00"}]},
        {"holidays": "all"},
    ],
)
async def test_a_wrong_calendar_is_refused_with_a_clear_error_and_the_old_one_stays(
    api: httpx.AsyncClient, calendar: dict[str, Any]
) -> None:
    assert (await api.put("/v1/queues/email/calendar", json=ALWAYS_OPEN.model_dump(mode="json"))).is_success
    refused = await api.put("/v1/queues/email/calendar", json=calendar)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    kept = await api.get("/v1/queues/email/calendar")
    assert kept.json() == ALWAYS_OPEN.model_dump(mode="json")


async def test_a_bad_queue_name_and_an_oversized_body_are_refused(api: httpx.AsyncClient) -> None:
    assert (await api.put("/v1/queues/Bad%20Queue/calendar", json={})).status_code == 422
    huge = {"closures": [{"day": "2026-12-24", "label": "x" * 200}] * 10_000}
    content = json.dumps(huge)
    assert len(content) > 1_048_576
    oversized = await api.put(
        "/v1/queues/email/calendar", content=content, headers={"content-type": "application/json"}
    )
    assert oversized.status_code == 413


async def test_what_the_customer_was_told_and_what_was_promised(
    api: httpx.AsyncClient, service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    await service.put_calendar("email", ALWAYS_OPEN)
    await service.handle_stats([stats("email", clock.now, backlog=8, per_hour=4)])
    opened = case_opened(clock.now, language="da")
    await service.handle_cases([opened])

    told = await api.get(f"/v1/cases/{opened.case_id}/notifications")
    promised = await api.get("/v1/promises", params={"case_id": opened.case_id})

    assert told.status_code == 200
    assert promised.status_code == 200
    [notification] = told.json()
    assert notification["kind"] == "acknowledgement"
    assert notification["state"] == "sent"
    assert notification["language"] == "da"
    assert notification["channel"] == "email"
    assert notification["expected_answer"]["said"] in notification["text"]
    [promise] = promised.json()
    assert promise["kind"] == "answer_by"
    assert promise["state"] == "open"
    assert promise["due_at"] == notification["expected_answer"]["latest"]
    assert (await api.get("/v1/cases/unknown-case/notifications")).json() == []
    assert (await api.get("/v1/promises")).status_code == 422  # case_id is required


async def test_templates_name_their_variables_and_languages(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/templates")
    assert response.status_code == 200
    by_kind = {template["kind"]: template for template in response.json()}
    assert set(by_kind) == {
        "acknowledgement",
        "status_update",
        "callback_rescheduled",
        "assigned",
        "case_evaluation",
        "satisfaction_survey",
        "feedback_acknowledged",
    }
    assert by_kind["acknowledgement"]["variables"] == ["case_ref", "eta", "first_name"]
    assert all(sorted(t["languages"]) == ["da", "en", "nb", "sv"] for t in by_kind.values())


async def test_scopes_are_enforced(notify_url: str, issuer: LocalIssuer) -> None:
    async with httpx.AsyncClient(base_url=notify_url, timeout=10) as anonymous:
        assert (await anonymous.get("/v1/templates")).status_code == 401
    reader = {"Authorization": f"Bearer {issuer.token(['calendars:read'])}"}
    async with httpx.AsyncClient(base_url=notify_url, headers=reader, timeout=10) as client:
        assert (await client.put("/v1/queues/email/calendar", json={})).status_code == 403
        assert (await client.get("/v1/cases/c/notifications")).status_code == 403
        assert (await client.get("/v1/queues/email/calendar")).status_code == 404


async def test_an_agent_records_a_supplier_promise_and_keeps_it(
    api: httpx.AsyncClient, service: NotifyService, mail_server: MailServer, clock: Clock
) -> None:
    opened = case_opened(clock.now, language="nb")
    await service.handle_cases([opened])
    due = (datetime.now(UTC) + timedelta(hours=6)).isoformat()

    made = await api.post("/v1/promises", json={"case_id": opened.case_id, "due_at": due})
    again = await api.post("/v1/promises", json={"case_id": opened.case_id, "due_at": due})
    unknown = await api.post("/v1/promises", json={"case_id": "nobody", "due_at": due})
    past = await api.post(
        "/v1/promises", json={"case_id": opened.case_id, "due_at": "2020-01-01T00:00:00+00:00"}
    )
    naive = await api.post("/v1/promises", json={"case_id": opened.case_id, "due_at": "2030-01-01T00:00:00"})

    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "supplier_update"
    assert made.json()["state"] == "open"
    assert again.status_code == 409
    assert unknown.status_code == 404
    assert past.status_code == 422
    assert naive.status_code == 422
    promise_id = made.json()["promise_id"]
    kept = await api.post(f"/v1/promises/{promise_id}:keep")
    assert kept.status_code == 200
    assert kept.json()["state"] == "kept"
    assert (await api.post(f"/v1/promises/{promise_id}:keep")).status_code == 409
    assert (await api.post("/v1/promises/nothing:keep")).status_code == 404


async def test_recording_a_promise_needs_the_write_scope(notify_url: str, issuer: LocalIssuer) -> None:
    reader = {"Authorization": f"Bearer {issuer.token(['notifications:read'])}"}
    async with httpx.AsyncClient(base_url=notify_url, headers=reader, timeout=10) as client:
        body = {"case_id": "c", "due_at": "2030-01-01T00:00:00+00:00"}
        assert (await client.post("/v1/promises", json=body)).status_code == 403
        assert (await client.post("/v1/promises/c:supplier_update:keep")).status_code == 403
