"""Made-up alerts for tests (synthetic: no real flare behind them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flarecore.alerts import Alert, AlertKind, Forecast, alert_id
from flarecore.classes import flare_class, r_level

_LEVEL_FLUX_WM2 = {"M1": 1.2e-5, "M5": 5.3e-5, "X1": 1.3e-4, "X10": 1.1e-3,
                   "X20": 2.2e-3}


def synthetic_alert(kind: AlertKind = AlertKind.THRESHOLD, level: str | None = "M1",
                    flare_id: str = "synthetic-flare-1", **overrides: Any) -> Alert:
    """A made-up but schema-valid alert; issued now unless overridden."""
    now = datetime.now(UTC)
    default_flux_wm2 = _LEVEL_FLUX_WM2.get(level or "", 3e-6)
    flux_wm2 = overrides.pop("observed_flux_wm2", default_flux_wm2)
    fields: dict[str, Any] = {
        "alert_id": alert_id(flare_id, kind, level), "kind": kind, "level": level,
        "r_level": r_level(flux_wm2), "flare_id": flare_id, "satellites": [16],
        "data_time_utc": now - timedelta(minutes=1), "issued_utc": now,
        "observed_flux_wm2": flux_wm2, "observed_class": flare_class(flux_wm2),
        "flare_start_utc": now - timedelta(minutes=9),
        "message": f"synthetic {kind} {level} for tests",
    }
    if kind is AlertKind.EARLY_WARNING:
        fields["forecast"] = Forecast(p_ge_m=0.7, p_ge_x=0.1, expected_class="M",
                                      horizon_minutes=30, model_version="test")
    fields.update(overrides)
    return Alert(**fields)


def synthetic_series(count: int, prefix: str = "synthetic-flare") -> list[Alert]:
    """``count`` distinct made-up threshold alerts, one flare each."""
    return [synthetic_alert(flare_id=f"{prefix}-{i:04d}") for i in range(count)]
