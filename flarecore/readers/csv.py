"""Reader for the legacy NGDC monthly 1-minute CSV (``.csv`` or ``.csv.gz``).

The file is a text rendering of the netCDF header, a ``satellite location:``
block, then a line ``data:`` followed by ordinary CSV with the columns
``time_tag,A_QUAL_FLAG,A_NUM_PTS,A_AVG,B_QUAL_FLAG,B_NUM_PTS,B_AVG``.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from flarecore.errors import InputError
from flarecore.readers.frame import Reading
from flarecore.readers.netcdf import legacy_columns
from flarecore.records import Source

_COLUMNS = ["time_tag", "A_QUAL_FLAG", "A_NUM_PTS", "A_AVG", "B_QUAL_FLAG",
            "B_NUM_PTS", "B_AVG"]


def read_legacy_csv(path: Path) -> Reading:
    """Legacy monthly CSV, divided out of SWPC's old scale like the netCDF."""
    text = _text(path)
    header, _, data = text.partition("\ndata:")
    if not data:
        raise InputError(str(path), "unsupported_format",
                         "legacy CSV without a 'data:' line before the rows")
    table = _table(path, data.split("\n", 1)[1] if "\n" in data else "")
    times = pd.to_datetime(table["time_tag"].str.strip(), format="%Y-%m-%d %H:%M:%S.%f",
                           utc=True, errors="coerce")
    epoch = pd.Timestamp(0, tz="UTC")
    time_ms = ((times - epoch) / pd.Timedelta(milliseconds=1)).to_numpy(
        dtype=np.float64, na_value=np.nan)
    raw = {name: table[name].to_numpy() for name in _COLUMNS}
    for name in _COLUMNS[1:]:
        raw[name] = pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)
    return legacy_columns(path, _satellite(path, header), time_ms, raw,
                          Source.LEGACY_AVG1M_CSV)


def _text(path: Path) -> str:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", encoding="utf-8", newline=None) as handle:
        return handle.read()


def _table(path: Path, body: str) -> pd.DataFrame:
    table = pd.read_csv(io.StringIO(body), dtype=str, skipinitialspace=True)
    missing = [name for name in _COLUMNS if name not in table.columns]
    if missing:
        raise InputError(str(path), "missing_field",
                         f"legacy CSV lacks columns {missing}; expected {_COLUMNS}")
    return table


def _satellite(path: Path, header: str) -> int:
    match = re.search(r'satellite_id\s*=\s*"GOES-(\d+)"', header)
    if match:
        return int(match.group(1))
    match = re.search(r"\bg(\d{2})_xrs_", header + " " + path.name)
    if match:
        return int(match.group(1))
    raise InputError(str(path), "unknown_satellite",
                     "no satellite_id attribute nor gNN_xrs_ file name")
