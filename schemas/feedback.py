"""``FeedbackReceived`` on ``feedback.v1``: a customer's answer to a satisfaction survey, taken by ingest
from the survey link notify sent (its signed token names the customer and the case, or the delivered
order, asked about), keyed by customer id. Profile records it (timeline, experience ledger; a negative
answer reopens the case, or opens one about the order) and notify tells the customer it was heard."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from schemas.envelope import Payload, UtcDatetime

# Ratings at or below this are negative: the case reopens and someone follows up.
NEGATIVE_AT_MOST = 2


class FeedbackReceived(Payload):
    survey_id: str = Field(min_length=1, max_length=200, description="The survey notification answered.")
    case_id: str | None = Field(default=None, min_length=1, max_length=100, description="A resolved case's.")
    order_id: str | None = Field(default=None, min_length=1, max_length=100, description="A delivery's.")
    customer_id: str = Field(min_length=1, max_length=100)
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str | None = Field(default=None, max_length=2000)
    occurred_at: UtcDatetime

    @model_validator(mode="after")
    def _about_a_case_or_an_order(self) -> Self:
        if (self.case_id is None) == (self.order_id is None):
            raise ValueError("an answer is about a case or an order")
        return self

    @property
    def negative(self) -> bool:
        return self.rating <= NEGATIVE_AT_MOST
