"""A real single-node Apache Kafka broker (KRaft) on loopback, for dev, tests and CI.

The broker's jars come from Maven Central once, through ``mvn`` and the pom next to
this file, into a cache directory; every later start reuses them. The broker runs
in its own JVM with its logs in a file under its data directory, never on the
terminal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.2"
_POM = Path(__file__).with_name("kafka-pom.xml")
_BROKER_MAIN = "kafka.Kafka"
_STORAGE_MAIN = "kafka.tools.StorageTool"


class LauncherError(RuntimeError):
    """The local broker could not be fetched, formatted or started."""


def default_cache_dir() -> Path:
    """Where the broker jars are kept between runs (``FLARE_KAFKA_CACHE`` overrides)."""
    base = os.environ.get("FLARE_KAFKA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "flare-warning",
    )
    return Path(base) / f"kafka-{KAFKA_VERSION}"


def fetch_jars(cache_dir: Path | None = None) -> Path:
    """Download the broker and its runtime dependencies unless already cached."""
    jar_dir = (cache_dir or default_cache_dir()) / "libs"
    marker = jar_dir / ".complete"
    if marker.exists():
        return jar_dir

    if shutil.which("mvn") is None:
        raise LauncherError("mvn is not on PATH; it is needed once to fetch Kafka jars")
    partial = jar_dir.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    logger.info("fetching Kafka %s jars from Maven Central into %s", KAFKA_VERSION,
                jar_dir)
    cmd = [
        "mvn", "-q", "-B", "-f", str(_POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
        f"-Dkafka.version={KAFKA_VERSION}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise LauncherError(
            f"mvn could not fetch Kafka {KAFKA_VERSION} (exit {done.returncode}): "
            f"{(done.stdout + done.stderr)[-2000:]}"
        )

    # Rename last so that an interrupted download never looks complete.
    shutil.rmtree(jar_dir, ignore_errors=True)
    partial.rename(jar_dir)
    marker.touch()
    return jar_dir


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise LauncherError("no java found: install JDK 17 or set JAVA_HOME")
    return java


@dataclass
class LocalKafka:
    """One broker process: ``start()`` returns once clients can connect."""

    port: int = 0
    data_dir: Path | None = None
    cache_dir: Path | None = None
    heap: str = "768m"
    start_timeout_s: float = 120.0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _owns_data_dir: bool = field(default=False, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "logs" / "server.log"

    def start(self) -> str:
        """Fetch, format and start the broker; return its bootstrap address."""
        started = time.monotonic()
        jars = fetch_jars(self.cache_dir)
        self._prepare_dirs()
        config = self._write_config()
        self._format_storage(jars, config)
        self._launch(jars, config)
        self._wait_until_ready(started)
        logger.info("kafka ready bootstrap=%s version=%s start_s=%.1f log=%s",
                    self.bootstrap, KAFKA_VERSION, time.monotonic() - started,
                    self.log_file)
        return self.bootstrap

    def stop(self, timeout_s: float = 30.0) -> None:
        """Shut the broker down cleanly (SIGTERM), killing it if it hangs."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("kafka did not stop in %.0fs; killing it", timeout_s)
                proc.kill()
                proc.wait()
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _prepare_dirs(self) -> None:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="flare-kafka-"))
            self._owns_data_dir = True
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()

    def _write_config(self) -> Path:
        assert self.data_dir is not None
        controller_port = free_port()
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": (f"PLAINTEXT://127.0.0.1:{self.port},"
                          f"CONTROLLER://127.0.0.1:{controller_port}"),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map":
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": "1",
            # Topics are created explicitly with their partition counts, as in
            # production; an auto-created topic would hide a missing step.
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "message.max.bytes": "2097152",
        }
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log4j = self.data_dir / "log4j.properties"
        log4j.write_text(_LOG4J.format(log_file=self.log_file))
        return path

    def _java_cmd(self, jars: Path, main: str, *args: str) -> list[str]:
        assert self.data_dir is not None
        return [
            _java(), f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", f"{jars}/*", main, *args,
        ]

    def _format_storage(self, jars: Path, config: Path) -> None:
        assert self.data_dir is not None
        if (self.data_dir / "data" / "meta.properties").exists():
            return
        cluster_id = _cluster_id()
        cmd = self._java_cmd(jars, _STORAGE_MAIN, "format", "-t", cluster_id,
                             "-c", str(config), "--ignore-formatted")
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise LauncherError(f"kafka storage format failed: {done.stderr[-2000:]}")

    def _launch(self, jars: Path, config: Path) -> None:
        assert self.data_dir is not None
        out = open(self.data_dir / "logs" / "kafka.out", "ab")
        self._process = subprocess.Popen(
            self._java_cmd(jars, _BROKER_MAIN, str(config)),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()

    def _wait_until_ready(self, started: float) -> None:
        while time.monotonic() - started < self.start_timeout_s:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LauncherError(
                    f"kafka exited with {self._process.returncode} during start-up; "
                    f"see {self.log_file}"
                )
            if broker_answers(self.bootstrap, timeout_s=5.0):
                return
            time.sleep(0.3)
        self.stop()
        raise LauncherError(
            f"kafka did not accept clients within {self.start_timeout_s:.0f}s; "
            f"see {self.log_file}"
        )


def broker_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """Whether a Kafka client can fetch cluster metadata from ``bootstrap``."""
    from aiokafka.admin import AIOKafkaAdminClient

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout_s).close()
    except OSError:
        return False

    async def probe() -> bool:
        client = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                     request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.start(), timeout_s)
            await asyncio.wait_for(client.describe_cluster(), timeout_s)
            return True
        except Exception:
            return False
        finally:
            await client.close()

    # The client logs every refused connection at ERROR; while probing a broker
    # that is still starting, those are expected.
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        # A caller may be inside a running loop (an async test): probe from a thread.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, probe()).result()
    finally:
        client_log.setLevel(level)


def _cluster_id() -> str:
    """A random KRaft cluster id: a UUID in URL-safe base64, as Kafka makes them.

    One in 64 such ids starts with "-", which kafka-storage's argument parser
    takes for an option (the format then fails); those are drawn again, as
    Kafka's own generator does.
    """
    import base64

    while True:
        raw = uuid.uuid4().bytes
        cluster_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log_file}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
"""
