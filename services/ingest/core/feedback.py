"""Pure decisions about a survey answer: its one event id, its one dedupe key, and the CloudEvent it becomes.

A survey is answered once. Its answer's event id is derived from the survey id (uuid5), so every attempt at
answering it, from any ingest process, names the same event; its dedupe key (hashed, like every stored key)
is what the claim in the database is taken on. The claim is kept for the dedupe window (14 days) after the
answer; notify's links take answers for at most that long after they are sent, so a survey's claim always
outlives its link.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from schemas.catalog import event_type_of
from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from services.common.survey_tokens import SurveyClaims
from services.ingest.core.errors import first_problem

FEEDBACK_SOURCE = "/ingest/feedback"
MAX_COMMENT_CHARS = 2000
# The namespace of answers' event ids: uuid5(namespace, survey id).
_ANSWER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:helhet:ingest:survey-answer")


# What an answer may be wrong about; anything else wrong with it is the token's ids.
_ANSWER_FIELDS = frozenset({"rating", "comment"})


class ClaimsOutOfContractError(ValueError):
    """A verified token whose ids do not fit the event (a bug where the link was made): refused like a
    token that does not verify. The message names the field, never its value."""


class Subject(StrEnum):
    """What a survey asks about: how a case was handled, or a delivered order."""

    CASE = "case"
    ORDER = "order"


def subject_of(claims: SurveyClaims) -> Subject:
    return Subject.ORDER if claims.order_id is not None else Subject.CASE


def answer_event_id(survey_id: str) -> str:
    return str(uuid.uuid5(_ANSWER_NAMESPACE, survey_id))


def answer_dedupe_key(survey_id: str) -> str:
    """Shares the dedupe store with the intake's keys; the prefix keeps it apart from theirs."""
    return hashlib.sha256(f"survey-answer\x00{survey_id}".encode()).hexdigest()


def normalise_comment(comment: str | None) -> str | None:
    """Line breaks as one character each (a browser submits a textarea's as CRLF, while its maxlength
    counts them once); nothing but whitespace is no comment."""
    if comment is None:
        return None
    comment = comment.replace("\r\n", "\n").replace("\r", "\n")
    return comment if comment.strip() else None


def feedback_received(
    claims: SurveyClaims, *, rating: int, comment: str | None, now: datetime
) -> FeedbackReceived:
    """The answer as the contract has it. Raises ``InvalidInputError`` (rating, comment) or
    ``ClaimsOutOfContractError`` (the token's ids)."""
    try:
        return FeedbackReceived(
            survey_id=claims.survey_id,
            case_id=claims.case_id,
            order_id=claims.order_id,
            customer_id=claims.customer_id,
            rating=rating,
            comment=normalise_comment(comment),
            occurred_at=now,
        )
    except ValidationError as error:
        problem = first_problem(error)
        if problem.field not in _ANSWER_FIELDS:  # survey, case, order or customer id, or case and order
            raise ClaimsOutOfContractError(problem.field) from None
        raise problem from None


def feedback_event(payload: FeedbackReceived, *, now: datetime) -> Event[FeedbackReceived]:
    return Event[FeedbackReceived](
        id=answer_event_id(payload.survey_id),
        source=FEEDBACK_SOURCE,
        type=event_type_of(FeedbackReceived).name,
        time=now,
        key=payload.customer_id,
        data=payload,
    )
