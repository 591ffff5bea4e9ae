"""The CloudEvents 1.0 envelope every Helhet message travels in.

Binary Kafka mode: attributes go into ``ce_*`` headers, ``data`` is the JSON body, the Kafka key is the
customer's stable id (or the normalised identifier before one is known) so one customer's events stay
ordered on one partition.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"

# Versioned type names: a breaking change is a new type, never an edit of an old one.
EVENT_TYPE_PATTERN = r"^helhet(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$"


def to_utc(value: datetime) -> datetime:
    """Store every instant in UTC so comparisons and sort order never depend on the sender's zone."""
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC instant in Python's range
        raise ValueError("date-time is out of range once moved to UTC") from None


def _text_only(value: object) -> object:
    # Pydantic would read numbers (and booleans) as Unix timestamps; a sender's -1 or true is a bug.
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 date-time with a UTC offset")
    return value


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_text_only), AfterValidator(to_utc)]


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields so contract drift fails loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


DataT = TypeVar("DataT", bound=Payload)


class Event(BaseModel, Generic[DataT]):
    """One CloudEvent with a typed payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500, description="URI-reference of the producing context.")
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=200)
    subject: str | None = Field(default=None, max_length=500)
    time: UtcDatetime
    key: str = Field(min_length=1, max_length=500, description="Kafka key: the customer key.")
    data: DataT
