"""The one-minute XRS record that every part of the system exchanges."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_PLAUSIBLE_FLUX_WM2 = 1e-1
"""No flare has come near this (X28 was 2.8e-3); anything above is corrupt."""


class Quality(StrEnum):
    """Per-channel quality of a minute, normalised across all source formats."""

    GOOD = "good"
    ECLIPSE = "eclipse"
    ELECTRON_CONTAMINATION = "electron_contamination"
    BAD = "bad"
    MISSING = "missing"


class Source(StrEnum):
    """The product a record was read from."""

    SWPC_JSON = "swpc-json"
    GOESR_AVG1M = "ncei-goesr-avg1m"
    GOES1315_AVG1M = "ncei-goes13-15-avg1m"
    GOES1315_IRRAD2S = "ncei-goes13-15-irrad-2s"
    LEGACY_AVG1M_NC = "ncei-legacy-avg1m-netcdf"
    LEGACY_AVG1M_CSV = "ncei-legacy-avg1m-csv"


class XrsRecord(BaseModel):
    """One satellite's XRS fluxes for one minute, on the true (GOES-R) flux scale.

    A channel whose flux is ``None`` had no usable value that minute; its quality
    says why. Times are the start of the minute, in UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    satellite: int = Field(ge=1, le=99, description="GOES number, e.g. 16 or 18")
    time_utc: datetime = Field(description="start of the minute, UTC")
    xrsa_flux_wm2: float | None = Field(description="XRS-A 0.05-0.4 nm, W m^-2")
    xrsb_flux_wm2: float | None = Field(description="XRS-B 0.1-0.8 nm, W m^-2")
    xrsa_quality: Quality
    xrsb_quality: Quality
    source: Source
    scale_corrected: bool = Field(
        description="True when SWPC's GOES 8-15 scaling factors were divided out"
    )

    @field_validator("time_utc")
    @classmethod
    def _minute_in_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time_utc must be timezone-aware (UTC)")
        value = value.astimezone(UTC)
        if value.second or value.microsecond:
            raise ValueError(f"time_utc {value.isoformat()} is not a whole minute")
        return value

    @field_validator("xrsa_flux_wm2", "xrsb_flux_wm2")
    @classmethod
    def _plausible_flux(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if math.isnan(value) or math.isinf(value):
            raise ValueError("flux is NaN or infinite; use None for a missing value")
        if value <= 0.0:
            raise ValueError(f"flux {value!r} is not positive")
        if value > MAX_PLAUSIBLE_FLUX_WM2:
            raise ValueError(f"flux {value!r} W/m2 is beyond any physical flare")
        return value

    @model_validator(mode="after")
    def _missing_matches_quality(self) -> XrsRecord:
        for channel in ("xrsa", "xrsb"):
            flux = getattr(self, f"{channel}_flux_wm2")
            quality = getattr(self, f"{channel}_quality")
            if flux is None and quality is Quality.GOOD:
                raise ValueError(f"{channel} has no flux but quality 'good'")
        return self

    @property
    def minute(self) -> int:
        """Minutes since the Unix epoch: the record's position on the minute grid."""
        return int(self.time_utc.timestamp()) // 60

    @property
    def key(self) -> bytes:
        """The Kafka key: the satellite, so each satellite keeps its order."""
        return str(self.satellite).encode()

    def to_bytes(self) -> bytes:
        """The Kafka value: compact JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> XrsRecord:
        """Parse a Kafka value; raises ``pydantic.ValidationError`` on bad input."""
        return cls.model_validate_json(raw)


def minute_to_datetime(minute: int) -> datetime:
    """Inverse of :attr:`XrsRecord.minute`."""
    return datetime.fromtimestamp(minute * 60, tz=UTC)
