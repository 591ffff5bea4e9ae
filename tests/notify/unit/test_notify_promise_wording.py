"""The estimate and its wording together: what the acknowledgement will say, from routing's queue figures,
the queue's calendar and the customer's language."""

from __future__ import annotations

from datetime import datetime

from schemas.notifications import MessageKind
from services.notify.core.eta import estimate
from services.notify.core.language import Language
from services.notify.core.wording import phrase_eta, render
from tests.notify.unit.test_notify_eta import OFFICE, OSLO, oslo, stats


def said(now: datetime, language: Language, backlog: int, completions: int = 0) -> str:
    return phrase_eta(
        estimate(stats(now, backlog=backlog, completions=completions), OFFICE, now), language, now, OSLO
    )


def test_a_friday_evening_email_is_promised_for_monday_morning() -> None:
    now = oslo(2026, 1, 16, 19, 30)

    assert said(now, Language.EN, 2) == "on Monday after 08:00"
    assert said(now, Language.NB, 2) == "på mandag etter kl. 08.00"


def test_work_running_past_closing_is_promised_by_a_clock_time_tomorrow() -> None:
    now = oslo(2026, 1, 14, 14)

    assert said(now, Language.EN, 18, completions=6) == "by 11:00 tomorrow"
    assert said(now, Language.NB, 18, completions=6) == "innen kl. 11.00 i morgen"
    assert said(now, Language.SV, 18, completions=6) == "senast kl. 11.00 i morgon"


def test_a_morning_backlog_is_promised_within_hours() -> None:
    now = oslo(2026, 1, 14, 10, 7)

    assert said(now, Language.EN, 12, completions=6) == "within about 1\u20133 hours"


def test_the_acknowledgement_carries_the_promise_in_the_customers_language() -> None:
    now = oslo(2026, 1, 16, 19, 30)
    eta = estimate(stats(now, backlog=2), OFFICE, now)

    message = render(
        MessageKind.ACKNOWLEDGEMENT,
        (Language.DA, Language.EN),
        {"first_name": "Mette", "case_ref": "S-1042", "eta": eta},
        now=now,
        time_zone="Europe/Oslo",
    )

    assert message.language is Language.DA
    assert "mandag" in message.body
    assert "S-1042" in message.subject + message.body
