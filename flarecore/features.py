"""Features of the recent XRS history, shared by training and serving.

Every feature at minute ``t`` depends only on the minutes ``t - LOOKBACK_MINUTES + 1``
to ``t`` of one satellite. The trainer computes them over a whole archive at once;
the stream app keeps the last ``LOOKBACK_MINUTES`` minutes per satellite and computes
them over that history plus the newly arrived minutes. Both call :func:`compute`, so
the two give identical values (a test checks it on a real day).

Input is a regular minute grid (:class:`MinuteGrid`): missing or flagged minutes are
NaN, never skipped, so that a "5-minute difference" always spans 5 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

LOOKBACK_MINUTES = 120
"""The history a feature may look at, the current minute included."""

_DIFF_B = (1, 3, 5, 10, 30, 60)
_DIFF_A = (1, 5, 10)
_SLOPE_B = (5, 15, 30)
_BACKGROUND = 60
_RECENT_MAX = 60
_QUALITY = 60
_RISING_LOG10_PER_MIN = 0.005
"""A minute's XRS-B growth above which :func:`_minutes_to` extrapolates."""
_NOT_APPROACHING_MIN = 999.0
""":func:`_minutes_to`'s value when the flux is not rising."""
M1_LOG10 = -5.0

FEATURE_NAMES: tuple[str, ...] = (
    "log_b",
    "log_a",
    *(f"dlog_b_{k}" for k in _DIFF_B),
    *(f"dlog_a_{k}" for k in _DIFF_A),
    *(f"slope_log_b_{k}" for k in _SLOPE_B),
    "log_ratio_ab",
    "dlog_ratio_ab_5",
    "log_bg_b",
    "log_b_above_bg",
    "log_b_below_max_60",
    "rise_minutes",
    "minutes_since_rise_start",
    "accel_log_b",
    "accel_log_a",
    "minutes_to_m1",
    "missing_frac_60",
    "minutes_since_missing",
    "flagged_now",
)
"""Column order of :func:`compute`'s result. Logs are base 10 of W m^-2."""


@dataclass(frozen=True)
class MinuteGrid:
    """Consecutive minutes of one satellite, NaN where a channel has no good value.

    Attributes
    ----------
    start_minute
        Minutes since the Unix epoch of the first row.
    xrsa_wm2, xrsb_wm2
        Fluxes on the true scale, W m^-2, float64, one per minute.
    """

    start_minute: int
    xrsa_wm2: np.ndarray
    xrsb_wm2: np.ndarray

    def __post_init__(self) -> None:
        if self.xrsa_wm2.shape != self.xrsb_wm2.shape or self.xrsa_wm2.ndim != 1:
            raise ValueError("xrsa_wm2 and xrsb_wm2 must be 1-D arrays of one length")

    def __len__(self) -> int:
        return int(self.xrsb_wm2.shape[0])

    @property
    def minutes(self) -> np.ndarray:
        """Minute index of each row."""
        return np.arange(self.start_minute, self.start_minute + len(self),
                         dtype=np.int64)

    @classmethod
    def from_points(cls, minutes: np.ndarray, xrsa_wm2: np.ndarray,
                    xrsb_wm2: np.ndarray) -> MinuteGrid:
        """Place scattered minutes on a regular grid, NaN in the gaps.

        Duplicate minutes keep the last value given.
        """
        minutes = np.asarray(minutes, dtype=np.int64)
        if minutes.size == 0:
            return cls(0, np.empty(0), np.empty(0))
        start = int(minutes.min())
        size = int(minutes.max()) - start + 1
        xrsa = np.full(size, np.nan)
        xrsb = np.full(size, np.nan)
        xrsa[minutes - start] = xrsa_wm2
        xrsb[minutes - start] = xrsb_wm2
        return cls(start, xrsa, xrsb)


def compute(grid: MinuteGrid) -> np.ndarray:
    """Features of every minute of ``grid``, shape ``(len(grid), len(FEATURE_NAMES))``.

    Rows in the first ``LOOKBACK_MINUTES - 1`` minutes see a truncated history, as
    if the minutes before the grid were missing.
    """
    if len(grid) == 0:
        return np.empty((0, len(FEATURE_NAMES)))
    pad = LOOKBACK_MINUTES - 1
    log_b = _log10(np.concatenate([np.full(pad, np.nan), grid.xrsb_wm2]))
    log_a = _log10(np.concatenate([np.full(pad, np.nan), grid.xrsa_wm2]))
    log_ratio = log_a - log_b

    columns: list[np.ndarray] = [log_b[pad:], log_a[pad:]]
    columns += [_diff(log_b, k, pad) for k in _DIFF_B]
    columns += [_diff(log_a, k, pad) for k in _DIFF_A]
    columns += [_slope(log_b, k, pad) for k in _SLOPE_B]
    columns += [log_ratio[pad:], _diff(log_ratio, 5, pad)]

    background = _window_nanmin(log_b, _BACKGROUND, pad)
    columns += [background, log_b[pad:] - background]
    columns.append(log_b[pad:] - _window_nanmax(log_b, _RECENT_MAX, pad))
    columns += _rise(log_b, pad)
    columns += [_acceleration(log_b, 3, pad), _acceleration(log_a, 5, pad),
                _minutes_to(M1_LOG10, log_b, pad)]
    columns += _quality(log_b, log_a, pad)

    return np.column_stack(columns)


def _log10(flux_wm2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(flux_wm2)
    logs[~np.isfinite(logs)] = np.nan
    return logs


def _diff(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    """``series[t] - series[t - k]`` for the rows after the padding."""
    return series[pad:] - series[pad - k:len(series) - k]


def _windows(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    """Trailing windows of length ``k`` ending at each row after the padding."""
    return sliding_window_view(series[pad - k + 1:], k)


def _acceleration(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    """The last minute's growth minus the mean growth of the ``k - 1`` before it.

    Positive while a rise speeds up: an impulsive phase that is still building.
    """
    last = _diff(series, 1, pad)
    before = series[pad - 1:len(series) - 1] - series[pad - k:len(series) - k]
    return last - before / (k - 1)


def _minutes_to(level_log10: float, log_b: np.ndarray, pad: int) -> np.ndarray:
    """Minutes until XRS-B reaches a level if it kept the last minute's growth.

    0 at or above the level, :data:`_NOT_APPROACHING_MIN` when not rising (or
    further away than that), NaN when the last two minutes are not both known.
    """
    now = log_b[pad:]
    growth = _diff(log_b, 1, pad)
    with np.errstate(divide="ignore", invalid="ignore"):
        minutes = np.maximum(level_log10 - now, 0.0) / growth
    minutes = np.where(growth > _RISING_LOG10_PER_MIN,
                       np.minimum(minutes, _NOT_APPROACHING_MIN), _NOT_APPROACHING_MIN)
    minutes = np.where(now >= level_log10, 0.0, minutes)
    return np.where(np.isnan(growth), np.nan, minutes)


def _window_nanmin(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    windows = _windows(series, k, pad)
    filled = np.where(np.isnan(windows), np.inf, windows).min(axis=1)
    filled[np.isinf(filled)] = np.nan
    return filled


def _window_nanmax(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    windows = _windows(series, k, pad)
    filled = np.where(np.isnan(windows), -np.inf, windows).max(axis=1)
    filled[np.isinf(filled)] = np.nan
    return filled


def _slope(series: np.ndarray, k: int, pad: int) -> np.ndarray:
    """Least-squares slope per minute over the last ``k`` minutes, NaN-aware.

    Needs at least half the window (and 3 points) to be present.
    """
    windows = _windows(series, k, pad)
    present = ~np.isnan(windows)
    count = present.sum(axis=1)
    x = np.broadcast_to(np.arange(k, dtype=np.float64), windows.shape)
    y = np.where(present, windows, 0.0)
    xm = np.where(present, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = xm.sum(axis=1) / count
        mean_y = y.sum(axis=1) / count
        dx = np.where(present, x - mean_x[:, None], 0.0)
        dy = np.where(present, windows - mean_y[:, None], 0.0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
    slope[(count < max(3, k // 2)) | ~np.isfinite(slope)] = np.nan
    return slope


def _rise(log_b: np.ndarray, pad: int) -> list[np.ndarray]:
    """Length of the current rise and minutes since the last rise began.

    A minute is rising when XRS-B grew since the minute before. Both counts are
    capped at the lookback, so they depend on the lookback window only.
    """
    rising = np.zeros(len(log_b), dtype=bool)
    rising[1:] = (log_b[1:] - log_b[:-1]) > 0
    windows = _windows(rising.astype(np.int8), LOOKBACK_MINUTES, pad)

    # Run length of trailing ones: position of the last zero from the end.
    reversed_windows = windows[:, ::-1]
    has_zero = (reversed_windows == 0).any(axis=1)
    run = np.where(has_zero, (reversed_windows == 1).argmin(axis=1), LOOKBACK_MINUTES)
    run = np.where(reversed_windows[:, 0] == 1, run, 0)

    # A rise begins at a rising minute whose predecessor did not rise. The first
    # window minute has no visible predecessor, so it is never a start.
    starts = np.zeros_like(windows, dtype=bool)
    starts[:, 1:] = (windows[:, 1:] == 1) & (windows[:, :-1] == 0)
    reversed_starts = starts[:, ::-1]
    any_start = reversed_starts.any(axis=1)
    since = np.where(any_start, reversed_starts.argmax(axis=1), LOOKBACK_MINUTES)
    return [run.astype(np.float64), since.astype(np.float64)]


def _quality(log_b: np.ndarray, log_a: np.ndarray, pad: int) -> list[np.ndarray]:
    """Share of missing minutes in the last hour, minutes since one, and now."""
    missing = (np.isnan(log_b) | np.isnan(log_a)).astype(np.int8)
    # Padding before the grid counts as missing: the history is unknown there.
    frac = _windows(missing, _QUALITY, pad).mean(axis=1)
    windows = _windows(missing, LOOKBACK_MINUTES, pad)[:, ::-1]
    any_missing = windows.any(axis=1)
    since = np.where(any_missing, windows.argmax(axis=1), LOOKBACK_MINUTES)
    return [frac, since.astype(np.float64), missing[pad:].astype(np.float64)]
