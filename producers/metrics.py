"""Prometheus metrics of the producers, in a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ProducerMetrics:
    """Polls, HTTP statuses, published and quarantined counts, freshness."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.polls = Counter("flare_swpc_polls", "SWPC polls by feed and outcome",
                             ["feed", "outcome"], registry=self.registry)
        self.http_status = Counter("flare_swpc_http_responses",
                                   "SWPC HTTP responses by status code",
                                   ["feed", "status"], registry=self.registry)
        self.published = Counter("flare_records_published",
                                 "XRS minutes published", ["satellite"],
                                 registry=self.registry)
        self.quarantined = Counter("flare_records_quarantined",
                                   "inputs sent to the quarantine topic", ["reason"],
                                   registry=self.registry)
        self.newest_minute = Gauge("flare_newest_minute_timestamp_seconds",
                                   "start of the newest published minute (Unix s)",
                                   ["satellite"], registry=self.registry)
        self.pending = Gauge("flare_records_pending",
                             "minutes read but not yet published",
                             registry=self.registry)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent), for tests and logs."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found
