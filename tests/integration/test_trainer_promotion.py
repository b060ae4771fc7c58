"""Promotion announces the model on the models topic of a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from flarecore.forecast import ModelAnnouncement, load_bundle, resolve_bundle
from flarecore.settings import KafkaSettings, TopicSettings
from trainer.registry import Registry
from trainer.settings import GateSettings, TrainerSettings
from trainer.training import train

DATA = Path(__file__).resolve().parents[1] / "data" / "ncei"
REAL_DAYS = [DATA / "sci_xrsf-l2-avg1m_g13_d20140128_v1-0-0.nc",
             DATA / "sci_xrsf-l2-avg1m_g14_d20100612_v1-0-0.nc",
             DATA / "sci_xrsf-l2-avg1m_g17_d20211028_v2-1-0_excerpt_1430-1629.nc"]
"""Three real days: three cross-validation folds of one day each."""


async def _read_one(settings: KafkaSettings, topic: str) -> tuple[bytes, bytes]:
    consumer = AIOKafkaConsumer(topic, **settings.aiokafka_kwargs(),
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert message.key is not None and message.value is not None
    return message.key, message.value


@pytest.mark.kafka
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_promotion_announces_on_models_topic(
        kafka_settings: KafkaSettings, make_topics: Callable[..., None],
        unique_name: Callable[[str], str], tmp_path: Path) -> None:
    topic = unique_name("models")
    make_topics(topic)
    settings = TrainerSettings(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        artifact_root=tmp_path / "artifacts", kafka=kafka_settings,
        topics=TopicSettings(models=topic), gates=GateSettings(tss_m_floor=-1.0))
    result = train(REAL_DAYS, tmp_path / "bundle",
                   params={"max_iter": 5, "min_samples_leaf": 20,
                           "quiet_fraction": 0.5})
    registry = Registry(settings)
    decision = registry.promote(registry.log(result), result)
    assert decision.promoted and decision.announced

    key, value = asyncio.run(_read_one(kafka_settings, topic))
    announcement = ModelAnnouncement.model_validate_json(value)
    assert key == b"flare-forecaster"
    assert announcement.version == result.info.version
    assert announcement.estimator_sha256 == result.info.estimator_sha256
    # What a stream worker does with it: resolve, verify the checksum, load.
    bundle = load_bundle(resolve_bundle(announcement.uri, announcement.tracking_uri))
    assert bundle.info.estimator_sha256 == announcement.estimator_sha256
