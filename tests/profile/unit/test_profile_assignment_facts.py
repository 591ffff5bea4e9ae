"""Routing's assignment changes as the profile observes them: every change is a timeline note of ids, and
only an acceptance names the customer's last agent, the newest acceptance winning in any order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.routing import AssignmentChange, AssignmentChanged
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.adapters.outbound.documents import observed_from_timeline, timeline_document
from services.profile.core.attributes import AttributeName
from services.profile.core.observe import PROFILE_PAYLOADS, Assignment, FactKind
from services.profile.core.profile import ProfileConfig, fold
from services.profile.service import to_millis
from tests.profile.unit.profile_builders import NOW, assignment, message

HOUR = timedelta(hours=1)


def test_an_accepted_assignment_names_the_last_agent_with_the_event_time() -> None:
    observed = assignment("a1", AssignmentChange.ACCEPTED, agent_id="agent-7")

    [attribute] = observed.attributes
    assert (attribute.name, attribute.value, attribute.source) == (
        AttributeName.LAST_AGENT,
        "agent-7",
        "routing",
    )
    assert (attribute.occurred_at, attribute.event_id) == (NOW, "a1")
    assert observed.kind is FactKind.ASSIGNMENT
    assert (observed.customer_id, observed.identifiers, observed.source_channel) == ("kari", (), "routing")
    assert (observed.event_type, observed.source, observed.occurred_at) == (
        "helhet.assignment.changed.v1",
        "/routing",
        NOW,
    )


@pytest.mark.parametrize("change", [c for c in AssignmentChange if c is not AssignmentChange.ACCEPTED])
def test_no_other_change_touches_the_last_agent_but_each_is_a_timeline_note(change: AssignmentChange) -> None:
    observed = assignment("a1", change, agent_id="agent-7", reason="offer_timeout")

    assert observed.attributes == ()
    assert observed.assignment == Assignment(change, "case-1", "chat", "agent-7", "offer_timeout")
    assert observed.kind is FactKind.ASSIGNMENT
    assert observed.customer_id == "kari"


def test_the_note_keeps_ids_only() -> None:
    observed = assignment("a1", AssignmentChange.WAITING, agent_id=None, case_id="case-9", reason="no_agent")

    assert observed.assignment == Assignment(AssignmentChange.WAITING, "case-9", "chat", None, "no_agent")
    assert (observed.attributes, observed.consent) == ((), ())
    assert observed.contact is None
    assert observed.experience is None
    assert (observed.order, observed.case_close, observed.merge_with, observed.unmerge) == (
        None,
        None,
        (),
        None,
    )


def test_an_acceptance_without_an_agent_names_nobody() -> None:
    assert assignment("a1", AssignmentChange.ACCEPTED, agent_id=None).attributes == ()


def test_the_newest_acceptance_wins_whatever_the_arrival_order() -> None:
    events = [
        message("m1", at=NOW - 3 * HOUR),
        assignment("a-old", AssignmentChange.ACCEPTED, agent_id="agent-1", at=NOW - 2 * HOUR),
        assignment("a-new", AssignmentChange.ACCEPTED, agent_id="agent-2", at=NOW - HOUR),
        assignment("c-new", AssignmentChange.COMPLETED, agent_id="agent-2", at=NOW - HOUR / 2),
        assignment("o-late", AssignmentChange.OFFERED, agent_id="agent-3", at=NOW),
    ]

    for ordered in (events, events[::-1], [events[0], events[2], events[1], events[4], events[3]]):
        profile = fold("kari", ordered, ProfileConfig(), NOW)
        assert profile.view.last_agent == "agent-2"
        assert profile.facts.attributes[AttributeName.LAST_AGENT].event_id == "a-new"


def test_a_redelivered_acceptance_changes_nothing() -> None:
    accepted = assignment("a1", AssignmentChange.ACCEPTED)
    once = fold("kari", [message("m1", at=NOW - HOUR), accepted], ProfileConfig(), NOW)
    twice = fold("kari", [message("m1", at=NOW - HOUR), accepted, accepted], ProfileConfig(), NOW)

    assert once == twice


def test_the_timeline_entry_keeps_the_note_and_folds_again_to_the_same_last_agent() -> None:
    observed = to_millis(assignment("a1", AssignmentChange.ACCEPTED, reason=None))
    document = timeline_document(observed, "kari", "case-1")

    assert document["assignment"] == {
        "change": "accepted",
        "case_id": "case-1",
        "queue": "chat",
        "agent_id": "agent-7",
        "reason": None,
    }
    assert (document["kind"], document["channel"], document["case_id"]) == ("assignment", "routing", "case-1")
    assert document["identifiers"] == document["identified_as"] == []
    again = observed_from_timeline(document)
    assert again.assignment == observed.assignment
    assert again.attributes == observed.attributes


def test_the_worker_takes_assignment_changes() -> None:
    assert AssignmentChanged in PROFILE_PAYLOADS
    assert "assignments.v1" in PROFILE_TOPICS


def test_routing_moving_a_case_is_not_the_customer_being_seen() -> None:
    profile = fold(
        "kari",
        [
            message("m1", at=NOW - 3 * HOUR),
            assignment("a1", AssignmentChange.ACCEPTED, agent_id="agent-1", at=NOW - HOUR),
            assignment("c1", AssignmentChange.COMPLETED, agent_id="agent-1", at=NOW),
        ],
        ProfileConfig(),
        NOW,
    )

    assert (profile.facts.first_seen, profile.facts.last_seen) == (NOW - 3 * HOUR, NOW - 3 * HOUR)
