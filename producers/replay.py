"""Replay archive files into Kafka in time order, at real time, xN or full speed.

Records keep their minute timestamps, so a backfill or a backtest goes through
exactly the path live data takes. ``--dry-run`` reads and validates only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.errors import KafkaError
from pydantic import BaseModel, Field

from flarecore.quarantine import QuarantinedInput
from flarecore.readers import iter_records
from flarecore.records import XrsRecord
from producers import ProducerError
from producers.publish import Publisher

logger = logging.getLogger(__name__)

STAGE = "replay"
RESEND_MARGIN = timedelta(minutes=1)
Item = XrsRecord | QuarantinedInput


class Speed(BaseModel):
    """How fast data time runs in a replay; ``factor`` None: as fast as possible."""

    factor: float | None = Field(default=None, gt=0)

    @classmethod
    def parse(cls, text: str) -> Speed:
        """``realtime``, ``xN`` (e.g. ``x60``) or ``max``."""
        if text == "max":
            return cls(factor=None)
        if text == "realtime":
            return cls(factor=1.0)
        match = re.fullmatch(r"x(\d+(?:\.\d+)?)", text)
        if match is None or float(match.group(1)) <= 0:
            raise ValueError(f"speed {text!r}: expected realtime, xN (N > 0) or max")
        return cls(factor=float(match.group(1)))


class ReplaySummary(BaseModel):
    """What a replay read (and published)."""

    files: int
    records: int = 0
    records_per_satellite: dict[int, int] = Field(default_factory=dict)
    first_minute: dict[int, datetime] = Field(default_factory=dict)
    last_minute: dict[int, datetime] = Field(default_factory=dict)
    xrsa_quality: dict[str, int] = Field(default_factory=dict)
    xrsb_quality: dict[str, int] = Field(default_factory=dict)
    quarantined: dict[str, int] = Field(default_factory=dict)
    published: int | None = None
    wall_time_s: float = 0.0


class _Tally:
    def __init__(self) -> None:
        self.per_satellite: Counter[int] = Counter()
        self.first: dict[int, datetime] = {}
        self.last: dict[int, datetime] = {}
        self.xrsa: Counter[str] = Counter()
        self.xrsb: Counter[str] = Counter()
        self.quarantined: Counter[str] = Counter()

    def add(self, item: Item) -> None:
        if isinstance(item, QuarantinedInput):
            self.quarantined[item.reason] += 1
            return
        self.per_satellite[item.satellite] += 1
        self.first.setdefault(item.satellite, item.time_utc)
        self.last[item.satellite] = item.time_utc
        self.xrsa[item.xrsa_quality.value] += 1
        self.xrsb[item.xrsb_quality.value] += 1

    def summary(self, files: int, published: int | None,
                started: float) -> ReplaySummary:
        return ReplaySummary(
            files=files, records=sum(self.per_satellite.values()),
            records_per_satellite=dict(sorted(self.per_satellite.items())),
            first_minute=self.first, last_minute=self.last,
            xrsa_quality=dict(self.xrsa), xrsb_quality=dict(self.xrsb),
            quarantined=dict(self.quarantined), published=published,
            wall_time_s=round(time.perf_counter() - started, 3),
        )


def dry_run(paths: list[Path]) -> ReplaySummary:
    """Read and validate every file; publish nothing."""
    started = time.perf_counter()
    tally = _Tally()
    for item in iter_records(paths):
        tally.add(item)
    return tally.summary(len(paths), None, started)


async def replay(paths: list[Path], publisher: Publisher, speed: Speed,
                 batch_size: int = 2000, attempts: int = 5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                 ) -> ReplaySummary:
    """Publish every file's records in time order at ``speed``."""
    started = time.perf_counter()
    tally = _Tally()
    published = 0
    for batch, due_s in _paced(iter_records(paths), speed, batch_size):
        wait = due_s - (time.perf_counter() - started)
        if wait > 0:
            await sleep(wait)
        await _send(publisher, batch, attempts, sleep)
        for item in batch:
            tally.add(item)
        published += len(batch)
    return tally.summary(len(paths), published, started)


def _paced(items: Iterable[Item], speed: Speed, batch_size: int
           ) -> Iterator[tuple[list[Item], float]]:
    """Batches with the wall-clock offset (s from start) each is due at.

    Paced replays send one batch per data minute so that a minute is published
    when its time comes; quarantined inputs ride with the batch they follow.
    """
    batch: list[Item] = []
    first_s: float | None = None
    batch_s = 0.0
    for item in items:
        if isinstance(item, XrsRecord):
            data_s = item.time_utc.timestamp()
            first_s = data_s if first_s is None else first_s
            new_minute = speed.factor is not None and bool(batch) and data_s != batch_s
            if new_minute or len(batch) >= batch_size:
                yield batch, _due(batch_s, first_s, speed)
                batch = []
            batch_s = data_s
        batch.append(item)
    if batch:
        yield batch, _due(batch_s, first_s or batch_s, speed)


def _due(data_s: float, first_s: float, speed: Speed) -> float:
    return 0.0 if speed.factor is None else (data_s - first_s) / speed.factor


async def _send(publisher: Publisher, batch: list[Item], attempts: int,
                sleep: Callable[[float], Awaitable[None]]) -> None:
    remaining = batch
    # Records sent from here on carry a later Kafka timestamp; the margin covers
    # a broker clock a little behind ours.
    since = datetime.now(UTC) - RESEND_MARGIN
    for attempt in range(1, attempts + 1):
        delivery = await publisher.send(remaining)
        sent = {id(item) for item in delivery.delivered}
        remaining = [item for item in remaining if id(item) not in sent]
        if not remaining:
            return
        logger.warning("replay publish failed attempt=%d/%d unsent=%d error=%r",
                       attempt, attempts, len(remaining), delivery.error)
        await sleep(min(2.0 ** attempt, 30.0))
        remaining = await _not_landed(publisher, remaining, since)
    raise ProducerError(f"replay abandoned: {len(remaining)} items unsent after "
                        f"{attempts} attempts")


async def _not_landed(publisher: Publisher, items: list[Item],
                      since: datetime) -> list[Item]:
    """The items still to send, on a fresh producer, after a failed send.

    A send can fail and still have landed (the broker wrote it, the answer was
    lost): records found on the topic are not sent again. Quarantined inputs are
    not looked up and may be written twice.
    """
    try:
        await publisher.restart()
        found = await publisher.published_since(since)
    except (KafkaError, OSError, TimeoutError) as exc:
        logger.warning("kafka still unavailable error=%r unsent=%d", exc, len(items))
        return items
    left = [item for item in items if not isinstance(item, XrsRecord)
            or item.minute not in found.get(item.satellite, set())]
    if len(left) < len(items):
        logger.info("replay records found on the topic, not resent count=%d",
                    len(items) - len(left))
    return left
