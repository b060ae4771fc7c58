"""Producers: put GOES XRS minutes into Kafka.

``python -m producers swpc`` polls SWPC's real-time JSON; ``replay`` publishes
archive files through the same path; ``download`` fetches NCEI archive files.
"""

from __future__ import annotations

from flarecore.errors import FlareError


class ProducerError(FlareError):
    """A producer could not do what it was asked (after its retries)."""
