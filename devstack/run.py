"""The one-command local run: broker, stream worker, alerting and a producer.

Without Docker, ``python -m devstack run`` starts a local Apache Kafka broker (or
uses ``KAFKA_BOOTSTRAP_SERVERS``), creates the topics, and runs every service as a
child process with its log in ``var/run/<service>.log``. Alerts are printed on the
terminal by the alerting service's stdout sink. Ctrl-C stops everything, producer
first and broker last, so nothing in flight is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.kafka import LocalKafka, free_port
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import ensure_topics, system_topics

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "demo" / "data"


@dataclass
class Service:
    """A child process of the local run."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    echo: bool = False
    """Copy the process's stdout to the terminal (the alert printer)."""
    process: subprocess.Popen[bytes] | None = None


@dataclass
class LocalRun:
    """Starts the services in order and stops them in reverse."""

    run_dir: Path
    live: bool = False
    speed: str = "120"
    services: list[Service] = field(default_factory=list)
    broker: LocalKafka | None = None

    def start(self) -> dict[str, str]:
        """Start the broker and the services; return the environment they share."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = self._broker_env()
        asyncio.run(ensure_topics(KafkaSettings(), system_topics(TopicSettings())))
        for service in self._plan(env):
            self._spawn(service, env)
        return env

    def stop(self) -> None:
        """Stop services in reverse start order, then the broker."""
        for service in reversed(self.services):
            _terminate(service)
        if self.broker is not None:
            logger.info("stopping kafka")
            self.broker.stop()

    def dead(self) -> list[Service]:
        """Services that exited on their own."""
        return [s for s in self.services
                if s.process is not None and s.process.poll() is not None]

    def _broker_env(self) -> dict[str, str]:
        existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if existing:
            logger.info("using the existing broker bootstrap=%s", existing)
            return dict(os.environ)
        self.broker = LocalKafka(port=0, data_dir=self.run_dir / "kafka")
        bootstrap = self.broker.start()
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        return dict(os.environ)

    def _plan(self, env: dict[str, str]) -> list[Service]:
        web_port = env.get("FLARE_STREAM_WEB_PORT") or str(free_port())
        env["FLARE_STREAM_WEB_PORT"] = web_port
        return _services(self.live, self.speed, self.run_dir)

    def _spawn(self, service: Service, env: dict[str, str]) -> None:
        log_path = self.run_dir / f"{service.name}.log"
        with open(log_path, "ab") as log:
            stdout = subprocess.PIPE if service.echo else log
            service.process = subprocess.Popen(
                service.argv, cwd=REPO, env={**env, **service.env}, stdout=stdout,
                stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        if service.echo:
            threading.Thread(target=_echo, args=(service, log_path),
                             daemon=True).start()
        self.services.append(service)
        logger.info("started service=%s pid=%d log=%s", service.name,
                    service.process.pid, log_path)


def _services(live: bool, speed: str, run_dir: Path) -> list[Service]:
    python = sys.executable
    producer = (
        [python, "-m", "producers", "swpc"] if live else
        [python, "-m", "producers", "replay", "--speed", speed,
         *sorted(str(p) for p in DEMO_DATA.glob("*") if p.is_file())]
    )
    return [
        Service("stream", [python, "-m", "stream_app", "worker"],
                {"FLARE_STREAM_DATA_DIR": str(run_dir / "stream")}),
        Service("alerting", [python, "-m", "alerting", "run", "--stdout"], echo=True),
        Service("producer", producer),
    ]


def _echo(service: Service, log_path: Path) -> None:
    assert service.process is not None and service.process.stdout is not None
    with open(log_path, "ab") as log:
        for line in service.process.stdout:
            log.write(line)
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()


def _terminate(service: Service, timeout_s: float = 30.0) -> None:
    process = service.process
    if process is None or process.poll() is not None:
        return
    logger.info("stopping service=%s", service.name)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("service=%s ignored SIGTERM for %.0fs; killing it",
                       service.name, timeout_s)
        process.kill()
        process.wait()


def run(run_dir: Path, live: bool, speed: str) -> int:
    """Run the local stack until Ctrl-C or SIGTERM; 1 if a service died."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalRun(run_dir=run_dir, live=live, speed=speed)
    status = 0
    try:
        env = stack.start()
        _print_where_to_look(env, run_dir)
        while not stop.wait(1.0):
            dead = [s for s in stack.dead() if s.name != "producer"]
            if dead:
                logger.error("service=%s exited with %s; see its log in %s",
                             dead[0].name, dead[0].process.returncode if
                             dead[0].process else "?", run_dir)
                status = 1
                break
    finally:
        stack.stop()
    return status


def _print_where_to_look(env: dict[str, str], run_dir: Path) -> None:
    web = f"http://127.0.0.1:{env['FLARE_STREAM_WEB_PORT']}"
    print(
        "\nflare warning is running (Ctrl-C stops it)\n"
        f"  kafka       {env['KAFKA_BOOTSTRAP_SERVERS']}\n"
        f"  state       {web}/state   flares: {web}/flares   alerts: {web}/alerts\n"
        f"  health      {web}/health  {web}/ready  {web}/model-info\n"
        f"  metrics     {web}/metrics\n"
        f"  logs        {run_dir}/*.log\n"
        "alerts appear below as they are issued:\n",
        flush=True,
    )
    time.sleep(0)
