"""Helpers of the fault tests: worker environments, topic reading, references.

The worker subprocess itself is :class:`tests.integration.test_stream_replay.Worker`;
these helpers add what the fault tests need on top: reading whole topics with
their keys, Prometheus counters by label, and the reference alerts of an
uninterrupted in-process run of the same engine code.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from flarecore.alerts import Alert
from flarecore.engine import AlertDeduplicator, SatelliteEngine
from flarecore.forecast import load_bundle
from flarecore.quarantine import QuarantinedInput
from flarecore.records import XrsRecord
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import ensure_topics, system_topics
from stream_app.topics import assign_all, behind
from tests.integration.test_stream_replay import Worker, _free_port
from tests.unit.stream_app.realday import fit_day_model

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["Worker", "free_port"]
free_port = _free_port


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion from sync test code (or from a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def worker_env(kafka: KafkaSettings, name: Callable[[str], str],
               tmp_path: Path) -> dict[str, str]:
    """Fresh topics, the test model and the environment of a worker and replay."""
    topics = TopicSettings(
        records=name("records"), quarantine=name("quarantine"),
        alerts=name("alerts"), alerts_deadletter=name("deadletter"),
        models=name("models"),
    )
    run_async(ensure_topics(kafka, system_topics(topics)))
    if not (tmp_path / "model").exists():
        fit_day_model(tmp_path / "model")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FLARE_", "KAFKA_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "FLARE_TOPIC_RECORDS": topics.records,
        "FLARE_TOPIC_RECORDS_PARTITIONS": str(topics.records_partitions),
        "FLARE_TOPIC_QUARANTINE": topics.quarantine,
        "FLARE_TOPIC_ALERTS": topics.alerts,
        "FLARE_TOPIC_ALERTS_DEADLETTER": topics.alerts_deadletter,
        "FLARE_TOPIC_MODELS": topics.models,
        "FLARE_APP_ID": name("app"),
        "FLARE_DATA_DIR": str(tmp_path / "data"),
        "FLARE_MODEL_DIR": str(tmp_path / "model"),
        "FLARE_WEB_PORT": str(free_port()),
        "FLARE_BROKER_SESSION_TIMEOUT_S": "6",
        "FLARE_BROKER_HEARTBEAT_INTERVAL_S": "1",
        "FLARE_BROKER_REBALANCE_TIMEOUT_S": "10",
        "FLARE_PRODUCERS_METRICS_PORT": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def start_replay(env: dict[str, str], speed: str, paths: list[Path],
                 log: Path) -> subprocess.Popen[bytes]:
    """``python -m producers replay`` of real archive files, as a subprocess."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "producers", "replay", "--speed", speed,
             *map(str, paths)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _read_messages(kafka: KafkaSettings, topic: str
                         ) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False,
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        ends = await assign_all(consumer, kafka, topic)
        found: list[tuple[bytes | None, bytes | None]] = []
        while await behind(consumer, ends):
            for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                found += [(m.key, m.value) for m in messages if m.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


def read_messages(kafka: KafkaSettings, topic: str
                  ) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of a topic, up to its end offsets now."""
    return list(run_async(_read_messages(kafka, topic)))


def read_alerts(kafka: KafkaSettings, topic: str) -> list[Alert]:
    """The alerts on an alerts topic, in partition order."""
    return [Alert.from_bytes(v) for _, v in read_messages(kafka, topic)
            if v is not None]


def read_quarantine(kafka: KafkaSettings, topic: str) -> list[QuarantinedInput]:
    """The entries of a quarantine topic."""
    return [QuarantinedInput.model_validate_json(v)
            for _, v in read_messages(kafka, topic) if v is not None]


def record_counts(kafka: KafkaSettings, topic: str) -> Counter[tuple[bytes, int]]:
    """How often each (key, minute) is on the records topic."""
    counts: Counter[tuple[bytes, int]] = Counter()
    for key, value in read_messages(kafka, topic):
        assert key is not None and value is not None
        counts[(key, XrsRecord.from_bytes(value).minute)] += 1
    return counts


async def _send(kafka: KafkaSettings, topic: str,
                messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(),
                                max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def send_raw(kafka: KafkaSettings, topic: str,
             messages: list[tuple[bytes | None, bytes]]) -> None:
    """Write raw (key, value) messages to a topic, in order, each acknowledged."""
    run_async(_send(kafka, topic, messages))


def counter(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples whose labels include ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def reference_alerts(model_dir: Path,
                     records: dict[int, list[XrsRecord]]) -> list[Alert]:
    """Alerts of an uninterrupted in-process run of the worker's engine code.

    Same engines, same deduplicator, same model as the worker, without Kafka or
    faults: the run a faulted stream must reproduce alert for alert.
    """
    forecaster = load_bundle(model_dir)
    candidates: list[Alert] = []
    for satellite, items in records.items():
        candidates += SatelliteEngine(satellite, forecaster).process(items).alerts
    dedup = AlertDeduplicator()
    candidates.sort(key=lambda a: a.data_time_utc)
    return [p for a in candidates if (p := dedup.admit(a)) is not None]


def alert_key(alert: Alert) -> tuple[str, str, str, str, str, float]:
    """What must match between runs: everything but the wall-clock issue time."""
    return (alert.alert_id, alert.kind.value, alert.level or "-", alert.flare_id,
            alert.data_time_utc.isoformat(), alert.observed_flux_wm2)
