"""The survey link's token: what it names, and what it refuses."""

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
CLAIMS = SurveyClaims("survey-1", "case-1", "customer-1", NOW + timedelta(days=14))


def test_a_token_names_its_survey_case_and_customer_until_it_expires() -> None:
    assert verify(issue(CLAIMS, SECRET), SECRET, NOW) == CLAIMS


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


def test_an_expired_token_is_refused() -> None:
    with pytest.raises(InvalidSurveyTokenError, match="expired"):
        verify(issue(CLAIMS, SECRET), SECRET, CLAIMS.expires_at)
