from __future__ import annotations

import json

from schemas.catalog import EVENT_TYPES, TOPICS, all_topics
from schemas.generate import GENERATED, drift


def test_committed_schemas_match_the_models() -> None:
    assert drift() == [], "generated contracts drifted from the models: run `make schemas`"


def test_asyncapi_lists_every_topic_and_event_type() -> None:
    document = json.loads((GENERATED / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    assert set(document["channels"]) == {topic.name for topic in all_topics()}
    for declared in EVENT_TYPES:
        assert declared.name in document["channels"][declared.topic]["messages"]
        assert declared.model.__name__ in document["components"]["schemas"]


def test_every_consumed_topic_has_a_dead_letter_twin_and_profiles_is_compacted() -> None:
    names = {topic.name for topic in all_topics()}
    assert all(f"{topic.name}.dlq" in names for topic in TOPICS if topic.consumed)
    compacted = {topic.name for topic in all_topics() if topic.compacted}
    assert compacted == {"profiles.v1"}
