"""Satisfaction survey answers: ``GET /v1/feedback/form?t=<token>`` (the page a survey link opens) and
``POST /v1/feedback`` (that page's form, or JSON from other systems).

No bearer token: customers answer these, and the survey link's signed token is the authentication (it names
the survey, the customer and the case or delivered order asked about; the form asks about that). A survey
takes one answer, published as ``FeedbackReceived`` on ``feedback.v1`` before anyone is told it was taken.

JSON answers: 202 ``{event_id}``; 409 already answered (or being answered right now, with Retry-After);
401 a token that does not verify; 410 an expired one; 422 bad rating or comment (or unknown fields); 503 +
Retry-After when the broker does not acknowledge. Form answers get pages instead: 200 thanks, 409 already
answered, 400 bad link, 410 closed, 422 the form again with what to fix, 503 the form again to retry.

Neither the token nor the comment is ever logged or echoed in a problem body.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common.http import problem
from services.ingest.adapters.inbound.feedback_pages import FormError, Message, form_page, message_page
from services.ingest.adapters.inbound.rest import RETRY_AFTER_SECONDS, unavailable
from services.ingest.adapters.inbound.webhooks import invalid_input
from services.ingest.core.errors import InvalidInputError
from services.ingest.core.feedback import MAX_COMMENT_CHARS, Subject, normalise_comment
from services.ingest.ports import ClaimState
from services.ingest.service import (
    Answer,
    BrokerUnavailableError,
    FeedbackService,
    Outcome,
    SurveyTokenRejectedError,
)

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
# The form's action, relative to the page that holds it: from /v1/feedback/form and from /v1/feedback.
ACTION_FROM_FORM_PAGE = "../feedback"
ACTION_FROM_ANSWER_PAGE = "feedback"
# A survey form sends three fields; anything far beyond that is not one.
_MAX_FORM_FIELDS = 20
_RATING = re.compile(r"[0-9]{1,3}")


class FeedbackIn(BaseModel):
    """An answer to a survey, for systems that collect it on their own page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str = Field(min_length=1, max_length=4096, description="The `t` of the survey link, as sent.")
    rating: int = Field(strict=True, ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)

    def __repr__(self) -> str:  # the token and the comment stay out of tracebacks and logs
        return f"FeedbackIn(rating={self.rating!r})"


class FeedbackAcceptedOut(BaseModel):
    event_id: str


async def _service(request: Request) -> FeedbackService:  # async: a sync dependency costs a thread hop
    service: FeedbackService = request.app.state.feedback
    return service


Feedback = Annotated[FeedbackService, Depends(_service)]

_HTML_PAGE: dict[str, Any] = {"content": {"text/html": {}}}
_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON_TYPE: {"schema": FeedbackIn.model_json_schema()},
            FORM_TYPE: {
                "schema": {
                    "type": "object",
                    "required": ["token", "rating"],
                    "properties": {
                        "token": {"type": "string"},
                        "rating": {"type": "string", "enum": ["1", "2", "3", "4", "5"]},
                        "comment": {"type": "string", "maxLength": MAX_COMMENT_CHARS},
                    },
                }
            },
        },
    }
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _form_fields(body: bytes) -> dict[str, str] | None:
    """The fields of a form-encoded body (UTF-8 behind the percent escapes), or None when it is not one:
    undecodable, far too many fields, or a field given twice."""
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            return None
        fields[name] = value
    return fields


def _rating(value: str | None) -> int | None:
    return int(value) if value is not None and _RATING.fullmatch(value) else None


def _token_problem(error: SurveyTokenRejectedError) -> JSONResponse:
    if error.expired:
        return problem(410, "The survey has closed: its link has expired.")
    return problem(401, "The survey token is not valid.")


def _token_page(error: SurveyTokenRejectedError) -> HTMLResponse:
    if error.expired:
        return message_page(Message.EXPIRED, status=410)
    return message_page(Message.INVALID, status=400)


def _strict_json(body: bytes) -> FeedbackIn:
    try:
        return FeedbackIn.model_validate_json(body)
    except ValidationError as error:
        # Through the shared 422 handler: where and what kind, never the value.
        errors = error.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def _answered(outcome: Outcome) -> JSONResponse | None:
    if outcome.state is ClaimState.PUBLISHED:
        return problem(409, "This survey has already been answered; it takes one answer.")
    if outcome.state is ClaimState.IN_FLIGHT:
        return problem(
            409, "An answer to this survey is being recorded right now.", headers={"Retry-After": "1"}
        )
    return None


async def _answer_json(request: Request, feedback: FeedbackService) -> FeedbackAcceptedOut | JSONResponse:
    body = _strict_json(await request.body())
    try:
        outcome = await feedback.answer(Answer(body.token, body.rating, body.comment))
    except SurveyTokenRejectedError as error:
        return _token_problem(error)
    except InvalidInputError as error:
        return invalid_input(error)
    except BrokerUnavailableError:
        return unavailable()
    return _answered(outcome) or FeedbackAcceptedOut(event_id=outcome.event_id)


async def _answer_form(request: Request, feedback: FeedbackService) -> HTMLResponse:
    fields = _form_fields(await request.body())
    if fields is None:
        return message_page(Message.INVALID, status=400)
    token = fields.get("token", "")
    try:
        subject = feedback.check(token)  # a broken link says so before anything else
    except SurveyTokenRejectedError as error:
        return _token_page(error)
    return await _take_form_answer(
        feedback, token, subject, rating=_rating(fields.get("rating")), comment=fields.get("comment")
    )


async def _take_form_answer(
    feedback: FeedbackService, token: str, subject: Subject, *, rating: int | None, comment: str | None
) -> HTMLResponse:
    """A form answer whose link checked out: the page that follows it."""

    def again(error: FormError, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
        """The form once more, as the customer filled it in, saying what to do."""
        return form_page(
            token=token,
            subject=subject,
            action=ACTION_FROM_ANSWER_PAGE,
            status=status,
            rating=rating,
            comment=comment,
            error=error,
            headers=headers,
        )

    if rating is None:
        return again(FormError.RATING, 422)
    try:
        outcome = await feedback.answer(Answer(token, rating, comment))
    except SurveyTokenRejectedError as error:  # expired since the check, or ids out of contract
        return _token_page(error)
    except InvalidInputError as error:
        return again(FormError.COMMENT if error.field == "comment" else FormError.RATING, 422)
    except BrokerUnavailableError:
        return again(FormError.UNAVAILABLE, 503, {"Retry-After": RETRY_AFTER_SECONDS})
    return _outcome_page(outcome, rating=rating, comment=comment)


def _outcome_page(outcome: Outcome, *, rating: int, comment: str | None) -> HTMLResponse:
    if outcome.state is ClaimState.PUBLISHED:
        return message_page(Message.ANSWERED, status=409)
    if outcome.state is ClaimState.IN_FLIGHT:
        return message_page(Message.BUSY, status=409, headers={"Retry-After": "1"})
    recorded = normalise_comment(comment)  # as published: one kind of line break, no edge whitespace
    return message_page(
        Message.THANKS, status=200, rating=rating, comment=recorded.strip() if recorded else None
    )


def feedback_router() -> APIRouter:
    router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

    @router.get(
        "/form",
        response_class=HTMLResponse,
        responses={400: _HTML_PAGE, 410: _HTML_PAGE},
    )
    async def survey_form(feedback: Feedback, t: str | None = None) -> HTMLResponse:
        """The survey page a link opens: how satisfied (1-5) with the case's handling or the delivery, and
        an optional comment, posted to ``POST /v1/feedback``. A broken link is a 400 page, an expired one
        410."""
        try:
            subject = feedback.check(t or "")
        except SurveyTokenRejectedError as error:
            return _token_page(error)
        return form_page(token=t or "", subject=subject, action=ACTION_FROM_FORM_PAGE)

    @router.post(
        "",
        status_code=202,
        response_model=FeedbackAcceptedOut,
        responses={
            200: {"description": "Form answers: the thank-you page.", **_HTML_PAGE},
            401: {"description": "The token does not verify."},
            409: {"description": "The survey was already answered."},
            410: {"description": "The survey link has expired."},
            415: {"description": f"Neither {JSON_TYPE} nor {FORM_TYPE}."},
            503: {"description": "The broker did not acknowledge; retry after Retry-After."},
        },
        openapi_extra=_REQUEST_BODY,
    )
    async def answer_survey(request: Request, feedback: Feedback) -> FeedbackAcceptedOut | Response:
        """A survey answer: JSON ``{token, rating, comment}`` (202 ``{event_id}``), or the survey page's
        form (an HTML page). One answer per survey; 202 only after the broker acknowledged."""
        media_type = _media_type(request)
        if media_type == FORM_TYPE:
            return await _answer_form(request, feedback)
        if media_type == JSON_TYPE:
            return await _answer_json(request, feedback)
        return problem(415, f"Send {JSON_TYPE} or {FORM_TYPE}.")

    return router
