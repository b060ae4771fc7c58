"""Inputs that could not be accepted: kept with their reason, never dropped."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class QuarantinedInput(BaseModel):
    """One rejected input, as published to the quarantine topic.

    ``raw`` holds the input as received: text where it decodes as UTF-8, otherwise
    base64 with ``raw_encoding`` set to ``"base64"``.
    """

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="URL, file path or topic[partition]@offset")
    reason: str = Field(description="machine-friendly reason, e.g. nan_flux")
    detail: str = Field(description="what was wrong, for people")
    raw: str
    raw_encoding: str = "utf-8"
    stage: str = Field(description="which component rejected it, e.g. swpc-poller")
    received_utc: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, raw: bytes | str, *, source: str, reason: str, detail: str,
           stage: str, max_raw_bytes: int = 64_000) -> QuarantinedInput:
        """Build a quarantine entry, truncating huge raw inputs to ``max_raw_bytes``."""
        data = raw.encode() if isinstance(raw, str) else raw
        if len(data) > max_raw_bytes:
            detail = f"{detail} (raw input of {len(data)} bytes truncated)"
            data = data[:max_raw_bytes]
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(data).decode(), "base64"
        return cls(source=source, reason=reason, detail=detail, raw=text,
                   raw_encoding=encoding, stage=stage)

    def to_bytes(self) -> bytes:
        """The Kafka value."""
        return self.model_dump_json().encode()
