"""Survey links: the survey page (ingest's, or the company's own) with a signed token naming the survey,
the case and the customer (``services.common.survey_tokens``), so the answer comes back attributed
without the customer logging in and nobody can rate someone else's case."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from services.common.survey_tokens import SurveyClaims, issue


class SignedSurveyLinks:
    def __init__(self, base_url: str, secret: str) -> None:
        self._base_url = base_url
        self._secret = secret

    def link(
        self,
        *,
        survey_id: str,
        case_id: str | None,
        customer_id: str,
        expires_at: datetime,
        order_id: str | None = None,
    ) -> str:
        claims = SurveyClaims(survey_id, case_id, customer_id, expires_at, order_id=order_id)
        token = issue(claims, self._secret)
        separator = "&" if "?" in self._base_url else "?"
        return f"{self._base_url}{separator}{urlencode({'t': token})}"
