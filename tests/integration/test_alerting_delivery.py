"""Alerting against the real broker and real HTTP receivers on loopback.

Every alert here is made up (``synthetic`` in the test names): the point is the
delivery guarantees, not the flares. Receivers are aiohttp servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY

from alerting import replay
from alerting.deadletter import DeadLetter, DeadLetterReason
from alerting.service import AlertingService
from alerting.settings import AlertingSettings, SubscriberConfig
from alerting.signing import SignatureError, verify
from flarecore.alerts import Alert, AlertKind
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import TopicSpec, ensure_topics
from tests.unit.alerting.factory import synthetic_alert, synthetic_series

REPO = Path(__file__).resolve().parents[2]
SECRET = "loopback-test-secret"

Behaviour = Callable[[int], Awaitable[web.Response]]


@dataclass
class Receipt:
    """One request a receiver accepted."""

    alert_id: str
    signature_ok: bool
    received_utc: datetime
    issued_utc: datetime


@dataclass
class Receiver:
    """A real HTTP server on loopback that records the alerts it accepts."""

    behaviour: Behaviour | None = None
    receipts: list[Receipt] = field(default_factory=list)
    slack_messages: list[dict[str, object]] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        app.router.add_post("/slack", self._slack)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def hang(self) -> web.Response:
        """Never answer (until the server closes)."""
        await self._closing.wait()
        return web.Response(status=503)

    @property
    def ids(self) -> list[str]:
        return [r.alert_id for r in self.receipts]

    async def _slack(self, request: web.Request) -> web.Response:
        self.slack_messages.append(await request.json())
        return web.Response(status=200, text="ok")

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self.behaviour is not None:
            response = await self.behaviour(self.requests)
            if response.status >= 300:
                return response
        self.receipts.append(_receipt(request, body))
        return web.Response(status=200, text="ok")


def _receipt(request: web.Request, body: bytes) -> Receipt:
    try:
        verify(SECRET.encode(), request.headers["X-Flare-Timestamp"], body,
               request.headers["X-Flare-Signature"])
        signature_ok = True
    except (SignatureError, KeyError):
        signature_ok = False
    alert = Alert.from_bytes(body)
    assert request.headers["Idempotency-Key"] == alert.alert_id
    return Receipt(alert.alert_id, signature_ok, datetime.now(UTC), alert.issued_utc)


def _webhook(name: str, url: str, **retry: float) -> SubscriberConfig:
    return SubscriberConfig.model_validate({
        "name": name, "kind": "webhook", "url": url, "secret": SECRET,
        "retry": {"attempts": 10, "base_backoff_s": 0.05, "max_backoff_s": 0.5,
                  "timeout_s": 2, **retry},
    })


async def _settings(kafka: KafkaSettings, unique_name: Callable[[str], str]
                    ) -> AlertingSettings:
    topics = TopicSettings(alerts=unique_name("alerts"),
                           alerts_deadletter=unique_name("deadletter"))
    await ensure_topics(kafka, [TopicSpec(topics.alerts),
                                TopicSpec(topics.alerts_deadletter)])
    return AlertingSettings(kafka=kafka, topics=topics, group_id=unique_name("group"),
                            metrics_port=0, commit_interval_s=0.2, shutdown_grace_s=0)


async def _publish(kafka: KafkaSettings, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _read_all(kafka: KafkaSettings, topic: str, count: int,
                    timeout_s: float = 30) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), enable_auto_commit=False)
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        async with asyncio.timeout(timeout_s):
            while len(letters) < count:
                batches = await consumer.getmany(timeout_ms=200)
                letters += [DeadLetter.from_bytes(r.value) for records in
                            batches.values() for r in records]
    finally:
        await consumer.stop()
    return letters


async def _committed(kafka: KafkaSettings, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


class Running:
    """The alerting service as a task in this event loop."""

    def __init__(self, settings: AlertingSettings,
                 subscribers: list[SubscriberConfig]) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(AlertingService(settings, subscribers)
                                        .run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def test_alerting_healthy_receiver_gets_each_alert_once_signed_synthetic(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str]) -> None:
    """Every alert exactly once, in order, signed; a malformed value is dead-lettered;
    a Slack subscriber filtered to X1 and above gets only the X alerts."""
    settings = await _settings(kafka_settings, unique_name)
    receiver = Receiver()
    alerts = synthetic_series(18) + [
        synthetic_alert(AlertKind.THRESHOLD, "X1", flare_id="synthetic-x"),
        synthetic_alert(AlertKind.ESCALATION, "X10", flare_id="synthetic-x")]
    values = [a.to_bytes() for a in alerts[:10]] + [b'{"not": "an alert"}'] + \
        [a.to_bytes() for a in alerts[10:]]
    url = await receiver.start()
    slack = SubscriberConfig.model_validate({
        "name": "slack", "kind": "slack", "url": url.replace("/hook", "/slack"),
        "filters": {"min_level": "X1"}})
    delivered_before = _metric("flare_alerting_deliveries_total",
                               subscriber="healthy", outcome="delivered")
    service = Running(settings, [_webhook("healthy", url), slack])
    try:
        await _publish(kafka_settings, settings.topics.alerts, values)
        await _until(lambda: len(receiver.receipts) >= 20
                     and len(receiver.slack_messages) >= 2, 30, "all deliveries")
        await asyncio.sleep(0.5)  # room for any duplicate to show up
    finally:
        await service.close()
        await receiver.stop()

    assert receiver.ids == [a.alert_id for a in alerts]
    assert all(r.signature_ok for r in receiver.receipts)
    assert _metric("flare_alerting_deliveries_total", subscriber="healthy",
                   outcome="delivered") - delivered_before == 20
    slack_texts = [str(m["text"]) for m in receiver.slack_messages]
    assert len(slack_texts) == 2, slack_texts
    assert "X1 threshold crossed" in slack_texts[0]
    assert "Escalation to X10" in slack_texts[1]
    assert "Follow-up of flare `synthetic-x`" in json.dumps(receiver.slack_messages[1])
    (letter,) = await _read_all(kafka_settings, settings.topics.alerts_deadletter, 1)
    assert letter.reason is DeadLetterReason.MALFORMED_ALERT
    assert letter.source == f"{settings.topics.alerts}[0]@10"
    assert letter.rejected is not None and "an alert" in letter.rejected.raw
    assert await _committed(kafka_settings, settings.group_id,
                            settings.topics.alerts) == 21


async def test_alerting_receiver_failing_then_recovering_gets_all_in_order_synthetic(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str]) -> None:
    """HTTP 500 (some with Retry-After) for 2 s, then 200: all alerts, in order."""
    settings = await _settings(kafka_settings, unique_name)
    failing_until = time.monotonic() + 2.0

    async def flaky(request_number: int) -> web.Response:
        if time.monotonic() < failing_until:
            headers = {"Retry-After": "1"} if request_number % 3 == 0 else {}
            return web.Response(status=500, headers=headers)
        return web.Response(status=200)

    receiver = Receiver(behaviour=flaky)
    alerts = synthetic_series(12)
    service = Running(settings, [_webhook("flaky", await receiver.start())])
    try:
        await _publish(kafka_settings, settings.topics.alerts,
                       [a.to_bytes() for a in alerts])
        await _until(lambda: len(receiver.receipts) >= 12, 30, "12 deliveries")
        await asyncio.sleep(0.3)
    finally:
        await service.close()
        await receiver.stop()

    assert receiver.requests > 12  # it really did fail for a while
    assert receiver.ids == [a.alert_id for a in alerts]
    assert all(r.signature_ok for r in receiver.receipts)
    assert await _committed(kafka_settings, settings.group_id,
                            settings.topics.alerts) == 12


async def test_alerting_dead_receiver_dead_lettered_other_served_on_time_synthetic(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str]) -> None:
    """A receiver that never answers ends in the dead-letter topic, the healthy one
    is served at once; once back, a replay delivers the dead letters exactly once."""
    settings = await _settings(kafka_settings, unique_name)
    dead, healthy = Receiver(), Receiver()
    dead.behaviour = lambda _: dead.hang()
    alerts = synthetic_series(5)
    subscribers = [_webhook("dead", await dead.start(), attempts=2, timeout_s=0.5),
                   _webhook("healthy", await healthy.start())]
    dead_before = _metric("flare_alerting_dead_lettered_total", subscriber="dead",
                          reason="delivery_failed")
    service = Running(settings, subscribers)
    try:
        await _publish(kafka_settings, settings.topics.alerts,
                       [a.to_bytes() for a in alerts])
        await _until(lambda: len(healthy.receipts) >= 5, 30, "healthy deliveries")
        letters = await _read_all(kafka_settings, settings.topics.alerts_deadletter, 5)
    finally:
        await service.close()
        await dead.stop()
        await healthy.stop()

    latencies_s = [(r.received_utc - r.issued_utc).total_seconds()
                   for r in healthy.receipts]
    # Five alerts to the dead receiver take >= 5 x 2 x 0.5 s; the healthy one must
    # not wait for them.
    assert max(latencies_s) < 2.0, latencies_s
    assert healthy.ids == [a.alert_id for a in alerts]
    assert [letter.subscriber for letter in letters] == ["dead"] * 5
    assert _metric("flare_alerting_dead_lettered_total", subscriber="dead",
                   reason="delivery_failed") - dead_before == 5
    assert [letter.alert.alert_id for letter in letters if letter.alert] == \
        [a.alert_id for a in alerts]
    assert all("timed out" in letter.error and letter.attempts == 2
               for letter in letters)
    assert await _committed(kafka_settings, settings.group_id,
                            settings.topics.alerts) == 5

    back = Receiver()
    revived = _webhook("dead", await back.start())
    try:
        (first,) = await replay.replay(settings, [revived])
        (again,) = await replay.replay(settings, [revived])
    finally:
        await back.stop()
    assert first.delivered == 5 and first.failed_again == 0
    assert again.delivered == 0
    assert back.ids == [a.alert_id for a in alerts]


def _start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "alerting", "run"], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_alerting_sigkill_mid_delivery_then_restart_loses_nothing_synthetic(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        tmp_path: Path) -> None:
    """SIGKILL the service (a subprocess) mid-delivery; after restart every alert
    arrives (at least once, first copies in order)."""
    settings = await _settings(kafka_settings, unique_name)

    async def slow(_: int) -> web.Response:
        await asyncio.sleep(0.08)
        return web.Response(status=200)

    receiver = Receiver(behaviour=slow)
    url = await receiver.start()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
           "FLARE_TOPIC_ALERTS": settings.topics.alerts,
           "FLARE_TOPIC_ALERTS_DEADLETTER": settings.topics.alerts_deadletter,
           "FLARE_ALERTING_GROUP_ID": settings.group_id,
           "FLARE_ALERTING_METRICS_PORT": "0",
           # Commit often, so that the kill comes after commits: a service that
           # committed before delivering would then lose the queued alerts.
           "FLARE_ALERTING_COMMIT_INTERVAL_S": "0.1",
           "FLARE_ALERTING_SUBSCRIBERS": json.dumps([
               {"name": "ops", "kind": "webhook", "url": url, "secret": SECRET}])}
    alerts = synthetic_series(40)
    log = tmp_path / "alerting.log"
    process = _start_service(env, log)
    try:
        await _publish(kafka_settings, settings.topics.alerts,
                       [a.to_bytes() for a in alerts])
        await _until(lambda: len(receiver.receipts) >= 15, 60, "first deliveries")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_after = len(receiver.receipts)
        process = _start_service(env, log)
        await _until(lambda: set(receiver.ids) >= {a.alert_id for a in alerts}, 60,
                     "every alert after restart")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        await receiver.stop()

    assert killed_after < len(alerts)  # the kill really came mid-delivery
    logged = log.read_text()
    assert url not in logged and SECRET not in logged  # secrets never logged
    first_copies = list(dict.fromkeys(receiver.ids))
    assert first_copies == [a.alert_id for a in alerts]
    assert all(r.signature_ok for r in receiver.receipts)
