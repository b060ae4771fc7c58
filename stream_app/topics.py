"""Group-less reading of whole topics (model announcements, alerts recovery)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from flarecore.settings import KafkaSettings


async def partitions_of(kafka: KafkaSettings, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` (none when the topic does not exist)."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            return []
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    numbers = sorted(p["partition"] for p in described["partitions"])
    return [TopicPartition(topic, n) for n in numbers]


async def assign_all(consumer: AIOKafkaConsumer, kafka: KafkaSettings, topic: str,
                     tail: int | None = None) -> dict[TopicPartition, int]:
    """Assign every partition, from the beginning or the last ``tail`` messages.

    Returns the end offsets at the time of the call.
    """
    tps = await partitions_of(kafka, topic)
    if not tps:
        return {}
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    begins = await consumer.beginning_offsets(tps)
    for tp in tps:
        start = begins[tp] if tail is None else max(begins[tp], ends[tp] - tail)
        consumer.seek(tp, start)
    return ends


async def read_until(consumer: AIOKafkaConsumer,
                     ends: dict[TopicPartition, int]) -> list[bytes | None]:
    """Values up to the given end offsets of the assigned partitions."""
    values: list[bytes | None] = []
    while await behind(consumer, ends):
        for messages in (await consumer.getmany(timeout_ms=1000)).values():
            values += [m.value for m in messages if m.offset < ends[
                TopicPartition(m.topic, m.partition)]]
    return values


async def behind(consumer: AIOKafkaConsumer,
                 ends: dict[TopicPartition, int]) -> bool:
    """Whether any assigned partition is still before its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False
