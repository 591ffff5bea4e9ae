"""Survey answers through the service layer against fakes: the token decides, one answer per survey, the
claim is given back when the broker fails, and nothing is claimed or published for a refused answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from services.common.survey_tokens import DEVELOPMENT_SURVEY_SECRET, SurveyClaims, issue
from services.ingest.core.errors import InvalidInputError
from services.ingest.core.feedback import (
    FEEDBACK_SOURCE,
    Subject,
    answer_dedupe_key,
    answer_event_id,
    normalise_comment,
)
from services.ingest.indexes import DEDUPE_WINDOW_SECONDS
from services.ingest.ports import ClaimState, PublishFailedError
from services.ingest.service import (
    Answer,
    BrokerUnavailableError,
    FeedbackService,
    SurveyTokenRejectedError,
)
from services.notify.core.followup import DEFAULT_FOLLOW_UP_RULES
from tests.ingest.unit.test_intake_service import FakeDedupe

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = DEVELOPMENT_SURVEY_SECRET
OTHER_SECRET = "someone-elses-survey-secret-0123456789abcdef"


class FakeFeedbackPublisher:
    def __init__(self) -> None:
        self.published: list[Event[FeedbackReceived]] = []
        self.down = False

    async def publish_feedback(self, event: Event[FeedbackReceived]) -> None:
        if self.down:
            raise PublishFailedError("KafkaTimeoutError")
        self.published.append(event)


Parts = tuple[FeedbackService, FakeDedupe, FakeFeedbackPublisher]


@pytest.fixture
def parts() -> Parts:
    dedupe, publisher = FakeDedupe(), FakeFeedbackPublisher()
    return FeedbackService(dedupe, publisher, lambda: NOW, secret=SECRET), dedupe, publisher


def a_token(
    survey_id: str = "survey-1",
    *,
    customer_id: str = "cust-1",
    expires_at: datetime = NOW + timedelta(hours=72),
    secret: str = SECRET,
    order_id: str | None = None,
) -> str:
    """A survey link's token: about case-1, or (``order_id``) about that delivered order instead."""
    claims = SurveyClaims(
        survey_id=survey_id,
        case_id="case-1" if order_id is None else None,
        customer_id=customer_id,
        expires_at=expires_at,
        order_id=order_id,
    )
    return issue(claims, secret)


async def test_an_answer_becomes_one_event_keyed_by_customer_with_a_derived_id(parts: Parts) -> None:
    service, dedupe, publisher = parts

    outcome = await service.answer(Answer(a_token(), 4, "Raskt og greit"))

    assert outcome.state is ClaimState.NEW
    assert outcome.event_id == answer_event_id("survey-1") == str(uuid.UUID(outcome.event_id))
    [event] = publisher.published
    assert (event.id, event.key, event.source) == (outcome.event_id, "cust-1", FEEDBACK_SOURCE)
    assert event.type == "helhet.feedback.received.v1"
    assert event.data == FeedbackReceived(
        survey_id="survey-1",
        case_id="case-1",
        customer_id="cust-1",
        rating=4,
        comment="Raskt og greit",
        occurred_at=NOW,
    )
    assert dedupe.rows[answer_dedupe_key("survey-1")] == (outcome.event_id, "published")


async def test_an_answer_about_a_delivery_names_its_order_and_no_case(parts: Parts) -> None:
    service, dedupe, publisher = parts

    outcome = await service.answer(Answer(a_token("survey-2", order_id="order-7"), 1, "Pakken kom aldri"))

    assert outcome.state is ClaimState.NEW
    [event] = publisher.published
    assert (event.id, event.key, event.source) == (answer_event_id("survey-2"), "cust-1", FEEDBACK_SOURCE)
    assert event.data == FeedbackReceived(
        survey_id="survey-2",
        order_id="order-7",
        customer_id="cust-1",
        rating=1,
        comment="Pakken kom aldri",
        occurred_at=NOW,
    )
    assert event.data.case_id is None
    assert dedupe.rows[answer_dedupe_key("survey-2")] == (outcome.event_id, "published")


async def test_a_delivery_survey_takes_one_answer_too(parts: Parts) -> None:
    service, _, publisher = parts
    token = a_token("survey-2", order_id="order-7")
    first = await service.answer(Answer(token, 5))

    again = await service.answer(Answer(token, 1))

    assert (again.state, again.event_id) == (ClaimState.PUBLISHED, first.event_id)
    assert [e.data.rating for e in publisher.published] == [5]


async def test_a_survey_takes_one_answer(parts: Parts) -> None:
    service, _, publisher = parts
    first = await service.answer(Answer(a_token(), 5))

    again = await service.answer(Answer(a_token(), 1, "changed my mind"))

    assert again.state is ClaimState.PUBLISHED
    assert again.event_id == first.event_id
    assert [e.data.rating for e in publisher.published] == [5]


async def test_an_answer_being_published_elsewhere_is_in_flight_and_not_published_twice(
    parts: Parts,
) -> None:
    service, dedupe, publisher = parts
    dedupe.rows[answer_dedupe_key("survey-1")] = (answer_event_id("survey-1"), "pending")

    outcome = await service.answer(Answer(a_token(), 3))

    assert outcome.state is ClaimState.IN_FLIGHT
    assert publisher.published == []


async def test_broker_down_gives_the_claim_back_so_the_customer_can_answer_again(parts: Parts) -> None:
    service, _, publisher = parts
    publisher.down = True
    with pytest.raises(BrokerUnavailableError):
        await service.answer(Answer(a_token(), 2))
    publisher.down = False

    outcome = await service.answer(Answer(a_token(), 2))

    assert outcome.state is ClaimState.NEW
    assert [e.id for e in publisher.published] == [answer_event_id("survey-1")]


@pytest.mark.parametrize(
    ("token", "expired"),
    [
        (a_token(secret=OTHER_SECRET), False),
        (a_token()[:-3] + "AAA", False),
        ("not.a.token", False),
        ("", False),
        (a_token(expires_at=NOW), True),
        (a_token(customer_id="c" * 101), False),  # signed, but its ids do not fit the contract
        (a_token(order_id="o" * 101), False),
    ],
    ids=["forged", "altered", "garbage", "empty", "expired", "oversized-claims", "oversized-order"],
)
async def test_a_refused_token_claims_and_publishes_nothing(parts: Parts, token: str, expired: bool) -> None:
    service, dedupe, publisher = parts

    with pytest.raises(SurveyTokenRejectedError) as refused:
        await service.answer(Answer(token, 5))

    assert refused.value.expired is expired
    assert token not in str(refused.value) or not token
    assert dedupe.rows == {}
    assert publisher.published == []


async def test_check_accepts_an_open_survey_and_refuses_an_expired_one(parts: Parts) -> None:
    service, _, _ = parts
    assert service.check(a_token()) is Subject.CASE
    assert service.check(a_token(order_id="order-7")) is Subject.ORDER
    with pytest.raises(SurveyTokenRejectedError) as refused:
        service.check(a_token(expires_at=NOW - timedelta(seconds=1)))
    assert refused.value.expired


@pytest.mark.parametrize(
    ("rating", "comment", "field"),
    [(0, None, "rating"), (6, None, "rating"), (-1, None, "rating"), (5, "x" * 2001, "comment")],
)
async def test_a_bad_rating_or_comment_claims_nothing(
    parts: Parts, rating: int, comment: str | None, field: str
) -> None:
    service, dedupe, publisher = parts

    with pytest.raises(InvalidInputError) as refused:
        await service.answer(Answer(a_token(), rating, comment))

    assert refused.value.field == field
    assert "xxx" not in str(refused.value)
    assert (dedupe.rows, publisher.published) == ({}, [])


def test_a_comment_counts_a_line_break_once_and_whitespace_is_no_comment() -> None:
    assert normalise_comment("a\r\nb\rc\n") == "a\nb\nc\n"
    assert normalise_comment(" \r\n\t") is None
    assert normalise_comment(None) is None


async def test_a_comment_of_2000_characters_with_browser_line_breaks_fits(parts: Parts) -> None:
    service, _, publisher = parts
    comment = ("x" * 98 + "\r\n") * 20  # 2000 characters as the textarea counts them, 2020 as sent

    await service.answer(Answer(a_token(), 4, comment))

    assert len(publisher.published[0].data.comment or "") <= 2000


def test_the_answer_keeps_the_token_and_comment_out_of_its_repr() -> None:
    answer = Answer("secret-token", 3, "my private comment")
    assert "secret-token" not in repr(answer)
    assert "private" not in repr(answer)


def test_a_survey_link_expires_before_its_answer_is_forgotten() -> None:
    """One answer per survey rests on the claim outliving the link: the claim expires the dedupe window
    after the answer, the link ``answer_within`` after it was sent (always earlier)."""
    assert DEFAULT_FOLLOW_UP_RULES.answer_within <= timedelta(seconds=DEDUPE_WINDOW_SECONDS)
