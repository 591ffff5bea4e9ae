"""Topics come from the one declaration in schemas.catalog and provisioning is idempotent."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaAdminClient

from schemas.catalog import TopicSpec, all_topics
from services.common.kafka.admin import current_topic_config, provision_topics
from services.common.kafka.connection import kafka_python_options
from services.common.settings import CommonSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(infra: CommonSettings):  # type: ignore[no-untyped-def]
    client = KafkaAdminClient(**kafka_python_options(infra))
    yield client
    client.close()


def test_declared_topics_exist_with_their_partitions_and_cleanup_policy(
    infra: CommonSettings, admin: KafkaAdminClient
) -> None:
    provision_topics(infra)
    partitions = {entry["name"]: len(entry["partitions"]) for entry in admin.describe_topics()}
    for topic in all_topics():
        assert partitions[topic.name] == topic.partitions, topic.name
    assert current_topic_config(admin, "profiles.v1", ["cleanup.policy"]) == {"cleanup.policy": "compact"}
    assert current_topic_config(admin, "interactions.v1.dlq", ["cleanup.policy"]) == {
        "cleanup.policy": "delete"
    }


def test_provisioning_twice_changes_nothing(infra: CommonSettings) -> None:
    provision_topics(infra)
    again = provision_topics(infra)
    assert (again.created, again.grown, again.reconfigured) == ([], [], [])


def test_provisioning_grows_partitions_and_repairs_cleanup_policy(
    infra: CommonSettings, admin: KafkaAdminClient
) -> None:
    name = f"test.provision.{uuid.uuid4().hex[:8]}"
    provision_topics(infra, [TopicSpec(name, "test", partitions=1, consumed=False)])
    report = provision_topics(infra, [TopicSpec(name, "test", partitions=3, compacted=True, consumed=False)])
    try:
        assert report.grown == [name]
        assert report.reconfigured == [name]
        assert len(admin.describe_topics([name])[0]["partitions"]) == 3
        assert current_topic_config(admin, name, ["cleanup.policy"]) == {"cleanup.policy": "compact"}
    finally:
        admin.delete_topics([name])
