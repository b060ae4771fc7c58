"""Forecast verification: minute-level skill scores and flare-event metrics.

Minute level: each labelled minute is a yes/no forecast of "peak >= M (or X) within
the horizon". Event level (what users feel): an **event** starts at a crossing, the
first minute with XRS-B at or above the level after at least
:data:`QUIET_MINUTES` minutes below it; an **early warning** of an event is the
first warning issued in ``[crossing - H, crossing)``, its lead is ``crossing -
warning``; a warning episode that no crossing follows within ``H`` is a **false
warning**. See ``docs/trainer.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import f1_score

from flarecore.classes import CLASS_LETTERS
from flarecore.engine import WARNING_QUIET_MINUTES

QUIET_MINUTES = 30
"""Minutes below the level that must precede a crossing for it to start an event."""

MIN_QUIET_OBSERVED = 15
"""Of those, at least this many must be observed (a data gap is not 'below')."""


class SkillScores(BaseModel):
    """2x2 contingency scores of a yes/no forecast against what happened."""

    model_config = ConfigDict(frozen=True)

    hits: int
    misses: int
    false_alarms: int
    correct_negatives: int
    pod: float | None
    far: float | None
    tss: float | None
    hss: float | None
    brier_skill: float | None = None


class EventMetrics(BaseModel):
    """Early-warning performance over flare events (the report's ``m1``/``x1``)."""

    model_config = ConfigDict(frozen=True)

    events: int
    warned_early: int
    lead_minutes_median: float | None
    lead_minutes_p25: float | None
    lead_minutes_p75: float | None
    false_warnings: int
    true_warnings: int
    false_warning_ratio: float | None
    warned_early_fraction: float | None


@dataclass(frozen=True)
class Series:
    """One satellite's XRS-B flux and warnings on a dense minute grid."""

    satellite: int
    minutes: np.ndarray
    xrsb_wm2: np.ndarray


def skill(observed: np.ndarray, forecast: np.ndarray,
          probability: np.ndarray | None = None,
          climatology: float | None = None) -> SkillScores:
    """Scores of boolean ``forecast`` against boolean ``observed``.

    Brier skill is against a constant forecast of ``climatology`` (the base rate
    of the training data; the observed base rate if not given).
    """
    observed = np.asarray(observed, dtype=bool)
    forecast = np.asarray(forecast, dtype=bool)
    a = int((forecast & observed).sum())
    b = int((forecast & ~observed).sum())
    c = int((~forecast & observed).sum())
    d = int((~forecast & ~observed).sum())
    pod = _ratio(a, a + c)
    pofd = _ratio(b, b + d)
    denominator = (a + c) * (c + d) + (a + b) * (b + d)
    return SkillScores(
        hits=a, misses=c, false_alarms=b, correct_negatives=d, pod=pod,
        far=_ratio(b, a + b),
        tss=None if pod is None or pofd is None else pod - pofd,
        hss=_ratio(2 * (a * d - b * c), denominator),
        brier_skill=None if probability is None else brier_skill(
            observed, probability, climatology),
    )


def brier_skill(observed: np.ndarray, probability: np.ndarray,
                climatology: float | None = None) -> float | None:
    """``1 - BS / BS_climatology``; 1 is perfect, 0 no better than the base rate."""
    outcome = np.asarray(observed, dtype=np.float64)
    if outcome.size == 0:
        return None
    base = float(outcome.mean()) if climatology is None else climatology
    reference = float(np.mean((base - outcome) ** 2))
    if reference == 0.0:
        return None
    return 1.0 - float(np.mean((np.asarray(probability) - outcome) ** 2)) / reference


def class_f1(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """F1 of each class letter (one-vs-rest), 0 for a class never seen or said."""
    scores = f1_score(labels, predicted, labels=list(range(len(CLASS_LETTERS))),
                      average=None, zero_division=0.0)
    return dict(zip(CLASS_LETTERS, (float(s) for s in scores), strict=True))


def crossings(series: Series, level_wm2: float) -> np.ndarray:
    """Minutes at which an event of ``level_wm2`` starts (see the module doc)."""
    flux = series.xrsb_wm2
    above = flux >= level_wm2
    observed = ~np.isnan(flux)
    result = []
    for index in np.flatnonzero(above):
        if index < QUIET_MINUTES:
            continue
        window = slice(index - QUIET_MINUTES, index)
        if above[window].any() or observed[window].sum() < MIN_QUIET_OBSERVED:
            continue
        result.append(series.minutes[index])
    return np.asarray(result, dtype=np.int64)


def warning_alerts(minutes: np.ndarray, hot: np.ndarray, xrsb_wm2: np.ndarray,
                   level_wm2: float,
                   quiet_minutes: int = WARNING_QUIET_MINUTES) -> np.ndarray:
    """Minutes of the early-warning alerts the stream engine would issue.

    Mirrors :class:`flarecore.engine.SatelliteEngine`: an episode opens at a
    minute whose forecast is at or above the threshold (``hot``) and closes after
    ``quiet_minutes`` forecast minutes below it; it alerts once, at its first hot
    minute whose flux is still below the level. Rows must be one satellite's
    minutes in order, each with an XRS-B value (rows without one are skipped).
    """
    usable = ~np.isnan(xrsb_wm2)
    minutes, hot, flux = minutes[usable], np.asarray(hot)[usable], xrsb_wm2[usable]
    hot_rows = np.flatnonzero(hot)
    if hot_rows.size == 0:
        return np.empty(0, dtype=np.int64)
    cold_before = np.cumsum(~hot)[hot_rows]
    opens = np.concatenate([[True], np.diff(cold_before) >= quiet_minutes])
    episode = np.cumsum(opens)
    below = flux[hot_rows] < level_wm2
    alerting_episode = episode[below]
    first = np.diff(alerting_episode, prepend=-1) > 0
    return minutes[hot_rows[below][first]].astype(np.int64)


def event_metrics(events: dict[int, np.ndarray], warnings: dict[int, np.ndarray],
                  horizon_minutes: int) -> EventMetrics:
    """Event metrics from crossing minutes and warning-episode start minutes.

    Both map a satellite to sorted minutes; a warning only counts for events seen
    by its own satellite.
    """
    leads: list[float] = []
    true_warnings = false_warnings = 0
    for satellite in sorted(set(events) | set(warnings)):
        crossing = np.asarray(events.get(satellite, []), dtype=np.int64)
        warned = np.asarray(warnings.get(satellite, []), dtype=np.int64)
        leads += [_lead(c, warned, horizon_minutes) for c in crossing]
        followed = [_followed(w, crossing, horizon_minutes) for w in warned]
        true_warnings += sum(followed)
        false_warnings += len(followed) - sum(followed)
    lead = np.asarray(leads)
    early = int((lead > 0).sum())
    return EventMetrics(
        events=len(leads), warned_early=early,
        lead_minutes_median=_quantile(lead, 0.5),
        lead_minutes_p25=_quantile(lead, 0.25),
        lead_minutes_p75=_quantile(lead, 0.75),
        false_warnings=false_warnings, true_warnings=true_warnings,
        false_warning_ratio=_ratio(false_warnings, false_warnings + true_warnings),
        warned_early_fraction=_ratio(early, len(leads)),
    )


def dense_series(satellite: int, minutes: np.ndarray, xrsb_wm2: np.ndarray
                 ) -> Series:
    """A satellite's flux on a gap-free minute grid (NaN where no row exists)."""
    if minutes.size == 0:
        return Series(satellite, minutes.astype(np.int64), xrsb_wm2)
    start = int(minutes.min())
    grid = np.arange(start, int(minutes.max()) + 1, dtype=np.int64)
    flux = np.full(grid.size, np.nan)
    flux[minutes - start] = xrsb_wm2
    return Series(satellite, grid, flux)


def _lead(crossing: int, warned: np.ndarray, horizon_minutes: int) -> float:
    """Minutes from the first warning in ``[crossing - H, crossing)``; 0 if none."""
    inside = warned[(warned >= crossing - horizon_minutes) & (warned < crossing)]
    return float(crossing - inside.min()) if inside.size else 0.0


def _followed(warning: int, crossing: np.ndarray, horizon_minutes: int) -> bool:
    """Whether a crossing comes at or after the warning, within the horizon."""
    return bool(((crossing >= warning) & (crossing <= warning + horizon_minutes)).any())


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if values.size else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / denominator if denominator else None
