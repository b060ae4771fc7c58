"""A stream worker SIGKILLed twice mid-replay: alerts identical to an
uninterrupted run, alert id for alert id.

``test_stream_replay.py`` kills a worker once with two satellites and compares
alert counts per kind (ids can differ there: which satellite's flare names a
shared event depends on arrival order). Here one satellite makes ids
deterministic, so the restarted workers' alerts must equal, id by id, those of
the same engine code run uninterrupted over the same records; and records
re-delivered after each kill must be ignored, not quarantined.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flarecore.settings import KafkaSettings
from tests.integration.faults import (
    Worker,
    alert_key,
    counter,
    read_quarantine,
    reference_alerts,
    start_replay,
    worker_env,
)
from tests.integration.test_faults_broker import _data_time, _settled_alerts
from tests.unit.stream_app.realday import FLARE_DAY, flare_day_records

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def env(kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        tmp_path: Path) -> dict[str, str]:
    return worker_env(kafka_settings, unique_name, tmp_path)


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def test_faults_kill_worker_twice_alerts_identical_to_uninterrupted(
        worker: Worker, env: dict[str, str], kafka_settings: KafkaSettings,
        tmp_path: Path) -> None:
    worker.start()
    worker.wait_web()
    worker.wait_until(lambda: worker.get("/model-info").json()["loaded"], "model")
    replay_log = tmp_path / "replay.log"
    replay = start_replay(env, "x1440", [FLARE_DAY], replay_log)  # 60 s of wall time

    killed_at = []
    for hour in ("04", "15"):
        worker.wait_until(lambda h=hour: _data_time(worker) >= f"2014-01-28T{h}",
                          f"data time {hour}:00", timeout_s=90)
        killed_at.append(_data_time(worker))
        assert worker.process is not None
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=10)
        time.sleep(1)
        worker.start()
        worker.wait_web()
    print(f"killed at data times {killed_at}")
    assert replay.poll() is None, "both kills must land mid-replay"

    assert replay.wait(timeout=120) == 0, replay_log.read_text()[-2000:]
    worker.wait_until(lambda: _data_time(worker) == "2014-01-28T23:59:00+00:00",
                      "the worker at 23:59", timeout_s=90)
    # The last worker resumed from the saved state, not from the day's start:
    # it processed the 9 hours after the second kill, not more.
    assert 0 < _processed(worker) <= 9 * 60

    alerts = _settled_alerts(kafka_settings, env["FLARE_TOPIC_ALERTS"])
    expected = reference_alerts(Path(env["FLARE_MODEL_DIR"]),
                                {13: flare_day_records()})
    assert len({a.alert_id for a in alerts}) == len(alerts), "an alert doubled"
    assert sorted(map(alert_key, alerts)) == sorted(map(alert_key, expected))
    assert read_quarantine(kafka_settings, env["FLARE_TOPIC_QUARANTINE"]) == []


def _processed(worker: Worker) -> float:
    return counter(worker.get("/metrics").text, "flare_stream_records_total")
