"""The one-command local run: broker, stream worker, alerting and a producer.

Without Docker, ``python -m devstack run`` starts a local Apache Kafka broker (or
uses ``KAFKA_BOOTSTRAP_SERVERS``), creates the topics, and runs every service as a
child process with its log in ``<run dir>/<service>.log``. Alerts are printed on
the terminal by the alerting service's stdout sink. Ctrl-C stops everything,
producer first and broker last, so nothing in flight is lost.

The data source is chosen once at start (``--source``). ``live`` polls SWPC on
the default topic and group names, so that a restarted live run carries on where
it stopped. ``replay`` replays the bundled real flare day (``demo/data``) into
topics and consumer groups of their own (suffixed with a run id), so that every
run shows the alerts again, even on a broker that has seen the day before.
``auto`` (the default) goes live when SWPC answers and replays otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.kafka import LocalKafka, free_port
from flarecore.settings import KafkaSettings, TopicSettings
from flarecore.topics import ensure_topics, system_topics

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEMO_DATA = REPO / "demo" / "data"
DEMO_FILES = ("*.nc", "*.csv", "*.csv.gz", "*.json", "*.json.gz")

DEFAULT_PORTS = {
    "FLARE_WEB_PORT": 6066,
    "FLARE_ALERTING_METRICS_PORT": 9108,
    "FLARE_PRODUCERS_METRICS_PORT": 9107,
}
"""Each service's port: taken from the environment, else this one if it is free."""

TERMINAL_SUBSCRIBER = [{"name": "terminal", "kind": "stdout"}]
STREAM_READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass
class Service:
    """A child process of the local run."""

    name: str
    argv: list[str]
    echo: bool = False
    """Copy the process's stdout to the terminal (the alert printer)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return None if self.process is None else self.process.poll()


@dataclass
class LocalRun:
    """Starts the broker and the services in order and stops them in reverse."""

    run_dir: Path
    live: bool = False
    speed: str = "x120"
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%S"))
    services: list[Service] = field(default_factory=list)
    broker: LocalKafka | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, stop: threading.Event) -> None:
        """Start the broker, create the topics and start every service."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.env = self._environment(self._bootstrap())
        kafka = KafkaSettings(bootstrap_servers=self.env["KAFKA_BOOTSTRAP_SERVERS"])
        asyncio.run(ensure_topics(kafka, system_topics(_topics(self.env))))
        for service in _services(self.live, self.speed):
            if stop.is_set():
                return
            if service.name == "producer":
                _wait_for_stream(self.env, self.service("stream"), stop)
            self._spawn(service)

    def stop(self) -> None:
        """Stop services in reverse start order, then the broker."""
        for service in reversed(self.services):
            _terminate(service)
        if self.broker is not None:
            logger.info("stopping kafka bootstrap=%s", self.broker.bootstrap)
            self.broker.stop()

    def service(self, name: str) -> Service | None:
        """The started service of that name."""
        return next((s for s in self.services if s.name == name), None)

    def failed(self) -> Service | None:
        """A service that ended with an error, or ended while it should run."""
        for service in self.services:
            code = service.returncode
            replay_done = service.name == "producer" and not self.live and code == 0
            if code is not None and not replay_done:
                return service
        return None

    def _bootstrap(self) -> str:
        existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if existing:
            logger.info("using the existing broker bootstrap=%s", existing)
            return existing
        data_dir = self.run_dir / "kafka"
        if not self.live:
            # A replay starts from an empty broker: the demo never depends on
            # what an earlier run left behind.
            shutil.rmtree(data_dir, ignore_errors=True)
        self.broker = LocalKafka(port=0, data_dir=data_dir)
        return self.broker.start()

    def _environment(self, bootstrap: str) -> dict[str, str]:
        env = dict(os.environ)
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        env.setdefault("FLARE_DATA_DIR", str(self.run_dir / "stream"))
        env.setdefault("FLARE_ALERTING_SUBSCRIBERS", json.dumps(TERMINAL_SUBSCRIBER))
        # Model inference in small batches: more threads only add contention.
        env.setdefault("OMP_NUM_THREADS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        for name, default in DEFAULT_PORTS.items():
            env[name] = env.get(name) or str(_port(default))
        if not self.live:
            env.update(_namespaced(env, self.run_id))
        return env

    def _spawn(self, service: Service) -> None:
        log_path = self.run_dir / f"{service.name}.log"
        with open(log_path, "ab") as log:
            service.process = subprocess.Popen(
                service.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if service.echo else log, stderr=log,
                # Own process groups: the terminal's Ctrl-C reaches only this
                # process, which then stops the services in order.
                start_new_session=True,
            )
        if service.echo:
            threading.Thread(target=_echo, args=(service, log_path),
                             daemon=True).start()
        self.services.append(service)
        logger.info("started service=%s pid=%d log=%s", service.name,
                    service.process.pid, log_path)


def parse_speed(text: str) -> str:
    """The producer's replay speed from ``120``, ``x120``, ``realtime`` or ``max``."""
    if text in ("realtime", "max") or text.startswith("x"):
        return text
    try:
        factor = float(text)
    except ValueError:
        raise ValueError(
            f"speed {text!r}: expected realtime, max, a factor like 120 or x120"
        ) from None
    if factor <= 0:
        raise ValueError(f"speed {text!r}: the factor must be > 0")
    return f"x{text}"


def demo_files() -> list[Path]:
    """The bundled real NOAA files the default run replays."""
    found = sorted({p for pattern in DEMO_FILES for p in DEMO_DATA.glob(pattern)})
    if not found:
        raise FileNotFoundError(
            f"no demo data in {DEMO_DATA} ({', '.join(DEMO_FILES)})")
    return found


def swpc_trouble(timeout_s: float = 10.0) -> str | None:
    """Why the live producer could not poll SWPC's primary feed, or None if it can."""
    from producers.settings import ProducerSettings

    url = ProducerSettings().swpc.primary_url
    try:
        status = httpx.get(url, timeout=timeout_s, follow_redirects=True).status_code
    except httpx.HTTPError as exc:
        return f"{url}: {type(exc).__name__}: {exc}"
    return None if status < 400 else f"{url}: HTTP {status}"


def _services(live: bool, speed: str) -> list[Service]:
    python = sys.executable
    producer = (
        [python, "-m", "producers", "swpc"] if live else
        [python, "-m", "producers", "replay", "--speed", speed,
         *(str(p) for p in demo_files())]
    )
    # Consumers first, so that they are in their groups before data flows.
    return [
        Service("alerting", [python, "-m", "alerting", "run"], echo=True),
        Service("stream", [python, "-m", "stream_app", "worker"]),
        Service("producer", producer),
    ]


def _topics(env: dict[str, str]) -> TopicSettings:
    names = {k.removeprefix("FLARE_TOPIC_").lower(): v for k, v in env.items()
             if k.startswith("FLARE_TOPIC_")}
    return TopicSettings.model_validate(names)


def _namespaced(env: dict[str, str], run_id: str) -> dict[str, str]:
    """Topic, app and group names of this replay run only."""
    topics = _topics(env)
    suffix = f"demo-{run_id}"
    return {
        "FLARE_TOPIC_RECORDS": f"{topics.records}.{suffix}",
        "FLARE_TOPIC_QUARANTINE": f"{topics.quarantine}.{suffix}",
        "FLARE_TOPIC_ALERTS": f"{topics.alerts}.{suffix}",
        "FLARE_TOPIC_ALERTS_DEADLETTER": f"{topics.alerts_deadletter}.{suffix}",
        "FLARE_TOPIC_MODELS": f"{topics.models}.{suffix}",
        "FLARE_APP_ID": f"{env.get('FLARE_APP_ID', 'flare-stream')}-{suffix}",
        "FLARE_ALERTING_GROUP_ID":
            f"{env.get('FLARE_ALERTING_GROUP_ID', 'flare-alerting')}-{suffix}",
    }


def _port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def _wait_for_stream(env: dict[str, str], stream: Service | None,
                     stop: threading.Event) -> None:
    """Wait until the stream worker answers /health (or give up and go on)."""
    url = f"http://127.0.0.1:{env['FLARE_WEB_PORT']}/health"
    deadline = time.monotonic() + STREAM_READY_TIMEOUT_S
    while time.monotonic() < deadline and not stop.is_set():
        if stream is None or stream.returncode is not None:
            return
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                logger.info("stream worker answers url=%s", url)
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.5)
    logger.warning("stream worker did not answer url=%s within %.0fs; starting the "
                   "producer anyway", url, STREAM_READY_TIMEOUT_S)


def _echo(service: Service, log_path: Path) -> None:
    assert service.process is not None and service.process.stdout is not None
    terminal = True
    with open(log_path, "ab") as log:
        for line in service.process.stdout:
            log.write(line)
            log.flush()
            if not terminal:
                continue
            try:
                sys.stdout.write(line.decode(errors="replace"))
                sys.stdout.flush()
            except (OSError, ValueError):
                # The terminal is gone: keep draining the pipe into the log, or
                # a full pipe would block the service's next print.
                terminal = False


def _terminate(service: Service, timeout_s: float = STOP_TIMEOUT_S) -> None:
    process = service.process
    if process is None or process.poll() is not None:
        return
    logger.info("stopping service=%s pid=%d", service.name, process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("service=%s ignored SIGTERM for %.0fs; killing it",
                       service.name, timeout_s)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


SOURCES = ("auto", "live", "replay")


def run(run_dir: Path, source: str, speed: str) -> int:
    """Run the local stack until Ctrl-C, SIGTERM or SIGHUP; 1 if a service failed.

    ``source`` is one of :data:`SOURCES`; 2 if it or the speed is invalid.
    """
    # httpx logs each probe at INFO; the terminal is for alerts.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if source not in SOURCES:
        print(f"error: source {source!r} is not one of {', '.join(SOURCES)}",
              file=sys.stderr)
        return 2
    live = source != "replay"
    if source == "auto":
        trouble = swpc_trouble()
        if trouble is not None:
            logger.warning("SWPC does not answer (%s): replaying the bundled real "
                           "flare day instead", trouble)
            live = False
    try:
        stack = LocalRun(run_dir=run_dir, live=live, speed=parse_speed(speed))
        if not live:
            demo_files()
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack.start(stop)
        if not stop.is_set():
            _print_where_to_look(stack)
        return _supervise(stack, stop)
    finally:
        stack.stop()


def _supervise(stack: LocalRun, stop: threading.Event) -> int:
    replay_reported = False
    while not stop.wait(1.0):
        failed = stack.failed()
        if failed is not None:
            logger.error("service=%s exited with status=%s; see %s/%s.log",
                         failed.name, failed.returncode, stack.run_dir, failed.name)
            return 1
        producer = stack.service("producer")
        if (not replay_reported and not stack.live and producer is not None
                and producer.returncode == 0):
            replay_reported = True
            print("replay finished: every record of the demo day is published; "
                  "Ctrl-C stops the stack", flush=True)
    logger.info("stopping the local run")
    return 0


def _print_where_to_look(stack: LocalRun) -> None:
    env = stack.env
    web = f"http://127.0.0.1:{env['FLARE_WEB_PORT']}"
    producer = (
        f"polling SWPC live; metrics http://127.0.0.1:"
        f"{env['FLARE_PRODUCERS_METRICS_PORT']}/metrics" if stack.live else
        f"replaying {', '.join(p.name for p in demo_files())} at {stack.speed}"
    )
    print(
        "\nflare warning is running (Ctrl-C stops it)\n"
        f"  kafka       {env['KAFKA_BOOTSTRAP_SERVERS']}  records topic "
        f"{env.get('FLARE_TOPIC_RECORDS', 'goes.xrs.1m')}\n"
        f"  producer    {producer}\n"
        f"  state       {web}/state  flares: {web}/flares  alerts: {web}/alerts\n"
        f"  health      {web}/health  {web}/ready  {web}/model-info\n"
        f"  metrics     stream {web}/metrics  alerting http://127.0.0.1:"
        f"{env['FLARE_ALERTING_METRICS_PORT']}/metrics\n"
        f"  logs        {stack.run_dir}/*.log\n"
        "alerts appear below as they are issued:\n",
        flush=True,
    )
