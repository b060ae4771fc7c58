"""The stream app's settings: ``FLARE_*`` variables, Kafka via ``KAFKA_*``."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flarecore.settings import KafkaSettings, TopicSettings


class StreamSettings(BaseSettings):
    """Everything a stream worker needs; bad values fail at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="FLARE_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)

    app_id: str = Field(default="flare-stream", description="faust app id / group")
    candidates_topic: str = Field(
        default="", description="internal alert-candidate topic; default "
        "'<app_id>-alert-candidates'"
    )
    data_dir: Path = Path("/tmp/flare-stream")
    model_dir: Path = Field(default=Path("models/default"),
                            description="bundle served until an announcement")

    web_bind: str = Field(default="127.0.0.1", description="HTTP bind address")
    web_port: int = Field(default=6066, ge=1, le=65535)
    web_url: str = Field(
        default="", description="how the other workers reach this one's HTTP "
        "server (the table views gather from each); default http://<bind>:<port>, "
        "with the host name when bound to every address")

    batch_size: int = Field(default=500, ge=1,
                            description="messages per batch (a record, or a batch "
                            "message of up to 240)")
    batch_within_s: float = Field(
        default=0.02, gt=0,
        description="longest wait to fill a batch: short for live alerts "
        "(record-to-alert p99 35 ms at 0.02 s, 540 ms at 0.5 s); 0.5 s nearly "
        "doubles a packed backfill's records/s (bench/README.md)")
    fresh_within_s: float = Field(default=300.0, gt=0,
                                  description="/ready wants a record this recent")
    recent_alerts_kept: int = Field(default=500, ge=1)

    known_satellites: frozenset[int] = Field(
        default=frozenset(range(1, 20)),
        description="GOES numbers accepted (GOES-1..19); others are quarantined")
    future_tolerance_s: float = Field(
        default=120.0, ge=0, description="a minute further ahead of the wall "
        "clock is quarantined as future_time (as the SWPC poller does)")
    max_record_bytes: int = Field(
        default=131_072, ge=1024,
        description="larger values are quarantined unparsed (a record is ~230 B, "
        "a batch of 240 about 54 KB)")

    predict_max_histories: int = Field(default=32, ge=1)
    predict_max_minutes: int = Field(default=1440, ge=1)
    predict_max_body_bytes: int = Field(default=1_000_000, ge=1024)

    # Group timings: faust's defaults make a restarted worker wait minutes.
    broker_session_timeout_s: float = Field(default=10.0, gt=0)
    broker_heartbeat_interval_s: float = Field(default=2.0, gt=0)
    broker_rebalance_timeout_s: float = Field(default=20.0, gt=0)

    log_level: str = "INFO"

    @property
    def advertised_url(self) -> str:
        """:attr:`web_url`, or the address the HTTP server listens on."""
        if self.web_url:
            return self.web_url.rstrip("/")
        host = socket.gethostname() if self.web_bind in ("0.0.0.0", "::") else (
            self.web_bind)
        return f"http://{host}:{self.web_port}"

    @property
    def candidates(self) -> str:
        """Name of the single-partition topic between engines and deduplication."""
        return self.candidates_topic or f"{self.app_id}-alert-candidates"
