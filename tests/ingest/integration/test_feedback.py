"""Survey answers end to end against the real broker and database: ``GET /v1/feedback/form`` and
``POST /v1/feedback`` over real HTTP, and the form in a real headless Chromium (Debian's, driven by
Playwright).

A survey (about a case, or about a delivered order) takes one answer: exactly one ``FeedbackReceived`` on
``feedback.v1``, keyed by the customer id, naming the case or the order, whose event id derives from the
survey id; a second answer is 409 and publishes nothing. Refused answers
(forged, altered or expired token, bad rating or comment, unknown fields) publish nothing and leave the
survey open. Neither the token nor the comment ever reaches a log.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect
from pydantic import SecretStr

from deploy.local import infra as local_infra
from deploy.local.config import StackConfig
from schemas.envelope import Event, Payload
from schemas.feedback import FeedbackReceived
from services.common.http.testing import LocalIssuer, serve
from services.common.kafka.admin import provision_topics
from services.common.settings import CommonSettings
from services.common.survey_tokens import DEVELOPMENT_SURVEY_SECRET, SurveyClaims, issue
from services.ingest.core.feedback import answer_event_id
from services.ingest.settings import IngestSettings
from tests.ingest.integration.conftest import ingest_app
from tests.ingest.integration.test_broker_outage import private_broker, restart  # noqa: F401
from tests.support.browser import watch
from tests.support.kafka import events_on

pytestmark = pytest.mark.integration

TOPIC = "feedback.v1"
FORM_PATH = "/v1/feedback/form"
ANSWER_PATH = "/v1/feedback"
OTHER_SECRET = "not-our-survey-secret-but-just-as-long-0123456789"
CANARY = "canary-5e1d private words"
HOSTILE_COMMENT = '</textarea><script>alert("pwned")</script><img src=x onerror=alert(1)> & "quotes" \'too\''


# -- surveys and tokens ---------------------------------------------------------------------------------


CASE_QUESTION = "How satisfied are you with how we handled your case?"
CASE_QUESTION_NB = "Hvor fornøyd er du med hvordan vi håndterte saken din?"
DELIVERY_QUESTION = "How satisfied are you with your delivery?"
DELIVERY_QUESTION_NB = "Hvor fornøyd er du med leveringen?"


def a_survey(*, expires_in: timedelta = timedelta(hours=72), about_an_order: bool = False) -> SurveyClaims:
    """A fresh survey about a case, or (``about_an_order``) about a delivered order."""
    run = uuid.uuid4().hex[:12]
    return SurveyClaims(
        survey_id=f"survey-{run}",
        case_id=None if about_an_order else f"case-{run}",
        customer_id=f"cust-{run}",
        expires_at=datetime.now(UTC) + expires_in,
        order_id=f"order-{run}" if about_an_order else None,
    )


def token_for(survey: SurveyClaims, secret: str = DEVELOPMENT_SURVEY_SECRET) -> str:
    return issue(survey, secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def altered(token: str) -> str:
    """The same token claiming another customer, its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cid"] = "cust-someone-else"
    return ".".join((header, _b64(json.dumps(claims).encode()), signature))


def answer(token: str, rating: Any = 4, comment: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"token": token, "rating": rating, **extra}
    if comment is not None:
        body["comment"] = comment
    return body


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != field}


# -- what landed -----------------------------------------------------------------------------------------


async def answers_on(settings: CommonSettings, survey_ids: set[str]) -> list[Event[Payload]]:
    """The answers to these surveys on feedback.v1, read until every one has shown up at least once (all
    were acknowledged before this is called, so a missing one is a failure, not a wait)."""
    found: list[Event[Payload]] = []
    for _ in range(3):
        events = await events_on(settings, TOPIC, wanted=1)
        found = [e for e in events if isinstance(e.data, FeedbackReceived) and e.data.survey_id in survey_ids]
        if {e.data.survey_id for e in found if isinstance(e.data, FeedbackReceived)} >= survey_ids:
            break
    return found


def feedback(event: Event[Payload]) -> FeedbackReceived:
    assert isinstance(event.data, FeedbackReceived)
    return event.data


# -- reading pages ---------------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every start tag of a page with its attributes (entities decoded, as a browser reads them)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(key) == value for key, value in wanted.items())
        ]


def assert_a_strict_page(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["style-src"].startswith("'sha256-")
    assert policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert "<script" not in response.text.lower()


# -- JSON answers ----------------------------------------------------------------------------------------


async def test_an_answer_is_published_once_keyed_by_customer_and_a_second_is_409(
    infra: CommonSettings, ingest_url: str
) -> None:
    survey = a_survey()
    token = token_for(survey)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        first = await client.post(ANSWER_PATH, json=answer(token, 2, "  Ventet altfor lenge.  "))
        second = await client.post(ANSWER_PATH, json=answer(token, 5, "Actually fine"))

    assert first.status_code == 202, first.text
    assert first.json() == {"event_id": answer_event_id(survey.survey_id)}
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    assert "already been answered" in second.json()["detail"]

    [event] = await answers_on(infra, {survey.survey_id})
    assert event.id == first.json()["event_id"]
    assert event.key == survey.customer_id
    assert event.type == "helhet.feedback.received.v1"
    assert event.source == "/ingest/feedback"
    published = feedback(event)
    assert published == FeedbackReceived(
        survey_id=survey.survey_id,
        case_id=survey.case_id,
        customer_id=survey.customer_id,
        rating=2,
        comment="Ventet altfor lenge.",
        occurred_at=published.occurred_at,
    )
    assert published.negative
    assert abs(published.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_an_answer_about_a_delivery_is_published_naming_the_order_and_no_case(
    infra: CommonSettings, ingest_url: str
) -> None:
    survey = a_survey(about_an_order=True)
    token = token_for(survey)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        first = await client.post(ANSWER_PATH, json=answer(token, 1, "Pakken kom aldri."))
        second = await client.post(ANSWER_PATH, json=answer(token, 5))

    assert first.status_code == 202, first.text
    assert first.json() == {"event_id": answer_event_id(survey.survey_id)}
    assert second.status_code == 409

    [event] = await answers_on(infra, {survey.survey_id})
    assert (event.id, event.key, event.type) == (
        first.json()["event_id"],
        survey.customer_id,
        "helhet.feedback.received.v1",
    )
    published = feedback(event)
    assert published == FeedbackReceived(
        survey_id=survey.survey_id,
        order_id=survey.order_id,
        customer_id=survey.customer_id,
        rating=1,
        comment="Pakken kom aldri.",
        occurred_at=published.occurred_at,
    )
    assert published.case_id is None
    assert published.order_id is not None


async def test_one_answer_per_survey_holds_across_a_restart(
    infra: CommonSettings, issuer: LocalIssuer
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers, mongodb_uri=infra.mongodb_uri
    )
    survey = a_survey()
    statuses = []
    for rating in (5, 4):  # a fresh app each time: the claim lives in the database, not in memory
        with serve(ingest_app(settings, issuer)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                response = await client.post(ANSWER_PATH, json=answer(token_for(survey), rating))
            statuses.append(response.status_code)
    assert statuses == [202, 409]
    assert [feedback(e).rating for e in await answers_on(infra, {survey.survey_id})] == [5]


@dataclass(frozen=True)
class Refusal:
    body: Callable[[SurveyClaims], dict[str, Any]]
    status: int


REFUSALS = {
    "forged": Refusal(lambda s: answer(token_for(s, OTHER_SECRET)), 401),
    "altered": Refusal(lambda s: answer(altered(token_for(s))), 401),
    "not-a-token": Refusal(lambda s: answer("eyJhbGciOiJub25lIn0.e30."), 401),
    "token-too-long": Refusal(lambda s: answer("a" * 4000), 401),
    "expired": Refusal(lambda s: answer(token_for(replace(s, expires_at=datetime.now(UTC)))), 410),
    "rating-0": Refusal(lambda s: answer(token_for(s), 0), 422),
    "rating-6": Refusal(lambda s: answer(token_for(s), 6), 422),
    "rating-missing": Refusal(lambda s: without(answer(token_for(s)), "rating"), 422),
    "rating-as-text": Refusal(lambda s: answer(token_for(s), "5"), 422),
    "rating-fraction": Refusal(lambda s: answer(token_for(s), 4.5), 422),
    "rating-bool": Refusal(lambda s: answer(token_for(s), True), 422),
    "comment-too-long": Refusal(lambda s: answer(token_for(s), 4, CANARY + "x" * 2000), 422),
    "comment-not-text": Refusal(lambda s: answer(token_for(s), 4, {"$gt": ""}), 422),
    "unknown-field": Refusal(lambda s: answer(token_for(s), 4, sneaky=CANARY), 422),
    "token-missing": Refusal(lambda s: without(answer(token_for(s)), "token"), 422),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_refused_answer_is_a_clear_problem_and_leaves_the_survey_open(
    ingest_url: str, case: str
) -> None:
    survey = a_survey()
    body = REFUSALS[case].body(survey)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        refused = await client.post(ANSWER_PATH, json=body)
        then = await client.post(ANSWER_PATH, json=answer(token_for(survey), 3))

    assert refused.status_code == REFUSALS[case].status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert CANARY not in refused.text
    assert str(body.get("token")) not in refused.text
    if case == "unknown-field":
        assert refused.json()["errors"] == [{"loc": ["body", "sneaky"], "type": "extra_forbidden"}]
    assert then.status_code == 202, then.text  # nothing was claimed by the refused answer


async def test_refused_answers_publish_nothing(infra: CommonSettings, ingest_url: str) -> None:
    surveys = {case: a_survey() for case in REFUSALS}
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        for case, survey in surveys.items():
            response = await client.post(ANSWER_PATH, json=REFUSALS[case].body(survey))
            assert response.status_code == REFUSALS[case].status, case
        sentinel = a_survey()
        accepted = await client.post(ANSWER_PATH, json=answer(token_for(sentinel), 5))
    assert accepted.status_code == 202

    ids = {survey.survey_id for survey in surveys.values()}
    landed = await answers_on(infra, ids | {sentinel.survey_id})
    assert [feedback(e).survey_id for e in landed] == [sentinel.survey_id]


async def test_the_body_must_be_json_or_a_form_and_not_too_large(ingest_url: str) -> None:
    token = token_for(a_survey())
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        as_text = await client.post(ANSWER_PATH, content=b"rating=5", headers={"Content-Type": "text/plain"})
        broken = await client.post(ANSWER_PATH, content=b"{", headers={"Content-Type": "application/json"})
        huge = await client.post(ANSWER_PATH, json=answer(token, 4, "x" * (17 * 1024 * 1024)))
        with_charset = await client.post(
            ANSWER_PATH,
            content=json.dumps(answer(token, 4)).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert as_text.status_code == 415
    assert broken.status_code == 422
    assert huge.status_code == 413
    assert with_charset.status_code == 202


# -- the form --------------------------------------------------------------------------------------------


async def test_the_form_page_is_self_contained_bilingual_and_accessible(ingest_url: str) -> None:
    survey = a_survey()
    token = token_for(survey)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        response = await client.get(FORM_PATH, params={"t": token})

    assert response.status_code == 200
    assert_a_strict_page(response)
    page = Elements(response.text)
    assert page.all("html", lang="nb")
    assert CASE_QUESTION in response.text
    assert CASE_QUESTION_NB in response.text
    assert DELIVERY_QUESTION not in response.text
    [form] = page.all("form")
    assert (form["method"], form["action"]) == ("post", "../feedback")
    assert page.all("input", type="hidden", name="token", value=token)
    radios = page.all("input", type="radio", name="rating")
    assert [r["value"] for r in radios] == ["1", "2", "3", "4", "5"]
    assert all("required" in r for r in radios)
    assert page.all("fieldset")
    assert page.all("legend")
    assert page.all("textarea", name="comment", maxlength="2000", id="comment")
    assert page.all("label", **{"for": "comment"})


async def test_the_form_for_a_delivery_asks_about_the_delivery_and_keeps_asking_when_sent_back(
    ingest_url: str,
) -> None:
    token = token_for(a_survey(about_an_order=True))
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        form = await client.get(FORM_PATH, params={"t": token})
        no_rating = await client.post(ANSWER_PATH, data={"token": token, "comment": "Hm"})

    for response, status in ((form, 200), (no_rating, 422)):
        assert response.status_code == status, response.text
        assert_a_strict_page(response)
        assert DELIVERY_QUESTION in response.text
        assert DELIVERY_QUESTION_NB in response.text
        assert CASE_QUESTION not in response.text
        assert CASE_QUESTION_NB not in response.text
        page = Elements(response.text)
        assert page.all("input", type="hidden", name="token", value=token)
        assert len(page.all("input", type="radio", name="rating")) == 5
    assert "Please choose a number from 1 to 5." in no_rating.text


@pytest.mark.parametrize(
    ("query", "status", "heading"),
    [
        ({}, 400, "Lenken virker ikke"),
        ({"t": "eyJ.broken"}, 400, "Lenken virker ikke"),
        ({"t": "forged"}, 400, "This link does not work"),
        ({"t": "expired"}, 410, "This survey has closed"),
        ({"t": "<script>alert(1)</script>"}, 400, "Lenken virker ikke"),
    ],
)
async def test_a_broken_or_expired_link_gets_a_friendly_page(
    ingest_url: str, query: dict[str, str], status: int, heading: str
) -> None:
    survey = a_survey()
    tokens = {
        "forged": token_for(survey, OTHER_SECRET),
        "expired": token_for(replace(survey, expires_at=datetime.now(UTC) - timedelta(seconds=1))),
    }
    params = {name: tokens.get(value, value) for name, value in query.items()}
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        response = await client.get(FORM_PATH, params=params)

    assert response.status_code == status
    assert_a_strict_page(response)
    assert heading in response.text
    assert "<form" not in response.text
    assert all(value not in response.text for value in params.values())


async def test_a_form_answer_gets_a_thank_you_page_with_the_comment_escaped(
    infra: CommonSettings, ingest_url: str
) -> None:
    survey = a_survey()
    token = token_for(survey)
    form = {"token": token, "rating": "5", "comment": HOSTILE_COMMENT}
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        thanks = await client.post(ANSWER_PATH, data=form)
        again = await client.post(ANSWER_PATH, data={**form, "rating": "1"})

    assert thanks.status_code == 200, thanks.text
    assert_a_strict_page(thanks)
    assert "Takk for svaret!" in thanks.text
    assert "Thank you for your answer!" in thanks.text
    assert "&lt;/textarea&gt;&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;img" in thanks.text
    assert "<img" not in thanks.text
    assert token not in thanks.text
    assert again.status_code == 409
    assert_a_strict_page(again)
    assert "You have already answered" in again.text

    [event] = await answers_on(infra, {survey.survey_id})
    assert (event.key, feedback(event).rating, feedback(event).comment) == (
        survey.customer_id,
        5,
        HOSTILE_COMMENT,
    )


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"rating": None}, 422, "Please choose a number from 1 to 5."),
        ({"rating": ""}, 422, "Please choose a number from 1 to 5."),
        ({"rating": "7"}, 422, "Please choose a number from 1 to 5."),
        ({"rating": "\u0663"}, 422, "Please choose a number from 1 to 5."),  # an Arabic-Indic three
        ({"comment": "x" * 2001}, 422, "The comment is too long"),
        ({"token": "forged"}, 400, "This link does not work"),
        ({"token": None}, 400, "This link does not work"),
        ({"token": "expired"}, 410, "This survey has closed"),
    ],
)
async def test_a_form_answer_that_cannot_be_taken_says_why_in_a_page(
    ingest_url: str, fields: dict[str, str | None], status: int, says: str
) -> None:
    survey = a_survey()
    tokens = {
        "forged": token_for(survey, OTHER_SECRET),
        "expired": token_for(replace(survey, expires_at=datetime.now(UTC) - timedelta(seconds=1))),
    }
    form = {"token": token_for(survey), "rating": "4", "comment": HOSTILE_COMMENT}
    for name, value in fields.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = tokens.get(value, value)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        refused = await client.post(ANSWER_PATH, data=form)
        then = await client.post(ANSWER_PATH, data={"token": token_for(survey), "rating": "3"})

    assert refused.status_code == status
    assert_a_strict_page(refused)
    assert says in refused.text
    assert "<img" not in refused.text
    if status == 422:  # the form again, as it was filled in, posting to the same place
        page = Elements(refused.text)
        [action] = [f["action"] for f in page.all("form")]
        assert action == "feedback"
        assert page.all("input", type="hidden", name="token", value=form["token"])
        assert "&lt;/textarea&gt;&lt;script&gt;" in refused.text or "comment" in fields
    assert then.status_code == 200


async def test_a_form_answer_twice_in_one_body_is_refused(ingest_url: str) -> None:
    token = token_for(a_survey())
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        twice = await client.post(
            ANSWER_PATH,
            content=f"token={token}&rating=1&rating=5".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        not_utf8 = await client.post(
            ANSWER_PATH,
            content=f"token={token}&rating=5&comment=bl%E5b%E6r".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert twice.status_code == 400
    assert not_utf8.status_code == 400


# -- nothing personal in logs ----------------------------------------------------------------------------


def what_the_service_logs(record: logging.LogRecord) -> bool:
    """Everything the service (served in this process) logs at DEBUG and up, except: the test's own HTTP
    client (it logs the URLs it requests), and aiokafka below INFO. aiokafka's DEBUG lines carry every
    message's key and value, any service's and any event's alike; the services log at INFO."""
    if record.name.startswith(("httpx", "httpcore")):
        return False
    return not (record.name.startswith("aiokafka") and record.levelno < logging.INFO)


async def test_neither_the_token_nor_the_comment_reaches_a_log(
    ingest_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    survey = a_survey()
    token = token_for(survey)
    forged = token_for(a_survey(), OTHER_SECRET)
    comment = f"{CANARY} {HOSTILE_COMMENT}"
    async with httpx.AsyncClient(base_url=ingest_url, timeout=30) as client:
        statuses = [
            (await client.get(FORM_PATH, params={"t": token})).status_code,
            (await client.post(ANSWER_PATH, json=answer(forged, 3, comment))).status_code,
            (await client.post(ANSWER_PATH, json=answer(token, 9, comment))).status_code,
            (await client.post(ANSWER_PATH, data={"token": token, "comment": comment})).status_code,
            (await client.post(ANSWER_PATH, json=answer(token, 4, comment, sneaky=comment))).status_code,
            (await client.post(ANSWER_PATH, json=answer(token, 4, comment))).status_code,
            (
                await client.post(ANSWER_PATH, data={"token": token, "rating": "2", "comment": comment})
            ).status_code,
        ]
    assert statuses == [200, 401, 422, 422, 422, 202, 409]

    served = [record for record in caplog.records if what_the_service_logs(record)]
    assert served, "nothing was captured: the check below would prove nothing"
    for record in served:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        for secret in (token, forged, CANARY, "pwned"):
            assert secret not in text, record.name


# -- broker down -----------------------------------------------------------------------------------------


async def test_broker_down_is_503_and_the_survey_can_be_answered_once_it_is_back(
    infra: CommonSettings,
    private_broker: StackConfig,  # noqa: F811
    issuer: LocalIssuer,
) -> None:
    settings = IngestSettings(
        kafka_bootstrap_servers=private_broker.kafka_bootstrap,
        mongodb_uri=infra.mongodb_uri,
        kafka_publish_timeout_ms=2_000,
    )
    provision_topics(settings)
    survey = a_survey()
    token = token_for(survey)
    with serve(ingest_app(settings, issuer)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            local_infra.stop_component(private_broker, local_infra.KAFKA_COMPONENT)
            as_json = await client.post(ANSWER_PATH, json=answer(token, 1, CANARY))
            as_form = await client.post(ANSWER_PATH, data={"token": token, "rating": "1", "comment": CANARY})
            restart(private_broker)
            retried = await client.post(ANSWER_PATH, json=answer(token, 1, CANARY))

    assert as_json.status_code == 503
    assert as_json.headers["retry-after"]
    assert as_json.headers["content-type"].startswith("application/problem+json")
    assert as_form.status_code == 503
    assert as_form.headers["retry-after"]
    assert "Please try again in a moment." in as_form.text
    [kept] = [radio for radio in Elements(as_form.text).all("input", type="radio") if "checked" in radio]
    assert kept["value"] == "1"
    assert retried.status_code == 202, retried.text
    [event] = await answers_on(settings, {survey.survey_id})
    assert event.id == retried.json()["event_id"]


# -- a real browser --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("about_an_order", "question"), [(False, CASE_QUESTION), (True, DELIVERY_QUESTION)], ids=["case", "order"]
)
async def test_a_customer_answers_in_a_real_browser(
    infra: CommonSettings, ingest_url: str, browser: Browser, about_an_order: bool, question: str
) -> None:
    survey = a_survey(about_an_order=about_an_order)
    comment = "Hyggelig og rask hjelp <b>takk</b>\nSiste linje"
    context = await browser.new_context(locale="nb-NO")
    try:
        page = await context.new_page()
        problems = watch(page)
        await page.goto(f"{ingest_url}{FORM_PATH}?t={token_for(survey)}")

        group = page.get_by_role("group", name=question)
        await expect(group).to_be_visible()
        await expect(group.get_by_role("radio")).to_have_count(5)
        send = page.get_by_role("button", name="Send svar")
        await send.click()  # no rating yet: the browser keeps the customer on the form
        await expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()

        await group.get_by_role("radio", name="4 Fornøyd Satisfied").check()
        await expect(page.locator('input[name="rating"][value="4"]')).to_be_checked()
        await page.get_by_label("Comment (optional)", exact=False).fill(comment)
        await send.click()

        await expect(page.get_by_role("heading", name="Takk for svaret!")).to_be_visible()
        await expect(page.get_by_text("You gave us 4 out of 5.")).to_be_visible()
        await expect(page.locator("#comment")).to_have_text(comment)
        assert page.url == f"{ingest_url}{ANSWER_PATH}"
        assert problems == []
    finally:
        await context.close()

    [event] = await answers_on(infra, {survey.survey_id})
    assert (event.key, feedback(event).rating, feedback(event).comment) == (survey.customer_id, 4, comment)
    assert (feedback(event).case_id, feedback(event).order_id) == (survey.case_id, survey.order_id)


def test_the_survey_secret_must_be_set_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    channels = {
        "twilio_auth_token": SecretStr("t"),
        "meta_app_secret": SecretStr("s"),
        "meta_verify_token": SecretStr("v"),
    }
    with pytest.raises(ValueError, match="HELHET_SURVEY_SECRET") as caught:
        IngestSettings(environment="production", **channels)  # type: ignore[arg-type]
    assert "HELHET_TWILIO_AUTH_TOKEN" not in str(caught.value)
    given = IngestSettings(environment="production", survey_secret=SecretStr("prod-survey"), **channels)  # type: ignore[arg-type]
    assert given.survey_secret.get_secret_value() == "prod-survey"
    assert IngestSettings(environment="test").survey_secret.get_secret_value() == DEVELOPMENT_SURVEY_SECRET
    monkeypatch.setenv("HELHET_SURVEY_SECRET", "from-the-environment")
    assert IngestSettings().survey_secret.get_secret_value() == "from-the-environment"
