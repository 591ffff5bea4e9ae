from __future__ import annotations

from datetime import timedelta

from services.profile.ports import TimelineItem
from services.profile.queries import WEB_SESSION_KIND, summarise_sessions
from tests.profile.unit.profile_builders import NOW


def web(event_id: str, minutes: int, session: str, activity: str = "page_view") -> TimelineItem:
    url = f"https://shop.example.no/{event_id}"
    details = {"web": {"session_id": session, "activity": activity, "url": url, "sku": None}}
    return TimelineItem(event_id, NOW + timedelta(minutes=minutes), "web_activity", "t", "web", "/s", details)


def contact(event_id: str, minutes: int) -> TimelineItem:
    return TimelineItem(event_id, NOW + timedelta(minutes=minutes), "interaction", "t", "chat", "/s", {})


def test_each_run_of_one_session_becomes_one_summary_newest_first() -> None:
    items = [
        web("w5", 5, "s1", "cart_add"),
        web("w4", 4, "s1"),
        contact("c3", 3),
        web("w2", 2, "s1"),
        web("w1", 1, "s2"),
    ]

    summarised = summarise_sessions(items)

    assert [(item.kind, item.event_id) for item in summarised] == [
        (WEB_SESSION_KIND, "w5"),
        ("interaction", "c3"),
        (WEB_SESSION_KIND, "w2"),
        (WEB_SESSION_KIND, "w1"),
    ]
    first = summarised[0].details["web_session"]
    assert first["events"] == 2
    assert first["activities"] == {"cart_add": 1, "page_view": 1}
    assert (first["started_at"], first["ended_at"]) == (
        NOW + timedelta(minutes=4),
        NOW + timedelta(minutes=5),
    )
    assert first["last_url"] == "https://shop.example.no/w5"
    assert first["event_ids"] == ["w5", "w4"]


def test_a_timeline_without_web_activity_is_unchanged() -> None:
    items = [contact("c2", 2), contact("c1", 1)]

    assert summarise_sessions(items) == items
    assert summarise_sessions([]) == []
