"""The catalogue of bad SWPC input, through the real poller and worker.

``python -m producers swpc`` polls a loopback HTTP server whose replies are a
recorded GOES-16 ``xrays-6-hour.json`` (tests/data/swpc) with synthetic
corruptions: a truncated reply, a reply that is not an array, then the real
reply with one object per kind of damage. Every kind must end in the
quarantine topic with its reason and in the poller's
``flare_records_quarantined_total``; every minute of the reply must be
published once and processed by a real stream worker.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flarecore.settings import KafkaSettings
from tests.integration.faults import (
    ROOT,
    Worker,
    counter,
    free_port,
    read_quarantine,
    record_counts,
    worker_env,
)
from tests.unit.producers.loopback import Reply, serve_script

pytestmark = pytest.mark.timeout(180)

REPLY = (ROOT / "tests" / "data" / "swpc"
         / "xrays-6-hour_committed-20230831T051730Z.json")
"""GOES-16, 2023-08-30 22:20 to 2023-08-31 04:17: 358 minutes, two channels each."""

WHOLE_REPLY_REASONS = {"invalid_json", "not_an_array"}


def _corrupted() -> tuple[bytes, dict[str, Any]]:
    """The real reply with one synthetic corruption per reason, and the objects.

    Objects 2k and 2k+1 are the XRS-A and XRS-B of one minute; each corruption
    hits a different minute, so each reason is counted once.
    """
    objects = json.loads(REPLY.read_bytes())
    assert len(objects) == 716 and objects[1]["energy"] == "0.1-0.8nm"
    damage: dict[str, Any] = {
        "missing_field": {k: v for k, v in objects[11].items() if k != "flux"},
        "wrong_type": {**objects[21], "flux": "1.2e-6"},
        "nan_flux": {**objects[31], "flux": math.nan},
        "negative_flux": {**objects[41], "flux": -1.2e-6},
        "zero_flux": {**objects[50], "flux": 0.0},
        "absurd_flux": {**objects[61], "flux": 3.5},
    }
    for index, reason in zip((11, 21, 31, 41, 50, 61), damage, strict=True):
        objects[index] = damage[reason]
    damage["missing_channel"] = objects.pop(70)  # minute 35 keeps only XRS-B
    future = {**objects[100], "time_tag": "2099-01-01T00:00:00Z"}
    damage["future_time"] = future
    objects.append(future)
    return json.dumps(objects).encode(), damage


@pytest.fixture
def env(kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        tmp_path: Path) -> dict[str, str]:
    return worker_env(kafka_settings, unique_name, tmp_path)


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def test_faults_swpc_synthetic_corruptions_quarantined_and_counted(
        worker: Worker, env: dict[str, str], kafka_settings: KafkaSettings,
        tmp_path: Path) -> None:
    body, damage = _corrupted()
    script = {"/1-day.json": [Reply(body=body[:5000]), Reply(body=b'{"status": 1}'),
                              Reply(body=body)],
              "/6-hour.json": [Reply(body=body)]}
    worker.start()
    worker.wait_web()
    with serve_script(script) as server:
        poller, metrics_url = _start_poller(env, server.base_url,
                                            tmp_path / "poller.log")
        try:
            # The poller lives through both broken replies, then publishes.
            worker.wait_until(lambda: _processed(worker) == 358, "358 minutes")
            metrics = _wait_for_poller(metrics_url, len(damage) + 2)
        finally:
            poller.terminate()
            assert poller.wait(timeout=30) == 0, (tmp_path / "poller.log").read_text()

    reasons = set(damage) | WHOLE_REPLY_REASONS
    for reason in reasons:
        assert counter(metrics, "flare_records_quarantined_total",
                       reason=reason) == 1, reason
    entries = read_quarantine(kafka_settings, env["FLARE_TOPIC_QUARANTINE"])
    assert Counter(e.reason for e in entries) == dict.fromkeys(reasons, 1)
    assert {e.stage for e in entries} == {"swpc-poller"}
    by_reason = {e.reason: e for e in entries}
    for reason in ("wrong_type", "negative_flux", "zero_flux", "future_time"):
        assert json.loads(by_reason[reason].raw) == damage[reason], reason
    assert by_reason["invalid_json"].raw.encode() == body[:5000]

    # Every minute once; the damaged ones are kept with the channel marked.
    counts = record_counts(kafka_settings, env["FLARE_TOPIC_RECORDS"])
    assert len(counts) == 358 and set(counts.values()) == {1}
    assert {key for key, _ in counts} == {b"16"}
    state = worker.get("/state").json()["satellites"]
    assert state["16"]["time_utc"] == "2023-08-31T04:17:00+00:00"
    assert counter(worker.get("/metrics").text, "flare_stream_quarantined_total") == 0


def _start_poller(env: dict[str, str], base_url: str,
                  log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    poller_env = {
        **env,
        "FLARE_PRODUCERS_SWPC__PRIMARY_URL": f"{base_url}/6-hour.json",
        "FLARE_PRODUCERS_SWPC__PRIMARY_STARTUP_URL": f"{base_url}/1-day.json",
        "FLARE_PRODUCERS_SWPC__SECONDARY_URL": "",
        "FLARE_PRODUCERS_SWPC__SECONDARY_STARTUP_URL": "",
        "FLARE_PRODUCERS_SWPC__POLL_INTERVAL_S": "0.3",
        "FLARE_PRODUCERS_SWPC__BASE_BACKOFF_S": "0.1",
        "FLARE_PRODUCERS_SWPC__MAX_BACKOFF_S": "0.5",
        "FLARE_PRODUCERS_METRICS_PORT": str(port),
    }
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "producers", "swpc"],
                                   cwd=ROOT, env=poller_env, stdout=out,
                                   stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/metrics"


def _wait_for_poller(url: str, quarantined: int) -> str:
    """The poller's metrics once it has counted ``quarantined`` entries."""
    import time

    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            text = ""
        if counter(text, "flare_records_quarantined_total") >= quarantined:
            return text
        time.sleep(0.3)
    raise AssertionError(f"poller metrics did not reach {quarantined}:\n{text}")


def _processed(worker: Worker) -> float:
    return counter(worker.get("/metrics").text, "flare_stream_records_total")
