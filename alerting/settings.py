"""Settings of the alerting process and its subscribers (``FLARE_ALERTING_*``).

Subscribers come from a YAML or TOML file (``FLARE_ALERTING_CONFIG_FILE``) and/or
the environment (``FLARE_ALERTING_SUBSCRIBERS`` as a JSON list). In a file,
``${NAME}`` is replaced by the environment variable ``NAME`` so that webhook URLs
and secrets need not be written down next to the rest.
"""

from __future__ import annotations

import os
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerting import ConfigError
from flarecore.alerts import AlertKind
from flarecore.classes import ALERT_LEVELS
from flarecore.settings import KafkaSettings, TopicSettings

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SinkKind(StrEnum):
    """Where a subscriber's alerts go."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    STDOUT = "stdout"
    """One readable line per alert on standard output, for the local run."""


class RetryPolicy(BaseModel):
    """How hard to try one subscriber before dead-lettering an alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=8, ge=1, description="including the first")
    base_backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0, description="per HTTP request")
    max_retry_after_s: float = Field(
        default=600.0, ge=0, description="cap on a receiver's Retry-After"
    )


class Filters(BaseModel):
    """Which alerts a subscriber wants; an empty filter passes everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_level: str | None = Field(
        default=None, description="M1, M5, X1, X10 or X20: the least severe wanted"
    )
    kinds: frozenset[AlertKind] | None = None
    satellites: frozenset[int] | None = None

    @model_validator(mode="after")
    def _known_level(self) -> Filters:
        if self.min_level is not None and self.min_level not in ALERT_LEVELS:
            raise ValueError(
                f"min_level {self.min_level!r} is not one of {', '.join(ALERT_LEVELS)}"
            )
        return self


class SubscriberConfig(BaseModel):
    """One receiver of alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: SinkKind
    url: SecretStr | None = Field(default=None, description="secret: never logged")
    secret: SecretStr | None = Field(default=None, description="HMAC key (webhook)")
    filters: Filters = Filters()
    retry: RetryPolicy = RetryPolicy()

    @model_validator(mode="after")
    def _complete(self) -> SubscriberConfig:
        if self.kind in (SinkKind.WEBHOOK, SinkKind.SLACK) and self.url is None:
            raise ValueError(f"subscriber {self.name}: kind {self.kind} needs a url")
        if self.kind is SinkKind.WEBHOOK and self.secret is None:
            raise ValueError(f"subscriber {self.name}: a webhook needs a secret")
        return self


class AlertingSettings(BaseSettings):
    """Everything ``python -m alerting`` needs; Kafka comes from ``KAFKA_*``."""

    model_config = SettingsConfigDict(
        env_prefix="FLARE_ALERTING_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    group_id: str = "flare-alerting"
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="where a new group starts: earliest loses nothing",
    )
    config_file: Path | None = None
    subscribers: list[SubscriberConfig] = Field(default_factory=list)
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="0: off")
    commit_interval_s: float = Field(default=1.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    max_in_flight: int = Field(
        default=10_000, ge=1, description="uncommitted alerts before pausing reads"
    )

    def all_subscribers(self) -> list[SubscriberConfig]:
        """Subscribers of the config file followed by those of the environment."""
        from_file = load_subscribers(self.config_file) if self.config_file else []
        subscribers = from_file + list(self.subscribers)
        names = [s.name for s in subscribers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"subscriber names repeated: {', '.join(repeated)}")
        if not subscribers:
            raise ConfigError(
                "no subscribers: set FLARE_ALERTING_CONFIG_FILE or "
                "FLARE_ALERTING_SUBSCRIBERS"
            )
        return subscribers


def load_subscribers(path: Path) -> list[SubscriberConfig]:
    """Read the ``subscribers`` list of a YAML (.yaml/.yml) or TOML (.toml) file."""
    try:
        text = _expand_env(path.read_text(), path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read subscriber config: {exc}") from exc
    document = _parse(text, path)
    entries = document.get("subscribers") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a top-level 'subscribers' list")
    try:
        return [SubscriberConfig.model_validate(entry) for entry in entries]
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid subscriber: {exc}") from exc


def _parse(text: str, path: Path) -> Any:
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:]}: {exc}") from exc
    raise ConfigError(f"{path}: expected a .yaml, .yml or .toml file")


def _expand_env(text: str, path: Path) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{path}: environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REFERENCE.sub(value, text)
