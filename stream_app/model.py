"""The model a worker serves, and its hot reload from model announcements.

Every worker must see every announcement, so the follower is a group-less
consumer of the models topic (a faust agent would hand its single partition to
one worker of the group). At start it reads the compacted topic from the
beginning, so a restarted worker serves the last promoted model, not the default.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from flarecore.forecast import (
    Forecaster,
    ModelAnnouncement,
    ModelError,
    load_bundle,
    resolve_bundle,
)
from flarecore.settings import KafkaSettings
from stream_app.metrics import Metrics
from stream_app.topics import assign_all, behind

logger = logging.getLogger(__name__)


class ModelHolder:
    """The forecaster being served; swapped whole, so a batch sees one model."""

    def __init__(self, metrics: Metrics) -> None:
        self.forecaster: Forecaster | None = None
        self.source: str | None = None
        self.loaded_utc: datetime | None = None
        self.metrics = metrics
        self.settled = asyncio.Event()
        """Set once the default model and the announcements so far were tried:
        records wait for it, so a restarted worker never forecasts without the
        model it should serve."""

    async def load(self, uri: str, tracking_uri: str | None = None,
                   expected_sha256: str | None = None) -> bool:
        """Load and swap in the bundle at ``uri``; on failure keep the old one."""
        try:
            forecaster = await asyncio.get_running_loop().run_in_executor(
                None, _load, uri, tracking_uri, expected_sha256)
        except Exception as exc:  # noqa: BLE001 - any failure: the old model serves on
            self.metrics.reloads.labels(result="refused").inc()
            logger.error("model refused uri=%s error=%s serving=%s", uri, exc,
                         self.version)
            return False
        self.forecaster, self.source = forecaster, uri
        self.loaded_utc = datetime.now(UTC)
        # What is alive now (faust, the model, numba's compiler) lives as long as
        # the worker: left out of the cyclic collector's passes, which otherwise
        # walk it every few thousand decoded records (a third of decoding time).
        gc.freeze()
        self.metrics.reloads.labels(result="loaded").inc()
        self.metrics.serving(forecaster.version)
        logger.info("model loaded version=%s uri=%s horizon_minutes=%d",
                    forecaster.version, uri, forecaster.info.horizon_minutes)
        return True

    @property
    def version(self) -> str | None:
        return self.forecaster.version if self.forecaster else None

    def info(self) -> dict[str, object]:
        """What ``/model-info`` shows."""
        if self.forecaster is None:
            return {"loaded": False}
        info = self.forecaster.info
        return {
            "loaded": True, "version": info.version, "name": info.name,
            "source": self.source,
            "loaded_utc": self.loaded_utc.isoformat() if self.loaded_utc else None,
            "created_utc": info.created_utc.isoformat(),
            "horizon_minutes": info.horizon_minutes,
            "thresholds": info.thresholds.model_dump(),
            "classes": info.classes, "feature_names": info.feature_names,
            "estimator_sha256": info.estimator_sha256, "metrics": info.metrics,
        }


def _load(uri: str, tracking_uri: str | None,
          expected_sha256: str | None) -> Forecaster:
    forecaster = load_bundle(resolve_bundle(uri, tracking_uri))
    if expected_sha256 and forecaster.info.estimator_sha256 != expected_sha256:
        raise ModelError(f"{uri}: estimator checksum differs from the announcement")
    return forecaster


async def follow_announcements(holder: ModelHolder, kafka: KafkaSettings,
                               topic: str, poll_timeout_ms: int = 1000) -> None:
    """Load every model announced on ``topic``, from its beginning, forever.

    ``holder.settled`` is set once the announcements present at start are read.
    """
    consumer = AIOKafkaConsumer(**kafka.aiokafka_kwargs(), group_id=None,
                                enable_auto_commit=False,
                                client_id=f"{kafka.client_id_prefix}-models")
    await consumer.start()
    try:
        ends = await assign_all(consumer, kafka, topic)
        if not ends:
            raise ModelError(f"models topic {topic} does not exist")
        while True:
            if not holder.settled.is_set() and not await behind(consumer, ends):
                holder.settled.set()
            batches = await consumer.getmany(timeout_ms=poll_timeout_ms)
            for messages in batches.values():
                for message in messages:
                    await _announced(holder, message.value, message.offset)
    finally:
        await consumer.stop()


async def _announced(holder: ModelHolder, raw: bytes | None, offset: int) -> None:
    if raw is None:
        return  # a compaction tombstone
    try:
        announcement = ModelAnnouncement.model_validate_json(raw)
    except ValidationError as exc:
        holder.metrics.reloads.labels(result="refused").inc()
        logger.error("model announcement unreadable offset=%d error=%s", offset,
                     exc.errors()[0]["msg"] if exc.errors() else exc)
        return
    if announcement.version == holder.version:
        return
    logger.info("model announced version=%s uri=%s", announcement.version,
                announcement.uri)
    await holder.load(announcement.uri, announcement.tracking_uri,
                      announcement.estimator_sha256)


def default_bundle_exists(path: Path) -> bool:
    """Whether the configured default bundle is there (else: no model yet)."""
    return (path / "bundle.json").exists()
