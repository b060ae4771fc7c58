"""The alerting service: read alerts, fan out to subscriber workers, commit safely.

Each subscriber has its own queue and task, so a slow or dead receiver delays only
itself. A record's offset is committed once every subscriber that wants it has
delivered it or dead-lettered it (at-least-once: receivers dedupe by alert id).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from alerting import AlertingError, metrics
from alerting.base import Sink, matches
from alerting.console import StdoutSink
from alerting.deadletter import (
    DeadLetter, DeadLetterPublisher, DeadLetterReason, source_of,
)
from alerting.delivery import deliver
from alerting.offsets import OffsetTracker
from alerting.settings import AlertingSettings, SinkKind, SubscriberConfig
from alerting.slack import SlackSink
from alerting.webhook import WebhookSink
from flarecore.alerts import Alert
from flarecore.quarantine import QuarantinedInput

logger = logging.getLogger(__name__)

_SINKS: dict[SinkKind, type[Sink]] = {
    SinkKind.WEBHOOK: WebhookSink, SinkKind.SLACK: SlackSink,
    SinkKind.STDOUT: StdoutSink,
}


def make_sink(config: SubscriberConfig) -> Sink:
    """The sink for a subscriber's kind."""
    return _SINKS[config.kind](config)


@dataclass(frozen=True)
class Job:
    """One alert for one subscriber, with where it was read."""

    tp: TopicPartition
    offset: int
    alert: Alert


class SubscriberWorker:
    """One subscriber's queue, delivered in order by one task."""

    def __init__(self, sink: Sink, client: httpx.AsyncClient,
                 deadletters: DeadLetterPublisher, tracker: OffsetTracker) -> None:
        self.sink = sink
        self._client = client
        self._deadletters = deadletters
        self._tracker = tracker
        self._queue: asyncio.Queue[Job] = asyncio.Queue()

    def offer(self, job: Job) -> None:
        """Queue an alert; never blocks, so the reader never waits on a receiver."""
        self._queue.put_nowait(job)

    async def run(self) -> None:
        """Deliver queued alerts one after another, forever."""
        while True:
            job = await self._queue.get()
            await self._handle(job)

    async def _handle(self, job: Job) -> None:
        outcome = await deliver(self.sink, job.alert, self._client)
        if not outcome.delivered:
            await self._deadletters.publish(DeadLetter(
                reason=DeadLetterReason.DELIVERY_FAILED, subscriber=self.sink.name,
                error=outcome.error or "unknown", attempts=outcome.attempts,
                source=source_of(job.tp.topic, job.tp.partition, job.offset),
                alert=job.alert,
            ))
            metrics.DELIVERIES.labels(self.sink.name, "dead_lettered").inc()
        self._tracker.done(job.tp, job.offset)


class AlertingService:
    """Consume the alerts topic and deliver every alert to its subscribers."""

    def __init__(self, settings: AlertingSettings,
                 subscribers: list[SubscriberConfig]) -> None:
        self.settings = settings
        self.sinks = [make_sink(s) for s in subscribers]
        self._tracker = OffsetTracker()
        self._workers: list[SubscriberWorker] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._deadletters: DeadLetterPublisher | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then finish what the grace period allows."""
        producer = AIOKafkaProducer(**self.settings.kafka.aiokafka_kwargs(),
                                    acks="all", enable_idempotence=True)
        self._consumer = consumer = self._make_consumer()
        self._deadletters = DeadLetterPublisher(
            producer, self.settings.topics.alerts_deadletter)
        await producer.start()
        tasks: list[asyncio.Task[None]] = []
        try:
            async with httpx.AsyncClient() as client:
                tasks = self._start_workers(client, self._deadletters)
                await consumer.start()
                self._log_start()
                await self._consume(consumer, stop, tasks)
                await self._drain()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._commit()
            await consumer.stop()
            await producer.stop()
            logger.info("alerting stopped group=%s", self.settings.group_id)

    def _make_consumer(self) -> AIOKafkaConsumer:
        settings = self.settings
        consumer = AIOKafkaConsumer(
            **settings.kafka.aiokafka_kwargs(), group_id=settings.group_id,
            client_id=f"{settings.kafka.client_id_prefix}-alerting",
            enable_auto_commit=False, auto_offset_reset=settings.auto_offset_reset,
            isolation_level="read_committed",
        )
        consumer.subscribe([settings.topics.alerts], listener=_Rebalance(self))
        return consumer

    def _start_workers(self, client: httpx.AsyncClient,
                       deadletters: DeadLetterPublisher) -> list[asyncio.Task[None]]:
        self._workers = [SubscriberWorker(sink, client, deadletters, self._tracker)
                         for sink in self.sinks]
        return [asyncio.create_task(w.run(), name=f"alerting-{w.sink.name}")
                for w in self._workers]

    def _log_start(self) -> None:
        logger.info("alerting started topic=%s group=%s deadletter=%s subscribers=%s",
                    self.settings.topics.alerts, self.settings.group_id,
                    self.settings.topics.alerts_deadletter,
                    ",".join(f"{s.name}:{s.config.kind}" for s in self.sinks))

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event,
                       tasks: list[asyncio.Task[None]]) -> None:
        last_commit_s = time.monotonic()
        while not stop.is_set():
            _check_workers(tasks)
            self._apply_backpressure(consumer)
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    await self._dispatch(tp, record)
            if time.monotonic() - last_commit_s >= self.settings.commit_interval_s:
                await self._commit()
                last_commit_s = time.monotonic()

    async def _dispatch(self, tp: TopicPartition,
                        record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            alert = Alert.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._reject(tp, record, exc)
            return
        wanted = [w for w in self._workers if matches(w.sink.config.filters, alert)]
        if not self._tracker.track(tp, record.offset, len(wanted)):
            return
        logger.info("alert received alert_id=%s kind=%s level=%s source=%s "
                    "subscribers=%d", alert.alert_id, alert.kind, alert.level,
                    source_of(tp.topic, tp.partition, record.offset), len(wanted))
        for worker in self._workers:
            if worker in wanted:
                worker.offer(Job(tp, record.offset, alert))
            else:
                metrics.DELIVERIES.labels(worker.sink.name, "filtered").inc()

    async def _reject(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes],
                      exc: ValidationError) -> None:
        if not self._tracker.track(tp, record.offset, 0):
            return
        source = source_of(tp.topic, tp.partition, record.offset)
        first = exc.errors()[0]
        detail = (f"not a valid alert: {exc.error_count()} error(s), first at "
                  f"{'.'.join(map(str, first['loc'])) or 'value'}: {first['msg']}")
        logger.warning("malformed alert source=%s detail=%r", source, detail)
        rejected = QuarantinedInput.of(
            record.value or b"", source=source, reason="malformed_alert",
            detail=detail, stage="alerting",
        )
        assert self._deadletters is not None  # set before consuming starts
        await self._deadletters.publish(DeadLetter(
            reason=DeadLetterReason.MALFORMED_ALERT, subscriber=None, error=detail,
            attempts=0, source=source, rejected=rejected,
        ))

    def _apply_backpressure(self, consumer: AIOKafkaConsumer) -> None:
        # TODO(#6): the pause is for all subscribers; a dead one with a huge
        # backlog would then delay the others. Per-subscriber spill-over to the
        # dead-letter topic would lift that, at the cost of ordering.
        in_flight = self._tracker.in_flight
        metrics.IN_FLIGHT.set(in_flight)
        assigned = consumer.assignment()
        if in_flight >= self.settings.max_in_flight:
            consumer.pause(*assigned)
        elif consumer.paused():
            consumer.resume(*assigned)

    async def _commit(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {tp: o for tp, o in self._tracker.committable().items()
                   if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # The next commit carries the same or later offsets; until then a
            # restart would only re-deliver, never lose.
            logger.warning("commit failed error=%s offsets=%s", type(exc).__name__,
                           _offsets_text(offsets))
            return
        self._tracker.committed(offsets)
        logger.debug("committed offsets=%s", _offsets_text(offsets))

    async def _drain(self) -> None:
        deadline_s = time.monotonic() + self.settings.shutdown_grace_s
        while self._tracker.in_flight and time.monotonic() < deadline_s:
            await asyncio.sleep(0.05)
        if self._tracker.in_flight:
            logger.warning("stopping with alerts in flight count=%d: they will be "
                           "delivered again after restart", self._tracker.in_flight)

    def forget(self, revoked: set[TopicPartition]) -> None:
        """Drop the state of partitions another instance now owns."""
        self._tracker.forget(revoked)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: AlertingService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._service._commit()
        self._service.forget(set(revoked))
        if revoked:
            logger.info("partitions revoked partitions=%s", _tps_text(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        logger.info("partitions assigned partitions=%s", _tps_text(assigned))


def _check_workers(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done():
            # A worker only ends by a bug; stop rather than silently stall its
            # subscriber (uncommitted alerts are delivered after restart).
            raise AlertingError(f"worker {task.get_name()} stopped: "
                                f"{task.exception()!r}")


def _tps_text(tps: set[TopicPartition]) -> str:
    return ",".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in tps))


def _offsets_text(offsets: dict[TopicPartition, int]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]={o}" for tp, o in offsets.items())
