"""Labelled feature tables built from archive files.

The label of minute ``t`` is the class (0=A ... 4=X) of the largest XRS-B flux in
``(t, t + H]``. A minute whose future window has fewer than half its minutes
observed is dropped: its label would be a guess. Minutes near the end of the data
have a partly unknown future and are dropped by the same rule. A minute without
an XRS-B value of its own is dropped too: the stream makes no forecast for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from flarecore.classes import CLASS_LETTERS
from flarecore.features import FEATURE_NAMES, LOOKBACK_MINUTES, compute
from trainer.archive import FileRecord, Segment, read_files, segments

logger = logging.getLogger(__name__)

DEFAULT_HORIZON_MINUTES = 30
MIN_OBSERVED_FRACTION = 0.5
"""A future window needs more than this share of minutes observed to be labelled."""


@dataclass
class Dataset:
    """Feature rows with their labels and where each row comes from.

    Attributes
    ----------
    features
        ``(n, len(FEATURE_NAMES))`` float64, NaN where a feature is undefined.
    labels
        Peak class index in the horizon, int64 0..4.
    minutes
        Minutes since the Unix epoch of each row (the forecast time ``t``).
    satellites
        GOES number of each row.
    xrsb_wm2
        XRS-B flux at ``t`` (true scale, NaN if missing), for baselines.
    peak_wm2
        The largest XRS-B flux in ``(t, t + H]``, of which ``labels`` is the
        class; what the model's growth target is measured to.
    """

    features: np.ndarray
    labels: np.ndarray
    minutes: np.ndarray
    satellites: np.ndarray
    xrsb_wm2: np.ndarray
    horizon_minutes: int
    record: dict[str, Any] = field(default_factory=dict)
    peak_wm2: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def days(self) -> np.ndarray:
        """UTC day number of each row: the cross-validation group."""
        return self.minutes // (24 * 60)

    def subset(self, rows: np.ndarray) -> Dataset:
        """The rows selected by an index or mask (the record is shared)."""
        return Dataset(self.features[rows], self.labels[rows], self.minutes[rows],
                       self.satellites[rows], self.xrsb_wm2[rows],
                       self.horizon_minutes, self.record,
                       None if self.peak_wm2 is None else self.peak_wm2[rows])


def future_peak(xrsb_wm2: np.ndarray, horizon_minutes: int) -> tuple[np.ndarray,
                                                                       np.ndarray]:
    """Largest XRS-B in ``(t, t + H]`` and the observed share of that window.

    Minutes past the end of the data count as unobserved. Returns NaN as the peak
    where the window has no observed minute.
    """
    n = xrsb_wm2.shape[0]
    padded = np.concatenate([xrsb_wm2[1:], np.full(horizon_minutes, np.nan)])
    windows = sliding_window_view(padded, horizon_minutes)[:n]
    observed = (~np.isnan(windows)).sum(axis=1) / horizon_minutes
    filled = np.where(np.isnan(windows), -np.inf, windows).max(axis=1)
    peak = np.where(np.isinf(filled), np.nan, filled)
    return peak, observed


def class_indices(flux_wm2: np.ndarray) -> np.ndarray:
    """Class index (0=A ... 4=X) of each positive flux; the vector form of
    :func:`flarecore.classes.class_index`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.floor(np.log10(flux_wm2) + 1e-9) + 8
    return np.clip(np.nan_to_num(index, nan=0.0), 0, len(CLASS_LETTERS) - 1).astype(
        np.int64)


def label_segment(segment: Segment, horizon_minutes: int) -> Dataset:
    """Features and labels of one satellite segment, unlabelable minutes dropped."""
    grid = segment.grid
    peak, observed = future_peak(grid.xrsb_wm2, horizon_minutes)
    # A minute without XRS-B gets no forecast in the stream either.
    keep = ((observed > MIN_OBSERVED_FRACTION) & ~np.isnan(peak)
            & ~np.isnan(grid.xrsb_wm2))
    features = compute(grid)[keep]
    return Dataset(
        features=features, labels=class_indices(peak[keep]),
        minutes=grid.minutes[keep],
        satellites=np.full(int(keep.sum()), segment.satellite, dtype=np.int64),
        xrsb_wm2=grid.xrsb_wm2[keep], horizon_minutes=horizon_minutes,
        peak_wm2=peak[keep],
    )


def concatenate(parts: list[Dataset], horizon_minutes: int) -> Dataset:
    """One dataset of several (rows in the given order)."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return Dataset(np.empty((0, len(FEATURE_NAMES))), empty, empty, empty,
                       np.empty(0), horizon_minutes, peak_wm2=np.empty(0))
    peaks = [p.peak_wm2 for p in parts]
    return Dataset(
        np.concatenate([p.features for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.minutes for p in parts]),
        np.concatenate([p.satellites for p in parts]),
        np.concatenate([p.xrsb_wm2 for p in parts]), horizon_minutes,
        peak_wm2=None if any(p is None for p in peaks) else np.concatenate(peaks),
    )


def build(paths: list[Path], horizon_minutes: int = DEFAULT_HORIZON_MINUTES
          ) -> Dataset:
    """The labelled dataset of archive files, with a record of what went in."""
    table, files = read_files(paths)
    parts = [label_segment(s, horizon_minutes) for s in segments(table)]
    dataset = concatenate(parts, horizon_minutes)
    dataset.record = describe(dataset, files, table_rows=len(table))
    logger.info("dataset built files=%d rows=%d segments=%d", len(files),
                len(dataset), len(parts))
    return dataset


def describe(dataset: Dataset, files: list[FileRecord], table_rows: int
             ) -> dict[str, Any]:
    """The dataset record: files with checksums, minute counts, class counts."""
    counts = np.bincount(dataset.labels, minlength=len(CLASS_LETTERS))
    per_satellite = {str(int(s)): int((dataset.satellites == s).sum())
                     for s in np.unique(dataset.satellites)}
    return {
        "built_utc": datetime.now(UTC).isoformat(),
        "horizon_minutes": dataset.horizon_minutes,
        "lookback_minutes": LOOKBACK_MINUTES,
        "feature_names": list(FEATURE_NAMES),
        "label": "class of max XRS-B (true scale) in (t, t+H]; minutes whose "
                 f"window is <= {MIN_OBSERVED_FRACTION:.0%} observed, or without "
                 "XRS-B at t, dropped",
        "files": [f.model_dump() for f in files],
        "archive_rows": table_rows,
        "labelled_minutes": len(dataset),
        "labelled_minutes_per_satellite": per_satellite,
        "days": int(np.unique(dataset.days).size),
        "class_counts": dict(zip(CLASS_LETTERS, counts.tolist(), strict=True)),
        "first_utc": _iso(dataset.minutes.min()) if len(dataset) else None,
        "last_utc": _iso(dataset.minutes.max()) if len(dataset) else None,
    }


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(int(minute) * 60, tz=UTC).isoformat()
