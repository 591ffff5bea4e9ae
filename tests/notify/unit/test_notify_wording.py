"""Notify's wording: every message kind in every language, the subject-line convention, strictness about
variables, falling back along a chain, and expected answer times phrased as people say them in the
customer's zone (today, tomorrow, a weekday, a date; across midnight and DST)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import TemplatesNotFound, UndefinedError, meta

from schemas.notifications import MessageKind
from services.notify.core.language import Language, fallback_chain
from services.notify.core.wording import (
    ENVIRONMENT,
    TEMPLATES,
    VARIABLES,
    Eta,
    EtaKind,
    EtaLike,
    Message,
    build_environment,
    phrase_clock,
    phrase_day,
    phrase_eta,
    phrase_window,
    render,
    template_name,
)

NB, SV, DA, EN = Language.NB, Language.SV, Language.DA, Language.EN
OSLO = ZoneInfo("Europe/Oslo")
DASH = "\u2013"
NOW = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)  # a Wednesday in winter: Oslo is UTC+1, 13:00 there


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Oslo, as the UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def within(now: datetime, low: timedelta, high: timedelta) -> Eta:
    return Eta(EtaKind.WITHIN, now + low, now + high)


def after_opening(opening: datetime) -> Eta:
    return Eta(EtaKind.AFTER_OPENING, opening, opening + timedelta(hours=2))


UNKNOWN = Eta(EtaKind.UNKNOWN, NOW, NOW)

# What a real message of each kind is rendered with.
CONTEXT: dict[str, object] = {
    "first_name": "Kari",
    "case_ref": "C-1042",
    "eta": within(NOW, timedelta(hours=2), timedelta(hours=4)),
    "callback_start": oslo(2026, 1, 15, 10),
    "callback_end": oslo(2026, 1, 15, 12),
    "agent_name": "Ola",
    "survey_url": "https://example.com/survey/8f2c",
    "follow_up": True,
    "waiting_for_supplier": False,
}

GREETING = {NB: "Hei Kari,", SV: "Hej Kari,", DA: "Hej Kari,", EN: "Hi Kari,"}
SIGN_OFF = {
    NB: "Vennlig hilsen\nKundeservice",
    SV: "Vänliga hälsningar\nKundtjänst",
    DA: "Venlig hilsen\nKundeservice",
    EN: "Kind regards\nCustomer Service",
}
# A word each kind's text must hold in each language, so a template is not another kind's copy.
KEY_WORDS = {
    MessageKind.ACKNOWLEDGEMENT: {NB: "mottatt", SV: "tagit emot", DA: "modtaget", EN: "received"},
    MessageKind.STATUS_UPDATE: {NB: "oppdatering", SV: "uppdatering", DA: "opdatering", EN: "update"},
    MessageKind.CALLBACK_RESCHEDULED: {NB: "ringer", SV: "ringer", DA: "ringer", EN: "call"},
    MessageKind.ASSIGNED: {NB: "tatt over", SV: "tagit över", DA: "overtaget", EN: "taken over"},
    MessageKind.CASE_EVALUATION: {NB: "avsluttet", SV: "avslutat", DA: "afsluttet", EN: "closed"},
    MessageKind.SATISFACTION_SURVEY: {NB: "levert", SV: "levererats", DA: "leveret", EN: "delivered"},
    MessageKind.FEEDBACK_ACKNOWLEDGED: {
        NB: "tilbakemelding",
        SV: "återkoppling",
        DA: "feedback",
        EN: "feedback",
    },
}


def context_for(kind: MessageKind, **changes: object) -> dict[str, object]:
    return {name: changes.get(name, CONTEXT[name]) for name in VARIABLES[kind]}


def render_in(kind: MessageKind, language: Language, **changes: object) -> Message:
    return render(kind, (language,), context_for(kind, **changes), now=NOW)


def write_templates(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory


# --- every kind in every language -----------------------------------------------------------------------


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_renders_in_every_language(kind: MessageKind, language: Language) -> None:
    message = render_in(kind, language)

    assert message.language is language
    assert message.subject
    assert "\n" not in message.subject
    assert not message.subject.startswith("Subject")
    assert message.body.startswith(GREETING[language])
    assert message.body.endswith(SIGN_OFF[language])
    assert KEY_WORDS[kind][language] in (message.subject + message.body).lower()
    assert "C-1042" in message.subject + message.body
    assert "{" not in message.subject + message.body
    assert "\n\n\n" not in message.body


def test_each_language_folder_holds_exactly_the_seven_kinds() -> None:
    for language in Language:
        found = sorted(path.name for path in (TEMPLATES / language.value).iterdir())
        assert found == sorted(f"{kind.value}.txt.j2" for kind in MessageKind)


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(MessageKind))
def test_a_template_reads_exactly_the_variables_its_kind_declares(
    kind: MessageKind, language: Language
) -> None:
    source = (TEMPLATES / template_name(language, kind)).read_text(encoding="utf-8")
    assert meta.find_undeclared_variables(ENVIRONMENT.parse(source)) == VARIABLES[kind]


@pytest.mark.parametrize("language", list(Language))
def test_the_first_name_is_optional(language: Language) -> None:
    body = render_in(MessageKind.ACKNOWLEDGEMENT, language, first_name=None).body
    assert body.splitlines()[0] == GREETING[language].replace(" Kari", "")
    assert "Kari" not in body


@pytest.mark.parametrize(
    ("language", "named", "anonymous"),
    [
        (NB, "Ola har tatt over", "En av våre rådgivere har tatt over"),
        (SV, "Ola har tagit över", "En av våra medarbetare har tagit över"),
        (DA, "Ola har overtaget", "En af vores medarbejdere har overtaget"),
        (EN, "Ola has taken over", "One of our advisers has taken over"),
    ],
)
def test_an_assignment_names_the_agent_when_we_may(language: Language, named: str, anonymous: str) -> None:
    assert named in render_in(MessageKind.ASSIGNED, language).body
    assert anonymous in render_in(MessageKind.ASSIGNED, language, agent_name=None).body


@pytest.mark.parametrize(
    ("language", "supplier"),
    [(NB, "leverandøren"), (SV, "leverantör"), (DA, "leverandør"), (EN, "supplier")],
)
def test_a_status_update_says_when_we_wait_for_the_supplier(language: Language, supplier: str) -> None:
    assert supplier in render_in(MessageKind.STATUS_UPDATE, language, waiting_for_supplier=True).body
    assert supplier not in render_in(MessageKind.STATUS_UPDATE, language).body


@pytest.mark.parametrize("language", list(Language))
def test_feedback_promises_a_follow_up_only_when_there_is_one(language: Language) -> None:
    with_follow_up = render_in(MessageKind.FEEDBACK_ACKNOWLEDGED, language, follow_up=True).body
    without = render_in(MessageKind.FEEDBACK_ACKNOWLEDGED, language, follow_up=False).body

    assert "C-1042" in with_follow_up
    assert "C-1042" not in without
    assert without.count("\n\n") == 2  # greeting, thanks, sign-off: no gap where the promise was


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (NB, "svarer deg innen cirka 2" + DASH + "4 timer."),
        (SV, "återkommer inom cirka 2" + DASH + "4 timmar."),
        (DA, "vender tilbage til dig inden for cirka 2" + DASH + "4 timer."),
        (EN, "get back to you within about 2" + DASH + "4 hours."),
    ],
)
def test_an_acknowledgement_says_when_to_expect_an_answer(language: Language, said: str) -> None:
    assert said in render_in(MessageKind.ACKNOWLEDGEMENT, language).body


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (NB, "svarer deg så snart vi kan."),
        (SV, "återkommer så snart vi kan."),
        (DA, "vender tilbage til dig så hurtigt vi kan."),
        (EN, "get back to you as soon as we can."),
    ],
)
def test_an_acknowledgement_without_an_estimate_promises_no_time(language: Language, said: str) -> None:
    assert said in render_in(MessageKind.ACKNOWLEDGEMENT, language, eta=UNKNOWN).body


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (NB, "ringer deg i stedet i morgen mellom kl. 10.00 og 12.00."),
        (SV, "ringer dig i stället i morgon mellan kl. 10.00 och 12.00."),
        (DA, "ringer i stedet i morgen mellem kl. 10.00 og 12.00."),
        (EN, "call you tomorrow between 10:00 and 12:00 instead."),
    ],
)
def test_a_rescheduled_callback_says_the_new_window_in_local_time(language: Language, said: str) -> None:
    assert said in render_in(MessageKind.CALLBACK_RESCHEDULED, language).body


def test_the_customers_zone_decides_the_times_said() -> None:
    context = context_for(MessageKind.CALLBACK_RESCHEDULED)
    body = render(MessageKind.CALLBACK_RESCHEDULED, (EN,), context, now=NOW, time_zone="UTC").body
    assert "tomorrow between 09:00 and 11:00" in body


# --- strictness and the subject convention --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MessageKind))
def test_a_missing_variable_is_an_error(kind: MessageKind) -> None:
    for name in VARIABLES[kind]:
        context = context_for(kind)
        del context[name]
        with pytest.raises(UndefinedError, match=name):
            render(kind, (NB,), context, now=NOW)


def test_a_variable_a_template_reads_but_was_not_given_is_an_error(tmp_path: Path) -> None:
    env = build_environment(
        write_templates(tmp_path, {"en/assigned.txt.j2": "Subject: Hello\n\n{{ agent_name }} {{ surname }}"})
    )
    with pytest.raises(UndefinedError, match="surname"):
        render(MessageKind.ASSIGNED, (EN,), context_for(MessageKind.ASSIGNED), now=NOW, environment=env)


@pytest.mark.parametrize(
    "text", ["Hello\n\nBody", "Subject:\n\nBody", "Subject:   \n\nBody", "\nSubject: Hi\n\nB"]
)
def test_a_template_without_a_subject_line_is_an_error(tmp_path: Path, text: str) -> None:
    env = build_environment(write_templates(tmp_path, {"en/assigned.txt.j2": text}))
    with pytest.raises(ValueError, match="Subject"):
        render(MessageKind.ASSIGNED, (EN,), context_for(MessageKind.ASSIGNED), now=NOW, environment=env)


def test_subject_and_body_are_split_at_the_first_line(tmp_path: Path) -> None:
    env = build_environment(
        write_templates(tmp_path, {"en/assigned.txt.j2": "Subject:  Case {{ case_ref }} \n\n\nHi\n\nBye\n\n"})
    )
    message = render(MessageKind.ASSIGNED, (EN,), context_for(MessageKind.ASSIGNED), now=NOW, environment=env)
    assert message == Message(subject="Case C-1042", body="Hi\n\nBye", language=EN)


# --- falling back ---------------------------------------------------------------------------------------


def test_a_kind_missing_in_a_language_falls_back_along_the_chain(tmp_path: Path) -> None:
    env = build_environment(
        write_templates(
            tmp_path,
            {
                "nb/assigned.txt.j2": "Subject: Hei\n\nHei",
                "en/assigned.txt.j2": "Subject: Hello\n\nHello",
                "en/acknowledgement.txt.j2": "Subject: Thanks\n\nWe answer {{ eta | eta_phrase }}.",
            },
        )
    )
    context = context_for(MessageKind.ACKNOWLEDGEMENT)

    message = render(MessageKind.ACKNOWLEDGEMENT, fallback_chain("nn"), context, now=NOW, environment=env)

    assert message.language is EN
    # The phrases follow the language the text is in, not the one asked for first.
    assert message.body == "We answer within about 2" + DASH + "4 hours."
    assigned = render(
        MessageKind.ASSIGNED,
        fallback_chain("nn"),
        context_for(MessageKind.ASSIGNED),
        now=NOW,
        environment=env,
    )
    assert assigned.language is NB


def test_a_kind_missing_in_every_language_of_the_chain_is_an_error(tmp_path: Path) -> None:
    env = build_environment(write_templates(tmp_path, {"sv/assigned.txt.j2": "Subject: Hej\n\nHej"}))
    with pytest.raises(TemplatesNotFound):
        render(MessageKind.ASSIGNED, (DA, EN), context_for(MessageKind.ASSIGNED), now=NOW, environment=env)
    with pytest.raises(TemplatesNotFound):
        render(MessageKind.ASSIGNED, (), context_for(MessageKind.ASSIGNED), now=NOW, environment=env)


def test_the_shipped_templates_answer_every_chain_in_its_first_language() -> None:
    for tag in ("nn", "nb-NO", "sv-FI", "da", "en-GB"):
        chain = fallback_chain(tag)
        assert render_in(MessageKind.STATUS_UPDATE, chain[0]).language is chain[0]


# --- the expected answer time: WITHIN -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "said"),
    [
        (timedelta(minutes=15), timedelta(minutes=30), "within about 15" + DASH + "30 minutes"),
        (timedelta(minutes=12), timedelta(minutes=27), "within about 10" + DASH + "30 minutes"),
        (timedelta(0), timedelta(minutes=20), "within about 20 minutes"),
        (timedelta(minutes=3), timedelta(minutes=4), "within about 5 minutes"),
        (timedelta(minutes=20), timedelta(minutes=20), "within about 20 minutes"),
        (timedelta(minutes=30), timedelta(hours=1), "within about 30" + DASH + "60 minutes"),
        (timedelta(hours=2), timedelta(hours=4), "within about 2" + DASH + "4 hours"),
        (timedelta(minutes=90), timedelta(minutes=190), "within about 1" + DASH + "4 hours"),
        (timedelta(minutes=20), timedelta(minutes=61), "within about 2 hours"),
        (timedelta(hours=3), timedelta(hours=3), "within about 3 hours"),
        (timedelta(hours=20), timedelta(hours=23, minutes=59), "within about 20" + DASH + "24 hours"),
        (-timedelta(minutes=10), timedelta(minutes=10), "within about 10 minutes"),
    ],
)
def test_a_span_under_a_day_is_said_as_a_rounded_range(low: timedelta, high: timedelta, said: str) -> None:
    assert phrase_eta(within(NOW, low, high), EN, NOW, OSLO) == said


@pytest.mark.parametrize(
    ("language", "minutes", "hours"),
    [
        (NB, "innen cirka 15" + DASH + "30 minutter", "innen cirka 2" + DASH + "4 timer"),
        (SV, "inom cirka 15" + DASH + "30 minuter", "inom cirka 2" + DASH + "4 timmar"),
        (DA, "inden for cirka 15" + DASH + "30 minutter", "inden for cirka 2" + DASH + "4 timer"),
        (EN, "within about 15" + DASH + "30 minutes", "within about 2" + DASH + "4 hours"),
    ],
)
def test_minutes_and_hours_in_each_language(language: Language, minutes: str, hours: str) -> None:
    quarter = within(NOW, timedelta(minutes=15), timedelta(minutes=30))
    assert phrase_eta(quarter, language, NOW, OSLO) == minutes
    assert phrase_eta(within(NOW, timedelta(hours=2), timedelta(hours=4)), language, NOW, OSLO) == hours


@pytest.mark.parametrize(
    ("high", "language", "said"),
    [
        (timedelta(hours=24), EN, "by tomorrow"),  # Thursday 13:00 in Oslo
        (timedelta(hours=30), NB, "innen i morgen"),
        (timedelta(hours=30), SV, "senast i morgon"),
        (timedelta(hours=30), DA, "senest i morgen"),
        (timedelta(days=3), EN, "by Saturday"),
        (timedelta(days=3), NB, "innen lørdag"),
        (timedelta(days=3), SV, "senast lördag"),
        (timedelta(days=3), DA, "senest lørdag"),
        (timedelta(days=9), EN, "by Friday 23 January"),
        (timedelta(days=9), NB, "innen fredag 23. januar"),
    ],
)
def test_a_span_of_a_day_or_more_is_said_by_its_last_day(
    high: timedelta, language: Language, said: str
) -> None:
    assert phrase_eta(within(NOW, timedelta(hours=1), high), language, NOW, OSLO) == said


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(min_value=0, max_value=24 * 60 * 60 - 1),
    extra=st.integers(min_value=1, max_value=24 * 60 * 60 - 1),
)
def test_the_range_said_always_holds_the_estimate(low: int, extra: int) -> None:
    high = min(low + extra, 24 * 60 * 60 - 1)
    said = phrase_eta(within(NOW, timedelta(seconds=low), timedelta(seconds=high)), EN, NOW, OSLO)
    numbers = [int(n) for n in re.findall(r"\d+", said)]
    unit = 60 if said.endswith("minutes") else 3600
    assert numbers[-1] * unit >= high  # never sooner than we expect
    if len(numbers) == 2:
        assert numbers[0] * unit <= low  # and never later than we might manage
        assert numbers[0] < numbers[1]


# --- the expected answer time: AFTER_OPENING and UNKNOWN ------------------------------------------------


@pytest.mark.parametrize(
    ("now", "opening", "language", "said"),
    [
        # Wednesday evening, open Thursday morning.
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 15, 8), EN, "tomorrow after 08:00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 15, 8), NB, "i morgen etter kl. 08.00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 15, 8), SV, "i morgon efter kl. 08.00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 15, 8), DA, "i morgen efter kl. 08.00"),
        # Early morning, open later today.
        (oslo(2026, 1, 15, 6, 30), oslo(2026, 1, 15, 8), EN, "today after 08:00"),
        (oslo(2026, 1, 15, 6, 30), oslo(2026, 1, 15, 8), NB, "i dag etter kl. 08.00"),
        # Just after midnight in Oslo, still the day before in UTC: it is today, not tomorrow.
        (oslo(2026, 1, 15, 0, 30), oslo(2026, 1, 15, 8), EN, "today after 08:00"),
        # Friday evening, open Monday.
        (oslo(2026, 1, 16, 18), oslo(2026, 1, 19, 9), EN, "on Monday after 09:00"),
        (oslo(2026, 1, 16, 18), oslo(2026, 1, 19, 9), NB, "på mandag etter kl. 09.00"),
        (oslo(2026, 1, 16, 18), oslo(2026, 1, 19, 9), SV, "på måndag efter kl. 09.00"),
        (oslo(2026, 1, 16, 18), oslo(2026, 1, 19, 9), DA, "på mandag efter kl. 09.00"),
        # Six days ahead is still a weekday; seven would be ambiguous, so a date.
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 20, 8), EN, "on Tuesday after 08:00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 21, 8), EN, "on Wednesday 21 January after 08:00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 21, 8), NB, "onsdag 21. januar etter kl. 08.00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 21, 8), SV, "onsdag den 21 januari efter kl. 08.00"),
        (oslo(2026, 1, 14, 20), oslo(2026, 1, 21, 8), DA, "onsdag den 21. januar efter kl. 08.00"),
        # Closed over the new year: the year is said when it is not this one.
        (oslo(2026, 12, 23, 16), oslo(2027, 1, 4, 8), EN, "on Monday 4 January 2027 after 08:00"),
        (oslo(2026, 12, 23, 16), oslo(2027, 1, 4, 8), NB, "mandag 4. januar 2027 etter kl. 08.00"),
    ],
)
def test_after_opening_names_the_day_and_the_opening_time(
    now: datetime, opening: datetime, language: Language, said: str
) -> None:
    assert phrase_eta(after_opening(opening), language, now, OSLO) == said


@pytest.mark.parametrize(
    ("now", "opening", "said"),
    [
        # Saturday evening before summer time starts (Sunday 02:00 becomes 03:00): Monday opens at 08:00
        # local, 06:00 UTC rather than 07:00.
        (oslo(2026, 3, 28, 20), oslo(2026, 3, 30, 8), "on Monday after 08:00"),
        (oslo(2026, 3, 29, 0, 30), oslo(2026, 3, 30, 8), "tomorrow after 08:00"),
        # Saturday 23:30 to Monday 00:30 is only 24 hours across the short Sunday, yet two days ahead.
        (oslo(2026, 3, 28, 23, 30), oslo(2026, 3, 30, 0, 30), "on Monday after 00:30"),
        # Autumn: Sunday 03:00 becomes 02:00 again; Monday 08:00 is 07:00 UTC.
        (oslo(2026, 10, 24, 20), oslo(2026, 10, 26, 8), "on Monday after 08:00"),
        (oslo(2026, 10, 25, 23, 30), oslo(2026, 10, 26, 8), "tomorrow after 08:00"),
    ],
)
def test_days_and_times_are_local_across_dst(now: datetime, opening: datetime, said: str) -> None:
    assert phrase_eta(after_opening(opening), EN, now, OSLO) == said


def test_dst_moves_the_utc_instant_but_not_the_clock_said() -> None:
    winter, summer = oslo(2026, 3, 27, 8), oslo(2026, 3, 30, 8)
    assert (winter.hour, summer.hour) == (7, 6)
    assert phrase_clock(winter, NB, OSLO) == phrase_clock(summer, NB, OSLO) == "08.00"


@pytest.mark.parametrize(
    ("language", "said"),
    [(NB, "så snart vi kan"), (SV, "så snart vi kan"), (DA, "så hurtigt vi kan"), (EN, "as soon as we can")],
)
def test_unknown_promises_no_time(language: Language, said: str) -> None:
    assert phrase_eta(UNKNOWN, language, NOW, OSLO) == said


@pytest.mark.parametrize(
    "eta",
    [
        within(NOW, -timedelta(hours=3), -timedelta(hours=1)),  # the whole range has passed
        within(NOW, -timedelta(hours=1), timedelta(0)),
        after_opening(NOW - timedelta(hours=1)),  # the opening it waited for has passed
    ],
)
def test_an_estimate_already_past_promises_no_time(eta: Eta) -> None:
    assert phrase_eta(eta, EN, NOW, OSLO) == "as soon as we can"


class _OtherKind(StrEnum):
    WITHIN = "WITHIN"
    AFTER_OPENING = "AFTER_OPENING"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class _Estimate:
    """Shaped like the eta module's ``Estimate``: its own enum, read-only fields."""

    kind: _OtherKind
    earliest: datetime
    latest: datetime


def test_another_modules_estimate_fits() -> None:
    estimate: EtaLike = _Estimate(_OtherKind.WITHIN, NOW + timedelta(hours=2), NOW + timedelta(hours=4))
    assert phrase_eta(estimate, EN, NOW, OSLO) == "within about 2" + DASH + "4 hours"
    context = context_for(MessageKind.ACKNOWLEDGEMENT, eta=estimate)
    assert "innen cirka 2" in render(MessageKind.ACKNOWLEDGEMENT, (NB,), context, now=NOW).body


def test_an_unknown_estimate_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        phrase_eta(Eta("soonish", NOW, NOW + timedelta(hours=1)), EN, NOW, OSLO)


# --- days and windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "bare", "said"),
    [
        (oslo(2026, 1, 14, 23, 59), False, "today"),
        (oslo(2026, 1, 15, 0, 0), False, "tomorrow"),
        (oslo(2026, 1, 16, 9), False, "on Friday"),
        (oslo(2026, 1, 16, 9), True, "Friday"),
        (oslo(2026, 1, 21, 9), False, "on Wednesday 21 January"),
        (oslo(2026, 1, 21, 9), True, "Wednesday 21 January"),
    ],
)
def test_a_day_is_said_relative_to_the_local_today(moment: datetime, bare: bool, said: str) -> None:
    assert phrase_day(moment, EN, NOW, OSLO, bare=bare) == said


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (NB, "fra i dag kl. 22.00 til i morgen kl. 02.00"),
        (SV, "från i dag kl. 22.00 till i morgon kl. 02.00"),
        (DA, "fra i dag kl. 22.00 til i morgen kl. 02.00"),
        (EN, "from today 22:00 to tomorrow 02:00"),
    ],
)
def test_a_window_past_midnight_names_both_days(language: Language, said: str) -> None:
    start, end = oslo(2026, 1, 14, 22), oslo(2026, 1, 15, 2)
    assert phrase_window(start, end, language, NOW, OSLO) == said


def test_a_window_on_the_day_dst_starts_keeps_its_wall_clock() -> None:
    start, end = oslo(2026, 3, 29, 1, 30), oslo(2026, 3, 29, 4)  # 01:30 to 04:00 is 1.5 hours that night
    now = oslo(2026, 3, 28, 12)
    assert phrase_window(start, end, NB, now, OSLO) == "i morgen mellom kl. 01.30 og 04.00"
