"""The one-row-per-minute frame every reader produces, and its shared checks.

Columns (the contract with the trainer and the replayer):

``satellite`` int64; ``time_utc`` datetime64[ns, UTC], start of the minute;
``xrsa_flux_wm2``, ``xrsb_flux_wm2`` float64 on the true scale, NaN when missing,
fill, not positive or rejected; ``xrsa_quality``, ``xrsb_quality`` values of
:class:`~flarecore.records.Quality`; ``source`` a :class:`~flarecore.records.Source`
value; ``scale_corrected`` bool. Sorted by time then satellite, one row per
(satellite, minute).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flarecore.quarantine import QuarantinedInput
from flarecore.records import MAX_PLAUSIBLE_FLUX_WM2, Quality, Source

COLUMNS = [
    "satellite", "time_utc", "xrsa_flux_wm2", "xrsb_flux_wm2", "xrsa_quality",
    "xrsb_quality", "source", "scale_corrected",
]
STAGE = "reader"
NS_PER_MINUTE = 60_000_000_000


@dataclass
class Reading:
    """A file's frame plus the rows or values it could not accept."""

    frame: pd.DataFrame
    quarantined: list[QuarantinedInput] = field(default_factory=list)


@dataclass
class Columns:
    """A reader's decoded arrays, before the shared checks.

    ``time_ns`` are nanoseconds since the Unix epoch (int64; a negative sentinel
    marks an unreadable time); fluxes are float64 on the true scale with NaN for
    missing; qualities are arrays of :class:`Quality` values. ``raw`` holds the
    file's own columns for quarantine entries.
    """

    satellite: int
    time_ns: np.ndarray
    xrsa_flux_wm2: np.ndarray
    xrsb_flux_wm2: np.ndarray
    xrsa_quality: np.ndarray
    xrsb_quality: np.ndarray
    source: Source
    scale_corrected: bool
    raw: dict[str, np.ndarray]


def positive_or_nan(values: np.ndarray) -> np.ndarray:
    """Flux as float64 with NaN where it is not finite or not positive (fill, floor)."""
    flux = np.asarray(values, dtype=np.float64).copy()
    flux[~np.isfinite(flux) | (flux <= 0.0)] = np.nan
    return flux


def empty_frame() -> pd.DataFrame:
    """A frame with the contract's columns and dtypes and no rows."""
    return _assemble(
        np.array([], dtype=np.int64), np.array([], dtype=np.int64),
        np.array([]), np.array([]), np.array([], dtype=str), np.array([], dtype=str),
        Source.SWPC_JSON, False,
    )


def finish(path: str, columns: Columns) -> Reading:
    """Check times and flux limits, then build the sorted, de-duplicated frame."""
    quarantined: list[QuarantinedInput] = []
    # pandas hands out read-only views (copy-on-write); the checks below write.
    for name in ("xrsa_flux_wm2", "xrsb_flux_wm2", "xrsa_quality", "xrsb_quality"):
        setattr(columns, name, np.array(getattr(columns, name)))
    keep = _whole_minutes(path, columns, quarantined)
    for channel in ("xrsa", "xrsb"):
        _reject_absurd(path, columns, channel, keep, quarantined)
    frame = _assemble(
        np.full(int(keep.sum()), columns.satellite, dtype=np.int64),
        columns.time_ns[keep], columns.xrsa_flux_wm2[keep],
        columns.xrsb_flux_wm2[keep], columns.xrsa_quality[keep],
        columns.xrsb_quality[keep], columns.source, columns.scale_corrected,
    )
    frame, duplicates = sort_unique(frame)
    if duplicates:
        quarantined.append(QuarantinedInput.of(
            json.dumps({"duplicate_minutes": duplicates}), source=path,
            reason="duplicate_minute", stage=STAGE,
            detail=f"{len(duplicates)} minutes appear more than once; kept the first",
        ))
    return Reading(frame, quarantined)


def sort_unique(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Sort by time and satellite, keep the first row of each (satellite, minute)."""
    frame = frame.sort_values(["time_utc", "satellite"], kind="stable")
    dup = frame.duplicated(["satellite", "time_utc"], keep="first").to_numpy()
    duplicates = [t.isoformat() for t in frame["time_utc"][dup]]
    return frame[~dup].reset_index(drop=True), duplicates


def _assemble(satellite: np.ndarray, time_ns: np.ndarray, xrsa: np.ndarray,
              xrsb: np.ndarray, qa: np.ndarray, qb: np.ndarray, source: Source,
              scale_corrected: bool) -> pd.DataFrame:
    count = len(time_ns)
    return pd.DataFrame({
        "satellite": satellite.astype(np.int64),
        "time_utc": pd.to_datetime(time_ns.astype(np.int64), unit="ns", utc=True)
        .astype("datetime64[ns, UTC]"),
        "xrsa_flux_wm2": xrsa.astype(np.float64),
        "xrsb_flux_wm2": xrsb.astype(np.float64),
        "xrsa_quality": pd.array(qa.astype(str), dtype=object),
        "xrsb_quality": pd.array(qb.astype(str), dtype=object),
        "source": pd.array(np.full(count, source.value), dtype=object),
        "scale_corrected": np.full(count, scale_corrected, dtype=bool),
    })


def _whole_minutes(path: str, columns: Columns,
                   quarantined: list[QuarantinedInput]) -> np.ndarray:
    bad = (columns.time_ns < 0) | (columns.time_ns % NS_PER_MINUTE != 0)
    for index in np.flatnonzero(bad):
        quarantined.append(QuarantinedInput.of(
            _raw_row(columns, int(index)), source=f"{path}#{index}", reason="bad_time",
            detail="time is fill, unreadable or not the start of a minute",
            stage=STAGE,
        ))
    keep: np.ndarray = ~bad
    return keep


def _reject_absurd(path: str, columns: Columns, channel: str, keep: np.ndarray,
                   quarantined: list[QuarantinedInput]) -> None:
    flux = getattr(columns, f"{channel}_flux_wm2")
    quality = getattr(columns, f"{channel}_quality")
    absurd = keep & (flux > MAX_PLAUSIBLE_FLUX_WM2)
    for index in np.flatnonzero(absurd):
        quarantined.append(QuarantinedInput.of(
            _raw_row(columns, int(index)), source=f"{path}#{index}",
            reason="absurd_flux",
            detail=f"{channel} flux {flux[index]:.3g} W/m2 is beyond any flare; "
                   "kept the minute with this channel marked bad",
            stage=STAGE,
        ))
    flux[absurd] = np.nan
    quality[absurd] = Quality.BAD.value


def _raw_row(columns: Columns, index: int) -> str:
    row: dict[str, Any] = {}
    for name, values in columns.raw.items():
        value = values[index]
        row[name] = value.item() if hasattr(value, "item") else value
    return json.dumps(row, default=str)
