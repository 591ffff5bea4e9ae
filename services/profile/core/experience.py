"""The experience ledger: one bad experience takes twelve good ones to repair.

Bad: complaint wording, unanswered calls, long waits in the phone queue, broken call-back promises,
negative survey answers (1-2 of 5). Good: praise, kept call-back promises, delivered orders, positive
survey answers (4-5 of 5); a 3 is neither. Experiences seen in a single event come from
``observe``; waits and promises span several events (offer → answer, request → call back) and are
derived here from the phone steps, as a function of the event set and ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas.customers import ExperienceReason
from schemas.feedback import NEGATIVE_AT_MOST
from schemas.interactions import Direction, InteractionEvent
from services.profile.core.wording import Language, Wording


class Feeling(StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True)
class Experience:
    feeling: Feeling
    reason: ExperienceReason
    occurred_at: datetime
    event_id: str


@dataclass(frozen=True)
class PhoneStep:
    """One step of a call, kept so waits and call-back promises can be judged across events."""

    step: InteractionEvent
    direction: Direction
    conversation_id: str | None
    occurred_at: datetime
    event_id: str
    callback_window_end: datetime | None = None


@dataclass(frozen=True)
class ExperienceConfig:
    bad_weight: int = 12  # the field's rule of thumb: one bad experience outweighs twelve good ones
    good_weight: int = 1
    window: timedelta = timedelta(days=365)  # older experiences no longer count
    long_wait: timedelta = timedelta(minutes=5)  # from an inbound call offered to it being answered
    callback_grace: timedelta = timedelta(minutes=30)  # after the window a call-back counts as broken


@dataclass(frozen=True)
class Ledger:
    good: int
    bad: int
    balance: int  # good * good_weight - bad * bad_weight
    needs_recovery: bool  # the balance is negative
    reason: ExperienceReason | None  # the latest bad experience, when recovery is needed


_COMPLAINT = Wording(
    {
        Language.NORWEGIAN: (
            "klage(?:r|n)?",
            "reklamasjon(?:en)?",
            "skuffet",
            "misfornøyd",
            "ikke fornøyd",
            "elendig",
            "dårlig service",
            "uakseptabelt",
        ),
        Language.SWEDISH: (
            "klagomål(?:et)?",
            "reklamation(?:en)?",
            "besviken",
            "missnöjd",
            "inte nöjd",
            "dålig service",
            "oacceptabelt",
        ),
        Language.DANISH: (
            "klage(?:r|n)?",
            "reklamation(?:en)?",
            "skuffet",
            "utilfreds",
            "ikke tilfreds",
            "dårlig service",
            "uacceptabelt",
        ),
        Language.ENGLISH: (
            "complain(?:t|ts|ed|ing)?",
            "disappointed",
            "not happy",
            "not satisfied",
            "unacceptable",
            "terrible",
            "awful",
        ),
    }
)
_PRAISE = Wording(
    {
        Language.NORWEGIAN: ("tusen takk", "takk for hjelpen", "fornøyd", "god service", "fantastisk"),
        Language.SWEDISH: ("tusen tack", "tack för hjälpen", "nöjd", "bra service", "fantastisk"),
        Language.DANISH: ("tusind tak", "tak for hjælpen", "tilfreds", "god service", "fantastisk"),
        Language.ENGLISH: ("thank you so much", "thanks for (?:the|your) help", "great service", "excellent"),
    }
)


def feeling_in(text: str, language: Language | None) -> tuple[Feeling, ExperienceReason] | None:
    """What the wording says about the customer's experience. Complaint wording wins over praise in the
    same message ("ikke fornøyd" contains "fornøyd")."""
    if _COMPLAINT.found_in(text, language):
        return (Feeling.BAD, ExperienceReason.COMPLAINT)
    if _PRAISE.found_in(text, language):
        return (Feeling.GOOD, ExperienceReason.PRAISE)
    return None


# A survey answer at or above this is a good experience; between it and a negative one it is neither.
POSITIVE_AT_LEAST = 4


def rating_feeling(rating: int) -> tuple[Feeling, ExperienceReason] | None:
    """What a survey answer (1 very unhappy … 5 very happy) says about the customer's experience."""
    if rating <= NEGATIVE_AT_MOST:
        return (Feeling.BAD, ExperienceReason.NEGATIVE_FEEDBACK)
    if rating >= POSITIVE_AT_LEAST:
        return (Feeling.GOOD, ExperienceReason.POSITIVE_FEEDBACK)
    return None


def call_experiences(steps: Iterable[PhoneStep], config: ExperienceConfig, now: datetime) -> list[Experience]:
    """Long waits (inbound call offered → answered) and call-back promises kept or broken."""
    ordered = sorted(steps, key=lambda step: (step.occurred_at, step.event_id))
    return [*_long_waits(ordered, config), *_promises(ordered, config, now)]


def _long_waits(ordered: list[PhoneStep], config: ExperienceConfig) -> list[Experience]:
    offered: dict[str, PhoneStep] = {}
    waits: list[Experience] = []
    for step in ordered:
        if step.conversation_id is None:
            continue
        if step.step is InteractionEvent.CALL_OFFERED and step.direction is Direction.INBOUND:
            offered.setdefault(step.conversation_id, step)
        elif (
            step.step is InteractionEvent.CALL_ANSWERED
            and (start := offered.pop(step.conversation_id, None))
            and step.occurred_at - start.occurred_at > config.long_wait
        ):
            waits.append(Experience(Feeling.BAD, ExperienceReason.LONG_WAIT, step.occurred_at, step.event_id))
    return waits


def _promises(ordered: list[PhoneStep], config: ExperienceConfig, now: datetime) -> list[Experience]:
    outbound = [step for step in ordered if step.direction is Direction.OUTBOUND]
    judged: list[Experience] = []
    for request in ordered:
        if request.step is not InteractionEvent.CALLBACK_REQUESTED or request.callback_window_end is None:
            continue
        deadline = request.callback_window_end + config.callback_grace
        kept = next((s for s in outbound if request.occurred_at <= s.occurred_at <= deadline), None)
        if kept is not None:
            judged.append(
                Experience(Feeling.GOOD, ExperienceReason.KEPT_PROMISE, kept.occurred_at, kept.event_id)
            )
        elif now > deadline:
            judged.append(
                Experience(Feeling.BAD, ExperienceReason.BROKEN_PROMISE, deadline, request.event_id)
            )
    return judged


def ledger(
    observed: Mapping[str, Experience],
    steps: Iterable[PhoneStep],
    config: ExperienceConfig,
    now: datetime,
) -> Ledger:
    """The balance of the experiences within the window before ``now``."""
    since = now - config.window
    counted = [
        experience
        for experience in (*observed.values(), *call_experiences(steps, config, now))
        if since <= experience.occurred_at <= now
    ]
    bad = [experience for experience in counted if experience.feeling is Feeling.BAD]
    good = len(counted) - len(bad)
    balance = good * config.good_weight - len(bad) * config.bad_weight
    latest_bad = max(bad, key=lambda e: (e.occurred_at, e.event_id), default=None)
    needs_recovery = balance < 0
    return Ledger(
        good=good,
        bad=len(bad),
        balance=balance,
        needs_recovery=needs_recovery,
        reason=latest_bad.reason if needs_recovery and latest_bad is not None else None,
    )


def next_ledger_change(
    observed: Mapping[str, Experience], steps: Iterable[PhoneStep], config: ExperienceConfig, now: datetime
) -> datetime | None:
    """The first instant at or after ``now`` past which ``ledger`` may answer differently with no new
    event: a call-back promise runs out, an experience enters or leaves the window. None: no such."""
    # Every promise not kept by now judged as if its deadline had passed (one kept later only helps).
    end_of_time = datetime.max.replace(tzinfo=now.tzinfo)
    everything = (*observed.values(), *call_experiences(steps, config, end_of_time))
    instants = [
        instant
        for experience in everything
        for instant in (experience.occurred_at, experience.occurred_at + config.window)
        if instant >= now
    ]
    return min(instants, default=None)
