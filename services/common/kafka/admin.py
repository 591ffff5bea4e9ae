"""Topic provisioning from the one declaration in ``schemas.catalog``: create what is missing, grow
partitions that are too few, align cleanup policy and retention. Safe to run any number of times."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas.catalog import TopicSpec, all_topics
from services.common.kafka.connection import kafka_python_options
from services.common.settings import CommonSettings

_log = logging.getLogger(__name__)


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    reconfigured: list[str] = field(default_factory=list)


def provision_topics(settings: CommonSettings, topics: Sequence[TopicSpec] | None = None) -> ProvisionReport:
    wanted = list(topics if topics is not None else all_topics())
    report = ProvisionReport()
    admin = KafkaAdminClient(client_id="helhet-provisioner", **kafka_python_options(settings))
    try:
        existing = set(admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        for topic in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            topic.name,
                            topic.partitions,
                            settings.kafka_topic_replication_factor,
                            topic_configs=topic.kafka_config,
                        )
                    ]
                )
                report.created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another provisioner: fine
        if report.created:
            # Leaders are elected asynchronously; producing before that fails with NotLeaderForPartition.
            admin.wait_for_topics(report.created)
        present = [topic for topic in wanted if topic not in missing]
        _grow_partitions(admin, present, report)
        _align_configs(admin, present, report)
    finally:
        admin.close()
    _log.info(
        "topics provisioned: %d created, %d grown, %d reconfigured",
        len(report.created),
        len(report.grown),
        len(report.reconfigured),
    )
    return report


def _grow_partitions(admin: KafkaAdminClient, topics: Sequence[TopicSpec], report: ProvisionReport) -> None:
    if not topics:
        return
    described = {
        entry["name"]: len(entry["partitions"]) for entry in admin.describe_topics([t.name for t in topics])
    }
    for topic in topics:
        current = described.get(topic.name, topic.partitions)
        if current < topic.partitions:
            admin.create_partitions({topic.name: topic.partitions})
            report.grown.append(topic.name)
        elif current > topic.partitions:
            # Kafka cannot shrink a topic; keys would move anyway. Say so, change nothing.
            _log.warning("topic %s has %d partitions, declared %d", topic.name, current, topic.partitions)


def _align_configs(admin: KafkaAdminClient, topics: Sequence[TopicSpec], report: ProvisionReport) -> None:
    for topic in topics:
        wanted = topic.kafka_config
        actual = current_topic_config(admin, topic.name, list(wanted))
        if any(actual.get(name) != value for name, value in wanted.items()):
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic.name, configs=wanted)])
            report.reconfigured.append(topic.name)


def current_topic_config(admin: KafkaAdminClient, name: str, keys: Sequence[str]) -> dict[str, str | None]:
    """The effective values of ``keys`` for topic ``name`` (defaults included)."""
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=dict.fromkeys(keys))], config_filter="all"
    )
    return {key: entry.get("value") for key, entry in described.get("topic", {}).get(name, {}).items()}
