"""Re-deliver dead letters to subscribers that are back.

Each subscriber replays with its own consumer group (``<group>.replay.<name>``),
committing after every record, so a replay is never repeated and replaying one
subscriber does not consume another's dead letters. A replay reads up to the end
of the topic as it was when it started; alerts that fail again are dead-lettered
again, after that end, for the next replay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from alerting import ConfigError
from alerting.base import Sink
from alerting.deadletter import DeadLetter, DeadLetterPublisher, source_of
from alerting.delivery import deliver
from alerting.service import make_sink
from alerting.settings import AlertingSettings, SubscriberConfig

logger = logging.getLogger(__name__)


@dataclass
class ReplayReport:
    """What one subscriber's replay did."""

    subscriber: str
    delivered: int = 0
    failed_again: int = 0
    skipped: int = 0
    seen_ids: set[str] = field(default_factory=set, repr=False)


def select(subscribers: list[SubscriberConfig],
           names: list[str] | None) -> list[SubscriberConfig]:
    """The subscribers to replay: those named, or all."""
    if not names:
        return subscribers
    known = {s.name: s for s in subscribers}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown subscriber(s): {', '.join(unknown)}; "
                          f"configured: {', '.join(known)}")
    return [known[n] for n in names]


async def replay(settings: AlertingSettings, subscribers: list[SubscriberConfig]
                 ) -> list[ReplayReport]:
    """Replay the dead-letter topic for each subscriber in turn."""
    producer = AIOKafkaProducer(**settings.kafka.aiokafka_kwargs(), acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        topic = settings.topics.alerts_deadletter
        publisher = DeadLetterPublisher(producer, topic)
        tps = [TopicPartition(topic, p)
               for p in sorted(await producer.partitions_for(topic))]
        async with httpx.AsyncClient() as client:
            return [await _replay_one(settings, tps, make_sink(s), client, publisher)
                    for s in subscribers]
    finally:
        await producer.stop()


async def _replay_one(settings: AlertingSettings, tps: list[TopicPartition],
                      sink: Sink,
                      client: httpx.AsyncClient,
                      publisher: DeadLetterPublisher) -> ReplayReport:
    consumer = AIOKafkaConsumer(
        **settings.kafka.aiokafka_kwargs(),
        group_id=f"{settings.group_id}.replay.{sink.name}",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    report = ReplayReport(sink.name)
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        while await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        await _replay_record(sink, client, publisher, record, report)
                        await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()
    logger.info("replay finished subscriber=%s delivered=%d failed_again=%d "
                "skipped=%d", report.subscriber, report.delivered,
                report.failed_again, report.skipped)
    return report


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
                  ) -> bool:
    """Whether some partition has not yet been read up to its end offset."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _replay_record(sink: Sink, client: httpx.AsyncClient,
                         publisher: DeadLetterPublisher,
                         record: ConsumerRecord[bytes, bytes],
                         report: ReplayReport) -> None:
    source = source_of(record.topic, record.partition, record.offset)
    try:
        letter = DeadLetter.from_bytes(record.value or b"")
    except ValidationError as exc:
        logger.warning("unreadable dead letter source=%s errors=%d", source,
                       exc.error_count())
        report.skipped += 1
        return
    alert = letter.alert
    if letter.subscriber != sink.name or alert is None:
        report.skipped += 1
        return
    if alert.alert_id in report.seen_ids:
        report.skipped += 1  # dead-lettered twice (re-read after a restart)
        return
    report.seen_ids.add(alert.alert_id)
    outcome = await deliver(sink, alert, client)
    if outcome.delivered:
        report.delivered += 1
        return
    report.failed_again += 1
    await publisher.publish(letter.model_copy(update={
        "error": outcome.error or "unknown",
        "attempts": letter.attempts + outcome.attempts,
    }))
