"""Bad input straight on the records topic, read by a real stream worker.

Between real GOES-13 minutes of 2014-01-28 come garbage bytes, a huge message,
a record from a satellite that does not exist, a minute far in the future and a
minute going backwards (the bad records are real minutes with one field
changed). Each must end in the quarantine topic with its reason and in the
worker's ``flare_stream_quarantined_total``, and the worker must process every
good minute after them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from flarecore.records import XrsRecord
from flarecore.settings import KafkaSettings
from tests.integration.faults import (
    Worker,
    counter,
    read_quarantine,
    send_raw,
    worker_env,
)
from tests.unit.stream_app.realday import flare_day_records

pytestmark = pytest.mark.timeout(180)

HUGE_BYTES = 900_000
"""Under the 1 MB message limit of a default broker, 3000 times a record."""


@pytest.fixture
def env(kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        tmp_path: Path) -> dict[str, str]:
    return worker_env(kafka_settings, unique_name, tmp_path)


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def _changed(record: XrsRecord, **fields: object) -> bytes:
    value = json.loads(record.to_bytes())
    value.update(fields)
    return json.dumps(value).encode()


def _bad_messages(last_good: XrsRecord) -> dict[str, tuple[bytes | None, bytes]]:
    """Reason -> the (key, value) that must be quarantined with it."""
    future = last_good.time_utc + timedelta(days=365 * 80)  # a clock gone wild
    backward = last_good.time_utc - timedelta(days=1)
    huge = _changed(last_good, padding="x" * HUGE_BYTES)
    return {
        "undecodable": (b"13", bytes(range(256)) * 4),
        "oversized": (b"13", huge),
        "unknown_satellite": (b"42", _changed(last_good, satellite=42)),
        "future_time": (b"13", _changed(last_good, time_utc=future.isoformat())),
        "backward_time": (b"13", _changed(last_good, time_utc=backward.isoformat())),
    }


def test_faults_bad_records_quarantined_worker_goes_on(
        worker: Worker, env: dict[str, str], kafka_settings: KafkaSettings) -> None:
    records = flare_day_records()[:120]
    topic = env["FLARE_TOPIC_RECORDS"]
    worker.start()
    worker.wait_web()

    send_raw(kafka_settings, topic, [(r.key, r.to_bytes()) for r in records[:60]])
    worker.wait_until(lambda: _processed(worker) == 60, "the first 60 minutes")
    bad = _bad_messages(records[59])
    send_raw(kafka_settings, topic, list(bad.values()))
    send_raw(kafka_settings, topic, [(r.key, r.to_bytes()) for r in records[60:]])

    # Every good minute after the bad ones is processed, none of the bad ones.
    worker.wait_until(lambda: _processed(worker) == 120, "all 120 good minutes")
    state = worker.get("/state").json()["satellites"]
    assert set(state) == {"13"}
    assert state["13"]["time_utc"] == records[-1].time_utc.isoformat()

    worker.wait_until(lambda: _quarantined(worker) == len(bad), "quarantine counts")
    metrics = worker.get("/metrics").text
    for reason in bad:
        assert counter(metrics, "flare_stream_quarantined_total",
                       reason=reason) == 1, reason
    entries = read_quarantine(kafka_settings, env["FLARE_TOPIC_QUARANTINE"])
    assert Counter(e.reason for e in entries) == dict.fromkeys(bad, 1)
    by_reason = {e.reason: e for e in entries}
    assert all(e.stage == "stream-app" and e.source.startswith(topic)
               for e in entries)
    # The raw input is kept (a huge one cut to a bounded size, and said so).
    assert by_reason["unknown_satellite"].raw.encode() == bad["unknown_satellite"][1]
    assert by_reason["undecodable"].raw_encoding == "base64"
    assert "truncated" in by_reason["oversized"].detail
    assert len(by_reason["oversized"].raw) < HUGE_BYTES / 10


def _processed(worker: Worker) -> float:
    return counter(worker.get("/metrics").text, "flare_stream_records_total")


def _quarantined(worker: Worker) -> float:
    return counter(worker.get("/metrics").text, "flare_stream_quarantined_total")
