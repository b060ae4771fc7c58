"""HTTP under load and abuse: a real worker while the real flare day replays.

Malformed and oversized ``/predict`` bodies must get a 4xx promptly (the bound
is generous: this is a fault test, not a benchmark), the worker must survive
them, and ``/health``, ``/state``, ``/flares``, ``/alerts`` and ``/metrics``
must keep answering during the replay.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flarecore.settings import KafkaSettings
from tests.integration.faults import Worker, counter, start_replay, worker_env
from tests.unit.stream_app.realday import FLARE_DAY, GOES15_DAY, flare_day_records

pytestmark = pytest.mark.timeout(180)

PROMPT_S = 3.0
"""Generous bound for a 4xx or a view's answer on a shared 2-core machine."""
VIEWS = ("/health", "/state", "/flares", "/alerts?limit=5", "/metrics", "/ready")


@pytest.fixture
def env(kafka_settings: KafkaSettings, unique_name: Callable[[str], str],
        tmp_path: Path) -> dict[str, str]:
    return worker_env(kafka_settings, unique_name, tmp_path)


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env, tmp_path / "worker.log")
    yield running
    running.stop()


def _minutes(count: int, end: int = 1140) -> list[dict[str, Any]]:
    """The real GOES-13 minutes before ``end`` (19:00), as /predict minutes."""
    return [{"time_utc": r.time_utc.isoformat(), "xrsa_flux_wm2": r.xrsa_flux_wm2,
             "xrsb_flux_wm2": r.xrsb_flux_wm2}
            for r in flare_day_records()[end - count:end]]


def _body(*minutes: dict[str, Any]) -> bytes:
    return json.dumps({"histories": [{"satellite": 13,
                                      "minutes": list(minutes)}]}).encode()


def _bad_bodies() -> dict[str, tuple[bytes, int]]:
    """Name -> (body, expected status)."""
    good = _minutes(30)
    return {
        "truncated": (_body(*good)[:-40], 422),
        "not_utf8": (b'{"histories": [\xff\xfe]}', 422),
        "deep_nesting": (b"[" * 100_000 + b"]" * 100_000, 422),
        "infinite_flux": (_body({**good[0], "xrsb_flux_wm2": 1e999}), 422),
        "string_flux": (_body({**good[0], "xrsb_flux_wm2": "big"}), 422),
        "wrong_shape": (b'{"histories": {"satellite": 13}}', 422),
        "unknown_field": (_body({**good[0], "extra": 1}), 422),
        "too_many_minutes": (_body(*(_minutes(1440, end=1440) * 2)), 413),
        "too_many_histories": (json.dumps({"histories": [
            {"minutes": good[:2]}] * 40}).encode(), 413),
    }


def _raw_post(url: str, headers: str, chunks: list[bytes], pause_s: float = 0.0
              ) -> tuple[int, float]:
    """POST over a bare socket, body sent in a thread; (status, seconds to it).

    The server may answer (and close) before the body is all sent: that is the
    point of a size limit, so a failing send is not an error here.
    """
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /predict HTTP/1.1\r\nHost: {host}\r\n"
                     f"Content-Type: application/json\r\n{headers}\r\n".encode())

        def send_body() -> None:
            try:
                for chunk in chunks:
                    sock.sendall(chunk)
                    time.sleep(pause_s)
            except OSError:
                pass

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        status_line = sock.makefile("rb").readline().decode()
    sender.join(10)
    return int(status_line.split()[1]), time.monotonic() - started


def _check_oversized(worker: Worker) -> None:
    # Declared too large: refused from the header, before any body is read.
    status, took_s = _raw_post(worker.url, "Content-Length: 50000000\r\n", [])
    assert (status, took_s < PROMPT_S) == (413, True), took_s
    # Chunked, no length: refused once the limit is passed, the rest unread.
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    status, took_s = _raw_post(worker.url, "Transfer-Encoding: chunked\r\n",
                               [framed] * 64, pause_s=0.01)
    assert (status, took_s < PROMPT_S + 1) == (413, True), took_s


def _check_bad_bodies(worker: Worker) -> None:
    for name, (body, expected) in _bad_bodies().items():
        started = time.monotonic()
        response = worker.post("/predict", content=body)
        took_s = time.monotonic() - started
        assert response.status_code == expected, (name, response.text[:300])
        assert response.json()["status"] == expected, name
        assert took_s < PROMPT_S, (name, took_s)
    assert worker.get("/predict").status_code == 405


def _check_century_span(worker: Worker) -> None:
    """Two minutes 8000 years apart: only the last 120 minutes count."""
    good = _minutes(2)
    body = _body({**good[0], "time_utc": "0001-01-01T00:00:00Z"},
                 {**good[1], "time_utc": "9999-12-31T23:59:00Z"})
    started = time.monotonic()
    response = worker.post("/predict", content=body)
    assert response.status_code == 200, response.text[:300]
    assert time.monotonic() - started < PROMPT_S
    (prediction,) = response.json()["predictions"]
    assert prediction["time_utc"] == "9999-12-31T23:59:00+00:00"


class _Prober:
    """Asks every view in turn from a thread; keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest: dict[str, float] = dict.fromkeys(VIEWS, 0.0)
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                for path in VIEWS:
                    started = time.monotonic()
                    try:
                        status = client.get(path).status_code
                    except httpx.HTTPError as exc:
                        self.failures.append(f"{path}: {exc!r}")
                        continue
                    took_s = time.monotonic() - started
                    self.slowest[path] = max(self.slowest[path], took_s)
                    self.answers += 1
                    if status not in (200, 503) or (status == 503
                                                    and path != "/ready"):
                        self.failures.append(f"{path}: {status}")
                time.sleep(0.05)


def test_faults_http_bad_predict_bodies_and_views_during_replay(
        worker: Worker, env: dict[str, str], tmp_path: Path) -> None:
    worker.start()
    worker.wait_web()
    worker.wait_until(lambda: worker.get("/model-info").json()["loaded"], "model")
    replay_log = tmp_path / "replay.log"
    replay = start_replay(env, "x2880", [FLARE_DAY, GOES15_DAY], replay_log)
    with _Prober(worker.url) as prober:
        worker.wait_until(lambda: counter(worker.get("/metrics").text,
                                          "flare_stream_records_total") > 100,
                          "replay under way")
        _check_oversized(worker)
        _check_bad_bodies(worker)
        _check_century_span(worker)
        assert replay.wait(timeout=90) == 0, replay_log.read_text()[-2000:]
        worker.wait_until(lambda: worker.satellites_at("2014-01-28T23:59:00+00:00"),
                          "both satellites at 23:59", timeout_s=60)
    print(f"view answers={prober.answers} slowest_s={prober.slowest}")
    assert prober.failures == []
    assert prober.answers >= 10 * len(VIEWS)
    assert max(prober.slowest.values()) < PROMPT_S, prober.slowest
    assert worker.get("/health").json()["status"] == "ok"
    assert counter(worker.get("/metrics").text, "flare_stream_records_total") == 2880
