"""Consent per purpose, with source and time. Within one customer the newest decision wins (a withdrawal
wins a tie); when two customers merge the most restrictive decision wins, because consent given by one
person must never be read as given by another."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from schemas.customers import Purpose
from services.profile.core.wording import Language, Wording

MERGE_SOURCE = "merge"


@dataclass(frozen=True)
class ConsentDecision:
    purpose: Purpose
    granted: bool
    source: str
    occurred_at: datetime
    event_id: str

    @property
    def rank(self) -> tuple[datetime, bool, str]:
        # Later wins; at the same instant a withdrawal beats a grant; the event id settles the rest.
        return (self.occurred_at, not self.granted, self.event_id)


def newest_decision(current: ConsentDecision | None, candidate: ConsentDecision) -> ConsentDecision:
    if current is None or candidate.rank > current.rank:
        return candidate
    return current


def most_restrictive(first: ConsentDecision, second: ConsentDecision) -> ConsentDecision:
    """The merged decision: agreeing sides keep the newest; disagreeing sides keep the withdrawal, dated to
    the later of the two so that only a decision made after the merge overrides it."""
    if first.granted == second.granted:
        return newest_decision(first, second)
    withdrawal = second if first.granted else first
    return replace(withdrawal, source=MERGE_SOURCE, occurred_at=max(first.occurred_at, second.occurred_at))


# A text that is nothing but one of these words is the customer's opt-out from marketing.
_OPT_OUT = Wording(
    {
        Language.NORWEGIAN: ("stopp", "stop", "avmeld", "avslutt"),
        Language.SWEDISH: ("stopp", "stop", "avsluta", "avregistrera"),
        Language.DANISH: ("stop", "afmeld", "frameld"),
        Language.ENGLISH: ("stop", "unsubscribe"),
    }
)


def is_opt_out(text: str | None) -> bool:
    """Whether a reply such as "STOPP" asks to stop marketing (the whole text, not a word in a sentence)."""
    if not text:
        return False
    word = text.strip().strip(".!").strip()
    return bool(word) and " " not in word and _OPT_OUT.found_in(word, None)
