"""The OData v4 model profile offers to CRMs: four flat entity sets, the CSDL document and the service
document.

Salesforce Connect (external objects) and Dataverse virtual tables both read it, so it keeps to what
both accept: flat entity types keyed by ``Edm.Guid`` (Dataverse requires it), foreign keys as plain Guid
properties (Salesforce builds external and indirect lookups from them), and only String with MaxLength,
Int32/Int64, Decimal, Double, Boolean, DateTimeOffset and Guid. Nullability is declared as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from xml.sax.saxutils import quoteattr

NAMESPACE = "Helhet"
CONTAINER = "Profiles"


class EdmType(StrEnum):
    STRING = "Edm.String"
    GUID = "Edm.Guid"
    BOOLEAN = "Edm.Boolean"
    INT32 = "Edm.Int32"
    INT64 = "Edm.Int64"
    DECIMAL = "Edm.Decimal"
    DOUBLE = "Edm.Double"
    DATETIME = "Edm.DateTimeOffset"


# What every CRM we target accepts (the $metadata test checks the model against it).
ALLOWED_TYPES = frozenset(EdmType)


@dataclass(frozen=True)
class Property:
    name: str
    type: EdmType
    nullable: bool = True
    max_length: int | None = None  # strings: the declared MaxLength; values are cut to it
    searchable: bool = False  # $search looks here
    sortable: bool = True  # one of several values (a customer's emails) has no order to sort by


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    properties: tuple[Property, ...]
    key: str = "Id"

    def lookup(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


def _string(
    name: str, max_length: int, *, nullable: bool = True, searchable: bool = False, sortable: bool = True
) -> Property:
    return Property(name, EdmType.STRING, nullable, max_length, searchable, sortable)


def _guid(name: str, *, nullable: bool = False) -> Property:
    return Property(name, EdmType.GUID, nullable)


def _instant(name: str, *, nullable: bool = True) -> Property:
    return Property(name, EdmType.DATETIME, nullable)


CUSTOMERS = EntitySet(
    "Customers",
    "Customer",
    (
        _guid("Id"),
        _string("Name", 300, searchable=True),
        # One of the customer's emails and phones (E.164); filters match any of them.
        _string("Email", 320, searchable=True, sortable=False),
        _string("Phone", 320, searchable=True, sortable=False),
        _string("Tier", 20),
        Property("HistoricValue", EdmType.DECIMAL),
        Property("PredictedLifetimeValue", EdmType.DECIMAL),
        _string("Lifecycle", 20),
        Property("NeedsRecovery", EdmType.BOOLEAN, nullable=False),
        _string("RecoveryReason", 50),
        _string("Language", 35),
        _string("PreferredChannel", 50),
        _string("LastAgent", 200),
        _instant("FirstSeen"),
        _instant("LastSeen"),
        Property("ConsentServiceMessages", EdmType.BOOLEAN),
        Property("ConsentMarketing", EdmType.BOOLEAN),
        Property("ConsentProfiling", EdmType.BOOLEAN),
    ),
)

IDENTIFIERS = EntitySet(
    "Identifiers",
    "Identifier",
    (
        _guid("Id"),  # a UUID derived from the identifier's key, stable across runs
        _guid("CustomerId"),
        _string("Kind", 30, nullable=False),
        _string("Value", 320, nullable=False, searchable=True),
        _string("Scope", 100),  # the page a page-scoped id belongs to
        _string("Channel", 50, nullable=False),  # where it was first seen
        _string("Rule", 50, nullable=False),  # why it was linked
        _instant("LinkedAt", nullable=False),
    ),
)

INTERACTIONS = EntitySet(
    "Interactions",
    "Interaction",
    (
        _guid("Id"),
        _guid("CustomerId"),
        _guid("CaseId", nullable=True),
        _instant("OccurredAt", nullable=False),
        _string("Kind", 30, nullable=False),  # interaction, order, notification, assignment, feedback, ...
        _string("Type", 100, nullable=False),
        _string("Channel", 50, nullable=False),
        _string("Source", 200, nullable=False),
        _string("Direction", 20),
        _string("Subject", 255, searchable=True),
        _string("Excerpt", 255),  # the start of the message text
        _string("AgentId", 200),
        Property("Rating", EdmType.INT32),
    ),
)

CASES = EntitySet(
    "Cases",
    "Case",
    (
        _guid("Id"),
        _guid("CustomerId"),
        _string("Category", 30, nullable=False),
        _string("Channel", 50, nullable=False),
        _string("Status", 20, nullable=False),
        _string("Language", 35),
        _instant("OpenedAt", nullable=False),
        _instant("LastActivityAt", nullable=False),
        _instant("ClosedAt"),
        _string("CloseReason", 100),
        Property("Reopened", EdmType.BOOLEAN, nullable=False),
    ),
)

ENTITY_SETS: dict[str, EntitySet] = {s.name: s for s in (CUSTOMERS, IDENTIFIERS, INTERACTIONS, CASES)}


def service_document(context: str) -> dict[str, object]:
    return {
        "@odata.context": context,
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in ENTITY_SETS.values()],
    }


def csdl() -> str:
    """The CSDL XML ``$metadata`` document."""
    types = "".join(_entity_type(entity_set) for entity_set in ENTITY_SETS.values())
    sets = "".join(
        f'<EntitySet Name="{s.name}" EntityType="{NAMESPACE}.{s.type_name}"/>' for s in ENTITY_SETS.values()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
        "<edmx:DataServices>"
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{NAMESPACE}">'
        f'{types}<EntityContainer Name="{CONTAINER}">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


def _entity_type(entity_set: EntitySet) -> str:
    properties = "".join(_property(p) for p in entity_set.properties)
    return (
        f'<EntityType Name="{entity_set.type_name}">'
        f'<Key><PropertyRef Name="{entity_set.key}"/></Key>{properties}</EntityType>'
    )


def _property(p: Property) -> str:
    facets = f' Nullable="{str(p.nullable).lower()}"'
    if p.max_length is not None:
        facets += f' MaxLength="{p.max_length}"'
    if p.type is EdmType.DECIMAL:
        facets += ' Precision="19" Scale="2"'
    if p.type is EdmType.DATETIME:
        facets += ' Precision="3"'
    return f"<Property Name={quoteattr(p.name)} Type={quoteattr(p.type.value)}{facets}/>"
