"""A queue's calendar as the API takes it and the database keeps it: opening hours by weekday name,
holidays by country, one-off closures by day or UTC interval, all in the queue's time zone."""

from __future__ import annotations

from datetime import date, time
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.notify.core.calendar import Closure, Opening, OpeningHours, QueueCalendar

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningSpec(_Strict):
    opens: time = Field(description="Local wall-clock time, e.g. 08:00.")
    closes: time = Field(description="At or before ``opens``: open past midnight into the next day.")


class ClosureSpec(_Strict):
    """A whole local day (``day``) or an interval (``start`` and ``end``, with a UTC offset)."""

    day: date | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    label: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _day_or_interval(self) -> Self:
        self.closure()  # the core's rules: a day, or an interval that ends after it starts
        return self

    def closure(self) -> Closure:
        if self.day is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("a closure is either a day or an interval, not both")
            return Closure.on_day(self.day, self.label)
        if self.start is None or self.end is None:
            raise ValueError("a closure needs a day, or both a start and an end")
        return Closure.between(self.start, self.end, self.label)


class CalendarSpec(_Strict):
    time_zone: str = Field(default="Europe/Oslo", max_length=64, examples=["Europe/Oslo"])
    country: Literal["NO", "SE", "DK"] | None = Field(
        default=None, description="Whose public holidays close the queue; none: open on holidays."
    )
    hours: dict[Weekday, list[OpeningSpec]] = Field(
        default_factory=dict,
        description="Openings that begin on each weekday; a day left out is closed.",
        examples=[{"monday": [{"opens": "08:00", "closes": "11:30"}, {"opens": "12:00", "closes": "16:00"}]}],
    )
    closures: list[ClosureSpec] = Field(default_factory=list, max_length=500)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return value

    @field_validator("hours")
    @classmethod
    def _few_openings(cls, value: dict[str, list[OpeningSpec]]) -> dict[str, list[OpeningSpec]]:
        if any(len(openings) > 6 for openings in value.values()):
            raise ValueError("at most 6 openings a day")
        return value

    def calendar(self) -> QueueCalendar:
        openings = tuple(
            Opening(WEEKDAYS.index(day), opening.opens, opening.closes)
            for day, day_openings in sorted(self.hours.items(), key=lambda item: WEEKDAYS.index(item[0]))
            for opening in day_openings
        )
        return QueueCalendar(
            self.time_zone,
            OpeningHours(openings),
            self.country,
            tuple(closure.closure() for closure in self.closures),
        )
