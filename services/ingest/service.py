"""The ingest service layer: dedupe, publish, answer only after the broker acknowledged."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.common.survey_tokens import InvalidSurveyTokenError, SurveyClaims, verify
from services.ingest.core.errors import InvalidInputError
from services.ingest.core.feedback import (
    ClaimsOutOfContractError,
    Subject,
    answer_dedupe_key,
    answer_event_id,
    feedback_event,
    feedback_received,
    subject_of,
)
from services.ingest.core.intake import IngestPayload, dedupe_key, ingest_event
from services.ingest.ports import (
    ClaimState,
    DedupeStore,
    EventPublisher,
    EventTooLargeError,
    FeedbackPublisher,
    PublishFailedError,
)


class BrokerUnavailableError(Exception):
    """Not everything was accepted; the caller should retry later (HTTP 503, SMTP 451). A retry is answered
    as a duplicate for whatever was (``accepted``: positions in the submissions)."""

    def __init__(self, accepted: frozenset[int] = frozenset()) -> None:
        super().__init__(f"{len(accepted)} accepted")
        self.accepted = accepted


class ItemTooLargeError(InvalidInputError):
    """The submission at ``position`` would be a Kafka message over the broker's size limit: never
    publishable as it is (HTTP 413, SMTP 550); nothing of the request was published."""

    def __init__(self, position: int) -> None:
        super().__init__("body", "becomes an event over the 1 MiB message size limit")
        self.position = position


# The reason ``survey_tokens.verify`` gives a well-signed token past its time (answered with 410, not 401).
EXPIRED_REASON = "expired"


class SurveyTokenRejectedError(Exception):
    """The survey token is forged, altered, not a survey token, or (``expired``) past its time. Carries
    neither the token nor its claims."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class Submission:
    payload: IngestPayload
    source: str
    idempotency_key: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    event_id: str
    state: ClaimState  # NEW: published now; PUBLISHED: a duplicate; IN_FLIGHT: retry later


class IntakeService:
    def __init__(self, dedupe: DedupeStore, publisher: EventPublisher, clock: Callable[[], datetime]) -> None:
        self._dedupe = dedupe
        self._publisher = publisher
        self._clock = clock

    async def submit(self, submission: Submission) -> Outcome:
        return (await self.submit_many([submission]))[0]

    async def submit_many(self, submissions: Sequence[Submission]) -> list[Outcome]:
        now = self._clock()
        keys = [
            dedupe_key(s.payload, idempotency_key=s.idempotency_key, client_id=s.client_id)
            for s in submissions
        ]
        first_with_key: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key is not None:
                first_with_key.setdefault(key, index)
        claim_id = uuid.uuid4().hex
        outcomes = [Outcome(str(uuid.uuid4()), ClaimState.NEW) for _ in submissions]
        if first_with_key:
            wanted = [(key, outcomes[index].event_id) for key, index in first_with_key.items()]
            claims = await self._dedupe.claim_many(claim_id, wanted, now)
            for index, claim in zip(first_with_key.values(), claims, strict=True):
                outcomes[index] = Outcome(claim.event_id, claim.state)
        for index, key in enumerate(keys):
            first = first_with_key.get(key) if key is not None else None
            if first is not None and first != index:
                # Repeated inside this batch: a duplicate of its first occurrence.
                state = outcomes[first].state
                outcomes[index] = Outcome(
                    outcomes[first].event_id, ClaimState.PUBLISHED if state is ClaimState.NEW else state
                )
        to_publish = [index for index, outcome in enumerate(outcomes) if outcome.state is ClaimState.NEW]
        claimed = [
            (key, outcomes[index].event_id) for index in to_publish if (key := keys[index]) is not None
        ]
        events = [
            ingest_event(
                submissions[i].payload,
                event_id=outcomes[i].event_id,
                source=submissions[i].source,
                now=now,
            )
            for i in to_publish
        ]
        try:
            await self._publisher.publish(events)
        except EventTooLargeError as error:
            await self._dedupe.release(claim_id, [key for key, _ in claimed], now)
            raise ItemTooLargeError(to_publish[error.position]) from None
        except PublishFailedError as error:
            # A batch stored in part: the stored ones are published (a retry gets them as duplicates),
            # the others free to claim again. Released first: the confirm must not cover them.
            stored = {to_publish[position] for position in error.acknowledged}
            await self._dedupe.release(
                claim_id, [key for i in to_publish if i not in stored and (key := keys[i]) is not None], now
            )
            published = [(key, outcomes[i].event_id) for i in sorted(stored) if (key := keys[i]) is not None]
            await self._dedupe.confirm(claim_id, published, now)
            raise BrokerUnavailableError(frozenset(stored)) from None
        await self._dedupe.confirm(claim_id, claimed, now)
        return outcomes


@dataclass(frozen=True)
class Answer:
    """A customer's answer as it arrived: the survey link's token, a rating and an optional comment."""

    token: str
    rating: int
    comment: str | None = None

    def __repr__(self) -> str:  # the token and the comment stay out of tracebacks and logs
        return f"Answer(rating={self.rating!r})"


class FeedbackService:
    """Satisfaction survey answers: the token names the survey, the customer and the case or delivered
    order asked about; each survey takes one answer, published as ``FeedbackReceived`` before anyone is
    told it was taken."""

    def __init__(
        self,
        dedupe: DedupeStore,
        publisher: FeedbackPublisher,
        clock: Callable[[], datetime],
        *,
        secret: str,
    ) -> None:
        self._dedupe = dedupe
        self._publisher = publisher
        self._clock = clock
        self._secret = secret

    def check(self, token: str) -> Subject:
        """What the survey asks about (a case or a delivered order); raises ``SurveyTokenRejectedError``
        unless the token is one of our survey links, still open."""
        return subject_of(self._claims(token, self._clock()))

    async def answer(self, answer: Answer) -> Outcome:
        """NEW: published now. PUBLISHED: the survey was answered before (nothing published). IN_FLIGHT: an
        answer to it is being published right now. Raises ``SurveyTokenRejectedError``,
        ``InvalidInputError`` (rating, comment) and ``BrokerUnavailableError``."""
        now = self._clock()
        claims = self._claims(answer.token, now)
        try:
            payload = feedback_received(claims, rating=answer.rating, comment=answer.comment, now=now)
        except ClaimsOutOfContractError:
            raise SurveyTokenRejectedError(expired=False) from None
        key = answer_dedupe_key(claims.survey_id)
        claim_id = uuid.uuid4().hex
        [claim] = await self._dedupe.claim_many(claim_id, [(key, answer_event_id(claims.survey_id))], now)
        if claim.state is not ClaimState.NEW:
            return Outcome(claim.event_id, claim.state)
        event = feedback_event(payload, now=now)
        try:
            await self._publisher.publish_feedback(event)
        except PublishFailedError:
            await self._dedupe.release(claim_id, [key], now)
            raise BrokerUnavailableError from None
        await self._dedupe.confirm(claim_id, [(key, event.id)], now)
        return Outcome(event.id, ClaimState.NEW)

    def _claims(self, token: str, now: datetime) -> SurveyClaims:
        try:
            return verify(token, self._secret, now)
        except InvalidSurveyTokenError as error:
            raise SurveyTokenRejectedError(expired=str(error) == EXPIRED_REASON) from None
