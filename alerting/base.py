"""What every sink shares: the send contract, its errors, filters and backoff."""

from __future__ import annotations

import abc
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from alerting import AlertingError
from alerting.settings import Filters, RetryPolicy, SubscriberConfig
from flarecore.alerts import Alert, AlertKind
from flarecore.classes import ALERT_LEVELS, flare_class

# Receivers answering these may succeed later; any other 4xx will not (bad URL,
# bad signature, archived channel): retrying would only delay the dead letter.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class DeliveryError(AlertingError):
    """One attempt to deliver an alert failed.

    Parameters
    ----------
    detail
        What failed, for people and for the dead-letter record.
    retryable
        Whether another attempt may succeed.
    retry_after_s
        How long the receiver asked us to wait, if it said so.
    """

    def __init__(self, detail: str, *, retryable: bool,
                 retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class Sink(abc.ABC):
    """A subscriber's destination: sends one alert per call or raises."""

    def __init__(self, config: SubscriberConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        """The subscriber's name (safe to log, unlike its URL)."""
        return self.config.name

    @abc.abstractmethod
    async def send(self, alert: Alert, client: httpx.AsyncClient) -> None:
        """Deliver ``alert`` once; raise :class:`DeliveryError` on failure."""

    async def post(self, client: httpx.AsyncClient, content: bytes,
                   headers: dict[str, str]) -> httpx.Response:
        """POST to the subscriber's URL, turning every failure into DeliveryError."""
        assert self.config.url is not None  # checked by SubscriberConfig
        try:
            response = await client.post(
                self.config.url.get_secret_value(), content=content, headers=headers,
                timeout=self.config.retry.timeout_s,
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timed out: {type(exc).__name__}",
                                retryable=True) from exc
        except httpx.HTTPError as exc:
            # The exception text may contain the (secret) URL: keep only its type.
            raise DeliveryError(f"transport error: {type(exc).__name__}",
                                retryable=True) from exc
        _raise_for_status(response)
        return response


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    body = response.text[:200].replace("\n", " ")
    raise DeliveryError(
        f"HTTP {response.status_code}: {body}",
        retryable=response.status_code in RETRYABLE_STATUSES,
        retry_after_s=retry_after_s(response.headers.get("Retry-After")),
    )


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_s(policy: RetryPolicy, failed_attempts: int,
              retry_after: float | None = None) -> float:
    """Wait before the next attempt: exponential with jitter, at least Retry-After.

    "Equal jitter": half the exponential step is fixed, half random, so receivers
    recovering from an outage are not hit by every subscriber at the same instant
    while the wait still grows.
    """
    growth = 2.0 ** (failed_attempts - 1)
    step = min(policy.max_backoff_s, policy.base_backoff_s * growth)
    wait = step / 2 + random.uniform(0, step / 2)
    if retry_after is not None:
        wait = max(wait, min(retry_after, policy.max_retry_after_s))
    return wait


def matches(filters: Filters, alert: Alert) -> bool:
    """Whether a subscriber with ``filters`` wants ``alert``."""
    if filters.kinds is not None and alert.kind not in filters.kinds:
        return False
    satellites = filters.satellites
    if satellites is not None and not satellites.intersection(alert.satellites):
        return False
    if filters.min_level is None:
        return True
    return severity_wm2(alert) >= ALERT_LEVELS[filters.min_level]


def severity_wm2(alert: Alert) -> float:
    """The flux an alert is about, to compare with a minimum level.

    Early warnings count at the level they forecast (M -> M1, X -> X1); peak and
    end alerts at the flare's peak, so a subscriber to X flares hears how its X
    flares end but nothing of M flares.
    """
    if alert.kind is AlertKind.EARLY_WARNING and alert.level in ("M", "X"):
        return ALERT_LEVELS[f"{alert.level}1"]
    if alert.level in ALERT_LEVELS:
        return float(ALERT_LEVELS[alert.level])
    return max(alert.peak_flux_wm2 or 0.0, alert.observed_flux_wm2)


def utc_text(when: datetime | None) -> str:
    """``2026-05-14 12:03:00 UTC`` (or ``-``)."""
    if when is None:
        return "-"
    return as_utc(when).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_utc(when: datetime) -> datetime:
    """An aware UTC time; a naive one is taken as UTC (the schema's convention)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def satellites_text(alert: Alert) -> str:
    """``GOES-16`` or ``GOES-16+18``."""
    return "GOES-" + "+".join(str(s) for s in alert.satellites)


def headline(alert: Alert) -> str:
    """What happened, in a few words: ``X1 threshold crossed``."""
    kind = alert.kind
    if kind is AlertKind.EARLY_WARNING:
        return f"Early warning: >= {alert.level} flare likely"
    if kind is AlertKind.THRESHOLD:
        return f"{alert.level} threshold crossed"
    if kind is AlertKind.ESCALATION:
        return f"Escalation to {alert.level}"
    if kind is AlertKind.PEAK:
        return "Flare peaked"
    return "All clear: flare ended"


def lead_text(alert: Alert) -> str:
    """How early: an early warning's forecast, else the time since the flare began."""
    if alert.kind is AlertKind.EARLY_WARNING and alert.forecast is not None:
        return forecast_text(alert)
    if alert.flare_start_utc is not None:
        elapsed = as_utc(alert.data_time_utc) - as_utc(alert.flare_start_utc)
        minutes = elapsed.total_seconds() / 60
        return f"{minutes:.0f} min after flare start"
    return "-"


def shows_forecast(alert: Alert) -> bool:
    """Whether the model's view is shown apart from the lead: for every alert
    that carries it but an early warning, whose lead it already is."""
    return alert.forecast is not None and alert.kind is not AlertKind.EARLY_WARNING


def forecast_text(alert: Alert) -> str:
    """The model's view: ``peak within 30 min (P>=M 70%, P>=X 10%)``, or ``-``."""
    if alert.forecast is None:
        return "-"
    return (f"peak within {alert.forecast.horizon_minutes} min "
            f"(P>=M {alert.forecast.p_ge_m:.0%}, P>=X {alert.forecast.p_ge_x:.0%})")


def summary_line(alert: Alert) -> str:
    """The alert on one line for people: class, flux, R level, lead, satellite, time."""
    parts = [
        utc_text(alert.data_time_utc), headline(alert),
        f"class={alert.observed_class}", f"flux={alert.observed_flux_wm2:.2e}W/m2",
        f"R{alert.r_level}", satellites_text(alert), f"lead={lead_text(alert)}",
    ]
    if shows_forecast(alert):
        parts.append(f"forecast={forecast_text(alert)}")
    if alert.peak_flux_wm2 is not None:
        at = f"@{utc_text(alert.peak_time_utc)}" if alert.peak_time_utc else ""
        parts.append(f"peak={flare_class(alert.peak_flux_wm2)}{at}")
    parts += [f"flare={alert.flare_id}", f"id={alert.alert_id}"]
    return " | ".join(parts)
