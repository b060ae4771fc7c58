"""What the benchmarks share: a stream worker subprocess, topics, the machine.

Run from a checkout; every script puts the repository first on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from flarecore.settings import KafkaSettings, TopicSettings  # noqa: E402
from flarecore.topics import ensure_topics, system_topics  # noqa: E402

LEGACY_2010 = Path("/work/shared/data/goes-xrs/ngdc-avg1m-monthly-2010")


def run_id() -> str:
    """A short random tag that keeps one run's topics and groups apart."""
    return uuid.uuid4().hex[:8]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    """One line describing where the numbers come from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"nproc={os.cpu_count()} cpu={model!r} python={platform.python_version()}"
            f" loadavg(1,5,15)={load}")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def topics_for(run: str, records: str | None = None,
               partitions: int = 4) -> TopicSettings:
    """Fresh topic names for one run (the records topic may be given)."""
    return TopicSettings(
        records=records or f"bench.records.{run}", records_partitions=partitions,
        quarantine=f"bench.quarantine.{run}", alerts=f"bench.alerts.{run}",
        alerts_deadletter=f"bench.deadletter.{run}", models=f"bench.models.{run}",
    )


def create_topics(kafka: KafkaSettings, topics: TopicSettings) -> None:
    asyncio.run(ensure_topics(kafka, system_topics(topics)))


def delete_topics(kafka: KafkaSettings, names: list[str]) -> None:
    """Delete the given topics (and any faust internal topics of ``prefixes``)."""

    async def delete() -> None:
        admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            doomed = [n for n in existing
                      if n in names or any(n.startswith(p + "-") for p in names)]
            if doomed:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()

    asyncio.run(delete())


def service_env(kafka: KafkaSettings, topics: TopicSettings,
                **extra: str) -> dict[str, str]:
    """The environment of a producer or worker on the given topics."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FLARE_", "KAFKA_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "FLARE_TOPIC_RECORDS": topics.records,
        "FLARE_TOPIC_RECORDS_PARTITIONS": str(topics.records_partitions),
        "FLARE_TOPIC_QUARANTINE": topics.quarantine,
        "FLARE_TOPIC_ALERTS": topics.alerts,
        "FLARE_TOPIC_ALERTS_DEADLETTER": topics.alerts_deadletter,
        "FLARE_TOPIC_MODELS": topics.models,
        "FLARE_PRODUCERS_METRICS_PORT": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class Worker:
    """``python -m stream_app worker`` as a subprocess, read through its HTTP."""

    def __init__(self, env: dict[str, str], log: Path, repo: Path = REPO) -> None:
        self.env, self.log, self.repo = env, log, repo
        self.url = f"http://127.0.0.1:{env['FLARE_WEB_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stream_app", "worker", "-l", "warn"],
                cwd=self.repo, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5, **kwargs)

    def metrics(self) -> dict[str, float]:
        """Prometheus samples summed over labels: name -> value."""
        sums: dict[str, float] = {}
        for line in self.get("/metrics").text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            sums[name] = sums.get(name, 0.0) + float(value)
        return sums

    def handled(self) -> float:
        """Records accepted, ignored or quarantined so far."""
        m = self.metrics()
        return (m.get("flare_stream_records_total", 0.0)
                + m.get("flare_stream_records_ignored_total", 0.0)
                + m.get("flare_stream_quarantined_total", 0.0))

    def rss_kib(self) -> int:
        """Resident set size of the worker process."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def wait_until(self, check: Callable[[], bool], what: str,
                   timeout_s: float = 120, poll_s: float = 0.2) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"worker exited; log:\n{self.tail()}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(poll_s)
        raise SystemExit(f"timed out waiting for {what}; log:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def worker_env(kafka: KafkaSettings, topics: TopicSettings, run: str,
               model_dir: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker of its own app id (so its own group and changelogs)."""
    return service_env(
        kafka, topics, FLARE_APP_ID=f"bench-app-{run}",
        FLARE_DATA_DIR=str(data_dir), FLARE_MODEL_DIR=str(model_dir),
        FLARE_WEB_PORT=str(free_port()), FLARE_BROKER_SESSION_TIMEOUT_S="6",
        FLARE_BROKER_HEARTBEAT_INTERVAL_S="1",
        FLARE_BROKER_REBALANCE_TIMEOUT_S="10", **extra)


def day_model(directory: Path) -> Path:
    """The stream tests' small logistic regression on the real 2014-01-28 day.

    It makes the forecast path real (one ``predict_proba`` per batch); it is a
    fixture, not a forecaster of any skill.
    """
    from tests.unit.stream_app.realday import fit_day_model

    if not (directory / "bundle.json").exists():
        fit_day_model(directory, version="bench-day-1")
    return directory


def replay(env: dict[str, str], paths: list[Path], speed: str,
           log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m producers replay`` on ``paths``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "producers", "replay", "--speed", speed,
             *map(str, paths)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
