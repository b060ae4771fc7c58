"""The SWPC poller across a real broker outage: a private Kafka broker is stopped
while the poller runs, then started again on the same port and data."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devstack.kafka import LocalKafka, free_port
from flarecore.records import XrsRecord
from flarecore.settings import KafkaSettings, TopicSettings
from producers.metrics import ProducerMetrics
from producers.publish import Publisher
from producers.settings import SwpcSettings
from producers.swpc import SwpcPoller
from tests.integration.test_producers_swpc import POLL_1, POLL_2, _expected, _read_all
from tests.unit.producers.loopback import Reply, serve_script

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def private_broker(tmp_path: Path) -> LocalKafka:
    if not (shutil.which("java") and shutil.which("mvn")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but java/mvn missing for a private broker")
        pytest.skip("java and mvn are needed to start a private broker")
    return LocalKafka(port=free_port(), data_dir=tmp_path / "kafka", heap="384m")


async def _cycle_until(poller: SwpcPoller, done: Callable[[], bool],
                       limit: int) -> list[bool]:
    results = []
    for _ in range(limit):
        results.append(await poller.cycle())
        if done():
            break
    return results


def test_poller_keeps_minutes_through_broker_outage(
        private_broker: LocalKafka) -> None:
    kafka = KafkaSettings(bootstrap_servers=private_broker.start())
    topics = TopicSettings(records_partitions=2)
    swpc = SwpcSettings(poll_interval_s=0.05, timeout_s=2.0, publish_wait_s=2.0,
                        secondary_url=None,
                        secondary_startup_url=None)
    script = {"/primary/xrays-1-day.json": [Reply(body=POLL_1.read_bytes())],
              "/primary/xrays-6-hour.json": [Reply(body=POLL_2.read_bytes())]}

    async def scenario(base_url: str) -> tuple[list[bool], int, list[bool]]:
        settings = swpc.model_copy(update={
            "primary_url": f"{base_url}/primary/xrays-6-hour.json",
            "primary_startup_url": f"{base_url}/primary/xrays-1-day.json"})
        publisher = Publisher(kafka, topics, request_timeout_ms=3000)
        async with httpx.AsyncClient() as client:
            poller = SwpcPoller(settings, kafka, topics, publisher, client,
                                ProducerMetrics())
            try:
                assert await poller.cycle()  # start-up window published
                await asyncio.to_thread(private_broker.stop)
                during = [await poller.cycle() for _ in range(2)]
                pending = poller.pending
                await asyncio.to_thread(private_broker.start)
                after = await _cycle_until(poller, lambda: poller.pending == 0, 40)
            finally:
                await publisher.stop()
        return during, pending, after

    try:
        with serve_script(script) as server:
            during, pending, after = asyncio.run(scenario(server.base_url))
        values = asyncio.run(_read_all(kafka, topics.records, 2))
    finally:
        private_broker.stop()
    assert during == [False, False]
    assert pending == len(_expected(POLL_2) - _expected(POLL_1))
    assert after[-1] is True
    counts = Counter((r.satellite, r.minute)
                     for r in (XrsRecord.from_bytes(v) for v in values))
    assert max(counts.values()) == 1
    assert set(counts) == _expected(POLL_1, POLL_2)
