"""Archive files as per-satellite minute grids, with a record of what was read.

The readers of :mod:`flarecore.readers` turn any supported archive file into one
table on the true flux scale. This module hashes each file (so a dataset records
exactly which bytes went in), keeps the usable minutes, and cuts each satellite's
minutes into contiguous :class:`flarecore.features.MinuteGrid` segments: a grid
spanning the seven years between two archives would be mostly padding.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from flarecore.engine import USABLE_QUALITIES
from flarecore.features import MinuteGrid

logger = logging.getLogger(__name__)

MAX_GAP_MINUTES = 24 * 60
"""A gap longer than this starts a new segment (shorter gaps stay NaN in the grid)."""

_USABLE = frozenset(q.value for q in USABLE_QUALITIES)
"""The qualities the stream engine uses, so training sees what serving sees."""


class FileRecord(BaseModel):
    """One archive file that went into a dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str
    size_bytes: int
    rows: int
    satellites: list[int]
    first_utc: str | None
    last_utc: str | None


@dataclass(frozen=True)
class Segment:
    """Contiguous minutes of one satellite (gaps up to a day are NaN)."""

    satellite: int
    grid: MinuteGrid


def read_files(paths: list[Path]) -> tuple[pd.DataFrame, list[FileRecord]]:
    """Read archive files into one table and describe each file read."""
    frames, records = [], []
    for path in sorted(paths):
        frame = read_frame(path)
        frames.append(frame)
        records.append(_describe(path, frame))
        logger.info("archive read path=%s rows=%d", path, len(frame))
    table = pd.concat(frames, ignore_index=True) if frames else _empty()
    return table, records


def read_frame(path: Path) -> pd.DataFrame:
    """One archive file as the readers' table (see :mod:`flarecore.readers`)."""
    from flarecore.readers import read_frame as _read

    return _read(path)


def segments(table: pd.DataFrame) -> list[Segment]:
    """Per-satellite minute grids of the usable fluxes, split at long gaps."""
    result = []
    for satellite, rows in table.groupby("satellite", sort=True):
        minutes, xrsa, xrsb = _usable(rows)
        for part in _split(minutes):
            grid = MinuteGrid.from_points(minutes[part], xrsa[part], xrsb[part])
            result.append(Segment(int(satellite), grid))
    return result


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _usable(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minute index and fluxes, NaN where a channel's quality rules it out."""
    rows = rows.sort_values("time_utc").drop_duplicates("time_utc", keep="first")
    minutes = _to_minutes(rows["time_utc"])
    xrsa = rows["xrsa_flux_wm2"].to_numpy(dtype=np.float64).copy()
    xrsb = rows["xrsb_flux_wm2"].to_numpy(dtype=np.float64).copy()
    xrsa[~rows["xrsa_quality"].astype(str).isin(_USABLE).to_numpy()] = np.nan
    xrsb[~rows["xrsb_quality"].astype(str).isin(_USABLE).to_numpy()] = np.nan
    return minutes, xrsa, xrsb


def _to_minutes(times: pd.Series) -> np.ndarray:
    seconds = (times - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    return (seconds.to_numpy() // 60).astype(np.int64)


def _split(minutes: np.ndarray) -> list[slice]:
    if minutes.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(minutes) > MAX_GAP_MINUTES) + 1
    edges = [0, *breaks.tolist(), minutes.size]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _describe(path: Path, frame: pd.DataFrame) -> FileRecord:
    times = frame["time_utc"]
    return FileRecord(
        path=str(path), sha256=sha256_file(path), size_bytes=path.stat().st_size,
        rows=len(frame), satellites=sorted(int(s) for s in frame["satellite"].unique()),
        first_utc=times.min().isoformat() if len(frame) else None,
        last_utc=times.max().isoformat() if len(frame) else None,
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "satellite": pd.Series(dtype="int64"),
        "time_utc": pd.Series(dtype="datetime64[ns, UTC]"),
        "xrsa_flux_wm2": pd.Series(dtype="float64"),
        "xrsb_flux_wm2": pd.Series(dtype="float64"),
        "xrsa_quality": pd.Series(dtype="object"),
        "xrsb_quality": pd.Series(dtype="object"),
    })
