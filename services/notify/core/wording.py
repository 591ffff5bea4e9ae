"""What notify says: jinja2 templates per language, and the expected answer time as people say it.

Templates live in ``services/notify/templates/<language>/<kind>.txt.j2``. Each renders to plain text
whose first line is ``Subject: ...`` (the subject, one line, not empty); what follows, blank lines at its
start dropped, is the body. Channels without subjects (chat, SMS) send the body only.

A template names its variables in ``VARIABLES``; every one must be given (None where a value is optional,
e.g. ``first_name``), and a missing one is an error, never an empty gap in a sentence. Nothing personal
goes in beyond an optional first name and the case reference, and never the customer's own message.

Times are phrased in the customer's zone relative to ``now``, as a rounded range rather than an
instant: "within about 2-4 hours", "tomorrow after 08:00", "as soon as we can" when we do not know.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplatesNotFound,
    UndefinedError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from schemas.notifications import MessageKind
from services.notify.core.language import Language

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_TIME_ZONE = "Europe/Oslo"
SUBJECT_PREFIX = "Subject:"

_DASH = "\u2013"  # the en dash of a range, "2-4" as typeset
_FIVE_MINUTES = timedelta(minutes=5)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_WEEK_AHEAD = 6  # days ahead still named by weekday alone; further ones get a date


# What each kind's templates read, in every language. ``eta`` is an ``EtaLike``; ``callback_start`` and
# ``callback_end`` aware datetimes; ``first_name`` and ``agent_name`` a str or None; ``follow_up`` and
# ``waiting_for_supplier`` bools.
VARIABLES: Mapping[MessageKind, frozenset[str]] = {
    MessageKind.ACKNOWLEDGEMENT: frozenset({"first_name", "case_ref", "eta"}),
    MessageKind.STATUS_UPDATE: frozenset({"first_name", "case_ref", "eta", "waiting_for_supplier"}),
    MessageKind.CALLBACK_RESCHEDULED: frozenset({"first_name", "case_ref", "callback_start", "callback_end"}),
    MessageKind.ASSIGNED: frozenset({"first_name", "case_ref", "agent_name"}),
    MessageKind.CASE_EVALUATION: frozenset({"first_name", "case_ref", "survey_url"}),
    MessageKind.SATISFACTION_SURVEY: frozenset({"first_name", "case_ref", "survey_url"}),
    MessageKind.FEEDBACK_ACKNOWLEDGED: frozenset({"first_name", "case_ref", "follow_up"}),
}


class EtaKind(StrEnum):
    WITHIN = "within"  # an answer expected between ``earliest`` and ``latest``
    BY = "by"  # open now, but the answer may come after closing or far ahead: by ``latest`` (a clock time)
    AFTER_OPENING = "after_opening"  # closed now: an answer after we open at ``earliest``
    UNKNOWN = "unknown"  # no honest estimate: no time is promised


class EtaLike(Protocol):
    """An expected answer time. The eta module's ``Estimate`` fits as it is: its ``kind`` is a StrEnum
    whose value (case aside) is one of ``EtaKind``'s, its instants aware (UTC)."""

    @property
    def kind(self) -> str: ...

    @property
    def earliest(self) -> datetime | None: ...  # None only when UNKNOWN

    @property
    def latest(self) -> datetime | None: ...


@dataclass(frozen=True)
class Eta:
    """A minimal ``EtaLike`` for callers (and tests) without an ``Estimate`` at hand."""

    kind: str
    earliest: datetime
    latest: datetime


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    language: Language  # the one the text is in, which may be a fallback of the customer's


@dataclass(frozen=True)
class _Words:
    """How one language says days and times; ``{...}`` fields are filled in by the phrasing below."""

    today: str
    tomorrow: str
    on_weekday: str  # "on {weekday}": a day later this week
    date: str  # babel pattern, a day further away
    on_date: str  # "on {date}"
    date_other_year: str
    clock: str  # babel pattern
    at: str  # "{clock}" with the word a time takes in a sentence ("kl. 08.00")
    after_opening: str
    minutes: str
    minutes_range: str
    hours: str
    hours_range: str
    by_day: str
    by_time: str  # "by {at} {day}": a clock time on a day
    unknown: str
    window: str
    window_across_days: str


_WORDS = {
    Language.NB: _Words(
        today="i dag",
        tomorrow="i morgen",
        on_weekday="på {weekday}",
        on_date="{date}",
        date="EEEE d. MMMM",
        date_other_year="EEEE d. MMMM y",
        clock="HH.mm",
        at="kl. {clock}",
        after_opening="{day} etter {at}",
        minutes="innen cirka {high} minutter",
        minutes_range="innen cirka {low}" + _DASH + "{high} minutter",
        hours="innen cirka {high} timer",
        hours_range="innen cirka {low}" + _DASH + "{high} timer",
        by_day="innen {day}",
        by_time="innen {at} {day}",
        unknown="så snart vi kan",
        window="{day} mellom {at} og {end}",
        window_across_days="fra {day} {at} til {end_day} {end_at}",
    ),
    Language.SV: _Words(
        today="i dag",
        tomorrow="i morgon",
        on_weekday="på {weekday}",
        on_date="{date}",
        date="EEEE 'den' d MMMM",
        date_other_year="EEEE 'den' d MMMM y",
        clock="HH.mm",
        at="kl. {clock}",
        after_opening="{day} efter {at}",
        minutes="inom cirka {high} minuter",
        minutes_range="inom cirka {low}" + _DASH + "{high} minuter",
        hours="inom cirka {high} timmar",
        hours_range="inom cirka {low}" + _DASH + "{high} timmar",
        by_day="senast {day}",
        by_time="senast {at} {day}",
        unknown="så snart vi kan",
        window="{day} mellan {at} och {end}",
        window_across_days="från {day} {at} till {end_day} {end_at}",
    ),
    Language.DA: _Words(
        today="i dag",
        tomorrow="i morgen",
        on_weekday="på {weekday}",
        on_date="{date}",
        date="EEEE 'den' d. MMMM",
        date_other_year="EEEE 'den' d. MMMM y",
        clock="HH.mm",
        at="kl. {clock}",
        after_opening="{day} efter {at}",
        minutes="inden for cirka {high} minutter",
        minutes_range="inden for cirka {low}" + _DASH + "{high} minutter",
        hours="inden for cirka {high} timer",
        hours_range="inden for cirka {low}" + _DASH + "{high} timer",
        by_day="senest {day}",
        by_time="senest {at} {day}",
        unknown="så hurtigt vi kan",
        window="{day} mellem {at} og {end}",
        window_across_days="fra {day} {at} til {end_day} {end_at}",
    ),
    Language.EN: _Words(
        today="today",
        tomorrow="tomorrow",
        on_weekday="on {weekday}",
        on_date="on {date}",
        date="EEEE d MMMM",
        date_other_year="EEEE d MMMM y",
        clock="HH:mm",
        at="{clock}",
        after_opening="{day} after {at}",
        minutes="within about {high} minutes",
        minutes_range="within about {low}" + _DASH + "{high} minutes",
        hours="within about {high} hours",
        hours_range="within about {low}" + _DASH + "{high} hours",
        by_day="by {day}",
        by_time="by {at} {day}",
        unknown="as soon as we can",
        window="{day} between {at} and {end}",
        window_across_days="from {day} {at} to {end_day} {end_at}",
    ),
}


# --- phrasing (pure) ------------------------------------------------------------------------------------


def phrase_day(
    moment: datetime, language: Language, now: datetime, zone: ZoneInfo, *, bare: bool = False
) -> str:
    """The local day of ``moment`` as said on the local day of ``now``: today, tomorrow, a weekday within
    the week ahead, else a date (with the year only when it is not this one). ``bare`` drops the
    preposition a weekday (and in English a date) takes: "by Thursday", but "on Thursday after 08:00"."""
    words = _WORDS[language]
    day = moment.astimezone(zone).date()
    today = now.astimezone(zone).date()
    ahead = (day - today).days
    if ahead == 0:
        return words.today
    if ahead == 1:
        return words.tomorrow
    if 2 <= ahead <= _WEEK_AHEAD:
        weekday = format_date(day, "EEEE", locale=language.value)
        return weekday if bare else words.on_weekday.format(weekday=weekday)
    pattern = words.date if day.year == today.year else words.date_other_year
    said = format_date(day, pattern, locale=language.value)
    return said if bare else words.on_date.format(date=said)


def phrase_clock(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    """The local time of day, as written in the language ("08.00", "08:00"), without "kl."."""
    return format_time(moment.astimezone(zone), _WORDS[language].clock, locale=language.value)


def phrase_eta(eta: EtaLike, language: Language, now: datetime, zone: ZoneInfo) -> str:
    """When to expect an answer, rounded the way people say it, to follow "we will answer you ...".

    WITHIN up to an hour away is said in 5-minute steps, up to a day in whole hours (the nearer end
    rounded down, the further up, so the range holds the estimate), further by its last day. AFTER_OPENING
    names the day and the opening time, BY the clock time and day of the latest. UNKNOWN, and an estimate
    already past, promise no time.
    """
    words = _WORDS[language]
    kind = _eta_kind(eta.kind)
    if kind is EtaKind.AFTER_OPENING and eta.earliest is not None and eta.earliest > now:
        day = phrase_day(eta.earliest, language, now, zone)
        return words.after_opening.format(day=day, at=_at(eta.earliest, language, zone))
    if kind is EtaKind.BY and eta.latest is not None and eta.latest > now:
        return words.by_time.format(
            day=phrase_day(eta.latest, language, now, zone), at=_at(eta.latest, language, zone)
        )
    if kind is EtaKind.WITHIN and eta.earliest is not None and eta.latest is not None and eta.latest > now:
        low = max(eta.earliest - now, timedelta(0))
        high = max(eta.latest - now, low)
        if high <= _HOUR:
            return _range(words.minutes, words.minutes_range, low, high, step=_FIVE_MINUTES, unit=5)
        if high < _DAY:
            return _range(words.hours, words.hours_range, low, high, step=_HOUR, unit=1)
        return words.by_day.format(day=phrase_day(eta.latest, language, now, zone, bare=True))
    return words.unknown


def phrase_window(start: datetime, end: datetime, language: Language, now: datetime, zone: ZoneInfo) -> str:
    """A time window such as a callback's: "tomorrow between 10:00 and 12:00"; a window running past
    midnight names both days."""
    words = _WORDS[language]
    at = _at(start, language, zone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        day = phrase_day(start, language, now, zone)
        return words.window.format(day=day, at=at, end=phrase_clock(end, language, zone))
    return words.window_across_days.format(
        day=phrase_day(start, language, now, zone, bare=True),
        at=at,
        end_day=phrase_day(end, language, now, zone, bare=True),
        end_at=_at(end, language, zone),
    )


def _eta_kind(kind: str) -> EtaKind:
    try:
        return EtaKind(str(kind).lower())
    except ValueError:
        raise ValueError(f"unknown estimate kind {kind!r}") from None


def _range(single: str, ranged: str, low: timedelta, high: timedelta, *, step: timedelta, unit: int) -> str:
    """``low`` rounded down and ``high`` up to whole steps; one number when the range would start at 0
    ("within about 15 minutes") or both ends meet. ``unit`` is how many of the said unit a step is."""
    low_steps = math.floor(low / step)
    high_steps = max(math.ceil(high / step), 1)
    if low_steps == 0 or low_steps >= high_steps:
        return single.format(high=high_steps * unit)
    return ranged.format(low=low_steps * unit, high=high_steps * unit)


def _at(moment: datetime, language: Language, zone: ZoneInfo) -> str:
    return _WORDS[language].at.format(clock=phrase_clock(moment, language, zone))


# --- templates ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    """Whom a rendering is for, handed to the template filters so phrases match the template's language."""

    language: Language
    now: datetime
    zone: ZoneInfo


_READER = "_reader"  # context key of the ``_Reader``; not for templates to use directly


@pass_context
def _eta_filter(context: Context, eta: EtaLike) -> str:
    reader: _Reader = context[_READER]
    return phrase_eta(eta, reader.language, reader.now, reader.zone)


@pass_context
def _window_filter(context: Context, start: datetime, end: datetime) -> str:
    reader: _Reader = context[_READER]
    return phrase_window(start, end, reader.language, reader.now, reader.zone)


def build_environment(directory: Path = TEMPLATES) -> Environment:
    """A plain-text environment over ``directory``: strict (an unknown variable raises), no escaping, block
    tags on their own lines leave no blank lines behind. Filters: ``eta | eta_phrase`` and
    ``start | window_phrase(end)``."""
    env = Environment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=(), default_for_string=False, default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["eta_phrase"] = _eta_filter
    env.filters["window_phrase"] = _window_filter
    return env


# Built once: it caches compiled templates, and the files do not change while the service runs.
ENVIRONMENT = build_environment()


def template_name(language: Language, kind: MessageKind) -> str:
    return f"{language.value}/{kind.value}.txt.j2"


def render(
    kind: MessageKind,
    languages: Sequence[Language],
    context: Mapping[str, object],
    *,
    now: datetime,
    time_zone: str = DEFAULT_TIME_ZONE,
    environment: Environment = ENVIRONMENT,
) -> Message:
    """The message in the first of ``languages`` (a ``fallback_chain``) that has this kind's template.

    Raises ``UndefinedError`` when a variable of ``VARIABLES[kind]`` is missing from ``context`` (or a
    template reads one it was not given), ``TemplatesNotFound`` when no language has the template, and
    ``ValueError`` when a template breaks the subject-line convention.
    """
    if missing := VARIABLES[kind] - context.keys():
        raise UndefinedError(f"{kind.value}: missing {', '.join(sorted(missing))}")
    names = [template_name(language, kind) for language in languages]
    for language, name in zip(languages, names, strict=True):
        try:
            template = environment.get_template(name)
        except TemplateNotFound:
            continue
        reader = _Reader(language, now, ZoneInfo(time_zone))
        subject, body = _split(template.render({**context, _READER: reader}), name)
        return Message(subject=subject, body=body, language=language)
    raise TemplatesNotFound(names)


def _split(text: str, name: str) -> tuple[str, str]:
    """Subject and body of a rendered template (see the module's docstring for the convention)."""
    first, _, rest = text.partition("\n")
    subject = first.removeprefix(SUBJECT_PREFIX).strip()
    if not first.startswith(SUBJECT_PREFIX) or not subject:
        raise ValueError(f"{name}: the first line must be '{SUBJECT_PREFIX} <subject>'")
    return subject, rest.lstrip("\n").rstrip()
