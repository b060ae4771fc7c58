"""Read any accepted file into a frame, or walk many files as records."""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from flarecore.quarantine import QuarantinedInput
from flarecore.readers.csv import read_legacy_csv
from flarecore.readers.formats import Format, detect_format
from flarecore.readers.frame import STAGE, Reading, empty_frame, sort_unique
from flarecore.readers.netcdf import (
    read_goes1315_avg1m,
    read_goes1315_irrad,
    read_goesr_avg1m,
    read_legacy_netcdf,
)
from flarecore.readers.swpc import parse_swpc
from flarecore.records import XrsRecord


def _read_swpc(path: Path) -> Reading:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return parse_swpc(raw, str(path), STAGE)


_READERS: dict[Format, Callable[[Path], Reading]] = {
    Format.GOESR_AVG1M: read_goesr_avg1m,
    Format.GOES1315_AVG1M: read_goes1315_avg1m,
    Format.GOES1315_IRRAD2S: read_goes1315_irrad,
    Format.LEGACY_NETCDF: read_legacy_netcdf,
    Format.LEGACY_CSV: read_legacy_csv,
    Format.SWPC_JSON: _read_swpc,
}


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the files under directories named, in a stable order.

    Hidden files and Markdown (an archive folder's README) are left out.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and not p.name.startswith(".") and p.suffix != ".md")
        else:
            files.append(path)
    return files


def read_reading(path: str | Path) -> Reading:
    """One file's frame and the inputs it quarantined."""
    path = Path(path)
    return _READERS[detect_format(path)](path)


def read_frame(path: str | Path) -> pd.DataFrame:
    """One file as the one-row-per-minute frame on the true flux scale.

    Values the file flags or that fail validation are NaN with a non-good
    quality; nothing is dropped without trace (see :func:`iter_records`).
    Raises :class:`flarecore.errors.InputError` for unsupported files.
    """
    return read_reading(path).frame


def read_frames(paths: Iterable[str | Path]) -> Reading:
    """Many files merged: sorted, one row per (satellite, minute), first file wins.

    Overlapping SWPC polls repeat the same minutes (and the same rejected
    objects); each is kept once.
    """
    readings = [read_reading(p) for p in paths]
    frames = [r.frame for r in readings if len(r.frame)]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    frame, _ = sort_unique(frame)
    seen: set[tuple[str, str]] = set()
    quarantined = []
    for entry in (e for r in readings for e in r.quarantined):
        if (entry.reason, entry.raw) not in seen:
            seen.add((entry.reason, entry.raw))
            quarantined.append(entry)
    return Reading(frame, quarantined)


def iter_records(paths: Iterable[str | Path]
                 ) -> Iterator[XrsRecord | QuarantinedInput]:
    """Records of all files in time order, then what was quarantined.

    Rows that fail :class:`XrsRecord` validation come out as
    :class:`QuarantinedInput` in their place.
    """
    reading = read_frames(paths)
    yield from records_of(reading.frame)
    yield from reading.quarantined


def records_of(frame: pd.DataFrame) -> Iterator[XrsRecord | QuarantinedInput]:
    """Each frame row as a validated record (or its quarantine entry)."""
    times = frame["time_utc"].dt.to_pydatetime() if len(frame) else []
    rows = zip(times, frame["satellite"].tolist(), frame["xrsa_flux_wm2"].tolist(),
               frame["xrsb_flux_wm2"].tolist(), frame["xrsa_quality"].tolist(),
               frame["xrsb_quality"].tolist(), frame["source"].tolist(),
               frame["scale_corrected"].tolist(), strict=True)
    for time_utc, satellite, xrsa, xrsb, qa, qb, source, corrected in rows:
        fields = {
            "satellite": satellite, "time_utc": time_utc,
            "xrsa_flux_wm2": None if math.isnan(xrsa) else xrsa,
            "xrsb_flux_wm2": None if math.isnan(xrsb) else xrsb,
            "xrsa_quality": qa, "xrsb_quality": qb, "source": source,
            "scale_corrected": corrected,
        }
        try:
            yield XrsRecord(**fields)
        except ValidationError as exc:
            yield QuarantinedInput.of(
                str({k: str(v) for k, v in fields.items()}), source=source,
                reason="invalid_record", detail=str(exc).replace("\n", " "),
                stage=STAGE,
            )


