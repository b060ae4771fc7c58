"""Filters, backoff, Retry-After and the one-line summary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.base import backoff_s, matches, retry_after_s, severity_wm2, summary_line
from alerting.settings import Filters, RetryPolicy
from flarecore.alerts import AlertKind, Forecast
from tests.unit.alerting.factory import synthetic_alert


def test_backoff_grows_exponentially_with_jitter_up_to_max() -> None:
    policy = RetryPolicy(base_backoff_s=1, max_backoff_s=8)
    for failed, step in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = [backoff_s(policy, failed) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits)
        assert len(set(waits)) > 1  # jittered


def test_backoff_honours_retry_after_up_to_its_cap() -> None:
    policy = RetryPolicy(base_backoff_s=0.1, max_backoff_s=1, max_retry_after_s=30)
    assert backoff_s(policy, 1, retry_after=12) == 12
    assert backoff_s(policy, 1, retry_after=3600) == 30


@pytest.mark.parametrize(("header", "expected"), [
    ("7", 7.0), (" 0 ", 0.0), ("Thu, 03 Dec 2026 20:00:30 GMT", 30.0),
    ("Thu, 03 Dec 2026 19:00:00 GMT", 0.0), ("soon", None), (None, None), ("", None),
])
def test_retry_after_seconds_and_http_dates(header: str | None,
                                            expected: float | None) -> None:
    now = datetime(2026, 12, 3, 20, 0, 0, tzinfo=UTC)
    assert retry_after_s(header, now=now) == expected


@pytest.mark.parametrize(("kind", "level", "flux_wm2", "min_level", "wanted"), [
    (AlertKind.THRESHOLD, "M1", 1.2e-5, "M5", False),
    (AlertKind.THRESHOLD, "M5", 5.1e-5, "M5", True),
    (AlertKind.ESCALATION, "X1", 1.1e-4, "M5", True),
    (AlertKind.EARLY_WARNING, "M", 3e-6, "M1", True),
    (AlertKind.EARLY_WARNING, "M", 3e-6, "X1", False),
    (AlertKind.EARLY_WARNING, "X", 3e-6, "X1", True),
    (AlertKind.PEAK, None, 2.4e-4, "X1", True),
    (AlertKind.END, None, 1.2e-5, "X1", False),
])
def test_matches_min_level_per_kind_synthetic(kind: AlertKind, level: str | None,
                                              flux_wm2: float, min_level: str,
                                              wanted: bool) -> None:
    alert = synthetic_alert(kind, level, observed_flux_wm2=flux_wm2)
    assert matches(Filters(min_level=min_level), alert) is wanted


def test_severity_of_end_uses_flare_peak_synthetic() -> None:
    alert = synthetic_alert(AlertKind.END, None, observed_flux_wm2=2e-6,
                            peak_flux_wm2=3e-4)
    assert severity_wm2(alert) == 3e-4


def test_matches_kinds_and_satellites_synthetic() -> None:
    alert = synthetic_alert(AlertKind.THRESHOLD, "M1", satellites=[16, 18])
    assert matches(Filters(), alert)
    assert matches(Filters(satellites=frozenset({18})), alert)
    assert not matches(Filters(satellites=frozenset({19})), alert)
    assert not matches(Filters(kinds=frozenset({AlertKind.END})), alert)


def test_summary_line_names_class_flux_level_lead_satellite_synthetic() -> None:
    alert = synthetic_alert(AlertKind.THRESHOLD, "X1", observed_flux_wm2=1.34e-4,
                            data_time_utc=datetime(2026, 5, 14, 12, 3, tzinfo=UTC),
                            flare_start_utc=datetime(2026, 5, 14, 11, 55, tzinfo=UTC))
    line = summary_line(alert)
    assert "\n" not in line
    for part in ["2026-05-14 12:03:00 UTC", "X1 threshold crossed", "class=X1.3",
                 "flux=1.34e-04W/m2", "R3", "GOES-16", "8 min after flare start",
                 f"id={alert.alert_id}"]:
        assert part in line


def test_summary_line_keeps_lead_and_forecast_apart_synthetic() -> None:
    # Real threshold alerts carry the model's view too; it is not their lead.
    forecast = Forecast(p_ge_m=1.0, p_ge_x=0.02, expected_class="M",
                        horizon_minutes=30, model_version="test")
    alert = synthetic_alert(AlertKind.THRESHOLD, "M1", forecast=forecast,
                            data_time_utc=datetime(2014, 1, 28, 0, 35, tzinfo=UTC),
                            flare_start_utc=datetime(2014, 1, 28, 0, 31, tzinfo=UTC))
    warning = synthetic_alert(AlertKind.EARLY_WARNING, "M")

    line = summary_line(alert)

    assert "lead=4 min after flare start" in line
    assert "forecast=peak within 30 min (P>=M 100%, P>=X 2%)" in line
    assert "lead=peak within 30 min (P>=M 70%, P>=X 10%)" in summary_line(warning)
    assert "forecast=" not in summary_line(warning)
