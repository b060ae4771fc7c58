"""``/predict``: class probabilities for XRS histories posted over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from flarecore.classes import CLASS_LETTERS, flare_class
from flarecore.features import LOOKBACK_MINUTES, MinuteGrid, compute
from flarecore.forecast import M_INDEX, X_INDEX, Forecaster
from flarecore.records import MAX_PLAUSIBLE_FLUX_WM2


class MinuteIn(BaseModel):
    """One minute of a posted history; fluxes on the true scale, W m^-2."""

    model_config = ConfigDict(extra="forbid")

    time_utc: datetime
    xrsa_flux_wm2: float | None = Field(default=None, gt=0,
                                        le=MAX_PLAUSIBLE_FLUX_WM2)
    xrsb_flux_wm2: float | None = Field(gt=0, le=MAX_PLAUSIBLE_FLUX_WM2)

    @field_validator("time_utc")
    @classmethod
    def _whole_utc_minute(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time_utc must carry a timezone (UTC)")
        value = value.astimezone(UTC)
        if value.second or value.microsecond:
            raise ValueError("time_utc must be a whole minute")
        return value

    @property
    def minute(self) -> int:
        return int(self.time_utc.timestamp()) // 60


class HistoryIn(BaseModel):
    """The recent minutes of one satellite, any order; the forecast is for the
    last one. Up to 120 minutes are used (the features' lookback)."""

    model_config = ConfigDict(extra="forbid")

    satellite: int | None = Field(default=None, ge=1, le=99)
    minutes: list[MinuteIn] = Field(min_length=1)


class PredictRequest(BaseModel):
    """The body of ``POST /predict``."""

    model_config = ConfigDict(extra="forbid")

    histories: list[HistoryIn] = Field(min_length=1)

    def too_large(self, max_histories: int, max_minutes: int) -> str | None:
        """Why the request exceeds the limits, or None."""
        if len(self.histories) > max_histories:
            return f"{len(self.histories)} histories, at most {max_histories}"
        for index, history in enumerate(self.histories):
            if len(history.minutes) > max_minutes:
                return (f"histories[{index}] has {len(history.minutes)} minutes, "
                        f"at most {max_minutes}")
        return None


def _lookback(minutes: list[MinuteIn]) -> list[MinuteIn]:
    """The minutes the last one's features can see.

    The grid spans first to last minute: two minutes years apart would ask for
    gigabytes (a 500, or a worker killed for memory), for features that look
    back only LOOKBACK_MINUTES anyway.
    """
    last = max(m.minute for m in minutes)
    return [m for m in minutes if m.minute > last - LOOKBACK_MINUTES]


def predict(forecaster: Forecaster, request: PredictRequest) -> list[dict[str, object]]:
    """Forecast for the last minute of each history, one model call for all."""
    rows, lasts = [], []
    for history in request.histories:
        used = _lookback(history.minutes)
        grid = MinuteGrid.from_points(
            np.array([m.minute for m in used], dtype=np.int64),
            np.array([m.xrsa_flux_wm2 or np.nan for m in used]),
            np.array([m.xrsb_flux_wm2 or np.nan for m in used]),
        )
        rows.append(compute(grid)[-1])
        lasts.append(grid)
    proba = forecaster.predict_proba(np.vstack(rows))
    info = forecaster.info
    results: list[dict[str, object]] = []
    for history, grid, p in zip(request.histories, lasts, proba, strict=True):
        last_b = float(grid.xrsb_wm2[-1])
        known = not np.isnan(last_b)
        p_m, p_x = float(p[M_INDEX:].sum()), float(p[X_INDEX])
        results.append({
            "satellite": history.satellite,
            "time_utc": datetime.fromtimestamp(
                (grid.start_minute + len(grid) - 1) * 60, UTC).isoformat(),
            "observed_flux_wm2": last_b if known else None,
            "observed_class": flare_class(last_b) if known else None,
            # Without a current XRS-B the growth model has no reference: no forecast.
            "proba": ({c: float(v) for c, v in zip(CLASS_LETTERS, p, strict=True)}
                      if known else None),
            "p_ge_m": p_m if known else None, "p_ge_x": p_x if known else None,
            "expected_class": CLASS_LETTERS[int(np.argmax(p))] if known else None,
            "warn_m": known and info.thresholds.hot_m(p_m, last_b),
            "warn_x": known and info.thresholds.hot_x(p_x, last_b),
            "model_version": info.version,
            "horizon_minutes": info.horizon_minutes,
        })
    return results
