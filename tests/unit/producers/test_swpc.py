"""The SWPC poller without a broker: conditional requests, back-off, and keeping
minutes while Kafka is unreachable. Replies are recorded SWPC files served by a
real loopback HTTP server; the broker address is a closed local port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from devstack.kafka import free_port
from flarecore.settings import KafkaSettings, TopicSettings
from producers.metrics import ProducerMetrics
from producers.publish import Publisher
from producers.settings import SwpcSettings
from producers.swpc import SwpcPoller, feeds_of
from tests.unit.producers.loopback import Reply, Server, serve_script

SWPC = Path(__file__).parents[2] / "data" / "swpc"
REPLY = SWPC / "xrays-6-hour_goes18_20260706.json"


def _settings(server: Server) -> SwpcSettings:
    return SwpcSettings(
        primary_url=f"{server.base_url}/6h",
        primary_startup_url=f"{server.base_url}/1d",
        secondary_url=None, secondary_startup_url=None, timeout_s=2.0,
        base_backoff_s=1.0, max_backoff_s=8.0,
    )


def _poller(settings: SwpcSettings, client: httpx.AsyncClient,
            metrics: ProducerMetrics) -> SwpcPoller:
    dead = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    topics = TopicSettings()
    return SwpcPoller(settings, dead, topics, Publisher(dead, topics), client,
                      metrics)


def test_feeds_start_with_longer_window() -> None:
    feeds = feeds_of(SwpcSettings())
    assert [f.name for f in feeds] == ["primary", "secondary"]
    assert feeds[0].next_url().endswith("primary/xrays-1-day.json")
    feeds[0].filled = True
    assert feeds[0].next_url().endswith("primary/xrays-6-hour.json")
    assert len(feeds_of(SwpcSettings(secondary_url=None))) == 1


def test_poller_keeps_minutes_while_broker_unreachable() -> None:
    body = REPLY.read_bytes()
    script = {"/1d": [Reply(body=body)], "/6h": [Reply(body=body)]}
    metrics = ProducerMetrics()

    async def two_cycles(server: Server) -> tuple[list[bool], int]:
        async with httpx.AsyncClient() as client:
            poller = _poller(_settings(server), client, metrics)
            return [await poller.cycle(), await poller.cycle()], poller.pending

    with serve_script(script) as server:
        healthy, pending = asyncio.run(two_cycles(server))
        paths = [(r.path, r.headers.get("If-None-Match")) for r in server.requests]
    assert healthy == [False, False]
    assert pending == 358  # every minute of the reply waits for the broker
    assert metrics.value("flare_records_pending") == 358
    # The start-up window first, then the regular feed.
    assert [p for p, _ in paths] == ["/1d", "/6h"]
    assert metrics.value("flare_swpc_polls_total", feed="primary", outcome="ok") == 2


def test_poller_sends_conditional_requests() -> None:
    body = REPLY.read_bytes()
    script = {"/1d": [Reply(body=body)], "/6h": [Reply(body=body)]}
    metrics = ProducerMetrics()

    async def cycles(server: Server) -> None:
        async with httpx.AsyncClient() as client:
            poller = _poller(_settings(server), client, metrics)
            for _ in range(3):
                await poller.cycle()

    with serve_script(script) as server:
        asyncio.run(cycles(server))
        etags = [r.headers.get("If-None-Match") for r in server.requests]
    assert etags[0] is None and etags[1] is None  # first ask of each URL
    assert etags[2] is not None
    assert metrics.value("flare_swpc_polls_total", feed="primary",
                         outcome="not_modified") == 1


def test_poller_backoff_doubles_to_a_cap() -> None:
    async def delays() -> list[float]:
        async with httpx.AsyncClient() as client:
            settings = SwpcSettings(base_backoff_s=1.0, max_backoff_s=8.0,
                                    poll_interval_s=30.0)
            poller = _poller(settings, client, ProducerMetrics())
            return [poller._delay(n) for n in range(6)]

    assert asyncio.run(delays()) == [30.0, 1.0, 2.0, 4.0, 8.0, 8.0]
