"""The deployment guide's configuration examples are valid settings."""

from __future__ import annotations

import re

import certifi
import faust
import pytest

from flarecore.settings import KafkaSettings
from tests.unit.deploy.stack import REPO

GUIDE = REPO / "docs" / "deploy.md"


def _block(language: str) -> str:
    [block] = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    return block


def test_secured_kafka_example_reaches_aiokafka_and_faust(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for line in _block("dotenv").splitlines():
        name, value = line.split("=", 1)
        monkeypatch.setenv(name, value)
    # The example's CA file lives in the containers; any real PEM bundle will do.
    monkeypatch.setenv("KAFKA_SSL_CAFILE", certifi.where())
    kafka = KafkaSettings()

    kwargs = kafka.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_password"] == "change-me"
    assert kwargs["ssl_context"] is not None
    credentials = kafka.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.ssl_context is not None
    assert credentials.username == "flare-warning"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert "change-me" not in repr(kafka)


def test_guide_names_only_existing_files() -> None:
    for path in re.findall(r"`((?:deploy|demo|docs|tests)/[\w./-]+)`",
                           GUIDE.read_text()):
        assert (REPO / path.rstrip("/")).exists(), path
