"""`stack run` (what `make run` starts) brings up the whole local platform and Ctrl-C takes it all down.

Runs on its own free ports and data folder, next to the stack `make test` started.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import httpx
import jwt
import pytest

from deploy.local import demo
from schemas.cases import CaseChange, CaseChanged
from schemas.routing import AssignmentChange, AssignmentChanged
from services.common.settings import CommonSettings
from tests.support.kafka import events_on
from tests.support.network import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, int | Path | subprocess.Popen[bytes]]]:
    var_dir = tmp_path_factory.mktemp("stack-var")
    ports = {
        "HELHET_KAFKA_PORT": free_port(),
        "HELHET_KAFKA_CONTROLLER_PORT": free_port(),
        "HELHET_MONGODB_PORT": free_port(),
        "HELHET_SMTP_SINK_PORT": free_port(),
        "HELHET_DEV_ISSUER_PORT": free_port(),
        "HELHET_INGEST_PORT": free_port(),
        "HELHET_PROFILE_PORT": free_port(),
        "HELHET_ROUTING_PORT": free_port(),
        "HELHET_NOTIFY_PORT": free_port(),
        "HELHET_PROVIDER_SINK_PORT": free_port(),
        "HELHET_SMTP_LISTEN_PORT": free_port(),
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("HELHET_")}
    env.update({key: str(port) for key, port in ports.items()})
    env.update(HELHET_VAR_DIR=str(var_dir), HELHET_CACHE_DIR=os.environ.get("HELHET_CACHE_DIR", ""))
    # The survey follows a close within seconds here, not hours, and notify ticks every second.
    env.update(HELHET_SURVEY_AFTER_MINUTES="0.05", HELHET_TICK_SECONDS="1")
    if not env["HELHET_CACHE_DIR"]:
        del env["HELHET_CACHE_DIR"]
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.stack", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 150
    while not all(listening(port) for port in ports.values()):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"stack run did not come up (exit {process.returncode}); logs in {var_dir}/log")
        time.sleep(0.5)
    yield {**ports, "var_dir": var_dir, "process": process}
    stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, so the runner stops the broker and the rest it started; force only if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_development_issuer_hands_out_verifiable_tokens(stack: dict[str, object]) -> None:
    issuer = f"http://127.0.0.1:{stack['HELHET_DEV_ISSUER_PORT']}"
    response = httpx.post(
        f"{issuer}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "customers:read"},
        auth=("helhet-dev", "helhet-dev-secret"),
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    signing_key = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience="helhet", issuer=issuer)
    assert claims["scope"] == "customers:read"


def test_mail_sent_to_the_local_sink_is_kept_as_an_eml_file(stack: dict[str, object]) -> None:
    message = EmailMessage()
    message["From"] = "helhet@example.no"
    message["To"] = "kunde@example.no"
    message["Subject"] = "Takk for henvendelsen"
    message.set_content("Vi svarer innen 2 til 4 timer.")
    with smtplib.SMTP("127.0.0.1", int(str(stack["HELHET_SMTP_SINK_PORT"])), timeout=10) as smtp:
        smtp.send_message(message)
    mail_dir = Path(str(stack["var_dir"])) / "mail"

    def mine() -> list[str]:
        # Notify's acknowledgements of the demo contacts land here too.
        return [text for path in mail_dir.glob("*.eml") if "kunde@example.no" in (text := path.read_text())]

    deadline = time.monotonic() + 10
    while not mine() and time.monotonic() < deadline:
        time.sleep(0.2)
    stored = mine()
    assert len(stored) == 1
    assert "Subject: Takk for henvendelsen" in stored[0]


async def test_an_interaction_posted_to_ingest_lands_on_kafka(stack: dict[str, object]) -> None:
    ingest = f"http://127.0.0.1:{stack['HELHET_INGEST_PORT']}"
    token = await dev_token(stack)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{ingest}/v1/interactions",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "channel": "chat",
                "direction": "inbound",
                "identifiers": [{"kind": "email", "value": "kari@example.no"}],
                "text": "Hei!",
                "occurred_at": "2026-11-23T09:00:00Z",
                "source_message_id": "e2e-1",
            },
        )
        ready = await client.get(f"{ingest}/readyz")
    assert response.status_code == 202, response.text
    assert ready.status_code == 200
    settings = CommonSettings(kafka_bootstrap_servers=f"127.0.0.1:{stack['HELHET_KAFKA_PORT']}")
    events = await events_on(settings, "interactions.v1", wanted=1)
    # The demo's own contacts share the topic.
    assert response.json()["event_id"] in [event.id for event in events]


async def test_an_email_to_ingest_becomes_an_open_case_in_the_profile_and_on_cases_v1(
    stack: dict[str, object],
) -> None:
    """The whole path: SMTP into ingest, Kafka, the profile worker, the profile API and cases.v1."""
    message = EmailMessage()
    message["From"] = "Ola Nordmann <ola.e2e@example.no>"
    message["To"] = "kundeservice@butikk.example.no"
    message["Subject"] = "Hvor er pakken min?"
    message["Message-ID"] = "<e2e-pakke-1@example.no>"
    message.set_content("Hei, pakken min har ikke kommet. Ordrenummer 10042.")
    with smtplib.SMTP("127.0.0.1", int(str(stack["HELHET_SMTP_LISTEN_PORT"])), timeout=10) as smtp:
        smtp.send_message(message)
    profile = f"http://127.0.0.1:{stack['HELHET_PROFILE_PORT']}"
    token = await dev_token(stack, "customers:read")
    async with httpx.AsyncClient(base_url=profile, headers={"Authorization": f"Bearer {token}"}) as client:
        lookup = {"identifier": "email:ola.e2e@example.no"}
        found = await client.get("/v1/customers:lookup", params=lookup)
        deadline = time.monotonic() + 60
        while found.status_code == 404 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            found = await client.get("/v1/customers:lookup", params=lookup)
        assert found.status_code == 200, found.text
        customer_id = found.json()["customer_id"]
        cases = (await client.get(f"/v1/customers/{customer_id}/cases")).json()["cases"]
        # What a CRM sees through OData: the customer by email, and its case by the foreign key.
        crm_customers = await client.get(
            "/odata/v4/Customers", params={"$filter": "Email eq 'ola.e2e@example.no'"}
        )
        crm_cases = await client.get("/odata/v4/Cases", params={"$filter": f"CustomerId eq {customer_id}"})

    assert [(c["status"], c["channel"], c["category"]) for c in cases] == [("open", "email", "shipping")]
    assert [c["Id"] for c in crm_customers.json()["value"]] == [customer_id]
    assert [(c["Id"], c["Status"]) for c in crm_cases.json()["value"]] == [(cases[0]["case_id"], "open")]
    # The demo CRM's key (make run registers the integration) reads the same, and only reads.
    key_file = Path(str(stack["var_dir"])) / "demo-crm-api-key"
    for _ in range(120):  # the demo registers it once the services are ready
        if key_file.exists():
            break
        await asyncio.sleep(0.5)
    key = key_file.read_text()
    async with httpx.AsyncClient(base_url=profile, headers={"X-Api-Key": key}) as crm:
        by_key = await crm.get(f"/odata/v4/Customers({customer_id})", params={"$select": "Id,Tier"})
        refused = await crm.get(f"/v1/customers/{customer_id}/export")
    assert by_key.json() | {"@odata.context": None} == {
        "@odata.context": None,
        "Id": customer_id,
        "Tier": "standard",
    }
    assert refused.status_code == 401
    settings = CommonSettings(kafka_bootstrap_servers=f"127.0.0.1:{stack['HELHET_KAFKA_PORT']}")
    published = await events_on(settings, "cases.v1", wanted=2)
    mine = [
        e.data for e in published if isinstance(e.data, CaseChanged) and e.data.customer_id == customer_id
    ]
    assert [(change.change, change.case_id) for change in mine] == [(CaseChange.OPENED, cases[0]["case_id"])]
    assert mine[0].contact is not None
    assert mine[0].contact.source_message_id == "<e2e-pakke-1@example.no>"

    # Routing offers it to one of the available demo agents who work email (which depends on the hour).
    offers: list[AssignmentChanged] = []
    deadline = time.monotonic() + 60
    while not offers and time.monotonic() < deadline:
        offers = [
            e.data
            for e in await events_on(settings, "assignments.v1", wanted=1, timeout_s=3)
            if isinstance(e.data, AssignmentChanged)
            and e.data.case_id == cases[0]["case_id"]
            and e.data.change is AssignmentChange.OFFERED
        ]
    assert offers, "no offer for the case on assignments.v1"
    assert offers[0].agent_id in {"ada", "cecilie", "dag"}
    assert offers[0].decision is not None

    # Notify acknowledges it in the customer's thread, with the answer time it promised.
    acknowledgement = await mail_to(stack, "ola.e2e@example.no")
    assert acknowledgement["In-Reply-To"] == "<e2e-pakke-1@example.no>"
    assert acknowledgement["Auto-Submitted"] == "auto-replied"
    notify = f"http://127.0.0.1:{stack['HELHET_NOTIFY_PORT']}"
    token = await dev_token(stack, "notifications:read")
    async with httpx.AsyncClient(base_url=notify, headers={"Authorization": f"Bearer {token}"}) as client:
        told = (await client.get(f"/v1/cases/{cases[0]['case_id']}/notifications")).json()
        promised = (await client.get("/v1/promises", params={"case_id": cases[0]["case_id"]})).json()
    assert [(n["kind"], n["state"], n["language"]) for n in told] == [("acknowledgement", "sent", "nb")]
    assert told[0]["expected_answer"]["said"] in acknowledgement.get_content()
    if told[0]["expected_answer"]["latest"] is not None:
        assert [p["kind"] for p in promised] == ["answer_by"]


async def mail_to(stack: dict[str, object], address: str, number: int = 1) -> EmailMessage:
    """The ``number``th mail the local sink kept for ``address`` (waits for it)."""
    mail_dir = Path(str(stack["var_dir"])) / "mail"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [
            parsed
            for path in sorted(mail_dir.glob("*.eml"))
            if isinstance(parsed := BytesParser(policy=default).parsebytes(path.read_bytes()), EmailMessage)
            and parsed["To"] == address
        ]
        if len(found) >= number:
            assert len(found) == number, "more mail than expected"
            return found[-1]
        await asyncio.sleep(0.5)
    raise AssertionError(f"no mail number {number} for the address in the local sink")


async def test_a_resolved_case_is_surveyed_and_an_unhappy_answer_reopens_it(stack: dict[str, object]) -> None:
    """The loop: a mail, its case closed, the survey in the customer's inbox, the answer through ingest's
    link, the thanks with a follow-up promised, the case open again and its customer in need of recovery."""
    message = EmailMessage()
    message["From"] = "Siri Misfornøyd <siri.e2e@example.no>"
    message["To"] = "kundeservice@butikk.example.no"
    message["Subject"] = "Feil vare"
    message["Message-ID"] = "<e2e-feil-vare@example.no>"
    message.set_content("Jeg fikk feil farge på genseren.")
    with smtplib.SMTP("127.0.0.1", int(str(stack["HELHET_SMTP_LISTEN_PORT"])), timeout=10) as smtp:
        smtp.send_message(message)
    await mail_to(stack, "siri.e2e@example.no")  # the acknowledgement
    profile = f"http://127.0.0.1:{stack['HELHET_PROFILE_PORT']}"
    token = await dev_token(stack)
    async with httpx.AsyncClient(base_url=profile, headers={"Authorization": f"Bearer {token}"}) as client:
        found = await client.get("/v1/customers:lookup", params={"identifier": "email:siri.e2e@example.no"})
        customer_id = found.json()["customer_id"]
        [case] = (await client.get(f"/v1/customers/{customer_id}/cases")).json()["cases"]
        closing = await client.post(f"/v1/cases/{case['case_id']}:close", json={"reason": "resolved"})
        assert closing.status_code == 202, closing.text

        survey = await mail_to(stack, "siri.e2e@example.no", 2)
        [link] = re.findall(r"http://\S+/v1/feedback/form\?t=\S+", survey.get_content())
        form = await client.get(link)
        assert form.status_code == 200
        token_field = re.search(r'name="t(?:oken)?" value="([^"]+)"', form.text)
        assert token_field is not None
        answer = await client.post(
            link.split("/v1/feedback/form")[0] + "/v1/feedback",
            json={"token": token_field.group(1), "rating": 1, "comment": "Fortsatt feil farge."},
        )
        assert answer.status_code == 202, answer.text

        thanks = await mail_to(stack, "siri.e2e@example.no", 3)
        assert "tar kontakt med deg" in thanks.get_content()  # a follow-up is promised
        deadline = time.monotonic() + 60
        reopened: dict[str, object] = {}
        while time.monotonic() < deadline:
            [reopened] = (await client.get(f"/v1/customers/{customer_id}/cases")).json()["cases"]
            if reopened["status"] == "open":
                break
            await asyncio.sleep(0.5)
        customer = (await client.get(f"/v1/customers/{customer_id}")).json()
    assert reopened["status"] == "open"
    assert reopened["case_id"] == case["case_id"]
    assert customer["needs_recovery"] is True


async def dev_token(stack: dict[str, object], scope: str | None = None) -> str:
    """A token from the development issuer (every scope unless one is named)."""
    issuer = f"http://127.0.0.1:{stack['HELHET_DEV_ISSUER_PORT']}"
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{issuer}/oauth/token",
            data=form,
            auth=("helhet-dev", "helhet-dev-secret"),
        )
    token: str = response.json()["access_token"]
    return token


async def test_the_demo_desktops_keep_their_agents_present_across_token_refreshes(
    stack: dict[str, object],
) -> None:
    """What `make run` leaves running: the demo agents' heartbeats, with a fresh token every round here."""
    issuer = f"http://127.0.0.1:{stack['HELHET_DEV_ISSUER_PORT']}"
    routing = f"http://127.0.0.1:{stack['HELHET_ROUTING_PORT']}"
    ingest = f"http://127.0.0.1:{stack['HELHET_INGEST_PORT']}"

    await demo.main(issuer, ingest, routing, rounds=2, token_rounds=1)

    token = await dev_token(stack, "agents:read")
    async with httpx.AsyncClient(base_url=routing, headers={"Authorization": f"Bearer {token}"}) as client:
        dag = (await client.get("/v1/agents/dag")).json()
        frode = (await client.get("/v1/agents/frode")).json()
    assert dag["status"] == "available"
    assert dag["closed_because"] in {None, "not_responding"}  # there (offers it ignored aside)
    assert frode["closed_because"] == "status"  # the away one stays away


def test_ctrl_c_stops_everything_it_started(stack: dict[str, object]) -> None:
    process = stack["process"]
    assert isinstance(process, subprocess.Popen)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=90) == 0
    ports = [value for key, value in stack.items() if key.endswith("_PORT")]
    assert [port for port in ports if listening(int(str(port)))] == []
    assert list((Path(str(stack["var_dir"])) / "run").glob("*.pid")) == []
