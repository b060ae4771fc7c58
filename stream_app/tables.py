"""Topics and changelog-backed tables of the stream app, and worker-local state.

``engines`` and ``current`` are keyed by satellite and co-partitioned with the
records topic, so a satellite's state lives in the partition its records come
from and moves with it on a rebalance. ``positions``, keyed by partition, holds
the last record offset processed in each, so a worker handed records past it
reads the ones in between (:mod:`stream_app.gaps`). ``dedup`` holds the
cross-satellite deduplicator and the recent alerts; its topic has one partition,
so exactly one worker deduplicates.
"""

from __future__ import annotations

from typing import Any

from flarecore.alerts import Alert
from stream_app.app import app, settings
from stream_app.metrics import Metrics
from stream_app.model import ModelHolder

records_topic = app.topic(
    settings.topics.records, key_serializer="raw", value_serializer="raw",
    partitions=settings.topics.records_partitions,
)
quarantine_topic = app.topic(settings.topics.quarantine, key_serializer="raw",
                             value_serializer="raw")
candidates_topic = app.topic(settings.candidates, key_serializer="raw",
                             value_serializer="raw", partitions=1, internal=True)
alerts_topic = app.topic(settings.topics.alerts, key_serializer="raw",
                         value_serializer="raw")

engines = app.Table("engines", key_type=str,
                    partitions=settings.topics.records_partitions,
                    help="SatelliteEngine state per satellite")
current = app.Table("current", key_type=str,
                    partitions=settings.topics.records_partitions,
                    help="the latest minute state per satellite")
positions = app.Table("positions", key_type=str,
                      partitions=settings.topics.records_partitions,
                      help="last processed offset per records partition")
dedup = app.Table("dedup", key_type=str, partitions=1,
                  help="AlertDeduplicator state and the recent alerts")

metrics = Metrics()
model = ModelHolder(metrics)

RECENT_SEQUENCE = "recent_sequence"
"""``dedup`` key of the number of alerts published so far (the ring's position)."""


def remember_recent(alert: Alert) -> None:
    """Keep the alert for ``/alerts`` in a ring of ``recent_alerts_kept`` keys.

    One key per alert: rewriting a list of hundreds of alerts (and sending it
    to the changelog) for each new one cost a backfill seconds.
    """
    sequence = int(dedup.get(RECENT_SEQUENCE) or 0)
    dedup[_recent_key(sequence)] = alert.model_dump(mode="json")
    dedup[RECENT_SEQUENCE] = sequence + 1


def recent_alerts() -> list[dict[str, Any]]:
    """The kept alerts, newest first."""
    sequence = int(dedup.get(RECENT_SEQUENCE) or 0)
    oldest = max(0, sequence - settings.recent_alerts_kept)
    kept = (dedup.get(_recent_key(n)) for n in range(sequence - 1, oldest - 1, -1))
    return [alert for alert in kept if alert is not None]


def _recent_key(sequence: int) -> str:
    return f"recent/{sequence % settings.recent_alerts_kept}"
