"""Fixtures shared by the whole suite, above all the real Kafka broker.

The broker comes from ``KAFKA_BOOTSTRAP_SERVERS`` when set, else from the local
launcher (one broker for the whole session), else from testcontainers where a
Docker engine answers. Outside CI a test that needs a broker skips with the reason
when none can be had; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator

import pytest

from devstack.kafka import LauncherError, LocalKafka, broker_answers
from flarecore.settings import KafkaSettings
from flarecore.topics import TopicSpec, ensure_topics

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for the broker, so ``-m 'not kafka'`` works."""
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


def _no_broker(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but no Kafka broker: {reason}", pytrace=False)
    pytest.skip(f"no Kafka broker: {reason}")


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of a real Apache Kafka broker."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        if not broker_answers(existing, timeout_s=10):
            _no_broker(f"KAFKA_BOOTSTRAP_SERVERS={existing} does not answer")
        yield existing
        return

    launch_error = "java or mvn missing"
    if shutil.which("java") and shutil.which("mvn"):
        broker = LocalKafka(port=0)
        try:
            yield broker.start()
            return
        except LauncherError as exc:
            launch_error = str(exc)
        finally:
            broker.stop()

    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    _no_broker(f"local launcher failed ({launch_error}) and no Docker engine answers")


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings pointing at the test broker."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names for topics and groups that no other test (or run) shares."""
    test = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")
    run = uuid.uuid4().hex[:8]

    def make(role: str) -> str:
        return f"t.{test}.{role}.{run}"

    return make


@pytest.fixture
def make_topics(kafka_settings: KafkaSettings) -> Callable[..., None]:
    """Create topics on the test broker: ``make_topics("a", ("b", 4))``."""

    def make(*topics: str | tuple[str, int]) -> None:
        specs = [
            TopicSpec(t) if isinstance(t, str) else TopicSpec(t[0], t[1])
            for t in topics
        ]
        # Tests may be coroutines already running a loop: create from a thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, ensure_topics(kafka_settings, specs)).result()

    return make
