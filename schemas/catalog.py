"""The one declaration of Helhet's topics and event types.

Topic provisioning, the AsyncAPI document, the JSON Schemas and the codec's type lookup all read this
module, so adding an event or a topic happens here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.cases import CaseChanged, CaseCloseRequested
from schemas.commerce import OrderDelivered, OrderRecorded, WebActivityRecorded
from schemas.customers import (
    ConsentRecorded,
    MergeRequested,
    ProfileChanged,
    ProfileRefreshDue,
    UnmergeRequested,
)
from schemas.envelope import Payload
from schemas.feedback import FeedbackReceived
from schemas.interactions import InteractionReceived
from schemas.notifications import NotificationChanged
from schemas.routing import AssignmentChanged, QueueStats

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class EventType:
    name: str
    model: type[Payload]
    topic: str
    summary: str


@dataclass(frozen=True)
class TopicSpec:
    name: str
    summary: str
    partitions: int = 6
    compacted: bool = False
    # Every consumed topic gets a dead-letter twin for messages its consumers cannot process.
    consumed: bool = True
    config: dict[str, str] = field(default_factory=dict)

    @property
    def kafka_config(self) -> dict[str, str]:
        """The topic-level configuration it is created with (and aligned to)."""
        return {"cleanup.policy": "compact" if self.compacted else "delete", **self.config}

    @property
    def dlq(self) -> TopicSpec | None:
        if not self.consumed:
            return None
        return TopicSpec(
            name=self.name + DLQ_SUFFIX,
            summary=f"Dead letters of {self.name}: original coordinates and error class, no personal data.",
            partitions=1,
            consumed=False,
            config={"retention.ms": "-1"},
        )


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("interactions.v1", "Every customer contact on every channel, normalised by ingest."),
    TopicSpec("orders.v1", "Orders placed, delivered, returned and refunded."),
    TopicSpec("web-activity.v1", "Page views and cart events, batched.", partitions=12),
    TopicSpec(
        "profiles.v1",
        "The latest profile of each customer, keyed by customer id; tombstones erase.",
        compacted=True,
    ),
    TopicSpec("cases.v1", "Case opened, changed, resolved."),
    TopicSpec(
        "profile-requests.v1",
        "Changes asked of profile by its API and other systems (case closes, consent decisions, merges "
        "and unmerges), and by itself (a look again when time alone moves a profile), keyed by customer id.",
    ),
    TopicSpec("assignments.v1", "Offers, acceptances and assignments of cases to agents."),
    TopicSpec("queue-stats.v1", "Backlog and throughput per queue, for honest answer times."),
    TopicSpec("notifications.v1", "What customers were told, on which channel, and its delivery state."),
    TopicSpec("feedback.v1", "Customers' answers to satisfaction surveys, keyed by customer id."),
    TopicSpec("deliveries.v1", "Orders delivered to known customers (profile), keyed by customer id."),
)

EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name="helhet.interaction.received.v1",
        model=InteractionReceived,
        topic="interactions.v1",
        summary="A customer contact as received on one channel.",
    ),
    EventType(
        name="helhet.order.recorded.v1",
        model=OrderRecorded,
        topic="orders.v1",
        summary="An order placed, delivered, returned or refunded.",
    ),
    EventType(
        name="helhet.web_activity.recorded.v1",
        model=WebActivityRecorded,
        topic="web-activity.v1",
        summary="A page view or cart event of a visitor.",
    ),
    EventType(
        name="helhet.profile.changed.v1",
        model=ProfileChanged,
        topic="profiles.v1",
        summary="The latest profile of a customer and the fields that changed.",
    ),
    EventType(
        name="helhet.case.changed.v1",
        model=CaseChanged,
        topic="cases.v1",
        summary="A case opened, joined by another contact, closed or moved to another customer.",
    ),
    EventType(
        name="helhet.case.close_requested.v1",
        model=CaseCloseRequested,
        topic="profile-requests.v1",
        summary="Close a case: an agent or another system decided it is done.",
    ),
    EventType(
        name="helhet.profile.consent_recorded.v1",
        model=ConsentRecorded,
        topic="profile-requests.v1",
        summary="A consent decision given outside the channels.",
    ),
    EventType(
        name="helhet.profile.merge_requested.v1",
        model=MergeRequested,
        topic="profile-requests.v1",
        summary="Merge customers known to be one person.",
    ),
    EventType(
        name="helhet.profile.refresh_due.v1",
        model=ProfileRefreshDue,
        topic="profile-requests.v1",
        summary="Look at a customer again: time alone may have moved the profile.",
    ),
    EventType(
        name="helhet.profile.unmerge_requested.v1",
        model=UnmergeRequested,
        topic="profile-requests.v1",
        summary="Undo a merge exactly.",
    ),
    EventType(
        name="helhet.assignment.changed.v1",
        model=AssignmentChanged,
        topic="assignments.v1",
        summary="A case offered to an agent, accepted, declined, expired, withdrawn, completed, or waiting "
        "with nobody eligible (and what the queue did about it), with the why-this-agent record.",
    ),
    EventType(
        name="helhet.queue.stats.v1",
        model=QueueStats,
        topic="queue-stats.v1",
        summary="A queue's backlog, throughput and staffing, for honest answer times.",
    ),
    EventType(
        name="helhet.notification.changed.v1",
        model=NotificationChanged,
        topic="notifications.v1",
        summary="A message notify sent to a customer (or could not send): kind, channel, language, text, "
        "the answer time it promised, and its delivery state.",
    ),
    EventType(
        name="helhet.feedback.received.v1",
        model=FeedbackReceived,
        topic="feedback.v1",
        summary="A customer's answer to a satisfaction survey: rating 1-5 and an optional comment.",
    ),
    EventType(
        name="helhet.order.delivered.v1",
        model=OrderDelivered,
        topic="deliveries.v1",
        summary="An order delivered to a customer profile knows, with where and how to ask about it.",
    ),
)


def all_topics() -> tuple[TopicSpec, ...]:
    """Declared topics followed by their dead-letter twins."""
    twins = tuple(dlq for topic in TOPICS if (dlq := topic.dlq) is not None)
    return TOPICS + twins


def event_type(name: str) -> EventType:
    """Look up a declared event type; ``KeyError`` when unknown."""
    return _BY_NAME[name]


def event_type_of(model: type[Payload]) -> EventType:
    return _BY_MODEL[model]


_BY_NAME = {declared.name: declared for declared in EVENT_TYPES}
_BY_MODEL = {declared.model: declared for declared in EVENT_TYPES}
