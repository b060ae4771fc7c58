"""The local broker launcher as users run it: ``python -m devstack kafka``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.kafka import broker_answers

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None or shutil.which("mvn") is None,
                    reason="the launcher needs java and mvn")
def test_launcher_starts_broker_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", "kafka", "--port", "0",
         "--data-dir", str(tmp_path / "kafka"), "--ready-file", str(ready)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "broker not ready in 120 s"
            time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        bootstrap = ready.read_text().strip()
        assert broker_answers(bootstrap)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == bootstrap
    assert not broker_answers(bootstrap, timeout_s=2)
    assert (tmp_path / "kafka" / "logs" / "server.log").stat().st_size > 0
    assert b"INFO [KafkaRaftServer" not in err, "broker logs must go to the file"


def test_launcher_uses_existing_broker_and_starts_nothing(kafka_bootstrap: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run([sys.executable, "-m", "devstack", "kafka"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == kafka_bootstrap
    assert "starting nothing" in done.stderr
