"""Record-to-alert latency of one stream worker at a paced, live-like rate.

Method (printed with the results): for each ``--within`` value (the worker's
``FLARE_BATCH_WITHIN_S``, how long its agent waits to fill a batch) and each of
``--repeats`` sessions, a fresh worker (own app id, own topics, the shipped
model unless ``--model-dir`` names another) is started and waited for until it
has its partitions and its model. Then ``python -m producers replay --speed xN``
publishes the real 2014-01-28 day of GOES-13 (science 1-minute averages) and
GOES-15 (2-s science data averaged per minute), paced at N data minutes per wall
second: records arrive one by one (at x1200, 40 records/s for both satellites),
never as a backlog, as at live rate. Afterwards both topics are read back:
latency = the alert's Kafka timestamp on the alerts topic minus the Kafka
timestamp of the record of the alert's data minute (the earliest of the alert's
satellites), both stamped by their producers on this machine's clock. So it
covers the replay producer's send, the broker, the worker's fetch, batch wait,
decode, engine, the candidates topic, deduplication and the send to the alerts
topic.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/record_latency.py \
        --speed x1200 --repeats 2 --within 0.5 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    REPO,
    Worker,
    create_topics,
    delete_topics,
    machine,
    median,
    percentile,
    replay,
    run_id,
    service_env,
    topics_for,
    worker_env,
)
from flarecore.alerts import Alert  # noqa: E402
from flarecore.records import XrsRecord  # noqa: E402
from flarecore.settings import KafkaSettings, TopicSettings  # noqa: E402
from stream_app.topics import behind, partitions_of  # noqa: E402

DAY_FILES = [
    REPO / "tests/data/ncei/sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc",
    REPO / "tests/data/goes13-15-l2-irrad-2s/sci_gxrs-l2-irrad_g15_d20140128_v0-0-0.nc",
]


async def read_topic(kafka: KafkaSettings, topic: str) -> list[tuple[bytes, int]]:
    """Every (value, Kafka timestamp in ms) of a topic, group-less."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = await partitions_of(kafka, topic)
        if not tps:
            return []
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        # Explicit offsets: seek_to_beginning right after assign() can lose to
        # the assignment's own reset to "latest" (seen: position = end).
        for tp, begin in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, begin)
        out: list[tuple[bytes, int]] = []
        while await behind(consumer, ends):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                out += [(m.value or b"", m.timestamp) for m in messages]
        return out
    finally:
        await consumer.stop()


def latencies_ms(kafka: KafkaSettings, topics: TopicSettings) -> list[float]:
    """Alert timestamp minus its data minute's record timestamp, per alert."""
    published: dict[tuple[int, int], int] = {}
    for value, stamp_ms in asyncio.run(read_topic(kafka, topics.records)):
        record = XrsRecord.from_bytes(value)
        published.setdefault((record.satellite, record.minute), stamp_ms)
    result, described = [], []
    for value, stamp_ms in asyncio.run(read_topic(kafka, topics.alerts)):
        alert = Alert.from_bytes(value)
        minute = int(alert.data_time_utc.timestamp()) // 60
        sent = [published[(s, minute)] for s in alert.satellites
                if (s, minute) in published]
        if sent:
            result.append(float(stamp_ms - min(sent)))
            described.append((result[-1], f"{alert.kind.value} {alert.level or '-'} "
                              f"{alert.data_time_utc:%H:%M} sats={alert.satellites}"))
        else:
            print(f"alert without its record: {alert.alert_id}")
    slowest = sorted(described, reverse=True)[:3]
    print("  slowest: " + "; ".join(f"{ms:.0f} ms {what}" for ms, what in slowest))
    return result


def session(kafka: KafkaSettings, model_dir: Path, work: Path, speed: str,
            within_s: float) -> tuple[list[float], int]:
    """One fresh worker and one paced replay of the day; (latencies, records)."""
    run = run_id()
    topics = topics_for(run)
    create_topics(kafka, topics)
    env = worker_env(kafka, topics, run, model_dir, work / f"data-{run}",
                     FLARE_BATCH_WITHIN_S=str(within_s))
    worker = Worker(env, work / f"worker-{run}.log")
    worker.start()
    try:
        worker.wait_until(lambda: _started(worker), "partitions and model", 180)
        process = replay(service_env(kafka, topics), DAY_FILES, speed,
                         work / f"replay-{run}.log")
        if process.wait() != 0:
            raise SystemExit((work / f"replay-{run}.log").read_text()[-3000:])
        worker.wait_until(lambda: worker.handled() >= 2880, "all records", 120)
        time.sleep(2)  # the last candidates through deduplication
        return latencies_ms(kafka, topics), int(worker.handled())
    finally:
        worker.stop()
        delete_topics(kafka, [topics.records, topics.quarantine, topics.alerts,
                              topics.alerts_deadletter, topics.models,
                              f"bench-app-{run}"])


def _started(worker: Worker) -> bool:
    checks = worker.get("/ready").json()["checks"]
    return bool(checks["partitions_assigned"] and checks["model_loaded"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", default="x1200",
                        help="replay pace, data minutes per wall second (xN)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--within", type=float, nargs="+", default=[0.5, 0.02],
                        help="FLARE_BATCH_WITHIN_S values to compare")
    parser.add_argument("--model-dir", type=Path, default=REPO / "models" / "default",
                        help="bundle to serve (default: the shipped model)")
    args = parser.parse_args()

    kafka = KafkaSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    model_dir = args.model_dir
    print(__doc__.split("    KAFKA_")[0].strip())
    print(f"\nmachine: {machine()}")
    print(f"speed={args.speed} repeats={args.repeats} files="
          f"{[p.name for p in DAY_FILES]}")
    try:
        for within_s in args.within:
            samples: list[float] = []
            for number in range(1, args.repeats + 1):
                got, handled = session(kafka, model_dir, work, args.speed, within_s)
                samples += got
                print(f"within={within_s}s session {number}: records={handled} "
                      f"alerts={len(got)} p50={median(got):.0f} ms "
                      f"max={max(got, default=float('nan')):.0f} ms")
            print(f"within={within_s}s: alerts={len(samples)} "
                  f"p50={percentile(samples, 50):.0f} ms "
                  f"p90={percentile(samples, 90):.0f} ms "
                  f"p99={percentile(samples, 99):.0f} ms "
                  f"max={max(samples, default=float('nan')):.0f} ms "
                  f"(target p99 <= 100 ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
