"""What notify publishes: ``NotificationChanged`` on ``notifications.v1``, keyed by customer id, so
profile adds what the customer was told to the timeline, in order, where the agent sees it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.envelope import Payload, UtcDatetime
from schemas.interactions import Channel


class MessageKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"  # thank you for your inquiry, with the expected answer time
    STATUS_UPDATE = "status_update"  # a given time will be missed: the new one
    CALLBACK_RESCHEDULED = "callback_rescheduled"
    ASSIGNED = "assigned"
    CASE_EVALUATION = "case_evaluation"  # after a case closed: how did we do?
    SATISFACTION_SURVEY = "satisfaction_survey"  # after a delivery: are you satisfied?
    FEEDBACK_ACKNOWLEDGED = "feedback_acknowledged"


class NotificationStatus(StrEnum):
    SENT = "sent"  # the provider accepted it (SMTP 250, HTTP 2xx)
    FAILED = "failed"  # refused for good (SMTP 5xx, HTTP 4xx) or still failing after every retry


class ExpectedAnswerKind(StrEnum):
    WITHIN = "within"  # "within about 2-4 hours"
    BY = "by"  # "by 16:00"
    AFTER_OPENING = "after_opening"  # "tomorrow after 08:00"
    UNKNOWN = "unknown"  # "as soon as we can": no time was promised


class ExpectedAnswer(Payload):
    """The answer time the customer was given, as instants and as said."""

    kind: ExpectedAnswerKind
    earliest: UtcDatetime | None = None
    latest: UtcDatetime | None = Field(default=None, description="The promise: answered by then.")
    said: str = Field(max_length=200, description="As the message put it, in its language.")


class NotificationChanged(Payload):
    notification_id: str = Field(min_length=1, max_length=200, description="Stable per send key.")
    case_id: str | None = Field(default=None, max_length=100)
    customer_id: str = Field(min_length=1, max_length=100)
    kind: MessageKind
    channel: Channel = Field(description="Where it went.")
    language: str = Field(min_length=2, max_length=35)
    status: NotificationStatus
    reason: str | None = Field(
        default=None, max_length=200, description="Why it failed: the provider's code class, never text."
    )
    subject: str | None = Field(default=None, max_length=998)
    text: str = Field(max_length=10_000, description="The message as sent (our words, never the customer's).")
    expected_answer: ExpectedAnswer | None = None
    promise_id: str | None = Field(default=None, max_length=200)
    attempts: int = Field(ge=1, description="Delivery attempts it took.")
    occurred_at: UtcDatetime
