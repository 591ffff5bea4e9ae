"""What one event tells the profile: ``observe`` turns an ingest CloudEvent into an ``ObservedEvent`` of
stamped facts (identifiers, attributes, consent, order change, experience, call step, contact), so every
later decision works on the same small, typed view and never re-reads payloads.

Each fact carries the event's id and time; that is what makes folding them idempotent and independent of
arrival order. Changes made by agents or other systems become ``ObservedEvent`` too (``observe_change``),
so they are folded, merged and unmerged exactly like channel events.

Routing's ``AssignmentChanged`` (on ``assignments.v1``, keyed by customer id) is addressed to a known
customer by id, like a request. Every change goes on the customer's timeline, ``offered``, ``declined``,
``expired`` and ``withdrawn`` included: they are what happened to the case (who had it, who let it go, what
the customer was told while it waited), and the timeline filters by kind (``assignment``) and case when an
agent wants less. The timeline note (``Assignment``) keeps ids only: change, case, queue, agent, reason.
Only an ``accepted`` change sets ``LAST_AGENT``, stamped with the event's ``occurred_at``, so the newest
acceptance wins whatever the arrival order; that is the previous agent routing sticks to. A change for
a customer id nobody holds (never seen, or erased) creates nobody: the service records it on the timeline
under that id and applies nothing (``ProfileService._place_request``).

Notify's ``NotificationChanged`` (on ``notifications.v1``, keyed by customer id) is addressed the same
way and goes on the timeline as kind ``notification`` (``Notification``): what the customer was told, on
which channel, in which language, the answer time it promised and whether it was delivered, so the agent
sees it next to what the customer said. Each event is an entry of its own (the timeline is keyed by event
id): a later status of the same ``notification_id`` (e.g. ``failed`` after retries) is a new entry, and a
redelivered event adds nothing. A notification sets no attribute and no experience, and, like an
assignment, it is not the customer being seen (first and last seen ignore both).

A customer's ``FeedbackReceived`` (on ``feedback.v1``, keyed by customer id) is addressed the same way and
goes on the timeline as kind ``feedback`` (``Feedback``: survey, case or order, rating, comment, negative):
an answer about a resolved case under the case it names, an answer about a delivered order (``order_id``)
under no case. It is an experience either way: a negative answer (1 or 2 of 5) is a bad one
(``negative_feedback``), 4 or 5 a good one (``positive_feedback``), 3 neither; whether a negative answer
reopens its case is ``core.cases.decide_reopen``, whether one about an order opens a case
``core.cases.decide_delivery_case``. Answering a survey is not the customer being seen either:
it answers something we sent, so first and last seen ignore it. The comment is the customer's own words:
for a customer nobody holds it is left out of what is recorded (``without_personal_text``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from schemas.cases import CaseCloseRequested
from schemas.commerce import OrderRecorded, OrderStatus, WebActivityRecorded
from schemas.customers import (
    ConsentRecorded,
    ExperienceReason,
    MergeRequested,
    ProfileRefreshDue,
    Purpose,
    UnmergeRequested,
)
from schemas.envelope import Event
from schemas.feedback import FeedbackReceived
from schemas.identifiers import CustomerIdentifier
from schemas.interactions import Channel, Direction, InteractionEvent, InteractionReceived
from schemas.notifications import ExpectedAnswerKind, MessageKind, NotificationChanged, NotificationStatus
from schemas.routing import AssignmentChange, AssignmentChanged
from services.profile.core.attributes import Attribute, AttributeName
from services.profile.core.consent import ConsentDecision, is_opt_out
from services.profile.core.experience import Experience, Feeling, PhoneStep, feeling_in, rating_feeling
from services.profile.core.value import OrderChange
from services.profile.core.wording import Language, language_of

# What the channels report, and what the API and other systems ask of profile for a known customer.
ProfilePayload = InteractionReceived | OrderRecorded | WebActivityRecorded
ProfileRequest = CaseCloseRequested | ConsentRecorded | MergeRequested | UnmergeRequested | ProfileRefreshDue
# What other services report about a known customer, addressed by customer id.
ProfileReport = AssignmentChanged | NotificationChanged | FeedbackReceived
# One envelope per report type: each travels on its own topic, as its own ``Event[...]``.
ProfileEvent = (
    Event[ProfilePayload]
    | Event[ProfileRequest]
    | Event[AssignmentChanged]
    | Event[NotificationChanged]
    | Event[FeedbackReceived]
)
PROFILE_PAYLOADS = (
    InteractionReceived,
    OrderRecorded,
    WebActivityRecorded,
    CaseCloseRequested,
    ConsentRecorded,
    MergeRequested,
    UnmergeRequested,
    ProfileRefreshDue,
    AssignmentChanged,
    NotificationChanged,
    FeedbackReceived,
)

ORDER_SOURCE = "order"
WEB_SOURCE = "web"
ROUTING_SOURCE = "routing"  # the timeline channel and attribute source of assignment changes
NOTIFY_SOURCE = "notify"  # the timeline channel of notifications (the channel used is in the note)
SURVEY_SOURCE = "survey"  # the timeline channel of survey answers
# Not in schemas/catalog.py yet: agent and API changes need a contract before they travel on Kafka.
CHANGE_EVENT_TYPE = "helhet.profile.change.v1"


class FactKind(StrEnum):
    INTERACTION = "interaction"
    ORDER = "order"
    WEB_ACTIVITY = "web_activity"
    CHANGE = "change"  # made by an agent or another system, not seen on a channel
    ASSIGNMENT = "assignment"  # routing offered, gave or took a case of the customer's to an agent
    NOTIFICATION = "notification"  # notify sent the customer a message (or could not)
    FEEDBACK = "feedback"  # the customer answered a satisfaction survey
    REFRESH = "refresh"  # profile looked again because time alone may have moved the profile


# What other systems did about the customer, or the customer answering what we sent: never "seen".
NOT_SEEN_KINDS = frozenset({FactKind.ASSIGNMENT, FactKind.NOTIFICATION, FactKind.FEEDBACK, FactKind.REFRESH})


@dataclass(frozen=True)
class Contact:
    """What the case decision needs to know about an interaction."""

    channel: Channel
    direction: Direction
    step: InteractionEvent
    thread_id: str | None
    conversation_id: str | None
    subject: str | None
    text: str | None
    auto_submitted: bool
    has_attachments: bool
    language: Language | None
    source_message_id: str | None = None
    callback_window_start: datetime | None = None
    callback_window_end: datetime | None = None

    @property
    def thread_key(self) -> str | None:
        """One conversation across its messages: the email thread, else the channel's conversation."""
        if self.thread_id:
            return f"thread:{self.thread_id}"
        if self.conversation_id:
            return f"{self.channel.value}:{self.conversation_id}"
        return None


@dataclass(frozen=True)
class WebVisit:
    """What a web activity event says, for the timeline's session summaries."""

    session_id: str
    activity: str  # page_view, cart_add, …
    url: str
    sku: str | None = None


@dataclass(frozen=True)
class CaseClose:
    case_id: str
    reason: str


@dataclass(frozen=True)
class Assignment:
    """What routing did with one of the customer's cases, for the timeline: ids, no personal data."""

    change: AssignmentChange
    case_id: str
    queue: str
    agent_id: str | None  # the agent offered, accepting, declining, … the case; None while it waits
    reason: str | None  # e.g. offer_timeout, agent_absent, no_agent_present


@dataclass(frozen=True)
class ExpectedAnswerNote:
    """The answer time a notification gave the customer: as instants and as the message said it."""

    kind: ExpectedAnswerKind
    earliest: datetime | None
    latest: datetime | None  # the promise: answered by then
    said: str


@dataclass(frozen=True)
class Notification:
    """What notify told the customer (or could not), for the timeline: our words, never the customer's."""

    notification_id: str  # stable per send: its later status changes carry the same id
    case_id: str | None
    kind: MessageKind
    channel: Channel  # where it went
    language: str
    status: NotificationStatus
    reason: str | None  # why it failed: the provider's code class
    subject: str | None
    text: str
    expected_answer: ExpectedAnswerNote | None
    promise_id: str | None
    attempts: int


@dataclass(frozen=True)
class Feedback:
    """A customer's answer to a satisfaction survey about one case or one delivered order (exactly one of
    ``case_id`` and ``order_id``), for the timeline."""

    survey_id: str  # the survey notification answered
    case_id: str | None  # the resolved case asked about
    rating: int  # 1 (very unhappy) to 5 (very happy)
    comment: str | None  # the customer's own words
    negative: bool  # rated at most 2: the case reopens, or a delivery case opens
    order_id: str | None = None  # the delivered order asked about


@dataclass(frozen=True)
class ObservedEvent:
    event_id: str
    event_type: str
    source: str
    occurred_at: datetime
    kind: FactKind
    source_channel: str  # the channel, or "order" / "web" / the system that made a change
    identifiers: tuple[CustomerIdentifier, ...]
    attributes: tuple[Attribute, ...] = ()
    consent: tuple[ConsentDecision, ...] = ()
    order: OrderChange | None = None
    experience: Experience | None = None
    phone_step: PhoneStep | None = None
    contact: Contact | None = None
    web: WebVisit | None = None
    customer_id: str | None = None  # a request or report addressed to a customer by id, not identifiers
    case_close: CaseClose | None = None
    merge_with: tuple[str, ...] = ()  # a requested merge: the other customers
    unmerge: str | None = None  # a requested unmerge: the merge id
    assignment: Assignment | None = None  # routing's change of one of the customer's cases
    notification: Notification | None = None  # what notify told the customer
    feedback: Feedback | None = None  # the customer's answer to a survey
    refresh: bool = False  # profile's own request to look again: time alone may have moved the profile

    @property
    def case_id(self) -> str | None:
        """The case a report names (an assignment's, a notification's, a survey answer's), for the
        timeline's case filter."""
        if self.assignment is not None:
            return self.assignment.case_id
        if self.feedback is not None:
            return self.feedback.case_id
        return None if self.notification is None else self.notification.case_id


def observe(event: ProfileEvent) -> ObservedEvent:
    match event.data:
        case InteractionReceived() as interaction:
            return _interaction(event, interaction)
        case OrderRecorded() as order:
            return _order(event, order)
        case WebActivityRecorded() as activity:
            return ObservedEvent(
                event_id=event.id,
                event_type=event.type,
                source=event.source,
                occurred_at=activity.occurred_at,
                kind=FactKind.WEB_ACTIVITY,
                source_channel=WEB_SOURCE,
                identifiers=tuple(activity.identifiers),
                web=WebVisit(activity.session_id, activity.kind.value, activity.url, activity.sku),
            )
        case AssignmentChanged() | NotificationChanged() | FeedbackReceived() as report:
            return _reported(event, report)
        case _:
            return _requested(event, event.data)


def _reported(event: ProfileEvent, report: ProfileReport) -> ObservedEvent:
    """What another service (or the customer, answering a survey) reports about a customer, by id."""
    match report:
        case AssignmentChanged():
            return _assigned(event, report)
        case NotificationChanged():
            return _notified(event, report)
        case FeedbackReceived():
            return _answered(event, report)


def _requested(event: ProfileEvent, request: ProfileRequest) -> ObservedEvent:
    """A request addressed to a customer by id: it names no identifiers."""
    match request:
        case CaseCloseRequested():
            close = CaseClose(request.case_id, request.reason.value)
            return _request(
                event, request.requested_at, request.requested_by, request.customer_id, close=close
            )
        case MergeRequested():
            first, *others = request.customer_ids
            return _request(
                event, request.requested_at, request.requested_by, first, merge_with=tuple(others)
            )
        case UnmergeRequested():
            at, by = request.requested_at, request.requested_by
            return _request(event, at, by, request.survivor_id, unmerge=request.merge_id)
        case ConsentRecorded():
            decision = ConsentDecision(
                request.purpose, request.granted, request.source, request.occurred_at, event.id
            )
            return _request(event, request.occurred_at, request.source, request.customer_id, consent=decision)
        case ProfileRefreshDue():
            return _request(event, request.due_at, "profile", request.customer_id, refresh=True)


def _assigned(event: ProfileEvent, assignment: AssignmentChanged) -> ObservedEvent:
    """An assignment change, addressed to its customer by id; an acceptance names the last agent."""
    at = assignment.occurred_at
    attributes: tuple[Attribute, ...] = ()
    if assignment.change is AssignmentChange.ACCEPTED and assignment.agent_id:
        agent = assignment.agent_id
        attributes = (Attribute(AttributeName.LAST_AGENT, agent, ROUTING_SOURCE, at, event.id),)
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=at,
        kind=FactKind.ASSIGNMENT,
        source_channel=ROUTING_SOURCE,
        identifiers=(),
        attributes=attributes,
        customer_id=assignment.customer_id,
        assignment=Assignment(
            change=assignment.change,
            case_id=assignment.case_id,
            queue=assignment.queue,
            agent_id=assignment.agent_id,
            reason=assignment.reason,
        ),
    )


def _notified(event: ProfileEvent, notification: NotificationChanged) -> ObservedEvent:
    """A notification, addressed to its customer by id: a timeline note and nothing else."""
    expected = notification.expected_answer
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=notification.occurred_at,
        kind=FactKind.NOTIFICATION,
        source_channel=NOTIFY_SOURCE,
        identifiers=(),
        customer_id=notification.customer_id,
        notification=Notification(
            notification_id=notification.notification_id,
            case_id=notification.case_id,
            kind=notification.kind,
            channel=notification.channel,
            language=notification.language,
            status=notification.status,
            reason=notification.reason,
            subject=notification.subject,
            text=notification.text,
            expected_answer=None
            if expected is None
            else ExpectedAnswerNote(expected.kind, expected.earliest, expected.latest, expected.said),
            promise_id=notification.promise_id,
            attempts=notification.attempts,
        ),
    )


def _answered(event: ProfileEvent, feedback: FeedbackReceived) -> ObservedEvent:
    """A survey answer, addressed to its customer by id: a timeline note and, unless neutral, an
    experience."""
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=feedback.occurred_at,
        kind=FactKind.FEEDBACK,
        source_channel=SURVEY_SOURCE,
        identifiers=(),
        experience=_feedback_experience(feedback, event.id),
        customer_id=feedback.customer_id,
        feedback=Feedback(
            survey_id=feedback.survey_id,
            case_id=feedback.case_id,
            rating=feedback.rating,
            comment=feedback.comment,
            negative=feedback.negative,
            order_id=feedback.order_id,
        ),
    )


def _feedback_experience(feedback: FeedbackReceived, event_id: str) -> Experience | None:
    if (found := rating_feeling(feedback.rating)) is None:
        return None
    feeling, reason = found
    return Experience(feeling, reason, feedback.occurred_at, event_id)


def without_personal_text(event: ObservedEvent) -> ObservedEvent:
    """What is recorded of a report addressed to a customer nobody holds (never seen, or erased): the
    customer's own words (a survey comment) are left out, since no one holds them for that person."""
    if event.feedback is None or event.feedback.comment is None:
        return event
    return replace(event, feedback=replace(event.feedback, comment=None))


def _request(
    event: ProfileEvent,
    at: datetime,
    by: str,
    customer_id: str,
    *,
    close: CaseClose | None = None,
    consent: ConsentDecision | None = None,
    merge_with: tuple[str, ...] = (),
    unmerge: str | None = None,
    refresh: bool = False,
) -> ObservedEvent:
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=at,
        kind=FactKind.REFRESH if refresh else FactKind.CHANGE,
        source_channel=by,
        identifiers=(),
        consent=() if consent is None else (consent,),
        customer_id=customer_id,
        case_close=close,
        merge_with=merge_with,
        unmerge=unmerge,
        refresh=refresh,
    )


def observe_change(
    change_id: str,
    source: str,
    occurred_at: datetime,
    *,
    identifiers: tuple[CustomerIdentifier, ...] = (),
    attributes: Mapping[AttributeName, str] | None = None,
    consent: Mapping[Purpose, bool] | None = None,
) -> ObservedEvent:
    """A change made by an agent or another system (a name typed in, a consent update, an assignment)."""
    return ObservedEvent(
        event_id=change_id,
        event_type=CHANGE_EVENT_TYPE,
        source=source,
        occurred_at=occurred_at,
        kind=FactKind.CHANGE,
        source_channel=source,
        identifiers=identifiers,
        attributes=tuple(
            Attribute(name, value, source, occurred_at, change_id)
            for name, value in (attributes or {}).items()
        ),
        consent=tuple(
            ConsentDecision(purpose, granted, source, occurred_at, change_id)
            for purpose, granted in (consent or {}).items()
        ),
    )


def _interaction(event: ProfileEvent, interaction: InteractionReceived) -> ObservedEvent:
    channel = interaction.channel.value
    at = interaction.occurred_at
    from_customer = interaction.direction is Direction.INBOUND and not interaction.auto_submitted
    language = language_of(interaction.language_hint)
    attributes: list[Attribute] = []
    consent: tuple[ConsentDecision, ...] = ()
    experience = None
    if from_customer:
        attributes.append(Attribute(AttributeName.PREFERRED_CHANNEL, channel, channel, at, event.id))
        if interaction.language_hint:
            hint = interaction.language_hint
            attributes.append(Attribute(AttributeName.LANGUAGE, hint, channel, at, event.id))
        if interaction.event is InteractionEvent.STORE_VISIT and interaction.location_id:
            store = interaction.location_id
            attributes.append(Attribute(AttributeName.HOME_STORE, store, channel, at, event.id))
        if interaction.channel is Channel.SMS and is_opt_out(interaction.text):
            consent = (ConsentDecision(Purpose.MARKETING, False, channel, at, event.id),)
        experience = _customer_experience(interaction, language, event.id)
    step = None
    if interaction.channel is Channel.PHONE:
        step = PhoneStep(
            step=interaction.event,
            direction=interaction.direction,
            conversation_id=interaction.conversation_id,
            occurred_at=at,
            event_id=event.id,
            callback_window_end=interaction.callback_window_end,
        )
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=at,
        kind=FactKind.INTERACTION,
        source_channel=channel,
        identifiers=tuple(interaction.identifiers),
        attributes=tuple(attributes),
        consent=consent,
        experience=experience,
        phone_step=step,
        contact=Contact(
            channel=interaction.channel,
            direction=interaction.direction,
            step=interaction.event,
            thread_id=interaction.thread_id,
            conversation_id=interaction.conversation_id,
            subject=interaction.subject,
            text=interaction.text,
            auto_submitted=interaction.auto_submitted,
            has_attachments=bool(interaction.attachments),
            language=language,
            source_message_id=interaction.source_message_id,
            callback_window_start=interaction.callback_window_start,
            callback_window_end=interaction.callback_window_end,
        ),
    )


def _customer_experience(
    interaction: InteractionReceived, language: Language | None, event_id: str
) -> Experience | None:
    if interaction.event is InteractionEvent.CALL_MISSED:
        return Experience(Feeling.BAD, ExperienceReason.UNANSWERED_CALL, interaction.occurred_at, event_id)
    words = f"{interaction.subject or ''}\n{interaction.text or ''}"
    if (found := feeling_in(words, language)) is None:
        return None
    feeling, reason = found
    return Experience(feeling, reason, interaction.occurred_at, event_id)


def _order(event: ProfileEvent, order: OrderRecorded) -> ObservedEvent:
    experience = None
    if order.status is OrderStatus.DELIVERED:
        experience = Experience(Feeling.GOOD, ExperienceReason.ORDER_DELIVERED, order.occurred_at, event.id)
    return ObservedEvent(
        event_id=event.id,
        event_type=event.type,
        source=event.source,
        occurred_at=order.occurred_at,
        kind=FactKind.ORDER,
        source_channel=ORDER_SOURCE,
        identifiers=tuple(order.identifiers),
        order=OrderChange(
            order_id=order.order_id,
            status=order.status,
            amount=order.amount,
            currency=order.currency,
            reference=order.reference,
            occurred_at=order.occurred_at,
            event_id=event.id,
        ),
        experience=experience,
    )
