"""The scheduled pipeline: fetch recent data, train, register, promote; repeat.

A fetch failure (no network, NCEI down) is logged and the run goes on with the
local archive: a model is still trained and gated. Each run appends one JSON line
to ``<work_dir>/runs.jsonl``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trainer import sets
from flarecore.readers import expand_paths
from trainer.settings import TrainerSettings

logger = logging.getLogger(__name__)


class FetchResult(BaseModel):
    """What a fetch step got."""

    ok: bool
    detail: str
    files: list[str] = []


class RunRecord(BaseModel):
    """One scheduled run, as logged to ``runs.jsonl``."""

    started_utc: datetime
    finished_utc: datetime | None = None
    fetch: FetchResult | None = None
    trained: bool = False
    version: str | None = None
    promoted: bool = False
    reasons: list[str] = []
    error: str | None = None


def fetch(settings: TrainerSettings, today: date | None = None) -> FetchResult:
    """Download the last days of the configured product with the producers'
    NCEI downloader (a separate process: packages share code only via flarecore)."""
    config = settings.fetch
    if not config.enabled:
        return FetchResult(ok=True, detail="fetch disabled")
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=config.days - 1)
    command = [sys.executable, "-m", "producers", "download", "--product",
               config.product, "--satellite", str(config.satellite), "--start",
               first.isoformat(), "--end", last.isoformat(), "--cache-dir",
               str(config.cache_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=config.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return _failed(f"download timed out after {config.timeout_s:.0f} s")
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-300:]
        return _failed(f"download exited {done.returncode}: {tail}")
    files = [str(p) for p in expand_paths([config.cache_dir])
             if p.suffix in (".nc", ".gz", ".json", ".csv")]
    logger.info("fetch done product=%s files=%d", config.product, len(files))
    return FetchResult(ok=True, detail="downloaded", files=files)


def _failed(detail: str) -> FetchResult:
    logger.warning("fetch failed, training on the local archive: %s", detail)
    return FetchResult(ok=False, detail=detail)


def run_once(settings: TrainerSettings, paths: list[Path] | None = None,
             params: dict[str, Any] | None = None) -> RunRecord:
    """Fetch, fit, register and gate once; never raises, records what failed.

    ``paths`` replaces the training set under the data root, ``params`` the
    model's hyperparameters (tests train a small model on in-repo files).
    """
    from trainer.registry import Registry
    from trainer.training import train

    record = RunRecord(started_utc=datetime.now(UTC))
    logger.info("scheduled run started data_root=%s", settings.data_root)
    try:
        record.fetch = fetch(settings)
        files = list(paths) if paths else sets.resolve("training", settings.data_root)
        files += [Path(p) for p in record.fetch.files]
        out = settings.work_dir / record.started_utc.strftime("%Y%m%dT%H%M%SZ")
        result = train(files, out, settings.horizon_minutes, params=params,
                       random_state=settings.random_state)
        record.trained = True
        registry = Registry(settings)
        record.version = registry.log(result)
        decision = registry.promote(record.version, result)
        record.promoted, record.reasons = decision.promoted, decision.reasons
    except Exception as exc:  # a scheduled run must never kill the scheduler
        logger.exception("scheduled run failed")
        record.error = " ".join(str(exc).split())
    record.finished_utc = datetime.now(UTC)
    _append(settings.work_dir / "runs.jsonl", record)
    logger.info("scheduled run done trained=%s version=%s promoted=%s",
                record.trained, record.version, record.promoted)
    return record


def run_forever(settings: TrainerSettings) -> None:
    """``run_once`` every ``schedule_hours``, measured start to start."""
    period_s = settings.schedule_hours * 3600
    logger.info("schedule started every_hours=%s tracking_uri=%s",
                settings.schedule_hours, settings.tracking_uri)
    while True:
        started = time.monotonic()
        run_once(settings)
        time.sleep(max(0.0, period_s - (time.monotonic() - started)))


def _append(path: Path, record: RunRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(record.model_dump(mode="json")) + "\n")
