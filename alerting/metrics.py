"""Prometheus metrics of the alerting process (served on ``metrics_port``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "flare_alerting_deliveries_total",
    "Alerts handled per subscriber, by outcome (delivered, dead_lettered, filtered)",
    ["subscriber", "outcome"],
)
ATTEMPTS = Counter(
    "flare_alerting_attempts_total",
    "HTTP (or print) attempts per subscriber, by result (ok, retryable, permanent)",
    ["subscriber", "result"],
)
LATENCY = Histogram(
    "flare_alerting_delivery_latency_seconds",
    "From the alert's issued_utc to the subscriber's acknowledgement",
    ["subscriber"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
             3600),
)
DEAD_LETTERED = Counter(
    "flare_alerting_dead_lettered_total",
    "Records sent to the dead-letter topic, by subscriber ('-' when malformed) "
    "and reason",
    ["subscriber", "reason"],
)
IN_FLIGHT = Gauge(
    "flare_alerting_in_flight",
    "Alerts read but not yet delivered or dead-lettered by every subscriber",
)
