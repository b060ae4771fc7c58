"""Measure alert-to-delivery latency of ``python -m alerting`` (p50, p90, p99).

Method (printed with the results): the alerting service runs as a subprocess
with one generic-webhook subscriber, a real HTTP receiver on 127.0.0.1 (aiohttp,
in this process, verifying every signature). This script publishes made-up
alerts to a fresh alerts topic on the real broker at a steady rate, each stamped
``issued_utc`` = the moment it is handed to the producer; the receiver records
the moment each request arrives. Latency = arrival - issued_utc, on the same
clock, so it covers Kafka produce, the consumer fetch, filtering, signing and
the HTTP round trip. A warm-up alert is delivered (and not counted) first.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/alerting_latency.py \
        --alerts 300 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from collections.abc import Callable

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parents[1]
# Run as a plain script from a checkout: make the repository's packages importable.
sys.path.insert(0, str(REPO))

from alerting.signing import SignatureError, verify  # noqa: E402
from flarecore.alerts import Alert, AlertKind, alert_id  # noqa: E402
from flarecore.settings import KafkaSettings  # noqa: E402
from flarecore.topics import TopicSpec, ensure_topics  # noqa: E402
SECRET = "bench-secret"


class Receiver:
    """Loopback webhook receiver that timestamps each arrival."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        arrived_s = time.time()
        body = await request.read()
        try:
            verify(SECRET.encode(), request.headers["X-Flare-Timestamp"], body,
                   request.headers["X-Flare-Signature"])
        except (SignatureError, KeyError):
            self.bad_signatures += 1
        alert = Alert.from_bytes(body)
        if alert.alert_id in self.arrivals:
            self.duplicates += 1
        else:
            latency_s = arrived_s - alert.issued_utc.timestamp()
            self.arrivals[alert.alert_id] = latency_s
        return web.Response(text="ok")


def made_up_alert(index: int, run: str) -> Alert:
    """A synthetic threshold alert issued now (no real flare behind it)."""
    now = datetime.now(UTC)
    flare = f"bench-{run}-{index:05d}"
    return Alert(alert_id=alert_id(flare, AlertKind.THRESHOLD, "M1"),
                 kind=AlertKind.THRESHOLD, level="M1", r_level=1, flare_id=flare,
                 satellites=[16], data_time_utc=now, issued_utc=now,
                 observed_flux_wm2=1.2e-5, observed_class="M1.2",
                 message="synthetic benchmark alert")


async def wait_for(done: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``done`` every 10 ms; exit with an error after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s} s")
        await asyncio.sleep(0.01)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def main(alerts: int, rate_per_s: float) -> None:
    kafka = KafkaSettings()
    run = uuid.uuid4().hex[:8]
    alerts_topic, dead_topic = f"bench.alerts.{run}", f"bench.deadletter.{run}"
    await ensure_topics(kafka, [TopicSpec(alerts_topic), TopicSpec(dead_topic)])

    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"

    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "FLARE_TOPIC_ALERTS": alerts_topic,
           "FLARE_TOPIC_ALERTS_DEADLETTER": dead_topic,
           "FLARE_ALERTING_GROUP_ID": f"bench.alerting.{run}",
           "FLARE_ALERTING_METRICS_PORT": "0",
           "FLARE_ALERTING_SUBSCRIBERS": json.dumps(
               [{"name": "bench", "kind": "webhook", "url": url, "secret": SECRET}])}
    log = Path(tempfile.gettempdir()) / f"alerting-bench-{run}.log"
    with open(log, "wb") as out:
        service = subprocess.Popen([sys.executable, "-m", "alerting", "run"],
                                   cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), acks="all",
                                enable_idempotence=True, linger_ms=0)
    await producer.start()
    try:
        warm = made_up_alert(-1, run)
        await producer.send_and_wait(alerts_topic, warm.to_bytes())
        await wait_for(lambda: warm.alert_id in receiver.arrivals, 60)
        receiver.arrivals.clear()

        interval_s = 1 / rate_per_s
        started = time.monotonic()
        for index in range(alerts):
            due_s = started + index * interval_s
            await asyncio.sleep(max(0.0, due_s - time.monotonic()))
            await producer.send(alerts_topic, made_up_alert(index, run).to_bytes())
        await producer.flush()
        await wait_for(lambda: len(receiver.arrivals) >= alerts, 120)
    finally:
        await producer.stop()
        service.terminate()
        service.wait(30)
        await runner.cleanup()
        admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
        await admin.start()
        await admin.delete_topics([alerts_topic, dead_topic])
        await admin.close()

    latencies_ms = [v * 1000 for v in receiver.arrivals.values()]
    print(__doc__.split("    KAFKA_")[0].strip())
    print(f"\nalerts={alerts} rate={rate_per_s}/s broker={kafka.bootstrap_servers} "
          f"cpus={os.cpu_count()} duplicates={receiver.duplicates} "
          f"bad_signatures={receiver.bad_signatures}")
    print(f"latency_ms p50={percentile(latencies_ms, 50):.1f} "
          f"p90={percentile(latencies_ms, 90):.1f} "
          f"p99={percentile(latencies_ms, 99):.1f} max={max(latencies_ms):.1f} "
          f"mean={statistics.fmean(latencies_ms):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    args = parser.parse_args()
    asyncio.run(main(args.alerts, args.rate))
