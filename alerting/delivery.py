"""Deliver one alert to one subscriber: attempts, backoff, Retry-After, metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from alerting import metrics
from alerting.base import DeliveryError, Sink, as_utc, backoff_s
from flarecore.alerts import Alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended."""

    delivered: bool
    attempts: int
    error: str | None = None


async def deliver(sink: Sink, alert: Alert, client: httpx.AsyncClient) -> Outcome:
    """Try the subscriber until it accepts the alert or its retry policy is spent."""
    policy = sink.config.retry
    for attempt in range(1, policy.attempts + 1):
        try:
            await _attempt(sink, alert, client)
        except DeliveryError as exc:
            metrics.ATTEMPTS.labels(sink.name, _result(exc)).inc()
            if not exc.retryable or attempt == policy.attempts:
                return _abandon(sink, alert, attempt, exc)
            wait_s = backoff_s(policy, attempt, exc.retry_after_s)
            logger.warning("delivery failed subscriber=%s alert_id=%s attempt=%d "
                           "error=%r retry_in_s=%.2f", sink.name, alert.alert_id,
                           attempt, exc.detail, wait_s)
            await asyncio.sleep(wait_s)
            continue
        metrics.ATTEMPTS.labels(sink.name, "ok").inc()
        _record_success(sink, alert, attempt)
        return Outcome(delivered=True, attempts=attempt)
    raise AssertionError("unreachable: the loop returns on its last attempt")


async def _attempt(sink: Sink, alert: Alert, client: httpx.AsyncClient) -> None:
    try:
        await sink.send(alert, client)
    except DeliveryError:
        raise
    except Exception as exc:
        # A bug in a sink must not stop the subscriber's worker: treat it as a
        # permanent failure, so the alert is dead-lettered with the reason.
        logger.exception("sink failed unexpectedly subscriber=%s alert_id=%s",
                         sink.name, alert.alert_id)
        raise DeliveryError(f"unexpected {type(exc).__name__}: {exc}",
                            retryable=False) from exc


def _result(exc: DeliveryError) -> str:
    return "retryable" if exc.retryable else "permanent"


def _abandon(sink: Sink, alert: Alert, attempts: int, exc: DeliveryError) -> Outcome:
    logger.error("delivery abandoned subscriber=%s alert_id=%s attempts=%d error=%r",
                 sink.name, alert.alert_id, attempts, exc.detail)
    return Outcome(delivered=False, attempts=attempts, error=exc.detail)


def _record_success(sink: Sink, alert: Alert, attempts: int) -> None:
    latency_s = (datetime.now(UTC) - as_utc(alert.issued_utc)).total_seconds()
    metrics.LATENCY.labels(sink.name).observe(max(0.0, latency_s))
    metrics.DELIVERIES.labels(sink.name, "delivered").inc()
    logger.info("alert delivered subscriber=%s alert_id=%s kind=%s level=%s "
                "attempts=%d latency_s=%.3f", sink.name, alert.alert_id, alert.kind,
                alert.level, attempts, latency_s)
