"""The broker stopped and started again while a real day replays.

A private Kafka broker (its own JVM, so the test may stop it) takes the replay
of GOES-13's 2014-01-28 from ``python -m producers replay`` and feeds a real
stream worker. Mid-replay the broker is shut down and started again on the same
port and data directory. Producer and worker must carry on by themselves, every
minute must be on the records topic exactly once, and the worker's alerts must
be those of an uninterrupted run of the same data, alert id for alert id.

One satellite only: with two, which satellite's flare names a shared event
depends on arrival order (docs/stream_app.md), so ids could differ between two
correct runs.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import LocalKafka, free_port
from flarecore.alerts import Alert, AlertKind
from flarecore.settings import KafkaSettings
from tests.integration.faults import (
    Worker,
    alert_key,
    counter,
    read_alerts,
    read_quarantine,
    record_counts,
    reference_alerts,
    start_replay,
    worker_env,
)
from tests.unit.stream_app.realday import FLARE_DAY, flare_day_records

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(420)]

OUTAGE_S = 8.0
"""How long the broker stays down, on top of its stop and start times."""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    if not (shutil.which("java") and shutil.which("mvn")):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but java/mvn missing for a private broker")
        pytest.skip("java and mvn are needed to start a private broker")
    private = LocalKafka(port=free_port(), data_dir=tmp_path / "kafka", heap="384m")
    private.start()
    yield private
    private.stop()


@pytest.fixture
def env(broker: LocalKafka, unique_name: Callable[[str], str],
        tmp_path: Path) -> dict[str, str]:
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap)
    return {**worker_env(kafka, unique_name, tmp_path),
            # Shorter than the outage, so the replay's sends fail and are
            # retried by the replay itself, not only inside the client.
            "FLARE_PRODUCERS_REQUEST_TIMEOUT_MS": "5000"}


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def test_faults_broker_restart_mid_replay_nothing_lost_or_doubled(
        broker: LocalKafka, worker: Worker, env: dict[str, str],
        tmp_path: Path) -> None:
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap)
    worker.start()
    worker.wait_web()
    worker.wait_until(lambda: worker.get("/model-info").json()["loaded"], "model")
    replay_log = tmp_path / "replay.log"
    replay = start_replay(env, "x2880", [FLARE_DAY], replay_log)  # 30 s of wall time

    worker.wait_until(lambda: _processed(worker) > 200, "replay under way")
    broker.stop()
    down_at = _data_time(worker)
    time.sleep(OUTAGE_S)
    assert replay.poll() is None, "the outage must land mid-replay"
    broker.start()

    assert replay.wait(timeout=180) == 0, replay_log.read_text()[-3000:]
    worker.wait_until(lambda: _data_time(worker) == "2014-01-28T23:59:00+00:00",
                      "the worker at 23:59", timeout_s=120)
    print(f"broker down at data time {down_at}")
    assert down_at < "2014-01-28T20"
    assert "replay publish failed" in replay_log.read_text()  # it felt the outage
    assert worker.process is not None and worker.process.poll() is None

    # Every minute of the day on the records topic, each exactly once.
    counts = record_counts(kafka, env["FLARE_TOPIC_RECORDS"])
    assert len(counts) == 1440, len(counts)
    assert Counter(counts.values()) == {1: 1440}
    assert counter(worker.get("/metrics").text, "flare_stream_records_total") == 1440
    assert read_quarantine(kafka, env["FLARE_TOPIC_QUARANTINE"]) == []

    alerts = _settled_alerts(kafka, env["FLARE_TOPIC_ALERTS"])
    expected = reference_alerts(Path(env["FLARE_MODEL_DIR"]),
                                {13: flare_day_records()})
    assert len({a.alert_id for a in alerts}) == len(alerts), "an alert doubled"
    assert sorted(map(alert_key, alerts)) == sorted(map(alert_key, expected))


def _processed(worker: Worker) -> float:
    return counter(worker.get("/metrics").text, "flare_stream_records_total")


def _data_time(worker: Worker) -> str:
    state = worker.get("/state").json()["satellites"]
    return str(state.get("13", {}).get("time_utc", ""))


def _settled_alerts(kafka: KafkaSettings, topic: str) -> list[Alert]:
    """The alerts topic once the day's last end alert is there and nothing moves."""
    deadline = time.monotonic() + 60
    previous: list[Alert] = []
    while time.monotonic() < deadline:
        alerts = read_alerts(kafka, topic)
        ended = any(a.kind is AlertKind.END and a.data_time_utc.hour == 22
                    for a in alerts)
        if ended and len(alerts) == len(previous):
            return alerts
        previous = alerts
        time.sleep(2)
    raise AssertionError(f"alerts did not settle: {len(previous)}")
