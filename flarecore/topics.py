"""Create the system's topics explicitly, with the partition counts it relies on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from flarecore.errors import FlareError
from flarecore.settings import KafkaSettings, TopicSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    """A topic this system needs."""

    name: str
    partitions: int = 1
    replication: int = 1
    config: tuple[tuple[str, str], ...] = ()


def system_topics(topics: TopicSettings, replication: int = 1) -> list[TopicSpec]:
    """Every topic the producers, stream app, trainer and alerting exchange data on."""
    return [
        TopicSpec(topics.records, topics.records_partitions, replication),
        TopicSpec(topics.quarantine, 1, replication),
        TopicSpec(topics.alerts, topics.alerts_partitions, replication),
        TopicSpec(topics.alerts_deadletter, 1, replication),
        # Model announcements are few and must survive: keep the latest per key.
        TopicSpec(topics.models, 1, replication, (("cleanup.policy", "compact"),)),
    ]


async def ensure_topics(kafka: KafkaSettings, specs: list[TopicSpec]) -> None:
    """Create missing topics; fail if an existing one has another partition count."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
    await admin.start()
    try:
        existing = await _partition_counts(admin, [s.name for s in specs])
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await _create(admin, missing)
        for spec in specs:
            count = existing.get(spec.name)
            if count is not None and count != spec.partitions:
                raise FlareError(
                    f"topic {spec.name} has {count} partitions, expected "
                    f"{spec.partitions}; per-satellite state depends on it"
                )
    finally:
        await admin.close()


async def _partition_counts(admin: AIOKafkaAdminClient,
                            names: list[str]) -> dict[str, int]:
    listed = set(await admin.list_topics())
    present = [n for n in names if n in listed]
    if not present:
        return {}
    described = await admin.describe_topics(present)
    return {t["topic"]: len(t["partitions"]) for t in described}


async def _create(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    new = [
        NewTopic(s.name, s.partitions, s.replication, topic_configs=dict(s.config))
        for s in specs
    ]
    try:
        await admin.create_topics(new)
    except TopicAlreadyExistsError:
        # Another process created them between our listing and our request.
        pass
    for spec in specs:
        logger.info("topic created name=%s partitions=%d", spec.name, spec.partitions)
