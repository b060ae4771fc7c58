"""Agents and tasks: records -> engines -> alert candidates -> dedup -> alerts.

The records agent reads batches (``stream.take_events``), decodes and validates
them (anything bad goes to the quarantine topic with its reason), runs each
satellite's :class:`~flarecore.engine.SatelliteEngine` over its records and keeps
the engine's state in the ``engines`` table. A batch that does not follow the
last offset processed in its partition is preceded by the records in between,
read again from the broker, and a partition left short of its end with no record
coming is read to its end the same way. Alert candidates go to the
single-partition candidates topic, where one deduplicating agent publishes each
alert once to the alerts topic.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.exceptions import ConsumerNotStarted
from faust.types import TP, EventT, StreamT
from pydantic import ValidationError

from flarecore.alerts import Alert
from flarecore.engine import AlertDeduplicator, SatelliteEngine
from flarecore.quarantine import QuarantinedInput
from flarecore.records import XrsRecord, decode_records, minute_to_datetime
from stream_app.app import app, settings
from stream_app.gaps import Gap, ReadEvent, gap_before, read_gap
from stream_app.model import default_bundle_exists, follow_announcements
from stream_app.tables import (
    alerts_topic,
    candidates_topic,
    current,
    dedup,
    engines,
    metrics,
    model,
    positions,
    quarantine_topic,
    records_topic,
    remember_recent,
)
from stream_app.topics import assign_all, read_until

logger = logging.getLogger(__name__)

STAGE = "stream-app"
RECOVERY_TAIL = 5000
"""Alerts per partition read back at start, to never publish one twice."""
RETRY_BASE_S = 0.5
RETRY_MAX_S = 30.0
"""Backoff between attempts at a failed batch (doubling, capped)."""
AnyEvent = EventT | ReadEvent
"""A record event from faust, or one read again to fill a gap."""
SOURCE_OFFSET = "source_offset"
"""Key of the last processed record's offset, kept with the engine state."""
TAIL_CHECK_S = 5.0
TAIL_IDLE_S = 10.0
"""A partition behind its end that faust handed nothing this long is read to it."""

_processing = asyncio.Lock()
"""Held while records are processed: by the agent, or by a read to a tail."""
_last_handed_s: dict[int, float] = {}
"""When faust last handed the agent a record of each partition (monotonic)."""
_earliest: dict[int, int] = {}
"""Earliest offset of records partitions of which nothing was processed yet."""


# -- records ------------------------------------------------------------------


@app.agent(records_topic)
async def process_records(stream: StreamT[bytes]) -> None:
    """Decode, validate, process per satellite, store state, emit candidates."""
    async for events in stream.take_events(settings.batch_size,
                                           within=settings.batch_within_s):
        await model.settled.wait()
        async with _processing:
            await process_until_done(events)


async def process_until_done(events: list[EventT]) -> None:
    """Process a batch, retrying on failure until it is done.

    faust acks a batch of ``take_events`` when the loop body ends, raised or
    not, so a batch given up here would be committed unprocessed and lost.
    Retrying is safe: satellites already done ignore their re-run records (the
    engine state holds their offset) and repeated candidates are deduplicated.
    """
    for attempt in itertools.count(1):
        try:
            await process_batch(events)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - broker trouble: never drop
            delay_s = min(RETRY_BASE_S * 2 ** (attempt - 1), RETRY_MAX_S)
            metrics.batch_retries.inc()
            logger.warning("batch failed, retrying records=%d attempt=%d "
                           "delay_s=%.1f error=%r", len(events), attempt, delay_s,
                           exc)
            await asyncio.sleep(delay_s)


async def process_batch(events: list[EventT]) -> None:
    """One batch of record events, possibly of several partitions."""
    started = time.monotonic()
    for run in _runs(events):
        first = run[0].message
        gap = gap_before(await _last_processed(first.topic, first.partition),
                         first.topic, first.partition, first.offset)
        if gap is not None:
            logger.warning("records partition skipped ahead, reading the gap again "
                           "topic=%s partition=%d from_offset=%d to_offset=%d "
                           "records=%d", gap.topic, gap.partition, gap.start,
                           gap.stop, gap.size)
            await _fill(gap)
        await _process_run(run)
        # At the end: a long batch is no idle time of the partitions it holds.
        _last_handed_s[first.partition] = time.monotonic()
    _observe(events, started)


def _runs(events: list[EventT]) -> list[list[EventT]]:
    """The events split per partition into runs of consecutive offsets."""
    runs: dict[int, list[list[EventT]]] = defaultdict(list)
    for event in events:
        partition_runs = runs[event.message.partition]
        if partition_runs and partition_runs[-1][-1].message.offset + 1 == (
                event.message.offset):
            partition_runs[-1].append(event)
        else:
            partition_runs.append([event])
    return [run for partition_runs in runs.values() for run in partition_runs]


async def _fill(gap: Gap) -> None:
    """Process the records of offsets the consumer went past, before the rest."""
    metrics.gaps.inc()
    read = 0
    async for chunk in read_gap(settings.kafka, gap, settings.batch_size):
        await _process_run(chunk)
        read += len(chunk)
        metrics.reread.inc(len(chunk))
    logger.info("records gap filled topic=%s partition=%d records=%d", gap.topic,
                gap.partition, read)


@app.timer(TAIL_CHECK_S)
async def read_stalled_tails() -> None:
    """Read the records of a partition that stopped short of its end.

    faust's recovery clears the stream buffers when it resumes the flow after
    seeking to the committed offsets, while its fetcher may already have put
    records there: those are dropped, its consumer position is past them and
    it never hands them over. A later record reveals the hole (process_batch);
    with none coming, the worker would wait forever on records it never saw.
    """
    if app.rebalancing or not model.settled.is_set():
        return
    try:
        # Found outside the lock, so the agent's batches never wait on the
        # offset lookups of a partition that turns out to be complete.
        found = await _stalled_tails(time.monotonic())
        if not found:
            return
        async with _processing:
            for stalled in found:
                # The agent may have been handed them meanwhile.
                gap = gap_before(await _last_processed(stalled.topic,
                                                       stalled.partition),
                                 stalled.topic, stalled.partition, stalled.stop)
                if app.rebalancing or gap is None:
                    continue
                logger.warning("records partition stopped short of its end, reading "
                               "the rest again topic=%s partition=%d from_offset=%d "
                               "to_offset=%d records=%d", gap.topic, gap.partition,
                               gap.start, gap.stop, gap.size)
                await _fill(gap)
    except ConsumerNotStarted:
        return
    except Exception as exc:  # noqa: BLE001 - broker trouble: next check retries
        logger.warning("records tail read failed, retrying in %.0f s error=%r",
                       TAIL_CHECK_S, exc)


async def _stalled_tails(now: float) -> list[Gap]:
    """Unprocessed ends of this worker's record partitions that faust left idle."""
    tails = []
    for tp in app.consumer.assignment():
        if tp.topic != settings.topics.records:
            continue
        # The idle time counts from the first check after an assignment.
        idle_s = now - _last_handed_s.setdefault(tp.partition, now)
        highwater = app.consumer.highwater(tp)
        if idle_s < TAIL_IDLE_S or not highwater:
            continue  # also a partition that never held a record
        last = await _last_processed(tp.topic, tp.partition)
        tail = gap_before(last, tp.topic, tp.partition, highwater)
        if tail is not None:
            tails.append(tail)
    return tails


async def _last_processed(topic: str, partition: int) -> int:
    """The partition's last processed offset; before its earliest if none yet.

    Where nothing of a partition was processed yet, the records before the first
    one handed over are a gap too: a new group starts at the earliest offset, and
    faust's recovery can drop its first fetch. The earliest offset is asked once
    per partition and worker: it only moves on (retention), and a gap read
    starting before it begins at it.
    """
    last = positions.get(str(partition))
    if last is not None:
        return int(last)
    if partition not in _earliest:
        tp = TP(topic, partition)
        _earliest[partition] = int((await app.consumer.earliest_offsets(tp))[tp])
    return _earliest[partition] - 1


@app.on_partitions_revoked.connect
async def _finish_tail_read(sender: Any, revoked: Any, **kwargs: Any) -> None:
    """Hold a revocation until a tail read is done, as faust does for a batch."""
    async with _processing:
        _last_handed_s.clear()


async def _process_run(events: Sequence[AnyEvent]) -> None:
    """Consecutive events of one partition, then their partition's position."""
    by_satellite: dict[int, list[tuple[XrsRecord, AnyEvent]]] = defaultdict(list)
    for event in events:
        for record in await _decode(event):
            by_satellite[record.satellite].append((record, event))
    for satellite, items in by_satellite.items():
        await _process_satellite(satellite, items)

    # After the engines' state: a crash in between re-reads the run, which the
    # engines ignore; the other order could skip records the state never saw.
    # Never lower: a re-delivered run would make the tail check read it again.
    last = events[-1].message
    previous = positions.get(str(last.partition))
    _store(positions, str(last.partition),
           last.offset if previous is None else max(previous, last.offset),
           last.partition)


async def _decode(event: AnyEvent) -> list[XrsRecord]:
    """The event's records (one, or a batch's), after quarantining the bad ones."""
    raw, key = event.value, event.message.key
    if not isinstance(raw, bytes | bytearray):
        await _quarantine(event, b"", "empty_value", "the message has no value")
        return []
    if len(raw) > settings.max_record_bytes:
        # Not parsed: parsing megabytes costs time, and no real message is that big.
        await _quarantine(event, bytes(raw), "oversized",
                          f"{len(raw)} bytes, over FLARE_MAX_RECORD_BYTES="
                          f"{settings.max_record_bytes}")
        return []
    try:
        records, rejected = decode_records(bytes(raw))
    except ValidationError as exc:
        reason = "undecodable" if _is_json_error(exc) else "invalid_record"
        await _quarantine(event, bytes(raw), reason, _first_error(exc))
        return []
    for bad in rejected:
        await _quarantine(event, bad.raw, "invalid_record",
                          f"batch element {bad.index}: {_first_error(bad.error)}")
    if records and key is not None and bytes(key) != records[0].key:
        await _quarantine(event, bytes(raw), "key_mismatch",
                          f"key {bytes(key)!r} is not satellite "
                          f"{records[0].satellite}; records are keyed by satellite")
        return []
    if len(records) == 1 and not rejected:
        return await _plausible(event, records, lambda _: bytes(raw))
    # A batch's record is quarantined alone, as the record it is.
    return await _plausible(event, records, XrsRecord.to_bytes)


async def _plausible(event: AnyEvent, records: list[XrsRecord],
                     raw_of: Callable[[XrsRecord], bytes]) -> list[XrsRecord]:
    """The records, but those of an unknown satellite or with a minute ahead.

    Either would poison a table: an unknown satellite gets an engine and alerts
    of its own, and a minute far ahead moves the engine's clock there, so every
    real minute after it would be ignored as late.
    """
    latest_s = time.time() + settings.future_tolerance_s
    kept = []
    for record in records:
        if record.satellite not in settings.known_satellites:
            await _quarantine(event, raw_of(record), "unknown_satellite",
                              f"satellite {record.satellite} is not in "
                              "FLARE_KNOWN_SATELLITES")
        elif (time_s := record.time_utc.timestamp()) > latest_s:
            ahead_s = time_s - latest_s + settings.future_tolerance_s
            await _quarantine(event, raw_of(record), "future_time",
                              f"minute {record.time_utc.isoformat()} is "
                              f"{ahead_s:.0f} s ahead of the wall clock")
        else:
            kept.append(record)
    return kept


async def _quarantine(event: AnyEvent, raw: bytes, reason: str, detail: str) -> None:
    message = event.message
    source = f"{message.topic}[{message.partition}]@{message.offset}"
    entry = QuarantinedInput.of(raw, source=source, reason=reason, detail=detail,
                                stage=STAGE)
    await quarantine_topic.send(value=entry.to_bytes())
    metrics.quarantined.labels(reason=reason).inc()
    logger.warning("record quarantined source=%s reason=%s detail=%s", source,
                   reason, detail)


def _is_json_error(exc: ValidationError) -> bool:
    return any(e.get("type") == "json_invalid" for e in exc.errors())


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "value"
    return f"{where}: {first.get('msg')} ({len(errors)} error(s))"


async def _process_satellite(satellite: int,
                             items: list[tuple[XrsRecord, AnyEvent]]) -> None:
    """Run the satellite's engine over its records and keep the new state."""
    key = str(satellite)
    state = engines.get(key)
    forecaster = model.forecaster  # one model for the whole batch
    engine = (SatelliteEngine.from_state(state, forecaster) if state
              else SatelliteEngine(satellite, forecaster))
    last_offset = (state or {}).get(SOURCE_OFFSET)
    items = await _drop_backward(engine, last_offset, items)
    if not items:
        return
    try:
        out = engine.process([record for record, _ in items])
    except Exception as exc:
        logger.exception("engine failed satellite=%d records=%d", satellite,
                         len(items))
        for record, event in items:
            await _quarantine(event, record.to_bytes(), "engine_error", repr(exc))
        return

    # Candidates are on their topic before the state that says "done" is
    # written: a crash in between re-runs the records, and the dedup agent
    # drops the repeated candidates. The other order would lose alerts.
    await _send_candidates(out.alerts)
    partition = items[-1][1].message.partition
    # Never lower: a batch of re-delivered records ends before the last offset.
    offset = max([event.message.offset for _, event in items]
                 + ([last_offset] if last_offset is not None else []))
    _store(engines, key, {**engine.to_state(), SOURCE_OFFSET: offset}, partition)
    if out.minutes:
        _store(current, key, out.minutes[-1].to_dict(), partition)
        metrics.last_data_minute[satellite] = out.minutes[-1].minute
    metrics.records.labels(satellite=key).inc(len(out.minutes))
    if out.ignored:
        metrics.ignored.labels(reason="late_or_duplicate").inc(out.ignored)


async def _drop_backward(engine: SatelliteEngine, last_offset: int | None,
                         items: list[tuple[XrsRecord, AnyEvent]]
                         ) -> list[tuple[XrsRecord, AnyEvent]]:
    """Quarantine new records whose minute is at or before the engine's last.

    Records re-delivered after a restart (offset at or before the last one
    processed) are as old, but expected: the engine ignores and counts them.
    Only a record appended later with an older minute is a clock gone back.
    """
    last_minute = engine.last_minute
    if last_minute is None or last_offset is None:
        return items
    kept = []
    for record, event in items:
        if record.minute <= last_minute and event.message.offset > last_offset:
            await _quarantine(
                event, record.to_bytes(), "backward_time",
                f"minute {record.time_utc.isoformat()} is not after the last "
                f"processed {minute_to_datetime(last_minute).isoformat()}")
        else:
            kept.append((record, event))
    return kept


async def _send_candidates(alerts: list[Alert]) -> None:
    """Send alert candidates and wait until the broker has them all."""
    pending = []
    for alert in alerts:
        pending.append(await candidates_topic.send(key=alert.flare_id.encode(),
                                                   value=alert.to_bytes()))
        metrics.candidates.labels(kind=alert.kind.value).inc()
    for delivery in pending:
        await delivery


def _store(table: Any, key: str, value: Any, partition: int) -> None:
    """Set a table key, with its changelog in the partition the records came from.

    A batch can hold several partitions' records, so faust's "partition of the
    current event" would misplace all but one satellite's state.
    """
    table.data[key] = value
    table.send_changelog(partition, key, value)


def _observe(events: list[EventT], started: float) -> None:
    now = time.time()
    metrics.batch_seconds.observe(time.monotonic() - started)
    metrics.last_processed_s = now
    last_offsets: dict[Any, int] = {}
    for event in events:
        message = event.message
        metrics.latency.observe(max(0.0, now - message.timestamp))
        last_offsets[message.tp] = message.offset
    for tp, offset in last_offsets.items():
        highwater = app.consumer.highwater(tp)
        if highwater is not None:
            metrics.lag.labels(partition=str(tp.partition)).set(
                max(0, highwater - offset - 1))


# -- alerts -------------------------------------------------------------------

_recovered = asyncio.Event()
_recovering = asyncio.Lock()
RECOVERY_POLL_S = 0.2


@app.agent(candidates_topic)
async def publish_alerts(stream: StreamT[bytes]) -> None:
    """Publish each alert once, however many satellites or restarts produced it."""
    async for event in stream.events():
        await _recover_once()
        await publish_candidate(event.value)


@app.task
async def recover_published_early() -> None:
    """Recover the published alerts as soon as this worker holds the dedup table.

    Done on the first candidate instead, the read (a consumer started, the
    alerts topic's tail read) delayed the first alert after every start by
    70-100 ms, and every alert queued behind it.
    """
    candidates = TP(settings.candidates, 0)
    while not _recovered.is_set():
        if (app.tables.recovery.completed.is_set() and not app.rebalancing
                and candidates in app.consumer.assignment()):
            try:
                await _recover_once()
            except Exception as exc:  # noqa: BLE001 - the first candidate retries
                logger.warning("early alerts recovery failed error=%r", exc)
                return
        await asyncio.sleep(RECOVERY_POLL_S)


async def _recover_once() -> None:
    async with _recovering:
        if not _recovered.is_set():
            await _recover_published()


async def publish_candidate(raw: bytes) -> None:
    """Deduplicate one candidate and publish it if it is new."""
    try:
        candidate = Alert.from_bytes(raw)
    except ValidationError as exc:
        logger.error("alert candidate unreadable error=%s", _first_error(exc))
        return
    # The deduplicator's state is read and written whole per candidate: it
    # holds only the events of the last DEDUP_MEMORY_MINUTES, a few kB.
    deduplicator = AlertDeduplicator.from_state(dedup.get("state") or {})
    published = deduplicator.admit(candidate)
    if published is None:
        logger.debug("alert duplicate dropped id=%s", candidate.alert_id)
        return
    delivered = await alerts_topic.send(key=published.flare_id.encode(),
                                        value=published.to_bytes())
    await delivered  # on the topic before the state says "published"
    dedup["state"] = deduplicator.to_state()
    remember_recent(published)
    metrics.alerts.labels(kind=published.kind.value).inc()
    logger.info("alert published id=%s kind=%s level=%s flare=%s satellites=%s "
                "data_time=%s flux_wm2=%.3g", published.alert_id,
                published.kind.value, published.level, published.flare_id,
                published.satellites, published.data_time_utc.isoformat(),
                published.observed_flux_wm2)


async def _recover_published() -> None:
    """Mark the alerts already on the topic as published.

    The ``dedup`` changelog can trail the alerts topic after a crash (an alert
    delivered, the state not yet written); reading the topic's tail closes that
    window, so a restart never publishes an alert twice.
    """
    kafka = settings.kafka
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False,
                                client_id=f"{kafka.client_id_prefix}-alerts-recovery")
    await consumer.start()
    try:
        seen = await _read_tail(consumer, settings.topics.alerts)
    finally:
        await consumer.stop()
    deduplicator = AlertDeduplicator.from_state(dedup.get("state") or {})
    for alert in seen:
        deduplicator.mark_published(alert)
    # The candidates topic has one partition: the dedup table's changelog too.
    _store(dedup, "state", deduplicator.to_state(), 0)
    _recovered.set()
    logger.info("alerts recovered topic=%s alerts=%d", settings.topics.alerts,
                len(seen))


async def _read_tail(consumer: AIOKafkaConsumer, topic: str) -> list[Alert]:
    ends = await assign_all(consumer, settings.kafka, topic, tail=RECOVERY_TAIL)
    alerts: list[Alert] = []
    for value in await read_until(consumer, ends):
        try:
            alerts.append(Alert.from_bytes(value or b""))
        except ValidationError:
            logger.warning("foreign message on alerts topic=%s", topic)
    return alerts


# -- model --------------------------------------------------------------------


@app.task
async def serve_models() -> None:
    """Load the default model, then follow announcements for hot reloads."""
    if default_bundle_exists(settings.model_dir):
        await model.load(str(settings.model_dir))
    else:
        logger.warning("no default model dir=%s: running without forecasts until "
                       "a model is announced", settings.model_dir)
    while True:
        try:
            await follow_announcements(model, settings.kafka, settings.topics.models)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - broker trouble: retry
            logger.warning("model announcements interrupted error=%r; retrying",
                           exc)
            # Records must not wait forever on an unreachable models topic.
            model.settled.set()
            await asyncio.sleep(5)
