"""Publish records and quarantined inputs to Kafka; read back what is published.

The producer is idempotent with ``acks=all``: a retried batch is written once.
Across restarts the poller reads the records topic's recent tail instead
(:func:`published_minutes`), so a minute sent before a crash is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from flarecore.quarantine import QuarantinedInput
from flarecore.records import (
    MAX_RECORDS_PER_MESSAGE,
    XrsRecord,
    XrsRecordBatch,
    decode_records,
)
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import ensure_topics, system_topics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What one send attempt achieved: delivered items, and the first error."""

    delivered: list[XrsRecord | QuarantinedInput]
    error: BaseException | None = None


class Publisher:
    """An idempotent aiokafka producer for the records and quarantine topics.

    ``records_per_message`` above 1 packs up to that many records of one
    satellite into one message (:class:`~flarecore.records.XrsRecordBatch`):
    a backfill's consumers then pay their per-message cost once per batch.
    """

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings,
                 request_timeout_ms: int = 15_000, batch_size: int = 2000,
                 client_id: str = "producers", records_per_message: int = 1) -> None:
        if not 1 <= records_per_message <= MAX_RECORDS_PER_MESSAGE:
            raise ValueError(f"records_per_message={records_per_message}: expected "
                             f"1..{MAX_RECORDS_PER_MESSAGE}")
        self._kafka = kafka
        self._topics = topics
        self._request_timeout_ms = request_timeout_ms
        self._batch_size = batch_size
        self._records_per_message = records_per_message
        self._client_id = f"{kafka.client_id_prefix}-{client_id}"
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        """True once connected to the cluster."""
        return self._producer is not None

    async def start(self) -> None:
        """Create the topics if missing and connect; raises ``KafkaError``."""
        await ensure_topics(self._kafka, system_topics(self._topics))
        producer = AIOKafkaProducer(
            **self._kafka.aiokafka_kwargs(), client_id=self._client_id,
            enable_idempotence=True, acks="all",
            request_timeout_ms=self._request_timeout_ms,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        logger.info("producer started topic=%s quarantine=%s", self._topics.records,
                    self._topics.quarantine)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Flush and disconnect, giving up on unacknowledged sends after a while."""
        if self._producer is None:
            return
        producer, self._producer = self._producer, None
        try:
            await asyncio.wait_for(producer.stop(), timeout_s)
        except TimeoutError:
            logger.error("producer stop timed out; unacknowledged sends abandoned "
                         "timeout_s=%s", timeout_s)

    async def restart(self, stop_timeout_s: float = 5.0) -> None:
        """Replace the producer with a new one; raises ``KafkaError`` if unreachable.

        After a failed send the idempotent producer's sequence numbers no longer
        match the broker's, and every later send fails with
        ``OutOfOrderSequenceNumber``; a new producer gets a new id and starts over.
        """
        await self.stop(stop_timeout_s)
        await self.start()

    async def published_since(self, since: datetime) -> dict[int, set[int]]:
        """Minutes per satellite appended to the records topic since ``since``."""
        return await published_minutes(self._kafka, self._topics.records,
                                       self._topics.records_partitions, since)

    async def send(self, items: Sequence[XrsRecord | QuarantinedInput]) -> Delivery:
        """Send items in batches; report which were acknowledged.

        Records go to the records topic keyed by satellite, quarantined inputs
        to the quarantine topic keyed by their reason.
        """
        if self._producer is None:
            return Delivery([], RuntimeError("producer not started"))
        delivered: list[XrsRecord | QuarantinedInput] = []
        for start in range(0, len(items), self._batch_size):
            batch = items[start:start + self._batch_size]
            done, error = await self._send_batch(self._producer, batch)
            delivered += done
            if error is not None:
                return Delivery(delivered, error)
        return Delivery(delivered)

    async def _send_batch(self, producer: AIOKafkaProducer,
                          batch: Sequence[XrsRecord | QuarantinedInput]
                          ) -> tuple[list[XrsRecord | QuarantinedInput],
                                     BaseException | None]:
        futures = []
        messages = self._messages(batch)
        try:
            for message in messages:
                topic, key = self._route(message[0])
                value = (message[0].to_bytes() if len(message) == 1
                         else XrsRecordBatch(records=message).to_bytes())
                futures.append(await producer.send(topic, value, key=key))
        except KafkaError as exc:
            results: list[object] = await asyncio.gather(*futures,
                                                         return_exceptions=True)
            return _acknowledged(messages, results), exc
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        return _acknowledged(messages, results), (errors[0] if errors else None)

    def _messages(self, batch: Sequence[XrsRecord | QuarantinedInput]
                  ) -> list[list[Any]]:
        """The items per Kafka message: records grouped per satellite, in order.

        Each satellite's records keep their order (one partition each); up to
        ``records_per_message`` of them share a message.
        """
        if self._records_per_message == 1:
            return [[item] for item in batch]
        messages: list[list[Any]] = []
        per_satellite: dict[int, list[XrsRecord]] = {}
        for item in batch:
            if not isinstance(item, XrsRecord):
                messages.append([item])
                continue
            records = per_satellite.setdefault(item.satellite, [])
            records.append(item)
            if len(records) == self._records_per_message:
                messages.append(per_satellite.pop(item.satellite))
        return messages + list(per_satellite.values())

    def _route(self, item: XrsRecord | QuarantinedInput) -> tuple[str, bytes]:
        if isinstance(item, XrsRecord):
            return self._topics.records, item.key
        return self._topics.quarantine, item.reason.encode()


def _acknowledged(messages: list[list[Any]], results: list[object]
                  ) -> list[XrsRecord | QuarantinedInput]:
    return [item for message, result in zip(messages, results, strict=False)
            if not isinstance(result, BaseException) for item in message]


async def published_minutes(kafka: KafkaSettings, topic: str, partitions: int,
                            since: datetime, read_timeout_s: float = 60.0
                            ) -> dict[int, set[int]]:
    """Minutes (:attr:`XrsRecord.minute`) per satellite published since ``since``.

    Reads every partition from the first message appended at or after ``since``
    to the end offsets taken at the start. A minute of a reply cannot have been
    published before it happened, so ``since`` = oldest minute asked suffices.
    """
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False,
                                client_id=f"{kafka.client_id_prefix}-producers-tail")
    await consumer.start()
    try:
        ends = await _assign_tail(consumer, topic, partitions, since)
        return await asyncio.wait_for(_read_to_end(consumer, ends), read_timeout_s)
    finally:
        await consumer.stop()


async def _assign_tail(consumer: AIOKafkaConsumer, topic: str, count: int,
                       since: datetime) -> dict[TopicPartition, int]:
    # The count comes from the settings: ensure_topics has checked it, and a
    # consumer's metadata may not list a topic created moments ago.
    partitions = [TopicPartition(topic, n) for n in range(count)]
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times(
        {tp: int(since.timestamp() * 1000) for tp in partitions})
    for tp in partitions:
        found = starts.get(tp)
        consumer.seek(tp, found.offset if found is not None else ends[tp])
    return {tp: ends[tp] for tp in partitions}


async def _read_to_end(consumer: AIOKafkaConsumer,
                       ends: dict[TopicPartition, int]) -> dict[int, set[int]]:
    minutes: dict[int, set[int]] = {}
    while await _behind(consumer, ends):
        batches = await consumer.getmany(timeout_ms=1000)
        for messages in batches.values():
            for message in messages:
                _remember(message.value, minutes)
    return minutes


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _remember(value: bytes | None, minutes: dict[int, set[int]]) -> None:
    if value is None:
        return
    try:
        records, _ = decode_records(value)
    except ValidationError:
        logger.warning("unreadable record in records topic skipped bytes=%d",
                       len(value))
        return
    for record in records:
        minutes.setdefault(record.satellite, set()).add(record.minute)
