"""Subscriber configuration from YAML, TOML and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerting import ConfigError
from alerting.settings import AlertingSettings, SinkKind, load_subscribers
from flarecore.alerts import AlertKind

YAML_CONFIG = """
subscribers:
  - name: ops
    kind: webhook
    url: "${TEST_OPS_URL}"
    secret: "${TEST_OPS_SECRET}"
    filters: {min_level: M5, kinds: [threshold, escalation], satellites: [16, 18]}
    retry: {attempts: 3, base_backoff_s: 0.1, max_backoff_s: 2, timeout_s: 1}
  - name: console
    kind: stdout
"""

TOML_CONFIG = """
[[subscribers]]
name = "slack-ops"
kind = "slack"
url = "https://hooks.slack.invalid/T/B/X"
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_subscribers_yaml_expands_env(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPS_URL", "http://127.0.0.1:1/hook")
    monkeypatch.setenv("TEST_OPS_SECRET", "s3cret")
    ops, console = load_subscribers(_write(tmp_path, "subs.yaml", YAML_CONFIG))
    assert ops.kind is SinkKind.WEBHOOK and console.kind is SinkKind.STDOUT
    assert ops.url is not None and ops.url.get_secret_value().endswith("/hook")
    assert ops.filters.kinds == {AlertKind.THRESHOLD, AlertKind.ESCALATION}
    assert ops.filters.satellites == {16, 18}
    assert ops.retry.attempts == 3
    assert "s3cret" not in repr(ops) and "127.0.0.1" not in repr(ops)


def test_load_subscribers_toml(tmp_path: Path) -> None:
    (slack,) = load_subscribers(_write(tmp_path, "subs.toml", TOML_CONFIG))
    assert slack.kind is SinkKind.SLACK and slack.retry.attempts == 8


def test_load_subscribers_missing_env_names_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_OPS_URL", raising=False)
    with pytest.raises(ConfigError, match="TEST_OPS_URL is not set"):
        load_subscribers(_write(tmp_path, "subs.yaml", YAML_CONFIG))


@pytest.mark.parametrize(("text", "message"), [
    ("subscribers:\n  - {name: a, kind: webhook, url: 'http://x'}\n", "needs a secret"),
    ("subscribers:\n  - {name: a, kind: slack}\n", "needs a url"),
    ("subscribers:\n  - {name: a, kind: stdout, filters: {min_level: C1}}\n",
     "min_level 'C1'"),
    ("subscribers: {}\n", "top-level 'subscribers' list"),
    ("subscribers: [\n", "not valid yaml"),
])
def test_load_subscribers_rejects_bad_file(tmp_path: Path, text: str,
                                           message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_subscribers(_write(tmp_path, "subs.yaml", text))


def test_settings_env_subscribers_and_duplicates(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.setenv("FLARE_ALERTING_SUBSCRIBERS",
                       '[{"name": "slack-ops", "kind": "stdout"}]')
    monkeypatch.setenv("FLARE_ALERTING_CONFIG_FILE",
                       str(_write(tmp_path, "subs.toml", TOML_CONFIG)))
    with pytest.raises(ConfigError, match="repeated: slack-ops"):
        AlertingSettings().all_subscribers()


def test_settings_without_subscribers_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLARE_ALERTING_SUBSCRIBERS", raising=False)
    monkeypatch.delenv("FLARE_ALERTING_CONFIG_FILE", raising=False)
    with pytest.raises(ConfigError, match="no subscribers"):
        AlertingSettings().all_subscribers()


def test_settings_read_kafka_from_shared_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.invalid:9093")
    monkeypatch.setenv("FLARE_TOPIC_ALERTS", "other.alerts")
    settings = AlertingSettings()
    assert settings.kafka.bootstrap_servers == "broker.invalid:9093"
    assert settings.topics.alerts == "other.alerts"
