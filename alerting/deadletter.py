"""The dead-letter topic: alerts a subscriber never took, and malformed values."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field

from alerting import metrics
from flarecore.alerts import Alert
from flarecore.quarantine import QuarantinedInput

logger = logging.getLogger(__name__)

DEADLETTER_SCHEMA_VERSION = 1
_MAX_PRODUCE_BACKOFF_S = 30.0


class DeadLetterReason(StrEnum):
    """Why a record is on the dead-letter topic."""

    DELIVERY_FAILED = "delivery_failed"
    """A subscriber did not accept the alert within its retry policy."""
    MALFORMED_ALERT = "malformed_alert"
    """The value on the alerts topic is not a valid alert (not replayable)."""


class DeadLetter(BaseModel):
    """One record on ``flare.alerts.deadletter``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = DEADLETTER_SCHEMA_VERSION
    reason: DeadLetterReason
    subscriber: str | None = Field(description="None for malformed alerts")
    error: str = Field(description="the last failure, for people")
    attempts: int = Field(ge=0)
    source: str = Field(description="topic[partition]@offset of the alert")
    alert: Alert | None = None
    rejected: QuarantinedInput | None = Field(
        default=None, description="the raw value, for malformed alerts"
    )
    dead_lettered_utc: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def to_bytes(self) -> bytes:
        """The Kafka value."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeadLetter:
        """Parse a Kafka value; raises ``pydantic.ValidationError`` on bad input."""
        return cls.model_validate_json(raw)


def source_of(topic: str, partition: int, offset: int) -> str:
    """``topic[partition]@offset``."""
    return f"{topic}[{partition}]@{offset}"


class DeadLetterPublisher:
    """Publish dead letters, retrying until the broker takes them.

    Offsets are committed only after this returns, so a broker outage delays the
    commit (and the subscriber concerned) but never loses the alert.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, letter: DeadLetter) -> None:
        """Send one dead letter and wait for the broker's acknowledgement."""
        key = (letter.subscriber or "-").encode()
        failures = 0
        while True:
            try:
                await self._producer.send_and_wait(
                    self._topic, letter.to_bytes(), key=key)
                break
            except KafkaError as exc:
                failures += 1
                wait_s = min(_MAX_PRODUCE_BACKOFF_S, 0.5 * 2**failures)
                logger.warning("dead letter not accepted topic=%s source=%s "
                               "error=%s retry_in_s=%.1f", self._topic, letter.source,
                               type(exc).__name__, wait_s)
                await asyncio.sleep(wait_s)
        metrics.DEAD_LETTERED.labels(letter.subscriber or "-", letter.reason).inc()
        logger.info("dead-lettered topic=%s source=%s subscriber=%s reason=%s",
                    self._topic, letter.source, letter.subscriber, letter.reason)
