"""Cases: does an inbound interaction need an answer, does it open a case or join an open one, and closing.

A case id comes from the opening event's id, so a redelivered event opens the same case. An interaction
joins the customer's open case in the same thread (whatever its wording); otherwise an open case in the
same category that was active recently, so a customer who follows up on another channel is not asked to
start over; otherwise it opens a new case.

A negative survey answer about a closed case of the customer's reopens it (``decide_reopen``): the
customer said it was not solved. The case keeps its id, contacts and opening; it is open again from the
answer's time. An open case, another customer's case or a positive (or neutral) answer reopens nothing.
The case remembers the answers that reopened it, so an answer reopens it at most once: redelivered, it
changes nothing, even when the case was closed again meanwhile.

A negative answer about a delivered order opens a case of its own (``decide_delivery_case``), so someone
follows up: category ``delivery``, channel ``email`` (the survey's), opened at the answer's time, with the
answer as its only event and no contact to answer. Its id comes from the answer's event id, so a
redelivered answer finds the case it opened and opens nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.cases import CaseCategory, CaseStatus
from schemas.interactions import Channel, Direction, InteractionEvent
from services.profile.core.categories import categorise
from services.profile.core.consent import is_opt_out
from services.profile.core.ids import stable_id
from services.profile.core.observe import Contact, ObservedEvent
from services.profile.core.wording import Language, Wording

# Steps that ask us for something; the others (call offered/answered/ended, a chat starting or ending,
# a store visit) are part of a contact that is handled where it happens.
_REQUESTS = frozenset(
    {
        InteractionEvent.MESSAGE,
        InteractionEvent.CALL_MISSED,
        InteractionEvent.CALLBACK_REQUESTED,
        InteractionEvent.FORM_SUBMITTED,
    }
)
# Steps that ask for something even without words: a missed call or a call-back request needs a call.
_WORDLESS_REQUESTS = frozenset({InteractionEvent.CALL_MISSED, InteractionEvent.CALLBACK_REQUESTED})

# A message that only says thank you closes a loop; it needs no answer.
_THANKS_ONLY = Wording(
    {
        Language.NORWEGIAN: ("(?:tusen )?takk(?: for hjelpen| skal du ha)?",),
        Language.SWEDISH: ("(?:tusen )?tack(?: för hjälpen| så mycket)?",),
        Language.DANISH: ("(?:tusind )?tak(?: for hjælpen)?",),
        Language.ENGLISH: ("thanks?(?: you)?(?: so much| a lot| for (?:the|your) help)?", "cheers"),
    }
)


@dataclass(frozen=True)
class CaseConfig:
    # An open case of the same category but another thread is joined only if active this recently.
    join_same_category_within: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Case:
    case_id: str
    customer_id: str
    category: CaseCategory
    channel: Channel  # where it was opened
    thread_key: str | None
    language: Language | None
    opened_at: datetime
    opened_by: str  # event id
    last_activity_at: datetime
    event_ids: frozenset[str]
    status: CaseStatus = CaseStatus.OPEN
    closed_at: datetime | None = None
    close_reason: str | None = None
    reopened_by: frozenset[str] = frozenset()  # the survey answers (event ids) that reopened it


class NoAnswerReason(StrEnum):
    NOT_AN_INTERACTION = "not_an_interaction"
    OUTBOUND = "outbound"
    AUTO_SUBMITTED = "auto_submitted"
    NOT_A_REQUEST = "not_a_request"
    EMPTY = "empty"
    THANKS_ONLY = "thanks_only"
    OPT_OUT = "opt_out"  # "STOPP" by SMS: handled as a consent change


class JoinRule(StrEnum):
    ALREADY_IN_CASE = "already_in_case"
    SAME_THREAD = "same_thread"
    SAME_CATEGORY = "same_category"


@dataclass(frozen=True)
class OpenCase:
    case: Case


@dataclass(frozen=True)
class JoinCase:
    case: Case  # with the event added
    rule: JoinRule


@dataclass(frozen=True)
class NoCase:
    reason: NoAnswerReason


CaseDecision = OpenCase | JoinCase | NoCase


def no_answer_reason(event: ObservedEvent) -> NoAnswerReason | None:
    """Why this event needs no answer, or None when it does."""
    contact = event.contact
    if contact is None:
        return NoAnswerReason.NOT_AN_INTERACTION
    if contact.direction is Direction.OUTBOUND:
        return NoAnswerReason.OUTBOUND
    if contact.auto_submitted:
        return NoAnswerReason.AUTO_SUBMITTED
    if contact.step not in _REQUESTS:
        return NoAnswerReason.NOT_A_REQUEST
    return None if contact.step in _WORDLESS_REQUESTS else _content_reason(contact)


def _content_reason(contact: Contact) -> NoAnswerReason | None:
    words = " ".join(part for part in (contact.subject, contact.text) if part).strip()
    if not words and not contact.has_attachments:
        return NoAnswerReason.EMPTY
    if not contact.has_attachments and _THANKS_ONLY.is_all_of(words, contact.language):
        return NoAnswerReason.THANKS_ONLY
    if contact.channel is Channel.SMS and is_opt_out(contact.text):
        return NoAnswerReason.OPT_OUT
    return None


def decide_case(
    event: ObservedEvent,
    customer_id: str,
    open_cases: Iterable[Case],
    config: CaseConfig,
) -> CaseDecision:
    """Open, join or leave alone. ``open_cases`` are the customer's open cases."""
    candidates = sorted(
        (case for case in open_cases if case.status is CaseStatus.OPEN),
        key=lambda case: (case.last_activity_at, case.case_id),
        reverse=True,
    )
    already = next((case for case in candidates if event.event_id in case.event_ids), None)
    if already is not None:
        return JoinCase(already, JoinRule.ALREADY_IN_CASE)
    if (reason := no_answer_reason(event)) is not None:
        return NoCase(reason)
    contact = event.contact
    assert contact is not None  # no_answer_reason refuses events without a contact
    thread_key = contact.thread_key
    same_thread = next((c for c in candidates if thread_key and c.thread_key == thread_key), None)
    if same_thread is not None:
        return JoinCase(_with_event(same_thread, event), JoinRule.SAME_THREAD)
    category = categorise(contact.subject, contact.text, contact.language)
    since = event.occurred_at - config.join_same_category_within
    # "Other" says nothing about the topic, so it joins only when it is a repeat call on the same channel.
    joinable = category is not CaseCategory.OTHER or contact.step in _WORDLESS_REQUESTS
    same_category = next(
        (
            case
            for case in candidates
            if joinable
            and case.category is category
            and (category is not CaseCategory.OTHER or case.channel is contact.channel)
            and case.last_activity_at >= since
        ),
        None,
    )
    if same_category is not None:
        return JoinCase(_with_event(same_category, event), JoinRule.SAME_CATEGORY)
    return OpenCase(_opened(event, contact, customer_id, category))


def _opened(event: ObservedEvent, contact: Contact, customer_id: str, category: CaseCategory) -> Case:
    return Case(
        case_id=stable_id("case", event.event_id),
        customer_id=customer_id,
        category=category,
        channel=contact.channel,
        thread_key=contact.thread_key,
        language=contact.language,
        opened_at=event.occurred_at,
        opened_by=event.event_id,
        last_activity_at=event.occurred_at,
        event_ids=frozenset({event.event_id}),
    )


def _with_event(case: Case, event: ObservedEvent) -> Case:
    return replace(
        case,
        event_ids=case.event_ids | {event.event_id},
        last_activity_at=max(case.last_activity_at, event.occurred_at),
    )


def close_case(case: Case, closed_at: datetime, reason: str) -> Case:
    """The case closed; closing a closed case changes nothing, so a repeated close is harmless."""
    if case.status is CaseStatus.CLOSED:
        return case
    return replace(case, status=CaseStatus.CLOSED, closed_at=closed_at, close_reason=reason)


def moved(case: Case, customer_id: str) -> Case:
    """The case under another customer (after a merge or an unmerge)."""
    return replace(case, customer_id=customer_id)


def decide_reopen(event: ObservedEvent, customer_id: str, cases: Mapping[str, Case]) -> Case | None:
    """The case a negative survey answer reopens, as reopened; None when it reopens nothing: not a
    negative answer, a case the customer does not hold (``cases`` are the customer's, by id), a case that
    is open, or a case this very answer reopened before (it is redelivered)."""
    feedback = event.feedback
    if feedback is None or not feedback.negative or feedback.case_id is None:
        return None  # an answer about a delivered order names no case: ``decide_delivery_case``
    case = cases.get(feedback.case_id)
    if (
        case is None
        or case.customer_id != customer_id
        or case.status is not CaseStatus.CLOSED
        or event.event_id in case.reopened_by
    ):
        return None
    return reopen_case(case, event.occurred_at, event.event_id)


def reopen_case(case: Case, at: datetime, by: str) -> Case:
    """The closed case open again from ``at`` (reopened by event ``by``): same id, contacts and opening;
    no close left on it."""
    return replace(
        case,
        status=CaseStatus.OPEN,
        closed_at=None,
        close_reason=None,
        last_activity_at=at,
        reopened_by=case.reopened_by | {by},
    )


def decide_delivery_case(event: ObservedEvent, customer_id: str, cases: Mapping[str, Case]) -> Case | None:
    """The case a negative survey answer about a delivered order opens for ``customer_id``; None when it
    opens nothing: not an answer about an order, not a negative one, or one that opened its case before
    (it is redelivered: ``cases`` are the customer's, by id, and hold it whatever its status now)."""
    feedback = event.feedback
    if feedback is None or feedback.order_id is None or not feedback.negative:
        return None
    case_id = stable_id("case", event.event_id)
    if case_id in cases:
        return None
    return Case(
        case_id=case_id,
        customer_id=customer_id,
        category=CaseCategory.DELIVERY,
        channel=Channel.EMAIL,
        thread_key=None,
        language=None,  # the customer's, when the change is published
        opened_at=event.occurred_at,
        opened_by=event.event_id,
        last_activity_at=event.occurred_at,
        event_ids=frozenset({event.event_id}),
    )
