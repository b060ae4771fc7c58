"""The one-minute XRS record that every part of the system exchanges.

A records-topic message holds one record, or (from backfills) several
consecutive records of one satellite as an :class:`XrsRecordBatch`: one Kafka
message per minute costs a consumer more per record than the record's
processing does. :func:`decode_records` reads either.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

MAX_RECORDS_PER_MESSAGE = 240
"""Four hours of one satellite (about 54 KB): the most a batch message holds."""
BATCH_PREFIX = b'{"records":'
"""How a batch message starts (its only field), as :meth:`to_bytes` writes it."""
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
        # Runs for every record a worker decodes: plain attributes, no loop.
        if self.xrsa_flux_wm2 is None and self.xrsa_quality is Quality.GOOD:
            raise ValueError("xrsa has no flux but quality 'good'")
        if self.xrsb_flux_wm2 is None and self.xrsb_quality is Quality.GOOD:
            raise ValueError("xrsb has no flux but quality 'good'")
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


class XrsRecordBatch(BaseModel):
    """Consecutive records of one satellite in one Kafka message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    records: list[XrsRecord] = Field(min_length=1, max_length=MAX_RECORDS_PER_MESSAGE)

    @model_validator(mode="after")
    def _one_satellite(self) -> XrsRecordBatch:
        # The key routes the whole message to one satellite's partition.
        satellite = self.records[0].satellite
        if any(r.satellite != satellite for r in self.records):
            raise ValueError("a batch holds one satellite's records")
        return self

    @property
    def key(self) -> bytes:
        return self.records[0].key

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


@dataclass(frozen=True)
class Rejected:
    """An element of a batch message that is not a valid record."""

    index: int
    raw: bytes
    error: ValidationError


def decode_records(raw: bytes) -> tuple[list[XrsRecord], list[Rejected]]:
    """The records of a records-topic message, and a batch's invalid elements.

    A single record that does not validate raises ``pydantic.ValidationError``,
    as does a batch that is not a JSON object with a ``records`` list. In a
    batch whose list is readable, each invalid element is returned rejected and
    the others are kept: one bad minute does not cost a day.
    """
    if not raw.startswith(BATCH_PREFIX):
        return [XrsRecord.from_bytes(raw)], []
    try:
        return XrsRecordBatch.model_validate_json(raw).records, []
    except ValidationError:
        pass
    elements = _batch_elements(raw)
    records, rejected = [], []
    for index, element in enumerate(elements):
        encoded = json.dumps(element, separators=(",", ":")).encode()
        try:
            records.append(XrsRecord.from_bytes(encoded))
        except ValidationError as exc:
            rejected.append(Rejected(index, encoded, exc))
    if records:
        # The batch's rule applies to what is left: one satellite.
        records = XrsRecordBatch(records=records).records
    return records, rejected


def _batch_elements(raw: bytes) -> list[object]:
    """The batch's list of records, unvalidated; the batch's error if unreadable."""
    try:
        value = json.loads(raw)
        elements = value["records"] if isinstance(value, dict) else None
    except (ValueError, KeyError):
        elements = None
    if not isinstance(elements, list) or not elements:
        XrsRecordBatch.model_validate_json(raw)  # raises, naming what is wrong
    return elements  # type: ignore[return-value]


def minute_to_datetime(minute: int) -> datetime:
    """Inverse of :attr:`XrsRecord.minute`."""
    return datetime.fromtimestamp(minute * 60, tz=UTC)
