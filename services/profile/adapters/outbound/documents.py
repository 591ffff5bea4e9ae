"""Profile facts and timeline entries as MongoDB documents, and back.

Inside the portable subset: no field name comes from data (facts keyed by event id are lists, not maps,
since an id may hold ``.`` or ``$``), amounts are decimal text (never floats), instants are UTC dates.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.cases import CaseCategory, CaseChanged, CaseStatus
from schemas.catalog import event_type
from schemas.commerce import OrderDelivered, OrderStatus
from schemas.customers import ExperienceReason, ProfileChanged, Purpose
from schemas.envelope import Event
from schemas.identifiers import ALREADY_NORMALISED, SCOPED_KINDS, CustomerIdentifier, IdentifierKind
from schemas.interactions import Channel, Direction, InteractionEvent
from schemas.notifications import ExpectedAnswerKind, MessageKind, NotificationStatus
from schemas.routing import AssignmentChange
from services.common.mongo import Document
from services.profile.core.attributes import Attribute, AttributeName
from services.profile.core.cases import Case
from services.profile.core.consent import ConsentDecision, ConsentLog, MergedConsent
from services.profile.core.experience import Experience, Feeling, PhoneStep
from services.profile.core.identity import Link, LinkRule
from services.profile.core.ids import identifier_guid
from services.profile.core.merge import MergeRecord
from services.profile.core.observe import (
    Assignment,
    ExpectedAnswerNote,
    FactKind,
    Feedback,
    Notification,
    ObservedEvent,
)
from services.profile.core.profile import Profile, ProfileFacts
from services.profile.core.value import OrderChange
from services.profile.core.wording import Language
from services.profile.ports import (
    CustomerWrite,
    KeptOutbox,
    OutboxEntry,
    Outgoing,
    StoredCustomer,
    StoredMerge,
)

# The parts of the facts stored as lists and maps, each made from one field of the facts: a write leaves
# out those equal to the stored customer's it was planned from (``customer_document``).
_FACT_PARTS: dict[str, Callable[[ProfileFacts], Any]] = {
    "identifiers": lambda facts: [
        _identifier(i) for i in sorted(facts.identifiers, key=lambda i: (i.key, i.unparsed))
    ],
    "attributes": lambda facts: {
        name.value: _attribute(attribute) for name, attribute in sorted(facts.attributes.items())
    },
    "consent": lambda facts: {
        purpose.value: _consent(decision) for purpose, decision in sorted(facts.consent.items())
    },
    "consent_log": lambda facts: _consent_log(facts.decisions),
    "orders": lambda facts: [_order(facts.orders[event_id]) for event_id in sorted(facts.orders)],
    "experiences": lambda facts: [
        _experience(facts.experiences[event_id]) for event_id in sorted(facts.experiences)
    ],
    "phone_steps": lambda facts: [
        _phone_step(facts.phone_steps[event_id]) for event_id in sorted(facts.phone_steps)
    ],
}
_FACT_SOURCES: dict[str, Callable[[ProfileFacts], object]] = {
    "identifiers": lambda facts: facts.identifiers,
    "attributes": lambda facts: facts.attributes,
    "consent": lambda facts: facts.consent,
    "consent_log": lambda facts: facts.decisions,
    "orders": lambda facts: facts.orders,
    "experiences": lambda facts: facts.experiences,
    "phone_steps": lambda facts: facts.phone_steps,
}


def facts_document(profile: Profile, leave_out: Collection[str] = ()) -> Document:
    """The stored part of a profile: its facts (without event ids) and the views at ``as_of``; without
    the parts named in ``leave_out``."""
    facts = profile.facts
    snapshot = profile.view
    value = profile.value
    parts = {name: make(facts) for name, make in _FACT_PARTS.items() if name not in leave_out}
    return {
        **parts,
        "first_seen": facts.first_seen,
        "last_seen": facts.last_seen,
        "summary": {
            "tier": snapshot.tier.value,
            "historic_value": str(snapshot.historic_value),
            "predicted_lifetime_value": str(snapshot.predicted_lifetime_value),
            # Numbers for comparisons and sorting in queries (OData $filter); the text stays exact.
            "historic_value_amount": float(snapshot.historic_value),
            "predicted_lifetime_value_amount": float(snapshot.predicted_lifetime_value),
            "recency_days": value.recency_days,
            "frequency": value.frequency,
            "monetary": str(value.monetary),
            "orders_without_rate": value.orders_without_rate,
            "lifecycle": snapshot.lifecycle.value,
            "needs_recovery": snapshot.needs_recovery,
            "recovery_reason": snapshot.recovery_reason.value if snapshot.recovery_reason else None,
            "language": snapshot.language,
            "preferred_channel": snapshot.preferred_channel,
            "last_agent": snapshot.last_agent,
            "as_of": snapshot.as_of,
        },
    }


def _identifier(identifier: CustomerIdentifier) -> Document:
    """As ``model_dump(mode="json")`` makes it, without pydantic's cost for every identifier."""
    return {
        "kind": identifier.kind.value,
        "unparsed": identifier.unparsed,
        "value": identifier.value,
        "scope": identifier.scope,
    }


def facts_from_document(document: Document) -> ProfileFacts:
    return ProfileFacts(
        identifiers=frozenset(
            CustomerIdentifier.model_validate(raw, context=ALREADY_NORMALISED)
            for raw in document.get("identifiers", [])
        ),
        first_seen=document.get("first_seen"),
        last_seen=document.get("last_seen"),
        attributes={
            AttributeName(name): Attribute(
                AttributeName(name), raw["value"], raw["source"], raw["occurred_at"], raw["event_id"]
            )
            for name, raw in document.get("attributes", {}).items()
        },
        consent={
            Purpose(purpose): ConsentDecision(
                Purpose(purpose), raw["granted"], raw["source"], raw["occurred_at"], raw["event_id"]
            )
            for purpose, raw in document.get("consent", {}).items()
        },
        # Older documents kept only the effective decisions: they are then the customer's own.
        consent_log=_consent_log_from(raw_log) if (raw_log := document.get("consent_log")) else None,
        orders={raw["event_id"]: _order_from(raw) for raw in document.get("orders", [])},
        experiences={
            raw["event_id"]: Experience(
                Feeling(raw["feeling"]), ExperienceReason(raw["reason"]), raw["occurred_at"], raw["event_id"]
            )
            for raw in document.get("experiences", [])
        },
        phone_steps={raw["event_id"]: _phone_step_from(raw) for raw in document.get("phone_steps", [])},
    )


def timeline_document(event: ObservedEvent, customer_id: str, case_id: str | None) -> Document:
    contact = event.contact
    return {
        "_id": event.event_id,
        "customer_id": customer_id,
        "case_id": case_id,
        "occurred_at": event.occurred_at,
        "kind": event.kind.value,
        "type": event.event_type,
        "source": event.source,
        "channel": event.source_channel,
        "identifiers": sorted({identifier.key for identifier in event.identifiers}),
        "identified_as": [
            _identifier(identifier)
            for identifier in sorted(set(event.identifiers), key=lambda i: (i.key, i.unparsed))
        ],
        "attributes": [
            _attribute(attribute) | {"name": attribute.name.value} for attribute in event.attributes
        ],
        "consent": [_consent(decision) | {"purpose": decision.purpose.value} for decision in event.consent],
        "order": None if event.order is None else _order(event.order),
        "experience": None if event.experience is None else _experience(event.experience),
        "phone_step": None if event.phone_step is None else _phone_step(event.phone_step),
        "web": None
        if event.web is None
        else {
            "session_id": event.web.session_id,
            "activity": event.web.activity,
            "url": event.web.url,
            "sku": event.web.sku,
        },
        "case_close": None
        if event.case_close is None
        else {"case_id": event.case_close.case_id, "reason": event.case_close.reason},
        "assignment": None if event.assignment is None else _assignment(event.assignment),
        "notification": None if event.notification is None else _notification(event.notification),
        "feedback": None if event.feedback is None else _feedback(event.feedback),
        "contact": None
        if contact is None
        else {
            "channel": contact.channel.value,
            "direction": contact.direction.value,
            "step": contact.step.value,
            "thread_key": contact.thread_key,
            "subject": contact.subject,
            "text": contact.text,
            "auto_submitted": contact.auto_submitted,
            "has_attachments": contact.has_attachments,
            "language": contact.language.value if contact.language else None,
        },
    }


def _assignment(assignment: Assignment) -> dict[str, Any]:
    return {
        "change": assignment.change.value,
        "case_id": assignment.case_id,
        "queue": assignment.queue,
        "agent_id": assignment.agent_id,
        "reason": assignment.reason,
    }


def _assignment_from(raw: Document) -> Assignment:
    return Assignment(
        change=AssignmentChange(raw["change"]),
        case_id=raw["case_id"],
        queue=raw["queue"],
        agent_id=raw["agent_id"],
        reason=raw["reason"],
    )


def _notification(notification: Notification) -> dict[str, Any]:
    expected = notification.expected_answer
    return {
        "notification_id": notification.notification_id,
        "case_id": notification.case_id,
        "kind": notification.kind.value,
        "channel": notification.channel.value,
        "language": notification.language,
        "status": notification.status.value,
        "reason": notification.reason,
        "subject": notification.subject,
        "text": notification.text,
        "expected_answer": None
        if expected is None
        else {
            "kind": expected.kind.value,
            "earliest": expected.earliest,
            "latest": expected.latest,
            "said": expected.said,
        },
        "promise_id": notification.promise_id,
        "attempts": notification.attempts,
    }


def _notification_from(raw: Document) -> Notification:
    expected: Document | None = raw["expected_answer"]
    return Notification(
        notification_id=raw["notification_id"],
        case_id=raw["case_id"],
        kind=MessageKind(raw["kind"]),
        channel=Channel(raw["channel"]),
        language=raw["language"],
        status=NotificationStatus(raw["status"]),
        reason=raw["reason"],
        subject=raw["subject"],
        text=raw["text"],
        expected_answer=None
        if expected is None
        else ExpectedAnswerNote(
            kind=ExpectedAnswerKind(expected["kind"]),
            earliest=expected["earliest"],
            latest=expected["latest"],
            said=expected["said"],
        ),
        promise_id=raw["promise_id"],
        attempts=raw["attempts"],
    )


def _feedback(feedback: Feedback) -> dict[str, Any]:
    return {
        "survey_id": feedback.survey_id,
        "case_id": feedback.case_id,
        "rating": feedback.rating,
        "comment": feedback.comment,
        "negative": feedback.negative,
        "order_id": feedback.order_id,
    }


def _feedback_from(raw: Document) -> Feedback:
    return Feedback(
        survey_id=raw["survey_id"],
        case_id=raw["case_id"],
        rating=raw["rating"],
        comment=raw["comment"],
        negative=raw["negative"],
        order_id=raw.get("order_id"),  # absent from answers recorded before orders were asked about
    )


def _attribute(attribute: Attribute) -> dict[str, Any]:
    return {"value": attribute.value, **_provenance(attribute)}


def _consent(decision: ConsentDecision) -> dict[str, Any]:
    return {"granted": decision.granted, **_provenance(decision)}


def _consent_log(log: ConsentLog) -> dict[str, Any]:
    return {
        "decisions": [
            _consent(decision) | {"purpose": decision.purpose.value}
            for decision in sorted(log.decisions, key=lambda d: (d.purpose, d.rank))
        ],
        "merged": [
            {
                "customer_id": child.customer_id,
                "merged_at": child.merged_at,
                "keys": sorted(child.keys),
                "survivor_keys": sorted(child.survivor_keys),
                "log": _consent_log(child.log),
            }
            for child in log.merged
        ],
    }


def _consent_log_from(raw: Document) -> ConsentLog:
    return ConsentLog(
        frozenset(
            ConsentDecision(Purpose(d["purpose"]), d["granted"], d["source"], d["occurred_at"], d["event_id"])
            for d in raw.get("decisions", [])
        ),
        tuple(
            MergedConsent(
                child["customer_id"],
                child["merged_at"],
                frozenset(child["keys"]),
                frozenset(child["survivor_keys"]),
                _consent_log_from(child["log"]),
            )
            for child in raw.get("merged", [])
        ),
    )


def _provenance(stamped: Attribute | ConsentDecision) -> dict[str, Any]:
    """Where a stored value came from: its source, event time and event."""
    return {"source": stamped.source, "occurred_at": stamped.occurred_at, "event_id": stamped.event_id}


def _order(order: OrderChange) -> dict[str, Any]:
    return {
        "event_id": order.event_id,
        "order_id": order.order_id,
        "status": order.status.value,
        "amount": str(order.amount),
        "currency": order.currency,
        "reference": order.reference,
        "occurred_at": order.occurred_at,
    }


def _order_from(raw: Document) -> OrderChange:
    return OrderChange(
        order_id=raw["order_id"],
        status=OrderStatus(raw["status"]),
        amount=Decimal(raw["amount"]),
        currency=raw["currency"],
        reference=raw["reference"],
        occurred_at=raw["occurred_at"],
        event_id=raw["event_id"],
    )


def _experience(experience: Experience) -> dict[str, Any]:
    return {
        "event_id": experience.event_id,
        "feeling": experience.feeling.value,
        "reason": experience.reason.value,
        "occurred_at": experience.occurred_at,
    }


def _phone_step(step: PhoneStep) -> dict[str, Any]:
    return {
        "event_id": step.event_id,
        "step": step.step.value,
        "direction": step.direction.value,
        "conversation_id": step.conversation_id,
        "occurred_at": step.occurred_at,
        "callback_window_end": step.callback_window_end,
    }


def _phone_step_from(raw: Document) -> PhoneStep:
    window_end: datetime | None = raw["callback_window_end"]
    return PhoneStep(
        step=InteractionEvent(raw["step"]),
        direction=Direction(raw["direction"]),
        conversation_id=raw["conversation_id"],
        occurred_at=raw["occurred_at"],
        event_id=raw["event_id"],
        callback_window_end=window_end,
    )


def case_document(case: Case) -> Document:
    return {
        "case_id": case.case_id,
        "customer_id": case.customer_id,
        "category": case.category.value,
        "channel": case.channel.value,
        "thread_key": case.thread_key,
        "language": case.language.value if case.language else None,
        "opened_at": case.opened_at,
        "opened_by": case.opened_by,
        "last_activity_at": case.last_activity_at,
        "event_ids": sorted(case.event_ids),
        "status": case.status.value,
        "closed_at": case.closed_at,
        "close_reason": case.close_reason,
        "reopened_by": sorted(case.reopened_by),
    }


def case_from_document(raw: Document) -> Case:
    language: str | None = raw["language"]
    return Case(
        case_id=raw["case_id"],
        customer_id=raw["customer_id"],
        category=CaseCategory(raw["category"]),
        channel=Channel(raw["channel"]),
        thread_key=raw["thread_key"],
        language=Language(language) if language else None,
        opened_at=raw["opened_at"],
        opened_by=raw["opened_by"],
        last_activity_at=raw["last_activity_at"],
        event_ids=frozenset(raw["event_ids"]),
        status=CaseStatus(raw["status"]),
        closed_at=raw["closed_at"],
        close_reason=raw["close_reason"],
        reopened_by=frozenset(raw.get("reopened_by", ())),  # absent from cases stored before reopening
    )


def outbox_document(entry: OutboxEntry) -> Document:
    """The messages as one compressed JSON list of ``[type, event]`` pairs: they are read back only after a
    crash, yet every write of the customer rewrites them, and compressed they are a third of the size."""
    pairs = [[message.type, message.model_dump_json()] for message in entry.messages]
    return {
        "event_ids": sorted(entry.event_ids),
        "written_at": entry.written_at,
        "messages": zlib.compress(json.dumps(pairs, separators=(",", ":")).encode()),
    }


def outbox_from_document(raw: Document) -> KeptOutbox:
    def messages() -> tuple[Outgoing, ...]:
        packed = raw.get("messages")
        if packed is None:
            raise ValueError("outbox read without its messages (see MongoProfileStore.customers)")
        if isinstance(packed, list):  # written before 2026-11-24, uncompressed
            return tuple(_event(message["type"], message["event"]) for message in packed)
        return tuple(_event(type_name, text) for type_name, text in json.loads(zlib.decompress(packed)))

    return KeptOutbox(frozenset(raw["event_ids"]), messages, raw.get("written_at"))


def outbox_without_messages(entry: OutboxEntry) -> KeptOutbox:
    """An entry as a read without its messages returns it."""
    return outbox_from_document({"event_ids": entry.event_ids, "written_at": entry.written_at})


def _event(type_name: str, text: str) -> Outgoing:
    model = event_type(type_name).model
    if model is CaseChanged:
        return Event[CaseChanged].model_validate_json(text, context=ALREADY_NORMALISED)
    if model is OrderDelivered:
        return Event[OrderDelivered].model_validate_json(text, context=ALREADY_NORMALISED)
    return Event[ProfileChanged].model_validate_json(text, context=ALREADY_NORMALISED)


def stored_customer(document: Document) -> StoredCustomer:
    counts: dict[str, int] | None = document.get("link_counts")
    return StoredCustomer(
        customer_id=document["_id"],
        facts=facts_from_document(document),
        version=document["version"],
        merged_into=document.get("merged_into"),
        cases={raw["case_id"]: case_from_document(raw) for raw in document.get("cases", [])},
        link_counts=None if counts is None else {IdentifierKind(kind): n for kind, n in counts.items()},
        published=document.get("published"),
        outbox=tuple(outbox_from_document(raw) for raw in document.get("outbox", [])),
        kept_apart=frozenset(document.get("kept_apart", [])),
        write_id=(document.get("write_ids") or [None])[-1],
    )


def customer_document(write: CustomerWrite, planned_from: StoredCustomer | None = None) -> Document:
    """Everything a write stores except the version, its writer ids and the outbox. With ``planned_from``
    (the customer as stored, as this code wrote it), without the lists and maps that equal its: most
    writes change a date or a case, and making, sending and applying every order and identifier again
    was most of a write's cost on both sides."""
    leave_out = set() if planned_from is None else _unchanged_parts(write, planned_from)
    document = facts_document(write.profile, leave_out) | {
        "merged_into": write.merged_into,
        "link_counts": {kind.value: n for kind, n in sorted(write.link_counts.items()) if n},
        "published": dict(write.published),
        "kept_apart": sorted(write.kept_apart),
        "refresh_at": write.refresh_at,
    }
    if "cases" not in leave_out:
        document["cases"] = [case_document(write.cases[case_id]) for case_id in sorted(write.cases)]
    return document


def _unchanged_parts(write: CustomerWrite, planned_from: StoredCustomer) -> set[str]:
    facts, before = write.profile.facts, planned_from.facts
    unchanged = {name for name, source in _FACT_SOURCES.items() if _same(source(facts), source(before))}
    if _same(write.cases, planned_from.cases):
        unchanged.add("cases")
    return unchanged


def _same(first: object, second: object) -> bool:
    # Most parts a write leaves alone are the very objects it was planned from.
    return first is second or first == second


def link_document(link: Link) -> Document:
    scope, value = identifier_parts(link.kind, link.key)
    return {
        "_id": link.key,
        # The key's parts and its UUID, for queries by value and by OData key.
        "guid": identifier_guid(link.key),
        "value": value,
        "scope": scope,
        "customer_id": link.customer_id,
        "kind": link.kind.value,
        "event_id": link.event_id,
        "channel": link.channel,
        "rule": link.rule.value,
        "linked_at": link.linked_at,
    }


def identifier_parts(kind: IdentifierKind, key: str) -> tuple[str | None, str]:
    """(scope, value) of an identifier key (``kind:[scope:]value``)."""
    rest = key.removeprefix(f"{kind.value}:")
    if kind in SCOPED_KINDS:
        scope, _, value = rest.partition(":")
        return scope, value
    return None, rest


def link_from_document(document: Document) -> Link:
    return Link(
        key=document["_id"],
        kind=IdentifierKind(document["kind"]),
        customer_id=document["customer_id"],
        event_id=document["event_id"],
        channel=document["channel"],
        rule=LinkRule(document["rule"]),
        linked_at=document["linked_at"],
    )


def merge_document(record: MergeRecord) -> Document:
    return {
        "_id": record.merge_id,
        "survivor_id": record.survivor_id,
        "merged_away_id": record.merged_away_id,
        "merged_at": record.merged_at,
        "cause_event_id": record.cause_event_id,
        "survivor_event_ids": sorted(record.survivor_event_ids),
        "merged_away_event_ids": sorted(record.merged_away_event_ids),
        "survivor_links": [link_document(link) for link in record.survivor_links],
        "merged_away_links": [link_document(link) for link in record.merged_away_links],
        "survivor_case_ids": sorted(record.survivor_case_ids),
        "merged_away_case_ids": sorted(record.merged_away_case_ids),
        "undone_at": None,
    }


def merge_from_document(document: Document) -> StoredMerge:
    record = MergeRecord(
        merge_id=document["_id"],
        survivor_id=document["survivor_id"],
        merged_away_id=document["merged_away_id"],
        merged_at=document["merged_at"],
        cause_event_id=document["cause_event_id"],
        survivor_event_ids=frozenset(document["survivor_event_ids"]),
        merged_away_event_ids=frozenset(document["merged_away_event_ids"]),
        survivor_links=tuple(link_from_document(raw) for raw in document["survivor_links"]),
        merged_away_links=tuple(link_from_document(raw) for raw in document["merged_away_links"]),
        survivor_case_ids=frozenset(document["survivor_case_ids"]),
        merged_away_case_ids=frozenset(document["merged_away_case_ids"]),
    )
    return StoredMerge(record, document.get("undone_at"))


def observed_from_timeline(document: Document) -> ObservedEvent:
    """The facts a timeline entry recorded, enough to fold the profile again (an unmerge does)."""
    order, experience, step = document.get("order"), document.get("experience"), document.get("phone_step")
    assignment, notification = document.get("assignment"), document.get("notification")
    feedback = document.get("feedback")
    return ObservedEvent(
        event_id=document["_id"],
        event_type=document["type"],
        source=document["source"],
        occurred_at=document["occurred_at"],
        kind=FactKind(document["kind"]),
        source_channel=document["channel"],
        identifiers=tuple(
            CustomerIdentifier.model_validate(raw, context=ALREADY_NORMALISED)
            for raw in document.get("identified_as", [])
        ),
        attributes=tuple(
            Attribute(
                AttributeName(raw["name"]), raw["value"], raw["source"], raw["occurred_at"], raw["event_id"]
            )
            for raw in document.get("attributes", [])
        ),
        consent=tuple(
            ConsentDecision(
                Purpose(raw["purpose"]), raw["granted"], raw["source"], raw["occurred_at"], raw["event_id"]
            )
            for raw in document.get("consent", [])
        ),
        order=None if order is None else _order_from(order),
        experience=None
        if experience is None
        else Experience(
            Feeling(experience["feeling"]),
            ExperienceReason(experience["reason"]),
            experience["occurred_at"],
            experience["event_id"],
        ),
        phone_step=None if step is None else _phone_step_from(step),
        assignment=None if assignment is None else _assignment_from(assignment),
        notification=None if notification is None else _notification_from(notification),
        feedback=None if feedback is None else _feedback_from(feedback),
    )


def _stamp(raw: Document) -> tuple[str, datetime, str]:
    """Source, event time and event id of a stored value."""
    return raw["source"], raw["occurred_at"], raw["event_id"]
