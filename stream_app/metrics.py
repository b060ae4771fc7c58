"""Prometheus metrics of a stream worker, on its own registry."""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    """Every metric ``/metrics`` exposes (names start with ``flare_stream_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records = Counter("flare_stream_records", "records processed",
                               ["satellite"], registry=r)
        self.ignored = Counter("flare_stream_records_ignored",
                               "records ignored (duplicate, late, other satellite)",
                               ["reason"], registry=r)
        self.quarantined = Counter("flare_stream_quarantined",
                                   "records sent to the quarantine topic",
                                   ["reason"], registry=r)
        self.batch_retries = Counter(
            "flare_stream_batch_retries",
            "record batches that failed and were tried again", registry=r)
        self.gaps = Counter(
            "flare_stream_record_gaps",
            "times the consumer went past records, which were then read again",
            registry=r)
        self.reread = Counter("flare_stream_records_reread",
                              "records read again to fill a gap", registry=r)
        self.batch_seconds = Histogram(
            "flare_stream_batch_seconds", "processing time of one batch",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r)
        self.latency = Histogram(
            "flare_stream_latency_seconds",
            "from the record's Kafka timestamp to the end of its processing",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=r)
        self.lag = Gauge("flare_stream_consumer_lag",
                         "records behind the high watermark", ["partition"],
                         registry=r)
        self.alerts = Counter("flare_stream_alerts", "alerts published",
                              ["kind"], registry=r)
        self.candidates = Counter("flare_stream_alert_candidates",
                                  "alert candidates from the engines", ["kind"],
                                  registry=r)
        self.model = Gauge("flare_stream_model_info",
                           "1 for the model version being served", ["version"],
                           registry=r)
        self.reloads = Counter("flare_stream_model_reloads",
                               "model (re)loads by result", ["result"], registry=r)
        self.data_age = Gauge("flare_stream_data_age_seconds",
                              "now minus the newest data minute", ["satellite"],
                              registry=r)
        self.last_data_minute: dict[int, int] = {}
        self.last_processed_s: float | None = None
        """Wall-clock time of the last processed batch (for /ready)."""

    def serving(self, version: str) -> None:
        """Mark ``version`` as the model being served."""
        self.model.clear()
        self.model.labels(version=version).set(1)

    def render(self) -> bytes:
        """The text exposition, with data ages computed now."""
        now_s = time.time()
        for satellite, minute in self.last_data_minute.items():
            self.data_age.labels(satellite=str(satellite)).set(now_s - minute * 60)
        return generate_latest(self.registry)
