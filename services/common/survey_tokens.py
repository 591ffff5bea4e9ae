"""The signed token a survey link carries: which survey, customer and case (or delivered order) it asks
about, until when.
Notify issues it; ingest verifies it when the answer comes back, so nobody rates someone else's case and
an answer names its case without the customer logging in. HMAC-SHA256 (JWT HS256) with a secret both
share; no personal data inside (ids only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

AUDIENCE = "helhet-survey"
ISSUER = "helhet-notify"
# Public knowledge: only ever accepted where HELHET_ENVIRONMENT is unset, development or test.
DEVELOPMENT_SURVEY_SECRET = "helhet-dev-survey-secret-0123456789abcdef"  # noqa: S105 - documented dev default
_ALGORITHM = "HS256"
_MAX_TOKEN_CHARS = 2048


class InvalidSurveyTokenError(Exception):
    """Forged, altered, expired or not a survey token; the reason names which, never the token."""


@dataclass(frozen=True)
class SurveyClaims:
    survey_id: str
    case_id: str | None  # the case a resolution survey asks about, or
    customer_id: str
    expires_at: datetime
    order_id: str | None = None  # the order a delivery survey asks about

    def __post_init__(self) -> None:
        if (self.case_id is None) == (self.order_id is None):
            raise ValueError("a survey asks about a case or an order")


def issue(claims: SurveyClaims, secret: str) -> str:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": claims.case_id if claims.case_id is not None else f"order:{claims.order_id}",
        "cid": claims.customer_id,
        "sid": claims.survey_id,
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def verify(token: str, secret: str, now: datetime) -> SurveyClaims:
    if len(token) > _MAX_TOKEN_CHARS:
        raise InvalidSurveyTokenError("too long")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as error:
        raise InvalidSurveyTokenError(type(error).__name__) from None
    expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
    if now >= expires_at:
        raise InvalidSurveyTokenError("expired")
    names = ("sid", "sub", "cid")
    if not all(isinstance(payload.get(name), str) and payload[name] for name in names):
        raise InvalidSurveyTokenError("missing claims")
    subject: str = payload["sub"]
    order = subject.removeprefix("order:") if subject.startswith("order:") else None
    case = None if order is not None else subject
    if order == "":
        raise InvalidSurveyTokenError("missing claims")
    return SurveyClaims(payload["sid"], case, payload["cid"], expires_at, order_id=order)
