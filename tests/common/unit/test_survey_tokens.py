"""The survey link's token: what it names (a case or a delivered order), and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.common.survey_tokens import (
    InvalidSurveyTokenError,
    SurveyClaims,
    issue,
    verify,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "a-secret-long-enough-for-hs256-0123456789"
CLAIMS = SurveyClaims(
    survey_id="survey-1", case_id="case-1", customer_id="customer-1", expires_at=NOW + timedelta(days=14)
)
ORDER_CLAIMS = SurveyClaims(
    survey_id="survey-2",
    case_id=None,
    customer_id="customer-1",
    expires_at=NOW + timedelta(days=14),
    order_id="order-1",
)


def test_a_token_names_its_survey_case_and_customer_until_it_expires() -> None:
    assert verify(issue(CLAIMS, SECRET), SECRET, NOW) == CLAIMS
    assert CLAIMS.order_id is None


def test_a_delivery_survey_token_names_its_order_and_no_case() -> None:
    verified = verify(issue(ORDER_CLAIMS, SECRET), SECRET, NOW)
    assert verified == ORDER_CLAIMS
    assert (verified.case_id, verified.order_id) == (None, "order-1")


@pytest.mark.parametrize(
    ("case_id", "order_id"), [("case-1", "order-1"), (None, None)], ids=["both", "neither"]
)
def test_a_survey_asks_about_a_case_or_an_order_never_both_or_neither(
    case_id: str | None, order_id: str | None
) -> None:
    with pytest.raises(ValueError, match="a case or an order"):
        SurveyClaims(
            survey_id="survey-1",
            case_id=case_id,
            customer_id="customer-1",
            expires_at=NOW + timedelta(days=14),
            order_id=order_id,
        )


def test_nothing_personal_is_inside() -> None:
    payload = jwt.decode(issue(CLAIMS, SECRET), options={"verify_signature": False})
    assert set(payload) == {"iss", "aud", "sub", "cid", "sid", "exp"}


@pytest.mark.parametrize(
    "token",
    [
        issue(CLAIMS, "another-secret-long-enough-0123456789abc"),  # forged
        issue(CLAIMS, SECRET)[:-3] + "AAA",  # altered
        jwt.encode({"sub": "case-1", "exp": 2_000_000_000}, SECRET, algorithm="HS256"),  # not a survey's
        jwt.encode({"iss": "x", "aud": "helhet-survey", "sub": "c", "exp": 2_000_000_000}, SECRET),
        "not a token",
        "x" * 5000,
    ],
)
def test_what_is_not_a_valid_survey_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidSurveyTokenError):
        verify(token, SECRET, NOW)


def test_an_order_survey_token_without_an_order_id_is_refused() -> None:
    payload = {
        "iss": "helhet-notify",
        "aud": "helhet-survey",
        "sub": "order:",
        "cid": "customer-1",
        "sid": "survey-1",
        "exp": 2_000_000_000,
    }
    with pytest.raises(InvalidSurveyTokenError, match="missing claims"):
        verify(jwt.encode(payload, SECRET, algorithm="HS256"), SECRET, NOW)


def test_an_expired_token_is_refused() -> None:
    with pytest.raises(InvalidSurveyTokenError, match="expired"):
        verify(issue(CLAIMS, SECRET), SECRET, CLAIMS.expires_at)
