"""Every metric a Grafana panel or a Prometheus rule queries is really exported.

The services run as the compose stack runs them (their own command lines, as
subprocesses) against the test broker; the SWPC poller asks a loopback HTTP server
that answers with a recorded real SWPC reply. Their live ``/metrics`` pages are
compared with the queries of deploy/grafana/dashboards and deploy/prometheus.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from devstack.kafka import free_port
from flarecore.settings import TopicSettings
from flarecore.topics import system_topics
from tests.unit.deploy.promql import SYNTHETIC, exported_names, metric_names
from tests.unit.deploy.stack import queried_expressions

REPO = Path(__file__).resolve().parents[2]
SWPC_REPLY = REPO / "tests" / "data" / "swpc" / "xrays-6-hour_goes18_20260706.json"
METRICS_WITHIN_S = 120.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@dataclass
class Running:
    """One service subprocess and where its metrics are."""

    name: str
    process: subprocess.Popen[bytes]
    metrics_url: str
    log: Path


class _SwpcReply(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = SWPC_REPLY.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def swpc_url() -> Iterator[str]:
    """A loopback server answering every path with a recorded SWPC reply."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SwpcReply)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stack_env(kafka_bootstrap: str, unique_name: Callable[[str], str],
              make_topics: Callable[..., None], tmp_path: Path) -> dict[str, str]:
    """The environment of a stack with its own topics, groups and ports."""
    topics = TopicSettings(
        records=unique_name("records"), quarantine=unique_name("quarantine"),
        alerts=unique_name("alerts"), alerts_deadletter=unique_name("dead"),
        models=unique_name("models"),
    )
    make_topics(*[(s.name, s.partitions) for s in system_topics(topics)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLARE_")}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "FLARE_TOPIC_RECORDS": topics.records,
        "FLARE_TOPIC_QUARANTINE": topics.quarantine,
        "FLARE_TOPIC_ALERTS": topics.alerts,
        "FLARE_TOPIC_ALERTS_DEADLETTER": topics.alerts_deadletter,
        "FLARE_TOPIC_MODELS": topics.models,
        "FLARE_APP_ID": unique_name("stream"),
        "FLARE_DATA_DIR": str(tmp_path / "stream"),
        "FLARE_ALERTING_GROUP_ID": unique_name("alerting"),
        "FLARE_ALERTING_SUBSCRIBERS": json.dumps([{"name": "log", "kind": "stdout"}]),
        "OMP_NUM_THREADS": "1",
    })
    return env


def _start(name: str, argv: list[str], env: dict[str, str], port_variable: str,
           path: str, tmp_path: Path) -> Running:
    port = free_port()
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, *argv], cwd=REPO, env={**env, port_variable: str(port)},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    return Running(name, process, f"http://127.0.0.1:{port}{path}", log)


def _scrape(service: Running) -> str:
    deadline = time.monotonic() + METRICS_WITHIN_S
    while time.monotonic() < deadline:
        assert service.process.poll() is None, \
            f"{service.name} exited:\n{service.log.read_text()[-3000:]}"
        try:
            reply = httpx.get(service.metrics_url, timeout=5)
            if reply.status_code == 200 and "# TYPE" in reply.text:
                return reply.text
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{service.name}: no metrics at {service.metrics_url} in "
                f"{METRICS_WITHIN_S:.0f}s:\n{service.log.read_text()[-3000:]}")


def _stop(services: list[Running]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        try:
            service.process.wait(60)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


def test_dashboards_and_rules_query_only_metrics_the_services_export(
        stack_env: dict[str, str], swpc_url: str, tmp_path: Path) -> None:
    swpc = {
        f"FLARE_PRODUCERS_SWPC__{key}": f"{swpc_url}/{feed}/{product}.json"
        for key, feed, product in (
            ("PRIMARY_URL", "primary", "xrays-6-hour"),
            ("PRIMARY_STARTUP_URL", "primary", "xrays-1-day"),
            ("SECONDARY_URL", "secondary", "xrays-6-hour"),
            ("SECONDARY_STARTUP_URL", "secondary", "xrays-1-day"),
        )
    }
    services = [
        _start("stream", ["-m", "stream_app", "worker"], stack_env,
               "FLARE_WEB_PORT", "/metrics", tmp_path),
        _start("alerting", ["-m", "alerting", "run"], stack_env,
               "FLARE_ALERTING_METRICS_PORT", "/metrics", tmp_path),
        _start("producer", ["-m", "producers", "swpc"], {**stack_env, **swpc},
               "FLARE_PRODUCERS_METRICS_PORT", "/metrics", tmp_path),
    ]
    try:
        exported = {s.name: exported_names(_scrape(s)) for s in services}
    finally:
        _stop(services)

    offered = set().union(*exported.values()) | SYNTHETIC
    missing = sorted(
        f"{where}: {metric}"
        for where, expr in queried_expressions().items()
        for metric in metric_names(expr) if metric not in offered
    )
    assert not missing, "queried but exported by no running service:\n" + \
        "\n".join(missing)
    assert all(s.process.returncode == 0 for s in services), \
        {s.name: s.process.returncode for s in services}
