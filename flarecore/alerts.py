"""The alert that the stream app publishes and alerting delivers (schema version 1).

The alert id is deterministic: the same flare and level always give the same id,
so a replay or a restart can never produce a second, different copy, and
receivers can deduplicate by id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class AlertKind(StrEnum):
    """What an alert announces."""

    EARLY_WARNING = "early_warning"
    """The forecast of >= M (level ``M``) or >= X (level ``X``) passed its threshold."""
    THRESHOLD = "threshold"
    """A flare crossed its first named level (M1, M5, X1, X10 or X20)."""
    ESCALATION = "escalation"
    """A flare already alerted crossed a higher named level."""
    PEAK = "peak"
    """The flare peaked (known once the flux has turned down)."""
    END = "end"
    """All clear: the flux fell halfway back to the pre-flare level."""


class Forecast(BaseModel):
    """The model's view at the alert's data minute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p_ge_m: float = Field(ge=0, le=1, description="P(peak >= M1 within the horizon)")
    p_ge_x: float = Field(ge=0, le=1, description="P(peak >= X1 within the horizon)")
    expected_class: str = Field(description="most probable peak class letter")
    horizon_minutes: int = Field(gt=0)
    model_version: str


class Alert(BaseModel):
    """One alert on the ``flare.alerts`` topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    alert_id: str = Field(description="deterministic: same flare and level, same id")
    kind: AlertKind
    level: str | None = Field(
        description="M1/M5/X1/X10/X20 for threshold and escalation, M or X for "
        "early warnings, None for peak and end"
    )
    r_level: int = Field(ge=0, le=5, description="NOAA R scale of the observed flux")
    flare_id: str = Field(description="the flare (or warning episode) this is about")
    satellites: list[int] = Field(min_length=1)
    data_time_utc: datetime = Field(description="the data minute the alert is based on")
    issued_utc: datetime = Field(description="when the stream app issued it")
    observed_flux_wm2: float = Field(
        description="XRS-B flux at data_time_utc, true scale")
    observed_class: str
    flare_start_utc: datetime | None = None
    peak_flux_wm2: float | None = None
    peak_time_utc: datetime | None = None
    forecast: Forecast | None = None
    message: str = Field(description="one line for people")

    def to_bytes(self) -> bytes:
        """The Kafka value."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Alert:
        """Parse a Kafka value; raises ``pydantic.ValidationError`` on bad input."""
        return cls.model_validate_json(raw)


def alert_id(flare_id: str, kind: AlertKind, level: str | None) -> str:
    """The deterministic id of the alert of ``kind`` at ``level`` for a flare."""
    text = f"{flare_id}|{kind.value}|{level or '-'}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
