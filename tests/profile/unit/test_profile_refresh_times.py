"""When time alone may next move a profile: before that instant the stage and the ledger are what they are
now, and after it the refresh looks again. Also the sweep's request ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.customers import ExperienceReason, LifecycleStage
from schemas.interactions import Direction, InteractionEvent
from services.profile.core.experience import (
    Experience,
    ExperienceConfig,
    Feeling,
    PhoneStep,
    ledger,
    next_ledger_change,
)
from services.profile.core.lifecycle import LifecycleConfig, next_stage_change, stage_of
from services.profile.core.observe import FactKind, observe
from services.profile.core.profile import ProfileFacts
from services.profile.refresh import refresh_request

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LIFECYCLE = LifecycleConfig()
EXPERIENCE = ExperienceConfig()

days = st.integers(min_value=-1200, max_value=30)
purchase_sets = st.lists(days.map(lambda d: NOW + timedelta(days=d, hours=d % 7)), max_size=6)
later = st.integers(min_value=0, max_value=4000 * 24).map(lambda h: timedelta(hours=h))


@settings(max_examples=300, deadline=None)
@given(purchase_sets, later)
def test_the_stage_holds_until_the_next_change(purchases: list[datetime], wait: timedelta) -> None:
    change = next_stage_change(purchases, LIFECYCLE, NOW)
    when = NOW + wait
    if change is None or when <= change:
        assert stage_of(purchases, LIFECYCLE, when) == stage_of(purchases, LIFECYCLE, NOW)


def test_an_active_customer_is_due_when_the_at_risk_threshold_passes() -> None:
    last = NOW - timedelta(days=170)
    purchases = [NOW - timedelta(days=400), last]
    change = next_stage_change(purchases, LIFECYCLE, NOW)
    assert change == last + LIFECYCLE.at_risk_after
    assert stage_of(purchases, LIFECYCLE, change) is LifecycleStage.ACTIVE
    assert stage_of(purchases, LIFECYCLE, change + timedelta(seconds=1)) is LifecycleStage.AT_RISK


def test_a_churned_customer_and_a_prospect_are_never_due() -> None:
    assert next_stage_change([NOW - timedelta(days=900)], LIFECYCLE, NOW) is None
    assert next_stage_change([], LIFECYCLE, NOW) is None


def callback(at: datetime, window_end: datetime, event_id: str = "cb") -> PhoneStep:
    return PhoneStep(InteractionEvent.CALLBACK_REQUESTED, Direction.INBOUND, "call", at, event_id, window_end)


def test_a_callback_promise_is_due_when_it_runs_out_and_breaks_then() -> None:
    window_end = NOW + timedelta(hours=2)
    steps = [callback(NOW - timedelta(hours=1), window_end)]
    change = next_ledger_change({}, steps, EXPERIENCE, NOW)
    deadline = window_end + EXPERIENCE.callback_grace
    assert change == deadline
    assert not ledger({}, steps, EXPERIENCE, deadline).needs_recovery
    assert ledger({}, steps, EXPERIENCE, deadline + timedelta(seconds=1)).needs_recovery


def test_a_bad_experience_is_due_when_it_leaves_the_window() -> None:
    bad = Experience(Feeling.BAD, ExperienceReason.COMPLAINT, NOW - timedelta(days=3), "e1")
    change = next_ledger_change({"e1": bad}, [], EXPERIENCE, NOW)
    assert change == bad.occurred_at + EXPERIENCE.window
    assert ledger({"e1": bad}, [], EXPERIENCE, change).needs_recovery
    assert not ledger({"e1": bad}, [], EXPERIENCE, change + timedelta(seconds=1)).needs_recovery


experiences = st.lists(
    st.tuples(st.sampled_from(Feeling), st.integers(min_value=-400, max_value=10)),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(experiences, st.integers(min_value=-5, max_value=5), later)
def test_the_ledger_holds_until_the_next_change(
    felt: list[tuple[Feeling, int]], callback_in_hours: int, wait: timedelta
) -> None:
    observed = {
        f"e{n}": Experience(feeling, ExperienceReason.COMPLAINT, NOW + timedelta(days=offset), f"e{n}")
        for n, (feeling, offset) in enumerate(felt)
    }
    steps = [callback(NOW - timedelta(days=1), NOW + timedelta(hours=callback_in_hours))]
    change = next_ledger_change(observed, steps, EXPERIENCE, NOW)
    when = NOW + wait
    if change is None or when <= change:
        assert ledger(observed, steps, EXPERIENCE, when) == ledger(observed, steps, EXPERIENCE, NOW)


def test_one_refresh_request_per_stored_version() -> None:
    first = refresh_request("c-1", 3, NOW)
    again = refresh_request("c-1", 3, NOW + timedelta(minutes=5))
    next_version = refresh_request("c-1", 4, NOW + timedelta(minutes=5))
    assert first.id == again.id != next_version.id
    assert first.key == "c-1"
    assert first.type == "helhet.profile.refresh_due.v1"


def test_a_refresh_is_not_the_customer_being_seen() -> None:
    request = refresh_request("c-1", 3, NOW)
    observed = observe(request)
    assert (observed.customer_id, observed.kind) == ("c-1", FactKind.REFRESH)
    seen_before = ProfileFacts(last_seen=NOW - timedelta(days=200))
    assert seen_before.with_event(observed).last_seen == seen_before.last_seen
