"""The SWPC poller against a real loopback HTTP server and the real Kafka broker.

The server replays recorded SWPC replies (tests/data/swpc) in sequence, with
overlapping windows, an HTTP 500, a timeout and a truncated body in between.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from flarecore.quarantine import QuarantinedInput
from flarecore.readers import read_frame
from flarecore.records import XrsRecord
from flarecore.settings import KafkaSettings, TopicSettings
from producers.metrics import ProducerMetrics
from producers.publish import Publisher
from producers.settings import SwpcSettings
from producers.swpc import SwpcPoller
from tests.unit.producers.loopback import Reply, Server, serve_script

SWPC = Path(__file__).parents[1] / "data" / "swpc"
POLL_1 = SWPC / "xrays-6-hour_committed-20230831T051730Z.json"  # 22:20-04:17
POLL_2 = SWPC / "xrays-6-hour_committed-20230831T051919Z.json"  # 23:17-05:14
POLL_3 = SWPC / "xrays-6-hour_committed-20230831T052200Z.json"  # 23:19-05:16
SECONDARY = SWPC / "xrays-6-hour_goes18_20240513.json"

pytestmark = pytest.mark.timeout(180)


def _topics(unique_name: Callable[[str], str]) -> TopicSettings:
    return TopicSettings(
        records=unique_name("records"), quarantine=unique_name("quarantine"),
        alerts=unique_name("alerts"), alerts_deadletter=unique_name("dead"),
        models=unique_name("models"),
    )


def _swpc(server: Server) -> SwpcSettings:
    url = server.base_url
    return SwpcSettings(
        primary_url=f"{url}/primary/xrays-6-hour.json",
        primary_startup_url=f"{url}/primary/xrays-1-day.json",
        secondary_url=f"{url}/secondary/xrays-6-hour.json",
        secondary_startup_url=f"{url}/secondary/xrays-1-day.json",
        poll_interval_s=0.05, timeout_s=1.0, base_backoff_s=0.05, max_backoff_s=0.2,
    )


def _expected(*paths: Path) -> set[tuple[int, int]]:
    keys = set()
    for path in paths:
        frame = read_frame(path)
        for satellite, time in zip(frame["satellite"], frame["time_utc"], strict=True):
            keys.add((int(satellite), int(time.timestamp()) // 60))
    return keys


async def _read_all(kafka: KafkaSettings, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                values += [m.value for m in messages if m.value is not None]
        return values
    finally:
        await consumer.stop()


async def _cycles(poller: SwpcPoller, count: int) -> list[bool]:
    return [await poller.cycle() for _ in range(count)]


async def _first_run(server: Server, kafka: KafkaSettings, topics: TopicSettings,
                     metrics: ProducerMetrics) -> list[bool]:
    publisher = Publisher(kafka, topics, request_timeout_ms=10_000)
    async with httpx.AsyncClient() as client:
        poller = SwpcPoller(_swpc(server), kafka, topics, publisher, client,
                            metrics)
        try:
            return await _cycles(poller, 6)
        finally:
            await publisher.stop()


async def _restarted_run(server: Server, kafka: KafkaSettings,
                         topics: TopicSettings, metrics: ProducerMetrics) -> int:
    """A new poller (as after a restart) run by its own loop until it is idle."""
    publisher = Publisher(kafka, topics, request_timeout_ms=10_000)
    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:
        poller = SwpcPoller(_swpc(server), kafka, topics, publisher, client,
                            metrics)
        idle = {"feed": "primary", "outcome": "not_modified"}
        before = metrics.value("flare_swpc_polls_total", **idle)
        task = asyncio.create_task(poller.run(stop))
        # Idle once the regular feed answers 304: everything new was read.
        while metrics.value("flare_swpc_polls_total", **idle) <= before:
            await asyncio.sleep(0.05)
        stop.set()
        await task
        return poller.pending


def test_poller_publishes_every_minute_once(kafka_settings: KafkaSettings,
                                            unique_name: Callable[[str], str]) -> None:
    topics = _topics(unique_name)
    body_2 = POLL_2.read_bytes()
    first_script = {
        "/primary/xrays-1-day.json": [Reply(body=POLL_1.read_bytes())],
        "/primary/xrays-6-hour.json": [
            Reply(500, b"upstream error"), Reply(body=body_2, delay_s=2.5),
            Reply(body=body_2[:20_000], etag=False), Reply(body=body_2)],
        "/secondary/xrays-1-day.json": [Reply(body=SECONDARY.read_bytes())],
        "/secondary/xrays-6-hour.json": [Reply(body=SECONDARY.read_bytes())],
    }
    metrics = ProducerMetrics()
    with serve_script(first_script) as server:
        healthy = asyncio.run(_first_run(server, kafka_settings, topics, metrics))
    # start-up windows, then 500, timeout, truncated body, then two good polls.
    assert healthy == [True, False, False, False, True, True]

    restart_script = {
        "/primary/xrays-1-day.json": [Reply(body=POLL_1.read_bytes())],
        "/primary/xrays-6-hour.json": [Reply(body=POLL_3.read_bytes())],
        "/secondary/xrays-1-day.json": [Reply(body=SECONDARY.read_bytes())],
        "/secondary/xrays-6-hour.json": [Reply(body=SECONDARY.read_bytes())],
    }
    with serve_script(restart_script) as server:
        pending = asyncio.run(_restarted_run(server, kafka_settings, topics, metrics))
    assert pending == 0

    values = asyncio.run(_read_all(kafka_settings, topics.records,
                                     topics.records_partitions))
    records = [XrsRecord.from_bytes(v) for v in values]
    counts = Counter((r.satellite, r.minute) for r in records)
    assert max(counts.values()) == 1, counts.most_common(3)
    assert set(counts) == _expected(POLL_1, POLL_2, POLL_3, SECONDARY)
    assert metrics.value("flare_records_published_total", satellite="16") == len(
        [r for r in records if r.satellite == 16])
    assert metrics.value("flare_swpc_http_responses_total", feed="primary",
                         status="500") == 1
    assert metrics.value("flare_swpc_polls_total", feed="primary",
                         outcome="timeout") == 1
    newest = max(r.minute for r in records if r.satellite == 16) * 60
    assert metrics.value("flare_newest_minute_timestamp_seconds",
                         satellite="16") == newest

    quarantined = [QuarantinedInput.model_validate_json(v) for v in
                   asyncio.run(_read_all(kafka_settings, topics.quarantine, 1))]
    assert [q.reason for q in quarantined] == ["invalid_json"]
    assert quarantined[0].source.endswith("/primary/xrays-6-hour.json")
