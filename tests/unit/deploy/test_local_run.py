"""devstack.run without a broker: speeds, names, ports, demo data, supervision."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devstack import run
from devstack.kafka import free_port
from devstack.run import LocalRun, Service, parse_speed


@pytest.mark.parametrize(("text", "expected"), [
    ("120", "x120"), ("x60", "x60"), ("2.5", "x2.5"), ("max", "max"),
    ("realtime", "realtime"),
])
def test_parse_speed_accepts_factors_and_names(text: str, expected: str) -> None:
    assert parse_speed(text) == expected


@pytest.mark.parametrize("text", ["fast", "0", "-3"])
def test_parse_speed_rejects_nonsense_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_speed(text)


def test_demo_files_are_the_bundled_real_flare_day() -> None:
    names = [p.name for p in run.demo_files()]
    assert names == ["sci_gxrs-l2-irrad_g15_d20140128_v0-0-0.nc",
                     "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc"]
    assert (run.DEMO_DATA.parent / "README.md").read_text().count("d20140128") >= 2


def test_replay_names_are_namespaced_per_run(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLARE_TOPIC_RECORDS", "my.records")
    stack = LocalRun(run_dir=tmp_path, run_id="20140128T0000")
    env = stack._environment("127.0.0.1:1")
    assert env["FLARE_TOPIC_RECORDS"] == "my.records.demo-20140128T0000"
    assert env["FLARE_TOPIC_ALERTS"] == "flare.alerts.demo-20140128T0000"
    assert env["FLARE_APP_ID"] == "flare-stream-demo-20140128T0000"
    assert env["FLARE_ALERTING_GROUP_ID"] == "flare-alerting-demo-20140128T0000"
    assert '"kind": "stdout"' in env["FLARE_ALERTING_SUBSCRIBERS"]


def test_live_run_keeps_the_default_names(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLARE_TOPIC_RECORDS", raising=False)
    monkeypatch.delenv("FLARE_APP_ID", raising=False)
    env = LocalRun(run_dir=tmp_path, live=True)._environment("127.0.0.1:1")
    assert "FLARE_TOPIC_RECORDS" not in env and "FLARE_APP_ID" not in env


def test_a_taken_default_port_is_replaced_by_a_free_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in run.DEFAULT_PORTS:
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setitem(run.DEFAULT_PORTS, "FLARE_WEB_PORT", port)
        env = LocalRun(run_dir=tmp_path)._environment("127.0.0.1:1")
    assert env["FLARE_WEB_PORT"] != str(port)
    assert env["FLARE_ALERTING_METRICS_PORT"] != env["FLARE_WEB_PORT"]


def _ended(name: str, code: int) -> Service:
    process = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    process.wait()
    return Service(name, [], process=process)


def test_a_finished_replay_is_not_a_failure_but_a_dead_service_is(
        tmp_path: Path) -> None:
    stack = LocalRun(run_dir=tmp_path, services=[_ended("producer", 0)])
    assert stack.failed() is None
    stack.services.append(_ended("stream", 0))
    assert stack.failed() is stack.services[1]
    live = LocalRun(run_dir=tmp_path, live=True, services=[_ended("producer", 0)])
    assert live.failed() is live.services[0]
    failed_replay = LocalRun(run_dir=tmp_path, services=[_ended("producer", 1)])
    assert failed_replay.failed() is failed_replay.services[0]


def test_run_refuses_a_bad_speed_before_starting_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run.run(tmp_path / "run", source="replay", speed="fast") == 2
    assert "speed 'fast'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_swpc_trouble_names_the_url_that_does_not_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}/json/goes/primary/xrays-6-hour.json"
    monkeypatch.setenv("FLARE_PRODUCERS_SWPC__PRIMARY_URL", url)
    trouble = run.swpc_trouble(timeout_s=2)
    assert trouble is not None and trouble.startswith(url)


def test_swpc_trouble_is_none_when_the_feed_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reply = (Path(__file__).parents[2] / "data" / "swpc" /
             "xrays-6-hour_goes18_20260706.json").read_bytes()

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("FLARE_PRODUCERS_SWPC__PRIMARY_URL",
                           f"http://127.0.0.1:{port}/xrays-6-hour.json")
        assert run.swpc_trouble(timeout_s=5) is None
    finally:
        server.shutdown()
        server.server_close()
