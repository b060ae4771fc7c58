"""The stream app against the real broker: a real flare day replayed by the
producers, a worker killed and restarted mid-replay, HTTP answered throughout,
and hot model reloads.

The day is 2014-01-28 as seen by GOES-13 (1-minute science file) and GOES-15
(2-second science file averaged per minute by the shared reader).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from flarecore.alerts import Alert, AlertKind
from flarecore.engine import AlertDeduplicator, SatelliteEngine
from flarecore.forecast import ModelAnnouncement, load_bundle
from flarecore.quarantine import QuarantinedInput
from flarecore.records import XrsRecord
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import ensure_topics, system_topics
from stream_app.topics import assign_all, partitions_of, read_until
from tests.unit.stream_app.realday import (
    FLARE_DAY,
    GOES15_DAY,
    fit_day_model,
    flare_day_records,
    goes15_day_records,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """A ``python -m stream_app worker`` subprocess with its web port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.url = f"http://127.0.0.1:{env['FLARE_WEB_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_app", "worker", "-l", "info"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=10, **kwargs)

    def wait_until(self, check: Callable[[], bool], what: str,
                   timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"worker exited; log:\n{self.log.read_text()[-3000:]}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; log:\n"
                             f"{self.log.read_text()[-3000:]}")

    def wait_web(self) -> None:
        self.wait_until(lambda: self.get("/health").status_code == 200, "/health")

    def satellites_at(self, stamp: str) -> bool:
        state = self.get("/state").json()["satellites"]
        return len(state) == 2 and all(s["time_utc"] == stamp for s in state.values())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def stream_env(kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
               tmp_path: Path) -> dict[str, str]:
    """Topics, a model bundle and the environment of a worker and a replay."""
    topics = TopicSettings(
        records=unique_name("records"), quarantine=unique_name("quarantine"),
        alerts=unique_name("alerts"), alerts_deadletter=unique_name("deadletter"),
        models=unique_name("models"),
    )
    asyncio.run(ensure_topics(kafka_settings, system_topics(topics)))
    fit_day_model(tmp_path / "model")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("FLARE_", "KAFKA_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FLARE_TOPIC_RECORDS": topics.records,
        "FLARE_TOPIC_RECORDS_PARTITIONS": str(topics.records_partitions),
        "FLARE_TOPIC_QUARANTINE": topics.quarantine,
        "FLARE_TOPIC_ALERTS": topics.alerts,
        "FLARE_TOPIC_ALERTS_DEADLETTER": topics.alerts_deadletter,
        "FLARE_TOPIC_MODELS": topics.models,
        "FLARE_APP_ID": unique_name("app"),
        "FLARE_DATA_DIR": str(tmp_path / "data"),
        "FLARE_MODEL_DIR": str(tmp_path / "model"),
        "FLARE_WEB_PORT": str(_free_port()),
        "FLARE_BROKER_SESSION_TIMEOUT_S": "6",
        "FLARE_BROKER_HEARTBEAT_INTERVAL_S": "1",
        "FLARE_BROKER_REBALANCE_TIMEOUT_S": "10",
        "FLARE_PRODUCERS_METRICS_PORT": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture
def worker(stream_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(stream_env, tmp_path / "worker.log")
    yield running
    running.stop()


def _replay(env: dict[str, str], speed: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "producers", "replay", "--speed", speed,
             str(FLARE_DAY), str(GOES15_DAY)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _read_all(kafka: KafkaSettings, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await assign_all(consumer, kafka, topic)
        return [v for v in await read_until(consumer, ends) if v is not None]
    finally:
        await consumer.stop()


def _alerts(kafka: KafkaSettings, env: dict[str, str]) -> list[Alert]:
    raw = asyncio.run(_read_all(kafka, env["FLARE_TOPIC_ALERTS"]))
    return [Alert.from_bytes(value) for value in raw]


async def _send_bad_records(kafka: KafkaSettings, topic: str) -> None:
    good = flare_day_records()[0]
    negative = json.loads(good.to_bytes())
    negative["xrsb_flux_wm2"] = -1.0
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"13")
        await producer.send_and_wait(topic, json.dumps(negative).encode(), key=b"13")
        await producer.send_and_wait(topic, good.to_bytes(), key=b"15")
    finally:
        await producer.stop()


def _crossings() -> list[datetime]:
    """Minutes where XRS-B rises through 1e-5 in either satellite's data."""
    times = []
    for records in (flare_day_records(), goes15_day_records()):
        flux = np.array([r.xrsb_flux_wm2 or np.nan for r in records])
        above = flux >= 1e-5
        for index in np.where(above[1:] & ~above[:-1])[0] + 1:
            times.append(records[index].time_utc)
    return sorted(times)


def _events(alerts: list[Alert]) -> dict[str, tuple[datetime, datetime]]:
    """Alerted flare events: id -> (start, end) from their threshold and end."""
    starts = {a.flare_id: a.flare_start_utc for a in alerts
              if a.kind is AlertKind.THRESHOLD and a.flare_start_utc}
    ends = {a.flare_id: a.data_time_utc for a in alerts if a.kind is AlertKind.END}
    return {fid: (start, ends.get(fid, start)) for fid, start in starts.items()}


def test_stream_replay_flare_day_alerts_once_across_kill(
        worker: Worker, stream_env: dict[str, str],
        kafka_settings: KafkaSettings) -> None:
    worker.start()
    worker.wait_web()
    asyncio.run(_send_bad_records(kafka_settings, stream_env["FLARE_TOPIC_RECORDS"]))

    # The day at x2880: 30 s of wall time; the kill lands around 10:00 data time.
    replay_log = worker.log.with_name("replay.log")
    replay = _replay(stream_env, "x2880", replay_log)
    worker.wait_until(lambda: worker.get("/ready").status_code == 200, "/ready")
    _check_http_during_replay(worker)
    time.sleep(8)
    before_kill = worker.get("/state").json()["satellites"]
    worker.kill()
    # The kill must land mid-replay, or it proves nothing.
    assert any(s["time_utc"] < "2014-01-28T23" for s in before_kill.values())
    worker.start()
    worker.wait_web()
    assert replay.wait(timeout=90) == 0, replay_log.read_text()[-2000:]
    worker.wait_until(lambda: worker.satellites_at("2014-01-28T23:59:00+00:00"),
                      "both satellites at 23:59", timeout_s=90)
    _check_http_during_replay(worker)
    # The new worker resumed from the committed offsets and the restored state;
    # it did not start the day over.
    processed = _metric_sum(worker.get("/metrics").text, "flare_stream_records_total")
    assert 0 < processed < 2880

    alerts = _wait_for_alerts(kafka_settings, stream_env)
    _print_alerts(alerts)
    _check_alerts(alerts)
    _assert_kinds_as_in_process(alerts, Path(stream_env["FLARE_MODEL_DIR"]))
    _check_quarantine(kafka_settings, stream_env)


def test_stream_rebalance_to_second_worker_alerts_once(
        worker: Worker, stream_env: dict[str, str], kafka_settings: KafkaSettings,
        tmp_path: Path) -> None:
    worker.start()
    worker.wait_web()
    replay_log = tmp_path / "replay.log"
    replay = _replay(stream_env, "x2880", replay_log)
    worker.wait_until(lambda: worker.get("/ready").status_code == 200, "/ready")

    # A second worker joins the group mid-replay, then the first one leaves:
    # the rebalances hand the satellites' partitions and their table state over.
    second = Worker({**stream_env, "FLARE_WEB_PORT": str(_free_port())},
                    tmp_path / "second.log")
    second.start()
    try:
        second.wait_web()
        time.sleep(3)
        _check_views_gather_both_workers(worker, second)
        before = worker.get("/state").json()["satellites"]
        worker.stop()
        assert any(s["time_utc"] < "2014-01-28T23" for s in before.values())
        assert replay.wait(timeout=90) == 0, replay_log.read_text()[-2000:]
        second.wait_until(lambda: second.satellites_at("2014-01-28T23:59:00+00:00"),
                          "both satellites at 23:59 on the second worker",
                          timeout_s=90)
        assert 0 < _records_processed(second) < 2880
        alerts = _wait_for_alerts(kafka_settings, stream_env)
    finally:
        second.stop()
    _check_alerts(alerts)
    _assert_kinds_as_in_process(alerts, Path(stream_env["FLARE_MODEL_DIR"]))


def test_stream_reads_records_the_committed_offsets_went_past(
        worker: Worker, stream_env: dict[str, str],
        kafka_settings: KafkaSettings) -> None:
    # The group's committed offsets are moved 150 records ahead in every
    # partition: the restarted worker is handed records past 11:34-12:41's
    # flares, and must read the ones it skipped from the broker.
    rest, skipped = _restart_ahead(worker, stream_env, kafka_settings, 150)
    assert sum(skipped.values()) >= 150, skipped

    worker.wait_until(lambda: worker.satellites_at("2014-01-28T23:59:00+00:00"),
                      "both satellites at 23:59", timeout_s=90)
    # Every record after the stop processed once: none skipped, none twice.
    # faust's recovery can drop more at a start with a backlog (records fetched
    # before it resumes the flow, which clears the stream buffers); those are
    # read again too, up to the partition's end when no later record comes.
    metrics = worker.get("/metrics").text
    assert _metric_sum(metrics, "flare_stream_records_total") == len(rest)
    assert _metric_total(metrics, "flare_stream_records_reread_total") >= sum(
        skipped.values())
    alerts = _wait_for_alerts(kafka_settings, stream_env)
    _check_alerts(alerts, merged=False)
    _assert_kinds_as_in_process(alerts, Path(stream_env["FLARE_MODEL_DIR"]))


def test_stream_reads_records_to_the_end_when_none_is_handed_over(
        worker: Worker, stream_env: dict[str, str],
        kafka_settings: KafkaSettings) -> None:
    # The committed offsets are moved to the end of every partition: faust hands
    # the restarted worker nothing, and no later record reveals what it missed
    # (as when faust's recovery drops the last records it fetched). The worker
    # must find its partitions short of their ends and read the rest itself.
    rest, skipped = _restart_ahead(worker, stream_env, kafka_settings, 10**6)
    assert sum(skipped.values()) == len(rest), skipped

    worker.wait_until(lambda: worker.satellites_at("2014-01-28T23:59:00+00:00"),
                      "both satellites at 23:59", timeout_s=90)
    metrics = worker.get("/metrics").text
    assert _metric_sum(metrics, "flare_stream_records_total") == len(rest)
    assert _metric_total(metrics, "flare_stream_records_reread_total") == len(rest)
    assert "records partition stopped short of its end" in worker.log.read_text()


def _restart_ahead(worker: Worker, env: dict[str, str], kafka: KafkaSettings,
                   ahead: int) -> tuple[list[XrsRecord], dict[int, int]]:
    """The morning processed, the rest of the day published while the worker
    is stopped, the committed offsets ``ahead`` records on, the worker started.

    Returns the records published after the stop and the records skipped per
    partition.
    """
    records = [*flare_day_records(), *goes15_day_records()]
    morning = [r for r in records if r.time_utc.hour < 10]
    rest = [r for r in records if r.time_utc.hour >= 10]
    asyncio.run(_publish(kafka, env, morning))
    worker.start()
    worker.wait_until(lambda: worker.satellites_at("2014-01-28T09:59:00+00:00"),
                      "both satellites at 09:59")
    worker.stop()
    asyncio.run(_publish(kafka, env, rest))
    skipped = asyncio.run(_commit_ahead(kafka, env, ahead))
    worker.start()
    return rest, skipped


async def _publish(kafka: KafkaSettings, env: dict[str, str],
                   records: list[XrsRecord]) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send(env["FLARE_TOPIC_RECORDS"], record.to_bytes(),
                                key=record.key)
        await producer.flush()
    finally:
        await producer.stop()


async def _commit_ahead(kafka: KafkaSettings, env: dict[str, str],
                        records: int) -> dict[int, int]:
    """Move the stopped worker's committed offsets ``records`` ahead.

    Returns the number of records skipped per partition that has any.
    """
    topic = env["FLARE_TOPIC_RECORDS"]
    tps = await partitions_of(kafka, topic)
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(),
                                group_id=env["FLARE_APP_ID"],
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        skipped = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            assert committed is None or committed <= ends[tp]
            if committed is not None and committed < ends[tp]:
                ahead = min(committed + records, ends[tp])
                await consumer.commit({tp: ahead})
                skipped[tp.partition] = ahead - committed
        return skipped
    finally:
        await consumer.stop()


def _check_views_gather_both_workers(first: Worker, second: Worker) -> None:
    """Either worker's table views show both workers' partitions."""
    urls = sorted([first.url, second.url])
    for one in (first, second):
        one.wait_until(lambda w=one: w.get("/state").json().get("workers") == urls,
                       "/state gathered from both workers")
    states = [w.get("/state").json() for w in (first, second)]
    assert states[0]["unreachable"] == states[1]["unreachable"] == []
    assert set(states[0]["satellites"]) == set(states[1]["satellites"]) == {"13", "15"}
    local = [set(w.get("/state", params={"scope": "local"}).json()["satellites"])
             for w in (first, second)]
    assert local[0] | local[1] == {"13", "15"}
    # /alerts lives with the one-partition dedup table: either worker serves it.
    totals = [w.get("/alerts", params={"limit": 5}).json()["total"]
              for w in (first, second)]
    assert totals[0] == totals[1] or abs(totals[0] - totals[1]) <= 2  # replay runs
    assert all("active" in w.get("/flares").json() for w in (first, second))


def _records_processed(worker: Worker) -> float:
    return _metric_sum(worker.get("/metrics").text, "flare_stream_records_total")


def _check_http_during_replay(worker: Worker) -> None:
    assert worker.get("/health").json()["status"] == "ok"
    info = worker.get("/model-info").json()
    assert info["loaded"] and info["version"] == "test-day-1"
    metrics = worker.get("/metrics").text
    assert 'flare_stream_model_info{version="test-day-1"} 1.0' in metrics
    assert "flare_stream_records_total" in metrics
    assert "flare_stream_batch_seconds_bucket" in metrics
    state = worker.get("/state").json()["satellites"]
    assert set(state) <= {"13", "15"}
    page = worker.get("/alerts", params={"limit": 2}).json()
    assert page["limit"] == 2 and len(page["alerts"]) <= 2
    assert worker.get("/alerts", params={"limit": 0}).status_code == 400
    assert "active" in worker.get("/flares").json()


def _wait_for_alerts(kafka: KafkaSettings, env: dict[str, str]) -> list[Alert]:
    """The alerts topic once the last flare's end is on it and nothing moves."""
    deadline = time.monotonic() + 60
    previous = -1
    while time.monotonic() < deadline:
        alerts = _alerts(kafka, env)
        last_end = any(a.kind is AlertKind.END and a.data_time_utc.hour == 22
                       for a in alerts)
        if last_end and len(alerts) == previous:
            return alerts
        previous = len(alerts)
        time.sleep(2)
    raise AssertionError(f"alerts did not settle: {len(alerts)}")


def _check_alerts(alerts: list[Alert], merged: bool = True) -> None:
    """No duplicates, every crossing alerted, peaks, ends and escalations.

    ``merged``: some alert names both satellites, which needs their records
    processed side by side (not one satellite's backlog before the other's).
    """
    ids = [a.alert_id for a in alerts]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    keys = [(a.flare_id, a.kind, a.level) for a in alerts]
    assert len(keys) == len(set(keys))

    # Every M crossing of either satellite lies in one alerted flare event.
    events = _events(alerts)
    slack = timedelta(minutes=10)
    for crossing in _crossings():
        assert any(start - slack <= crossing <= end + slack
                   for start, end in events.values()), crossing
    # Each alerted flare peaks and ends; the three above M5 escalate.
    kinds = Counter(a.kind for a in alerts)
    assert kinds[AlertKind.THRESHOLD] == kinds[AlertKind.PEAK] == kinds[AlertKind.END]
    escalations = {a.data_time_utc.hour for a in alerts
                   if a.kind is AlertKind.ESCALATION and a.level == "M5"}
    assert escalations == {7, 15, 19}
    assert not merged or any(len(a.satellites) == 2 for a in alerts)


def _metric_sum(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{"))


def _metric_total(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.rsplit(" ", 1)[1])


def _assert_kinds_as_in_process(alerts: list[Alert], model_dir: Path) -> None:
    """The published kinds equal the in-process run's; early warnings within the
    range that the order of the two satellites' candidates allows.

    Warning episodes of two satellites merge into one event when they start
    within minutes of each other, so how many events there are depends on
    which satellite's candidates the deduplicator admits first; a worker with
    a backlog of both partitions interleaves them in no fixed order.
    """
    candidates = _in_process_candidates(model_dir)
    orders = [sorted(candidates, key=lambda a: a.data_time_utc),
              sorted(candidates, key=lambda a: (a.satellites[0], a.data_time_utc)),
              sorted(candidates, key=lambda a: (-a.satellites[0], a.data_time_utc))]
    kinds = [_admitted_kinds(order) for order in orders]
    published = Counter(a.kind for a in alerts)
    warning = AlertKind.EARLY_WARNING
    assert {k: n for k, n in published.items() if k is not warning} == {
        k: n for k, n in kinds[0].items() if k is not warning}
    possible = [k[warning] for k in kinds]
    assert min(possible) <= published[warning] <= max(possible), (
        published[warning], possible)


def _in_process_candidates(model_dir: Path) -> list[Alert]:
    forecaster = load_bundle(model_dir)
    candidates = []
    for satellite, records in ((13, flare_day_records()), (15, goes15_day_records())):
        candidates += SatelliteEngine(satellite, forecaster).process(records).alerts
    return candidates


def _admitted_kinds(candidates: list[Alert]) -> Counter[AlertKind]:
    dedup = AlertDeduplicator()
    return Counter(p.kind for a in candidates if (p := dedup.admit(a)) is not None)


def _check_quarantine(kafka: KafkaSettings, env: dict[str, str]) -> None:
    raw = asyncio.run(_read_all(kafka, env["FLARE_TOPIC_QUARANTINE"]))
    reasons = Counter(QuarantinedInput.model_validate_json(v).reason for v in raw)
    assert reasons == {"undecodable": 1, "invalid_record": 1, "key_mismatch": 1}


def _print_alerts(alerts: list[Alert]) -> None:
    for alert in sorted(alerts, key=lambda a: (a.data_time_utc, a.kind)):
        print(f"{alert.data_time_utc:%H:%M} {alert.kind.value:14} "
              f"{alert.level or '-':4} {alert.observed_class:6} "
              f"sats={alert.satellites} {alert.flare_id}")


def test_stream_hot_reload_and_predict(
        worker: Worker, stream_env: dict[str, str], kafka_settings: KafkaSettings,
        tmp_path: Path) -> None:
    worker.start()
    worker.wait_web()
    worker.wait_until(lambda: worker.get("/model-info").json()["loaded"], "model")
    _check_predict(worker)

    new = fit_day_model(tmp_path / "model-2", version="test-day-2")
    _announce(kafka_settings, stream_env, tmp_path / "model-2", "test-day-2",
              new.info.estimator_sha256)
    worker.wait_until(
        lambda: worker.get("/model-info").json().get("version") == "test-day-2",
        "hot reload to test-day-2")

    # A corrupted bundle is refused; the worker keeps serving test-day-2.
    fit_day_model(tmp_path / "model-3", version="test-day-3")
    (tmp_path / "model-3" / "estimator.joblib").write_bytes(b"corrupted")
    _announce(kafka_settings, stream_env, tmp_path / "model-3", "test-day-3", "0" * 64)
    worker.wait_until(
        lambda: 'flare_stream_model_reloads_total{result="refused"} 1.0'
        in worker.get("/metrics").text, "refused reload")
    assert worker.get("/model-info").json()["version"] == "test-day-2"
    assert "model refused" in worker.log.read_text()
    assert worker.post("/predict", json=_history(120)).status_code == 200


def _announce(kafka: KafkaSettings, env: dict[str, str], path: Path, version: str,
              sha256: str) -> None:
    announcement = ModelAnnouncement(version=version, uri=str(path),
                                     estimator_sha256=sha256,
                                     promoted_utc=datetime.now(UTC))

    async def send() -> None:
        producer = AIOKafkaProducer(**kafka.aiokafka_kwargs())
        await producer.start()
        try:
            await producer.send_and_wait(env["FLARE_TOPIC_MODELS"],
                                         announcement.to_bytes(),
                                         key=b"flare-forecaster")
        finally:
            await producer.stop()

    asyncio.run(send())


def _history(minutes: int, start: int = 1140) -> dict[str, Any]:
    """The real GOES-13 minutes before the 19:00 flare, as a /predict body."""
    records = flare_day_records()[start - minutes + 1:start + 1]
    return {"histories": [{"satellite": 13, "minutes": [
        {"time_utc": r.time_utc.isoformat(), "xrsa_flux_wm2": r.xrsa_flux_wm2,
         "xrsb_flux_wm2": r.xrsb_flux_wm2} for r in records]}]}


def _check_predict(worker: Worker) -> None:
    good = worker.post("/predict", json=_history(120))
    assert good.status_code == 200, good.text
    (prediction,) = good.json()["predictions"]
    assert prediction["time_utc"] == "2014-01-28T19:00:00+00:00"
    assert sum(prediction["proba"].values()) == pytest.approx(1.0)
    assert prediction["model_version"] == "test-day-1"

    two = _history(30)
    two["histories"] += _history(60, start=1300)["histories"]
    assert len(worker.post("/predict", json=two).json()["predictions"]) == 2

    bad_bodies = [
        b"{not json", b'{"histories": []}',
        json.dumps({"histories": [{"minutes": [
            {"time_utc": "2014-01-28T19:00:00", "xrsb_flux_wm2": 1e-6}]}]}).encode(),
        json.dumps({"histories": [{"minutes": [
            {"time_utc": "2014-01-28T19:00:00Z", "xrsb_flux_wm2": -1}]}]}).encode(),
    ]
    for body in bad_bodies:
        response = worker.post("/predict", content=body)
        assert response.status_code == 422, body
        assert response.json()["detail"] == "invalid request body"
    many = {"histories": _history(2)["histories"] * 40}
    assert worker.post("/predict", json=many).status_code == 413
    assert worker.post("/predict", content=b" " * 1_100_000).status_code == 413
