"""The README's run command as a newcomer runs it: ``python -m devstack run``.

The local run replays the bundled real flare day (2014-01-28, GOES-13 and -15)
through the real services; the tests wait for a real alert line on the terminal,
press Ctrl-C (SIGINT) and check that everything stopped cleanly.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from devstack.kafka import broker_answers, default_cache_dir, free_port

REPO = Path(__file__).resolve().parents[2]
ALERT_WITHIN_S = 150.0
STOP_WITHIN_S = 90.0

# A line the stdout sink prints for a threshold alert of the demo day's first
# M flare: GOES-13 crossed M1 at 00:35 UTC (XRS-B 1.19e-5 W/m2, science scale).
FIRST_ALERT = re.compile(
    r"^ALERT 2014-01-28 \d\d:\d\d:\d\d UTC \| M\d threshold crossed \| "
    r"class=M\d\.\d \| flux=\d\.\d\de-0[45]W/m2 .*GOES-1[35]"
)


class Terminal:
    """A running ``python -m devstack run`` and what it prints."""

    def __init__(self, run_dir: Path, env: dict[str, str], *flags: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run", "--run-dir", str(run_dir),
             *flags],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> str:
        """The first line matching ``pattern``; fails after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, self.transcript()
                continue
            self.seen.append(line)
            if pattern.search(line):
                return line
        pytest.fail(f"no line matching {pattern.pattern!r} in {timeout_s:.0f}s:\n"
                    f"{self.transcript()}")

    def interrupt(self) -> int:
        """Press Ctrl-C and return the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_WITHIN_S)

    def transcript(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "\n".join(self.seen[-60:])

    def close(self) -> None:
        """Kill the run if a failed test left it running; close its pipe."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items()
                    if parent in frontier and child not in found}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    # Free ports: other stacks (and tests) on this machine may hold the defaults.
    env.update(FLARE_WEB_PORT=str(free_port()),
               FLARE_ALERTING_METRICS_PORT=str(free_port()),
               FLARE_PRODUCERS_METRICS_PORT=str(free_port()), **extra)
    return env


def _run_until_alert_then_interrupt(terminal: Terminal, web_port: str) -> list[int]:
    banner = terminal.wait_for(re.compile(r"^  state +http://127\.0\.0\.1:(\d+)/state"),
                               ALERT_WITHIN_S)
    assert f":{web_port}/state" in banner
    children = _descendants(terminal.process.pid)
    assert len(children) >= 3, f"services not running: {children}"
    alert = terminal.wait_for(FIRST_ALERT, ALERT_WITHIN_S)
    assert "2014-01-28" in alert

    published = httpx.get(f"http://127.0.0.1:{web_port}/alerts", timeout=10).json()
    assert "2014-01-28" in str(published), "the stream app's /alerts view is empty"

    status = terminal.interrupt()
    assert status == 0, terminal.transcript()
    return sorted(children)


@pytest.mark.slow
def test_default_run_without_swpc_replays_on_a_broker_and_stops_on_ctrl_c(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    # No SWPC here (no internet in tests): a closed loopback port stands for it,
    # and the default source (auto) falls back to the bundled real day.
    swpc = f"http://127.0.0.1:{free_port()}/json/goes/primary/xrays-6-hour.json"
    env = _env(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
               FLARE_PRODUCERS_SWPC__PRIMARY_URL=swpc)
    terminal = Terminal(tmp_path / "run", env)
    try:
        warning = terminal.wait_for(re.compile("SWPC does not answer"), 60)
        assert swpc in warning and "replaying the bundled real flare day" in warning
        children = _run_until_alert_then_interrupt(terminal, env["FLARE_WEB_PORT"])
    finally:
        terminal.close()

    left = [pid for pid in children if _alive(pid)]
    assert not left, f"processes left behind after Ctrl-C: {left}"
    assert broker_answers(kafka_bootstrap), "the run must not stop a broker it got"
    logs = sorted(p.name for p in (tmp_path / "run").glob("*.log"))
    assert logs == ["alerting.log", "producer.log", "stream.log"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None
                    or not (default_cache_dir() / "libs" / ".complete").exists(),
                    reason="the run's own broker needs java and the fetched jars "
                           "(python -m devstack fetch)")
def test_local_run_starts_and_stops_its_own_broker(tmp_path: Path) -> None:
    env = _env()
    terminal = Terminal(tmp_path / "run", env, "--source", "replay")
    try:
        line = terminal.wait_for(re.compile(r"^  kafka +(127\.0\.0\.1:\d+)"),
                                 ALERT_WITHIN_S)
        bootstrap = line.split()[1]
        children = _run_until_alert_then_interrupt(terminal, env["FLARE_WEB_PORT"])
    finally:
        terminal.close()

    left = [pid for pid in children if _alive(pid)]
    assert not left, f"processes left behind after Ctrl-C (broker included): {left}"
    assert not broker_answers(bootstrap, timeout_s=2)
    assert (tmp_path / "run" / "kafka" / "logs" / "server.log").stat().st_size > 0
