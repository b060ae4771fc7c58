"""Records a worker was handed past, read again straight from the broker.

A worker must see every offset of a records partition in order: a record never
processed is a minute the engine never saw, and a flare it never tracked. The
consumer group does not guarantee that across restarts: a committed offset can
run ahead of the processed state (faust commits through offsets it treats as
gaps), and faust's recovery drops the records its fetcher handed over before it
resumes the flow (resuming clears the stream buffers) while its position stays
past them. The worker therefore keeps the last processed offset of each
partition with its tables and, when the next record it is given does not follow
it, or none comes while the partition has more, reads the missing offsets
itself with a group-less consumer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from flarecore.settings import KafkaSettings

FETCH_TIMEOUT_MS = 1000
STALL_S = 60.0
"""A gap read that gets nothing this long fails (and its batch is retried)."""


class GapReadStalled(RuntimeError):
    """The broker gave none of a gap's records for ``STALL_S``."""


@dataclass(frozen=True)
class ReadMessage:
    """The parts of a faust message the records agent uses."""

    topic: str
    partition: int
    offset: int
    timestamp: float
    """Seconds since the epoch, as faust gives them."""
    key: bytes | None

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True)
class ReadEvent:
    """A record read again, shaped like the faust event it should have been."""

    value: bytes | None
    message: ReadMessage


@dataclass(frozen=True)
class Gap:
    """Offsets ``[start, stop)`` of a partition that no event brought."""

    topic: str
    partition: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def gap_before(last_offset: int | None, topic: str, partition: int,
               offset: int) -> Gap | None:
    """The offsets between the last processed one and ``offset``, if any.

    An offset at or before the last one is a re-delivery (after a restart or a
    retried batch), not a gap; the engine ignores the minutes it has seen.
    """
    if last_offset is None or offset <= last_offset + 1:
        return None
    return Gap(topic, partition, last_offset + 1, offset)


async def read_gap(kafka: KafkaSettings, gap: Gap, chunk: int
                   ) -> AsyncIterator[list[ReadEvent]]:
    """The gap's records in order, ``chunk`` at most at a time.

    Offsets no longer on the broker (retention) are skipped by the reset to the
    earliest offset; the read ends once the position reaches the gap's end.
    Raises :class:`GapReadStalled` when the broker gives nothing for ``STALL_S``.
    """
    consumer = AIOKafkaConsumer(
        **kafka.aiokafka_kwargs(), group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", max_poll_records=chunk,
        client_id=f"{kafka.client_id_prefix}-gap-reader")
    tp = TopicPartition(gap.topic, gap.partition)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, gap.start)
        progress_s, last_position = time.monotonic(), -1
        while (position := await consumer.position(tp)) < gap.stop:
            if position > last_position:
                progress_s, last_position = time.monotonic(), position
            elif time.monotonic() - progress_s > STALL_S:
                raise GapReadStalled(f"{gap.topic}[{gap.partition}] gave nothing "
                                     f"from offset {position} for {STALL_S:.0f} s")
            fetched = await consumer.getmany(tp, timeout_ms=FETCH_TIMEOUT_MS,
                                             max_records=chunk)
            events = [_event(m) for m in fetched.get(tp, []) if m.offset < gap.stop]
            if events:
                yield events
    finally:
        await consumer.stop()


def _event(record: ConsumerRecord[bytes, bytes]) -> ReadEvent:
    return ReadEvent(
        value=record.value,
        message=ReadMessage(topic=record.topic, partition=record.partition,
                            offset=record.offset, timestamp=record.timestamp / 1000.0,
                            key=record.key))
