"""Settings of ``python -m producers``: ``FLARE_PRODUCERS_*``, Kafka ``KAFKA_*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from flarecore.records import MAX_RECORDS_PER_MESSAGE
from flarecore.settings import KafkaSettings, TopicSettings

SWPC_JSON = "https://services.swpc.noaa.gov/json/goes"


class SwpcSettings(BaseModel):
    """Where and how often the SWPC poller asks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary_url: str = f"{SWPC_JSON}/primary/xrays-6-hour.json"
    secondary_url: str | None = f"{SWPC_JSON}/secondary/xrays-6-hour.json"
    primary_startup_url: str = Field(
        default=f"{SWPC_JSON}/primary/xrays-1-day.json",
        description="longer window asked once at start-up to fill gaps",
    )
    secondary_startup_url: str | None = f"{SWPC_JSON}/secondary/xrays-1-day.json"
    poll_interval_s: float = Field(default=30.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0, description="per HTTP request")
    base_backoff_s: float = Field(default=1.0, gt=0)
    max_backoff_s: float = Field(default=300.0, gt=0)
    publish_wait_s: float = Field(
        default=5.0, gt=0,
        description="how long a cycle waits for Kafka's acknowledgements before "
                    "polling on (sends keep waiting in the background)",
    )
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    dedupe_window_h: float = Field(
        default=7 * 24 + 1, gt=0,
        description="how far back published minutes are read from Kafka at start-up; "
                    "must cover the longest window asked (7-day product: 168 h)",
    )


class NceiSettings(BaseModel):
    """Where NCEI's archive lives and where downloads are cached."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(
        default="https://www.ncei.noaa.gov/data/goes-space-environment-monitor/access",
        description="GOES 1-15 products: science/xrs/... and avg/...",
    )
    goesr_base_url: str = Field(
        default="https://data.ngdc.noaa.gov/platforms/solar-space-observing-satellites/goes",
        description="GOES-R products: goesNN/l2/data/...",
    )
    cache_dir: Path = Path("data/ncei-cache")
    timeout_s: float = Field(default=60.0, gt=0)
    attempts: int = Field(default=4, ge=1)


class ProducerSettings(BaseSettings):
    """Everything ``python -m producers`` needs."""

    model_config = SettingsConfigDict(
        env_prefix="FLARE_PRODUCERS_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    swpc: SwpcSettings = Field(default_factory=SwpcSettings)
    ncei: NceiSettings = Field(default_factory=NceiSettings)
    metrics_port: int = Field(default=9107, ge=0, le=65535, description="0: off")
    request_timeout_ms: int = Field(
        default=15_000, ge=1000, description="Kafka produce request timeout"
    )
    batch_size: int = Field(default=2000, ge=1, description="records per send batch")
    records_per_message: int = Field(
        default=1, ge=1, le=MAX_RECORDS_PER_MESSAGE,
        description="records of one satellite packed per Kafka message (a "
        "backfill at 60 is several times cheaper for the stream worker)")
