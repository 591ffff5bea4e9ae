"""Where each OData entity set lives in profile's collections: properties mapped onto stored fields,
stored documents turned into flat rows, and a checked filter (core.odata_query) turned into a MongoDB
filter — or evaluated on documents already read, when a key narrowed them to a few.

Only the checked expression reaches the database: values as typed literals, text matches as regexes of
escaped text (case-insensitive), never ``$where`` or user text as an operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.identifiers import IdentifierKind
from services.common.mongo import Document
from services.profile.adapters.outbound.documents import identifier_parts
from services.profile.core.ids import identifier_guid
from services.profile.core.odata_model import CASES, CUSTOMERS, IDENTIFIERS, INTERACTIONS, EdmType, EntitySet
from services.profile.core.odata_query import (
    AllOf,
    AnyOf,
    Comparison,
    Filter,
    Membership,
    Negation,
    Op,
    TextHow,
    TextMatch,
)
from services.profile.indexes import CUSTOMERS_COLLECTION, LINKS_COLLECTION, TIMELINE_COLLECTION
from services.profile.ports import Row

_OPERATORS = {Op.GT: "$gt", Op.GE: "$gte", Op.LT: "$lt", Op.LE: "$lte"}


@dataclass(frozen=True)
class Scalar:
    """A property stored at one path."""

    path: str


@dataclass(frozen=True)
class IdentifierOfKind:
    """A property that is any of the customer's identifiers of one kind (Email, Phone)."""

    kind: IdentifierKind


@dataclass(frozen=True)
class NonEmpty:
    """A Boolean property that is true when a stored list has elements."""

    path: str


Field = Scalar | IdentifierOfKind | NonEmpty


@dataclass(frozen=True)
class Source:
    """Where an entity set's rows live and how a stored document becomes a row."""

    collection: str
    base: Document  # every row satisfies this (merged-away customers are not rows)
    fields: Mapping[str, Field]
    row: Callable[[Document], Row]
    # Properties whose equality narrows the documents that can match to a few, read by a query naming
    # only this field: mongo-java-server uses an index (its unique ones; it ignores the others) only
    # for a query naming exactly the indexed fields.
    keys: Mapping[str, str]
    unwind: str | None = None  # rows are the elements of this list (cases inside their customer)

    def live(self, document: Document) -> bool:
        return not self.base or document.get("merged_into") is None


def _value(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text).quantize(Decimal("0.01"))


def _cut(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]


def _identifier(document: Document, kind: IdentifierKind) -> str | None:
    values = sorted(i["value"] for i in document.get("identifiers", []) if i["kind"] == kind.value)
    return values[0] if values else None


def _consent(document: Document, purpose: str) -> bool | None:
    decision = document.get("consent", {}).get(purpose)
    return None if decision is None else bool(decision["granted"])


def _customer_row(document: Document) -> Row:
    summary: Document = document.get("summary") or {}
    name = (document.get("attributes", {}).get("name") or {}).get("value")
    return {
        "Id": document["_id"],
        "Name": _cut(name, 300),
        "Email": _identifier(document, IdentifierKind.EMAIL),
        "Phone": _identifier(document, IdentifierKind.PHONE),
        "Tier": summary.get("tier"),
        "HistoricValue": _value(summary.get("historic_value")),
        "PredictedLifetimeValue": _value(summary.get("predicted_lifetime_value")),
        "Lifecycle": summary.get("lifecycle"),
        "NeedsRecovery": bool(summary.get("needs_recovery", False)),
        "RecoveryReason": summary.get("recovery_reason"),
        "Language": summary.get("language"),
        "PreferredChannel": summary.get("preferred_channel"),
        "LastAgent": _cut(summary.get("last_agent"), 200),
        "FirstSeen": document.get("first_seen"),
        "LastSeen": document.get("last_seen"),
        "ConsentServiceMessages": _consent(document, "service_messages"),
        "ConsentMarketing": _consent(document, "marketing"),
        "ConsentProfiling": _consent(document, "profiling"),
    }


def _identifier_row(document: Document) -> Row:
    kind = IdentifierKind(document["kind"])
    scope, value = identifier_parts(kind, document["_id"])
    return {
        "Id": document.get("guid") or identifier_guid(document["_id"]),
        "CustomerId": document["customer_id"],
        "Kind": kind.value,
        "Value": value,
        "Scope": scope,
        "Channel": document["channel"],
        "Rule": document["rule"],
        "LinkedAt": document["linked_at"],
    }


def _interaction_row(document: Document) -> Row:
    contact: Document = document.get("contact") or {}
    assignment: Document = document.get("assignment") or {}
    feedback: Document = document.get("feedback") or {}
    return {
        "Id": document["_id"],
        "CustomerId": document["customer_id"],
        "CaseId": document.get("case_id"),
        "OccurredAt": document["occurred_at"],
        "Kind": document["kind"],
        "Type": _cut(document["type"], 100),
        "Channel": _cut(document["channel"], 50),
        "Source": _cut(document["source"], 200),
        "Direction": contact.get("direction"),
        "Subject": _cut(contact.get("subject"), 255),
        "Excerpt": _cut(contact.get("text"), 255),
        "AgentId": _cut(assignment.get("agent_id"), 200),
        "Rating": feedback.get("rating"),
    }


def _case_row(document: Document) -> Row:
    case: Document = document["cases"]
    return {
        "Id": case["case_id"],
        "CustomerId": case["customer_id"],
        "Category": case["category"],
        "Channel": case["channel"],
        "Status": case["status"],
        "Language": case["language"],
        "OpenedAt": case["opened_at"],
        "LastActivityAt": case["last_activity_at"],
        "ClosedAt": case["closed_at"],
        "CloseReason": _cut(case["close_reason"], 100),
        "Reopened": bool(case.get("reopened_by")),
    }


_LIVE_CUSTOMER: Document = {"merged_into": None}

SOURCES: dict[str, Source] = {
    CUSTOMERS.name: Source(
        CUSTOMERS_COLLECTION,
        _LIVE_CUSTOMER,
        {
            "Id": Scalar("_id"),
            "Name": Scalar("attributes.name.value"),
            "Email": IdentifierOfKind(IdentifierKind.EMAIL),
            "Phone": IdentifierOfKind(IdentifierKind.PHONE),
            "Tier": Scalar("summary.tier"),
            "HistoricValue": Scalar("summary.historic_value_amount"),
            "PredictedLifetimeValue": Scalar("summary.predicted_lifetime_value_amount"),
            "Lifecycle": Scalar("summary.lifecycle"),
            "NeedsRecovery": Scalar("summary.needs_recovery"),
            "RecoveryReason": Scalar("summary.recovery_reason"),
            "Language": Scalar("summary.language"),
            "PreferredChannel": Scalar("summary.preferred_channel"),
            "LastAgent": Scalar("summary.last_agent"),
            "FirstSeen": Scalar("first_seen"),
            "LastSeen": Scalar("last_seen"),
            "ConsentServiceMessages": Scalar("consent.service_messages.granted"),
            "ConsentMarketing": Scalar("consent.marketing.granted"),
            "ConsentProfiling": Scalar("consent.profiling.granted"),
        },
        _customer_row,
        {"Id": "_id"},
    ),
    IDENTIFIERS.name: Source(
        LINKS_COLLECTION,
        {},
        {
            "Id": Scalar("guid"),
            "CustomerId": Scalar("customer_id"),
            "Kind": Scalar("kind"),
            "Value": Scalar("value"),
            "Scope": Scalar("scope"),
            "Channel": Scalar("channel"),
            "Rule": Scalar("rule"),
            "LinkedAt": Scalar("linked_at"),
        },
        _identifier_row,
        {"Id": "guid", "CustomerId": "customer_id"},
    ),
    INTERACTIONS.name: Source(
        TIMELINE_COLLECTION,
        {},
        {
            "Id": Scalar("_id"),
            "CustomerId": Scalar("customer_id"),
            "CaseId": Scalar("case_id"),
            "OccurredAt": Scalar("occurred_at"),
            "Kind": Scalar("kind"),
            "Type": Scalar("type"),
            "Channel": Scalar("channel"),
            "Source": Scalar("source"),
            "Direction": Scalar("contact.direction"),
            "Subject": Scalar("contact.subject"),
            "Excerpt": Scalar("contact.text"),  # filters match the whole text
            "AgentId": Scalar("assignment.agent_id"),
            "Rating": Scalar("feedback.rating"),
        },
        _interaction_row,
        {"Id": "_id", "CustomerId": "customer_id"},
    ),
    CASES.name: Source(
        CUSTOMERS_COLLECTION,
        _LIVE_CUSTOMER,
        {
            "Id": Scalar("cases.case_id"),
            "CustomerId": Scalar("cases.customer_id"),
            "Category": Scalar("cases.category"),
            "Channel": Scalar("cases.channel"),
            "Status": Scalar("cases.status"),
            "Language": Scalar("cases.language"),
            "OpenedAt": Scalar("cases.opened_at"),
            "LastActivityAt": Scalar("cases.last_activity_at"),
            "ClosedAt": Scalar("cases.closed_at"),
            "CloseReason": Scalar("cases.close_reason"),
            "Reopened": NonEmpty("cases.reopened_by"),
        },
        _case_row,
        # A case lives in its customer's document; by its id it is found through its owner.
        {"Id": "_id", "CustomerId": "_id"},
        unwind="cases",
    ),
}


def _stored(value: Any) -> Any:
    """A literal as stored: amounts are doubles, instants UTC dates with ms precision."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _pattern(how: TextHow, text: str) -> str:
    escaped = re.escape(text)
    return {TextHow.CONTAINS: escaped, TextHow.STARTS: f"^{escaped}", TextHow.ENDS: f"{escaped}$"}[how]


def mongo_filter(source: Source, expression: Filter) -> Document:  # noqa: PLR0911 - one per shape
    """The MongoDB filter for a checked OData filter (pure: unit-tested without a database)."""
    match expression:
        case AllOf(parts):
            return {"$and": [mongo_filter(source, part) for part in parts]}
        case AnyOf(parts):
            return {"$or": [mongo_filter(source, part) for part in parts]}
        case Negation(part):
            return {"$nor": [mongo_filter(source, part)]}
        case Membership(prop, values):
            return {"$or": [mongo_filter(source, Comparison(prop, Op.EQ, value)) for value in values]}
        case TextMatch(prop, how, text):
            regex = {"$regex": _pattern(how, text), "$options": "i"}
            return _condition(source.fields[prop.name], regex)
        case Comparison(prop, op, value):
            field = source.fields[prop.name]
            if isinstance(value, str) and prop.type is EdmType.STRING and isinstance(field, IdentifierOfKind):
                value = value.lower() if field.kind is IdentifierKind.EMAIL else value
            if op is Op.NE:
                return {"$nor": [_equal(field, value)]}
            if op is Op.EQ:
                return _equal(field, value)
            return _condition(field, {_OPERATORS[op]: _stored(value)})
    raise AssertionError(expression)


def _equal(field: Field, value: Any) -> Document:
    if isinstance(field, IdentifierOfKind) and value is None:
        return {"identifiers.kind": {"$ne": field.kind.value}}  # no identifier of that kind
    if isinstance(field, NonEmpty):
        if value is None:
            return {"_id": {"$in": []}}  # a Boolean that is never null
        return {f"{field.path}.0": {"$exists": bool(value)}}
    return _condition(field, {"$eq": _stored(value)})


def _condition(field: Field, condition: Document) -> Document:
    if isinstance(field, IdentifierOfKind):
        return {"identifiers": {"$elemMatch": {"kind": field.kind.value, "value": condition}}}
    if isinstance(field, NonEmpty):
        raise AssertionError("Booleans are compared with eq and ne only")
    return {field.path: condition}


def search_expression(entity_set: EntitySet, term: str) -> Filter:
    """``$search``: the term in any searchable property (names, emails, phones, subjects)."""
    return AnyOf(tuple(TextMatch(p, TextHow.CONTAINS, term) for p in entity_set.properties if p.searchable))


def search_filter(source: Source, entity_set: EntitySet, term: str) -> Document:
    return mongo_filter(source, search_expression(entity_set, term))


def positive_leaves(expression: Filter) -> list[Comparison | Membership | TextMatch]:
    """The top-level conditions every row must meet that stay true of the document holding the row
    (some element meets it): safe to test before unwinding a list."""
    parts = expression.parts if isinstance(expression, AllOf) else (expression,)
    return [part for part in parts if _positive(part)]  # type: ignore[misc]


def _positive(part: Filter) -> bool:
    if isinstance(part, Comparison):
        return part.op is not Op.NE and part.value is not None
    if isinstance(part, Membership):
        return None not in part.values
    return isinstance(part, TextMatch)


def satisfies(source: Source, expression: Filter, document: Document) -> bool:  # noqa: PLR0911
    """Whether a stored document meets the filter, as MongoDB would decide ``mongo_filter``."""
    match expression:
        case AllOf(parts):
            return all(satisfies(source, part, document) for part in parts)
        case AnyOf(parts):
            return any(satisfies(source, part, document) for part in parts)
        case Negation(part):
            return not satisfies(source, part, document)
        case Membership(prop, values):
            return any(satisfies(source, Comparison(prop, Op.EQ, value), document) for value in values)
        case TextMatch(prop, how, text):
            pattern = re.compile(_pattern(how, text), re.IGNORECASE)
            return any(
                isinstance(v, str) and pattern.search(v) for v in _values(source.fields[prop.name], document)
            )
        case Comparison(prop, op, value):
            field = source.fields[prop.name]
            if (
                isinstance(value, str)
                and isinstance(field, IdentifierOfKind)
                and field.kind is IdentifierKind.EMAIL
            ):
                value = value.lower()
            stored = _values(field, document)
            if op in {Op.EQ, Op.NE}:
                equal = (not stored) if value is None else _stored(value) in stored
                return equal if op is Op.EQ else not equal
            return any(_ordered(v, op, _stored(value)) for v in stored)
    raise AssertionError(expression)


def _values(field: Field, document: Document) -> list[Any]:
    """The stored values a condition on the field is tested against (none: null or missing)."""
    if isinstance(field, IdentifierOfKind):
        return [i["value"] for i in document.get("identifiers", []) if i["kind"] == field.kind.value]
    value: Any = document
    for part in field.path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(field, NonEmpty):
        return [bool(value)]
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # BSON dates are UTC
    return [] if value is None else [value]


def _ordered(stored: Any, op: Op, literal: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (stored, literal))
    if not numbers and type(stored) is not type(literal):
        return False  # MongoDB orders values of one type (numbers together) only
    if op is Op.GT:
        return bool(stored > literal)
    if op is Op.GE:
        return bool(stored >= literal)
    if op is Op.LT:
        return bool(stored < literal)
    return bool(stored <= literal)


def key_lookup(source: Source, expression: Filter) -> tuple[str, str] | None:
    """(property, value) of the top-level equality that narrows the filter most: an identifier (one
    customer), else the first of the source's keys (most selective first)."""
    equalities: dict[str, str] = {}
    for leaf in positive_leaves(expression):
        if isinstance(leaf, Comparison) and leaf.op is Op.EQ and isinstance(leaf.value, str):
            equalities.setdefault(leaf.prop.name, leaf.value)
    for name, value in equalities.items():
        if isinstance(source.fields[name], IdentifierOfKind):
            return name, value
    return next(((name, equalities[name]) for name in source.keys if name in equalities), None)
