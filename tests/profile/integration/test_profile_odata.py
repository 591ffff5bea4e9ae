"""Profile's OData v4 service read through python-odata (a client maintained by others, not our parser),
over real HTTP, on customers the real profile service wrote into the local database.

The server's page size is 5 here, so a dozen customers take three pages of server-driven paging."""

from __future__ import annotations

import asyncio
import socket
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
from odata import ODataService as ODataClient
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from schemas.identifiers import CustomerIdentifier, IdentifierKind, identify
from services.common.http import set_token_verifier
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.publisher import AsyncEventPublisher
from services.common.mongo import Document
from services.common.settings import CommonSettings
from services.profile.adapters.outbound.kafka_changes import KafkaChangeFeed
from services.profile.adapters.outbound.mongo_privacy import MongoPrivacyStore
from services.profile.adapters.outbound.mongo_store import MongoProfileStore
from services.profile.core.odata_model import ALLOWED_TYPES
from services.profile.inject import create_api
from services.profile.service import ProfileService
from services.profile.settings import ProfileSettings
from tests.profile.integration.conftest import api_client
from tests.profile.integration.profile_flow import AT, customers_of, fresh_phone, interaction, order

pytestmark = pytest.mark.integration

PAGE = 5
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@dataclass(frozen=True)
class Seeded:
    run: str  # in every seeded email: filters select exactly these customers
    customers: dict[str, CustomerIdentifier]  # customer id -> its email
    phone: CustomerIdentifier  # the first customer's phone


@pytest.fixture(scope="module")
def odata_url(infra: CommonSettings, issuer: LocalIssuer) -> Iterator[str]:
    settings = ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        odata_page_size=PAGE,
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        yield url


@pytest.fixture
def service(db: AsyncDatabase[Document], publisher: AsyncEventPublisher) -> ProfileService:
    return ProfileService(
        MongoProfileStore(db), KafkaChangeFeed(publisher), MongoPrivacyStore(db), lambda: datetime.now(UTC)
    )


@pytest.fixture
async def seeded(service: ProfileService, db: AsyncDatabase[Document]) -> Seeded:
    # A letter first: text filters below look for "-1", which a run id starting with a digit would hold.
    run = "r" + uuid.uuid4().hex[:9]
    emails = [identify(IdentifierKind.EMAIL, f"odata-{run}-{n:02d}@example.no") for n in range(12)]
    phone = fresh_phone()
    events = [
        interaction(email, *([phone] if n == 0 else []), at=AT + timedelta(minutes=n))
        for n, email in enumerate(emails)
    ]
    events.append(order(emails[0], amount="1499.50"))
    await service.handle_batch(events)
    by_key = {email.key: email for email in emails}
    owners = await customers_of(db, by_key)
    assert len(owners) == 12
    links = db["profile_links"].find({"_id": {"$in": list(by_key)}})
    customers = {link["customer_id"]: by_key[link["_id"]] async for link in links}
    return Seeded(run, customers, phone)


@pytest.fixture
async def odata(odata_url: str, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(f"{odata_url}/odata/v4", issuer, ["customers:read"]) as client:
        yield client


def odata_client(base: str, headers: dict[str, str]) -> ODataClient:
    session = requests.Session()
    session.headers.update(headers)
    return ODataClient(f"{base}/odata/v4/", session=session, reflect_entities=True, quiet_progress=True)


async def reflected(odata_url: str, issuer: LocalIssuer) -> ODataClient:
    headers = {"Authorization": f"Bearer {issuer.token(['customers:read'])}"}
    return await asyncio.to_thread(odata_client, odata_url, headers)


def seeded_filter(seeded: Seeded) -> str:
    return f"contains(Email,'odata-{seeded.run}') eq true"


async def test_metadata_keys_are_guids_and_every_type_is_one_both_crms_accept(
    odata: httpx.AsyncClient,
) -> None:
    response = await odata.get("/$metadata")
    assert response.status_code == 200
    assert response.headers["OData-Version"] == "4.0"
    schema = ET.fromstring(response.content).find(f".//{EDM}Schema")  # noqa: S314 - our own answer
    assert schema is not None
    types = schema.findall(f"{EDM}EntityType")
    assert {t.get("Name") for t in types} == {"Customer", "Identifier", "Interaction", "Case"}
    for entity_type in types:
        properties = {p.get("Name"): p for p in entity_type.findall(f"{EDM}Property")}
        [key] = entity_type.findall(f"{EDM}Key/{EDM}PropertyRef")
        assert properties[key.get("Name")].get("Type") == "Edm.Guid"
        assert properties[key.get("Name")].get("Nullable") == "false"
        for prop in properties.values():
            assert prop.get("Type") in {t.value for t in ALLOWED_TYPES}
            assert prop.get("Nullable") in {"true", "false"}
            if prop.get("Type") == "Edm.String":
                assert int(prop.get("MaxLength") or 0) > 0
    cases = {
        p.get("Name"): p.get("Type") for p in schema.findall(f"{EDM}EntityType[@Name='Case']/{EDM}Property")
    }
    assert cases["CustomerId"] == "Edm.Guid"  # a foreign key Salesforce can build a lookup from
    service_document = (await odata.get("/")).json()
    assert {s["name"] for s in service_document["value"]} == {
        "Customers",
        "Identifiers",
        "Interactions",
        "Cases",
    }


async def test_a_client_library_pages_filters_selects_and_counts_customers(
    seeded: Seeded, odata_url: str, issuer: LocalIssuer
) -> None:
    client = await reflected(odata_url, issuer)
    customer = client.entities["Customers"]

    def read() -> tuple[list[Any], list[Any], int, Any]:
        query = client.query(customer).filter(customer.Email.contains(f"odata-{seeded.run}"))
        everything = query.all()  # no $top: the library follows @odata.nextLink
        selected = query.select(customer.Id, customer.Email).all()
        one = client.query(customer).get(next(iter(seeded.customers)))
        return everything, selected, query.count(), one

    everything, selected, count, one = await asyncio.to_thread(read)
    assert sorted(str(c.Id) for c in everything) == sorted(seeded.customers)
    assert count == 12
    assert {row["Email"] for row in selected} == {email.value for email in seeded.customers.values()}
    assert all(set(row) == {"Id", "Email"} for row in selected)
    first = next(iter(seeded.customers))
    assert str(one.Id) == first
    assert one.Email == seeded.customers[first].value
    assert one.NeedsRecovery is False


async def test_server_driven_paging_keeps_the_callers_top_and_ends_without_a_next_link(
    seeded: Seeded, odata: httpx.AsyncClient
) -> None:
    first = (
        await odata.get(
            "/Customers", params={"$filter": seeded_filter(seeded), "$top": "7", "$count": "true"}
        )
    ).json()
    assert first["@odata.count"] == 12
    assert len(first["value"]) == PAGE
    assert first["@odata.context"].endswith("/odata/v4/$metadata#Customers")
    second = (await odata.get(first["@odata.nextLink"])).json()
    assert len(second["value"]) == 2
    assert "@odata.nextLink" not in second
    ids = [row["Id"] for row in first["value"] + second["value"]]
    assert len(set(ids)) == 7
    assert set(ids) <= set(seeded.customers)
    skipped = (await odata.get("/Customers", params={"$filter": seeded_filter(seeded), "$skip": "10"})).json()
    assert len(skipped["value"]) == 2


async def test_filters_with_and_or_not_null_and_comparisons(seeded: Seeded, odata: httpx.AsyncClient) -> None:
    mine = seeded_filter(seeded)
    first_id = next(iter(seeded.customers))

    async def ids(expression: str, **extra: str) -> list[str]:
        response = await odata.get("/Customers", params={"$filter": expression, **extra})
        assert response.status_code == 200, response.text
        return [row["Id"] for row in response.json()["value"]]

    async def count(expression: str) -> int:
        response = await odata.get("/Customers/$count", params={"$filter": expression})
        assert response.status_code == 200, response.text
        return int(response.text)

    assert await ids(f"({mine}) and Phone eq '{seeded.phone.value}'") == [first_id]
    assert await ids(f"Phone eq '{seeded.phone.value}'") == [first_id]  # by the identifier's link
    assert await count(f"({mine}) and Phone eq null") == 11
    assert await count(f"({mine}) and not (Phone ne null)") == 11
    assert await ids(f"({mine}) and HistoricValue gt 1000") == [first_id]
    assert await count(f"({mine}) and (HistoricValue gt 1000 or NeedsRecovery eq false)") == 12
    assert await ids(f"({mine}) and Id eq {first_id}") == [first_id]
    assert await ids(f"({mine}) and Id in ({first_id}, {uuid.uuid4()})") == [first_id]
    assert await ids(f"startswith(Email,'odata-{seeded.run}-00') and endswith(Email,'@example.no')") == [
        first_id
    ]
    assert await count(f"({mine}) and LastSeen ge {AT.isoformat().replace('+00:00', 'Z')}") == 12
    by_email = {email.value: customer for customer, email in seeded.customers.items()}
    newest = await ids(mine, **{"$orderby": "LastSeen desc", "$top": "2"})
    assert newest == [by_email[f"odata-{seeded.run}-{n}@example.no"] for n in (11, 10)]
    assert await ids(f"({mine}) and contains(Name,'.*')") == []  # regex metacharacters are text
    everyone = (await odata.get("/Customers", params={"$search": f"odata-{seeded.run}-03"})).json()["value"]
    assert [row["Email"] for row in everyone] == [f"odata-{seeded.run}-03@example.no"]


async def test_cases_interactions_and_identifiers_of_a_customer(
    seeded: Seeded, odata: httpx.AsyncClient
) -> None:
    customer_id = next(iter(seeded.customers))
    by_customer = {"$filter": f"CustomerId eq {customer_id}"}
    cases = (await odata.get("/Cases", params=by_customer)).json()["value"]
    assert [(c["CustomerId"], c["Status"], c["Channel"]) for c in cases] == [(customer_id, "open", "email")]
    case = (await odata.get(f"/Cases({cases[0]['Id']})")).json()
    assert case["Id"] == cases[0]["Id"]
    assert case["@odata.context"].endswith("#Cases/$entity")
    interactions = (await odata.get("/Interactions", params=by_customer)).json()["value"]
    assert {i["Kind"] for i in interactions} == {"interaction", "order"}
    [contact] = [i for i in interactions if i["Kind"] == "interaction"]
    assert contact["CaseId"] == cases[0]["Id"]
    assert contact["Subject"] == "Pakke"
    assert contact["Direction"] == "inbound"
    identifiers = (await odata.get("/Identifiers", params=by_customer | {"$orderby": "Kind"})).json()["value"]
    assert [(i["Kind"], i["Value"]) for i in identifiers] == [
        ("email", seeded.customers[customer_id].value),
        ("phone", seeded.phone.value),
    ]
    again = (await odata.get(f"/Identifiers({identifiers[0]['Id']})")).json()
    assert again["Value"] == seeded.customers[customer_id].value
    open_cases = (
        await odata.get("/Cases", params={"$filter": f"CustomerId eq {customer_id} and Status eq 'closed'"})
    ).json()
    assert open_cases["value"] == []


async def test_a_merged_away_id_answers_with_the_survivor_and_an_erased_customer_is_gone(
    seeded: Seeded, service: ProfileService, odata: httpx.AsyncClient, odata_url: str, issuer: LocalIssuer
) -> None:
    first, second = list(seeded.customers)[:2]
    await service.handle_batch([interaction(seeded.customers[first], seeded.customers[second])])
    survivors = {(await odata.get(f"/Customers({cid})")).json()["Id"] for cid in (first, second)}
    assert len(survivors) == 1
    assert survivors <= {first, second}
    listed = await odata.get("/Customers/$count", params={"$filter": seeded_filter(seeded)})
    assert int(listed.text) == 11  # the merged-away customer is no row of its own
    [survivor] = survivors
    async with api_client(odata_url, issuer, ["customers:write"]) as writer:
        assert (await writer.post(f"/v1/customers/{survivor}:erase")).status_code == 200
    assert (await odata.get(f"/Customers({survivor})")).status_code == 404
    rest = (await odata.get("/Customers", params={"$filter": seeded_filter(seeded), "$count": "true"})).json()
    assert rest["@odata.count"] == 10
    assert (await odata.get("/Cases", params={"$filter": f"CustomerId eq {survivor}"})).json()["value"] == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"$filter": "(" * 300 + "Tier eq 'gold'" + ")" * 300}, 400),
        ({"$filter": "not " * 40 + "NeedsRecovery"}, 400),
        ({"$filter": " or ".join(["Tier eq 'gold'"] * 250)}, 400),
        ({"$filter": f"Name eq '{'x' * 600}'"}, 400),
        ({"$filter": "Name eq '" + "y" * 5000 + "'"}, 400),
        ({"$filter": "substringof('a',Name)"}, 400),
        ({"$filter": "tolower(Name) eq 'a'"}, 400),
        ({"$filter": "Nope eq 'a'"}, 400),
        ({"$filter": "Name eq Tier"}, 400),
        ({"$filter": "Name eq 1"}, 400),
        ({"$filter": "HistoricValue eq 'a'"}, 400),
        ({"$filter": "Id eq 'not-a-guid'"}, 400),
        ({"$filter": "NeedsRecovery gt true"}, 400),
        ({"$filter": "Name gt null"}, 400),
        ({"$filter": '{"$where": "sleep(1000)"}'}, 400),
        ({"$filter": "Name eq ''; db.dropDatabase()"}, 400),
        ({"$filter": "Tier eq 'gold' and"}, 400),
        ({"$filter": ""}, 400),
        ({"$expand": "Cases"}, 501),
        ({"$select": "Id,Password"}, 400),
        ({"$orderby": "Name sideways"}, 400),
        ({"$top": "-1"}, 400),
        ({"$top": "abc"}, 400),
        ({"$skiptoken": "o-5"}, 400),
        ({"$format": "xml"}, 406),
        ({"$search": "x" * 101}, 400),
    ],
)
async def test_hostile_or_unsupported_queries_get_an_odata_error_never_a_500(
    odata: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    response = await odata.get("/Customers", params=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    assert response.headers["OData-Version"] == "4.0"
    assert "x" * 50 not in error["message"]  # the literal is not echoed


async def test_count_takes_the_filter_once_and_ignores_what_shapes_a_page(
    seeded: Seeded, odata: httpx.AsyncClient
) -> None:
    mine = seeded_filter(seeded)
    shaped = await odata.get("/Customers/$count", params={"$filter": mine, "$top": "2", "$orderby": "Name"})
    assert shaped.text == "12"
    twice = await odata.get("/Customers/$count", params=[("$filter", mine), ("$filter", "Tier eq 'gold'")])
    assert twice.status_code == 400


async def test_unknown_sets_and_keys_are_404_or_400(odata: httpx.AsyncClient) -> None:
    assert (await odata.get("/Orders")).status_code == 404
    assert (await odata.get(f"/Customers({uuid.uuid4()})")).status_code == 404
    assert (await odata.get("/Customers(42)")).status_code == 400
    assert (await odata.get("/Customers(x)/Cases")).status_code == 404


async def test_api_keys_read_only_after_creation_rotate_and_revoke(
    seeded: Seeded, odata_url: str, issuer: LocalIssuer
) -> None:
    integration = f"dataverse-{uuid.uuid4().hex[:8]}"
    async with api_client(odata_url, issuer, ["admin:write", "admin:read"]) as admin:
        created = await admin.put(
            f"/v1/integrations/{integration}",
            json={
                "name": "Dataverse (test)",
                "crm": "dynamics",
                "frame_origins": ["https://org.crm4.dynamics.com"],
            },
        )
        assert created.status_code == 201
        key = (await admin.post(f"/v1/integrations/{integration}/api-keys")).json()
        stored = await admin.get(f"/v1/integrations/{integration}")
        assert key["api_key"] not in stored.text
        assert [k["key_id"] for k in stored.json()["api_keys"]] == [key["key_id"]]

        path = f"{odata_url}/odata/v4/Customers"
        params = {"$filter": seeded_filter(seeded), "$top": "1"}
        async with httpx.AsyncClient(timeout=30) as anonymous:
            as_header = await anonymous.get(path, params=params, headers={"X-Api-Key": key["api_key"]})
            as_parameter = await anonymous.get(path, params=params | {"api_key": key["api_key"]})
            assert (as_header.status_code, as_parameter.status_code) == (200, 200)
            assert len(as_parameter.json()["value"]) == 1
            # The key reads profiles and nothing else.
            write = await anonymous.post(
                f"{odata_url}/v1/customers/{next(iter(seeded.customers))}:erase",
                headers={"X-Api-Key": key["api_key"]},
            )
            assert write.status_code == 401
            forged = await anonymous.get(
                path, params=params, headers={"X-Api-Key": key["api_key"][:-2] + "zz"}
            )
            assert forged.status_code == 401
            assert forged.json()["error"]["code"] == "Unauthorized"
            nothing = await anonymous.get(path, params=params)
            assert nothing.status_code == 401
            assert "error" in nothing.json()

            rotated = (
                await admin.post(f"/v1/integrations/{integration}/api-keys/{key['key_id']}:rotate")
            ).json()
            assert rotated["replaces"]["expires_at"] is not None
            for text in (key["api_key"], rotated["api_key"]):  # both work during the overlap
                assert (
                    await anonymous.get(path, params=params, headers={"X-Api-Key": text})
                ).status_code == 200
            cut = await admin.post(
                f"/v1/integrations/{integration}/api-keys/{rotated['key_id']}:rotate",
                params={"overlap_hours": 0},
            )
            assert cut.status_code == 201
            assert (
                await anonymous.get(path, params=params, headers={"X-Api-Key": rotated["api_key"]})
            ).status_code == 401
            newest = cut.json()["api_key"]
            revoked = await admin.post(
                f"/v1/integrations/{integration}/api-keys/{cut.json()['key_id']}:revoke"
            )
            assert revoked.json()["revoked_at"] is not None
            assert (
                await anonymous.get(path, params=params, headers={"X-Api-Key": newest})
            ).status_code == 401
            # The first key is still inside its 24 h overlap.
            assert (
                await anonymous.get(path, params=params, headers={"X-Api-Key": key["api_key"]})
            ).status_code == 200

        bad_origin = await admin.put(
            f"/v1/integrations/{integration}",
            json={"name": "x", "crm": "dynamics", "frame_origins": ["https://evil.example/'; script-src *"]},
        )
        assert bad_origin.status_code == 422
        both = await admin.put(
            f"/v1/integrations/{integration}",
            json={
                "name": "x",
                "crm": "zendesk",
                "zendesk_shared_secret": "s" * 32,
                "zendesk_public_key": "-----BEGIN PUBLIC KEY-----" + "A" * 100,
            },
        )
        assert both.status_code == 422
        assert "s" * 32 not in both.text


@pytest.mark.parametrize(
    ("expression", "matching"),
    [
        ("Phone eq null", 11),
        ("Phone ne null and HistoricValue ge 1499.5", 1),
        ("not (HistoricValue lt 1000) or endswith(Email,'-07@example.no')", 2),
        ("LastSeen gt 2026-11-02T09:35:00Z and LastSeen le 2026-11-02T09:40:15.123Z", 6),
        ("Tier in ('standard', 'silver') and NeedsRecovery eq false and Name eq null", 12),
        ("contains(Email,'-1') or startswith(Phone,'+47')", 3),
        ("ConsentMarketing eq null and Language ne 'sv'", 12),
        ("Language eq 'sv' or Tier eq 'platinum'", 0),
    ],
)
async def test_a_key_narrowed_read_filters_like_the_database(
    seeded: Seeded, odata: httpx.AsyncClient, expression: str, matching: int
) -> None:
    """With ``Id eq`` the rest of the filter is applied to the one document read by its key: every
    customer must come out the same as when the database applies the whole filter."""
    mine = seeded_filter(seeded)
    by_database = await odata.get(
        "/Customers", params={"$filter": f"({mine}) and ({expression})", "$top": "100"}
    )
    assert by_database.status_code == 200, by_database.text
    expected: set[str] = set()
    while True:
        body = by_database.json()
        expected |= {row["Id"] for row in body["value"]}
        if "@odata.nextLink" not in body:
            break
        by_database = await odata.get(body["@odata.nextLink"])
    by_key = set()
    for customer in seeded.customers:
        response = await odata.get("/Customers", params={"$filter": f"Id eq {customer} and ({expression})"})
        by_key |= {row["Id"] for row in response.json()["value"]}
    assert by_key == expected
    assert len(expected) == matching


async def test_a_database_that_is_away_is_a_503_to_retry_not_a_500(
    infra: CommonSettings, issuer: LocalIssuer
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens here once the probe closes
    settings = ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=SecretStr(
            f"mongodb://127.0.0.1:{closed_port}/?directConnection=true&serverSelectionTimeoutMS=300"
        ),
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    with serve(app) as url:
        async with api_client(f"{url}/odata/v4", issuer, ["customers:read"]) as odata:
            response = await odata.get("/Customers", params={"$top": "1"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "ServiceUnavailable"


async def test_wide_reads_beyond_the_limit_wait_then_get_a_503_and_key_reads_never_do(
    seeded: Seeded, infra: CommonSettings, issuer: LocalIssuer
) -> None:
    settings = ProfileSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        odata_wide_reads=1,
        odata_wide_wait_seconds=0.001,
    )
    app = create_api(settings)
    set_token_verifier(app, issuer.verifier())
    wide = {"$filter": seeded_filter(seeded), "$count": "true"}
    by_key = {"$filter": f"Id eq {next(iter(seeded.customers))}"}
    with serve(app) as url:
        async with api_client(f"{url}/odata/v4", issuer, ["customers:read"]) as odata:
            answers = await asyncio.gather(
                *(odata.get("/Customers", params=wide) for _ in range(8)),
                *(odata.get("/Customers", params=by_key) for _ in range(4)),
            )
    wide_statuses = [answer.status_code for answer in answers[:8]]
    assert set(wide_statuses) == {200, 503}
    assert all(answer.json()["@odata.count"] == 12 for answer in answers[:8] if answer.status_code == 200)
    busy = next(answer for answer in answers[:8] if answer.status_code == 503)
    assert busy.headers["Retry-After"] == "2"
    assert busy.json()["error"]["code"] == "ServiceUnavailable"
    assert [answer.status_code for answer in answers[8:]] == [200] * 4
