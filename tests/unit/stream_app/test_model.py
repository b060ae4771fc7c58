"""Model loading and refusal, metrics and settings of the stream worker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flarecore.forecast import INFO_FILE
from stream_app.metrics import Metrics
from stream_app.model import ModelHolder, _announced
from stream_app.settings import StreamSettings
from tests.unit.stream_app.realday import fit_day_model


async def test_model_holder_swaps_good_and_refuses_bad_bundles(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    holder = ModelHolder(metrics)
    fit_day_model(tmp_path / "one", version="one")
    assert await holder.load(str(tmp_path / "one"))
    assert holder.version == "one"

    fit_day_model(tmp_path / "bad", version="bad")
    (tmp_path / "bad" / "estimator.joblib").write_bytes(b"not a model")
    with caplog.at_level(logging.ERROR, logger="stream_app.model"):
        assert not await holder.load(str(tmp_path / "bad"))
    assert holder.version == "one"
    assert "model refused" in caplog.text and "checksum" in caplog.text

    assert not await holder.load(str(tmp_path / "missing"))
    text = metrics.render().decode()
    assert 'flare_stream_model_reloads_total{result="refused"} 2.0' in text
    assert 'flare_stream_model_info{version="one"} 1.0' in text


async def test_model_holder_checks_announced_checksum(tmp_path: Path) -> None:
    holder = ModelHolder(Metrics())
    info = fit_day_model(tmp_path / "two", version="two").info
    assert not await holder.load(str(tmp_path / "two"), expected_sha256="0" * 64)
    assert await holder.load(str(tmp_path / "two"),
                             expected_sha256=info.estimator_sha256)
    assert holder.info()["version"] == "two"
    assert (tmp_path / "two" / INFO_FILE).exists()


async def test_model_announcement_unreadable_is_refused(
        caplog: pytest.LogCaptureFixture) -> None:
    holder = ModelHolder(Metrics())
    with caplog.at_level(logging.ERROR, logger="stream_app.model"):
        await _announced(holder, b"{not json", offset=7)
        await _announced(holder, None, offset=8)  # a tombstone: nothing to do
    assert holder.forecaster is None
    assert "offset=7" in caplog.text


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    monkeypatch.setenv("FLARE_TOPIC_RECORDS", "r")
    monkeypatch.setenv("FLARE_APP_ID", "a")
    monkeypatch.setenv("FLARE_WEB_PORT", "7001")
    settings = StreamSettings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.topics.records == "r"
    assert settings.candidates == "a-alert-candidates"
    assert settings.web_bind == "127.0.0.1" and settings.web_port == 7001
    monkeypatch.setenv("FLARE_WEB_PORT", "0")
    with pytest.raises(ValueError, match="web_port"):
        StreamSettings()


def test_metrics_data_age_synthetic() -> None:
    metrics = Metrics()
    metrics.last_data_minute[16] = 0  # the epoch: a very old minute
    text = metrics.render().decode()
    assert 'flare_stream_data_age_seconds{satellite="16"}' in text
