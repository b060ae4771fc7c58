"""The chain everything stands on: a real broker, consumer groups, commits, faust."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack.kafka import free_port
from flarecore.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[2]


async def _produce(settings: KafkaSettings, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**settings.aiokafka_kwargs(), acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _consume(settings: KafkaSettings, topic: str, group: str,
                   count: int) -> list[bytes]:
    """Read ``count`` messages in ``group``, committing each, then leave the group."""
    consumer = AIOKafkaConsumer(topic, **settings.aiokafka_kwargs(), group_id=group,
                                enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < count:
                batch = await consumer.getmany(timeout_ms=500, max_records=1)
                for messages in batch.values():
                    for message in messages:
                        got.append(message.value)
                        await consumer.commit()
    finally:
        await consumer.stop()
    return got


async def test_consumer_resumes_from_committed_offset(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        make_topics: Callable[..., None]) -> None:
    topic, group = unique_name("topic"), unique_name("group")
    make_topics(topic)
    values = [f"m{i}".encode() for i in range(10)]
    await _produce(kafka_settings, topic, values)

    first = await _consume(kafka_settings, topic, group, 4)
    second = await _consume(kafka_settings, topic, group, 6)

    assert first == values[:4]
    assert second == values[4:]
    check = AIOKafkaConsumer(**kafka_settings.aiokafka_kwargs(), group_id=group)
    await check.start()
    try:
        assert await check.committed(TopicPartition(topic, 0)) == 10
    finally:
        await check.stop()


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "tests.integration.faust_probe",
             "worker", "--loglevel", "info"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def _read_counts(settings: KafkaSettings, topic: str, expected: int,
                       worker: subprocess.Popen[bytes],
                       log: Path) -> list[dict[str, int]]:
    consumer = AIOKafkaConsumer(topic, **settings.aiokafka_kwargs(),
                                auto_offset_reset="earliest")
    await consumer.start()
    got: list[dict[str, int]] = []
    try:
        async with asyncio.timeout(120):
            while len(got) < expected:
                assert worker.poll() is None, f"worker died: {log.read_text()[-3000:]}"
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    got += [json.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return got


@pytest.mark.slow
async def test_faust_worker_counts_through_changelog_table(
        kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        make_topics: Callable[..., None], tmp_path: Path) -> None:
    """A faust agent counts words in a table; a restarted worker recovers the count."""
    source, sink = unique_name("words"), unique_name("counts")
    make_topics(source, sink)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
           "PROBE_APP_ID": unique_name("probe"), "PROBE_SOURCE": source,
           "PROBE_SINK": sink, "PROBE_WEB_PORT": str(free_port()),
           "PROBE_DATA_DIR": str(tmp_path / "faust")}
    log = tmp_path / "worker.log"

    worker = _start_worker(env, log)
    try:
        await _produce(kafka_settings, source, [b"solar"])
        assert await _read_counts(kafka_settings, sink, 1, worker, log) == [
            {"word": "solar", "count": 1}]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)

    # The new worker has an empty local store: only the changelog can give it 1.
    env["PROBE_DATA_DIR"] = str(tmp_path / "faust-restarted")
    worker = _start_worker(env, log)
    try:
        await _produce(kafka_settings, source, [b"solar"])
        counts = await _read_counts(kafka_settings, sink, 2, worker, log)
        assert counts[-1] == {"word": "solar", "count": 2}, log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
