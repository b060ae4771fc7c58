"""The scheduled run: a failed fetch is a WARNING and the run still trains."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from trainer.schedule import fetch, run_once
from trainer.settings import FetchSettings, GateSettings, TrainerSettings

SMALL = {"max_iter": 5, "min_samples_leaf": 20, "quiet_fraction": 0.5}


def _settings(tmp_path: Path, **fetch: object) -> TrainerSettings:
    # An unknown product makes the real downloader exit 2 before any network
    # use: the same path as NCEI being unreachable, without depending on it.
    return TrainerSettings(
        work_dir=tmp_path / "work", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        artifact_root=tmp_path / "artifacts", announce=False,
        gates=GateSettings(tss_m_floor=-1.0), data_root=tmp_path / "no-archive",
        fetch=FetchSettings(product="no-such-product", cache_dir=tmp_path / "cache",
                            **fetch))


def test_fetch_failure_is_a_warning(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="trainer.schedule"):
        result = fetch(_settings(tmp_path))
    assert not result.ok and "exited 2" in result.detail
    assert any(r.levelno == logging.WARNING and "fetch failed" in r.getMessage()
               for r in caplog.records)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_run_once_trains_registers_and_logs_despite_fetch_failure(
        real_days, tmp_path) -> None:
    record = run_once(_settings(tmp_path), paths=real_days, params=SMALL)
    assert record.error is None, record.error
    assert record.fetch is not None and not record.fetch.ok
    assert record.trained and record.version == "1" and record.promoted
    logged = [json.loads(line) for line in
              (tmp_path / "work" / "runs.jsonl").read_text().splitlines()]
    assert logged[-1]["version"] == "1" and logged[-1]["fetch"]["ok"] is False


def test_run_once_without_archive_records_the_error(tmp_path) -> None:
    record = run_once(_settings(tmp_path, enabled=False))
    assert not record.trained and "no-archive" in (record.error or "")
    assert (tmp_path / "work" / "runs.jsonl").exists()
